"""Several seeds of one experiment -> one results.json: a pure function of the per-seed results.

Every per-seed figure (a metric's mean, an MIA AUC, restoration, model utility, forget
quality, privacy leak) becomes {mean, n, sd, ci95, per_seed} over the seeds, with the
Student-t 95% interval of the mean (n = number of seeds), cut to the metric's range. Per-item values are pooled
(concatenated seed by seed, the same order for every model), so the paired per-item
comparisons run over all facts (or documents) of all seeds and stay paired.
"""

from __future__ import annotations

from unlearnlab.comparisons import (REMOVAL_FIGURES, head_to_head, paired_comparisons,
                                    strata_comparisons, task_of)
from unlearnlab.eval.metrics import METRICS
from unlearnlab.stats import mean_ci


def over_seeds(values: list, bounds: tuple[float, float] | None = None) -> dict:
    """Mean and 95% t-interval of one figure over seeds, cut to the figure's possible range
    `bounds` when given (a rate's interval stays in [0, 1]); None entries (undefined) are
    left out."""
    out = mean_ci([v for v in values if v is not None], method="t")
    lo, hi = out["ci95"]
    if bounds is not None and lo is not None:
        out["ci95"] = [max(lo, bounds[0]), min(hi, bounds[1])]
    return {**out, "ci_method": "t over seeds", "per_seed": values}


def _figure(per_seed: list[dict], key: str) -> dict:
    """A {label: float} section of results.json, aggregated label by label."""
    labels = per_seed[0].get(key, {})
    return {label: over_seeds([r[key].get(label) for r in per_seed]) for label in labels}


def _checkpoint(points: tuple[dict, ...]) -> dict:
    """One checkpoint step over seeds: each metric's mean, and its 95% CI under "ci95"."""
    names = [k for k in points[0] if k != "step"]
    stats = {k: over_seeds([p[k] for p in points], METRICS.get(k).range if k in METRICS else None)
             for k in names}
    return {"step": points[0]["step"], **{k: stats[k]["mean"] for k in names},
            "ci95": {k: stats[k]["ci95"] for k in names}}


def _model(per_seed: list[dict]) -> dict:
    first = per_seed[0]
    out = {"metrics": {}, "values": {}, "mia": {}}
    for name, m in first["metrics"].items():
        bounds = METRICS.get(name).range if name in METRICS else None
        out["metrics"][name] = {**over_seeds([r["metrics"][name]["mean"] for r in per_seed], bounds),
                                "direction": m["direction"]}
        out["values"][name] = [v for r in per_seed for v in r["values"][name]]
    for kind in first.get("mia", {}):
        out["mia"][kind] = {"auc_over_seeds": over_seeds([r["mia"][kind]["auc"] for r in per_seed])}
        out["mia"][kind]["auc"] = out["mia"][kind]["auc_over_seeds"]["mean"]
    checkpoints = [r.get("checkpoints") for r in per_seed]
    if checkpoints[0] and all(c and [p["step"] for p in c] == [p["step"] for p in checkpoints[0]]
                              for c in checkpoints):
        out["checkpoints"] = [_checkpoint(points) for points in zip(*checkpoints)]
    return out


def _removal(per_seed: list[dict]) -> dict:
    """One model's removal figures over seeds; a sequence's leak and utility after each
    request, element by element."""
    out = {"strategy": per_seed[0]["strategy"],
           **{k: over_seeds([r[k] for r in per_seed]) for k in REMOVAL_FIGURES
              if k != "strategy" and all(k in r for r in per_seed)}}
    if all("sequence" in r for r in per_seed):
        out["sequence"] = [
            {"request": steps[0]["request"],
             "leak": [over_seeds(list(v)) for v in zip(*(s["leak"] for s in steps))],
             "utility": over_seeds([s["utility"] for s in steps])}
            for steps in zip(*(r["sequence"] for r in per_seed))]
    return out


def aggregate(per_seed: dict[int, dict]) -> dict:
    """One results.json for a `seeds` run from the results of each seed (see module doc)."""
    seeds = list(per_seed)
    results = [per_seed[s] for s in seeds]
    first = results[0]
    methods = first["methods"] if "methods" in first else list(first["restoration"])
    labels = [label for label in first["models"] if all(label in r["models"] for r in results)]
    methods = [m for m in methods if m in labels]      # a method that diverged in a seed: out
    task = dict(task_of(first))
    if "strata" in task:               # entity -> stratum, per seed (targets differ by seed)
        task["strata"] = {f"{s}:{e}": label for s, r in zip(seeds, results)
                          for e, label in r["task"]["strata"].items()}
    out = {"config_hash": first["config_hash"], "seeds": seeds, "task": task,
           "methods": methods,
           "runs": {str(s): f"seed-{s}" for s in seeds},
           "items": {group: [[s, *item] if isinstance(item, list) else [s, item]
                             for s, r in zip(seeds, results) for item in r["items"][group]]
                     for group in first["items"]},
           "models": {label: _model([r["models"][label] for r in results])
                      for label in labels}}
    if "restoration" in first:
        out["restoration"] = _figure(results, "restoration")
    out["mia_orientation"] = first["mia_orientation"]
    out["model_utility"] = _figure(results, "model_utility")
    out["oracle"] = first["oracle"]
    if first["oracle"]:
        out["forget_quality"] = _figure(results, "forget_quality")
        out["privacy_leak"] = {
            label: {kind: over_seeds([r["privacy_leak"].get(label, {}).get(kind) for r in results])
                    for kind in leak}
            for label, leak in first["privacy_leak"].items() if label in labels}
    if "avg_gap" in first:
        out["avg_gap"] = _figure(results, "avg_gap")
    if "removal" in first:
        out["removal"] = {label: _removal([x["removal"][label] for x in results])
                          for label in first["removal"] if label in labels}
    for key in ("failed", "flags"):           # per seed, as they were
        merged: dict[str, list[str]] = {}
        for s, r in zip(seeds, results):
            for label, notes in r.get(key, {}).items():
                merged.setdefault(label, []).extend(
                    f"seed {s}: {n}" for n in ([notes] if isinstance(notes, str) else notes))
        if merged:
            out[key] = merged
    warnings = [f"seed {s}: {w}" for s, r in zip(seeds, results) for w in r.get("warnings", [])]
    if warnings:
        out["warnings"] = warnings
    if task.get("strata"):
        out["strata_comparisons"] = strata_comparisons(out)
    out["comparisons"] = paired_comparisons(out)
    out["head_to_head"] = head_to_head(out["models"], methods, task_of(out)["primary"])
    return out
