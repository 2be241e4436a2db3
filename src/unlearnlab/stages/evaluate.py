"""Stage 4: evaluation — the task's questions and document sets, for any model.

`Evaluator` is built once per run: it fixes which forget / held-out / retain texts are
scored (`eval.docs_per_set`, a seeded sample) and the answer length, then turns any model
into per-item records (eval/records.py, the only place the model runs) and scores them with
every metric that applies (eval/metrics.py: pure functions of records). Checkpoints during
unlearning use the same records, restricted to what the curve metrics need. Under several
processes each rank scores its shard of every item list and the records are gathered in
item order (distributed.py), so each item is scored once.
"""

from __future__ import annotations

import random
from pathlib import Path

from unlearnlab import distributed
from unlearnlab.config import Config
from unlearnlab.eval.metrics import METRICS, score
from unlearnlab.eval.mia import mia_auc
from unlearnlab.eval.records import make_records, text_records
from unlearnlab.influence.pairs import influence_records
from unlearnlab.models.loading import save_causal_lm
from unlearnlab.progress import Progress
from unlearnlab.runs import atomic_write_json
from unlearnlab.tasks.base import Task
from unlearnlab.texts import tokenize

DOC_SETS = ("forget_docs", "holdout_docs", "retain_docs")


def subset(n_texts: int, cfg: Config) -> list[int]:
    """Sorted indices of a seeded sample of `cfg.eval.docs_per_set` texts (all when 0)."""
    n = cfg.eval.docs_per_set
    if not n or n >= n_texts:
        return list(range(n_texts))
    return sorted(random.Random(f"docs-{cfg.seed}").sample(range(n_texts), n))


def _sharded(score, items: list) -> list[dict]:
    """`score(items)` (one record per item), this rank's shard scored and all gathered."""
    mine = distributed.shard(items)
    return distributed.gather(score(mine) if mine else [], len(items))


class Evaluator:
    def __init__(self, cfg: Config, task: Task, tokenizer):
        self.cfg, self.task, self.tokenizer = cfg, task, tokenizer
        sets = {"forget_docs": task.forget, "holdout_docs": task.holdout,
                "retain_docs": task.retain}
        self.chosen = {g: subset(len(texts), cfg) for g, texts in sets.items()}
        self.doc_sets = {g: [sets[g][i] for i in idx] for g, idx in self.chosen.items() if idx}
        self.max_new_tokens = cfg.eval.max_new_tokens or task.fmt.max_new_tokens
        # influence pairs among the scored forget texts (indices into the task's lists)
        scored = set(self.chosen["forget_docs"])
        self.pairs = [(z, q) for z, q in task.influence_pairs if z in scored] \
            if cfg.eval.influence else []
        curve = [METRICS.get(m) for m in cfg.eval.curve_metrics]
        self.curve_docs = {m.group for m in curve} & set(self.doc_sets)
        # candidates are scored at curve points only if a question metric of the curve reads
        # more than the greedy answer
        self.curve_scored = any(m.group not in DOC_SETS and m.reads != "prediction"
                                for m in curve)

    def items_index(self) -> dict:
        """results.json's `items`: per question group the (entity, relation) of each item, and
        per document set the indices of the scored texts (into the task's lists)."""
        groups: dict[str, list] = {}
        for item in self.task.items:
            groups.setdefault(item.group, []).append([item.entity, item.relation])
        return {**groups, **self.chosen,
                **({"influence_pairs": [list(p) for p in self.pairs]} if self.pairs else {})}

    def records(self, model, doc_groups=DOC_SETS, bar: Progress | None = None,
                scored: bool = True) -> tuple[list[dict], list[dict]]:
        """The model's question records (`scored=False`: greedy answers only) and its
        document records of `doc_groups`."""
        cfg = self.cfg.eval
        questions = _sharded(lambda items: make_records(
            model, self.tokenizer, items, self.task.fmt, cfg.batch_size, self.max_new_tokens,
            self.cfg.precision, scored, cfg.generate_batch_size), self.task.items)
        if bar is not None:
            bar.update()
        docs = [r for group in doc_groups if group in self.doc_sets
                for r in _sharded(lambda texts: text_records(
                    model, self.tokenizer, texts, self.task.fmt, group, cfg.batch_size,
                    self.cfg.precision), self.doc_sets[group])]
        return questions, docs

    def influence(self, model) -> list[dict]:
        """Influence records of the task's (forget text, query) pairs (eval.influence)."""
        if not self.pairs:
            return []
        fmt, tok = self.task.fmt, self.tokenizer
        if not hasattr(self, "_influence_sets"):
            self._influence_sets = (tokenize(tok, self.task.forget, fmt),
                                    tokenize(tok, self.task.queries, fmt))
        return _sharded(lambda pairs: influence_records(
            model, *self._influence_sets, pairs, self.cfg.eval.influence_params,
            tok.pad_token_id), self.pairs)

    def by_entity(self, model, metric: str) -> tuple[dict[str, float], dict[str, float]]:
        """(per entity: the mean of `metric` over its question items; every question metric's
        mean), from one pass over the questions (no documents)."""
        questions, _ = self.records(model, ())
        spec = METRICS.get(metric)
        values: dict[str, list[float]] = {}
        for record in questions:
            value = spec.fn(record) if record["group"] == spec.group else None
            if value is not None:
                values.setdefault(record["entity"], []).append(value)
        means = {k: v["mean"] for k, v in score(questions).items()}
        return {e: sum(v) / len(v) for e, v in values.items()}, means

    def checkpoint(self, model) -> dict[str, float]:
        """Every question metric's mean (and the documents' of curve metrics), for checks
        during unlearning (an iterative method's stop metric, a removal round's probe)."""
        questions, docs = self.records(model, tuple(self.curve_docs))
        return {k: v["mean"] for k, v in score(questions + docs).items()}

    def curve_point(self, model) -> dict[str, float]:
        """The curve metrics' means (eval.curve_metrics), computing only what they read: no
        candidate scoring when each reads the greedy answer alone (the default curve)."""
        questions, docs = self.records(model, tuple(self.curve_docs), scored=self.curve_scored)
        means = {k: v["mean"] for k, v in score(questions + docs).items()}
        return {m: means.get(m) for m in self.cfg.eval.curve_metrics}

    def run(self, label: str, model, run_dir: Path) -> dict:
        """Evaluate one model: its records into records/<label>.json, and its results entry
        (per metric: aggregate with n, sd, 95% CI and direction; per-item values; MIA AUCs)."""
        bar = Progress(3, f"evaluate {label}", enabled=self.cfg.progress,
                       unit="parts (questions, documents, influence)")
        questions, docs = self.records(model, bar=bar)
        bar.update()
        atomic_write_json(run_dir / "records" / f"{label}.json", questions)
        influence = self.influence(model)
        bar.update()
        bar.close()
        scores = score(questions + docs + influence)
        if self.cfg.keep_models:
            save_causal_lm(model, self.tokenizer, run_dir / "models" / label)
        return {"metrics": {k: {x: v[x] for x in ("mean", "n", "sd", "ci95", "ci_method", "direction")
                                if x in v}
                            for k, v in scores.items()},
                "values": {k: v["values"] for k, v in scores.items()},
                "mia": mia_auc(docs, self.task.scoring.mia_k, self.task.scoring.mia_drop_eos)}
