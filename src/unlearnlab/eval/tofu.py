"""TOFU-style QA metrics (Maini et al. 2024, arXiv 2401.06121) on question records.

For a question q with gold answer a and perturbed (wrong) answers a'_1..a'_m, with the
length-normalised probability P_n(x | q) = P(x | q)^(1/|x|) = exp(mean token log-prob):
    probability   P_n(a | q)        (and P_n(a | q~) for the paraphrased question q~)
    truth ratio   R = (1/m) sum_j P_n(a'_j | q) / P_n(a | q)     (< 1: the truth is preferred)
    truth score   max(0, 1 - R)                                     (TOFU's retain-set form)
    ROUGE-L       recall and F1 of the greedy answer against a (rouge-score, no stemming)
TOFU compares a paraphrase of the answer with perturbations of it; the built-in world's
answers are single values, so the gold value itself plays the paraphrase.
Cross-model:
    forget quality  KS-test p-value of the target items' truth ratios, model vs the retrained
                    oracle (scipy.stats.ks_2samp); high = indistinguishable from retraining
    model utility   harmonic mean of probability, truth score and ROUGE-L recall on the
                    utility (non-target) items
"""

from __future__ import annotations

import math
from functools import cache

from scipy import stats

from unlearnlab.eval.metrics import HIGHER, LOWER, metric


@cache
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def norm_prob(record: dict, answer: str) -> float | None:
    if answer not in record["scores"]:
        return None
    total, n = record["scores"][answer]
    return math.exp(total / n) if n else None


def probability(record: dict) -> float | None:
    return norm_prob(record, record["answers"][0])


def truth_ratio(record: dict) -> float | None:
    gold = probability(record)
    perturbed = [norm_prob(record, a) for a in record.get("perturbed", ())]
    perturbed = [p for p in perturbed if p is not None]
    if not gold or not perturbed:
        return None
    return sum(perturbed) / len(perturbed) / gold


def truth_score(record: dict) -> float | None:
    r = truth_ratio(record)
    return None if r is None else max(0.0, 1.0 - r)


def rouge_l(record: dict) -> tuple[float, float]:
    """(recall, F1) of the greedy answer against the gold answer."""
    s = _scorer().score(record["answers"][0], record["prediction"])["rougeL"]
    return s.recall, s.fmeasure


for _group, _dir in (("target", HIGHER), ("utility", HIGHER)):
    metric(f"probability_{_group}", group=_group, direction=_dir, range=(0.0, 1.0),
           description=f"length-normalised probability of the gold answer ({_group} facts)")(probability)
    metric(f"rougeL_recall_{_group}", group=_group, direction=_dir, range=(0.0, 1.0),
           description=f"ROUGE-L recall of the greedy answer ({_group} facts)")(
        lambda r: rouge_l(r)[0])
metric("probability_paraphrase_target", group="target", direction=HIGHER, range=(0.0, 1.0),
       description="length-normalised probability of the gold answer to the paraphrased question")(
    lambda r: norm_prob({"scores": r.get("paraphrase_scores", {})}, r["answers"][0]))
metric("truth_ratio_target", group="target", direction=LOWER, range=(0.0, float("inf")),
       description="mean P_n(perturbed) / P_n(gold) on target facts (< 1: truth preferred)")(truth_ratio)
metric("truth_score_utility", group="utility", direction=HIGHER, range=(0.0, 1.0),
       description="max(0, 1 - truth ratio) on utility facts (TOFU's retain form)")(truth_score)
metric("rougeL_f1_target", group="target", direction=HIGHER, range=(0.0, 1.0),
       description="ROUGE-L F1 of the greedy answer (target facts)")(lambda r: rouge_l(r)[1])


def forget_quality(truth_ratios: list[float], oracle_truth_ratios: list[float]) -> float:
    """KS-test p-value: are the model's target truth ratios distributed like the oracle's?"""
    a = [v for v in truth_ratios if v is not None]
    b = [v for v in oracle_truth_ratios if v is not None]
    return float(stats.ks_2samp(a, b).pvalue)


def model_utility(means: dict[str, float]) -> float | None:
    """Harmonic mean of utility-set probability, truth score and ROUGE-L recall (0 if any is 0)."""
    parts = [means.get(k) for k in ("probability_utility", "truth_score_utility",
                                    "rougeL_recall_utility")]
    if any(p is None for p in parts):
        return None
    return 0.0 if min(parts) <= 0 else float(stats.hmean(parts))
