"""The report's plots (matplotlib, Agg): each a pure function of saved results -> the
figure as PNG (embedded in report.html) and PDF (figures/<id>.pdf, for papers).

Both are written without a timestamp or software tag, so the same results render to the
same bytes (`unlearnlab report` re-renders a run identically).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.ticker  # noqa: E402

from unlearnlab.comparisons import strata_labels, strata_metrics, task_of  # noqa: E402
from unlearnlab.eval.metrics import METRICS  # noqa: E402
from unlearnlab.report.tables import interval, labels_of, methods_of, per_relation  # noqa: E402

DPI = 100
STYLE = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": DPI}
BEFORE, START = "#4c956c", "#c0392b"
# Methods: ten hues (tab10 without its red and green, which mean clean / corrupted here, plus
# two dark ones), then the same ten again drawn dashed with square markers, so up to 20
# methods stay distinguishable by colour and style together.
HUES = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
        "#17becf", "#000075", "#9a6324")
SOLID, DASHED = ("o", "-"), ("s", "--")


def colors(results: dict, labels: list[str] | None = None) -> dict[str, str]:
    """A stable colour per model: the model before learning green, the starting (e.g.
    corrupted) model red, methods from HUES (see `styles` for methods 11-20)."""
    roles = task_of(results)["roles"]
    fixed = {roles["before"]: BEFORE, roles["start"]: START}
    methods = [label for label in (labels or labels_of(results)) if label not in fixed]
    return {**fixed, **{m: HUES[i % len(HUES)] for i, m in enumerate(methods)}}


def styles(results: dict, labels: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """(marker, line style) per model: the first ten methods solid with circles, the next
    ten dashed with squares; clean and the starting model squares, solid."""
    roles = task_of(results)["roles"]
    fixed = {roles["before"]: ("s", "-"), roles["start"]: ("s", "-")}
    methods = [label for label in (labels or labels_of(results)) if label not in fixed]
    return {**fixed, **{m: SOLID if (i // len(HUES)) % 2 == 0 else DASHED
                        for i, m in enumerate(methods)}}


READABLE = {"target_accuracy": "target accuracy", "corrupted_rate": "corrupted-answer rate",
            "utility": "utility (other entities)", "ppl_forget": "perplexity of forget texts",
            "ppl_retain": "perplexity of retain texts", "ppl_holdout": "perplexity of held-out texts",
            "rougeL_recall_target": "ROUGE-L recall (target)",
            "rougeL_recall_utility": "ROUGE-L recall (utility)"}


def title_of(name: str) -> str:
    """A metric's readable name (READABLE, else its key in words) with the better
    direction's arrow."""
    metric = METRICS.get(name) if name in METRICS else None
    arrow = {"higher": " ↑", "lower": " ↓"}.get(metric.direction if metric else "", "")
    return READABLE.get(name, name.replace("_", " ")) + arrow


def unit_of(name: str) -> str:
    """The y-axis label of a metric's panel."""
    if name.startswith("ppl"):
        return "perplexity"
    if name.startswith("logp"):
        return "mean log-prob per token"
    metric = METRICS.get(name) if name in METRICS else None
    if metric and tuple(metric.range) == (0.0, 1.0):
        return "fraction of items (0-1)"
    return "mean over items"


def place_labels(ax, texts: list) -> list:
    """Move point labels apart so none overprints another or sits on a point (adjustText),
    with a thin leader line back to the point when a label moved. Where points crowd so
    that adjustText cannot separate every label, the labels go to a column beside the axes
    instead, in the points' vertical order, each joined to its point by a line. Returns the
    labels as drawn."""
    if len(texts) < 2:
        return texts
    from adjustText import adjust_text
    points = [t.get_position() for t in texts]
    xs, ys = zip(*points)
    ax.margins(x=0.12, y=0.12)                         # room for labels inside the frame
    adjust_text(texts, x=list(xs), y=list(ys), ax=ax, expand=(1.25, 1.5), max_move=None,
                iter_lim=2000, ensure_inside_axes=True,
                arrowprops={"arrowstyle": "-", "color": "#888", "lw": 0.5})
    if not overlapping_labels(ax.figure, texts):
        return texts
    for t in texts:                                    # the leader lines adjustText drew too
        t.remove()
    for patch in list(ax.patches):
        if isinstance(patch, matplotlib.patches.FancyArrowPatch):
            patch.remove()
    return _label_column(ax, [(t.get_text(), t.get_color(), xy) for t, xy in zip(texts, points)])


