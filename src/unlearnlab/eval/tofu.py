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

from unlearnlab.eval.metrics import HIGHER, LOWER, NEUTRAL, metric
from unlearnlab.stats.intervals import scipy_stats


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
           reads="prediction",
           description=f"ROUGE-L recall of the greedy answer ({_group} facts)")(
        lambda r: rouge_l(r)[0])
metric("probability_paraphrase_target", group="target", direction=HIGHER, range=(0.0, 1.0),
       description="length-normalised probability of the gold answer to the paraphrased question")(
    lambda r: norm_prob({"scores": r.get("paraphrase_scores", {})}, r["answers"][0]))
metric("truth_ratio_target", group="target", direction=LOWER, range=(0.0, float("inf")),
       description="mean P_n(perturbed) / P_n(gold) on target facts (< 1: truth preferred)")(truth_ratio)
metric("truth_score_utility", group="utility", direction=HIGHER, range=(0.0, 1.0),
       description="max(0, 1 - truth ratio) on utility facts (TOFU's retain form)")(truth_score)
metric("rougeL_f1_target", group="target", direction=HIGHER, range=(0.0, 1.0), reads="prediction",
       description="ROUGE-L F1 of the greedy answer (target facts)")(lambda r: rouge_l(r)[1])


def forget_quality(truth_ratios: list[float], oracle_truth_ratios: list[float]) -> float:
    """KS-test p-value: are the model's target truth ratios distributed like the oracle's?"""
    a = [v for v in truth_ratios if v is not None]
    b = [v for v in oracle_truth_ratios if v is not None]
    return float(scipy_stats().ks_2samp(a, b).pvalue)


def model_utility(means: dict[str, float], names) -> float | None:
    """Harmonic mean of the metric means `names` (the task's; the built-in world: utility-set
    probability, truth score and ROUGE-L recall); 0 if any is 0, None if any is missing."""
    parts = [means.get(k) for k in names]
    if not parts or any(p is None for p in parts):
        return None
    return 0.0 if min(parts) <= 0 else float(scipy_stats().hmean(parts))


# ----------------------------------------------------------------------------- open-unlearning
# TOFU's metrics exactly as open-unlearning computes them (locuslab/open-unlearning, the
# reference implementation TOFU numbers are compared with), under its names, on the question
# groups of the `tofu` task: forget, retain (retain_perturbed), ra (real authors), wf (world
# facts). The task's prompt format carries open-unlearning's tokenisation: prompt
# "Question: {q}\nAnswer: ", answer tokens masked by the prompt's length (which also masks
# the first answer word), EOS scored. With L(a) the mean NLL of answer a's scored tokens:
#     Q_A_Prob        exp(-L(a))
#     truth ratio     tr = exp(-mean_j L(a'_j)) / (exp(-L(a~)) + 1e-10)      geometric mean over
#                     the perturbed a'_j; a~ = the paraphrased answer (ra, wf: the answer a)
#     forget          min(tr, 1 / (tr + 1e-10))   ("closer to 1 is better")
#     retain, ra, wf  max(0, 1 - tr)              ("true is better")
#     Prob_normalised exp(-L(a)) / (exp(-L(a)) + sum_j exp(-L(a'_j)) + 1e-10)    (ra, wf)
#     ROUGE           ROUGE-L recall of the greedy answer (200 tokens, stops at EOS), stemmed
#     ES              1 - k/n over the n scored answer tokens before EOS, k the first position
#                     from which every argmax prediction is right; open-unlearning's loop gives
#                     k = n - 1 when none is (so ES >= 1/n)
# forget_quality reads the raw forget truth ratios (forget_truth_ratio_raw).

EPS = 1e-10


@cache
def _stemmed_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def _mean_nll(record: dict, answer: str | None) -> float | None:
    if answer is None or answer not in record["scores"]:
        return None
    total, n = record["scores"][answer]
    return -total / n if n else None


def ou_prob(record: dict) -> float | None:
    nll = _mean_nll(record, record["answers"][0])
    return None if nll is None else math.exp(-nll)


def ou_truth_ratio(record: dict, correct: str | None) -> float | None:
    c = _mean_nll(record, correct)
    wrong = [_mean_nll(record, a) for a in record.get("perturbed", ())]
    wrong = [x for x in wrong if x is not None]
    if c is None or not wrong:
        return None
    return math.exp(-sum(wrong) / len(wrong)) / (math.exp(-c) + EPS)


