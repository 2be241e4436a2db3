"""RESTOR on its real data: every corpus (k = 0..3 and SQuAD) over several seeds, and the
README's tables from the saved results.

    python benchmarks/restor_study.py                      # run what is missing, then print
    python benchmarks/restor_study.py --tables-only        # print from finished runs
    python benchmarks/restor_study.py --corpora 0 squad --seeds 0 1 2 -- restor.docs_per_target=100
    python benchmarks/restor_study.py --parallel 15 --threads 1 -- device=cuda

Each (corpus, seed) is one single-seed `unlearnlab run configs/restor_wikidata.yaml --set
restor.corpus=K --set seeds=[S]` into runs/restor-study/k<K>-seed<S> (the clean model is
trained once and cached), so a study that is stopped keeps every finished run; a finished
folder is reused. Every finished run is also kept, gzipped, in benchmarks/results/restor_study/
(`--keep`; committed, so the tables can be rebuilt and a study resumed on another machine
without the run folders): a run kept there is not run again (delete it to rerun). `--parallel
N` runs N of them at once (a GPU, or a machine with many cores: with `--threads 1` each takes
one core; `--threads 1` alone leaves a core free for other work).

The tables combine the seeds found (unlearnlab.aggregate, as a `seeds` run does): target
accuracy per model (mean over seeds ± half-width of the 95% t-interval over seeds; with one
seed, ± half-width of the Wilson interval over its questions), utility the same way, each
method's paired difference in target accuracy against the corrupted model (the facts of all
seeds pooled: exact McNemar, Bonferroni over the methods), the injected-value coverage, the
corrupted rate, the logit probe and each run's wall time (less training the shared clean
model).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEEP = ROOT / "benchmarks" / "results" / "restor_study"
MODELS = ("clean", "corrupted", "ga", "kl", "npo", "npo_retain", "simnpo", "task_vector")


def kept_file(keep: Path, folder: Path) -> Path:
    return keep / f"{folder.name}.json.gz"


def run(corpus: str, seed: int, runs_dir: Path, extra: list[str], env: dict, keep: Path) -> Path:
    out = runs_dir / f"k{corpus}-seed{seed}"
    if (out / "results.json").is_file() or kept_file(keep, out).is_file():
        return out
    cmd = [sys.executable, "-m", "unlearnlab", "run", str(ROOT / "configs" / "restor_wikidata.yaml"),
           "--set", f"restor.corpus={corpus}", "--set", f"seeds=[{seed}]",
           "--set", f"runs_dir={runs_dir}", "--set", f"name={out.name}", "--set", "progress=false",
           *[x for e in extra for x in ("--set", e)]]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    print(f"corpus {corpus} seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return out


def finished(folder: Path, keep: Path) -> dict | None:
    """One (corpus, seed) run's results: from its run folder (then kept, with the wall time and
    code version from its manifest, in `keep`), else from `keep`; None when neither has it."""
    kept = kept_file(keep, folder)
    if (folder / "results.json").is_file():
        seed = int(folder.name.rsplit("seed", 1)[1])
        inner = folder / f"seed-{seed}" / "results.json"      # a `seeds: [S]` run keeps its
        path = inner if inner.is_file() else folder / "results.json"   # items per seed
        results = json.loads(path.read_text())
        manifest = json.loads(path.with_name("manifest.json").read_text())
        results["study"] = {k: manifest.get(k) for k in ("config_hash", "versions", "device",
                                                          "environment", "wall_time_s",
                                                          "wall_time_total_s")}
        if not kept.is_file():
            keep.mkdir(parents=True, exist_ok=True)
            tmp = kept.with_suffix(".tmp")
            with gzip.open(tmp, "wt", encoding="utf-8") as f:
                json.dump(results, f)
            tmp.replace(kept)
        return results
    if kept.is_file():
        with gzip.open(kept, "rt", encoding="utf-8") as f:
            return json.load(f)
    return None


def combined(per_seed: dict[int, dict]) -> dict:
    """One results dict for a corpus: the single run, or the seeds' runs aggregated."""
    per_seed = {s: {k: v for k, v in r.items() if k != "study"} for s, r in per_seed.items()}
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
    if lo is None or hi is None or hi - lo < 1e-9:  # every seed the same (rounding aside)
        return f"{fig['mean']:.3f}"
    return f"{fig['mean']:.3f} ± {(hi - lo) / 2:.3f}"


def delta(comparison: dict | None) -> str:
    """A paired difference against the corrupted model: Δ [adjusted 95% CI], * when p_adj < 0.05."""
    if not comparison:
        return "—"
    lo, hi = comparison["ci_adj"]
    star = "*" if comparison["p_adj"] < 0.05 else ""
    return f"{comparison['mean_diff']:+.3f}{star} [{lo:+.2f}, {hi:+.2f}]"


