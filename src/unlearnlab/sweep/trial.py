"""One trial of a sweep, as a Ray worker runs it: a normal `unlearnlab run` of the base
config with the trial's `--set` overrides, its output in a log file, any error returned as
one line (so a failed trial never stops the others)."""

from __future__ import annotations

import os
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


def run_trial(base, overrides: list[str], log_path: str, cache: str, cwd: str) -> dict:
    """Run one trial; returns {"status": "finished", "wall_time_s"} or {"status": "failed",
    "error": one line, "wall_time_s"}. `cache` is the sweep's stage cache (every trial shares
    it, so the clean and learned models are built once), `cwd` the folder the config's relative
    paths are read from (the driver's current folder)."""
    from unlearnlab.errors import UserError

    os.environ["UNLEARNLAB_CACHE"] = cache
    if os.path.isdir(cwd):
        os.chdir(cwd)
    start = time.perf_counter()
    outcome = {"status": "finished"}
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log, redirect_stdout(log), redirect_stderr(log):
        print("unlearnlab run", base if isinstance(base, str) else "(inline base config)",
              *(f"--set {o}" for o in overrides), flush=True)
        try:
            from unlearnlab import api

            api.run(base, [*overrides, "progress=false"])
        except UserError as exc:
            outcome = {"status": "failed", "error": str(exc)}
            print(f"unlearnlab: error: {exc}")
        except Exception as exc:                      # noqa: BLE001 - isolated, reported
            traceback.print_exc()
            outcome = {"status": "failed", "error": one_line(exc)}
    return {**outcome, "wall_time_s": round(time.perf_counter() - start, 3)}


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
