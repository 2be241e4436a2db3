"""The RESTOR experiment end to end: world -> clean -> corrupted -> unlearned -> evaluated.

    world ──► pretrain (clean, cached) ──► corrupt ──► unlearn (one per method) ──► evaluate

Writes `runs/<name>/`: manifest.json (resolved config and its hash, seed, versions, device,
per-stage wall time), facts.json, corruption.json, curves/*.json (loss curves),
records/*.json (per-item model outputs), results.json (per model: aggregates with n and
95% CI, and per-item values), report.html and summary.md. Every file is written atomically.
With `seeds: [...]` each seed is such a run in seed-<S>/, and the top level holds
results.json and manifest.json aggregated over seeds (see aggregate.py) with their report.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from unlearnlab import report
from unlearnlab.aggregate import aggregate
from unlearnlab.comparisons import compare_models
from unlearnlab.config import Config
from unlearnlab.eval.metrics import METRICS, score
from unlearnlab.eval.mia import mia_auc
from unlearnlab.eval.records import make_items, make_records, text_records
from unlearnlab.methods import METHODS
from unlearnlab.models.loading import load_causal_lm, pick_device, save_causal_lm
from unlearnlab.runs import atomic_write_json, replace_dir, versions
from unlearnlab.stages import corrupt, pretrain, unlearn
from unlearnlab.train.batches import documents
from unlearnlab.world.facts import value_pools
from unlearnlab.world.generator import generate_world


def _subset(n_texts: int, cfg: Config) -> list[int]:
    """Sorted indices of a seeded sample of `cfg.eval.docs_per_set` texts (all when 0)."""
    n = cfg.eval.docs_per_set
    if not n or n >= n_texts:
        return list(range(n_texts))
    return sorted(random.Random(f"docs-{cfg.seed}").sample(range(n_texts), n))


def _means(scores: dict) -> dict[str, float]:
    return {k: v["mean"] for k, v in scores.items()}


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
    final = Path(cfg.runs_dir) / cfg.name
    device = pick_device(cfg.device)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{cfg.name}.tmp-"))
    try:
        if cfg.seeds:
            _run_seeds(cfg, device, tmp, log)
        else:
            _run(cfg, device, tmp, log)
        files = report.render(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, final)
    log(report.terminal_summary(files.results, files.manifest))
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
                "clean_model": first["clean_model"],
                "seed_config_hashes": {str(s): m["config_hash"] for s, m in manifests.items()},
                "wall_time_s": stages,
                "wall_time_per_seed_s": {str(s): m["wall_time_total_s"] for s, m in manifests.items()},
                "wall_time_total_s": round(sum(stages.values()), 3)}
    atomic_write_json(run_dir / "results.json", aggregate(per_seed, cfg.methods))
    atomic_write_json(run_dir / "manifest.json", manifest)


def _run(cfg: Config, device, run_dir: Path, log) -> tuple[dict, dict]:
    """One seed end to end into `run_dir`; returns (results, manifest) as written."""
    timer = Timer()
    manifest = {"name": cfg.name, "config": cfg.to_dict(), "config_hash": cfg.hash(),
                "seed": cfg.seed, "device": str(device), "versions": versions()}

    with timer("world"):
        world = generate_world(cfg.world.seed, cfg.world.n_entities, cfg.world.relations)
        facts = world.facts()
        plan = corrupt.plan(cfg, world)
    if cfg.model == "builtin":
        with timer("pretrain"):
            clean_path, cached = pretrain.run(cfg, world, device)
        manifest["clean_model"] = {"path": str(clean_path), "cached": cached,
                                   "cache_key": pretrain.cache_key(cfg)}
        log(f"clean model: {clean_path} ({'cached' if cached else 'trained'})")
    else:
        clean_path = Path(cfg.model)
        manifest["clean_model"] = {"path": str(clean_path), "cached": False}
    model, tokenizer = load_causal_lm(clean_path, device)

    pools = value_pools(facts)
    others = plan.non_targets(world)
    if cfg.eval.utility_entities:
        others = random.Random(cfg.seed).sample(others, min(cfg.eval.utility_entities, len(others)))
    paraphrases = world.paraphrased_questions()
    items = (make_items(facts, plan.targets, "target", pools, plan.wrong, cfg.seed, probe=True,
                        paraphrases=paraphrases)
             + make_items(facts, others, "utility", pools, None, cfg.seed, probe=False,
                          paraphrases=paraphrases))
    results = {"config_hash": cfg.hash(), "seed": cfg.seed,
               "items": {g: [[i.entity, i.relation] for i in items if i.group == g]
                         for g in ("target", "utility")},
               "models": {}}

    chosen = {"forget_docs": _subset(len(plan.documents), cfg),
              "holdout_docs": _subset(len(plan.holdout), cfg),
              "retain_docs": _subset(len(plan.retain), cfg)}
    results["items"].update(chosen)            # indices into corruption.json's lists
    doc_sets = {g: [texts[i] for i in chosen[g]] for g, texts in
                (("forget_docs", plan.documents), ("holdout_docs", plan.holdout),
                 ("retain_docs", plan.retain))}

    doc_metrics = {METRICS.get(m).group for m in cfg.eval.curve_metrics} & set(doc_sets)

    def records_of(m, with_docs: bool = True) -> tuple[list[dict], list[dict]]:
        """The model's question records and (optionally) document records."""
        records = make_records(m, tokenizer, items, cfg.eval.batch_size,
                               cfg.eval.max_new_tokens, cfg.precision)
        docs = [r for group, texts in doc_sets.items() if with_docs
                for r in text_records(m, tokenizer, texts, group, cfg.eval.batch_size,
                                      cfg.precision)]
        return records, docs

    def evaluate(label: str, m) -> None:
        with timer("evaluate"):
            records, docs = records_of(m)
        atomic_write_json(run_dir / "records" / f"{label}.json", records)
        scores = score(records + docs)
        results["models"][label] = {
            "metrics": {k: {x: v[x] for x in ("mean", "n", "sd", "ci95", "direction")}
                        for k, v in scores.items()},
            "values": {k: v["values"] for k, v in scores.items()},
            "mia": mia_auc(docs)}
        if cfg.keep_models:
            save_causal_lm(m, tokenizer, run_dir / "models" / label)

    def checkpoint_scores(m) -> dict[str, float]:
        """Metric means for checkpoints; documents are scored only if a curve metric needs them."""
        records, docs = records_of(m, with_docs=bool(doc_metrics))
        return _means(score(records + docs))

    atomic_write_json(run_dir / "facts.json", facts)
    atomic_write_json(run_dir / "corruption.json", dataclasses.asdict(plan))
    evaluate("clean", model)
    recorders = {}
    for name in cfg.methods:
        spec = METHODS.get(name)
        if spec.recorder is not None:
            recorders[name] = spec.recorder(spec.hyperparams(cfg.hparams.get(name)), model)
    with timer("corrupt"):
        model, curve = corrupt.run(cfg, model, tokenizer, plan, recorders=list(recorders.values()))
    atomic_write_json(run_dir / "curves" / "corrupt.json", curve)
    evaluate("corrupted", model)

    forget = documents(tokenizer, plan.documents)
    retain = documents(tokenizer, plan.retain)
    for name in cfg.methods:
        ctx = unlearn.UnlearnContext(
            cfg=cfg, model=copy.deepcopy(model), tokenizer=tokenizer, forget=forget,
            retain=retain, forget_texts=plan.documents, retain_texts=plan.retain, device=device,
            evaluate=checkpoint_scores,
            start_scores=_means(results["models"]["corrupted"]["metrics"]),
            extras={"world": world, "plan": plan, "recorders": recorders})
        with timer(f"unlearn:{name}"):
            outcome = unlearn.run(name, ctx)
        atomic_write_json(run_dir / "curves" / f"{name}.json", outcome.curve)
        evaluate(name, outcome.model)
        results["models"][name]["info"] = outcome.info
        if outcome.checkpoints:
            results["models"][name]["checkpoints"] = _with_final(
                outcome.checkpoints, outcome.curve, results["models"][name]["metrics"])
        del ctx, outcome
        log(f"{name}: done")

    compare_models(results, cfg.methods)
    manifest["wall_time_s"] = timer.stages
    manifest["wall_time_total_s"] = round(sum(timer.stages.values()), 3)
    atomic_write_json(run_dir / "results.json", results)
    atomic_write_json(run_dir / "manifest.json", manifest)
    return results, manifest
