"""Run folders and the cache survive kills and concurrency: an atomic swap into place,
one builder per cache entry, stale temporary folders removed, SIGTERM a clean exit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from conftest import TINY

from unlearnlab.runs import (atomic_dir, built_here, exchange, remove_stale, replace_dir,
                             temp_dir)


def at_once(call, n: int, stagger: float = 0.0) -> list:
    """`call()` in n threads started together (`stagger` s apart); their results."""
    results = []
    threads = [threading.Thread(target=lambda: results.append(call())) for _ in range(n)]
    for t in threads:
        t.start()
        time.sleep(stagger)
    for t in threads:
        t.join()
    return results


def test_replace_dir_swaps_in_one_step_and_leaves_nothing(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "results.json").write_text("old")
    new = temp_dir(final)
    (new / "results.json").write_text("new")
    replace_dir(new, final)
    assert (final / "results.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_exchange_swaps_two_folders_atomically_on_linux(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not exchange(a, b):                  # a system or file system without RENAME_EXCHANGE
        return
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_concurrent_builders_of_one_cache_entry_build_it_once(tmp_path):
    final, calls = tmp_path / "entry", []

    def build(folder):
        calls.append(folder)
        time.sleep(0.3)
        (folder / "model.safetensors").write_text("weights")

    results = at_once(lambda: atomic_dir(final, build), 3)
    assert len(calls) == 1 and results == [final] * 3
    assert (final / "model.safetensors").read_text() == "weights"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_built_here_is_true_for_the_one_builder_only(tmp_path):
    final = tmp_path / "entry"

    def build(folder):
        time.sleep(0.3)
        (folder / "model.safetensors").write_text("weights")

    answers = at_once(lambda: built_here(final, build), 3)
    assert sorted(answers) == [False, False, True] and built_here(final, build) is False


def test_a_run_that_waited_for_anothers_clean_model_says_cached(tmp_path, monkeypatch):
    """Two runs need the same clean model: one trains it, the other waits on the cache's lock
    and reuses it, and only the first may say "trained" (the flag is read after the wait)."""
    from unlearnlab import tasks
    from unlearnlab.config import load_config
    from unlearnlab.stages import pretrain

    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    cfg = load_config(TINY)
    task = tasks.build(cfg)
    builds = []

    def slow_model(*args):
        builds.append(1)
        time.sleep(0.5)
        return None, []

    monkeypatch.setattr(pretrain, "train_tokenizer", lambda texts, size: None)
    monkeypatch.setattr(pretrain, "from_scratch", slow_model)
    monkeypatch.setattr(pretrain, "save", lambda model, tok, curve, folder:
                        (folder / "model.safetensors").write_text("weights"))
    # the second starts while the first builds
    results = at_once(lambda: pretrain.run(cfg, task, "cpu"), 2, stagger=0.1)
    assert len(builds) == 1 and results[0].path == results[1].path
    assert sorted(r.cached for r in results) == [False, True]


def test_stale_temporary_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / f".run.tmp-{dead}-abc").mkdir()
    (tmp_path / f".run.old-{dead}-abc").mkdir()
    (tmp_path / f".run.tmp-{os.getpid()}-abc").mkdir()        # this live process's: kept
    (tmp_path / "run").mkdir()
    assert sorted(remove_stale(tmp_path)) == [f".run.old-{dead}-abc", f".run.tmp-{dead}-abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".run.tmp-{os.getpid()}-abc", "run"]


def test_sigterm_is_one_line_exit_143_and_writes_nothing(tmp_path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "unlearnlab", "run", str(TINY),
                             "--set", f"runs_dir={runs}", "--set", "name=t",
                             "--set", "progress=false"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "UNLEARNLAB_CACHE": str(tmp_path / "cache")})
    deadline = time.time() + 120
    while not any(p.name.startswith(".t.tmp-") for p in runs.glob(".*")) and time.time() < deadline:
        time.sleep(0.2)                                 # the run has started writing
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unlearnlab: terminated (SIGTERM)"), err
    assert "Traceback" not in err
    assert sorted(p.name for p in runs.iterdir()) == []                # nothing half-written
    cache = tmp_path / "cache" / "clean"
    assert not cache.exists() or not [p for p in cache.iterdir() if ".tmp-" in p.name]


def test_a_damaged_cache_entry_is_named_and_rebuilt_never_used(tmp_path, capsys):
    from unlearnlab.runs import SEAL, damage

    final, calls = tmp_path / "entry", []

    def build(folder):
        calls.append(folder)
        (folder / "model.safetensors").write_text("weights")
        (folder / "config.json").write_text("{}")

    atomic_dir(final, build)
    assert damage(final) is None and (final / SEAL).is_file()
    atomic_dir(final, build)                                   # intact: reused
    assert len(calls) == 1
    for harm, reason in ((lambda: (final / "model.safetensors").write_text("weightz"),
                          "does not match its checksum"),
                         (lambda: (final / "model.safetensors").write_text("w"), "has 1 bytes, not 7"),
                         (lambda: (final / "config.json").unlink(), "config.json is missing")):
        harm()
        assert reason in damage(final)
        atomic_dir(final, build)
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is damaged" in err[0] and reason in err[0]
        assert damage(final) is None and (final / "model.safetensors").read_text() == "weights"
    assert len(calls) == 4
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    legacy = tmp_path / "legacy"                              # written before seals existed
    legacy.mkdir()
    (legacy / "model.safetensors").write_text("old")
    atomic_dir(legacy, build)
    assert (legacy / "model.safetensors").read_text() == "old"


def _stages(cache) -> list:
    """Finished (sealed, renamed) stage artifacts in a cache folder."""
    folder = cache / "stages"
    return [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []


def _run_tiny(runs, name, cache, kill_at: int | None = None) -> subprocess.Popen:
    """`unlearnlab run configs/tiny.yaml` in a subprocess; with kill_at, SIGKILL it as soon as
    that many stage artifacts exist (at a stage boundary or a little into the next stage)."""
    proc = subprocess.Popen([sys.executable, "-m", "unlearnlab", "run", str(TINY),
                             "--set", f"runs_dir={runs}", "--set", f"name={name}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "UNLEARNLAB_CACHE": str(cache)})
    if kill_at is not None:
        deadline = time.time() + 300
        while len(_stages(cache)) < kill_at and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        proc.kill()
    proc.communicate(timeout=300)
    return proc


def test_a_killed_run_resumes_from_its_last_stage_with_identical_results(tiny_run, tiny_cache,
                                                                       tmp_path):
    """kill -9 after the clean model's evaluation and again inside the methods; each rerun
    keeps what was finished, the last ends with the uninterrupted run's results.json, and
    nothing temporary is left. A further run reuses every stage."""
    cache, runs = tmp_path / "cache", tmp_path / "runs"
    shutil.copytree(tiny_cache / "clean", cache / "clean")  # tiny_run's clean model, not stages
    _run_tiny(runs, "k", cache, kill_at=1)
    first = len(_stages(cache))
    assert 1 <= first and not (runs / "k").exists()
    _run_tiny(runs, "k", cache, kill_at=first + 3)
    second = len(_stages(cache))
    assert second >= first + 3 and not (runs / "k").exists()
    assert _run_tiny(runs, "k", cache).returncode == 0
    manifest = json.loads((runs / "k" / "manifest.json").read_text())
    assert len(manifest["resumed"]) == second                  # nothing finished was redone
    assert (runs / "k" / "results.json").read_text() == (tiny_run / "results.json").read_text()
    stages = len(_stages(cache))                                # 3 + one per method
    assert stages == 3 + len(json.loads((runs / "k" / "results.json").read_text())["methods"])
    leftovers = [p.name for d in (runs, cache / "stages", cache / "clean") for p in d.iterdir()
                 if ".tmp-" in p.name or ".old-" in p.name]
    assert leftovers == []
    assert _run_tiny(runs, "again", cache).returncode == 0
    again = json.loads((runs / "again" / "manifest.json").read_text())
    assert len(again["resumed"]) == stages
    assert (runs / "again" / "results.json").read_text() == (tiny_run / "results.json").read_text()
    for f in ("records/clean.json", "curves/ga.json", "records/ga.json"):   # files restored
        assert (runs / "again" / f).read_bytes() == (tiny_run / f).read_bytes()


def test_stage_keys_change_with_the_code_the_config_and_the_method(monkeypatch, tmp_path):
    from unlearnlab import tasks
    from unlearnlab.config import load_config
    from unlearnlab.stages import resume

    cfg = load_config(TINY)
    task = tasks.build(cfg)

    def folder(c, clean="clean", method="ga", strategy="exact"):
        return resume.Stages(c, task, clean, tmp_path).folder(
            f"unlearn:{method}", resume.method_identity(c, method, strategy))
    key = folder(cfg)
    assert folder(cfg) == key
    assert folder(load_config(TINY, ["name=other", "methods=[ga]", "hparams.npo.beta=2"])) == key
    assert folder(load_config(TINY, ["unlearn.train.lr=1e-3"])) != key
    assert folder(load_config(TINY, ["hparams.npo.beta=2"]), method="npo") != folder(cfg, method="npo")
    assert folder(cfg, clean="other") != key
    assert folder(cfg, method="npo") != key
    # removal settings: an exact method ignores the fuzzy threshold, a fuzzy one does not;
    # the evaluation of the clean model ignores both
    fuzzy = load_config(TINY, ["removal.threshold=0.5"])
    assert folder(fuzzy) == key
    assert folder(fuzzy, strategy="fuzzy") != folder(cfg, strategy="fuzzy")
    assert resume.Stages(fuzzy, task, "c", tmp_path).folder("evaluate:clean") == \
        resume.Stages(cfg, task, "c", tmp_path).folder("evaluate:clean")
    monkeypatch.setattr(resume, "_SOURCE", ["edited"])
    assert folder(cfg) != key