def _label_column(ax, labels: list[tuple[str, str, tuple[float, float]]]) -> list:
    """Labels stacked beside the axes at least one line apart, in the order of their
    points' heights, each with a line to its point."""
    to_axes = ax.transAxes.inverted()
    height = ax.get_window_extent().height                     # pixels
    line = 8 * 1.45 * ax.figure.dpi / 72 / height              # one 8 pt line, axes fraction
    heights = [float(to_axes.transform(ax.transData.transform(xy))[1]) for _, _, xy in labels]
    order = sorted(range(len(labels)), key=heights.__getitem__)
    placed = []
    for y in (heights[k] for k in order):
        placed.append(max(y, placed[-1] + line) if placed else y)
    overshoot = placed[-1] - 1.0 if placed and placed[-1] > 1.0 else 0.0
    placed = [y - overshoot for y in placed]                   # keep the column on the axes
    out = []
    for (text, color, xy), y in zip((labels[k] for k in order), placed):
        out.append(ax.text(1.04, y, text, transform=ax.transAxes, fontsize=8, color=color,
                           va="center", clip_on=False))
        ax.add_artist(matplotlib.patches.ConnectionPatch(
            xyA=(1.035, y), coordsA=ax.transAxes, xyB=xy, coordsB=ax.transData,
            color="#bbb", lw=0.5))
    return out


def overlapping_labels(fig, texts: list) -> list[tuple[str, str]]:
    """Pairs of labels whose rendered boxes intersect (the figures' test checks none do)."""
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
            if box_a.overlaps(box_b)]


Rendered = dict[str, bytes]                    # {"png": ..., "pdf": ...}
NO_STAMP = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None,
                                               "CreationDate": None}}


def export(fig) -> Rendered:
    """The figure as PNG and PDF bytes (no timestamps), then closed."""
    out = {}
    for fmt in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=DPI, bbox_inches="tight", metadata=NO_STAMP[fmt])
        out[fmt] = buf.getvalue()
    plt.close(fig)
    return out


def _errors(figs: list) -> tuple[list[float], list[list[float]] | None]:
    means, lows, highs = [], [], []
    for f in figs:
        mean, lo, hi = interval(f)
        means.append(float("nan") if mean is None else mean)
        lows.append(0.0 if lo is None or mean is None else max(0.0, mean - lo))
        highs.append(0.0 if hi is None or mean is None else max(0.0, hi - mean))
    return means, [lows, highs] if any(lows + highs) else None


def _group_offsets(n_models: int, series: int, width: float) -> list[float]:
    """x positions of series number `series` (of three) in each model's group."""
    return [i + (series - 1) * width for i in range(n_models)]


def _label_groups(ax, labels: list[str], ylabel: str, title: str) -> None:
    """Model names under the groups, and the series legend below the plot."""
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3, frameon=False)


def accuracy_bars(results: dict) -> Rendered:
    """Target accuracy, corrupted rate and utility per model, with 95% CIs."""
    labels = labels_of(results)
    keys = (("target_accuracy", "target accuracy", "#2e86ab"),
            ("corrupted_rate", "corrupted-answer rate", "#c0392b"),
            ("utility", "utility (other entities)", "#8d99ae"))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels) + 2), 3.6))
        width = 0.8 / len(keys)
        for j, (key, title, color) in enumerate(keys):
            means, err = _errors([results["models"][m]["metrics"].get(key) for m in labels])
            ax.bar(_group_offsets(len(labels), j, width), means, width, yerr=err, capsize=2,
                   label=title, color=color)
        ax.set_ylim(0, 1.05)
        _label_groups(ax, labels, "fraction of questions",
                      "Accuracy on target facts (clean / corrupted / unlearned) and utility")
        return export(fig)


def tradeoff(results: dict) -> Rendered:
    """Restoration (x) against utility (y) per method; corrupted sits at 0, clean at 1."""
    methods = methods_of(results)
    palette, style = colors(results), styles(results)
    roles = task_of(results)["roles"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        texts = []
        for label, x in ((roles["start"], 0.0), (roles["before"], 1.0)):
            (y, _lo, _hi) = interval(results["models"][label]["metrics"]["utility"])
            ax.scatter([x], [y], marker="s", color=palette[label], zorder=3)
            texts.append(ax.text(x, y, label, fontsize=8))
        for m in methods:
            (xs, xerr) = _errors([results["restoration"].get(m)])
            (ys, yerr) = _errors([results["models"][m]["metrics"]["utility"]])
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt=style[m][0], color=palette[m],
                        capsize=2, zorder=3)
            if xs[0] == xs[0]:
                texts.append(ax.text(xs[0], ys[0], m, fontsize=8, color=palette[m]))
        place_labels(ax, texts)
        ax.axvline(0, color="#999", lw=0.8)
        ax.axvline(1, color="#999", lw=0.8, ls="--")
        ax.set_xlabel("restoration (0 = corrupted, 1 = clean accuracy back)")
        ax.set_ylabel("utility (accuracy on other entities)")
        ax.set_title("Restoration vs utility")
        return export(fig)


