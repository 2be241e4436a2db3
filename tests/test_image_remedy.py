"""The image remedy (stages/image_removal.py): the search in a fixed model's penultimate
features against hand-computed cosines, its precision and recall against the clusters, the
removal plan it builds, and one tiny end-to-end run through the CLI with fuzzy labels."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import ROOT

from unlearnlab.config import load_config
from unlearnlab.models.classifier import build_classifier
from unlearnlab.stages import image_removal
from unlearnlab.stages.removal import Plan
from unlearnlab.tasks.base import ImageTask
from unlearnlab.tasks.similar_images import SCORING

CONFIG = ROOT / "configs" / "similar_images.yaml"


def toy_task() -> ImageTask:
    """Eight 2-pixel images. Forget: rows 0 and 6; planted neighbours of row 0: rows 1, 2;
    others: 3, 4, 5; test: 7."""
    pixels = torch.tensor([[1., 0.], [2., 0.], [3., 1.], [1., 1.], [-1., 1.], [0., 2.],
                           [-1., -1.], [1., 0.]])
    return ImageTask(name="toy", pixels=pixels, labels=[0, 0, 0, 1, 1, 1, 0, 0], n_classes=2,
                     train=[0, 1, 2, 3, 4, 5, 6], forget=[0, 6], similar=[1, 2], test=[7],
                     strata={}, scoring=SCORING)


def toy_model(task: ImageTask):
    """One hidden layer of width 2 with identity weights and zero bias: the penultimate
    features are relu(pixels)."""
    model = build_classifier(task.pixels, 2, (2,), seed=0)
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.eye(2))
        model.layers[0].bias.zero_()
    return model


def test_feature_search_by_hand():
    """Features relu(x): row0 (1,0), 1 (2,0), 2 (3,1), 3 (1,1), 4 (0,1), 5 (0,2), 6 (0,0).
    Row 6's features are all zero: its cosine with anything is 0, so only row 0 queries, and
    row 6 scores 1 as a forget image (its own request). Cosines with row 0:
        row1 1, row2 3/sqrt(10) = 0.948683, row3 1/sqrt(2) = 0.707107, rows 4, 5: 0."""
    task = toy_task()
    sims = image_removal.similarities(toy_model(task), task)
    assert sims == pytest.approx([1.0, 1.0, 3 / math.sqrt(10), 1 / math.sqrt(2), 0.0, 0.0, 1.0])


def test_max_cosine_takes_the_nearest_query():
    """Queries (1,0) and (0,1); candidate (1,2): cosines 1/sqrt 5 and 2/sqrt 5 -> 0.894427."""
    got = image_removal.max_cosine(torch.tensor([[1., 0.], [0., 1.]]),
                                   torch.tensor([[1., 2.], [0., 0.]]))
    assert got.tolist() == pytest.approx([2 / math.sqrt(5), 0.0])


@pytest.mark.parametrize("threshold, found, figures", [
    # cluster = forget {0, 6} + planted {1, 2}
    (0.95, [0, 1, 6], {"precision": 2 / 3, "recall": 1.0, "cluster_precision": 1.0,
                       "cluster_recall": 3 / 4}),
    (0.9, [0, 1, 6, 2], {"precision": 2 / 4, "recall": 1.0, "cluster_precision": 1.0,
                         "cluster_recall": 1.0}),
    (0.7, [0, 1, 6, 2, 3], {"precision": 2 / 5, "recall": 1.0, "cluster_precision": 4 / 5,
                            "cluster_recall": 1.0}),
])
def test_the_plan_scores_the_search_against_the_clusters(threshold, found, figures):
    """At 0.95 the search finds rows 0, 1 and 6 (similarity 1: found first, in row order),
    missing the planted row 2 (0.949): cluster precision 3/3, recall 3/4. At 0.9 it finds
    the whole cluster and nothing else; at 0.7 also row 3 (0.707): cluster precision 4/5.
    Precision against the forget set alone is 2 / found."""
    task = toy_task()
    cfg = load_config(CONFIG, ["seeds=[]", "removal.strategies=[exact,fuzzy]",
                               f"removal.threshold={threshold}"])
    plan, search = image_removal.plan(cfg, task, toy_model(task))
    assert plan.sets == {"exact": [[0, 6]], "fuzzy": [found]}
    assert plan.figures(plan.sets["fuzzy"][0]) == pytest.approx(
        {"removed": len(found), **figures})
    assert plan.figures([0, 6])["cluster_recall"] == pytest.approx(2 / 4)
    assert search["found"] == [f"img{r}" for r in found]
    assert search["similarity"]["img2"] == pytest.approx(3 / math.sqrt(10), abs=1e-6)
    # retrain runs on both sets here (it costs seconds), labelled like any method
    assert plan.strategies_for("retrain") == ["exact", "fuzzy"]
    assert [plan.label("retrain", s) for s in ("exact", "fuzzy")] == ["retrain", "retrain@fuzzy"]
    assert plan.label("ga", "exact") == "ga@exact"
    # a plan without known look-alikes (records' requests) keeps retrain on the ground truth
    text = Plan({"exact": [["a"]], "fuzzy": [["a", "b"]]}, {}, ["a"])
    assert text.strategies_for("retrain") == ["exact"]
    assert text.label("retrain", "exact") == "retrain"


def test_exact_alone_searches_nothing():
    task = toy_task()
    plan, search = image_removal.plan(load_config(CONFIG, ["seeds=[]"]), task, toy_model(task))
    assert search is None and plan.sets == {"exact": [[0, 6]]} and not plan.reported
    assert plan.label("graddiff", "exact") == "graddiff"


@pytest.mark.parametrize("setting, words", [
    ("removal.strategies=[exact,iterative]", "iterative is not offered for image tasks"),
    ("removal.sequential=true", "image tasks have one request per forget image"),
])
def test_unsupported_removal_settings_are_one_line_errors(tmp_path, capsys, setting, words):
    from unlearnlab.cli import main

    code = main(["run", str(CONFIG), "--set", f"runs_dir={tmp_path}", "--set", "seeds=[]",
                 "--set", "images.forget_per_cell=1", "--set", setting])
    err = capsys.readouterr().err.strip()
    assert code == 2 and words in err and "\n" not in err and "Traceback" not in err


def test_image_remedy_end_to_end(tmp_path):
    """The CLI with removal.strategies=[exact,fuzzy] on a shrunk similar_images: every method
    under both labels (retrain on both sets), the search's figures in results.json equal to
    those recomputed from remedy.json and similar.json, and the removal table in the summary."""
    from unlearnlab.cli import main

    code = main(["run", str(CONFIG), "--set", f"runs_dir={tmp_path}", "--set", "name=remedy",
                 "--set", "seeds=[]", "--set", "images.forget_per_cell=2",
                 "--set", "images.counts=[2]", "--set", "images.shadows=0",
                 "--set", "images.train={epochs: 3, batch_size: 64, lr: 3.0e-3}",
                 "--set", "methods=[graddiff, retrain]",
                 "--set", "unlearn.train={max_steps: 3, batch_size: 4}",
                 "--set", "removal.strategies=[exact,fuzzy]", "--set", "removal.threshold=0.95"])
    assert code == 0
    run = tmp_path / "remedy"
    results = json.loads((run / "results.json").read_text())
    labels = ["graddiff@exact", "graddiff@fuzzy", "retrain", "retrain@fuzzy"]
    assert results["methods"] == labels and results["oracle"] == "retrain"
    search = json.loads((run / "remedy.json").read_text())
    clusters = json.loads((run / "similar.json").read_text())["forget"]
    cluster = set(clusters) | {n for c in clusters.values() for n in c["neighbours"]}
    found = set(search["found"])
    assert found == {k for k, s in search["similarity"].items() if s >= 0.95}
    assert set(clusters) <= found                              # each forget image is found
    fuzzy = results["removal"]["graddiff@fuzzy"]
    assert fuzzy["strategy"] == "fuzzy" and fuzzy["removed"] == len(found)
    assert fuzzy["cluster_precision"] == pytest.approx(len(found & cluster) / len(found))
    assert fuzzy["cluster_recall"] == pytest.approx(len(found & cluster) / len(cluster))
    assert results["removal"]["retrain"]["removed"] == len(clusters) == 10
    assert results["removal"]["retrain@fuzzy"]["removed"] == len(found)
    assert "control x0" in results["strata_comparisons"]["graddiff@fuzzy"]
    summary = (run / "summary.md").read_text()
    assert "Removal requests" in summary and "| graddiff@fuzzy | fuzzy |" in summary


def test_a_search_that_takes_every_training_image_is_a_user_error():
    """Threshold 0 matches all seven training images: no retain set is left."""
    from unlearnlab.errors import UserError

    task = toy_task()
    cfg = load_config(CONFIG, ["seeds=[]", "removal.strategies=[exact,fuzzy]",
                               "removal.threshold=0"])
    with pytest.raises(UserError, match="leaving nothing to retain; the similarities have median"):
        image_removal.plan(cfg, task, toy_model(task))
