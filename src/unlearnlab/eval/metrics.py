"""Metrics: pure functions of per-item records (see eval/records.py).

Each metric maps one record to a number (or None when it does not apply) and declares its
direction and range; `score` applies every metric to the records of its group and keeps the
per-item values (paired statistics need them) next to the aggregate (mean, n, 95% CI).

Answer matching (RESTOR's QA accuracy, TOFU-style normalisation): lower-case, drop
punctuation and the articles a/an/the, collapse whitespace; a prediction is correct when its
normalised form equals the normalised form of any gold alias.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Callable

from unlearnlab.registry import Registry
from unlearnlab.stats import mean_ci

HIGHER, LOWER, NEUTRAL = "higher", "lower", "none"


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    group: str                    # which records it applies to: "target" or "utility"
    direction: str                # HIGHER / LOWER is better, or NEUTRAL
    range: tuple[float, float]
    fn: Callable[[dict], float | None]
    ci: str = "auto"              # interval: auto (Wilson for 0/1 values, else t) or bootstrap
    reads: str = "records"        # "prediction": only the greedy answer (and the item), so a
    #                               curve of such metrics needs no candidate scoring


METRICS: Registry[Metric] = Registry("metric")


def metric(name: str, *, description: str, group: str, direction: str, range: tuple[float, float],
           ci: str = "auto", reads: str = "records"):
    def decorate(fn):
        METRICS.add(name, Metric(name, description, group, direction, range, fn, ci, reads))
        return fn
    return decorate


_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    text = _PUNCT.sub(" ", text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds) -> bool:
    pred = normalize(prediction)
    return any(pred == normalize(g) for g in golds if g)


def mean_logp(record: dict, answer: str | None) -> float | None:
    """Mean per-token log-prob of `answer` given the question (RESTOR's probe)."""
    if answer is None or answer not in record["scores"]:
        return None
    total, n = record["scores"][answer]
    return total / n if n else None


@metric("target_accuracy", description="greedy answer matches the clean truth (target facts)",
        group="target", direction=HIGHER, range=(0.0, 1.0), reads="prediction")
def target_accuracy(record: dict) -> float:
    return float(exact_match(record["prediction"], record["answers"]))


@metric("corrupted_rate", description="greedy answer matches the injected wrong value",
        group="target", direction=LOWER, range=(0.0, 1.0), reads="prediction")
def corrupted_rate(record: dict) -> float | None:
    if not record["corrupted"]:
        return None
    return float(exact_match(record["prediction"], [record["corrupted"]]))


@metric("utility", description="accuracy on facts of non-target entities",
        group="utility", direction=HIGHER, range=(0.0, 1.0), reads="prediction")
def utility(record: dict) -> float:
    return float(exact_match(record["prediction"], record["answers"]))


@metric("logp_correct", description="mean per-token log-prob of the correct answer",
        group="target", direction=HIGHER, range=(float("-inf"), 0.0))
def logp_correct(record: dict) -> float | None:
    return mean_logp(record, record["answers"][0])


@metric("logp_corrupted", description="mean per-token log-prob of the injected wrong answer",
        group="target", direction=LOWER, range=(float("-inf"), 0.0))
def logp_corrupted(record: dict) -> float | None:
    return mean_logp(record, record["corrupted"])


@metric("logp_random", description="mean per-token log-prob of a random alternative answer",
        group="target", direction=NEUTRAL, range=(float("-inf"), 0.0))
def logp_random(record: dict) -> float | None:
    return mean_logp(record, record["random_alt"])


@metric("correct_rank", description="rank of the correct answer among the relation's values (1 = top)",
        group="target", direction=LOWER, range=(1.0, float("inf")))
def correct_rank(record: dict) -> float | None:
    rank = gold_rank(record)
    return None if rank is None else float(rank)


def gold_rank(record: dict) -> int | None:
    """Rank of the gold answer among the item's `pool` (1 = most likely): candidates are
    ranked by summed log-prob, i.e. the probability of the whole answer; ties count against
    the gold answer (1 + the number scored strictly higher). None without a pool."""
    pool = record["pool"]
    gold = record["answers"][0]
    if not pool or gold not in record["scores"]:
        return None
    mine = record["scores"][gold][0]
    return 1 + sum(record["scores"][c][0] > mine for c in pool if c != gold)


def score(records: list[dict]) -> dict[str, dict]:
    """Every metric over the records of its group: aggregate plus per-item values."""
    out = {}
    for name in METRICS:
        m = METRICS.get(name)
        values = [m.fn(r) for r in records if r["group"] == m.group]
        if not values or all(v is None for v in values):
            continue
        out[name] = {**mean_ci(values, method=m.ci), "direction": m.direction, "values": values}
    return out


def restoration(acc_unlearned: float, acc_clean: float, acc_corrupted: float) -> float | None:
    """RESTOR's restoration: (acc_unlearned - acc_corrupted) / (acc_clean - acc_corrupted).

    1 = the clean accuracy is fully back, 0 = no better than the corrupted model, < 0 worse.
    None when corruption did not lower accuracy (the ratio is undefined).
    """
    gap = acc_clean - acc_corrupted
    if gap <= 0:
        return None
    return (acc_unlearned - acc_corrupted) / gap


@metric("influence_forget", description="gradient dot product of a forget text with a query it "
        "taught, at this model (TracIn at one checkpoint): how far one more step on the text would "
        "still lower the query's loss; it vanishes once the model fits the text, so it has no "
        "better direction (compare models with paired tests)", group="influence_pairs",
        direction=NEUTRAL, range=(float("-inf"), float("inf")))
def influence_forget(record: dict) -> float:
    return record["influence"]
