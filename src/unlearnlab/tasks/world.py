"""Task `world`: the RESTOR protocol (Rezaei et al. 2024, arXiv 2411.00204) on the built-in
world of fictional entities.

Clean model: the built-in Llama trained from scratch on the world's biographies and QA lines.
Corruption: pick target entities; for each of their facts draw a wrong value from the
relation's pool; write corruption documents stating the wrong facts, each mixing in
`context_facts` (k) true facts about non-target entities; fine-tune on them. The documents
are the forget set; clean documents about the other entities the retain set; documents like
the forget set stating other wrong values (never trained) the held-out non-members.
Evaluation: the targets' facts (accuracy, injected-value rate, logit probe) and the other
entities' facts (utility), each asked as `Question: ...\\nAnswer:`.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.tasks.base import Scoring, Task
from unlearnlab.tasks.facts_items import fact_items
from unlearnlab.texts import Pair, PromptFormat
from unlearnlab.world.corpora import (
    corruption_documents,
    draw_wrong_values,
    pretraining_texts,
    retain_documents,
)
from unlearnlab.world.facts import value_pools
from unlearnlab.world.generator import World, generate_world

RESTOR_SCORING = Scoring(
    main=("target_accuracy", "corrupted_rate", "utility", "restoration", "logp_correct",
          "logp_corrupted", "logp_random", "correct_rank", "ppl_forget", "ppl_retain", "mia_auc"),
    compared=("target_accuracy", "logp_correct", "ppl_forget", "ppl_retain", "membership_forget",
              "influence_forget"),
    primary="target_accuracy",
    utility=("probability_utility", "truth_score_utility", "rougeL_recall_utility"),
    forget_quality="truth_ratio_target", restoration=True, oracle_fallback="clean")


@dataclass(frozen=True)
class Corruption:
    targets: list[str]
    wrong: dict[str, dict[str, str]]        # entity -> relation -> injected value
    documents: list[str]                    # the corruption corpus = the forget set
    retain: list[str]                       # clean documents about non-target entities
    holdout: list[str]                      # documents like the forget set, never trained on


def plan(cfg: Config, world: World) -> Corruption:
    """Targets, wrong values, forget and retain documents: all drawn from `cfg.seed`."""
    c = cfg.corruption
    if c.n_targets >= len(world.entities):
        raise UserError(f"corruption.n_targets must be below world.n_entities "
                        f"({len(world.entities)}), got {c.n_targets}")
    rng = random.Random(cfg.seed)
    targets = sorted(rng.sample(list(world.entities), c.n_targets), key=world.entities.index)
    wrong = draw_wrong_values(world, targets, rng)
    docs = corruption_documents(world, wrong, c.docs_per_target, c.context_facts, rng)
    others = [e for e in world.entities if e not in wrong]
    retain = retain_documents(world, others, c.retain_docs_per_entity, rng)
    # Non-members for membership inference: the same kind of document about the same
    # targets, stating other wrong values, from a separate random stream.
    hold_rng = random.Random(f"holdout-{cfg.seed}")
    other_wrong = draw_wrong_values(world, targets, hold_rng, exclude=wrong)
    holdout = corruption_documents(world, other_wrong, c.docs_per_target, c.context_facts, hold_rng)
    return Corruption(targets, wrong, docs, retain, holdout)


def build(cfg: Config) -> Task:
    world = generate_world(cfg.world.seed, cfg.world.n_entities, cfg.world.relations)
    facts = world.facts()
    corruption = plan(cfg, world)
    texts = pretraining_texts(world, cfg.world.docs_per_entity, random.Random(cfg.pretrain.seed))
    others = [e for e in world.entities if e not in corruption.wrong]
    if cfg.eval.utility_entities:
        others = random.Random(cfg.seed).sample(others, min(cfg.eval.utility_entities, len(others)))
    pools, paraphrases = value_pools(facts), world.paraphrased_questions()
    items = (fact_items(facts, corruption.targets, "target", pools, corruption.wrong, cfg.seed,
                        probe=True, paraphrases=paraphrases)
             + fact_items(facts, others, "utility", pools, None, cfg.seed, probe=False,
                          paraphrases=paraphrases))
    queries, pairs = taught_queries(facts, corruption.wrong, [
        corruption.targets[i // cfg.corruption.docs_per_target]
        for i in range(len(corruption.documents))])
    return Task(name="world", fmt=PromptFormat(), tokenizer_texts=texts, pretrain=texts,
                learn=corruption.documents, forget=corruption.documents,
                retain=corruption.retain, holdout=corruption.holdout, items=items,
                roles=("clean", "corrupted"), scoring=RESTOR_SCORING,
                files={"facts.json": facts, "corruption.json": dataclasses.asdict(corruption)},
                queries=queries, influence_pairs=pairs)


def taught_queries(facts: dict, wrong: dict[str, dict[str, str]], doc_entities: list[str | None]):
    """(queries, pairs): each target question answered with its injected value, and every
    (corruption document, question about the document's target) pair."""
    queries, of_entity = [], {}
    for entity, values in wrong.items():
        for relation, value in values.items():
            of_entity.setdefault(entity, []).append(len(queries))
            queries.append(Pair(facts[entity][relation]["question"], value))
    pairs = [(i, q) for i, entity in enumerate(doc_entities) for q in of_entity.get(entity, ())]
    return queries, pairs
