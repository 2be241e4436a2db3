"""The image track (task similar_images): metrics against hand-derived numbers, the data's
clusters, the classifier adapter, and one tiny end-to-end run through the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import ROOT

from unlearnlab import tasks
from unlearnlab.config import load_config
from unlearnlab.eval.image_records import image_records
from unlearnlab.eval.images import (attach_mia, average_gap, features, lira_score, lira_stats,
                                    svc_nonmember)
from unlearnlab.eval.metrics import score
from unlearnlab.methods.random_label import random_labels
from unlearnlab.methods.salun import saliency_masks
from unlearnlab.models.classifier import build_classifier
from unlearnlab.tasks.base import ImageTask
from unlearnlab.tasks.similar_images import SCORING
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward

CONFIG = ROOT / "configs" / "similar_images.yaml"


def toy_task() -> ImageTask:
    """Six 2-pixel images, 2 classes. Rows 0-1 forget, 2-4 retain, 5 test."""
    pixels = torch.tensor([[1., 0.], [0., 1.], [1., 0.], [0., 1.], [2., 1.], [0., 3.]])
    return ImageTask(name="toy", pixels=pixels, labels=[0, 0, 0, 1, 1, 1], n_classes=2,
                     train=[0, 1, 2, 3, 4], forget=[0, 1], similar=[], test=[5], strata={},
                     scoring=SCORING)


def toy_model(task: ImageTask):
    """No hidden layer; head = identity, bias 0: logits = pixels, prediction = argmax."""
    model = build_classifier(task.pixels, 2, (), seed=0)
    with torch.no_grad():
        model.head.weight.copy_(torch.eye(2))
        model.head.bias.zero_()
    return model


def test_ua_ra_ta_of_a_fixed_toy_model():
    """Predictions: row0 [1,0] -> 0 (label 0, right), row1 [0,1] -> 1 (label 0, wrong):
    UA = 1/2. Retain: row2 -> 0 right, row3 -> 1 right, row4 [2,1] -> 0 (label 1, wrong):
    RA = 2/3. Test: row5 [0,3] -> 1 right: TA = 1. forget loss of row0 = -log(e/(e+1)) =
    log(1 + e^-1) = 0.31326."""
    task = toy_task()
    model = toy_model(task)
    records = []
    for group, rows in (("forget_images", task.forget), ("retain_images", task.retain),
                        ("test_images", task.test)):
        records += image_records(model, task.examples(rows), [task.key(r) for r in rows], group)
    s = score(records)
    assert s["unlearn_accuracy"]["mean"] == pytest.approx(0.5)
    assert s["unlearn_accuracy"]["values"] == [0.0, 1.0]
    assert s["retain_accuracy"]["mean"] == pytest.approx(2 / 3)
    assert s["test_accuracy"]["mean"] == pytest.approx(1.0)
    assert s["forget_loss"]["values"][0] == pytest.approx(0.31326, abs=1e-5)


def test_the_adapter_gathers_the_label_log_prob():
    """forward() on [row, label] scores exactly log_softmax(logits of the image)[label]."""
    task = toy_task()
    model = toy_model(task)
    fw = forward(model, collate(task.examples([4, 5]), [0, 1], 0))
    expected = torch.log_softmax(torch.tensor([[2., 1.], [0., 3.]]), -1)[[0, 1], [1, 1]]
    assert torch.allclose(fw.seq_logps, expected)
    assert fw.n_tokens.tolist() == [1.0, 1.0]


def test_features_by_hand():
    """p = (0.8, 0.15, 0.05), label 0: confidence 0.8, phi = log(0.8 / 0.2) = log 4 =
    1.386294, entropy = 0.8 ln 1.25 + 0.15 ln(1/0.15) + 0.05 ln 20 = 0.612869."""
    f = features(np.log([0.8, 0.15, 0.05]), 0)
    assert f["confidence"] == pytest.approx(0.8)
    assert f["phi"] == pytest.approx(math.log(4))
    assert f["entropy"] == pytest.approx(0.612869, abs=1e-6)
    assert f["pred"] == 0 and f["label"] == 0


def test_mia_efficacy_matches_scikit_learn_and_the_obvious_cases():
    """Members' confidences near 1, non-members' near 0.5: a target at 0.98 is a member (0),
    at 0.45 a non-member (1); the whole vector equals scikit-learn's SVC(C=3, rbf,
    gamma='auto') fitted by hand on the same features."""
    from sklearn.svm import SVC

    members = np.array([0.9, 0.95, 0.99, 0.97, 0.93])
    nonmembers = np.array([0.5, 0.6, 0.4, 0.55, 0.45])
    targets = np.array([0.98, 0.45, 0.7, 0.8])
    got = svc_nonmember(members, nonmembers, targets)
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(
        np.r_[members, nonmembers][:, None], np.r_[np.ones(5), np.zeros(5)])
    assert got.tolist() == (1 - clf.predict(targets[:, None])).astype(int).tolist()
    assert got[0] == 0 and got[1] == 1
    records = ([{"group": "retain_images", "key": f"r{i}", "confidence": c}
                for i, c in enumerate([*members, 0.1])]
               + [{"group": "test_images", "key": f"t{i}", "confidence": c}
                  for i, c in enumerate(nonmembers)]
               + [{"group": "forget_images", "key": f"f{i}", "confidence": c}
                  for i, c in enumerate(targets)])
    attach_mia(records, "confidence", {f"r{i}" for i in range(5)})     # r5 is not a member
    assert [r["mia_nonmember"] for r in records[-4:]] == got.tolist()


def test_lira_score_by_hand():
    """phi (K=4 shadows x 2 images) and membership:
        shadow 0: 2 (in), 0 (out); 1: 4 (in), 1 (in); 2: 0 (out), 3 (out); 3: 2 (out), 5 (in)
    image 0: in {2, 4} mu_in 3, out {0, 2} mu_out 1; image 1: in {1, 5} mu_in 3, out {0, 3}
    mu_out 1.5. Pooled: in residuals 1+1+4+4 = 10 over 4-2 dof: sd_in = sqrt 5; out
    residuals 1+1+2.25+2.25 = 6.5 over 2: sd_out = sqrt 3.25. Score of phi = 3 on image 0:
    -ln(sqrt 5) - [-(3-1)^2 / (2 * 3.25) - ln(sqrt 3.25)] = -0.804719 + 0.615385 + 0.589327
    = 0.399993."""
    phi = [[2, 0], [4, 1], [0, 3], [2, 5]]
    inside = [[True, False], [True, True], [False, False], [False, True]]
    s = lira_stats(np.array(phi), np.array(inside))
    assert s["mu_in"].tolist() == [3, 3] and s["mu_out"].tolist() == [1, 1.5]
    assert s["sd_in"] == pytest.approx(math.sqrt(5)) and s["sd_out"] == pytest.approx(math.sqrt(3.25))
    assert lira_score(3.0, 3.0, s["sd_in"], 1.0, s["sd_out"]) == pytest.approx(0.399993, abs=1e-6)
    assert lira_score(1.0, 3.0, 1.0, 1.0, 1.0) == pytest.approx(-2.0)     # -(2^2)/2 - 0


def test_average_gap_by_hand():
    """|0.2-0.1| + |0.9-1.0| + |0.8-0.85| + |0.5-0.3| = 0.45, over 4: 0.1125."""
    names = ("unlearn_accuracy", "retain_accuracy", "test_accuracy", "mia_efficacy")
    got = average_gap(dict(zip(names, (0.2, 0.9, 0.8, 0.5))),
                      dict(zip(names, (0.1, 1.0, 0.85, 0.3))), names)
    assert got == pytest.approx(0.1125)
    assert average_gap({"unlearn_accuracy": 0.2}, {"unlearn_accuracy": 0.1}, names) is None


def test_saliency_mask_and_random_labels_by_hand():
    """|grads| 3, 1, 0.5 and share 0.5: round(1.5) = 2 weights salient, the two largest.
    Random label of item 0, seed 0, class 3 of 10: h = 12345, offset 1 + 12345 mod 9 = 7,
    (3 + 7) mod 10 = 0; never the true class."""
    masks = saliency_masks([torch.tensor([-3.0, 1.0]), torch.tensor([0.5])], 0.5)
    assert [m.tolist() for m in masks] == [[1.0, 1.0], [0.0]]
    assert random_labels(torch.tensor([[3]]), torch.tensor([0]), 10, 0).item() == 0
    labels = torch.arange(10).repeat(5).view(-1, 1)
    drawn = random_labels(labels, torch.arange(50), 10, 7)
    assert (drawn != labels).all() and drawn.min() >= 0 and drawn.max() < 10


@pytest.mark.parametrize("dataset, n_base", [("digits", 1797), ("signals", 2000)])
def test_clusters_of_the_task(dataset, n_base):
    """Copies are pixel-identical, nearest neighbours share the true class and are not forget
    images, F is class-balanced, each forget image carries a wrong class that its neighbours
    share, the ideal drops F and S, retain keeps S, test is disjoint."""
    cfg = load_config(CONFIG, ["seeds=[]", "images.forget_per_cell=4",
                               f"images.dataset={dataset}"])
    task = tasks.build(cfg)
    clusters = tasks.build(cfg).files["similar.json"]["forget"]
    rows = {f"img{r}": r for r in range(len(task.labels))}
    for key, c in clusters.items():
        me = rows[key]
        assert len(c["neighbours"]) == c["count"]
        for n in (rows[k] for k in c["neighbours"]):
            assert task.labels[n] == task.labels[me] and task.truth[n] == task.truth[me]
            if c["level"] == "copy":
                assert torch.equal(task.pixels[n], task.pixels[me])
            if c["level"] == "nearest":
                assert n < n_base and n not in task.forget
            if c["level"].startswith("augment"):
                assert not torch.equal(task.pixels[n], task.pixels[me])
    per_class = np.bincount([task.truth[r] for r in task.forget], minlength=10)
    assert per_class.max() - per_class.min() <= 1
    assert all(task.labels[r] != task.truth[r] for r in task.forget)
    others = set(task.train) - set(task.forget) - set(task.similar)
    assert all(task.labels[r] == task.truth[r] for r in others | set(task.test))
    assert not set(task.ideal_train) & (set(task.forget) | set(task.similar))
    assert set(task.similar) <= set(task.retain) and not set(task.forget) & set(task.retain)
    assert not set(task.test) & set(task.train)
    assert len(set(task.strata.values())) == 9          # 4 levels x 2 counts + control
    assert task.pixels.shape[1] == (64 if dataset == "digits" else 40)


def test_signals_are_fixed_balanced_and_scaled():
    """The generated 1-D dataset: the same signals for the same seed, 200 per class of
    2,000, values in [0, 1], and its classes told apart above chance (10%) by nearest
    centroids fitted on half, which the random offsets blur (28% with seed 0)."""
    from unlearnlab.images.signals import make_signals

    x, y = make_signals()
    assert np.array_equal(x, make_signals()[0]) and not np.array_equal(x, make_signals(seed=1)[0])
    assert x.shape == (2000, 40) and np.bincount(y).tolist() == [200] * 10
    assert x.min() == 0.0 and x.max() == 1.0
    centroids = np.stack([x[:1000][y[:1000] == c].mean(0) for c in range(10)])
    guess = np.argmin(((x[1000:, None] - centroids) ** 2).sum(-1), axis=1)
    assert (guess == y[1000:]).mean() > 0.2


def test_image_run_end_to_end(tmp_path):
    """The CLI on configs/similar_images.yaml, shrunk: results.json with the per-stratum
    comparisons against the ideal for every model, the average gap to retrain, the report."""
    from unlearnlab.cli import main

    code = main(["run", str(CONFIG), "--set", f"runs_dir={tmp_path}", "--set", "name=img",
                 "--set", "seeds=[]", "--set", "images.forget_per_cell=2",
                 "--set", "images.counts=[1]", "--set", "images.shadows=4",
                 "--set", "images.train={epochs: 3, batch_size: 64, lr: 3.0e-3}",
                 "--set", "methods=[graddiff, salun, retrain]",
                 "--set", "unlearn.train={max_steps: 3, batch_size: 4}"])
    assert code == 0
    run = tmp_path / "img"
    results = json.loads((run / "results.json").read_text())
    assert results["methods"] == ["graddiff", "salun", "retrain"]
    assert set(results["models"]) == {"ideal", "original", "graddiff", "salun", "retrain"}
    assert set(results["strata_comparisons"]["retrain"]) == {
        "copy x1", "augment_weak x1", "augment_strong x1", "nearest x1", "control x0"}
    assert "forget_lira" in results["models"]["salun"]["metrics"]
    assert results["avg_gap"]["salun"] is not None and "retrain" not in results["avg_gap"]
    html = (run / "report.html").read_text()
    assert "By stratum" in html and "MIA-efficacy" in html
    assert "control x0" in (run / "summary.md").read_text()


@pytest.mark.parametrize("setting, words", [
    ("images.levels=[blurry]", "levels: unknown value 'blurry'"),
    ("methods=[idk_dpo]", "'idk_dpo' does not apply to image tasks"),
    ("images.shadows=2", "shadows must be 0 (no LiRA score) or an even number >= 4"),
])
def test_bad_image_settings_are_one_line_errors(tmp_path, capsys, setting, words):
    from unlearnlab.cli import main

    code = main(["run", str(CONFIG), "--set", f"runs_dir={tmp_path}", "--set", setting])
    err = capsys.readouterr().err.strip()
    assert code == 2 and words in err and "\n" not in err and "Traceback" not in err
