"""The remedy for similar samples (Xu et al. 2026, arXiv 2601.06938) as a curve over the
search threshold: expand the forget set with what a similarity search finds, unlearn the
expanded set, and see how much residual influence goes and what utility it costs.

    python benchmarks/similar_remedy.py                        # thresholds 0.9 0.6 0.4 0.25
    python benchmarks/similar_remedy.py --thresholds 0.9 0.3 --seeds 0 --methods npo_retain
    python benchmarks/similar_remedy.py --tables-only --runs-dir runs/similar-remedy
    python benchmarks/similar_remedy.py --task similar_images images.shadows=0

Each threshold T is one `unlearnlab run configs/similar_text.yaml --set
removal.strategies=[exact,fuzzy] --set removal.threshold=T` into <runs-dir>/t<T>: every
method runs on the forget set (`@exact`) and on the forget set expanded with every training
text whose TF-IDF character n-gram cosine to a forget document is >= T (`@fuzzy`). The runs
share the clean model, the learned model, its evaluation and the `@exact` methods through
the stage cache (stages/resume.py), so each further threshold costs only its fuzzy methods
and `retrain@fuzzy` (the oracle retrained without the expanded set: the remedy applied to
retraining, a pretraining run per threshold and seed).
Printed per threshold and model: the search's size, precision and recall against the known
clusters (forget + look-alikes: duplicate, paraphrase, subset neighbours), the residual
influence (corrupted_rate on the targets: 0 for the ideal) per similarity level, and model
utility.

`--task similar_images` does the same on configs/similar_images.yaml with the image search
(stages/image_removal.py: cosine of the original classifier's penultimate-layer features; default
thresholds 0.99 0.97 0.95 0.9, read off the similarity distribution, see README) and the
config's methods; `retrain@fuzzy` as for text. Image
classifiers are not cached, so every threshold trains its models again (seconds each).
Printed per threshold: the search's recall per neighbour level and its false positives
(from each seed's remedy.json), then per model UA per cell (residual influence: 1 for the
ideal), RA, TA and model utility.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Track:
    config: str                     # under configs/
    metric: str                     # residual influence, read per stratum
    columns: tuple[str, ...]        # metric means printed after the strata
    thresholds: tuple[float, ...]
    methods: tuple[str, ...]        # () = the config's
    runs_dir: str


TRACKS = {
    "similar_text": Track("similar_text.yaml", "corrupted_rate", (), (0.9, 0.6, 0.4, 0.25),
                          ("graddiff", "npo_retain", "retrain"), "runs/similar-remedy"),
    "similar_images": Track("similar_images.yaml", "unlearn_accuracy",
                            ("retain_accuracy", "test_accuracy"), (0.99, 0.97, 0.95, 0.9), (),
                            "runs/similar-remedy-images"),
}


def run(threshold: float, args, extra: list[str]) -> Path:
    out = Path(args.runs_dir).resolve() / f"t{threshold:g}"
    if (out / "results.json").is_file():
        return out
    sets = ["removal.strategies=[exact,fuzzy]", f"removal.threshold={threshold}",
            f"seeds=[{','.join(map(str, args.seeds))}]",
            *([f"methods=[{','.join(args.methods)}]"] if args.methods else []),
            f"runs_dir={out.parent}", f"name={out.name}", "progress=false", *extra]
    config = ROOT / "configs" / TRACKS[args.task].config
    cmd = [sys.executable, "-m", "unlearnlab", "run", str(config)]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True)
    return out


def mean(fig) -> float | None:
    return fig.get("mean") if isinstance(fig, dict) else fig


def fmt(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def curve(folders: dict[float, Path], track: Track) -> str:
    from unlearnlab.report.tables import plus_minus, strata_table

    lines = []
    for threshold, folder in folders.items():
        results = json.loads((folder / "results.json").read_text())
        header, rows = strata_table(results, track.metric)
        removal = results.get("removal", {})
        lines += [f"### threshold {threshold:g}", "", *search_table(folder),
                  "| model | removed | cluster precision | cluster recall | "
                  + " | ".join([*header[1:], *track.columns]) + " | model utility |",
                  "|---|---|---|---|" + "---|" * (len(header) - 1 + len(track.columns)) + "---|"]
        for row in rows:
            label = row[0]
            r = removal.get(label, {})
            utility = (results.get("model_utility") or {}).get(label)
            metrics = results["models"][label]["metrics"]
            extra = [plus_minus(metrics[c]) if c in metrics else "—" for c in track.columns]
            lines.append(f"| {label} | {fmt(mean(r.get('removed')))} | "
                         f"{fmt(mean(r.get('cluster_precision')))} | "
                         f"{fmt(mean(r.get('cluster_recall')))} | " + " | ".join(row[1:] + extra)
                         + f" | {fmt(mean(utility))} |")
        lines.append("")
    return "\n".join(lines)


def search_table(folder: Path) -> list[str]:
    """The image search per seed (remedy.json, similar.json): recall of each neighbour level,
    the training images found outside the clusters, cluster precision and recall; [] for text."""
    seeds = sorted(folder.glob("seed-*/remedy.json")) or sorted(folder.glob("remedy.json"))
    if not seeds:
        return []
    lines, levels = [], None
    for path in seeds:
        found = set(json.loads(path.read_text())["found"])
        clusters = json.loads((path.parent / "similar.json").read_text())["forget"]
        by_level: dict[str, list[str]] = {}
        for c in clusters.values():
            by_level.setdefault(c["level"], []).extend(c["neighbours"])
        by_level = {k: v for k, v in by_level.items() if v}
        cluster = set(clusters) | {n for v in by_level.values() for n in v}
        if levels is None:
            levels = list(by_level)
            lines += ["| seed | found | " + " | ".join(f"{k} recall" for k in levels)
                      + " | others found | cluster precision | cluster recall |",
                      "|---|---|" + "---|" * len(levels) + "---|---|---|"]
        recall = [sum(n in found for n in by_level[k]) / len(by_level[k]) for k in levels]
        hit = len(found & cluster)
        lines.append(f"| {path.parent.name} | {len(found)} | "
                     + " | ".join(f"{x:.2f}" for x in recall)
                     + f" | {len(found - cluster)} | {hit / len(found):.3f} | "
                       f"{hit / len(cluster):.3f} |")
    return [*lines, ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TRACKS), default="similar_text")
    parser.add_argument("--thresholds", nargs="+", type=float,
                        help="default: similar_text 0.9 0.6 0.4 0.25, similar_images 0.99 0.97 "
                             "0.95 0.9")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+",
                        help="default: similar_text graddiff npo_retain retrain; similar_images "
                             "the config's")
    parser.add_argument("--runs-dir", help="default: runs/similar-remedy (text), "
                                           "runs/similar-remedy-images (images)")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    args = parser.parse_args()
    track = TRACKS[args.task]
    args.thresholds = args.thresholds or list(track.thresholds)
    args.methods = args.methods or list(track.methods)
    args.runs_dir = args.runs_dir or track.runs_dir
    folders = {}
    for threshold in args.thresholds:
        if not args.tables_only:
            run(threshold, args, args.overrides)
        folder = Path(args.runs_dir).resolve() / f"t{threshold:g}"
        if (folder / "results.json").is_file():
            folders[threshold] = folder
    print(curve(folders, track))
    return 0


if __name__ == "__main__":
    sys.exit(main())
