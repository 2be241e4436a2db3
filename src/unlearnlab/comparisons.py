"""Cross-model figures of one run, from per-model results only (no model is run here):
restoration, model utility, forget quality and privacy leak against the oracle, and paired
per-item comparisons of every method against the corrupted and the clean model."""

from __future__ import annotations

from unlearnlab.eval.metrics import restoration
from unlearnlab.eval.mia import ORIENTATION, privacy_leak
from unlearnlab.eval.tofu import forget_quality, model_utility
from unlearnlab.stats import paired_comparison


# what results.json's "removal" keeps of each model's removal (stages/removal.py)
REMOVAL_FIGURES = ("strategy", "removed", "precision", "recall", "cluster_precision",
                   "cluster_recall", "rounds", "steps")

DEFAULT_TASK = {"roles": {"before": "clean", "start": "corrupted"},
                "compared": ["target_accuracy", "logp_correct", "ppl_forget", "ppl_retain",
                             "membership_forget"],
                "primary": "target_accuracy", "restoration": True,
                "utility": ["probability_utility", "truth_score_utility", "rougeL_recall_utility"],
                "forget_quality": "truth_ratio_target", "oracle_fallback": "clean"}


def task_of(results: dict) -> dict:
    """The task section of results.json (runs written before tasks existed were `world`)."""
    return results.get("task") or {"name": "world", **DEFAULT_TASK}


def baselines(results: dict) -> list[str]:
    """The models every method is compared with: the starting model, then the one before it."""
    roles = task_of(results)["roles"]
    return [label for label in (roles["start"], roles["before"])
            if label and label in results["models"]]


def compare_models(results: dict) -> None:
    """Cross-model figures, from per-model results only: restoration (RESTOR tasks), model
    utility, and against the oracle forget quality and privacy leak. The oracle is `retrain`
    when it ran, else the task's stand-in (RESTOR: the clean model, which is exactly what
    retraining without the forget set gives with the same seed: retrain with seed_offset 0
    reproduces it bit for bit), else none."""
    task, models, methods = task_of(results), results["models"], results["methods"]
    roles = task["roles"]
    if task.get("restoration") and roles["before"] in models and roles["start"] in models:
        acc = {k: v["metrics"][task["primary"]]["mean"] for k, v in models.items()}
        results["restoration"] = {name: restoration(acc[name], acc[roles["before"]],
                                                    acc[roles["start"]]) for name in methods}
    results["mia_orientation"] = ORIENTATION
    results["model_utility"] = {
        label: model_utility({k: v["mean"] for k, v in m["metrics"].items()}, task["utility"])
        for label, m in models.items()}
    oracle = "retrain" if "retrain" in methods else task.get("oracle_fallback")
    results["oracle"] = oracle if oracle in models else None
    if results["oracle"]:
        ref, fq = models[results["oracle"]], task["forget_quality"]
        results["forget_quality"] = {
            label: forget_quality(m["values"][fq], ref["values"][fq])
            for label, m in models.items() if label != oracle and fq in m["values"]}
        results["privacy_leak"] = {
            label: {kind: privacy_leak(v["auc"], ref["mia"][kind]["auc"])
                    for kind, v in m["mia"].items()}
            for label, m in models.items() if label != oracle and m["mia"]}
    removal = {label: {k: m["info"]["removal"][k] for k in (*REMOVAL_FIGURES, "sequence")
                       if k in m["info"]["removal"]}
               for label, m in models.items() if "removal" in m.get("info", {})}
    if any(r["strategy"] != "exact" for r in removal.values()):
        results["removal"] = removal
    results["flags"] = flags(results)
    if task.get("gap_metrics") and results["oracle"]:
        results["avg_gap"] = average_gaps(results)
    if task.get("strata"):
        results["strata_comparisons"] = strata_comparisons(results)
    results["comparisons"] = paired_comparisons(results)
    results["head_to_head"] = head_to_head(models, methods, task["primary"])


def average_gaps(results: dict) -> dict[str, float | None]:
    """SalUn's average gap to the oracle over the task's `gap_metrics` (metric means), per
    model other than the oracle (eval/images.average_gap)."""
    from unlearnlab.eval.images import average_gap

    models, oracle, names = results["models"], results["oracle"], task_of(results)["gap_metrics"]
    ref = {k: v["mean"] for k, v in models[oracle]["metrics"].items()}
    return {label: average_gap({k: v["mean"] for k, v in m["metrics"].items()}, ref, names)
            for label, m in models.items() if label != oracle}


STRATA_METRICS = ("corrupted_rate", "target_accuracy")   # read per stratum (task.strata)


def strata_metrics(results: dict) -> tuple[str, ...]:
    """The metrics read per stratum: the task's `strata_metrics`, else similar_text's."""
    return tuple(task_of(results).get("strata_metrics") or STRATA_METRICS)