def quality_vs_utility(results: dict) -> Rendered:
    """TOFU's picture: forget quality (KS p-value against the oracle, log scale) against
    model utility, per model."""
    quality, utility = results["forget_quality"], results.get("model_utility", {})
    labels = [m for m in labels_of(results) if m in quality]
    palette, style = colors(results), styles(results)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for m in labels:
            (xs, xerr) = _errors([utility.get(m)])
            (ys, yerr) = _errors([quality.get(m)])
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt=style[m][0], color=palette[m],
                        capsize=2, zorder=3, label=m)
        ax.set_yscale("log")
        ax.set_xlabel("model utility (harmonic mean, higher = more kept)")
        ax.set_ylabel(f"forget quality vs {results['oracle']} (KS p-value)")
        ax.set_title("Forget quality vs model utility")
        ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
        return export(fig)


def metric_curves(results: dict) -> Rendered | None:
    """Curve metrics over unlearning steps, one panel per metric (needs eval.every_n_steps);
    over seeds, the mean with a band for the 95% CI."""
    methods = [m for m in methods_of(results) if results["models"][m].get("checkpoints")]
    if not methods:
        return None
    palette, style = colors(results), styles(results)
    first = results["models"][methods[0]]["checkpoints"][0]
    names = [k for k in first if k not in ("step", "ci95")]
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows), squeeze=False)
        for ax, name in zip(axes.flat, names):
            for m in methods:
                points = results["models"][m]["checkpoints"]
                steps = [p["step"] for p in points]
                ax.plot(steps, [p.get(name) for p in points], marker=style[m][0], markersize=3,
                        ls=style[m][1], label=m, color=palette[m])
                bands = [p.get("ci95", {}).get(name) for p in points]     # seeds: 95% CI
                if all(b and None not in b for b in bands):
                    ax.fill_between(steps, [b[0] for b in bands], [b[1] for b in bands],
                                    color=palette[m], alpha=0.15, lw=0)
            ax.set_title(title_of(name))
            ax.set_xlabel("unlearning step")
            ax.set_ylabel(unit_of(name))
            values = [v for m in methods for p in results["models"][m]["checkpoints"]
                      if (v := p.get(name)) is not None and v > 0]
            if name.startswith("ppl") and values and max(values) / min(values) > 10:
                ax.set_yscale("log")                # perplexities spanning a decade or more
        for ax in list(axes.flat)[len(names):]:
            ax.set_visible(False)
        fig.suptitle("Metrics over the course of unlearning")
        fig.tight_layout()
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, frameon=False, loc="center left",
                   bbox_to_anchor=(1.0, 0.5))              # beside the panels, never over data
        return export(fig)


LEARN_CURVES = ("learn", "corrupt")          # the learn stage's curve ("corrupt" before tasks)


