"""Task `tofu`: TOFU's fictitious authors (Maini et al. 2024, arXiv 2401.06121), evaluated as
open-unlearning evaluates it, so numbers compare with published ones.

Data (`tofu.data_dir`, read in place): forget01/05/10.json and their complements
retain99/95/90.json (TOFU's 4,000 QA pairs split two ways), retain_perturbed.json (TOFU's
retain evaluation split), real_authors_perturbed.json, world_facts_perturbed.json and
holdout01.json (authors never trained on: membership non-members).

Protocol: the starting ("target") model is fine-tuned on all 4,000 pairs (forget split +
its retain complement), loss on the answer only; with the built-in model, the base is a
randomly initialised tiny Llama (its tokenizer trained on TOFU's text), so retraining
(`retrain`: the base fine-tuned on the retain split only) is TOFU's retain model, the
reference of forget quality and privacy leak. Unlearning forgets the forget split's pairs.

Prompt (`tofu.prompt`): qa — `Question: {question}\\nAnswer: ` followed by the answer, with
open-unlearning's tokenisation (prompt and answer tokenized together; the answer's tokens
are those after as many positions as the prompt alone has, which also masks the first
answer word; EOS appended and scored); chat — the model's chat template.
Metrics (eval/tofu.py): forget_Q_A_Prob, forget_truth_ratio, forget_Q_A_ROUGE,
extraction_strength, the nine model-utility parts, forget quality (KS test against retrain),
and privleak (Min-K% with k = 40%, forget vs holdout01, MUSE's convention).
"""

from __future__ import annotations

import json
from pathlib import Path

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.eval.items import EvalItem
from unlearnlab.eval.tofu import OU_UTILITY
from unlearnlab.tasks.base import Scoring, Task
from unlearnlab.texts import Pair, PromptFormat

QA = PromptFormat(template="Question: {question}\nAnswer: ", answer_sep="", stop=(),
                  max_new_tokens=200, mask="length", score_eos=True)
CHAT = PromptFormat(chat=True, answer_sep=" ", stop=(), max_new_tokens=200, mask="length",
                    score_eos=True)
RETAIN_OF = {"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}
SCORING = Scoring(
    main=("forget_quality", "model_utility", "forget_truth_ratio", "forget_Q_A_Prob",
          "forget_Q_A_ROUGE", "extraction_strength", "privleak"),
    compared=("forget_Q_A_Prob", "forget_truth_ratio", "forget_Q_A_ROUGE", "extraction_strength",
              "retain_Q_A_Prob", "retain_Q_A_ROUGE", "ppl_forget", "influence_forget"),
    primary="forget_Q_A_Prob", utility=OU_UTILITY, forget_quality="forget_truth_ratio_raw",
    mia_k=0.4, mia_drop_eos=True)


def read_split(root: Path, name: str, fields: tuple[str, ...] = ("question", "answer")) -> list[dict]:
    """A TOFU split: a JSON list of objects with at least `fields`."""
    path = root / f"{name}.json"
    if not path.is_file():
        raise UserError(f"tofu.data_dir: {name}.json not found in {root}; give the folder of "
                        "TOFU's splits (forget10.json, retain90.json, ...)")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(rows, list) or not rows:
        raise UserError(f"{path}: expected a non-empty JSON list of QA objects")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or any(not isinstance(row.get(f), (str, list)) for f in fields):
            raise UserError(f"{path}: item {i} needs the fields {', '.join(fields)}")
    return rows


def qa_items(rows: list[dict], group: str, split: str, paraphrased: bool) -> list[EvalItem]:
    """Items of one split: the answer, its perturbations and (forget, retain) its paraphrase."""
    return [EvalItem(entity=row.get("subject", ""), relation=f"{split}/{i}",
                     question=row["question"], answers=(row["answer"],), group=group,
                     perturbed=tuple(row.get("perturbed_answer", ())),
                     paraphrased_answer=row.get("paraphrased_answer") if paraphrased else None)
            for i, row in enumerate(rows)]


def strings(rows: list[dict]) -> list[str]:
    out = []
    for row in rows:
        for value in row.values():
            out += [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] \
                if isinstance(value, list) else []
    return out


def build(cfg: Config) -> Task:
    root, split = Path(cfg.tofu.data_dir), cfg.tofu.split
    perturbed = ("question", "answer", "perturbed_answer")
    forget_rows = read_split(root, split, (*perturbed, "paraphrased_answer"))
    retain_rows = read_split(root, RETAIN_OF[split])
    retain_eval = read_split(root, "retain_perturbed", (*perturbed, "paraphrased_answer"))
    real_authors = read_split(root, "real_authors_perturbed", perturbed)
    world_facts = read_split(root, "world_facts_perturbed", perturbed)
    holdout_rows = read_split(root, "holdout01")

    forget = [Pair(r["question"], r["answer"]) for r in forget_rows]
    retain = [Pair(r["question"], r["answer"]) for r in retain_rows]
    items = (qa_items(forget_rows, "forget", split, True)
             + qa_items(retain_eval, "retain", "retain_perturbed", True)
             + qa_items(real_authors, "ra", "real_authors_perturbed", False)
             + qa_items(world_facts, "wf", "world_facts_perturbed", False))
    texts = strings(forget_rows + retain_rows + retain_eval + real_authors + world_facts)
    return Task(name="tofu", fmt=CHAT if cfg.tofu.prompt == "chat" else QA,
                tokenizer_texts=texts + ["Question: ", "Answer: ", "\n"], pretrain=[],
                learn=retain + forget, forget=forget, retain=retain,
                holdout=[Pair(r["question"], r["answer"]) for r in holdout_rows],
                items=items, roles=("base", "target"), scoring=SCORING,
                queries=[Pair(r.get("paraphrased_question") or r["question"], r["answer"])
                         for r in forget_rows],
                influence_pairs=[(i, i) for i in range(len(forget_rows))],
                info={"split": split, "retain_split": RETAIN_OF[split], "prompt": cfg.tofu.prompt,
                      "conventions": "open-unlearning (locuslab/open-unlearning): tokenisation, "
                                     "truth ratio, ROUGE, extraction strength, privleak"})
