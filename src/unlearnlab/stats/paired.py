"""Paired comparisons of two models on the same items, with one pre-declared primary test per
kind of outcome and a confidence interval from the same procedure, so the two never disagree.

For differences d_i = a_i - b_i (i = 1..n):
- binary outcomes (every a_i, b_i is 0 or 1: a question answered right or not): the **exact
  McNemar test** — of the m = n10 + n01 discordant items, n10 (a right, b wrong) is
  Binomial(m, 1/2) under H0; two-sided p = min(1, 2 min(P(X <= n10), P(X >= n10))) — the
  sign test on the nonzero differences. Its CI: the Clopper–Pearson interval [θ_lo, θ_hi] of
  θ = n10 / m (the inversion of the same two one-sided exact tests), mapped to the mean
  difference (n10 - n01) / n = (m / n)(2θ - 1), conditional on m. It excludes 0 exactly when
  p < 1 - level.
- continuous outcomes: the **paired t-test**, t = mean(d) / (sd(d)/√n) (scipy.stats.ttest_rel),
  and its interval mean(d) ± t_{1-α/2, n-1} sd(d)/√n; when every difference is equal, p = 1
  if they are 0 and p = 0 otherwise, the interval [mean, mean].
Multiple comparisons: with m_family comparisons in a family (methods against one baseline on
one metric), the reported `p_adj` is Bonferroni's min(1, m_family · p) and `ci_adj` the same
procedure's interval at level 1 - α/m_family (simultaneous), so a mark (p_adj < α) and the
adjusted interval excluding 0 always agree. Also reported, not used for marks: Wilcoxon
signed-rank p, the percentile bootstrap CI of the mean difference, Cohen's
d_z = mean(d) / sd(d) (sd with n - 1; None, not ±inf, when every difference is equal).
Holm (1979) is kept for callers who want it: p_(k) -> max_{j<=k} min(1, (m - j + 1) p_(j)).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from unlearnlab.stats.intervals import scipy_stats

ALPHA = 0.05


def cohens_dz(diff) -> float | None:
    """mean / sd of the differences; None when n < 2 or every difference is equal (the
    ratio is undefined or infinite)."""
    d = np.asarray(diff, dtype=float)
    if len(d) < 2:
        return None
    sd = d.std(ddof=1)
    if sd == 0:
        return None
    return float(d.mean() / sd)


def bootstrap_ci(diff, level: float = 0.95, n_resamples: int = 5000, seed: int = 0) -> list[float]:
    """Percentile bootstrap CI of the mean difference (scipy.stats.bootstrap, seeded)."""
    d = np.asarray(diff, dtype=float)
    if len(d) < 2 or np.all(d == d[0]):
        return [float(d.mean()), float(d.mean())] if len(d) else [math.nan, math.nan]
    res = scipy_stats().bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples,
                          method="percentile", random_state=np.random.default_rng(seed))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def mcnemar_exact(a, b, level: float = 0.95) -> tuple[float, list[float], dict]:
    """(two-sided exact p, CI of the mean difference a - b, discordant counts) for paired
    0/1 outcomes."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    n10, n01 = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    m, n = n10 + n01, len(a)
    counts = {"n10": n10, "n01": n01}
    if m == 0:
        return 1.0, [0.0, 0.0], counts
    binom = scipy_stats().binom
    p = min(1.0, 2 * min(binom.cdf(n10, m, 0.5), binom.sf(n10 - 1, m, 0.5)))
    tail = (1 - level) / 2
    lo = 0.0 if n10 == 0 else float(scipy_stats().beta.ppf(tail, n10, m - n10 + 1))
    hi = 1.0 if n10 == m else float(scipy_stats().beta.ppf(1 - tail, n10 + 1, m - n10))
    return float(p), [m / n * (2 * lo - 1), m / n * (2 * hi - 1)], counts


def t_interval(d, level: float = 0.95) -> list[float]:
    mean, n = float(d.mean()), len(d)
    sd = d.std(ddof=1) if n > 1 else 0.0
    if n < 2 or sd == 0:
        return [mean, mean]
    half = float(scipy_stats().t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))
    return [mean - half, mean + half]


def paired_comparison(a, b, seed: int = 0, family: int = 1) -> dict:
    """Everything about a - b over paired items: the primary test (`test`: mcnemar_exact for
    0/1 outcomes, paired_t otherwise), its p and 95% CI (`p`, `ci95_diff`), Bonferroni over
    `family` comparisons (`p_adj`, `ci_adj`), and secondary figures (t, Wilcoxon, bootstrap
    CI, d_z). Items where either value is None (the metric does not apply to it, e.g.
    exposure on a secret that is not a canary) are left out, and `n` counts the rest."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)     # None -> nan
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    defined = ~(np.isnan(a) | np.isnan(b))
    a, b = a[defined], b[defined]
    d = a - b
    n = len(d)
    adj_level = 1 - ALPHA / family
    out = {"n": int(n), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
           "mean_diff": float(d.mean()), "d_z": cohens_dz(d), "family": family,
           "ci_bootstrap": bootstrap_ci(d, seed=seed)}
    binary = bool(np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all())
    constant = n < 2 or bool(np.all(d == d[0]))
    if constant:
        out.update(t=0.0, p_t=1.0 if n < 2 or d[0] == 0 else 0.0, wilcoxon=0.0,
                   p_wilcoxon=1.0 if n < 2 or d[0] == 0 else 0.0)
    else:
        with warnings.catch_warnings():   # near-constant differences: scipy warns of precision
            warnings.simplefilter("ignore", RuntimeWarning)    # loss; the result stands as is
            t = scipy_stats().ttest_rel(a, b)
            w = scipy_stats().wilcoxon(d) if np.any(d != 0) else None
        out.update(t=float(t.statistic), p_t=float(t.pvalue),
                   wilcoxon=float(w.statistic) if w else 0.0,
                   p_wilcoxon=float(w.pvalue) if w else 1.0)
    if binary and n:
        p, ci, counts = mcnemar_exact(a, b)
        _, ci_adj, _ = mcnemar_exact(a, b, adj_level)
        out.update(test="mcnemar_exact", p=p, ci95_diff=ci, ci_adj=ci_adj, **counts)
    else:
        out.update(test="paired_t", p=out["p_t"], ci95_diff=t_interval(d),
                   ci_adj=t_interval(d, adj_level))
    out["p_adj"] = min(1.0, family * out["p"])
    return out


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values for a family of comparisons (same keys)."""
    order = sorted(pvalues, key=pvalues.get)
    m, running, out = len(order), 0.0, {}
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[key]))
        out[key] = running
    return out
