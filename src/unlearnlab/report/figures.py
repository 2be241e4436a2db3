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

from unlearnlab.comparisons import task_of  # noqa: E402
from unlearnlab.report.tables import interval, labels_of, methods_of, per_relation  # noqa: E402

DPI = 100
STYLE = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": DPI}
BEFORE, START = "#4c956c", "#c0392b"


def colors(results: dict, labels: list[str] | None = None) -> dict[str, str]:
    """A stable colour per model: the model before learning green, the starting (e.g.
    corrupted) model red, methods from tab10/tab20."""
    roles = task_of(results)["roles"]
    fixed = {roles["before"]: BEFORE, roles["start"]: START}
    methods = [label for label in (labels or labels_of(results)) if label not in fixed]
    cmap = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    return {**fixed, **{m: matplotlib.colors.to_hex(cmap(i % cmap.N)) for i, m in enumerate(methods)}}


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
    palette = colors(results)
    roles = task_of(results)["roles"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for label, x in ((roles["start"], 0.0), (roles["before"], 1.0)):
            (y, _lo, _hi) = interval(results["models"][label]["metrics"]["utility"])
            ax.scatter([x], [y], marker="s", color=palette[label], zorder=3)
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, -10), fontsize=8)
        for m in methods:
            (xs, xerr) = _errors([results["restoration"].get(m)])
            (ys, yerr) = _errors([results["models"][m]["metrics"]["utility"]])
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o", color=palette[m], capsize=2, zorder=3)
            if xs[0] == xs[0]:
                ax.annotate(m, (xs[0], ys[0]), textcoords="offset points", xytext=(5, 4), fontsize=8)
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
    palette = colors(results)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for m in labels:
            (xs, xerr) = _errors([utility.get(m)])
            (ys, yerr) = _errors([quality.get(m)])
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o", color=palette[m], capsize=2,
                        zorder=3, label=m)
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
    palette = colors(results)
    first = results["models"][methods[0]]["checkpoints"][0]
    names = [k for k in first if k not in ("step", "ci95")]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), squeeze=False)
        for ax, name in zip(axes[0], names):
            for m in methods:
                points = results["models"][m]["checkpoints"]
                steps = [p["step"] for p in points]
                ax.plot(steps, [p.get(name) for p in points], marker=".", label=m, color=palette[m])
                bands = [p.get("ci95", {}).get(name) for p in points]     # seeds: 95% CI
                if all(b and None not in b for b in bands):
                    ax.fill_between(steps, [b[0] for b in bands], [b[1] for b in bands],
                                    color=palette[m], alpha=0.15, lw=0)
            ax.set_title(name)
            ax.set_xlabel("unlearning step")
            if name.startswith("ppl"):
                ax.set_yscale("log")
        axes[0][0].legend(fontsize=7, frameon=False)
        fig.suptitle("Metrics over the course of unlearning", y=1.02)
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
