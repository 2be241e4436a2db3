"""Ray, at the edge: the one module of unlearnlab that imports `ray`.

A `Pool` runs trials (sweep/trial.py) as Ray tasks, each with the sweep's CPUs and GPUs per
trial and no automatic retry (a failed trial is recorded; `--retry-failed` reruns it). Ray is a
local one started here (`ray.init(num_cpus=...)`, no dashboard) and stopped at the end, or an
existing cluster (`address`, e.g. `ray://head:10001` or `auto`), or whatever Ray this process
has already started (the tests start one per module).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time

import ray
from ray.exceptions import RayError

from unlearnlab.errors import UserError
from unlearnlab.sweep.trial import one_line, run_trial


def start(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to the cluster at `address`, else start a local Ray with `num_cpus` CPUs;
    nothing when this process is already connected. True when this call started it."""
    if ray.is_initialized():
        return False
    if address:
        _reachable(address)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
    except (ConnectionError, RayError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise UserError(f"cannot start {where}: {one_line(exc)}") from None
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)     # Ray's would exit with a stack dump
    return True


def _reachable(address: str) -> None:
    """A `host:port` address answers a TCP connection within 10 s (Ray itself would keep
    retrying for minutes), else one line."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return                                          # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); "
                        "start it with `ray start --head` or check the address") from None


def stop() -> None:
    ray.shutdown()


class Pool:
    """Trials in flight on Ray: `submit` one, `next_done` waits for any to end."""

    def __init__(self, cpus_per_trial: float, gpus_per_trial: float):
        self.task = ray.remote(run_trial).options(num_cpus=cpus_per_trial,
                                                  num_gpus=gpus_per_trial, max_retries=0)
        self.running: dict = {}                      # object ref -> trial name

    def __len__(self) -> int:
        return len(self.running)

    def submit(self, name: str, *args) -> None:
        self.running[self.task.remote(*args)] = name

    def next_done(self) -> tuple[str, dict]:
        """(trial name, its outcome) of the next trial to end; a worker that died or a task
        Ray could not run is a failed trial, with Ray's reason in one line."""
        while True:                 # polled: a signal arriving inside ray.wait would become a
            done, _ = ray.wait(list(self.running), num_returns=1, timeout=0)  # plain Ctrl-C
            if done:
                break
            time.sleep(0.5)
        ref = done[0]
        name = self.running.pop(ref)
        try:
            return name, ray.get(ref)
        except RayError as exc:
            return name, {"status": "failed", "error": f"Ray: {one_line(exc)}"}

    def cancel(self) -> None:
        """Stop every trial still running (their half-built run folders are hidden temporary
        ones, removed by the next run in that folder)."""
        for ref in self.running:
            ray.cancel(ref, force=True)
        self.running.clear()
