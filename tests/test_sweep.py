"""`unlearnlab sweep` on a local Ray, started once for this module: a 2 methods x 2 seeds grid
over the tiny config at its smallest finishes with four run folders and one comparison
report, sharing the clean and learned models; a trial that fails at run time is recorded and
the others finish; a rerun runs nothing new; bad sweep files end with one line and exit 2
before torch or ray is imported. The Ray tests skip where ray is not installed (`make test`
installs it)."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, TINY, read_json

from unlearnlab.cli import main

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="ray is not installed: pip install 'unlearnlab[ray]' "
                                      "(make test installs it)")
SMALL = {"world.n_entities": 8, "pretrain.train.epochs": 2, "corruption.n_targets": 2,
         "corruption.docs_per_target": 4, "learn.train.epochs": 1, "unlearn.train.max_steps": 2,
         "eval.utility_entities": 2, "eval.docs_per_set": 4, "eval.every_n_steps": 0,
         "eval.max_new_tokens": 4}


def write(folder, name: str, spec: dict):
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "base": str(TINY), "runs_dir": str(folder),
                                    **spec}, sort_keys=False))
    return path


def sweep(argv: list[str], capsys) -> tuple[int, str]:
    code = main(["sweep", *argv])
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def local_ray(cache_dir):
    from unlearnlab.sweep import ray_backend

    started = ray_backend.start(num_cpus=2)
    yield
    if started:
        ray_backend.stop()


@pytest.fixture(scope="module")
def grid(local_ray, tmp_path_factory):
    """The 2 x 2 sweep, run once: (sweep file, its folder, exit code, output)."""
    folder = tmp_path_factory.mktemp("sweeps")
    path = write(folder, "grid", {"set": SMALL, "grid": {"methods": ["ga", "npo"], "seed": [0, 1]}})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["sweep", str(path), "--max-concurrent", "2"])
    return path, folder / "grid", code, out.getvalue()


TRIALS = ["methods=ga,seed=0", "methods=ga,seed=1", "methods=npo,seed=0", "methods=npo,seed=1"]


@needs_ray
def test_grid_finishes_with_one_report_and_shares_stages(grid):
    _, folder, code, out = grid
    assert code == 0, out
    for name in TRIALS:
        assert (folder / name / "results.json").is_file()
        assert (folder / name / "report.html").is_file()
    assert (folder / "compare" / "report.html").is_file()
    state = read_json(folder / "sweep.json")
    assert [t["name"] for t in state["trials"]] == TRIALS
    assert {t["status"] for t in state["trials"]} == {"finished"}
    # one clean model for all; per seed one trial learned, the other reused its learned model
    manifests = {n: read_json(folder / n / "manifest.json") for n in TRIALS}
    assert len({m["clean_model"]["path"] for m in manifests.values()}) == 1
    for seed in (0, 1):
        reused = sorted("learn" in manifests[f"methods={m},seed={seed}"]["resumed"]
                        for m in ("ga", "npo"))
        assert reused == [False, True], seed
    # the best configuration per method: printed and saved
    assert {b["method"] for b in state["best"]} == {"ga", "npo"}
    assert all(b["trials"] == [f"methods={b['method']},seed=0", f"methods={b['method']},seed=1"]
               for b in state["best"])
    summary = (folder / "summary.md").read_text()
    assert "| ga |" in summary and "| npo |" in summary and summary.strip() in out
    assert "methods=ga,seed=0" in (folder / "compare" / "summary.md").read_text()


@needs_ray
def test_rerun_runs_nothing_new(grid, capsys):
    path, folder, _, _ = grid
    before = {n: (folder / n / "results.json").stat().st_mtime_ns for n in TRIALS}
    code, out = sweep([str(path)], capsys)
    assert code == 0
    assert "nothing new to run: 4 trials, 4 finished earlier" in out
    assert {n: (folder / n / "results.json").stat().st_mtime_ns for n in TRIALS} == before


@needs_ray
def test_failed_trial_is_recorded_the_others_finish_and_retry_reruns_it(grid, capsys):
    _, folder, _, _ = grid
    spec = {"set": {**SMALL, "methods": ["ga"]},      # the other trial is grid's ga, seed 0
            "grid": {"unlearn.params": ["all", "layers:5-6"]}}      # tiny has blocks 0-1 only
    path = write(folder.parent, "fails", spec)
    code, out = sweep([str(path)], capsys)
    assert code == 1
    state = read_json(folder.parent / "fails" / "sweep.json")
    bad, good = state["trials"][1], state["trials"][0]
    assert (good["name"], good["status"]) == ("params=all", "finished")
    assert (bad["name"], bad["status"]) == ("params=layers_5-6", "failed")
    assert "layers:5-6" in bad["error"] and "\n" not in bad["error"]
    assert "FAILED" in out
    assert "## Failed trials" in (folder.parent / "fails" / "summary.md").read_text()
    assert not (folder.parent / "fails" / "params=layers_5-6").exists()
    code, out = sweep([str(path)], capsys)                     # recorded: not run again
    assert code == 1 and "1 failed earlier (--retry-failed runs them again)" in out
    code, out = sweep([str(path), "--retry-failed"], capsys)   # run again (and fails again)
    assert code == 1 and "running 1 on Ray" in out


BAD = [
    ("grid: {seed: [0]}\nbogus: 1", "unknown key 'bogus'"),
    ("grid: {}", "nothing to sweep"),
    ("grid: {seed: []}", "grid.seed: the list of values is empty"),
    ("grid: {seed: 3}", "grid.seed: expected a list"),
    ("grid: {seed: [0, 0]}", "each value at most once"),
    ("grid: {name: [a, b]}", "set by the sweep"),
    ("grid: {unlearn.train.lr: [0.1]}\nset: {unlearn.train: {lr: 1}}", "overlap"),
    ("random: {unlearn.train.lr: {loguniform: [0, 1]}}\nsamples: 2", "0 < lo < hi"),
    ("random: {unlearn.train.lr: {normal: [0, 1]}}\nsamples: 2", "expected one of"),
    ("random: {unlearn.train.lr: {uniform: [1.0e-4, 1.0e-3]}}", "needs samples"),
    ("grid: {seed: [0, 1]}\nsamples: 3", "without random"),
    ("grid: {seed: [0]}\ncpus_per_trial: 0", "cpus_per_trial"),
    ("grid: {seed: [0]}\nbase: not-there.yaml", "config file not found"),
    ("grid: [1, 2", "not valid YAML"),
    ("- a\n- b", "must hold a mapping"),
    ("grid: {methods: [ga, nosuch]}", "trial methods=nosuch: methods: unknown method 'nosuch'"),
    ("grid: {unlearn.train.lr: [1.0e-3, -1]}", "trial lr=-1: unlearn.train.lr"),
    ("grid: {hparams.npo: [5]}", "hparams.npo: expected a mapping"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m for _, m in BAD])
def test_bad_sweep_file_is_one_line_and_exit_2(text, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    header = "" if text.startswith("-") else f"runs_dir: {tmp_path / 'runs'}\nbase: {TINY}\n"
    path.write_text(header + text + "\n")
    assert main(["sweep", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert err.startswith("unlearnlab: error: ") and not (tmp_path / "runs").exists()


def test_sweep_file_errors_come_before_torch_and_ray(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("grid: {seed: []}\n")
    code = ("import sys; from unlearnlab.cli import main; rc = main(['sweep', sys.argv[1]]); "
            "print(sorted(m for m in ('torch', 'ray') if m in sys.modules)); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout.strip() == "[]", done.stdout
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    path.write_bytes(b"grid: {seed: [\xff]}\n")
    done = subprocess.run([sys.executable, "-m", "unlearnlab", "sweep", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "is not UTF-8" in done.stderr and "Traceback" not in done.stderr


def test_missing_ray_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("unlearnlab.sweep.runner._ray_installed", lambda: False)
    path = write(tmp_path, "s", {"grid": {"seed": [0]}})
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'unlearnlab[ray]'" in err


def test_trials_grid_random_names_and_overrides(tmp_path):
    from unlearnlab.config import apply_override
    from unlearnlab.sweep.spec import load_sweep

    path = write(tmp_path, "s", {
        "grid": {"methods": ["ga", ["npo", "kl"]], "hparams.npo.beta": [1.0]},
        "random": {"hparams.npo_retain.beta": {"loguniform": [0.1, 10]},
                   "unlearn.train.lr": {"choice": ["1e-4", 3.0e-4]},
                   "world.seed": {"randint": [0, 3]}},
        "samples": 3, "seed": 7})
    trials = load_sweep(path).trials()
    assert trials == load_sweep(path).trials() and len(trials) == 6     # seeded: the same draws
    first = trials[0]
    assert first.name.startswith("methods=ga,npo.beta=1,npo_retain.beta=")
    assert trials[3].name.startswith("methods=npo+kl,")
    for t in trials:
        data = {}
        for item in t.overrides:
            apply_override(data, item)                  # each override reads back as drawn
        assert data["methods"] == t.values["methods"]
        assert data["hparams"]["npo_retain"]["beta"] == t.values["hparams.npo_retain.beta"]
        assert 0.1 <= data["hparams"]["npo_retain"]["beta"] <= 10
        assert data["unlearn"]["train"]["lr"] in (1e-4, 3e-4)         # "1e-4" read as a number
        assert data["world"]["seed"] in range(4)


def fake_results(task: dict, figures: dict, flags=(), diverged=False) -> dict:
    """A results.json with one method, `ga`: its restoration (RESTOR) or primary metric."""
    if diverged:
        return {"task": task, "methods": [], "models": {}, "failed": {"ga": "diverged at step 3"}}
    metrics = {task["primary"]: {"mean": figures.get(task["primary"]), "direction": "lower"}}
    return {"task": task, "methods": ["ga"], "models": {"ga": {"metrics": metrics}},
            "restoration": {"ga": figures.get("restoration")}, "model_utility": {"ga": 0.9},
            "flags": {"ga": list(flags)} if flags else {}}


def test_best_configuration_averages_seeds_and_ranks_flagged_last():
    from unlearnlab.sweep.best import best_per_method
    from unlearnlab.sweep.spec import Trial

    def trial(lr, seed):
        return Trial(f"lr={lr},seed={seed}", (), {"unlearn.train.lr": lr, "seed": seed,
                                                  "hparams.npo.beta": 2.0})
    restor = {"name": "world", "primary": "target_accuracy", "restoration": True}
    finished = [(trial(1, 0), fake_results(restor, {"restoration": 0.2})),
                (trial(1, 1), fake_results(restor, {"restoration": 0.4})),
                (trial(2, 0), fake_results(restor, {"restoration": 0.9}, ["collapsed: ..."])),
                (trial(2, 1), fake_results(restor, {"restoration": 0.1})),
                (trial(3, 0), fake_results(restor, {"restoration": 0.8})),
                (trial(3, 1), fake_results(restor, {}, diverged=True))]
    (g, name, direction), = best_per_method(finished)
    assert (g.method, g.config, name, direction) == ("ga", "unlearn.train.lr=1", "restoration",
                                                     "higher")
    assert g.score == pytest.approx(0.3) and g.trials == ["lr=1,seed=0", "lr=1,seed=1"]
    tofu = {"name": "tofu", "primary": "forget_Q_A_Prob", "restoration": False}
    finished = [(trial(1, 0), fake_results(tofu, {"forget_Q_A_Prob": 0.5})),
                (trial(2, 0), fake_results(tofu, {"forget_Q_A_Prob": 0.1}))]
    (g, name, direction), = best_per_method(finished)       # the metric's own direction: lower
    assert (g.config, name, direction) == ("unlearn.train.lr=2", "forget_Q_A_Prob", "lower")


def test_example_sweep_is_valid_and_in_the_readme(monkeypatch):
    from unlearnlab.config import load_config
    from unlearnlab.sweep.spec import load_sweep

    monkeypatch.chdir(ROOT)
    example = ROOT / "configs" / "sweep_example.yaml"
    sweep = load_sweep(example)
    trials = sweep.trials()
    assert len(trials) == 8 and trials[0].name == "methods=graddiff,lr=0.0003,seed=0"
    for t in trials:
        load_config(sweep.base, list(t.overrides))
    readme = (ROOT / "README.md").read_text()
    assert f"```yaml\n{example.read_text()}```" in readme
    assert "unlearnlab sweep configs/sweep_example.yaml" in readme


def test_ray_is_imported_in_one_module_only():
    src = ROOT / "src" / "unlearnlab"
    importers = set()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "ray" or n.startswith("ray.") for n in names):
                importers.add(path.relative_to(src).as_posix())
    assert importers == {"sweep/ray_backend.py"}
