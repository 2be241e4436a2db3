import pytest
from scipy import stats

from unlearnlab.eval.metrics import (
    correct_rank,
    corrupted_rate,
    exact_match,
    logp_correct,
    normalize,
    restoration,
    score,
    target_accuracy,
)
from unlearnlab.stats import mean_ci


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
    low, high = stats.t.interval(0.95, 2, loc=2 / 3, scale=stats.sem([1, 0, 1]))
    assert acc["ci95"] == pytest.approx([low, high])
    assert "utility" not in out                                  # no utility records given


def test_mean_ci_matches_scipy_and_edge_cases():
    vals = [0.2, 0.5, 0.9, 0.4]
    got = mean_ci(vals)
    assert got["ci95"] == pytest.approx(list(stats.t.interval(0.95, 3, loc=0.5, scale=stats.sem(vals))))
    assert mean_ci([]) == {"mean": None, "n": 0, "sd": None, "ci95": [None, None]}
    assert mean_ci([0.7])["ci95"] == [0.7, 0.7]


def test_restoration_by_hand():
    assert restoration(0.6, 1.0, 0.2) == pytest.approx(0.5)
    assert restoration(0.2, 1.0, 0.2) == 0.0
    assert restoration(0.1, 1.0, 0.2) == pytest.approx(-0.125)
    assert restoration(0.5, 0.4, 0.4) is None                    # corruption did not lower accuracy
