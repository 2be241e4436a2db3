"""Progress off a terminal: plain lines with counts, loss and ETA (no bar, no silence)."""

from __future__ import annotations

import io

from conftest import examples, tiny_model

from unlearnlab import progress
from unlearnlab.config import TrainConfig
from unlearnlab.progress import Progress
from unlearnlab.train.inputs import FINETUNE
from unlearnlab.train.loop import train


def test_plain_lines_count_steps_and_show_the_eta():
    buf = io.StringIO()
    bar = Progress(4, "learn", every=0.0, stream=buf)
    for _ in bar:
        bar.note(loss=0.25)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("learn: 1/4 steps (25%), loss 0.2500, ") and "ETA" in lines[0]
    assert lines[-1].startswith("learn: 4/4 steps (100%)") and "ETA" not in lines[-1]
    quiet = io.StringIO()
    for _ in Progress(4, "learn", enabled=False, every=0.0, stream=quiet):
        pass
    assert quiet.getvalue() == ""


def test_the_training_loop_reports_progress_when_not_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(progress, "EVERY", 0.0)
    cfg = TrainConfig(epochs=1, batch_size=2, lr=1e-3)
    train(tiny_model(), FINETUNE, cfg, forget=examples(6), pad_id=0, seed=0, desc="pretrain",
          progress=True)
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" steps")[0] for line in err] == ["pretrain: 1/3", "pretrain: 2/3",
                                                         "pretrain: 3/3"]


def test_every_stage_of_a_tiny_run_prints_progress_lines_off_a_terminal(monkeypatch, capsys,
                                                                        tmp_path):
    """A whole run with output not on a terminal: pretraining (a fresh cache), learning, each
    method (a loss method and two procedures) and each model's evaluation print lines."""
    from conftest import TINY

    from unlearnlab.cli import main

    monkeypatch.setattr(progress, "EVERY", 0.0)
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path / "cache"))
    assert main(["run", str(TINY), "--set", "progress=true", "--set", f"runs_dir={tmp_path}",
                 "--set", "name=p", "--set", "world.n_entities=16",
                 "--set", "pretrain.train.epochs=2", "--set", "unlearn.train.max_steps=2",
                 "--set", "eval.every_n_steps=0", "--set", "methods=[ga,iterative,task_vector]",
                 "--set", "hparams.iterative={max_rounds: 2, steps_per_round: 2, "
                          "stop_below: -1, utility_floor: 0}"]) == 0
    err = capsys.readouterr().err.splitlines()
    stages = {line.split(":")[0] for line in err if " elapsed" in line}
    for stage in ("pretrain", "learn", "evaluate clean", "evaluate corrupted", "evaluate ga",
                  "evaluate iterative", "evaluate task_vector"):
        assert stage in stages, (stage, sorted(stages))
    assert any(s.startswith("ga") for s in stages)
    assert any("iterative" in s and not s.startswith("evaluate") for s in stages), sorted(stages)
    assert any("task_vector" in s and not s.startswith("evaluate") for s in stages), sorted(stages)
