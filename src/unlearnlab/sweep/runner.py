"""`unlearnlab sweep SWEEP.yaml`: every trial of a sweep (sweep/spec.py) as a normal run, on Ray.

    <runs_dir>/<sweep name>/
        <trial name>/     each trial's run folder, as `unlearnlab run` writes it
        logs/<trial>.log  what the trial printed (and its traceback, if it failed)
        sweep.json        every trial: overrides, command, status, error, wall time; the best
        summary.md        the best configuration per method (sweep/best.py), failed trials
        compare/          `unlearnlab compare` over every finished trial (report.html, summary.md)

Order of work: the sweep file is checked first (nothing imported), then every trial's config
(`load_config`, so a bad value in any trial stops the sweep before anything runs), then Ray
starts. Trials that share their stages (same config but for methods and hyperparameters: the
same clean and learned models) form a group; one trial of each group runs first and the rest
of the group once it ended, so the shared stages are built once and read from the stage
cache (stages/resume.py) by the others — every trial uses the cache folder of the driver.
Trials of different groups run at once; two building the same clean model take turns on its
file lock (runs.atomic_dir). A trial whose folder holds a finished run of the same config is
not run again; one that failed is run again only with `retry_failed`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shlex
import time
from pathlib import Path

import yaml

from unlearnlab.config import digest
from unlearnlab.errors import UserError
from unlearnlab.runs import atomic_write_json, atomic_write_text, cache_root
from unlearnlab.sweep.spec import Sweep, Trial, load_sweep


def run_sweep(path: str | Path, address: str | None = None, retry_failed: bool = False,
              max_concurrent: int | None = None, log=print) -> int:
    """Run the sweep; returns 0 when every trial finished, 1 when some failed (recorded in
    sweep.json and summary.md). Bad input raises `UserError` before anything runs."""
    sweep = load_sweep(path)
    if max_concurrent is not None and max_concurrent < 1:
        raise UserError(f"--max-concurrent must be >= 1, got {max_concurrent}")
    if not _ray_installed():
        raise UserError("sweeps run on Ray, which is not installed: pip install 'unlearnlab[ray]'")
    trials = sweep.trials()
    folder, configs = _validated(sweep, trials)
    records = _records(sweep, trials, configs, folder, retry_failed)
    todo = [t for t in trials if records[t.name]["status"] == "pending"]
    before = {s: sum(r["status"] == s for r in records.values()) for s in ("finished", "failed")}
    earlier = f"{before['finished']} finished earlier" + (
        f", {before['failed']} failed earlier (--retry-failed runs them again)"
        if before["failed"] else "")
    state = {"name": sweep.name, "sweep_file": str(Path(path).resolve()),
             "cache": str(cache_root().resolve()), "trials": list(records.values())}
    if not todo:
        log(f"sweep {sweep.name}: nothing new to run: {len(trials)} trials, {earlier}")
    else:
        log(f"sweep {sweep.name}: {len(trials)} trials, {earlier}; running {len(todo)} on Ray "
            f"({f'cluster {address}' if address else 'local'}) into {folder}")
        _run(sweep, trials, todo, configs, records, state, folder, address, max_concurrent, log)
    return _finish(sweep, trials, records, state, folder, before["finished"], log)


def _ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None        # without importing it


def _validated(sweep: Sweep, trials: list[Trial]) -> tuple[Path, dict]:
    """The sweep's folder and every trial's validated Config (a bad trial: one line)."""
    from unlearnlab.config import load_config

    def config(trial: Trial, extra=()):
        try:
            return load_config(sweep.base, [*trial.overrides, *extra])
        except UserError as exc:
            raise UserError(f"sweep {sweep.name}, trial {trial.name}: {exc}") from None

    runs_dir = sweep.runs_dir or config(trials[0]).runs_dir
    folder = Path(runs_dir).resolve() / sweep.name
    if folder.exists() and not folder.is_dir():
        raise UserError(f"sweep folder {folder} is a file; give another name: or runs_dir:")
    configs = {t.name: config(t, place(folder, t)) for t in trials}
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the sweep folder {folder} "
                        f"({exc.strerror or exc})") from None
    return folder, configs


def place(folder: Path, trial: Trial) -> list[str]:
    """The overrides that put a trial's run into `folder/<trial name>`."""
    return [f"runs_dir={_string(str(folder))}", f"name={_string(trial.name)}"]


def _string(text: str) -> str:
    """`text` as a YAML value that reads back as this string (JSON-quoted where YAML would
    read it otherwise)."""
    try:
        if yaml.safe_load(text) == text:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text)


def _records(sweep: Sweep, trials: list[Trial], configs: dict, folder: Path,
             retry_failed: bool) -> dict[str, dict]:
    """Each trial's sweep.json entry: finished (its folder holds a finished run of this config),
    failed (so recorded before, same config, not retried), or pending."""
    previous = {}
    if (folder / "sweep.json").is_file():
        try:
            previous = {r["name"]: r for r in
                        json.loads((folder / "sweep.json").read_text())["trials"]}
        except (OSError, ValueError, KeyError, TypeError):
            previous = {}
    base = f" {shlex.quote(sweep.base)}" if isinstance(sweep.base, str) else ""
    records = {}
    for t in trials:
        h = configs[t.name].hash()
        record = {"name": t.name, "status": "pending", "overrides": list(t.overrides),
                  "command": f"unlearnlab run{base} " + " ".join(
                      f"--set {shlex.quote(o)}" for o in [*t.overrides, *place(folder, t)]),
                  "config_hash": h, "run_dir": t.name, "log": f"logs/{t.name}.log"}
        old = previous.get(t.name, {})
        if _finished(folder / t.name, h):
            record.update({k: old[k] for k in ("wall_time_s", "diverged") if k in old},
                          status="finished")
        elif old.get("status") == "failed" and old.get("config_hash") == h and not retry_failed:
            record.update(status="failed", error=old.get("error", "?"),
                          wall_time_s=old.get("wall_time_s"))
        records[t.name] = record
    return records


