"""Influence score agreement with leave-one-out retraining (issue 11, study 3), on a tiny world.

The training set is the learn stage's corruption documents of the tiny world (by default 4
per target: 16 documents), the start model the tiny world's clean model, the queries the
task's taught queries (each target question answered with its injected value). For each
recipe (full batch: every step sees every document, so a retrain differs from another only
by the removed document and float rounding; or mini-batches of B, whose shuffled order also
changes when a document is removed), it trains once and computes every score
(influence/agreement.py), retrains once per removed document (influence/loo.py: the
project's loop, same seed, same start), measures the noise floor (retrains on all documents
with other seeds), and reports Spearman's rho of each score with the true removal effect:
per query over the documents (mean over queries), pooled over every (document, query) pair,
and pooled over the task's pairs (a document and its own target's queries).

    python benchmarks/influence_agreement.py                        # full batch and B = 8
    python benchmarks/influence_agreement.py --batch full --out runs/influence-agreement
    python benchmarks/influence_agreement.py --set corruption.docs_per_target=3 --steps 24
    python benchmarks/influence_agreement.py --tables-only      # the tables again, from the JSON

Writes OUT/agreement.json (every number, per-query rhos, the effects and scores) and
OUT/agreement.md (the tables), and prints the tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from unlearnlab import tasks
from unlearnlab.config import load_config
from unlearnlab.influence.agreement import SCORES, score_run
from unlearnlab.influence.loo import agreement, leave_one_out, noise_floor, query_losses
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.runs import atomic_write_json, atomic_write_text
from unlearnlab.stages import pretrain
from unlearnlab.texts import tokenize

ROOT = Path(__file__).resolve().parents[1]
TITLE = "# Influence score agreement with leave-one-out retraining"
LABELS = {"grad_dot": "gradient dot product (final model)",
          "tracin": "TracIn (every step's checkpoint)",
          "tracin_first_epoch": "TracIn (first epoch's checkpoints)",
          "activation_x_gradient": "activation x gradient (linear layers)",
          "influence_cg": "influence function, CG",
          "influence_lissa": "influence function, LiSSA",
          "ekfac": "EK-FAC (kronfluence, linear layers)"}


def setting(args, cfg, task, start, tok, batch: str) -> dict:
    data = tokenize(tok, task.learn, task.fmt)
    queries = tokenize(tok, task.queries, task.fmt)
    n = len(data)
    size = n if batch == "full" else int(batch)
    recipe = dataclasses.replace(cfg.learn.train, batch_size=size, max_steps=args.steps,
                                 lr=args.lr, warmup_ratio=0.0)
    pad = tok.pad_token_id
    print(f"[{batch}] {n} training documents, {len(queries)} queries, batch {size}, "
          f"{args.steps} steps, lr {args.lr:g}", flush=True)
    run = score_run(start, data, queries, recipe, pad_id=pad, seed=cfg.seed,
                    solver_steps=args.solver_steps, with_ekfac=not args.no_ekfac, log=print)
    loo = leave_one_out(start, data, queries, recipe, pad_id=pad, seed=cfg.seed,
                        log=lambda line: print("  " + line, flush=True) if args.verbose else None)
    print(f"  leave-one-out: {n} retrains, {loo.seconds_per_retrain:.1f} s each", flush=True)
    # the scored model and the leave-one-out base are the same training: check it
    same = float((query_losses(run["model"], queries, pad) - loo.base).abs().max())
    noise = noise_floor(start, data, queries, recipe, pad_id=pad, seed=cfg.seed,
                        other_seeds=args.noise_seeds)
    pairs = [(z, q) for z, q in task.influence_pairs if z < n]
    rows = {}
    for name in SCORES:
        if name in run["scores"]:
            rows[name] = {**agreement(run["scores"][name], loo.effects),
                          "pooled_task_pairs": agreement(run["scores"][name], loo.effects,
                                                         pairs)["pooled"],
                          "seconds": run["seconds"][name]}
    effects = loo.effects
    return {"batch": batch, "batch_size": size, "n_train": n, "n_queries": len(queries),
            "recipe": dataclasses.asdict(recipe), "task_pairs": len(pairs),
            "scores": rows, "hessian": run["hessian"], "ekfac": run["ekfac"],
            "train_seconds": run["seconds"]["train"],
            "loo_seconds_per_retrain": loo.seconds_per_retrain,
            "base_equals_scored_model_max_diff": same,
            "effects": {"mean_abs": float(effects.abs().mean()),
                        "mean_abs_task_pairs": float(torch.stack([effects[z, q] for z, q in pairs]).abs().mean()),
                        "sd": float(effects.std())},
            "noise_floor": {"seeds": args.noise_seeds, "mean_abs": float(noise.abs().mean()),
                            "sd": float(noise.std())},
            "query_loss_start": float(query_losses(start, queries, pad).mean()),
            "query_loss_trained": float(loo.base.mean()),
            "raw": {"effects": effects.tolist(),
                    "scores": {k: v.tolist() for k, v in run["scores"].items()}}}


def fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.3f}"


def tables(report: dict) -> str:
    out = []
    for s in report["settings"]:
        h, e, nf = s["hessian"], s["effects"], s["noise_floor"]
        out += [f"### {'full batch' if s['batch'] == 'full' else 'mini-batches of ' + str(s['batch_size'])}"
                f" ({s['n_train']} documents, {s['n_queries']} queries, {s['recipe']['max_steps']} "
                f"steps, lr {s['recipe']['lr']:g})", "",
                "| score | ρ per query: mean ± sd | queries with ρ > 0 | ρ pooled, all pairs | "
                "ρ pooled, task pairs | time |", "|---|---|---|---|---|---|"]
        for name, r in s["scores"].items():
            defined = [x for x in r["per_query"] if not math.isnan(x)]
            sd = statistics.stdev(defined) if len(defined) > 1 else math.nan
            out.append(f"| {LABELS[name]} | {fmt(r['per_query_mean'])} ± {sd:.3f} | "
                       f"{sum(x > 0 for x in defined)}/{len(defined)} | {fmt(r['pooled'])} | "
                       f"{fmt(r['pooled_task_pairs'])} | {r['seconds']:.1f} s |")
        out += ["", f"Removal effects: mean |Δ loss| {e['mean_abs']:.4f} over all "
                f"{s['n_train']}×{s['n_queries']} pairs, {e['mean_abs_task_pairs']:.4f} over the "
                f"{s['task_pairs']} task pairs; noise floor (all documents, seeds "
                f"{nf['seeds']}): mean |Δ| {nf['mean_abs']:.2g}. One retrain "
                f"{s['loo_seconds_per_retrain']:.1f} s. Hessian at the trained model: λ_max "
                f"{h['lambda_max']:.3g}, λ_min {h['lambda_min']:.3g}, damping {h['damping']:.3g}; "
                f"CG relative residual ≤ {h['cg_relative_residual_max']:.1e} after ≤ "
                f"{h['solver_steps']} steps; LiSSA ({h['solver_steps']} steps) is "
                f"{h['lissa_relative_error_vs_cg_mean']:.2f} (relative, mean) from CG's solution. "
                f"EK-FAC: {s['ekfac']}.", ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "tiny.yaml"))
    parser.add_argument("--set", action="append", default=["corruption.docs_per_target=4"],
                        help="config override (repeatable); default corruption.docs_per_target=4")
    parser.add_argument("--batch", nargs="+", default=["full", "8"],
                        help="recipes: full (batch = every document) and/or mini-batch sizes")
    parser.add_argument("--steps", type=int, default=36, help="optimizer steps per training")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--solver-steps", type=int, default=100,
                        help="Hessian-vector products per CG / LiSSA solve (at most, for CG)")
    parser.add_argument("--noise-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-ekfac", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "runs" / "influence-agreement"))
    parser.add_argument("--tables-only", action="store_true",
                        help="print (and rewrite OUT/agreement.md) from OUT/agreement.json")
    args = parser.parse_args()
    out = Path(args.out)
    if args.tables_only:
        text = tables(json.loads((out / "agreement.json").read_text()))
        atomic_write_text(out / "agreement.md", f"{TITLE}\n\n{text}")
        print(text)
        return 0
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, [*args.set, "progress=false"])
    task = tasks.build(cfg)
    began = time.perf_counter()
    clean = pretrain.run(cfg, task, torch.device("cpu"))
    start, tok = load_causal_lm(clean.path, torch.device("cpu"))
    report = {"config": args.config, "overrides": args.set, "seed": cfg.seed,
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "cpu": os.uname().machine, "settings": []}
    out.mkdir(parents=True, exist_ok=True)
    for batch in args.batch:                  # the report is rewritten after each recipe
        report["settings"].append(setting(args, cfg, task, start, tok, batch))
        report["wall_seconds"] = time.perf_counter() - began
        text = tables(report)
        atomic_write_json(out / "agreement.json", report)
        atomic_write_text(out / "agreement.md", f"{TITLE}\n\n{text}")
    print(text)
    print(f"wrote {out}/agreement.json and agreement.md ({report['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
