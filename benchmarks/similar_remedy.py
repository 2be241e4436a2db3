"""The remedy for similar samples (Xu et al. 2026, arXiv 2601.06938) as a curve over the
search threshold: expand the forget set with what a similarity search finds, unlearn the
expanded set, and see how much residual influence goes and what utility it costs.

    python benchmarks/similar_remedy.py                        # thresholds 0.9 0.6 0.4 0.25
    python benchmarks/similar_remedy.py --thresholds 0.9 0.3 --seeds 0 --methods npo_retain
    python benchmarks/similar_remedy.py --tables-only --runs-dir runs/similar-remedy

Each threshold T is one `unlearnlab run configs/similar_text.yaml --set
removal.strategies=[exact,fuzzy] --set removal.threshold=T` into <runs-dir>/t<T>: every
method runs on the forget set (`@exact`) and on the forget set expanded with every training
text whose TF-IDF character n-gram cosine to a forget document is >= T (`@fuzzy`). The runs
share the clean model, the learned model, its evaluation and the `@exact` methods through
the stage cache (stages/resume.py), so each further threshold costs only its fuzzy methods.
Printed per threshold and model: the search's size, precision and recall against the known
clusters (forget + look-alikes: duplicate, paraphrase, subset neighbours), the residual
influence (corrupted_rate on the targets: 0 for the ideal) per similarity level, and model
utility.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(threshold: float, args, extra: list[str]) -> Path:
    out = Path(args.runs_dir).resolve() / f"t{threshold:g}"
    if (out / "results.json").is_file():
        return out
    sets = ["removal.strategies=[exact,fuzzy]", f"removal.threshold={threshold}",
            f"seeds=[{','.join(map(str, args.seeds))}]", f"methods=[{','.join(args.methods)}]",
            f"runs_dir={out.parent}", f"name={out.name}", "progress=false", *extra]
    cmd = [sys.executable, "-m", "unlearnlab", "run", str(ROOT / "configs" / "similar_text.yaml")]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True)
    return out


def mean(fig) -> float | None:
    return fig.get("mean") if isinstance(fig, dict) else fig


def fmt(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def curve(folders: dict[float, Path]) -> str:
    from unlearnlab.report.tables import strata_table

    lines = []
    for threshold, folder in folders.items():
        results = json.loads((folder / "results.json").read_text())
        header, rows = strata_table(results, "corrupted_rate")
        removal = results.get("removal", {})
        lines += [f"### threshold {threshold:g}", "",
                  "| model | removed | cluster precision | cluster recall | "
                  + " | ".join(header[1:]) + " | model utility |",
                  "|---|---|---|---|" + "---|" * (len(header) - 1) + "---|"]
        for row in rows:
            label = row[0]
            r = removal.get(label, {})
            utility = (results.get("model_utility") or {}).get(label)
            lines.append(f"| {label} | {fmt(mean(r.get('removed')))} | "
                         f"{fmt(mean(r.get('cluster_precision')))} | "
                         f"{fmt(mean(r.get('cluster_recall')))} | " + " | ".join(row[1:])
                         + f" | {fmt(mean(utility))} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", nargs="+", type=float, default=[0.9, 0.6, 0.4, 0.25])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=["graddiff", "npo_retain", "retrain"])
    parser.add_argument("--runs-dir", default="runs/similar-remedy")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    args = parser.parse_args()
    folders = {}
    for threshold in args.thresholds:
        if not args.tables_only:
            run(threshold, args, args.overrides)
        folder = Path(args.runs_dir).resolve() / f"t{threshold:g}"
        if (folder / "results.json").is_file():
            folders[threshold] = folder
    print(curve(folders))
    return 0


if __name__ == "__main__":
    sys.exit(main())
