"""Per-example gradients and the gradient recorder, on the default model (issue: influence).

1. Per-example gradients two vectorised ways — torch.func vmap over the examples of a batch
   (influence/grads.py), and one batched backward with per-layer taps, each layer's
   per-example weight gradient an einsum of its output gradients and inputs (Goodfellow
   2015; influence/taps.py) — against a per-example autograd loop: the same numbers
   (largest relative difference, row by row) and the speed-ups, on the default config's
   clean model and N of its corruption documents; and the loop's FLOPs against the machine's
   matmul peak, the most any vectorisation of the same arithmetic can gain.
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
from unlearnlab.influence.taps import per_example_grads_taps
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


def ceiling(loop, seconds: float) -> str:
    """The loop's matmul FLOPs (FlopCounterMode), its rate, and the most any way of doing
    the same arithmetic can gain over it: the loop's time against those FLOPs at the
    measured fp32 matmul peak (benchmarks/mfu.py)."""
    from torch.utils.flop_counter import FlopCounterMode

    from mfu import matmul_peak

    with FlopCounterMode(display=False) as counter:
        loop()
    flops, peak = counter.get_total_flops(), matmul_peak()
    return (f"  the loop's matmuls: {flops / 1e9:.1f} GFLOP, {flops / seconds / 1e9:.1f} GFLOP/s; "
            f"fp32 matmul peak {peak / 1e9:.1f} GFLOP/s, so the same arithmetic at peak "
            f"would be at most {seconds * peak / flops:.1f}x faster than the loop")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--n", type=int, default=64, help="examples for the vmap/loop timing")
    parser.add_argument("--selector", default="all")
    parser.add_argument("--skip-recorder", action="store_true")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats (best kept)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
    ways = {"loop": per_example_grads_loop, "vmap": per_example_grads,
            "taps": per_example_grads_taps}
    times, grads = {}, {}
    for label, fn in ways.items():
        fn(model, data, idx[:4], args.selector, tok.pad_token_id)                   # warm-up
        times[label], grads[label] = timed(
            lambda: fn(model, data, idx, args.selector, tok.pad_token_id), repeats=args.repeats)
    slow = grads["loop"]
    print(f"loop: {times['loop']:.2f} s ({len(idx) / times['loop']:.1f} examples/s)")
    print(ceiling(lambda: per_example_grads_loop(model, data, idx, args.selector,
                                                 tok.pad_token_id), times["loop"]))
    for label in ("vmap", "taps"):
        rel = ((grads[label] - slow).norm(dim=1) / slow.norm(dim=1).clamp(min=1e-30)).max().item()
        worst = ((grads[label] - slow).abs() / slow.abs().max(dim=1, keepdim=True).values
                 .clamp(min=1e-30)).max().item()
        print(f"{label}: {times[label]:.2f} s ({len(idx) / times[label]:.1f} examples/s); "
              f"speed-up {times['loop'] / times[label]:.1f}x; largest relative difference "
              f"(row norm) {rel:.1e}, (largest entry of the row) {worst:.1e}")
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