def tables(runs: dict[str, dict], wall: dict[str, list[float]], known: dict[str, list[int]]) -> str:
    """The README's tables: target accuracy and utility per model, each method's paired
    difference in target accuracy against the corrupted model (facts of all seeds pooled),
    and the injected-value coverage, corrupted rate, logit probe and wall time."""
    label = {"squad": "SQuAD"}
    methods = MODELS[2:]
    head = "| corpus | seeds | " + " | ".join(MODELS) + " |\n|---|---|" + "---|" * len(MODELS)
    acc, util = [head], [head]
    paired = ["| corpus | facts | " + " | ".join(methods) + " |",
              "|---|---|" + "---|" * len(methods)]
    probe = ["| corpus | targets | questions | injected value known | corrupted rate (corrupted) "
             "| logp correct / injected / random: clean | corrupted | best restorer | wall time per run |",
             "|---|---|---|---|---|---|---|---|---|"]
    for corpus, r in runs.items():
        models, name = r["models"], label.get(corpus, f"k = {corpus}")
        for rows, metric in ((acc, "target_accuracy"), (util, "utility")):
            rows.append(f"| {name} | {len(r.get('seeds', [0]))} | "
                        + " | ".join(pm(models[m]["metrics"].get(metric)) if m in models
                                     else "—" for m in MODELS) + " |")
        vs = {m: r["comparisons"].get(m, {}).get("target_accuracy", {}).get("vs_corrupted")
              for m in methods}
        n = next((c["n"] for c in vs.values() if c), 0)
        paired.append(f"| {name} | {n} | " + " | ".join(delta(vs[m]) for m in methods) + " |")
        seed0 = r.get("_seed0", r)          # targets and question count: the first seed's
        cov = seed0["task"]["injected_coverage"]
        best = max((m for m in r["methods"]), key=lambda m: models[m]["metrics"]["target_accuracy"]["mean"])

        def lp(m: str) -> str:
            return " / ".join(f"{models[m]['metrics'][k]['mean']:.2f}" if k in models[m]["metrics"]
                              else "—" for k in ("logp_correct", "logp_corrupted", "logp_random"))
        minutes = sorted({round(w / 60) for w in wall.get(corpus, [])})
        took = (f"{minutes[0]}–{minutes[-1]} min" if len(minutes) > 1 else
                f"{minutes[0]} min" if minutes else "—")
        lo, hi = min(known[corpus]), max(known[corpus])    # which documents are held out, and
        shares = f"{lo / cov['questions']:.0%}"              # so the derived values, vary by seed
        if hi > lo:
            lo, shares = f"{lo}–{hi}", f"{shares}–{hi / cov['questions']:.0%}"
        probe.append(f"| {name} | {len(seed0['task']['targets'])} | "
                     f"{cov['questions']} | {lo} ({shares}) | "
                     f"{pm(models['corrupted']['metrics'].get('corrupted_rate'))} | {lp('clean')} | "
                     f"{lp('corrupted')} | {best}: {lp(best)} | {took} |")
    return "\n\n".join("\n".join(t) for t in (acc, util, paired, probe))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=["0", "1", "2", "3", "squad"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--runs-dir", default="runs/restor-study")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: all cores)")
    parser.add_argument("--parallel", type=int, default=1, help="runs at once (default 1)")
    parser.add_argument("--keep", default=str(KEEP),
                        help="folder of the kept (gzipped) results (default: %(default)s)")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    args = parser.parse_args()
    runs_dir, keep = Path(args.runs_dir).resolve(), Path(args.keep).resolve()
    env = dict(os.environ)
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if not args.tables_only:                     # every corpus's first seed before any second seed
        todo = [(corpus, seed) for seed in args.seeds for corpus in args.corpora]
        with ThreadPoolExecutor(max(1, args.parallel)) as pool:
            list(pool.map(lambda cs: run(*cs, runs_dir, args.overrides, env, keep), todo))
    runs, wall, known = {}, {}, {}                 # wall: each run's time, less training the (shared) clean model
    for corpus in args.corpora:
        per_seed = {s: finished(runs_dir / f"k{corpus}-seed{s}", keep) for s in args.seeds}
        per_seed = {s: r for s, r in per_seed.items() if r is not None}
        if per_seed:
            runs[corpus] = combined(per_seed)
            known[corpus] = [r["task"]["injected_coverage"]["with_injected_value"]
                             for r in per_seed.values()]
            wall[corpus] = [r["study"]["wall_time_total_s"] - r["study"]["wall_time_s"].get("pretrain", 0)
                            for r in per_seed.values() if r.get("study")]
    print(tables(runs, wall, known))
    return 0


if __name__ == "__main__":
    sys.exit(main())
