"""Per-example gradients and the gradient recorder, on the default model (issue: influence).

1. Vectorised per-example gradients (torch.func vmap over the examples of a batch,
   influence/grads.py) against a per-example autograd loop: the same numbers (largest
   relative difference, row by row) and the speed-up, on the default config's clean model
   and N of its corruption documents.
2. The recorder's overhead on the learn stage (corruption training): the stage's wall time
   without a recorder, with first-epoch recording (first_epoch_ga's) and with every-epoch
   recording, and the memory per stored example for each storage (fp32, fp16, a sketch).

    python benchmarks/per_example_grads.py [--n 64] [--selector all] [--config configs/default.yaml]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

from unlearnlab import tasks
from unlearnlab.config import load_config
from unlearnlab.influence.grads import per_example_grads, per_example_grads_loop
from unlearnlab.influence.recorder import GradientRecorder
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.stages import learn, pretrain
from unlearnlab.texts import tokenize

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int = 1):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--n", type=int, default=64, help="examples for the vmap/loop timing")
    parser.add_argument("--selector", default="all")
    parser.add_argument("--skip-recorder", action="store_true")
    args = parser.parse_args()
    cfg = load_config(args.config, ["progress=false"])
    device = torch.device("cpu")
    task = tasks.build(cfg)
    clean = pretrain.run(cfg, task, device)
    model, tok = load_causal_lm(clean.path, device)
    data = tokenize(tok, task.learn, task.fmt)
    idx = list(range(min(args.n, len(data))))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters; {torch.get_num_threads()} threads; "
          f"{len(idx)} corruption documents; parameters: {args.selector}")
    per_example_grads(model, data, idx[:4], args.selector, tok.pad_token_id)      # warm-up
    t_vmap, fast = timed(lambda: per_example_grads(model, data, idx, args.selector,
                                                   tok.pad_token_id), repeats=2)
    t_loop, slow = timed(lambda: per_example_grads_loop(model, data, idx, args.selector,
                                                        tok.pad_token_id), repeats=2)
    rel = ((fast - slow).norm(dim=1) / slow.norm(dim=1).clamp(min=1e-30)).max().item()
    print(f"vmap: {t_vmap:.2f} s ({len(idx) / t_vmap:.1f} examples/s); loop: {t_loop:.2f} s "
          f"({len(idx) / t_loop:.1f} examples/s); speed-up {t_loop / t_vmap:.1f}x; largest "
          f"relative difference (row norm) {rel:.1e}")
    if args.skip_recorder:
        return 0
    rows = []
    for label, make in (("no recorder", lambda m: ()),
                        ("first epoch, fp16", lambda m: (GradientRecorder(m, args.selector),)),
                        ("every epoch, fp16", lambda m: (GradientRecorder(m, args.selector,
                                                                          epochs="all"),))):
        m = copy.deepcopy(model)
        recorders = make(m)
        seconds, _ = timed(lambda: learn.run(cfg, task, m, tok, recorders=recorders))
        stored = recorders[0].total_bytes() if recorders else 0
        rows.append((label, seconds, stored, len(recorders[0]) if recorders else 0))
    base = rows[0][1]
    print(f"learn stage ({len(data)} documents, {cfg.learn.train.epochs:g} epochs):")
    for label, seconds, stored, count in rows:
        print(f"  {label:18s} {seconds:7.1f} s  (x{seconds / base:.2f}); {count} vectors, "
              f"{stored / 2**20:.1f} MiB")
    for dtype, sketch in (("fp32", 0), ("fp16", 0), ("fp16", 4096)):
        r = GradientRecorder(model, args.selector, dtype=dtype, sketch_dim=sketch)
        name = f"{dtype}" + (f", sketch {sketch}" if sketch else "")
        print(f"  memory per stored example ({name}): {r.bytes_per_example() / 2**10:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
