"""Paired statistics against scipy's own results and hand-derived values."""

import math

import numpy as np
import pytest
from scipy import stats

from unlearnlab.stats import bootstrap_ci, cohens_dz, holm, mcnemar_exact, paired_comparison

A = [0.9, 0.8, 1.0, 0.7, 0.95, 0.85, 0.6, 0.75]
B = [0.5, 0.6, 0.7, 0.65, 0.4, 0.55, 0.6, 0.3]


def test_d_z_is_mean_over_sd_of_differences():
    # differences 1, 2, 3: mean 2, sd 1 -> d_z = 2
    assert cohens_dz([1.0, 2.0, 3.0]) == pytest.approx(2.0)
    # every difference equal: undefined (never ±inf in a table)
    assert cohens_dz([0.5, 0.5]) is None and cohens_dz([0.0, 0.0]) is None
    assert cohens_dz([1.0]) is None


def test_paired_comparison_matches_scipy():
    out = paired_comparison(A, B)
    d = np.array(A) - np.array(B)
    assert out["n"] == 8 and out["mean_diff"] == pytest.approx(d.mean())
    assert out["p_t"] == pytest.approx(stats.ttest_rel(A, B).pvalue)
    assert out["t"] == pytest.approx(stats.ttest_rel(A, B).statistic)
    assert out["p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert out["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert out["test"] == "paired_t" and out["p"] == out["p_t"] == out["p_adj"]
    low, high = stats.t.interval(0.95, 7, loc=d.mean(), scale=stats.sem(d))
    assert out["ci95_diff"] == pytest.approx([low, high])
    same = paired_comparison(A, A)
    assert same["p"] == 1.0 and same["d_z"] is None and same["ci95_diff"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="equal lengths"):
        paired_comparison(A, B[:3])


def test_items_where_a_metric_does_not_apply_are_left_out():
    """None on either side (e.g. exposure of a secret that is not a canary) drops the pair."""
    out = paired_comparison([*A, None, 0.2], [*B, 0.1, None])
    assert out["n"] == 8 and out["p_t"] == pytest.approx(stats.ttest_rel(A, B).pvalue)
    assert out["mean_diff"] == pytest.approx((np.array(A) - np.array(B)).mean())


def test_bootstrap_ci_is_seeded_and_close_to_the_t_interval():
    d = np.array(A) - np.array(B)
    assert bootstrap_ci(d, seed=1) == bootstrap_ci(d, seed=1)
    t_low, t_high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    low, high = bootstrap_ci(d, seed=1, n_resamples=20000)
    assert abs(low - t_low) < 0.05 and abs(high - t_high) < 0.05


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 with m = 3: 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04
    assert holm({"a": 0.04, "b": 0.01, "c": 0.02}) == pytest.approx({"a": 0.04, "b": 0.03, "c": 0.04})
    assert holm({"x": 0.6, "y": 0.5}) == pytest.approx({"x": 1.0, "y": 1.0})


def test_exact_mcnemar_by_hand_and_against_scipy():
    # 7 items right only under a, 1 only under b, 2 concordant: m = 8 discordant,
    # P(X >= 7 | Bin(8, 1/2)) = (8 + 1) / 256, two-sided p = 18 / 256 = 0.0703125
    a = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1]
    b = [0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    out = paired_comparison(a, b)
    assert out["test"] == "mcnemar_exact" and (out["n10"], out["n01"]) == (7, 1)
    assert out["p"] == pytest.approx(18 / 256)
    assert out["p"] == pytest.approx(stats.binomtest(7, 8, 0.5).pvalue)   # symmetric: same p
    # its CI: Clopper-Pearson of 7/8 mapped to (m / n)(2θ - 1); contains 0 because p > 0.05
    ci = stats.binomtest(7, 8, 0.5).proportion_ci(0.95, method="exact")
    want = [0.8 * (2 * ci.low - 1), 0.8 * (2 * ci.high - 1)]
    assert out["ci95_diff"] == pytest.approx(want) and want[0] < 0 < want[1]
    assert out["mean_diff"] == pytest.approx(0.6)


def test_mark_and_interval_never_disagree():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(5, 40))
        a = rng.integers(0, 2, n) if trial % 2 else rng.normal(0.3, 1, n)
        b = rng.integers(0, 2, n) if trial % 2 else rng.normal(0.0, 1, n)
        family = int(rng.integers(1, 6))
        out = paired_comparison(a, b, family=family)
        lo, hi = out["ci_adj"]
        excludes_zero = lo > 0 or hi < 0
        if abs(out["p_adj"] - 0.05) > 1e-9 and out["p_adj"] < 1:
            assert (out["p_adj"] < 0.05) == excludes_zero, (trial, out)
        lo, hi = out["ci95_diff"]
        if abs(out["p"] - 0.05) > 1e-9:
            assert (out["p"] < 0.05) == (lo > 0 or hi < 0), (trial, out)


def test_mcnemar_without_discordant_pairs():
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]) == (1.0, [0.0, 0.0], {"n10": 0, "n01": 0})