def strata_labels(results: dict) -> list[str]:
    """The strata ("level xcount"), in the task's `strata_order` of levels (else by name),
    then by count."""
    task = task_of(results)
    order = task.get("strata_order") or []

    def key(label: str):
        level, _, count = label.rpartition(" x")
        level = level or label
        return (order.index(level) if level in order else len(order), level,
                int(count) if count.isdigit() else 0)
    return sorted(set(task.get("strata", {}).values()), key=key)


def strata_keys(results: dict) -> tuple[list, list[str]]:
    """(the items of the task's stratified group, each item's key into task.strata)."""
    items = results["items"][task_of(results).get("strata_group", "target")]
    return items, [f"{i[0]}:{i[1]}" if "seeds" in results else i[0] for i in items]


def strata_comparisons(results: dict) -> dict:
    """Per model (the starting one and every method), stratum and strata metric: the
    paired per-item comparison with the model before learning (similar_text, similar_images:
    the ideal), over the stratum's items (pooled over seeds), Bonferroni over models x strata."""
    task, models = task_of(results), results["models"]
    strata, before = task["strata"], task["roles"]["before"]
    _, keys = strata_keys(results)
    labels = strata_labels(results)
    compared = [m for m in [task["roles"]["start"], *results["methods"]] if m in models]
    out: dict = {}
    for model in compared:
        for metric in strata_metrics(results):
            a, b = models[model]["values"].get(metric), models[before]["values"].get(metric)
            if a is None or b is None:
                continue
            for label in labels:
                idx = [j for j, k in enumerate(keys) if strata.get(k) == label]
                out.setdefault(model, {}).setdefault(label, {})[metric] = paired_comparison(
                    [a[j] for j in idx], [b[j] for j in idx], family=len(compared) * len(labels))
    return out


COLLAPSE_SHARE = 0.1      # model utility below this share of the starting model's: collapsed
NOOP_BELOW = 1e-4         # parameters moved less than this, relative: a no-op


def flags(results: dict) -> dict[str, list[str]]:
    """Per method, what makes its numbers suspect, so no table ranks it silently:
    collapsed (model utility < COLLAPSE_SHARE x the starting model's), no-op (parameters moved
    < NOOP_BELOW relative to the starting model: ||theta - theta_0|| / ||theta_0||), or no
    effect (every item's primary metric exactly as under the starting model)."""
    task, models = task_of(results), results["models"]
    start, primary = task["roles"]["start"], task["primary"]
    utility = results.get("model_utility", {})
    out: dict[str, list[str]] = {}
    for label in results["methods"]:
        notes = []
        u, u0 = utility.get(label), utility.get(start)
        if u is not None and u0 and u < COLLAPSE_SHARE * u0:
            notes.append(f"collapsed: model utility {u:.3f}, {u / u0:.0%} of the {start} "
                         f"model's {u0:.3f}")
        change = models[label].get("info", {}).get("param_change")
        if change is not None and change < NOOP_BELOW:
            notes.append(f"no-op: its parameters moved {change:.1e} (relative) from the {start} "
                         "model's")
        values, base = models[label]["values"].get(primary), models.get(start, {}).get(
            "values", {}).get(primary)
        if values and values == base:
            notes.append(f"no effect: every item's {primary} is as under the {start} model")
        if notes:
            out[label] = notes
    return out


def paired_comparisons(results: dict) -> dict:
    """Per method and compared metric, paired per item (fact, question or document) against
    the starting and the before model: the primary test for the outcome's kind (exact McNemar
    for right/wrong answers, paired t otherwise) with its CI, Bonferroni-adjusted over the
    methods (one family per metric and baseline); see stats/paired.py."""
    models, methods = results["models"], results["methods"]
    out: dict = {name: {} for name in methods}
    for metric in task_of(results)["compared"]:
        for baseline in baselines(results):
            if metric not in models[baseline]["values"]:
                continue
            members = [name for name in methods if metric in models[name]["values"]]
            for name in members:
                out[name].setdefault(metric, {})[f"vs_{baseline}"] = paired_comparison(
                    models[name]["values"][metric], models[baseline]["values"][metric],
                    family=len(members))
    return out


def head_to_head(models: dict, methods, metric: str) -> dict:
    """Every pair of methods "a|b" (a before b in the run's order), paired per item on
    `metric` (a - b), Bonferroni-adjusted across all pairs: "does NPO restore more than GA?"."""
    methods = [m for m in methods if metric in models[m]["values"]]
    pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]]
    return {f"{a}|{b}": paired_comparison(models[a]["values"][metric], models[b]["values"][metric],
                                          family=len(pairs))
            for a, b in pairs}
