"""The protocol for image tasks (one seed): original, ideal and shadows from scratch ->
unlearn (one per method) -> evaluate -> results.json, in the same run folder layout, results
schema and report as pipeline.py.

    task ──► original (all training images) ──► search ──► unlearn (each method and
         │                                strategy, THE loop) ──► evaluate
         └─► ideal (without forget and similar images), K shadows (LiRA) ──┘

Every model trains through THE loop (stages/classify.py); the methods are the registry's
(those whose `modalities` include "image"); the cross-model figures are comparisons.py's.
`removal.strategies: [exact, fuzzy]` adds the remedy (stages/image_removal.py): each method also
runs on the forget set expanded by a search in the original model's features
(`method@fuzzy`), through the text track's removal plan (stages/removal.py).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

from unlearnlab.comparisons import compare_models
from unlearnlab.config import Config
from unlearnlab.errors import Diverged
from unlearnlab.models.classifier import LabelVocab
from unlearnlab.runs import atomic_write_json
from unlearnlab.stages import classify, image_removal, removal, unlearn
from unlearnlab.tasks.base import ImageTask
from unlearnlab.train.params import relative_change


@contextmanager
def one_thread(device):
    """On a CPU, one intra-op thread for the run: a small MLP's matrix products are too small
    to split, and on a busy machine the threads' synchronisation costs up to 30x the work."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(cfg: Config, task: ImageTask, device, run_dir: Path, log, timer,
        manifest: dict) -> tuple[dict, dict]:
    """One seed of an image task into `run_dir`; returns (results, manifest) as written."""
    with one_thread(device):
        return _run(cfg, task, device, run_dir, log, timer, manifest)


def _run(cfg: Config, task: ImageTask, device, run_dir: Path, log, timer,
         manifest: dict) -> tuple[dict, dict]:
    from unlearnlab.pipeline import _with_final

    im, seed = cfg.images, cfg.seed
    image_removal.check(cfg)
    for name, content in task.files.items():
        atomic_write_json(run_dir / name, content)
    with timer("pretrain"):
        original, curve = classify.train_classifier(cfg, task, task.train, seed, device,
                                                    "original")
        ideal, _ = classify.train_classifier(cfg, task, task.ideal_train,
                                             seed + im.ideal_seed_offset, device, "ideal")
    atomic_write_json(run_dir / "curves" / "learn.json", curve)
    with timer("search") if "fuzzy" in cfg.removal.strategies else nullcontext():
        found, search = image_removal.plan(cfg, task, original)
    if search:
        atomic_write_json(run_dir / "remedy.json", search)
    manifest["clean_model"] = {"path": None, "cached": False,
                               "note": "image classifiers are trained in the run, not cached"}
    evaluator = classify.ImageEvaluator(cfg, task)
    if im.shadows:
        with timer("shadows"):
            inside = classify.shadow_membership(len(task.forget), im.shadows, seed)
            shadows = [classify.train_classifier(
                cfg, task, task.retain + [f for f, yes in zip(task.forget, inside[k]) if yes],
                seed + 100 + k, device, f"shadow {k + 1}/{im.shadows}")[0]
                for k in range(im.shadows)]
            evaluator.fit_lira(shadows, inside)
            del shadows
    results = {"config_hash": cfg.hash(), "seed": seed, "task": task.summary(),
               "methods": [found.label(name, s) for name in cfg.methods
                           for s in found.strategies_for(name)],
               "items": evaluator.items_index(), "models": {}}
    models = results["models"]
    before, start = task.roles
    with timer("evaluate"):
        models[before] = evaluator.run(before, ideal, run_dir)
        models[start] = evaluator.run(start, original, run_dir)
    every = cfg.eval.every_n_steps
    start_scores = {k: v["mean"] for k, v in models[start]["metrics"].items()}

    def context(rows: list[int], copy_of, checkpoints: bool) -> unlearn.UnlearnContext:
        """A method's context for the forget rows `rows` (the task's, or what the search
        found); retain is the task's minus those rows, and retrain trains on it."""
        gone = set(rows)
        kept = [r for r in task.retain if r not in gone]

        def retrainer(offset: int):
            model, curve = classify.train_classifier(cfg, task, kept, seed + offset, device,
                                                     "retrain")
            return model, curve, {"seed": seed + offset, "kept": len(kept)}
        checkpoints = checkpoints and bool(every)
        return unlearn.UnlearnContext(
            cfg=cfg, model=copy_of, tokenizer=LabelVocab(), forget=task.examples(rows),
            retain=task.examples(kept), forget_texts=[task.key(r) for r in rows],
            retain_texts=[task.key(r) for r in kept], device=device,
            evaluate=evaluator.checkpoint if checkpoints else None,
            start_scores=start_scores if checkpoints else None, retrainer=retrainer)

    for name in cfg.methods:
        for strategy in found.strategies_for(name):
            label = found.label(name, strategy)
            try:
                with timer(f"unlearn:{label}"):
                    outcome = removal.run_sequence(name, strategy, found, copy.deepcopy(original),
                                                   context, unlearn.run, evaluator.checkpoint,
                                                   cfg, start_scores, probe=None)
            except Diverged as exc:             # this method stops; the run goes on
                status = f"diverged at step {exc.step} ({exc.reason})"
                results.setdefault("failed", {})[label] = status
                log(f"{label}: {status}; left out of the results")
                continue
            outcome.info["param_change"] = relative_change(outcome.model, original)
            atomic_write_json(run_dir / "curves" / f"{label}.json", outcome.curve)
            with timer("evaluate"):
                models[label] = evaluator.run(label, outcome.model, run_dir)
            models[label]["info"] = outcome.info
            if outcome.checkpoints:
                models[label]["checkpoints"] = _with_final(outcome.checkpoints, outcome.curve,
                                                           models[label]["metrics"])
            log(f"{label}: done")

    results["methods"] = [m for m in results["methods"] if m in models]
    compare_models(results)
    manifest["wall_time_s"] = timer.stages
    manifest["wall_time_total_s"] = round(sum(timer.stages.values()), 3)
    atomic_write_json(run_dir / "results.json", results)
    atomic_write_json(run_dir / "manifest.json", manifest)
    return results, manifest