def _finished(run_dir: Path, config_hash: str) -> bool:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (run_dir / "results.json").is_file() and manifest.get("config_hash") == config_hash


def _groups(todo: list[Trial], configs: dict, done: list[Trial]) -> tuple[list, dict]:
    """(trials to start now, {trial: trials to start once it ended}): one trial per group of
    trials sharing their stages first; groups a finished trial already built start whole, and
    so do trials with `resume: false` (they keep no stages to share)."""
    from unlearnlab.stages.resume import NOT_KEYED

    def key(t: Trial) -> str:
        cfg = configs[t.name]
        return digest({**{k: v for k, v in cfg.to_dict().items() if k not in NOT_KEYED},
                       "seeds": list(cfg.seeds)})

    built = {key(t) for t in done}
    ready, after, leaders = [], {}, {}
    for t in todo:
        k = key(t)
        if k in built or not configs[t.name].resume:        # resume: false shares nothing
            ready.append(t)
        elif k in leaders:
            after[leaders[k]].append(t)
        else:
            leaders[k] = t.name
            after[t.name] = []
            ready.append(t)
    return ready, after


def _run(sweep: Sweep, trials: list[Trial], todo: list[Trial], configs: dict, records: dict,
         state: dict, folder: Path, address: str | None, max_concurrent: int | None, log) -> None:
    from unlearnlab.sweep import ray_backend

    done = [t for t in trials if records[t.name]["status"] == "finished"]
    ready, after = _groups(todo, configs, done)
    limit = max_concurrent or len(todo)
    cpus = None
    if not address:           # a local Ray: the CPUs of --max-concurrent trials, else all
        cpus = (math.ceil(max_concurrent * sweep.cpus_per_trial) if max_concurrent
                else os.cpu_count() or 1)
        cpus = max(cpus, math.ceil(sweep.cpus_per_trial))
    started = ray_backend.start(address, cpus)
    cwd, cache = os.getcwd(), str(cache_root().resolve())
    pool = ray_backend.Pool(sweep.cpus_per_trial, sweep.gpus_per_trial)
    try:
        for ended in range(1, len(todo) + 1):
            while ready and len(pool) < limit:
                t = ready.pop(0)
                pool.submit(t.name, sweep.base, [*t.overrides, *place(folder, t)],
                            str(folder / records[t.name]["log"]), cache, cwd)
            name, outcome = pool.next_done()
            _record(records[name], outcome, folder, f"[{ended}/{len(todo)}]", log)
            atomic_write_json(folder / "sweep.json", state)
            ready += after.pop(name, [])
    except KeyboardInterrupt:
        kept = sum(r["status"] == "finished" for r in records.values())
        log(f"sweep {sweep.name}: stopped; {kept} finished trials are kept, the trials that "
            "were running left nothing; the same command goes on from here")
        raise
    finally:
        pool.cancel()
        atomic_write_json(folder / "sweep.json", state)
        if started:
            ray_backend.stop()


def _record(record: dict, outcome: dict, folder: Path, count: str, log) -> None:
    """A trial's outcome into its sweep.json entry, and one line on the terminal."""
    record.update(outcome)
    name = record["name"]
    if outcome["status"] == "failed":
        log(f"{count} {name}: FAILED: {outcome['error']} (log: {folder / record['log']})")
        return
    record.pop("error", None)
    diverged = _diverged(folder / name)
    if diverged:
        record["diverged"] = diverged
    log(f"{count} {name}: finished in {outcome['wall_time_s']:.1f} s"
        + "".join(f"; {m} {why}" for m, why in diverged.items()))


def _diverged(run_dir: Path) -> dict:
    """The methods of a finished run that stopped (diverged), with why."""
    try:
        return json.loads((run_dir / "results.json").read_text()).get("failed", {})
    except (OSError, ValueError):
        return {}


def _finish(sweep: Sweep, trials: list[Trial], records: dict, state: dict, folder: Path,
            finished_before: int, log) -> int:
    """The comparison report over every finished trial, the best configuration per method
    (printed, summary.md, sweep.json); 1 when a trial failed."""
    from unlearnlab.api import load_results
    from unlearnlab.sweep import best

    finished = [(t, load_results(folder / t.name)) for t in trials
                if records[t.name]["status"] == "finished"]
    failed = {n: r["error"] for n, r in records.items() if r["status"] == "failed"}
    report = None
    if len(finished) >= 2:
        from unlearnlab.report.compare import compare

        try:
            out, _ = compare([folder / t.name for t, _ in finished], folder / "compare")
            report = f"{out}/report.html"
        except (UserError, OSError) as exc:
            log(f"sweep {sweep.name}: no comparison report: {exc}")
    counts = {"trials": len(trials), "finished": len(finished), "failed": len(failed),
              "ran": len(finished) - finished_before}
    text = best.summary(sweep, finished, failed, counts, report)
    state["best"] = [{"task": g.task, "method": g.method, "configuration": g.config,
                      "criterion": name, "direction": direction, "score": g.score,
                      "values": g.values, "model_utility": g.utility,
                      "trials": g.trials, "flags": g.flags}
                     for g, name, direction in best.best_per_method(finished)]
    state["counts"] = counts
    state["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    atomic_write_text(folder / "summary.md", text)
    atomic_write_json(folder / "sweep.json", state)
    log(text)
    log(f"sweep: {folder}/sweep.json  summary: {folder}/summary.md"
        + (f"  report: {report}" if report else ""))
    return 1 if failed else 0
