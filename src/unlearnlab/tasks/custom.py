"""Task `custom`: your own model and data.

Files (JSON: a list; or JSONL: one object per line), each item a document `{"text": ...}` or
a pair `{"question": ..., "answer": ...}` (the loss and the scores count only the answer):
    custom.forget    what to unlearn (required)
    custom.retain    what to keep (required)
    custom.holdout   optional non-members like the forget set (membership inference)
    custom.qa        optional questions to evaluate: RESTOR's facts.json schema
                     ({entity: {relation: {question, answers}}}, scored as target facts:
                     accuracy, probability, truth ratio) or a TOFU-style list of
                     {question, answer[, paraphrased_answer, perturbed_answer]} (scored with
                     TOFU's metrics as forget questions)

Model: `model: PATH` (any local Hugging Face causal LM, assumed to know the data already),
or the built-in model trained from scratch on forget + retain. With `custom.finetune: true`
the model (the given one, or a fresh built-in one) is first fine-tuned on forget + retain
(TOFU's protocol). `retrain` (built-in model only) trains on the retain set alone.
Pairs are asked as `Question: {question}\\nAnswer:` followed by " " + the answer.
"""

from __future__ import annotations

import json
from pathlib import Path

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.tasks.base import Scoring, Task
from unlearnlab.tasks.facts_items import fact_items
from unlearnlab.tasks.tofu import qa_items
from unlearnlab.texts import Pair, PromptFormat, Text, as_plain
from unlearnlab.world.facts import validate_facts, value_pools

FORMAT = PromptFormat(max_new_tokens=32)
DOC_METRICS = ("ppl_forget", "ppl_retain", "exact_mem_forget", "extraction_forget")


def _rows(path: Path, key: str):
    """A JSON file's content (a list, or the facts mapping of `qa`), or a JSONL file's
    objects; a broken file is a one-line `UserError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"custom.{key}: {path} is not UTF-8 text") from None
    if path.suffix != ".jsonl":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if text.lstrip().startswith("["):
                raise UserError(f"custom.{key}: {path} is not valid JSON ({exc.msg}, line "
                                f"{exc.lineno})") from None
        else:
            return data if isinstance(data, list) or key == "qa" else [data]
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UserError(f"custom.{key}: {path} line {n} is not valid JSON "
                                f"({exc.msg})") from None
    return rows


def read_texts(path_str: str, key: str, required: bool = True) -> list[Text]:
    """Documents and pairs of one file, in order."""
    if not path_str:
        if required:
            raise UserError(f"custom.{key}: no file given; set custom.{key} to a JSON or JSONL "
                            'file of {"text": ...} or {"question": ..., "answer": ...} items')
        return []
    path = Path(path_str)
    if not path.is_file():
        raise UserError(f"custom.{key}: file not found: {path}")
    rows = _rows(path, key)
    if not rows:
        raise UserError(f"custom.{key}: {path} holds no items")
    out: list[Text] = []
    for i, row in enumerate(rows):
        if isinstance(row, dict) and isinstance(row.get("text"), str) and row["text"].strip():
            out.append(row["text"])
        elif (isinstance(row, dict) and isinstance(row.get("question"), str)
              and isinstance(row.get("answer"), str) and row["answer"].strip()):
            out.append(Pair(row["question"], row["answer"]))
        else:
            raise UserError(f'custom.{key}: {path} item {i + 1} needs a non-empty "text" string, '
                            'or "question" and "answer" strings')
    return out


def read_qa(path_str: str, seed: int):
    """(items, scoring additions) of the optional QA file."""
    if not path_str:
        return [], ()
    path = Path(path_str)
    if not path.is_file():
        raise UserError(f"custom.qa: file not found: {path}")
    data = _rows(path, "qa")
    if isinstance(data, dict):
        facts = validate_facts(data, f"custom.qa: {path}")
        items = fact_items(facts, list(facts), "target", value_pools(facts), None, seed, probe=False)
        return items, ("target_accuracy", "probability_target")
    if not all(isinstance(r, dict) and isinstance(r.get("question"), str)
               and isinstance(r.get("answer"), str) for r in data):
        raise UserError(f"custom.qa: {path} must be RESTOR's facts.json schema or a list of "
                        '{"question", "answer"} objects')
    return qa_items(data, "forget", "qa", True), ("forget_Q_A_Prob", "forget_Q_A_ROUGE")


def build(cfg: Config) -> Task:
    c = cfg.custom
    forget = read_texts(c.forget, "forget")
    retain = read_texts(c.retain, "retain")
    holdout = read_texts(c.holdout, "holdout", required=False)
    items, qa_metrics = read_qa(c.qa, cfg.seed)
    builtin = cfg.model == "builtin"
    learn = forget + retain if c.finetune else []
    pretrain = [] if c.finetune or not builtin else forget + retain
    roles = ("base", "target") if c.finetune else (None, "original")
    main = (*DOC_METRICS, *qa_metrics, *(("mia_auc",) if holdout else ()))
    scoring = Scoring(main=main, compared=("ppl_forget", "ppl_retain", *qa_metrics),
                      primary="ppl_forget",
                      forget_quality="forget_truth_ratio_raw" if "forget_Q_A_Prob" in qa_metrics
                      else "truth_ratio_target" if qa_metrics else None)
    texts = [as_plain(t, FORMAT) for t in forget + retain + holdout]
    texts += [x for it in items for x in (it.question, *it.answers, *it.perturbed)]
    return Task(name="custom", fmt=FORMAT, tokenizer_texts=texts, pretrain=pretrain, learn=learn,
                forget=forget, retain=retain, holdout=holdout, items=items, roles=roles,
                scoring=scoring,
                info={"files": {k: getattr(c, k) for k in ("forget", "retain", "holdout", "qa")},
                      "finetune": c.finetune})