def ou_prob_normalised(record: dict) -> float | None:
    c = ou_prob(record)
    wrong = [_mean_nll(record, a) for a in record.get("perturbed", ())]
    if c is None or any(x is None for x in wrong):
        return None
    return c / (c + sum(math.exp(-x) for x in wrong) + EPS)


def ou_rouge(record: dict) -> float:
    return _stemmed_scorer().score(record["answers"][0].strip(), record["prediction"])["rougeL"].recall


def ou_extraction_strength(record: dict) -> float:
    hits = record["gold_hits"][:-1] if record.get("eos_scored") else record["gold_hits"]
    n = len(hits)
    if n == 0:
        return 0.0
    k = n
    while k > 0 and hits[k - 1]:
        k -= 1
    return 1 - min(k, n - 1) / n


def _forget_tr(record: dict) -> float | None:
    return ou_truth_ratio(record, record.get("paraphrased_answer"))


def _true_better(tr: float | None) -> float | None:
    return None if tr is None else max(0.0, 1.0 - tr)


metric("forget_Q_A_Prob", group="forget", direction=LOWER, range=(0.0, 1.0),
       description="probability of the forget answer, exp(-mean answer NLL) (open-unlearning)")(ou_prob)
metric("forget_Q_A_PARA_Prob", group="forget", direction=LOWER, range=(0.0, 1.0),
       description="probability of the paraphrased forget answer (open-unlearning)")(
    lambda r: None if _mean_nll(r, r.get("paraphrased_answer")) is None
    else math.exp(-_mean_nll(r, r["paraphrased_answer"])))
metric("forget_truth_ratio", group="forget", direction=HIGHER, range=(0.0, 1.0),
       description="min(tr, 1/tr) of the truth ratio on forget questions (open-unlearning)")(
    lambda r: None if _forget_tr(r) is None else min(_forget_tr(r), 1 / (_forget_tr(r) + EPS)))
metric("forget_truth_ratio_raw", group="forget", direction=NEUTRAL, range=(0.0, float("inf")),
       description="raw truth ratio tr on forget questions (what forget quality compares)")(_forget_tr)
metric("forget_Q_A_ROUGE", group="forget", direction=LOWER, range=(0.0, 1.0), reads="prediction",
       description="ROUGE-L recall of the greedy forget answer (open-unlearning)")(ou_rouge)
metric("extraction_strength", group="forget", direction=LOWER, range=(0.0, 1.0),
       description="extraction strength of the forget answers (open-unlearning's convention)")(
    ou_extraction_strength)
metric("retain_Q_A_Prob", group="retain", direction=HIGHER, range=(0.0, 1.0),
       description="probability of the retain answer (open-unlearning)")(ou_prob)
metric("retain_Truth_Ratio", group="retain", direction=HIGHER, range=(0.0, 1.0),
       description="max(0, 1 - tr) on retain questions (open-unlearning)")(
    lambda r: _true_better(_forget_tr(r)))
metric("retain_Q_A_ROUGE", group="retain", direction=HIGHER, range=(0.0, 1.0), reads="prediction",
       description="ROUGE-L recall of the greedy retain answer (open-unlearning)")(ou_rouge)
for _g, _name in (("ra", "real authors"), ("wf", "world facts")):
    metric(f"{_g}_Q_A_Prob_normalised", group=_g, direction=HIGHER, range=(0.0, 1.0),
           description=f"probability of the answer among it and the perturbed ones ({_name})")(
        ou_prob_normalised)
    metric(f"{_g}_Truth_Ratio", group=_g, direction=HIGHER, range=(0.0, 1.0),
           description=f"max(0, 1 - tr), answer against the perturbed ones ({_name})")(
        lambda r: _true_better(ou_truth_ratio(r, r["answers"][0])))
    metric(f"{_g}_Q_A_ROUGE", group=_g, direction=HIGHER, range=(0.0, 1.0), reads="prediction",
           description=f"ROUGE-L recall of the greedy answer ({_name})")(ou_rouge)

OU_UTILITY = ("retain_Q_A_Prob", "retain_Q_A_ROUGE", "retain_Truth_Ratio",
              "ra_Q_A_Prob_normalised", "ra_Q_A_ROUGE", "ra_Truth_Ratio",
              "wf_Q_A_Prob_normalised", "wf_Q_A_ROUGE", "wf_Truth_Ratio")
