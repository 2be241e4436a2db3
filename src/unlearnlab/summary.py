"""The summary table (Markdown): one row per model, aggregates read from results.json."""

from __future__ import annotations

COLUMNS = (
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


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}" if abs(value) >= 1000 else f"{value:.3f}"


def summary_markdown(results: dict, methods) -> str:
    models = results["models"]
    n_target = len(results["items"]["target"])
    n_util = len(results["items"]["utility"])
    lines = [
        f"RESTOR summary: {n_target} target facts, {n_util} utility facts "
        "(accuracy = normalised exact match; logp = mean per-token log-prob; "
        "restoration = (acc - acc_corrupted) / (acc_clean - acc_corrupted); "
        "MIA AUC: forget vs held-out documents, 0.5 = indistinguishable)",
        "",
        "| model | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for label in ["clean", "corrupted", *methods]:
        row = []
        for key, _ in COLUMNS:
            if key == "restoration":
                value = results["restoration"].get(label) if label in methods else None
            elif key == "mia_auc":
                value = models[label].get("mia", {}).get("min_k_pp", {}).get("auc")
            else:
                value = models[label]["metrics"].get(key, {}).get("mean")
            row.append(_fmt(value))
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
