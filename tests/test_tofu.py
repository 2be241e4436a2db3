"""TOFU-style QA metrics against hand-derived values, scipy and rouge-score."""

import math

import pytest
from rouge_score import rouge_scorer
from scipy import stats

from unlearnlab.eval.metrics import score
from unlearnlab.eval.tofu import (forget_quality, model_utility, probability, rouge_l,
                                  truth_ratio, truth_score)


def record(group="target", prediction="Carrow College"):
    # gold: 2 tokens with total log-prob ln(1/4) -> P_n = (1/4)^(1/2) = 1/2
    # perturbed: P_n = 1/4 (1 token, ln 1/4) and 1/8 (3 tokens, ln 1/512) -> mean 3/16
    return {"group": group, "answers": ["Carrow University"], "corrupted": None, "pool": [],
            "random_alt": None, "perturbed": ["Gorse University", "Hallam College"],
            "prediction": prediction,
            "scores": {"Carrow University": [math.log(1 / 4), 2], "Gorse University": [math.log(1 / 4), 1],
                       "Hallam College": [math.log(1 / 512), 3]}}


def test_probability_truth_ratio_and_truth_score_by_hand():
    r = record()
    assert probability(r) == pytest.approx(0.5)
    assert truth_ratio(r) == pytest.approx((3 / 16) / 0.5)          # = 3/8
    assert truth_score(r) == pytest.approx(1 - 3 / 8)
    assert truth_ratio({**r, "perturbed": []}) is None


def test_rouge_agrees_with_rouge_score():
    r = record(prediction="Carrow College")
    expected = rouge_scorer.RougeScorer(["rougeL"]).score("Carrow University", "Carrow College")["rougeL"]
    assert rouge_l(r) == pytest.approx((expected.recall, expected.fmeasure))
    assert rouge_l(r) == pytest.approx((0.5, 0.5))                  # LCS "Carrow": 1 of 2 words


def test_registered_per_group():
    out = score([record("target"), record("utility", prediction="Carrow University")])
    assert out["truth_ratio_target"]["values"] == pytest.approx([3 / 8])
    assert out["truth_score_utility"]["values"] == pytest.approx([5 / 8])
    assert out["rougeL_recall_utility"]["values"] == [1.0]
    assert out["probability_target"]["direction"] == "higher"


def test_forget_quality_is_the_ks_p_value_and_model_utility_the_harmonic_mean():
    a, b = [0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8, 0.9]
    assert forget_quality(a, b) == pytest.approx(stats.ks_2samp(a, b).pvalue)
    assert forget_quality(a, a) == pytest.approx(1.0)
    parts = ("probability_utility", "truth_score_utility", "rougeL_recall_utility")
    mu = model_utility({"probability_utility": 0.5, "truth_score_utility": 0.25,
                        "rougeL_recall_utility": 1.0}, parts)
    assert mu == pytest.approx(3 / (2 + 4 + 1))
    assert model_utility({"probability_utility": 0.5, "truth_score_utility": 0.0,
                          "rougeL_recall_utility": 1.0}, parts) == 0.0


def test_paraphrased_question_probability_and_items():
    from unlearnlab.tasks.facts_items import fact_items
    from unlearnlab.world.facts import value_pools
    from unlearnlab.world.generator import generate_world

    r = {**record(), "paraphrase_scores": {"Carrow University": [math.log(1 / 9), 2]}}
    assert score([r])["probability_paraphrase_target"]["values"] == pytest.approx([1 / 3])
    world = generate_world(0, 30)                # enough entities for 6+ distinct values
    facts = world.facts()
    e = world.entities[0]
    items = fact_items(facts, [e], "utility", value_pools(facts), None, 0, probe=False,
                       paraphrases=world.paraphrased_questions())
    item = next(i for i in items if i.relation == "occupation")
    assert item.paraphrased_question == f"What does {e} do for a living?"
    assert item.question != item.paraphrased_question
    assert len(item.perturbed) == 5 and item.answers[0] not in item.perturbed
