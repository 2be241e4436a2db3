"""RESTOR on its real data: every corpus (k = 0..3 and SQuAD) over several seeds, and the
README's tables from the saved results.

    python benchmarks/restor_study.py                      # run what is missing, then print
    python benchmarks/restor_study.py --tables-only        # print from finished runs
    python benchmarks/restor_study.py --corpora 0 squad --seeds 0 1 2 -- restor.docs_per_target=100
    python benchmarks/restor_study.py --parallel 15 --threads 1 -- device=cuda

Each (corpus, seed) is one single-seed `unlearnlab run configs/restor_wikidata.yaml --set
restor.corpus=K --set seeds=[S]` into runs/restor-study/k<K>-seed<S> (the clean model is trained
once and cached), so a study that is stopped keeps every finished run; a finished folder is
reused. `--parallel N` runs N of them at once (a GPU, or a machine with many cores: with
`--threads 1` each takes one core). The tables combine the seeds found (unlearnlab.aggregate, as a `seeds` run does):
target accuracy per model (mean over seeds ± half-width of the 95% t-interval over seeds; with
one seed, ± half-width of the Wilson interval over its questions), the injected-value coverage,
the corrupted rate and the logit probe. `--threads 1` leaves a core free for other work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("clean", "corrupted", "ga", "kl", "npo", "npo_retain", "simnpo", "task_vector")


def run(corpus: str, seed: int, runs_dir: Path, extra: list[str], env: dict) -> Path:
    out = runs_dir / f"k{corpus}-seed{seed}"
    if (out / "results.json").is_file():
        return out
    cmd = [sys.executable, "-m", "unlearnlab", "run", str(ROOT / "configs" / "restor_wikidata.yaml"),
           "--set", f"restor.corpus={corpus}", "--set", f"seeds=[{seed}]",
           "--set", f"runs_dir={runs_dir}", "--set", f"name={out.name}", "--set", "progress=false",
           *[x for e in extra for x in ("--set", e)]]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    print(f"corpus {corpus} seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return out


def combined(folders: list[Path]) -> dict:
    """One results dict for a corpus: the single run, or the seeds' runs aggregated."""
    per_seed = {}
    for folder in folders:
        seed = int(folder.name.rsplit("seed", 1)[1])
        inner = folder / f"seed-{seed}" / "results.json"      # a `seeds: [S]` run keeps its
        path = inner if inner.is_file() else folder / "results.json"   # items per seed
        per_seed[seed] = json.loads(path.read_text())
    if len(per_seed) == 1:
        return next(iter(per_seed.values()))
    from unlearnlab.aggregate import aggregate
    out = aggregate(per_seed)
    out["_seed0"] = per_seed[min(per_seed)]
    return out


def pm(fig: dict | None) -> str:
    if not fig or fig.get("mean") is None:
        return "—"
    lo, hi = fig.get("ci95", [None, None])
    if lo is None or hi is None or lo == hi:
        return f"{fig['mean']:.3f}"
    return f"{fig['mean']:.3f} ± {(hi - lo) / 2:.3f}"


def tables(runs: dict[str, dict]) -> str:
    label = {"squad": "SQuAD"}
    acc = ["| corpus | seeds | " + " | ".join(MODELS) + " |", "|---|---|" + "---|" * len(MODELS)]
    probe = ["| corpus | targets | questions | injected value known | corrupted rate (corrupted) "
             "| logp correct / injected / random: clean | corrupted | best restorer |",
             "|---|---|---|---|---|---|---|---|"]
    for corpus, r in runs.items():
        models = r["models"]
        acc.append(f"| {label.get(corpus, f'k = {corpus}')} | {len(r.get('seeds', [0]))} | "
                   + " | ".join(pm(models[m]["metrics"].get("target_accuracy")) if m in models
                                else "—" for m in MODELS) + " |")
        seed0 = r.get("_seed0", r)                    # coverage and targets: the first seed's
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
    parser.add_argument("--threads", type=int, help="torch threads per run (default: all cores)")
    parser.add_argument("--parallel", type=int, default=1, help="runs at once (default 1)")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    args = parser.parse_args()
    runs_dir = Path(args.runs_dir).resolve()
    env = dict(os.environ)
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if not args.tables_only:                     # every corpus's first seed before any second seed
        todo = [(corpus, seed) for seed in args.seeds for corpus in args.corpora]
        with ThreadPoolExecutor(max(1, args.parallel)) as pool:
            list(pool.map(lambda cs: run(*cs, runs_dir, args.overrides, env), todo))
    runs = {}
    for corpus in args.corpora:
        folders = [runs_dir / f"k{corpus}-seed{s}" for s in args.seeds]
        folders = [f for f in folders if (f / "results.json").is_file()]
        if folders:
            runs[corpus] = combined(folders)
    print(tables(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