def loss_curves(results: dict, curves: dict[str, list[dict]]) -> Rendered | None:
    """Training loss per step of the learn stage (corruption) and of each method (from
    curves/*.json)."""
    curves = {k: [p for p in v if "loss" in p and "step" in p] for k, v in curves.items()
              if k != "retrain"}                      # retrain's curve is a whole pretraining
    curves = {k: v for k, v in curves.items() if v}       # procedures may log no loss
    if not curves:
        return None
    roles = task_of(results)["roles"]
    palette = colors(results, [roles["before"], roles["start"],
                               *[k for k in curves if k not in LEARN_CURVES]])
    names = sorted(curves, key=lambda k: k not in LEARN_CURVES)          # learning first
    ncols = min(4, len(names))
    nrows = -(-len(names) // ncols)
    with plt.rc_context(STYLE):                  # small multiples: each loss on its own scale
        fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols + 0.6, 2.3 * nrows + 0.3),
                                 squeeze=False)
        for ax, name in zip(axes.flat, names):
            points = curves[name]
            learn = name in LEARN_CURVES
            ax.plot([p["step"] for p in points], [p["loss"] for p in points],
                    color=palette[roles["start"]] if learn else palette[name])
            ax.set_title(("corruption" if roles["start"] == "corrupted" else
                          f"learning ({roles['start']})") if learn else name, fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("training loss" if learn else "loss (this method's objective)")
        for ax in list(axes.flat)[len(names):]:
            ax.set_visible(False)
        fig.tight_layout()
        return export(fig)


def strata_residual(results: dict) -> Rendered | None:
    """Residual influence per stratum (similarity level x count): each model's mean paired
    difference from the ideal (the model before learning) in each strata metric, with its
    Bonferroni-adjusted 95% interval (comparisons.strata_comparisons); 0 = the ideal."""
    tests = results.get("strata_comparisons") or {}
    if not tests:
        return None
    metrics, labels, models = strata_metrics(results), strata_labels(results), list(tests)
    before = task_of(results)["roles"]["before"]
    palette, style = colors(results), styles(results)
    width = 0.8 / len(models)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics) + 0.6, 3.6),
                                 squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            for j, model in enumerate(models):
                cells = [tests[model].get(label, {}).get(metric) for label in labels]
                xs = [i + (j - (len(models) - 1) / 2) * width for i, c in enumerate(cells) if c]
                found = [c for c in cells if c]
                means = [c["mean_diff"] for c in found]
                ci = [c.get("ci_adj") or [c["mean_diff"], c["mean_diff"]] for c in found]
                err = [[max(0.0, m - lo) for m, (lo, _) in zip(means, ci)],
                       [max(0.0, hi - m) for m, (_, hi) in zip(means, ci)]]
                ax.errorbar(xs, means, yerr=err, fmt=style[model][0], ms=4, capsize=2,
                            color=palette[model], label=model, lw=1)
            ax.axhline(0.0, color=palette[before], lw=1)
            bounded = metric in METRICS and all(abs(b) < float("inf")
                                                 for b in METRICS.get(metric).range)
            if not bounded:
                ax.set_yscale("symlog", linthresh=1.0)
            ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
            ax.set_title(f"{metric} − {before}", fontsize=9)
        axes[0][0].set_ylabel("mean paired difference (adjusted 95% CI)")
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(6, len(names)), frameon=False)
        fig.tight_layout()
        return export(fig)


def logit_probe(results: dict) -> Rendered:
    """Distribution over target facts of the mean per-token log-prob of the correct, the
    injected (corrupted) and a random alternative answer, per model (RESTOR's probe)."""
    labels = labels_of(results)
    keys = (("logp_correct", "correct", "#2e86ab"), ("logp_corrupted", "corrupted", "#c0392b"),
            ("logp_random", "random", "#8d99ae"))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(labels) + 2), 3.6))
        width = 0.8 / len(keys)
        for j, (key, title, color) in enumerate(keys):
            data = [[v for v in results["models"][m]["values"].get(key, []) if v is not None]
                    for m in labels]
            box = ax.boxplot(data, positions=_group_offsets(len(labels), j, width),
                             widths=width * 0.9, patch_artist=True, showfliers=False,
                             manage_ticks=False)
            for patch in box["boxes"]:
                patch.set(facecolor=color, alpha=0.75)
            ax.plot([], [], color=color, lw=6, label=title)
        _label_groups(ax, labels, "mean per-token log-prob", "Logit probe on target facts")
        return export(fig)


def influence_boxes(results: dict) -> Rendered:
    """Per model, the distribution over (forget text, query) pairs of the forget text's
    gradient dot product with its query: the forget set's influence left in the model."""
    labels = [m for m in labels_of(results) if "influence_forget" in results["models"][m]["values"]]
    palette = colors(results)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(labels) + 2), 3.6))
        data = [[v for v in results["models"][m]["values"]["influence_forget"] if v is not None]
                for m in labels]
        box = ax.boxplot(data, positions=range(len(labels)), widths=0.6, patch_artist=True,
                         showfliers=False, manage_ticks=False)
        for patch, m in zip(box["boxes"], labels):
            patch.set(facecolor=palette[m], alpha=0.75)
        ax.axhline(0, color="#999", lw=0.8)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_ylabel("gradient dot product (symlog)")
        ax.set_title("Influence of forget texts on the queries they taught")
        return export(fig)


def relation_heatmap(results: dict) -> Rendered:
    """Target accuracy per relation (columns) and model (rows)."""
    table = per_relation(results)
    labels = list(table)
    relations = list(table[labels[0]])
    grid = [[table[m][r] if table[m][r] is not None else float("nan") for r in relations]
            for m in labels]
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(1.0 * len(relations) + 2.5, 0.4 * len(labels) + 1.5))
        image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(relations)), relations, rotation=30, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                if v == v:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if v < 0.6 else "black")
        fig.colorbar(image, ax=ax, label="target accuracy")
        ax.set_title("Target accuracy per relation")
        return export(fig)
