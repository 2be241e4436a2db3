"""`unlearnlab compare RUN_A RUN_B ...`: several finished runs side by side, from their saved
results only (report.html and summary.md in the output folder)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from unlearnlab.comparisons import task_of
from unlearnlab.errors import UserError
from unlearnlab.report import figures, tables
from unlearnlab.report.figures import STYLE, Rendered, export
from unlearnlab.runs import atomic_write_bytes, atomic_write_text
from unlearnlab.stats.paired import paired_comparison

RESTOR_COLUMNS = ("target_accuracy", "corrupted_rate", "utility", "restoration", "ppl_forget",
                  "mia_auc")
MARKERS = "osD^vP*Xhp"


def run_names(runs) -> list[str]:
    """Each run's folder name, or parent/name where two folders share a name."""
    names = [r.path.name for r in runs]
    return [f"{r.path.parent.name}/{r.path.name}" if names.count(r.path.name) > 1 else r.path.name
            for r in runs]


def runs_table(runs, names) -> tables.Table:
    rows = []
    for name, run in zip(names, runs):
        seeds = run.results.get("seeds")
        rows.append([name, run.manifest.get("config_hash", "—"),
                     ", ".join(map(str, seeds)) if seeds else str(run.results.get("seed", "—")),
                     task_of(run.results)["name"], _questions(run.results),
                     f"{run.manifest.get('wall_time_total_s', 0):.1f} s"])
    return ["run", "config hash", "seeds", "task", "questions", "wall time"], rows


def _flatten(tree, prefix: str = "") -> dict[str, str]:
    """Dotted keys of a nested config -> a printable value (lists and scalars as YAML-ish text)."""
    if isinstance(tree, dict):
        out: dict[str, str] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: "[" + ", ".join(map(str, tree)) + "]" if isinstance(tree, list)
            else str(tree)}


def config_differences(runs, names) -> tables.Table:
    """The config keys whose values differ between the runs (run names and the paths of
    folders left out): what was changed from one run to the next."""
    flat = [_flatten(r.manifest.get("config", {})) for r in runs]
    keys = sorted({k for f in flat for k in f} - {"name", "runs_dir"})
    rows = [[key, *(f.get(key, "—") for f in flat)] for key in keys
            if len({f.get(key, "—") for f in flat}) > 1]
    return ["config key", *names], rows


def _questions(results: dict) -> str:
    items = results["items"]
    if "target" in items:
        return f"{len(items['target'])} target facts"
    return ", ".join(f"{len(v)} {k}" for k, v in items.items() if not k.endswith("_docs"))


def columns(runs) -> list[tuple[str, str]]:
    """The first run's headline columns (RESTOR runs: a compact subset)."""
    main = tables.main_columns(runs[0].results)
    if "restoration" in dict(main):
        return [(k, t) for k, t in main if k in RESTOR_COLUMNS]
    return main


def side_by_side(runs, names) -> tables.Table:
    cols = columns(runs)
    rows = []
    for name, run in zip(names, runs):
        fmt = tables.mean_format(run.results)
        for label in tables.labels_of(run.results):
            rows.append([name, label, *(fmt(tables.cell(run.results, label, key))
                                        if key in run.results["models"][label]["metrics"]
                                        or key in ("restoration", "mia_auc", "model_utility",
                                                   "forget_quality", "privleak") else "—"
                                        for key, _ in cols)])
    return ["run", "model", *(title for _, title in cols)], rows


def same_items(a: dict, b: dict) -> bool:
    """Whether two runs scored the same items in the same order (so values pair up)."""
    return a["items"] == b["items"]


def between_runs(runs, names) -> tuple[tables.Table, list[str]]:
    """Paired tests of each later run against the first, model by model, on the task's
    compared metrics, where both runs scored the same items: the primary test (exact McNemar
    for right/wrong outcomes, paired t otherwise), Bonferroni over every comparison in the
    table. Returns the table and a note per run whose items do not match."""
    ref, ref_name = runs[0].results, names[0]
    todo, notes = [], []
    for name, run in zip(names[1:], runs[1:]):
        if not same_items(ref, run.results):
            notes.append(f"{name} scored other items than {ref_name}: no paired test")
            continue
        for label in tables.labels_of(run.results):
            if label not in ref["models"]:
                continue
            for metric in task_of(run.results)["compared"]:
                a = run.results["models"][label]["values"].get(metric)
                b = ref["models"][label]["values"].get(metric)
                if a is not None and b is not None and None not in a and None not in b:
                    todo.append((name, label, metric, a, b))
    rows = []
    for name, label, metric, a, b in todo:
        c = paired_comparison(a, b, family=len(todo))
        p, (lo, hi), how = tables.adjusted(c)
        rows.append([name, label, metric, str(c["n"]), f"{c['mean_diff']:+.3f}",
                     f"[{tables.num(lo)}, {tables.num(hi)}]", tables.num(c["d_z"], 2),
                     tables.pvalue(p), how, tables.significance(p)])
    header = ["run", "model", "metric", "n", f"mean Δ (run − {ref_name})",
              "adjusted 95% CI of Δ", "d_z", "adjusted p", "test", "sig."]
    return (header, rows), notes


