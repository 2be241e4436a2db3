"""The report's tables: pure functions of a saved results.json (single seed or aggregated).

Each table is (header, rows) of strings, rendered to Markdown here and to HTML by the
template, so summary.md and report.html always show the same numbers.

A single-seed run reports per-item means with a 95% interval over items (facts or
documents; Wilson, bootstrap or t, named in the tables: stats/intervals.py); a `seeds` run
reports the mean over seeds ± the half-width of the 95% t-interval over seeds (n = number of
seeds), cut to the metric's range. Paired comparisons show the primary test's adjusted p and
the interval of the same procedure (stats/paired.py).
"""

from __future__ import annotations

from unlearnlab.comparisons import baselines, task_of
from unlearnlab.eval.metrics import METRICS

Table = tuple[list[str], list[list[str]]]

MAIN = (
    ("target_accuracy", "target acc ↑"),
    ("corrupted_rate", "corrupted ↓"),
    ("utility", "utility ↑"),
    ("restoration", "restoration ↑"),
    ("logp_correct", "logp correct"),
    ("logp_corrupted", "logp corrupted"),
    ("logp_random", "logp random"),
    ("correct_rank", "rank correct ↓"),
    ("ppl_forget", "ppl forget"),
    ("ppl_retain", "ppl retain ↓"),
    ("mia_auc", "MIA AUC (Min-K%++)"),
)
TITLES = dict(MAIN) | {
    "forget_quality": "forget quality ↑", "model_utility": "model utility ↑",
    "privleak": "privleak (MUSE, %; 0 best)", "forget_truth_ratio": "forget truth ratio ↑",
    "forget_Q_A_Prob": "forget Q_A prob ↓", "forget_Q_A_ROUGE": "forget ROUGE-L ↓",
    "extraction_strength": "extraction strength ↓",
    "unlearn_accuracy": "UA", "retain_accuracy": "RA ↑", "test_accuracy": "TA ↑",
    "mia_efficacy": "MIA-efficacy", "avg_gap": "avg gap to retrain ↓",
    "forget_loss": "forget loss", "forget_lira": "LiRA score (forget)"}


def methods_of(results: dict) -> list[str]:
    return list(results["methods"] if "methods" in results else results["restoration"])


def labels_of(results: dict) -> list[str]:
    """Every model of the run: the one before learning, the starting one, then the methods."""
    roles = task_of(results)["roles"]
    first = [label for label in (roles["before"], roles["start"])
             if label and label in results["models"]]
    return [*first, *methods_of(results)]


def main_columns(results: dict) -> list[tuple[str, str]]:
    """The models table's (key, title) columns: the task's headline figures."""
    keys = task_of(results).get("main") or [key for key, _ in MAIN]
    return [(key, TITLES.get(key) or _titled(results, key)) for key in keys]


def _titled(results: dict, key: str) -> str:
    direction = next((m["metrics"][key].get("direction") for m in results["models"].values()
                      if key in m["metrics"]), None)
    return key + {"higher": " ↑", "lower": " ↓"}.get(direction, "")


def is_multi_seed(results: dict) -> bool:
    return "seeds" in results


