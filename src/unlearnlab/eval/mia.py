"""Perplexity, memorization and membership inference on documents: pure functions of
`text_records`.

Memorization (teacher-forced; Tirumala et al. 2022, Carlini et al. 2021, as used by MUSE):
    exact memorization   EM(x) = (1/n) sum_t 1[argmax_v p(v | x_<t) = x_t]
    extraction strength  ES(x) = 1 - k*/n,  k* = min{k : argmax predictions match x_t for all t >= k}
(ES = 1: the whole document follows from its first token; 0: not even the last token does.)

Membership-inference scores, oriented so that HIGHER = looks more like a training member:
    loss      (Yeom et al. 2018)          (1/n) sum_t log p(x_t)                   = -NLL
    zlib      (Carlini et al. 2021)       -NLL / zlib_bytes(text)
    min_k     (Shi et al. 2024, Min-K%)   mean of the k% lowest log p(x_t)
    min_k_pp  (Zhang et al. 2024, Min-K%++)  mean of the k% lowest (log p(x_t) - mu_t) / sigma_t,
              mu_t, sigma_t: mean and sd of log p(v) under the model's distribution at t
k = 20%, at least one token.

AUC (scikit-learn's roc_auc_score): forget documents (trained on: label 1) against held-out
documents of the same kind (never trained on: label 0), scored as above. 0.5 = the model
cannot tell them apart; 1.0 = every forget document scores above every held-out one.
Privacy leak (MUSE, Shi et al. 2024, arXiv 2407.06460):
    PrivLeak = (AUC_unlearned - AUC_retrain) / AUC_retrain
0 = as private as retraining from scratch; > 0 = forget data still detectable (under-
unlearned); < 0 = over-unlearned (the forget data now stands out by being unlikely).
"""

from __future__ import annotations

import math

from sklearn.metrics import roc_auc_score

from unlearnlab.eval.metrics import HIGHER, LOWER, NEUTRAL, metric

K_FRACTION = 0.2
MIA_SCORES = ("loss", "zlib", "min_k", "min_k_pp")
MEMBERS, NONMEMBERS = "forget_docs", "holdout_docs"
ORIENTATION = ("AUC of telling forget documents (trained on, label 1) from held-out documents "
               "(never trained on, label 0) with scores where higher = more member-like; "
               "0.5 = indistinguishable")


def mean_nll(record: dict) -> float:
    logps = record["token_logps"]
    return -sum(logps) / len(logps)


def _lowest_mean(values: list[float]) -> float:
    k = max(1, int(len(values) * K_FRACTION))
    return sum(sorted(values)[:k]) / k


def mia_score(record: dict, kind: str) -> float:
    """One document's membership score of `kind` (higher = more member-like)."""
    if kind == "loss":
        return -mean_nll(record)
    if kind == "zlib":
        return -mean_nll(record) / record["zlib_bytes"]
    if kind == "min_k":
        return _lowest_mean(record["token_logps"])
    if kind == "min_k_pp":
        z = [(lp - m) / s if s > 0 else 0.0
             for lp, m, s in zip(record["token_logps"], record["mu"], record["sigma"])]
        return _lowest_mean(z)
    raise ValueError(f"unknown MIA score {kind!r}; valid: {MIA_SCORES}")


def mia_auc(records: list[dict]) -> dict[str, dict]:
    """Per score kind: the AUC of forget vs held-out documents, with n of each."""
    members = [r for r in records if r["group"] == MEMBERS]
    others = [r for r in records if r["group"] == NONMEMBERS]
    if not members or not others:
        return {}
    labels = [1] * len(members) + [0] * len(others)
    return {kind: {"auc": float(roc_auc_score(labels, [mia_score(r, kind) for r in members + others])),
                   "n_members": len(members), "n_nonmembers": len(others)}
            for kind in MIA_SCORES}


def privacy_leak(auc_unlearned: float, auc_retrain: float) -> float:
    """MUSE's PrivLeak: (AUC_unlearned - AUC_retrain) / AUC_retrain."""
    return (auc_unlearned - auc_retrain) / auc_retrain


def perplexity(record: dict) -> float:
    """exp of the document's mean token NLL."""
    return math.exp(mean_nll(record))


@metric("ppl_forget", description="perplexity of forget documents (higher = more forgotten)",
        group=MEMBERS, direction=HIGHER, range=(1.0, float("inf")))
def ppl_forget(record: dict) -> float:
    return perplexity(record)


@metric("ppl_holdout", description="perplexity of held-out documents like the forget set",
        group=NONMEMBERS, direction=NEUTRAL, range=(1.0, float("inf")))
def ppl_holdout(record: dict) -> float:
    return perplexity(record)


@metric("ppl_retain", description="perplexity of retain documents (lower = utility kept)",
        group="retain_docs", direction=LOWER, range=(1.0, float("inf")))
def ppl_retain(record: dict) -> float:
    return perplexity(record)


def exact_memorization(record: dict) -> float:
    hits = record["argmax_ok"]
    return sum(hits) / len(hits)


def extraction_strength(record: dict) -> float:
    hits = record["argmax_ok"]
    k = len(hits)
    while k > 0 and hits[k - 1]:
        k -= 1
    return 1 - k / len(hits)


for _group, _set, _direction in (("forget_docs", "forget", LOWER), ("retain_docs", "retain", HIGHER)):
    metric(f"exact_mem_{_set}", group=_group, direction=_direction, range=(0.0, 1.0),
           description=f"exact memorization of {_set} documents (teacher-forced argmax agreement)")(
        exact_memorization)
    metric(f"extraction_{_set}", group=_group, direction=_direction, range=(0.0, 1.0),
           description=f"extraction strength of {_set} documents (1 - shortest prefix share)")(
        extraction_strength)


@metric("membership_forget", description="Min-K%++ membership score of forget documents "
        "(higher = looks more trained on)", group=MEMBERS, direction=LOWER,
        range=(float("-inf"), float("inf")))
def membership_forget(record: dict) -> float:
    """Per-document influence of the forget set as a membership signal: paired before/after
    comparisons of it show whether unlearning removed each document's trace."""
    return mia_score(record, "min_k_pp")
