"""Paired comparisons of two models on the same items (per-fact values), as the seed papers
report them: paired t-test, Wilcoxon signed-rank test, Cohen's d_z, a bootstrap CI of the mean
difference (all from scipy), and Holm's step-down correction across several comparisons.

For differences d_i = a_i - b_i (i = 1..n):
    d_z = mean(d) / sd(d)            (sd with n - 1; Cohen 1988, the paired-samples effect size)
    t   = mean(d) / (sd(d) / sqrt n) (scipy.stats.ttest_rel), Wilcoxon on d (scipy.stats.wilcoxon)
Holm (1979): sort the m p-values ascending; p_(k) is adjusted to max_{j<=k} min(1, (m - j + 1) p_(j)).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


def cohens_dz(diff) -> float | None:
    d = np.asarray(diff, dtype=float)
    if len(d) < 2:
        return None
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() == 0 else math.copysign(math.inf, d.mean())
    return float(d.mean() / sd)


def bootstrap_ci(diff, level: float = 0.95, n_resamples: int = 5000, seed: int = 0) -> list[float]:
    """Percentile bootstrap CI of the mean difference (scipy.stats.bootstrap, seeded)."""
    d = np.asarray(diff, dtype=float)
    if len(d) < 2 or np.all(d == d[0]):
        return [float(d.mean()), float(d.mean())] if len(d) else [math.nan, math.nan]
    res = stats.bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples,
                          method="percentile", random_state=np.random.default_rng(seed))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def paired_comparison(a, b, seed: int = 0) -> dict:
    """Everything about a - b over paired items; p-values are 1.0 when all differences are 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    d = a - b
    out = {"n": int(len(d)), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
           "mean_diff": float(d.mean()), "d_z": cohens_dz(d), "ci95_diff": bootstrap_ci(d, seed=seed)}
    if len(d) < 2 or np.all(d == 0):
        out.update(t=0.0, p_t=1.0, wilcoxon=0.0, p_wilcoxon=1.0)
        return out
    with warnings.catch_warnings():      # near-constant differences: scipy warns of precision
        warnings.simplefilter("ignore", RuntimeWarning)       # loss; the result stands as is
        t = stats.ttest_rel(a, b)
        w = stats.wilcoxon(d)
    out.update(t=float(t.statistic), p_t=float(t.pvalue), wilcoxon=float(w.statistic),
               p_wilcoxon=float(w.pvalue))
    return out


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values for a family of comparisons (same keys)."""
    order = sorted(pvalues, key=pvalues.get)
    m, running, out = len(order), 0.0, {}
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[key]))
        out[key] = running
    return out
