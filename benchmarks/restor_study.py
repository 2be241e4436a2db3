"""RESTOR on its real data: every corpus (k = 0..3 and SQuAD) over several seeds, and the
README's tables from the saved results.

    python benchmarks/restor_study.py                      # run what is missing, then print
    python benchmarks/restor_study.py --tables-only        # print from finished runs
    python benchmarks/restor_study.py --corpora 0 squad --seeds 0 1 2 -- restor.docs_per_target=100

Each corpus is one `unlearnlab run configs/restor_wikidata.yaml --set restor.corpus=K
--set seeds=[...]` into runs/restor-study/k<K> (the clean model is trained once and cached);
a finished run folder is reused. The tables: target accuracy per model (mean over seeds ±
half-width of the 95% t-interval over seeds; for a single-seed folder, ± half-width of the
Wilson interval over its questions), the injected-value coverage, the corrupted rate and the
logit probe.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("clean", "corrupted", "ga", "kl", "npo", "npo_retain", "simnpo", "task_vector")


def run(corpus: str, seeds: list[int], runs_dir: Path, extra: list[str]) -> Path:
    out = runs_dir / f"k{corpus}"
    if (out / "results.json").is_file():
        return out
    cmd = [sys.executable, "-m", "unlearnlab", "run", str(ROOT / "configs" / "restor_wikidata.yaml"),
           "--set", f"restor.corpus={corpus}", "--set", f"seeds=[{','.join(map(str, seeds))}]",
           "--set", f"runs_dir={runs_dir}", "--set", f"name=k{corpus}", "--set", "progress=false",
           *[x for e in extra for x in ("--set", e)]]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"corpus {corpus}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return out


def pm(fig: dict | None) -> str:
    if not fig or fig.get("mean") is None:
        return "—"
    lo, hi = fig.get("ci95", [None, None])
    if lo is None or hi is None or lo == hi:
        return f"{fig['mean']:.3f}"
    return f"{fig['mean']:.3f} ± {(hi - lo) / 2:.3f}"


def tables(runs: dict[str, Path]) -> str:
    label = {"squad": "SQuAD"}
    acc = ["| corpus | " + " | ".join(MODELS) + " |", "|---|" + "---|" * len(MODELS)]
    probe = ["| corpus | targets | questions | injected value known | corrupted rate (corrupted) "
             "| logp correct / injected / random: clean | corrupted | best restorer |",
             "|---|---|---|---|---|---|---|---|"]
    for corpus, path in runs.items():
        r = json.loads((path / "results.json").read_text())
        models = r["models"]
        acc.append(f"| {label.get(corpus, f'k = {corpus}')} | "
                   + " | ".join(pm(models[m]["metrics"].get("target_accuracy")) if m in models
                                else "—" for m in MODELS) + " |")
        seed0 = json.loads((path / f"seed-{r['seeds'][0]}" / "results.json").read_text()) \
            if "seeds" in r else r                    # a single-seed run: its own items
        cov = seed0["task"]["injected_coverage"]
        best = max((m for m in r["methods"]), key=lambda m: models[m]["metrics"]["target_accuracy"]["mean"])

        def lp(m: str) -> str:
            return " / ".join(f"{models[m]['metrics'][k]['mean']:.2f}" if k in models[m]["metrics"]
                              else "—" for k in ("logp_correct", "logp_corrupted", "logp_random"))
        probe.append(f"| {label.get(corpus, f'k = {corpus}')} | {len(seed0['task']['targets'])} | "
                     f"{cov['questions']} | {cov['with_injected_value']} ({cov['share']:.0%}) | "
                     f"{pm(models['corrupted']['metrics'].get('corrupted_rate'))} | {lp('clean')} | "
                     f"{lp('corrupted')} | {best}: {lp(best)} |")
    return "\n".join(acc) + "\n\n" + "\n".join(probe)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=["0", "1", "2", "3", "squad"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--runs-dir", default="runs/restor-study")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    args = parser.parse_args()
    runs_dir = Path(args.runs_dir).resolve()
    runs = {}
    for corpus in args.corpora:
        path = runs_dir / f"k{corpus}"
        if not args.tables_only:
            path = run(corpus, args.seeds, runs_dir, args.overrides)
        if (path / "results.json").is_file():
            runs[corpus] = path
    print(tables(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
