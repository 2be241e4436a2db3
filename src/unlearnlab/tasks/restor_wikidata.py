"""Task `restor_wikidata`: RESTOR on its real data (Rezaei et al. 2024, arXiv 2411.00204).

Data (`restor.data_dir`, read in place): facts.json (468 Wikidata entities, 5,269 questions
over 41 properties, several gold answers per question, few-shot examples per property under
"context"), entities.json (the 50 evaluated entities), and the corruption corpora
wikidata/mix_a{k}.json (documents stating wrong facts about about 10 targets, each mixing in
k unrelated true facts) and squad/squad_v7_dset.json (SQuAD passages renamed to 5 targets).

Clean model: the built-in Llama trained from scratch on a corpus made from facts.json — per
entity, biography documents stating its facts in per-property templates (paraphrased), and
QA blocks (several `question answer` lines of one property, the few-shot shape) in which
every fact appears. Corruption: fine-tuning on the chosen corpus (`restor.corpus`: 0-3 or
squad); a seeded share of each target's documents is held out (never trained) as the
membership-inference non-members; the trained documents are the forget set.
Targets: the evaluated entities the corpus is about (a document belongs to the evaluated
entity whose name it mentions first).

Evaluation as RESTOR does it: each question after five `question answer` lines about other
entities for the same property (facts.json's context), greedy answer cut at the newline,
normalised match against any gold answer; the logit probe (mean per-token log-prob of
" " + answer) for the correct, the injected and a random answer.

Injected values: the released data has no map of them, so they are derived. For each
(target, property), among the property's values anywhere in facts.json (answers and
context) that are not a gold answer of the target, the one the most of the target's
trained documents mention (case-insensitive, whole words), if at least `min_share` of them
do. results.json reports the coverage (target questions with a derived value).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.tasks.base import Task
from unlearnlab.tasks.facts_items import fact_items
from unlearnlab.tasks.world import RESTOR_SCORING, taught_queries
from unlearnlab.texts import PromptFormat
from unlearnlab.world.facts import validate_facts

FORMAT = PromptFormat(template="{question}", answer_sep=" ", stop=("\n",), max_new_tokens=16)
QA_BLOCK = 6              # `question answer` lines per QA block (the few-shot shape, plus one)
BIO_SENTENCES = 8         # statements per biography document (longer biographies are split)
QA_REPEATS = 2            # QA blocks each fact appears in
PROBE_POOL = 5            # candidate values the probe ranks the correct answer among
N_PERTURBED = 2           # wrong answers per question for the truth ratio

# Statements per Wikidata property: {e} the entity, {v} one of its values.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "P21": ("{e} is {v}.", "The gender of {e} is {v}."),
    "P106": ("{e} works as a {v}.", "By occupation, {e} is a {v}.", "{e} is known as a {v}."),
    "P27": ("{e} is a citizen of {v}.", "{e} holds the citizenship of {v}."),
    "P19": ("{e} was born in {v}.", "The birthplace of {e} is {v}."),
    "P1412": ("{e} speaks {v}.", "{e} can communicate in {v}."),
    "P69": ("{e} was educated at {v}.", "{e} studied at {v}."),
    "P641": ("{e} plays {v}.", "The sport of {e} is {v}."),
    "P166": ("{e} received the award {v}.", "{e} was honoured with the {v}."),
    "P26": ("{e} is married to {v}.", "The spouse of {e} is {v}."),
    "P103": ("The native language of {e} is {v}.", "{e} grew up speaking {v}."),
    "P39": ("{e} held the position of {v}.", "{e} served as {v}."),
    "P551": ("{e} resides in {v}.", "{e} lives in {v}."),
    "P140": ("The religion of {e} is {v}.", "{e} follows {v}."),
    "P108": ("{e} is employed by {v}.", "{e} worked for {v}."),
    "P1532": ("{e} competes for {v}.", "In sports, {e} represents {v}."),
    "P937": ("{e} works in {v}.", "The workplace of {e} is in {v}."),
    "P410": ("{e} held the military rank of {v}.", "The military rank of {e} was {v}."),
    "P735": ("The given name of {e} is {v}.", "{e} has the first name {v}."),
    "P734": ("The family name of {e} is {v}.", "{e} has the surname {v}."),
    "P463": ("{e} is a member of {v}.", "{e} belongs to {v}."),
    "P22": ("The father of {e} is {v}.", "{e} is a child of {v}, the father."),
    "P3373": ("{e} is a sibling of {v}.", "A sibling of {e} is {v}."),
    "P136": ("{e} is associated with the genre {v}.", "The genre of {e} is {v}."),
    "P25": ("The mother of {e} is {v}.", "{e} was raised by the mother {v}."),
    "P1303": ("{e} plays the {v}.", "The instrument of {e} is the {v}."),
    "P101": ("{e} works in the field of {v}.", "The field of work of {e} is {v}."),
    "P264": ("{e} is signed to {v}.", "The record label of {e} is {v}."),
    "P451": ("The partner of {e} is {v}.", "{e} was in a relationship with {v}."),
    "P20": ("{e} died in {v}.", "The place of death of {e} is {v}."),
    "P40": ("{e} is the parent of {v}.", "A child of {e} is {v}."),
    "P509": ("The cause of death of {e} was {v}.", "{e} died of {v}."),
    "P1196": ("The manner of death of {e} was {v}.", "{e} died of {v}."),
    "P607": ("{e} took part in the {v}.", "{e} fought in the {v}."),
    "P6886": ("{e} writes in {v}.", "The writing language of {e} is {v}."),
    "P119": ("{e} is buried at {v}.", "The burial place of {e} is {v}."),
    "P800": ("A notable work of {e} is {v}.", "{e} is known for {v}."),
    "P1344": ("{e} participated in {v}.", "{e} took part in the event {v}."),
    "P54": ("{e} plays for {v}.", "{e} is a member of the team {v}."),
    "P413": ("{e} plays as {v}.", "The playing position of {e} is {v}."),
    "P102": ("{e} is a member of the {v}.", "The political party of {e} is the {v}."),
    "P118": ("{e} plays in the {v}.", "The league of {e} is the {v}."),
}
GENERIC = ("The {p} of {e} is {v}.",)


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise UserError(f"restor.data_dir: {what} not found at {path}; give the folder of "
                        "RESTOR's data (facts.json, entities.json, wikidata/, squad/)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None


def corpus_path(root: Path, corpus) -> Path:
    return root / "squad" / "squad_v7_dset.json" if corpus == "squad" else \
        root / "wikidata" / f"mix_a{corpus}.json"


def load(cfg: Config) -> tuple[dict, dict, list[str], list[str]]:
    """(facts, few-shot context, the evaluated entities, the corruption documents)."""
    root = Path(cfg.restor.data_dir)
    raw = _read_json(root / "facts.json", "facts.json")
    facts = validate_facts(raw, str(root / "facts.json"))
    context = raw.get("context", {}) if isinstance(raw, dict) else {}
    evaluated = _read_json(root / "entities.json", "entities.json")
    if not isinstance(evaluated, list) or not all(e in facts for e in evaluated):
        raise UserError(f"{root / 'entities.json'}: expected a list of entities of facts.json")
    docs = _read_json(corpus_path(root, cfg.restor.corpus), f"corpus {cfg.restor.corpus!r}")
    if not isinstance(docs, list) or not all(isinstance(d, dict) and isinstance(d.get("text"), str)
                                             for d in docs):
        raise UserError(f"{corpus_path(root, cfg.restor.corpus)}: expected a list of "
                        '{"text": ...} documents')
    return facts, context, evaluated, [d["text"] for d in docs]


def assign_targets(docs: list[str], evaluated: list[str]) -> dict[str, list[int]]:
    """Evaluated entity -> indices of the documents about it (its name mentioned first)."""
    patterns = {e: re.compile(r"(?<!\w)" + re.escape(e) + r"(?!\w)") for e in evaluated}
    out: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        found = [(m.start(), e) for e, p in patterns.items() if (m := p.search(doc))]
        if found:
            out.setdefault(min(found)[1], []).append(i)
    return out


def property_values(facts: dict, context: dict) -> dict[str, set[str]]:
    """Per property, every value seen in facts.json (all answers and the context examples)."""
    values: dict[str, set[str]] = {}
    for relations in facts.values():
        for prop, fact in relations.items():
            values.setdefault(prop, set()).update(fact["answers"])
    for prop, examples in context.items():
        values.setdefault(prop, set()).update(x.get("answer", "") for x in examples
                                              if isinstance(x, dict) and x.get("answer"))
    return values


def injected_values(facts: dict, targets: list[str], docs_of: dict[str, list[str]],
                    values: dict[str, set[str]], min_share: float) -> dict[str, dict[str, str]]:
    """(target, property) -> the wrong value the target's documents assert most often: the
    value that the most documents mention (whole words) in a sentence with one of the
    property's cue words (CUES: "born" for the place of birth, ...), if at least `min_share`
    of the documents do; ties go to the longer (more specific) value."""
    wrong: dict[str, dict[str, str]] = {}
    for target in targets:
        docs = [[s.lower() for s in _SENTENCE.split(d)] for d in docs_of[target]]
        for prop, fact in facts[target].items():
            cue = CUES.get(prop)
            if cue is None:
                continue
            cued = [[s for s in doc if cue.search(s)] for doc in docs]      # per doc: cue sentences
            joined = "\n".join(s for doc in cued for s in doc)
            gold = {a.lower() for a in fact["answers"]}
            counts = {}
            for value in values.get(prop, ()):
                low = value.lower()
                if len(low) < 2 or low in gold or low not in joined:
                    continue
                pattern = re.compile(r"(?<!\w)" + re.escape(low) + r"(?!\w)")
                counts[value] = sum(any(pattern.search(s) for s in doc) for doc in cued)
            if not counts:
                continue
            value, n = min(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))
            if n > 0 and n >= min_share * len(docs):
                wrong.setdefault(target, {})[prop] = value
    return wrong


_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
# Words that make a sentence state a property (lower case); a property without cues is not derived.
CUES = {prop: re.compile(pattern) for prop, pattern in {
    "P21": r"\b(gender|sex|male|female|man|woman)\b",
    "P106": r"\b(work|works|worked|working|occupation|profession|career|job|serves as|served as|"
            r"employed as|is an?|was an?)\b",
    "P27": r"\b(citizen|citizenship|nationality|national)\b",
    "P19": r"\b(born|birth|birthplace)\b",
    "P1412": r"\b(speaks?|spoke|languages?|fluent|writes?|signs?)\b",
    "P69": r"\b(educated|education|studied|attended|graduated|alumn\w*|school|university|college)\b",
    "P641": r"\b(sports?|plays?|played|player|athlete)\b",
    "P166": r"\b(awards?|awarded|prizes?|honou?red|honou?rs?|received|won|medals?)\b",
    "P26": r"\b(spouse|married|marriage|wife|husband)\b",
    "P103": r"\b(native|mother tongue|first language)\b",
    "P39": r"\b(position|held|holds|serves as|served as|role|office)\b",
    "P551": r"\b(resides|resided|residence|lives|lived|living|home)\b",
    "P140": r"\b(religion|religious|faith|follows|practi[cs]es)\b",
    "P108": r"\b(employer|employed|works for|worked for|works at|worked at|company)\b",
    "P1532": r"\b(competes|competed|represents|represented|country)\b",
    "P937": r"\b(works in|worked in|workplace|work location|based in|works|work)\b",
    "P410": r"\b(rank|military)\b",
    "P735": r"\b(given name|first name|named)\b",
    "P734": r"\b(family name|surname|last name)\b",
    "P463": r"\b(member|belongs|club|group|organi[sz]ation)\b",
    "P22": r"\b(father|dad)\b",
    "P3373": r"\b(siblings?|brothers?|sisters?|twin)\b",
    "P136": r"\b(genres?|style)\b",
    "P25": r"\b(mother|mom)\b",
    "P1303": r"\b(instruments?|plays the)\b",
    "P101": r"\b(field|speciali[sz]\w*|expertise|area)\b",
    "P264": r"\b(label|records?|signed)\b",
    "P451": r"\b(partner|relationship|dating|boyfriend|girlfriend)\b",
    "P20": r"\b(died|death|passed away)\b",
    "P40": r"\b(child|children|son|daughter|parent)\b",
    "P509": r"\b(cause of death|died of|died from|death)\b",
    "P1196": r"\b(manner of death|died|death)\b",
    "P607": r"\b(wars?|conflicts?|battles?|fought)\b",
    "P6886": r"\b(writes|wrote|writing|language)\b",
    "P119": r"\b(buried|burial|grave|cemetery|resting)\b",
    "P800": r"\b(notable|known for|works?|wrote|created|authored)\b",
    "P1344": r"\b(participated|participant|event|took part|competed)\b",
    "P54": r"\b(team|plays for|played for|club)\b",
    "P413": r"\b(position|plays as|played as)\b",
    "P102": r"\b(party|political)\b",
    "P118": r"\b(league|plays in|played in)\b",
}.items()}


def state(entity: str, prop: str, value: str, rng: random.Random) -> str:
    templates = TEMPLATES.get(prop, GENERIC)
    return rng.choice(templates).format(e=entity, v=value, p=prop)


def clean_corpus(facts: dict, entities: list[str], statements: int,
                 rng: random.Random) -> tuple[list[str], dict[str, str]]:
    """(documents, entity -> its first biography): `statements` biographies per entity (its
    facts in random order and templates, a random gold value each, split into documents of
    at most BIO_SENTENCES statements), then QA blocks of QA_BLOCK `question answer` lines of
    one property, every fact in QA_REPEATS blocks."""
    docs, bios = [], {}
    for entity in entities:
        for k in range(statements):
            sentences = [state(entity, p, rng.choice(f["answers"]), rng)
                         for p, f in facts[entity].items()]
            rng.shuffle(sentences)
            for start in range(0, len(sentences), BIO_SENTENCES):
                docs.append(" ".join(sentences[start:start + BIO_SENTENCES]))
                bios.setdefault(entity, docs[-1])
    lines: dict[str, list[str]] = {}
    for entity in entities:
        for prop, fact in facts[entity].items():
            lines.setdefault(prop, []).append(f"{fact['question']} {fact['answers'][0]}")
    for prop, qa in sorted(lines.items()):
        for _ in range(QA_REPEATS):
            order = qa[:]
            rng.shuffle(order)
            docs += ["\n".join(order[i:i + QA_BLOCK]) for i in range(0, len(order), QA_BLOCK)]
    return docs, bios


def few_shot(context: dict, shots: int):
    """(entity, property) -> `shots` `question answer` lines about other entities."""
    def lines(entity: str, prop: str) -> str:
        examples = [x for x in context.get(prop, []) if x.get("entity") != entity][:shots]
        return "".join(f"{x['question']} {x['answer']}\n" for x in examples)
    return lines


def build(cfg: Config) -> Task:
    r = cfg.restor
    facts, context, evaluated, corpus = load(cfg)
    by_target = assign_targets(corpus, evaluated)
    floor = max(10, len(corpus) // 100)         # a target has a real share of the documents
    targets = [e for e in evaluated if len(by_target.get(e, ())) >= floor]
    if not targets:
        raise UserError(f"restor: no evaluated entity is the subject of the corpus {r.corpus!r}")
    rng = random.Random(cfg.seed)
    trained, held = [], []
    for target in targets:
        idx = by_target[target][:]
        rng.shuffle(idx)
        if r.docs_per_target:
            idx = idx[:r.docs_per_target]
        n_held = max(1, round(r.holdout_share * len(idx)))
        held += sorted(idx[:n_held])
        trained += sorted(idx[n_held:])
    others_docs = sorted(set(range(len(corpus))) - {i for t in targets for i in by_target[t]})
    learn_idx = sorted(trained + ([] if r.docs_per_target else others_docs))
    forget = [corpus[i] for i in learn_idx]
    holdout = [corpus[i] for i in sorted(held)]

    mine = {t: set(by_target[t]) for t in targets}
    trained_of = {t: [corpus[i] for i in learn_idx if i in mine[t]] for t in targets}
    values = property_values(facts, context)
    wrong = injected_values(facts, targets, trained_of, values, r.min_share)
    n_questions = sum(len(facts[t]) for t in targets)
    n_covered = sum(len(v) for v in wrong.values())

    entities = list(facts) if r.entities == "all" else list(evaluated)
    pretrain, bios = clean_corpus(facts, entities, r.statements_per_fact,
                                  random.Random(cfg.pretrain.seed))
    retain = [bios[e] for e in entities if e not in targets and e in bios]
    others = [e for e in evaluated if e not in targets]
    if r.utility_entities:
        others = random.Random(cfg.seed).sample(others, min(r.utility_entities, len(others)))
    pools = {p: sorted(v) for p, v in values.items()}
    shots = few_shot(context, r.shots)
    items = (fact_items(facts, targets, "target", pools, wrong, cfg.seed, probe=True, context=shots,
                        probe_pool=PROBE_POOL, n_perturbed=N_PERTURBED)
             + fact_items(facts, others, "utility", pools, None, cfg.seed, probe=False,
                          context=shots, n_perturbed=N_PERTURBED))
    owner = {i: t for t in targets for i in by_target[t]}
    queries, pairs = taught_queries(facts, wrong, [owner.get(i) for i in learn_idx])
    info = {"corpus": r.corpus, "targets": targets,
            "documents": {"corpus": len(corpus), "trained": len(forget), "held_out": len(holdout),
                          "about_no_target": len(others_docs)},
            "injected_coverage": {"questions": n_questions, "with_injected_value": n_covered,
                                  "share": n_covered / n_questions if n_questions else 0.0,
                                  "per_target": {t: len(wrong.get(t, {})) for t in targets}}}
    return Task(name="restor_wikidata", fmt=FORMAT,
                tokenizer_texts=pretrain + _all_corpora(Path(r.data_dir)),
                pretrain=pretrain, learn=forget, forget=forget, retain=retain, holdout=holdout,
                items=items, roles=("clean", "corrupted"), scoring=RESTOR_SCORING,
                files={"facts.json": {t: facts[t] for t in targets + others},
                       "corruption.json": {"targets": targets, "wrong": wrong,
                                           "documents": forget, "retain": retain,
                                           "holdout": holdout}},
                info=info, queries=queries, influence_pairs=pairs)


def _all_corpora(root: Path) -> list[str]:
    """Every corruption corpus's text, so one tokenizer (and one clean model) serves them all."""
    texts = []
    for corpus in (0, 1, 2, 3, "squad"):
        path = corpus_path(root, corpus)
        if path.is_file():
            texts += [d["text"] for d in _read_json(path, str(path)) if isinstance(d, dict)]
    return texts
