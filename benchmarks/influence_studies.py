"""The seed paper's unlearning studies (Zagardo 2024, arXiv 2406.09391; issue 11, study 1
and 2) as sets of ordinary runs, with a findings report.

(a) epochs: first_epoch_ga ascending each forget document's gradient from its first
    epoch of the learn stage, from its last, or the mean over all (hparams.first_epoch_ga.epochs),
    all parameters;
(b) layers: first_epoch_ga restricted to (and recording only) the embeddings, each
    transformer block, the output head, or all parameters (hparams.first_epoch_ga.params).

Each (variant, seed) is one `unlearnlab.run(config, overrides)` with methods=[first_epoch_ga],
eval.influence=true (the forget documents' gradient dot product with their queries, per
model, with the run's paired comparisons of every model against the corrupted one), in its
own process so that its peak RSS is its own (os.wait4), into OUT/runs/<variant>-seed<S>; a
finished run is reused, so a stopped study resumes. The "all parameters, first epoch" run
serves both studies.

    python benchmarks/influence_studies.py --seeds 0 1 2            # run what is missing, report
    python benchmarks/influence_studies.py --seeds 0 --studies epochs
    python benchmarks/influence_studies.py --tables-only            # report from finished runs
    python benchmarks/influence_studies.py --seeds 0 -- learn.train.epochs=2   # extra overrides
    python benchmarks/influence_studies.py --parallel 2         # two runs at a time

Writes OUT/studies.json (per variant: per seed and mean ± 95% t-interval over seeds) and
OUT/studies.md (the tables), and prints the tables.
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
METHOD = "first_epoch_ga"
FIGURES = ("target_accuracy", "corrupted_rate", "utility")
CHILD = ("import json, sys, torch; torch.set_num_threads(int(sys.argv[3])); import unlearnlab; "
         "unlearnlab.run(sys.argv[1], json.loads(sys.argv[2]))")


def variants(studies: list[str], n_blocks: int) -> dict[str, tuple[str, str, list[str]]]:
    """{label: (params selector, epochs, studies it belongs to)}."""
    out: dict[str, tuple[str, str, list[str]]] = {}

    def add(label, params, epochs, study):
        key = f"{params}|{epochs}"
        for other, (p, e, s) in out.items():
            if f"{p}|{e}" == key:
                s.append(study)
                return
        out[label] = (params, epochs, [study])
    if "epochs" in studies:
        for epochs in ("first", "last", "all"):
            add(f"all-params-{epochs}-epoch{'s' if epochs == 'all' else ''}", "all", epochs, "epochs")
    if "layers" in studies:
        for params in ("embeddings", *[f"layers:{b}" for b in range(n_blocks)], "lm_head", "all"):
            add(params.replace(":", "-") + "-first-epoch", params, "first", "layers")
    return out


def run_one(cfg: str, label: str, params: str, epochs: str, seed: int, runs: Path,
            extra: list[str], threads: int) -> dict:
    """The run's folder and its cost (wall seconds, peak RSS); runs it if it is missing."""
    name = f"{label}-seed{seed}"
    folder = runs / name
    cost_file = folder / "cost.json"
    if (folder / "results.json").is_file() and cost_file.is_file():
        return {"folder": folder, **json.loads(cost_file.read_text())}
    overrides = [f"methods=[{METHOD}]", f"hparams.{METHOD}.params={params}",
                 f"hparams.{METHOD}.epochs={epochs}", f"seed={seed}", "eval.influence=true",
                 "eval.every_n_steps=0", "progress=false", f"runs_dir={runs}", f"name={name}",
                 *extra]
    began = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, cfg, json.dumps(overrides), str(threads)],
                             env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                             stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"influence_studies: the run {name} failed (exit "
                         f"{os.waitstatus_to_exitcode(status)})")
    cost = {"wall_seconds": wall, "peak_rss_mib": usage.ru_maxrss / 1024}
    cost_file.write_text(json.dumps(cost))
    print(f"  {name}: {wall:.0f} s, peak RSS {cost['peak_rss_mib']:.0f} MiB", flush=True)
    return {"folder": folder, **cost}


def figures(folder: Path) -> dict:
    """What the tables need from one run's results.json."""
    results = json.loads((folder / "results.json").read_text())
    models = results["models"]
    method, corrupted = models[METHOD], models["corrupted"]
    out = {f: method["metrics"][f]["mean"] for f in FIGURES}
    out["restoration"] = results["restoration"][METHOD] if "restoration" in results else \
        method.get("restoration")
    out["influence_corrupted"] = corrupted["metrics"]["influence_forget"]["mean"]
    out["influence_after"] = method["metrics"]["influence_forget"]["mean"]
    test = _comparison(results, "influence_forget")
    out["influence_test"] = test
    acc = _comparison(results, "target_accuracy")
    out["accuracy_test"] = acc
    info = results.get("info", {}).get(METHOD) or method.get("info", {})
    for key in ("steps", "forget_nll_before", "forget_nll_after", "bytes_per_example",
                "total_bytes", "n_params_recorded", "vectors_stored"):
        out[key] = info.get(key)
    out["forget_nll_ratio"] = out["forget_nll_after"] / out["forget_nll_before"]
    return out


