import pytest
from scipy import stats

from unlearnlab.eval.metrics import (
    METRICS,
    correct_rank,
    corrupted_rate,
    exact_match,
    logp_correct,
    normalize,
    restoration,
    score,
    target_accuracy,
)
from unlearnlab.stats import mean_ci, wilson


def record(prediction, **kw):
    base = {"entity": "E", "relation": "pet", "question": "q", "answers": ["the Gecko", "lizard"],
            "group": "target", "corrupted": "parrot", "random_alt": "ferret",
            "pool": ["the Gecko", "parrot", "ferret"], "prediction": prediction,
            "scores": {"the Gecko": [-3.0, 2], "parrot": [-1.0, 1], "ferret": [-4.0, 1]}}
    return {**base, **kw}


def test_normalised_exact_match():
    assert normalize("  The  Gecko!") == "gecko"
    assert exact_match("a gecko.", ["The Gecko"])
    assert exact_match("Lizard", ["the Gecko", "lizard"])      # any alias
    assert not exact_match("geckos", ["gecko"])
    assert not exact_match("", ["gecko"])


def test_per_item_metrics_by_hand():
    r = record("Gecko")
    assert target_accuracy(r) == 1.0 and corrupted_rate(r) == 0.0
    assert corrupted_rate(record("Parrot")) == 1.0
    assert logp_correct(r) == pytest.approx(-1.5)                # -3.0 over 2 tokens
    assert correct_rank(r) == 2.0                                # parrot (-1) beats gecko (-3)


def test_score_keeps_values_and_aggregates_with_ci():
    recs = [record("Gecko"), record("parrot"), record("gecko")]
    out = score(recs)
    acc = out["target_accuracy"]
    assert acc["values"] == [1.0, 0.0, 1.0] and acc["n"] == 3 and acc["direction"] == "higher"
    # 2 of 3 right: Wilson, z = 1.959964: centre (2/3 + z²/6) / (1 + z²/3) = 0.5907,
    # half z sqrt(2/27 + z²/36) / (1 + z²/3) = 0.3830
    assert acc["ci_method"] == "wilson"
    assert acc["ci95"] == pytest.approx([0.2077, 0.9385], abs=1e-4)
    assert "utility" not in out                                  # no utility records given


def test_mean_ci_matches_scipy_and_edge_cases():
    vals = [0.2, 0.5, 0.9, 0.4]
    got = mean_ci(vals)
    assert got["ci95"] == pytest.approx(list(stats.t.interval(0.95, 3, loc=0.5, scale=stats.sem(vals))))
    assert got["ci_method"] == "t"
    assert mean_ci([]) == {"mean": None, "n": 0, "sd": None, "ci95": [None, None],
                           "ci_method": None}
    assert mean_ci([0.7])["ci95"] == [0.7, 0.7]


def test_intervals_of_proportions_stay_in_0_1_and_match_wilson_by_hand():
    # 0 of 5: Wilson [0, z²/(n + z²)] = [0, 3.8415 / 8.8415] = [0, 0.4345]
    assert mean_ci([0, 0, 0, 0, 0])["ci95"] == pytest.approx([0.0, 0.43448], abs=1e-5)
    # 10 of 10: [n / (n + z²), 1] = [10 / 13.8415, 1]
    assert mean_ci([1] * 10)["ci95"] == pytest.approx([0.72247, 1.0], abs=1e-5)
    # 7 of 20: centre (0.35 + z²/40) / (1 + z²/20) = 0.37417,
    # half z sqrt(0.2275/20 + z²/1600) / (1 + z²/20) = 0.19298
    assert wilson(7, 20) == pytest.approx([0.18119, 0.56715], abs=1e-5)
    for k in range(0, 6):
        lo, hi = wilson(k, 5)
        assert 0.0 <= lo <= k / 5 <= hi <= 1.0


def test_perplexity_intervals_are_bootstrap_and_stay_positive():
    values = [1.1, 1.2, 1.05, 250.0, 1.3]           # one outlier: the t-interval goes below 0
    t_low = mean_ci(values, method="t")["ci95"][0]
    assert t_low < 0
    boot = mean_ci(values, method="bootstrap")
    assert boot["ci_method"] == "bootstrap" and min(values) <= boot["ci95"][0] < boot["ci95"][1]
    assert METRICS.get("ppl_forget").ci == "bootstrap"


def test_restoration_by_hand():
    assert restoration(0.6, 1.0, 0.2) == pytest.approx(0.5)
    assert restoration(0.2, 1.0, 0.2) == 0.0
    assert restoration(0.1, 1.0, 0.2) == pytest.approx(-0.125)
    assert restoration(0.5, 0.4, 0.4) is None                    # corruption did not lower accuracy