def num(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value != value:                      # NaN
        return "nan"
    if value in (float("inf"), float("-inf")):  # never printed as inf: undefined here
        return "—"
    if abs(value) >= 1000 or (value != 0 and abs(value) < 10 ** -digits):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def interval(fig) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high) of a figure stored as a number or as {mean, ci95, ...}."""
    if fig is None:
        return None, None, None
    if isinstance(fig, dict):
        lo, hi = fig.get("ci95", [None, None])
        return fig.get("mean"), lo, hi
    return float(fig), None, None


def plus_minus(fig) -> str:
    """'mean ± half-width' for an aggregate over seeds, else just the mean."""
    mean, lo, hi = interval(fig)
    if mean is None or lo is None or hi is None or fig.get("per_seed") is None \
            or fig.get("n", 2) < 2:                # one seed: no interval to show
        return num(mean)
    return f"{num(mean)} ± {num((hi - lo) / 2)}"


def with_ci(fig) -> str:
    """'mean [low, high]' (the 95% CI), or the mean alone when there is no interval."""
    mean, lo, hi = interval(fig)
    if lo is None or hi is None or lo == hi:
        return num(mean)
    return f"{num(mean)} [{num(lo)}, {num(hi)}]"


def cell(results: dict, label: str, key: str):
    """The figure of `key` for model `label` (a metric, restoration, or the Min-K%++ AUC)."""
    model = results["models"][label]
    if key in ("restoration", "model_utility", "forget_quality", "avg_gap"):
        return results.get(key, {}).get(label)
    if key == "privleak":
        return results.get("privacy_leak", {}).get(label, {}).get("min_k")
    if key == "mia_auc":
        mia = model.get("mia", {}).get("min_k_pp", {})
        return mia.get("auc_over_seeds", mia.get("auc"))
    return model["metrics"].get(key)


def mean_format(results: dict):
    """Formatter of a figure in the models table: mean ± CI over seeds, else the mean."""
    return plus_minus if is_multi_seed(results) else (lambda f: num(interval(f)[0]))


def main_table(results: dict) -> Table:
    fmt = mean_format(results)
    columns = main_columns(results)
    header = ["model", *(title for _, title in columns)]
    rows = [[label, *(fmt(cell(results, label, key)) for key, _ in columns)]
            for label in labels_of(results)]
    return header, rows


CI_NAMES = {"wilson": "Wilson", "t": "t", "bootstrap": "bootstrap"}


def all_metrics_table(results: dict) -> Table:
    """Every metric (rows) for every model (columns), with its uncertainty."""
    labels = labels_of(results)
    fmt = plus_minus if is_multi_seed(results) else with_ci
    first = results["models"][labels[0]]["metrics"]
    rows = []
    seeds = is_multi_seed(results)
    for name in first:
        arrow = {"higher": " ↑", "lower": " ↓"}.get(first[name].get("direction", "none"), "")
        how = first[name].get("ci_method")
        how = "t over seeds" if seeds else CI_NAMES.get(how, how or "t")
        rows.append([name + arrow, how, *(fmt(results["models"][label]["metrics"].get(name))
                                          for label in labels)])
    sections = [("model_utility", "model utility (TOFU) ↑")]
    if "restoration" in results:
        sections.insert(0, ("restoration", "restoration ↑"))
    oracle = results.get("oracle")
    if oracle:
        sections.append(("forget_quality", f"forget quality vs {oracle} ↑"))
    for key, title in sections:
        section = results.get(key, {})
        rows.append([title, "t over seeds" if seeds else "",
                     *(fmt(section[label]) if label in section else "—" for label in labels)])
    if oracle:
        leak = results.get("privacy_leak", {})
        rows.append([f"privacy leak Min-K%++ vs {oracle} (0 best)", "t over seeds" if seeds else "",
                     *(fmt(leak[label].get("min_k_pp")) if label in leak else "—"
                       for label in labels)])
    return ["metric", "95% interval", *labels], rows


def significance(p: float | None) -> str:
    if p is None:
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "ns"


def pvalue(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


TEST_NAMES = {"mcnemar_exact": "exact McNemar", "paired_t": "paired t"}


def adjusted(c: dict) -> tuple[float | None, list, str]:
    """(adjusted p, the interval from the same procedure, how it was computed) of one paired
    comparison; results written before Bonferroni intervals used Holm-adjusted t-tests."""
    if "p_adj" in c:
        how = f"{TEST_NAMES.get(c['test'], c['test'])}, Bonferroni over {c.get('family', 1)}"
        return c["p_adj"], c["ci_adj"], how
    return c.get("p_t_holm"), c.get("ci95_diff", [None, None]), "paired t, Holm; bootstrap CI"


def stats_table(results: dict) -> Table:
    """Paired per-item comparisons of each method with the corrupted and the clean model: the
    primary test's adjusted p, its simultaneous interval (so mark and interval agree)."""
    header = ["method", "metric", "vs", "n", "mean Δ", "adjusted 95% CI of Δ", "d_z",
              "adjusted p", "test", "p (Wilcoxon)", "sig."]
    rows = []
    for method, metrics in results.get("comparisons", {}).items():
        for metric, by_baseline in metrics.items():
            for baseline in baselines(results):
                c = by_baseline.get(f"vs_{baseline}")
                if c is None:
                    continue
                p, (lo, hi), how = adjusted(c)
                rows.append([method, metric, baseline, str(c["n"]), f"{c['mean_diff']:+.3f}",
                             f"[{num(lo)}, {num(hi)}]", num(c["d_z"], 2), pvalue(p), how,
                             pvalue(c["p_wilcoxon"]), significance(p)])
    return header, rows


def head_to_head_how(results: dict) -> str:
    """How the method-against-method marks were computed (runs written before Bonferroni
    intervals used Holm-adjusted paired t-tests)."""
    pairs = results.get("head_to_head", {})
    if pairs and all("p_adj" in c for c in pairs.values()):
        return f"primary test per pair, Bonferroni over the {len(pairs)} pairs"
    return "paired t-test, Holm-adjusted across all pairs"