def _comparison(results: dict, metric: str) -> dict | None:
    """The run's paired comparison of the method against the corrupted model on `metric`
    (method - corrupted; significant: Bonferroni-adjusted p < 0.05)."""
    row = results.get("comparisons", {}).get(METHOD, {}).get(metric, {}).get("vs_corrupted")
    if row is None:
        return None
    return {"delta": row["mean_diff"], "ci95": row["ci95_diff"], "p": row["p"],
            "p_adj": row["p_adj"], "d_z": row["d_z"], "n": row["n"], "test": row["test"],
            "significant": row["p_adj"] < 0.05}


def over_seeds(values: list) -> dict:
    from unlearnlab.aggregate import over_seeds as agg

    got = agg([v for v in values if v is not None])
    return {"mean": got["mean"], "ci95": got["ci95"], "n": got["n"]}


def summarise(rows: dict[str, list[dict]]) -> dict:
    out = {}
    for label, per_seed in rows.items():
        keys = [k for k, v in per_seed[0].items() if isinstance(v, (int, float)) or v is None]
        out[label] = {k: over_seeds([r[k] for r in per_seed]) for k in keys}
        out[label]["influence_significant_seeds"] = sum(
            bool(r["influence_test"] and r["influence_test"]["significant"]) for r in per_seed)
        out[label]["seeds"] = len(per_seed)
    return out


def cell(stat: dict, digits: int = 3) -> str:
    """mean ± half-width of the 95% t-interval over seeds (the mean alone for one seed)."""
    if stat["mean"] is None:
        return "—"
    lo, hi = stat["ci95"]
    half = (hi - lo) / 2 if lo is not None and hi is not None and stat["n"] > 1 else None
    return f"{stat['mean']:.{digits}f}" + (f" ± {half:.{digits}f}" if half is not None else "")


def tables(summary: dict, labels: dict) -> str:
    head = ("| variant | target acc ↑ | corrupted ↓ | utility ↑ | restoration ↑ | influence "
            "corrupted → after | Δ influence sig. (seeds) | ascent steps | forget NLL × | "
            "recorded params | store / doc | store total | peak RSS | wall |")
    out = []
    for study, title in (("epochs", "(a) First-epoch vs last-epoch vs all-epochs gradient ascent"),
                         ("layers", "(b) Layer-specific unlearning (first-epoch gradients)")):
        members = [k for k, (_, _, s) in labels.items() if study in s and k in summary]
        if not members:
            continue
        out += [f"### {title}", "", head, "|" + "---|" * 14]
        for label in members:
            s = summary[label]
            out.append(
                f"| {label} | {cell(s['target_accuracy'])} | {cell(s['corrupted_rate'])} | "
                f"{cell(s['utility'])} | {cell(s['restoration'])} | "
                f"{s['influence_corrupted']['mean']:.3g} → {s['influence_after']['mean']:.3g} | "
                f"{s['influence_significant_seeds']}/{s['seeds']} | {s['steps']['mean']:.1f} | "
                f"{s['forget_nll_ratio']['mean']:.2f} | "
                f"{s['n_params_recorded']['mean']:,.0f} | "
                f"{s['bytes_per_example']['mean'] / 2**20:.2f} MiB | "
                f"{s['total_bytes']['mean'] / 2**20:.0f} MiB | {s['peak_rss_mib']['mean']:.0f} MiB | "
                f"{s['wall_seconds']['mean']:.0f} s |")
        out.append("")
    return "\n".join(out)


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--studies", nargs="+", default=["epochs", "layers"],
                        choices=["epochs", "layers"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "runs" / "influence-studies"))
    args = parser.parse_args(argv)
    from unlearnlab.config import load_config

    cfg = load_config(args.config, extra)
    labels = variants(args.studies, cfg.pretrain.model.num_layers)
    out = Path(args.out)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, label, params, epochs) for seed in args.seeds
            for label, (params, epochs, _) in labels.items()]

    def finished(job) -> dict | None:
        seed, label, params, epochs = job
        folder = runs / f"{label}-seed{seed}"
        if args.tables_only:
            if not (folder / "cost.json").is_file():
                return None
            return {"folder": folder, **json.loads((folder / "cost.json").read_text())}
        return run_one(args.config, label, params, epochs, seed, runs, extra, args.threads)

    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        done = list(pool.map(finished, jobs))
    rows: dict[str, list[dict]] = {}
    for (seed, label, _, _), got in zip(jobs, done):
        if got is not None:
            rows.setdefault(label, []).append(
                {"seed": seed, **figures(got["folder"]), "wall_seconds": got["wall_seconds"],
                 "peak_rss_mib": got["peak_rss_mib"]})
    if not rows:
        raise SystemExit(f"influence_studies: no finished runs under {runs}")
    summary = summarise(rows)
    text = tables(summary, labels)
    report = {"config": args.config, "overrides": extra, "seeds": args.seeds,
              "variants": {k: {"params": p, "epochs": e, "studies": s}
                           for k, (p, e, s) in labels.items()},
              "per_seed": rows, "summary": summary}
    from unlearnlab.runs import atomic_write_json, atomic_write_text

    atomic_write_json(out / "studies.json", json.loads(json.dumps(report, default=str)))
    atomic_write_text(out / "studies.md", "# Influence studies (first_epoch_ga)\n\n" + text)
    print(text)
    print(f"wrote {out}/studies.json and studies.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
