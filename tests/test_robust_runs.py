"""Run folders and the cache survive kills and concurrency: an atomic swap into place,
one builder per cache entry, stale temporary folders removed, SIGTERM a clean exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from conftest import TINY

from unlearnlab.runs import atomic_dir, exchange, remove_stale, replace_dir, temp_dir


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
    final, calls, results = tmp_path / "entry", [], []

    def build(folder):
        calls.append(folder)
        time.sleep(0.3)
        (folder / "model.safetensors").write_text("weights")

    threads = [threading.Thread(target=lambda: results.append(atomic_dir(final, build)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [final] * 3
    assert (final / "model.safetensors").read_text() == "weights"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


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
