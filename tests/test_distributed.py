"""Several processes (gloo on CPU) under `accelerate launch`: each rank trains on its own
shard of every batch, evaluation scores each item once, and a whole run gives the
one-process results.json up to floating-point reduction order (README: "Several processes")."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY

HERE = Path(__file__).resolve().parent
MEANS_REL = 1e-3      # the stated tolerance for metric means (README)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(cache: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "UNLEARNLAB_CACHE": str(cache)}
    env.pop("WORLD_SIZE", None)
    return env


def _launch(args: list[str], cache: Path, processes: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_processes", str(processes), "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(_port()), *args]
    done = subprocess.run(cmd, cwd=ROOT, env=_env(cache), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_each_rank_trains_on_its_own_shard_and_evaluation_scores_each_item_once(tmp_path):
    from dist_probe import trained

    _launch([str(HERE / "dist_probe.py"), str(tmp_path)], tmp_path / "cache")
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for step0, step1 in zip(ranks[0]["seen"], ranks[1]["seen"]):   # batch 4: 2 items each
        for key in ("forget", "retain"):
            assert len(step0[key]) == len(step1[key]) == 2
            assert not set(step0[key]) & set(step1[key])
    assert len(ranks[0]["seen"]) == 3
    assert sorted(ranks[0]["scored"] + ranks[1]["scored"]) == list(range(7))
    assert not set(ranks[0]["scored"]) & set(ranks[1]["scored"])
    for r in ranks:
        assert r["gathered"] == [{"item": i} for i in range(7)]

    # The update is the one-process update (the same global batches) up to float32 rounding
    # of the gradient sums. AdamW divides by sqrt(v): on an entry whose gradient is near zero
    # a rounding-sized gradient difference moves the update by up to lr, so the absolute
    # tolerance is 1e-3 of lr (1e-2) per parameter, the relative one float32's 1e-5.
    model, curve = trained()
    for r in (0, 1):
        state = torch.load(tmp_path / f"params{r}.pt")
        for name, value in model.state_dict().items():
            torch.testing.assert_close(state[name], value, rtol=1e-5, atol=1e-5)
        assert [c["loss"] for c in ranks[r]["curve"]] == pytest.approx(
            [c["loss"] for c in curve], rel=1e-5)


def test_two_processes_give_the_one_process_results(tmp_path):
    sets = ["--set", f"runs_dir={tmp_path / 'runs'}", "--set", "methods=[npo_retain]",
            "--set", "world.n_entities=16", "--set", "pretrain.train.epochs=10"]
    one = subprocess.run([sys.executable, "-m", "unlearnlab", "run", str(TINY), *sets,
                          "--set", "name=one"], cwd=ROOT, env=_env(tmp_path / "cache1"),
                         capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _launch(["-m", "unlearnlab", "run", str(TINY), *sets, "--set", "name=two"],
                  tmp_path / "cache2")
    assert two.stdout.count("results: ") == 1               # rank 0 speaks for the run
    a, b = (json.loads((tmp_path / "runs" / n / "results.json").read_text()) for n in ("one", "two"))
    assert json.loads((tmp_path / "runs" / "two" / "manifest.json").read_text())["processes"] == 2
    assert a["models"].keys() == b["models"].keys() == {"clean", "corrupted", "npo_retain"}
    for label, model in a["models"].items():
        for metric, agg in model["metrics"].items():
            other = b["models"][label]["metrics"][metric]
            assert other["n"] == agg["n"]                    # every item scored, once
            if agg["mean"] is not None:
                assert other["mean"] == pytest.approx(agg["mean"], rel=MEANS_REL, abs=1e-6), \
                    (label, metric)
        assert model["values"]["target_accuracy"] == b["models"][label]["values"]["target_accuracy"]
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("unlearnlab-rank*")]
    assert not [p for p in leftovers if p.stat().st_mtime > (tmp_path / "runs").stat().st_mtime]
    assert not list((tmp_path / "runs").glob(".*tmp*"))


def test_a_sharded_launch_is_refused_in_one_line(tmp_path):
    env = {**_env(tmp_path / "cache"), "WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"}
    done = subprocess.run([sys.executable, "-m", "unlearnlab", "run", str(TINY), "--set",
                           f"runs_dir={tmp_path / 'runs'}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "asked for FSDP: unlearnlab runs data-parallel (DDP) only" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
