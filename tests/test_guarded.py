"""Guarded training: a diverging step is never applied and stops that method with a status;
the run goes on with the others; collapsed, no-op and no-effect runs are flagged."""

import pytest
import torch
from conftest import TINY, examples, read_json, tiny_model

from unlearnlab.cli import main
from unlearnlab.comparisons import flags
from unlearnlab.errors import Diverged
from unlearnlab.train.inputs import Objective
from unlearnlab.train.loop import FINETUNE, TrainConfig, train


def test_non_finite_loss_stops_before_the_step_is_applied():
    """A loss that turns NaN at the third step: two steps applied, the third never."""
    calls = {"n": 0}

    def loss(inputs):
        calls["n"] += 1
        nll, stats = FINETUNE.loss(inputs)
        return (nll * float("nan") if calls["n"] == 3 else nll), stats

    model, twin = tiny_model(), tiny_model()
    cfg = TrainConfig(max_steps=5, batch_size=4, lr=1e-2, scheduler="constant")
    with pytest.raises(Diverged) as stop:
        train(model, Objective(loss), cfg, forget=examples(8), pad_id=0, seed=0, progress=False,
              desc="ga")
    assert stop.value.step == 3 and "not finite" in stop.value.reason
    assert str(stop.value).startswith("ga: diverged at step 3")
    # the same two steps without the NaN give the same parameters: step 3 was not applied
    train(twin, FINETUNE, TrainConfig(max_steps=2, batch_size=4, lr=1e-2, scheduler="constant"),
          forget=examples(8),
          pad_id=0, seed=0, progress=False)
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b)


def test_exploding_loss_stops():
    calls = {"n": 0}

    def loss(inputs):
        calls["n"] += 1
        nll = -inputs.forget.token_logps.sum() / inputs.forget.mask.sum()
        return nll * (1.0 if calls["n"] == 1 else 1e4), {}
    with pytest.raises(Diverged) as stop:
        train(tiny_model(), Objective(loss), TrainConfig(max_steps=3, batch_size=4, lr=1e-3),
              forget=examples(8), pad_id=0, seed=0, progress=False)
    assert stop.value.step == 2 and "exploded" in stop.value.reason


def results_with(values, utility, change):
    models = {"corrupted": {"values": {"target_accuracy": [1.0, 0.0]}, "info": {}},
              "m": {"values": {"target_accuracy": values}, "info": {"param_change": change}}}
    return {"task": {"name": "world", "roles": {"before": "clean", "start": "corrupted"},
                     "primary": "target_accuracy"},
            "methods": ["m"], "models": models, "model_utility": {"corrupted": 0.8, "m": utility}}


def test_flags_by_hand():
    assert flags(results_with([0.0, 1.0], 0.7, 0.01)) == {}
    assert flags(results_with([0.0, 1.0], 0.07, 0.01))["m"] == [
        "collapsed: model utility 0.070, 9% of the corrupted model's 0.800"]
    assert flags(results_with([0.0, 1.0], 0.09, 0.01)) == {}        # 11%: not collapsed
    noop = flags(results_with([1.0, 0.0], 0.8, 5e-5))["m"]
    assert noop == ["no-op: its parameters moved 5.0e-05 (relative) from the corrupted model's",
                    "no effect: every item's target_accuracy is as under the corrupted model"]


def test_a_diverging_method_is_recorded_and_the_run_goes_on(cache_dir, tmp_path, capsys):
    """unlearn.train.lr=1e6: ga diverges; first_epoch_ga (no optimizer) finishes."""
    code = main(["run", str(TINY), "--set", f"runs_dir={tmp_path}", "--set", "name=div",
                 "--set", "unlearn.train.lr=1e6", "--set", "methods=[ga,first_epoch_ga]"])
    assert code == 0
    results = read_json(tmp_path / "div" / "results.json")
    assert results["methods"] == ["first_epoch_ga"] and "ga" not in results["models"]
    assert results["failed"]["ga"].startswith("diverged at step ")
    assert "first_epoch_ga" in results["models"]
    summary = (tmp_path / "div" / "summary.md").read_text()
    assert "**did not finish:** ga: diverged at step" in summary
    assert "did not finish:" in (tmp_path / "div" / "report.html").read_text()
    assert "DID NOT FINISH: ga: diverged" in capsys.readouterr().out