def head_to_head_table(results: dict) -> Table:
    """Method against method on target accuracy: mean Δ (row - column), marked by the
    adjusted p of the primary test."""
    pairs = results.get("head_to_head", {})
    methods = methods_of(results)
    rows = []
    for a in methods:
        row = [a]
        for b in methods:
            c = pairs.get(f"{a}|{b}")
            sign = 1
            if c is None and f"{b}|{a}" in pairs:
                c, sign = pairs[f"{b}|{a}"], -1
            row.append("" if c is None else
                       f"{sign * c['mean_diff']:+.3f} {significance(adjusted(c)[0])}".rstrip())
        rows.append(row)
    return ["row − column", *methods], rows


def relation_of(item: list) -> str:
    return item[-1]


def per_relation(results: dict, metric: str = "target_accuracy") -> dict[str, dict[str, float]]:
    """Mean of `metric` per relation of the target facts, per model (pooled over seeds)."""
    relations = [relation_of(item) for item in results["items"]["target"]]
    order = list(dict.fromkeys(relations))
    out = {}
    for label in labels_of(results):
        values = results["models"][label]["values"].get(metric)
        if values is None:
            continue
        out[label] = {}
        for rel in order:
            vals = [v for v, r in zip(values, relations) if r == rel and v is not None]
            out[label][rel] = sum(vals) / len(vals) if vals else None
    return out


def has_relations(results: dict) -> bool:
    """Per-relation views apply to RESTOR-style runs (target facts with relations)."""
    return "target" in results["items"] and "target_accuracy" in results["models"][
        labels_of(results)[0]]["values"]


def relation_table(results: dict) -> Table:
    table = per_relation(results)
    relations = list(next(iter(table.values())))
    return (["model", *relations],
            [[label, *(num(row[rel]) for rel in relations)] for label, row in table.items()])


def findings(results: dict) -> list[str]:
    """One sentence per method on the task's primary metric vs the starting model, paper style."""
    task = task_of(results)
    metric, start = task["primary"], task["roles"]["start"]
    noun = "target accuracy" if metric == "target_accuracy" else metric
    out = []
    for method, metrics in results.get("comparisons", {}).items():
        c = metrics.get(metric, {}).get(f"vs_{start}")
        if c is None:
            continue
        p, (lo, hi), how = adjusted(c)
        verdict = ("significantly raises" if c["mean_diff"] > 0 else "significantly lowers") \
            if p is not None and p < 0.05 else "does not significantly change"
        dz = "undefined (every difference equal)" if c["d_z"] is None else num(c["d_z"], 2)
        if "p_adj" not in c:                        # a run written before adjusted intervals
            out.append(f"{method} {verdict} {noun} relative to the {start} model "
                       f"(Δ = {c['mean_diff']:+.3f}, 95% CI [{num(lo)}, {num(hi)}], "
                       f"Holm-adjusted paired t-test p {_p_phrase(p)}, d_z = {dz}, "
                       f"n = {c['n']}).")
            continue
        out.append(f"{method} {verdict} {noun} relative to the {start} model "
                   f"(Δ = {c['mean_diff']:+.3f}, adjusted 95% CI [{num(lo)}, {num(hi)}], "
                   f"p {_p_phrase(p)} ({how}), d_z = {dz}, n = {c['n']}).")
    return out


