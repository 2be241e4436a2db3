"""The protocol end to end, for any task: clean -> learned (corrupted) -> unlearned -> evaluated.

    task ──► pretrain (clean, cached) ──► learn ──► unlearn (one per method) ──► report
                     evaluate: every model, the same records and metrics

The task (tasks/) is the data; this file is the protocol and names no task. Writes
`runs/<name>/`: manifest.json (resolved config and its hash, seed, versions, device,
per-stage wall time), the task's files (e.g. facts.json, corruption.json), curves/*.json
(loss curves), records/*.json (per-item model outputs), results.json (per model: aggregates
with n and 95% CI, and per-item values), report.html and summary.md. Every file is written
atomically.
With `seeds: [...]` each seed is such a run in seed-<S>/, and the top level holds
results.json and manifest.json aggregated over seeds (see aggregate.py) with their report.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from unlearnlab import distributed, report, tasks
from unlearnlab.aggregate import aggregate
from unlearnlab.comparisons import compare_models
from unlearnlab.config import Config
from unlearnlab.errors import Diverged, UserError
from unlearnlab.eval.tofu import model_utility
from unlearnlab.models.loading import load_causal_lm, pick_device, save_causal_lm
from unlearnlab.runs import (atomic_write_json, cache_root, environment, point_latest,
                             remove_stale, replace_dir, temp_dir, versions)
from unlearnlab.stages import evaluate, learn, pretrain, removal, resume, unlearn
from unlearnlab.texts import tokenize
from unlearnlab.train.params import relative_change


def _with_final(checkpoints: list[dict], curve: list[dict], final: dict) -> list[dict]:
    """Checkpoints ending with the final model: its (already computed) metrics are added
    at the last step when that step was not itself a checkpoint."""
    last = curve[-1]["step"] if curve else 0
    if checkpoints[-1]["step"] >= last:
        return checkpoints
    names = [k for k in checkpoints[-1] if k != "step"]
    return [*checkpoints, {"step": last, **{k: final.get(k, {}).get("mean") for k in names}}]


class Timer:
    def __init__(self):
        self.stages: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        yield
        self.stages[name] = round(self.stages.get(name, 0.0) + time.perf_counter() - start, 3)


def run(cfg: Config, log=print) -> Path:
    """Run the whole experiment (once, or once per seed of `cfg.seeds`); return the run dir.

    The run is written into a hidden temporary folder beside `runs/<name>` and moved into
    place only when complete (report.html and summary.md included), so a failed or
    interrupted run leaves the previous one intact.
    """
    body = _run_seeds if cfg.seeds else _run
    log = log if distributed.is_main() else _quiet
    return _into_place(cfg, lambda device, tmp: body(cfg, device, tmp, log), log)


def evaluate_model(cfg: Config, log=print) -> Path:
    """Evaluate the model `cfg.model` on the task as it is (no pretraining, learning or
    unlearning): the same records, metrics, results.json and report as a run, for one model
    labelled "model" (what open-unlearning's eval.py does)."""
    log = log if distributed.is_main() else _quiet
    return _into_place(cfg, lambda device, tmp: _evaluate_only(cfg, device, tmp, log), log)


def _quiet(*args, **kwargs) -> None:
    """The log of a rank other than 0: rank 0 speaks for the run."""


def _writable_folder(path: Path, what: str) -> None:
    """`path` exists as a folder this process can write (created if missing), else one line."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-")
        probe.close()
    except OSError as exc:
        raise UserError(f"{what} {path} is not writable ({exc.strerror or exc}); give a folder "
                        "you can write to") from None


def _check_selectors(cfg: Config) -> None:
    """The built-in model's parameter selectors (unlearn.params, eval.influence_params), checked
    on a meta-device copy of its architecture before any training."""
    if cfg.model != "builtin" or tasks.modality(cfg.task) != "text":
        return                         # image tasks: their classifier's selectors fail in-run
    import torch
    from transformers import LlamaForCausalLM

    from unlearnlab.models.tiny import llama_config
    from unlearnlab.train.params import select_parameters

    with torch.device("meta"):
        skeleton = LlamaForCausalLM(llama_config(cfg.pretrain.model, cfg.pretrain.vocab_size))
    selectors = [("unlearn.params", cfg.unlearn.params),
                 ("eval.influence_params", cfg.eval.influence_params)]
    if "first_epoch_ga" in cfg.methods:             # what its recorder watches
        selectors.append(("hparams.first_epoch_ga.params", cfg.params_of("first_epoch_ga").params))
    for key, selector in selectors:
        try:
            select_parameters(skeleton, selector)
        except UserError as exc:
            raise UserError(f"{key}: {str(exc).removeprefix('params: ')}") from None


def _into_place(cfg: Config, body, log) -> Path:
    final = Path(cfg.runs_dir) / cfg.name
    _writable_folder(final.parent, "runs_dir")
    _writable_folder(cache_root(), "the cache folder ($UNLEARNLAB_CACHE)")
    _check_selectors(cfg)
    device = distributed.local_device(pick_device(cfg.device))
    if not distributed.is_main():                    # another rank: compute along, write nothing
        return _as_helper_rank(final, body, device)
    for name in remove_stale(final.parent):
        log(f"removed {final.parent / name}, left by a run that was killed")
    tmp = temp_dir(final)
    try:
        body(device, tmp)
        files = report.render(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        distributed.barrier()
    if final.exists():
        log(f"replacing the previous run in {final}")
    replace_dir(tmp, final)
    point_latest(final)
    log(report.terminal_summary(files.results, files.manifest))
    return final


def _as_helper_rank(final: Path, body, device) -> Path:
    """A rank other than 0 of a distributed run: the same protocol in lockstep (its shard of
    every batch and of every evaluation), into a scratch folder that is discarded; rank 0
    writes the run."""
    with distributed.scratch() as folder:
        body(device, folder)
    distributed.barrier()
    return final


def _run_seeds(cfg: Config, device, run_dir: Path, log) -> None:
    """The whole pipeline once per seed into seed-<S>/ (each a complete single-seed run with
    its own report), then results.json and manifest.json aggregated over the seeds."""
    per_seed, manifests = {}, {}
    for seed in cfg.seeds:
        log(f"seed {seed} ({cfg.seeds.index(seed) + 1} of {len(cfg.seeds)})")
        sub = run_dir / f"seed-{seed}"
        per_seed[seed], manifests[seed] = _run(cfg.for_seed(seed), device, sub, log)
        report.render(sub)
    first = manifests[cfg.seeds[0]]
    stages: dict[str, float] = {}
    for m in manifests.values():
        for stage, seconds in m["wall_time_s"].items():
            stages[stage] = round(stages.get(stage, 0.0) + seconds, 3)
    manifest = {"name": cfg.name, "config": cfg.to_dict(), "config_hash": cfg.hash(),
                "seeds": list(cfg.seeds), "device": first["device"], "versions": first["versions"],
                "environment": first["environment"],
                "clean_model": first["clean_model"],
                "seed_config_hashes": {str(s): m["config_hash"] for s, m in manifests.items()},
                "wall_time_s": stages,
                "wall_time_per_seed_s": {str(s): m["wall_time_total_s"] for s, m in manifests.items()},
                "wall_time_total_s": round(sum(stages.values()), 3)}
    atomic_write_json(run_dir / "results.json", aggregate(per_seed))
    atomic_write_json(run_dir / "manifest.json", manifest)


def _check_clean(cfg: Config, results: dict, before: str, log) -> None:
    """On tasks that measure restoration, the clean model must know the target facts, else
    forgetting and restoration mean nothing: warn (results["warnings"], summary, report) or,
    with eval.clean_check: refuse, stop with exit 2 before any training."""
    task = results["task"]
    if not task.get("restoration") or cfg.eval.clean_floor <= 0:
        return
    score = results["models"][before]["metrics"].get(task["primary"], {}).get("mean")
    if score is None or score >= cfg.eval.clean_floor:
        return
    hint = ("an outside model does not know the task's facts: fine-tune it longer on the "
            "task's corpus (pretrain.outside.train; pretrain.outside.finetune must be true) or "
            "evaluate it on a task whose data it knows (task: custom)" if cfg.model != "builtin" else
            "train the clean model longer (pretrain.train) or on more of the facts")
    message = (f"the {before} model answers only {score:.1%} of the target questions "
               f"({task['primary']}), below eval.clean_floor {cfg.eval.clean_floor:g}: "
               f"forgetting and restoration cannot be measured; {hint}")
    if cfg.eval.clean_check == "refuse":
        raise UserError(message + " (eval.clean_check: refuse)")
    results.setdefault("warnings", []).append(message)
    log(f"WARNING: {message}")


def _evaluate_only(cfg: Config, device, run_dir: Path, log) -> None:
    timer = Timer()
    manifest = {"name": cfg.name, "config": cfg.to_dict(), "config_hash": cfg.hash(),
                "seed": cfg.seed, "device": str(device), "versions": versions(),
                "environment": environment(), "clean_model": {"path": cfg.model, "cached": False}}
    if tasks.modality(cfg.task) != "text":
        raise UserError(f"evaluate: task {cfg.task} trains its own classifier; evaluating a "
                        f"given model applies to text tasks only; use `unlearnlab run`")
    with timer("task"):
        task = tasks.build(cfg)
    model, tokenizer = load_causal_lm(cfg.model, device)
    log(f"evaluating {cfg.model} on task {task.name}")
    evaluator = evaluate.Evaluator(cfg, task, tokenizer)
    summary = {**task.summary(), "roles": {"before": None, "start": "model"}}
    results = {"config_hash": cfg.hash(), "seed": cfg.seed, "task": summary, "methods": [],
               "items": evaluator.items_index(), "models": {}}
    with timer("evaluate"):
        results["models"]["model"] = evaluator.run("model", model, run_dir)
    compare_models(results)
    manifest["wall_time_s"] = timer.stages
    manifest["wall_time_total_s"] = round(sum(timer.stages.values()), 3)
    atomic_write_json(run_dir / "results.json", results)
    atomic_write_json(run_dir / "manifest.json", manifest)


def _run(cfg: Config, device, run_dir: Path, log) -> tuple[dict, dict]:
    """One seed end to end into `run_dir`; returns (results, manifest) as written."""
    timer = Timer()
    manifest = {"name": cfg.name, "config": cfg.to_dict(), "config_hash": cfg.hash(),
                "seed": cfg.seed, "device": str(device), "versions": versions(),
                "environment": environment()}
    if distributed.active():
        manifest["processes"] = distributed.world_size()
    with timer("task"):
        task = tasks.build(cfg)
    if tasks.modality(cfg.task) == "image":            # a classifier's protocol, same outputs
        from unlearnlab import pipeline_images

        return pipeline_images.run(cfg, task, device, run_dir, log, timer, manifest)
    with timer("task"):
        found = removal.plan(cfg, task)
    for name, content in task.files.items():
        atomic_write_json(run_dir / name, content)
    with timer("pretrain"):
        clean = pretrain.run(cfg, task, device)
    manifest["clean_model"] = clean.manifest()
    how = ("cached" if clean.cached else "trained" if cfg.model == "builtin" else
           "fine-tuned on the task's corpus" if clean.finetuned_from else "given, not fine-tuned")
    log(f"clean model: {clean.path} ({how}"
        + (f" from {clean.finetuned_from})" if clean.finetuned_from else ")"))
    model, tokenizer = load_causal_lm(clean.path, device)
    stages = resume.Stages(cfg, task, clean.cache_key or pretrain.model_identity(clean.path),
                           run_dir)

    def evaluated(label: str, m) -> dict:
        return stages.result(f"evaluate:{label}", lambda: evaluator.run(label, m, run_dir),
                             files=(f"records/{label}.json", f"models/{label}"))

    evaluator = evaluate.Evaluator(cfg, task, tokenizer)
    results = {"config_hash": cfg.hash(), "seed": cfg.seed, "task": task.summary(),
               "methods": list(cfg.methods), "items": evaluator.items_index(), "models": {}}
    models = results["models"]
    before, start = task.roles
    positions = task.forget_positions(found.all_texts()) if task.learn else None
    recorders = unlearn.make_recorders(cfg, model, positions)
    if task.learn:
        if before:
            with timer("evaluate"):
                models[before] = evaluated(before, model)
            _check_clean(cfg, results, before, log)
        with timer("learn"):
            model, curve = stages.learned(
                lambda: learn.run(cfg, task, model, tokenizer, list(recorders.values())),
                lambda m, path: save_causal_lm(m, tokenizer, path),
                lambda path: load_causal_lm(path, device)[0], keep=not recorders)
        atomic_write_json(run_dir / "curves" / "learn.json", curve)
    with timer("evaluate"):
        models[start] = evaluated(start, model)

    forget = tokenize(tokenizer, task.forget, task.fmt)
    retain = tokenize(tokenizer, task.retain, task.fmt)
    start_scores = {k: v["mean"] for k, v in models[start]["metrics"].items()}

    def context(texts: list, copy_of, checkpoints: bool) -> unlearn.UnlearnContext:
        """A method's context for the forget set `texts` (the task's, or what a removal
        strategy found; its retain set is the task's minus those texts)."""
        exact = texts is task.forget
        gone = set(texts)
        kept = task.retain if exact else [t for t in task.retain if t not in gone]
        return unlearn.UnlearnContext(
            cfg=cfg, model=copy_of, tokenizer=tokenizer,
            forget=forget if exact else tokenize(tokenizer, texts, task.fmt),
            retain=retain if kept is task.retain else tokenize(tokenizer, kept, task.fmt),
            forget_texts=texts, retain_texts=kept, device=device, task=task,
            evaluate=evaluator.checkpoint if checkpoints else None,
            curve=evaluator.curve_point if checkpoints else None,
            start_scores=start_scores if checkpoints else None, recorders=recorders,
            forget_positions=task.forget_positions(texts) if task.learn else None)

    def probe(m) -> tuple[dict[str, float], float | None]:
        per_entity, means = evaluator.by_entity(m, cfg.removal.stop_metric)
        return per_entity, model_utility(means, task.scoring.utility)

    results["methods"] = [found.label(name, s) for name in cfg.methods
                          for s in found.strategies_for(name)]
    def unlearned(name: str, strategy: str, label: str) -> dict:
        """One method's results entry, or {"failed": why} when it diverged."""
        try:
            with timer(f"unlearn:{label}"):
                outcome = removal.run_sequence(name, strategy, found, copy.deepcopy(model),
                                               context, unlearn.run, evaluator.checkpoint,
                                               cfg, start_scores, probe)
        except Diverged as exc:             # this method stops; the run goes on
            return {"failed": f"diverged at step {exc.step} ({exc.reason})"}
        outcome.info["param_change"] = relative_change(outcome.model, model)
        atomic_write_json(run_dir / "curves" / f"{label}.json", outcome.curve)
        with timer("evaluate"):
            entry = evaluator.run(label, outcome.model, run_dir)
        entry["info"] = outcome.info
        if outcome.checkpoints:
            entry["checkpoints"] = _with_final(outcome.checkpoints, outcome.curve,
                                               entry["metrics"])
        return entry

    for name in cfg.methods:
        for strategy in found.strategies_for(name):
            label = found.label(name, strategy)
            entry = stages.result(
                f"unlearn:{label}", lambda: unlearned(name, strategy, label),
                files=(f"curves/{label}.json", f"records/{label}.json", f"models/{label}"),
                extra=resume.method_identity(cfg, name, strategy))
            reused = " (reused from the cache)" if f"unlearn:{label}" in stages.reused else ""
            if "failed" in entry:
                results.setdefault("failed", {})[label] = entry["failed"]
                log(f"{label}: {entry['failed']}{reused}; left out of the results")
                continue
            models[label] = entry
            log(f"{label}: done{reused}")

    results["methods"] = [m for m in results["methods"] if m in models]
    compare_models(results)
    manifest["resumed"] = stages.reused
    manifest["wall_time_s"] = timer.stages
    manifest["wall_time_total_s"] = round(sum(timer.stages.values()), 3)
    atomic_write_json(run_dir / "results.json", results)
    atomic_write_json(run_dir / "manifest.json", manifest)
    return results, manifest