def tradeoff_across_runs(runs, names) -> Rendered:
    """Restoration vs utility: colour = method, marker = run."""
    labels = list(dict.fromkeys(m for r in runs for m in tables.labels_of(r.results)))
    palette = figures.colors(runs[0].results, labels)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        texts = []
        for k, (name, run) in enumerate(zip(names, runs)):
            marker = MARKERS[k % len(MARKERS)]
            for m in tables.methods_of(run.results):
                x = tables.interval(run.results["restoration"].get(m))[0]
                y = tables.interval(run.results["models"][m]["metrics"]["utility"])[0]
                if x is None or y is None:
                    continue
                ax.scatter([x], [y], marker=marker, color=palette[m], zorder=3)
                texts.append(ax.text(x, y, m, fontsize=7, color=palette[m]))
            ax.scatter([], [], marker=marker, color="#555", label=name)
        figures.place_labels(ax, texts)
        ax.axvline(0, color="#999", lw=0.8)
        ax.axvline(1, color="#999", lw=0.8, ls="--")
        ax.set_xlabel("restoration")
        ax.set_ylabel("utility")
        ax.set_title("Restoration vs utility across runs (marker = run)")
        ax.legend(fontsize=7, frameon=False)
        return export(fig)


def compare(run_dirs: list[str | Path], out_dir: str | Path) -> tuple[Path, str]:
    """Write report.html and summary.md comparing `run_dirs` into `out_dir`; returns the
    folder and the Markdown table."""
    from unlearnlab.report import _environment, embeddable, load_run

    if len(run_dirs) < 2:
        raise UserError("compare needs at least two run directories, e.g. "
                        "unlearnlab compare runs/a runs/b")
    runs = [load_run(d) for d in run_dirs]
    names = run_names(runs)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for report.html and summary.md")
    if any(out.resolve() == r.path.resolve() for r in runs):
        raise UserError(f"--out {out} is one of the compared runs; choose another folder")
    headline = (f"{len(runs)} runs side by side: {', '.join(names)}. Runs with seeds show the "
                "mean over seeds ± half-width of the 95% CI.")
    figs = []
    if all("restoration" in r.results for r in runs):
        figs.append({"id": "tradeoff", "title": "Restoration against utility",
                     "caption": "Each method of each run; colour = method, marker = run.",
                     **tradeoff_across_runs(runs, names)})
    overview, rows = runs_table(runs, names), side_by_side(runs, names)
    diffs = config_differences(runs, names)
    paired, notes = between_runs(runs, names)
    lead = (f"Per item, each run's model minus the same model in {names[0]}, where both runs "
            "scored the same items; exact McNemar for right/wrong answers, paired t otherwise; "
            f"p and interval Bonferroni-adjusted over the {len(paired[1])} comparisons.")
    html = _environment().get_template("compare.html.j2").render(
        title="unlearnlab comparison", headline=headline, runs=overview, side_by_side=rows,
        differences=diffs, paired=paired, paired_lead=lead, paired_notes=notes,
        figures=[embeddable(f) for f in figs])
    what = (["## What differs", "", tables.markdown(diffs), ""] if diffs[1] else
            ["The runs' configs are identical (apart from their names).", ""])
    tests = ["## Paired tests between runs", "", lead, "", *notes, *([""] if notes else []),
             *([tables.markdown(paired), ""] if paired[1] else [])]
    markdown = "\n".join(["# unlearnlab comparison", "", headline, "",
                          tables.markdown(overview), "", *what, tables.markdown(rows), "",
                          *tests])
    for f in figs:
        atomic_write_bytes(out / "figures" / f"{f['id']}.pdf", f["pdf"])
    atomic_write_text(out / "summary.md", markdown)
    atomic_write_text(out / "report.html", html)
    return out, markdown
