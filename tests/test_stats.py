"""Paired statistics against scipy's own results and hand-derived values."""

import math

import numpy as np
import pytest
from scipy import stats

from unlearnlab.stats import bootstrap_ci, cohens_dz, holm, paired_comparison

A = [0.9, 0.8, 1.0, 0.7, 0.95, 0.85, 0.6, 0.75]
B = [0.5, 0.6, 0.7, 0.65, 0.4, 0.55, 0.6, 0.3]


def test_d_z_is_mean_over_sd_of_differences():
    # differences 1, 2, 3: mean 2, sd 1 -> d_z = 2
    assert cohens_dz([1.0, 2.0, 3.0]) == pytest.approx(2.0)
    assert cohens_dz([0.5, 0.5]) == math.inf and cohens_dz([0.0, 0.0]) == 0.0
    assert cohens_dz([1.0]) is None


def test_paired_comparison_matches_scipy():
    out = paired_comparison(A, B)
    d = np.array(A) - np.array(B)
    assert out["n"] == 8 and out["mean_diff"] == pytest.approx(d.mean())
    assert out["p_t"] == pytest.approx(stats.ttest_rel(A, B).pvalue)
    assert out["t"] == pytest.approx(stats.ttest_rel(A, B).statistic)
    assert out["p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert out["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    low, high = out["ci95_diff"]
    assert low < d.mean() < high
    assert paired_comparison(A, A)["p_t"] == 1.0 and paired_comparison(A, A)["d_z"] == 0.0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_comparison(A, B[:3])


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
