"""Resumable runs: each finished stage of a run is kept as an artifact in the cache, addressed
by the hash of what produced it, so a run that was stopped (SIGKILL included) and is started
again picks up after the last finished stage and ends with the same results.json.

    $UNLEARNLAB_CACHE/stages/<key>/
        entry.json   what the stage adds to results.json (a model's evaluation, a method's
                     outcome or its failure), or the learn stage's loss curve
        files/       what the stage wrote into the run folder (records/<label>.json,
                     curves/<label>.json, models/<label>/), copied back when reused
        model/       the learn stage's model (the corrupted or fine-tuned model)

A stage's key hashes the package's source code and the torch / transformers versions (a code
change retires every artifact), the resolved config without what cannot change a number
(name, runs_dir, progress, seeds, methods and their hyperparameters, removal settings), the
seed, the task's data, the clean model's cache key, and the stage; for a method also its
hyperparameters, the source file that defines it (a plugin's edit counts) and the removal
settings its strategy reads (none but `sequential` for `exact`: runs at several fuzzy
thresholds share their exact methods). Artifacts
are sealed folders written atomically under a file lock (runs.atomic_dir): two runs that
reach the same stage at once build it once; a damaged one is rebuilt, never read. Under
several processes rank 0 decides whether an artifact is reused, for every rank.
`resume: false` neither reads nor writes them. The learn stage is not kept while recorders
watch it: what they record lives in memory only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import shutil
from pathlib import Path
from typing import Callable

from unlearnlab import distributed
from unlearnlab.config import Config, digest
from unlearnlab.runs import atomic_dir, atomic_write_json, cache_root, intact, remove_stale

NOT_KEYED = ("name", "runs_dir", "progress", "seeds", "methods", "hparams", "resume", "removal")
_SOURCE: list[str] = []


def source_digest() -> str:
    """Hash of every Python file of the package (computed once per process)."""
    if not _SOURCE:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for f in sorted(root.rglob("*.py")):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
        _SOURCE.append(h.hexdigest()[:16])
    return _SOURCE[0]


def task_digest(task) -> str:
    """Hash of a task's data: every text set, the evaluation items and the task's facts."""
    from unlearnlab.stages.pretrain import corpus_digest

    sets = {name: corpus_digest(getattr(task, name), task)
            for name in ("pretrain", "learn", "forget", "retain", "holdout", "queries", "similar")}
    return digest({"summary": task.summary(), "sets": sets,
                   "items": [dataclasses.asdict(item) for item in task.items],
                   "requests": task.requests, "pairs": task.influence_pairs})


def method_identity(cfg: Config, name: str, strategy: str = "exact") -> dict:
    """What, besides the run's base key, determines a method's outcome under a strategy."""
    from unlearnlab.methods import METHODS

    spec = METHODS.get(name)
    fn = spec.loss or spec.procedure
    try:
        code = hashlib.sha256(Path(inspect.getsourcefile(fn)).read_bytes()).hexdigest()[:16]
    except (TypeError, OSError):                 # defined where no file holds it
        code = f"{fn.__module__}.{fn.__qualname__}"
    removal = dataclasses.asdict(cfg.removal)
    if strategy == "exact":
        removal = {"sequential": removal["sequential"]}
    return {"method": name, "hparams": dataclasses.asdict(cfg.params_of(name)), "code": code,
            "strategy": strategy, "removal": removal}


class Stages:
    """The artifacts of one seed's run: `result` and `learned` reuse a finished stage or
    compute it and keep it; `reused` lists the stages taken from the cache."""

    def __init__(self, cfg: Config, task, clean_key: str | None, run_dir: Path):
        import torch
        import transformers

        self.enabled, self.run_dir, self.reused = cfg.resume, run_dir, []
        if self.enabled and distributed.is_main():
            remove_stale(cache_root() / "stages")      # builds of killed runs
        settings = {k: v for k, v in cfg.to_dict().items() if k not in NOT_KEYED}
        self.base = digest({"code": source_digest(), "torch": torch.__version__,
                            "transformers": transformers.__version__, "config": settings,
                            "task": task_digest(task) if cfg.resume else None,
                            "clean": clean_key})

    def folder(self, step: str, extra=None) -> Path:
        return cache_root() / "stages" / digest({"base": self.base, "step": step, "extra": extra})

    def result(self, step: str, compute: Callable[[], dict], files=(), extra=None) -> dict:
        """The stage's results entry, from its artifact (its files copied back into the run
        folder) or computed by `compute()` (which writes `files` into the run folder)."""
        folder = self.folder(step, extra)
        if self.enabled and distributed.agree(intact(folder)):
            self._restore(folder)
            self.reused.append(step)
            return json.loads((folder / "entry.json").read_text())
        entry = compute()
        if self.enabled:
            atomic_dir(folder, lambda tmp: self._keep(tmp, entry, files))
        return entry

    def learned(self, compute: Callable[[], tuple], save: Callable[[object, Path], None],
                load: Callable[[Path], object], keep: bool) -> tuple:
        """(model, loss curve) of the learn stage: `load(folder)` of its artifact, or
        `compute()`, kept (when `keep`) with `save(model, folder)`."""
        folder = self.folder("learn")
        if self.enabled and keep and distributed.agree(intact(folder)):
            self.reused.append("learn")
            return load(folder / "model"), json.loads((folder / "entry.json").read_text())
        model, curve = compute()
        if self.enabled and keep:
            def build(tmp: Path) -> None:
                self._keep(tmp, curve, ())
                save(model, tmp / "model")
            atomic_dir(folder, build)
        return model, curve

    def _keep(self, tmp: Path, entry, files) -> None:
        atomic_write_json(tmp / "entry.json", entry)
        for rel in files:
            src, dst = self.run_dir / rel, tmp / "files" / rel
            if src.is_dir():
                shutil.copytree(src, dst)
            elif src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)

    def _restore(self, folder: Path) -> None:
        files = folder / "files"
        if files.is_dir():
            shutil.copytree(files, self.run_dir, dirs_exist_ok=True)