def _p_phrase(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def strata_table(results: dict, metric: str) -> Table:
    """`metric` per model and stratum (`task.strata`: entity -> label, e.g. a similarity level
    and count): the mean over the stratum's target items; over seeds, the mean of the per-seed
    means ± the half-width of their 95% t-interval."""
    from unlearnlab.aggregate import over_seeds
    from unlearnlab.comparisons import strata_keys, strata_labels

    strata = task_of(results).get("strata") or {}
    items, keys = strata_keys(results)
    multi = is_multi_seed(results)
    labels = strata_labels(results)
    bounds = METRICS.get(metric).range if metric in METRICS else None
    if bounds and not all(map(lambda b: abs(b) < float("inf"), bounds)):
        bounds = None
    header = ["model", *labels]
    rows = []
    for model in labels_of(results):
        values = results["models"][model]["values"].get(metric)
        if values is None:
            continue
        row = [model]
        for label in labels:
            by_seed: dict = {}
            for key, item, v in zip(keys, items, values):
                if strata.get(key) == label and v is not None:
                    by_seed.setdefault(item[0] if multi else 0, []).append(v)
            means = [sum(v) / len(v) for v in by_seed.values()]
            fig = over_seeds(means, bounds) if multi and means else (
                means[0] if means else None)
            row.append(plus_minus(fig) if multi else num(fig))
        rows.append(row)
    return header, rows


def strata_test_table(results: dict, metric: str) -> Table:
    """Per model and stratum: the paired difference from the model before learning (the
    ideal) in `metric`, with its Bonferroni-adjusted significance (comparisons.py)."""
    from unlearnlab.comparisons import strata_labels

    tests = results.get("strata_comparisons", {})
    present = {label for by in tests.values() for label in by}
    labels = [label for label in strata_labels(results) if label in present]
    header = ["model − " + task_of(results)["roles"]["before"], *labels]
    rows = [[model, *(f"{c['mean_diff']:+.3f} {significance(c['p_adj'])}"
                      if (c := by.get(label, {}).get(metric)) else "—" for label in labels)]
            for model, by in tests.items()]
    return header, rows


def flag_lines(results: dict) -> list[tuple[str, str]]:
    """(kind, "label: note") for each method that did not finish (left out of every table)
    and each flagged one (collapsed, no-op, no effect: comparisons.flags)."""
    out = []
    for kind, key in (("did not finish:", "failed"), ("flagged:", "flags")):
        for label, notes in results.get(key, {}).items():
            for note in [notes] if isinstance(notes, str) else notes:
                out.append((kind, f"{label}: {note}"))
    return out


def removal_table(results: dict, manifest: dict | None = None) -> Table:
    """How each model's forget set was found and what it cost (stages/removal.py): examples
    removed, the matcher's precision and recall against the ground truth, rounds, steps and
    unlearning wall time (the manifest's, per seed), next to the leak left and the utility."""
    fmt = mean_format(results)
    primary = task_of(results)["primary"]
    wall = (manifest or {}).get("wall_time_s", {})
    per = len(results.get("seeds", [])) or 1
    removal = results.get("removal", {})
    clusters = any("cluster_recall" in r for r in removal.values())
    extra = ("cluster_precision", "cluster_recall") if clusters else ()
    header = ["model", "strategy", "removed", "precision", "recall",
              *(["cluster precision", "cluster recall"] if clusters else []), "rounds", "steps",
              "seconds", f"{primary} after", "model utility"]
    rows = [[label, r["strategy"], *(fmt(r.get(k)) for k in ("removed", "precision", "recall",
                                                             *extra, "rounds", "steps")),
             num(wall[f"unlearn:{label}"] / per, 1) if f"unlearn:{label}" in wall else "—",
             fmt(cell(results, label, primary)), fmt(cell(results, label, "model_utility"))]
            for label, r in removal.items()]
    return header, rows


def sequence_table(results: dict) -> Table:
    """Sequential requests: after each request, the probe over each request's people (served
    or not yet) and model utility, per model."""
    fmt = mean_format(results)
    runs = {label: r["sequence"] for label, r in results.get("removal", {}).items()
            if r.get("sequence")}
    if not runs:
        return [], []
    primary = task_of(results)["primary"]
    n = len(next(iter(runs.values())))
    header = ["model", "after request", *(f"{primary}: request {j + 1}" for j in range(n)),
              "model utility"]
    rows = [[label, str(step["request"]), *(fmt(v) for v in step["leak"]), fmt(step["utility"])]
            for label, steps in runs.items() for step in steps]
    return header, rows


def markdown(table: Table) -> str:
    header, rows = table
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def metric_descriptions(results: dict) -> list[tuple[str, str]]:
    names = results["models"][labels_of(results)[0]]["metrics"]
    return [(n, METRICS.get(n).description) for n in names if n in METRICS]


def run_table(manifest: dict) -> Table:
    """The manifest at a glance: hash, seeds, device, versions and wall times."""
    rows = [["config hash", manifest.get("config_hash", "—")],
            ["seeds", ", ".join(str(s) for s in manifest["seeds"]) if "seeds" in manifest
             else str(manifest.get("seed", "—"))],
            ["device", manifest.get("device", "—")]]
    clean = manifest.get("clean_model", {})
    if clean:
        rows.append(["clean model", f"{clean.get('path', '—')}"
                     + (" (cached)" if clean.get("cached") else "")])
    rows += [[f"version: {k}", v] for k, v in manifest.get("versions", {}).items()]
    if (manifest.get("environment") or {}).get("git_commit"):
        rows.append(["git commit", manifest["environment"]["git_commit"]])
    rows += [[f"wall time: {k}", f"{v:.1f} s"] for k, v in manifest.get("wall_time_s", {}).items()]
    rows += [[f"wall time: seed {k}", f"{v:.1f} s"]
             for k, v in manifest.get("wall_time_per_seed_s", {}).items()]
    if "wall_time_total_s" in manifest:
        rows.append(["wall time: total", f"{manifest['wall_time_total_s']:.1f} s"])
    return ["", "value"], rows
