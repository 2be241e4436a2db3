"""Pretraining throughput as model FLOP utilisation (MFU) on this machine.

    python benchmarks/mfu.py                          # the default config's built-in model
    python benchmarks/mfu.py configs/restor_wikidata.yaml --steps 20
    python benchmarks/mfu.py --batch-sizes 32 64 128  # how batching changes it
    python benchmarks/mfu.py --group-by-length        # also with train.group_by_length
    python benchmarks/mfu.py --compare-packing        # also with train.pack off (padded rows)
    python benchmarks/mfu.py --compile                # also under torch.compile (fused ops)

Runs the real pretraining loop (train/loop.py: forward, backward, clipping, AdamW) for
`--steps` optimizer steps on the config's pretraining corpus, after 3 untimed warm-up steps,
and prints tokens/s and MFU = 6 · N · tokens/s / peak, where N counts every parameter (the
output head is a matmul; the input embedding, a lookup, is counted too, as is usual) and
tokens are the real (non-pad) tokens of the batches; the figure over every position the
matmuls computed (real tokens plus padding; with `train.pack`, the default, the packed rows'
positions) is printed beside it. The peak is this machine's measured fp32 matmul rate
(square 2048 matrices, best of 5, same torch threads). Attention's own FLOPs are left out,
as 6·N does. `--compile` measures each setting once more with the model under
torch.compile(dynamic=True) (inductor's fused C++ kernels for the ops between the matmuls;
a fresh inductor cache folder, so the warm-up time printed is what a first run pays).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import random
import sys
import tempfile
import time

import torch

from unlearnlab import tasks
from unlearnlab.config import load_config
from unlearnlab.models.tiny import build_model, train_tokenizer
from unlearnlab.texts import tokenize
from unlearnlab.train.loop import FINETUNE, index_stream, train
from unlearnlab.train.packing import first_fit


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """Best fp32 matmul rate in FLOP/s on square n x n matrices."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def token_counts(lengths: list[int], batch_size: int, steps: int, seed: int,
                 grouped: bool = False, packed: bool = False) -> tuple[int, int]:
    """(real tokens, positions computed) of the loop's first `steps` micro-batches (the same
    seeded index stream the loop draws): padded rows, or the packed rows of train/packing.py."""
    stream = index_stream(len(lengths), batch_size, random.Random(seed),
                          lengths if grouped else None)
    real = computed = 0
    for _ in range(steps):
        batch = [lengths[i] for i in next(stream)]
        real += sum(batch)
        rows = first_fit(batch, max(batch))[2] if packed else len(batch)
        computed += max(batch) * rows
    return real, computed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-sizes", nargs="+", type=int)
    parser.add_argument("--group-by-length", action="store_true",
                        help="measure each batch size with train.group_by_length too")
    parser.add_argument("--compare-packing", action="store_true",
                        help="measure each batch size with train.pack off too")
    parser.add_argument("--compile", action="store_true",
                        help="measure each setting under torch.compile too")
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    cfg = load_config(args.config, args.overrides)
    task = tasks.build(cfg)
    tokenizer = train_tokenizer(task.tokenizer_texts, cfg.pretrain.vocab_size)
    data = tokenize(tokenizer, task.pretrain, task.fmt)
    lengths = [len(ids) for ids in data.input_ids]
    peak = matmul_peak()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul peak "
          f"{peak / 1e9:.1f} GFLOP/s; corpus {len(lengths)} texts, mean {sum(lengths) / len(lengths):.1f} "
          f"tokens")
    compiles = [False, True] if args.compile else [False]
    inductor = tempfile.TemporaryDirectory(prefix="inductor-")   # removed at exit
    if args.compile:          # a first run's compile time: no kernels from earlier runs
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = inductor.name
    for batch_size in args.batch_sizes or [cfg.pretrain.train.batch_size]:
        variants = [(False, cfg.pretrain.train.pack)]
        variants += [(False, not cfg.pretrain.train.pack)] if args.compare_packing else []
        variants += [(True, cfg.pretrain.train.pack)] if args.group_by_length else []
        for (grouped, packed), compiled in itertools.product(variants, compiles):
            model = build_model(cfg.pretrain.model, tokenizer, cfg.pretrain.seed)
            n_params = sum(p.numel() for p in model.parameters())
            if compiled:
                model = torch.compile(model, dynamic=True)
            recipe = dataclasses.replace(cfg.pretrain.train, batch_size=batch_size, max_steps=3,
                                         group_by_length=grouped, pack=packed)
            start = time.perf_counter()
            train(model, FINETUNE, recipe, forget=data, pad_id=tokenizer.pad_token_id, seed=1,
                  progress=False)                                             # warm-up
            warmup = time.perf_counter() - start
            recipe = dataclasses.replace(recipe, max_steps=args.steps)
            start = time.perf_counter()
            train(model, FINETUNE, recipe, forget=data, pad_id=tokenizer.pad_token_id,
                  seed=cfg.pretrain.seed, progress=False)
            seconds = time.perf_counter() - start
            real, computed = token_counts(lengths, batch_size, args.steps * recipe.grad_accum,
                                          cfg.pretrain.seed, grouped, packed)
            rate = real / seconds
            how = ("packed" if packed else "padded") + (", grouped by length" if grouped else "")
            how += f", torch.compile (warm-up {warmup:.1f} s)" if compiled else ""
            print(f"batch {batch_size} ({how}): "
                  f"{n_params / 1e6:.2f} M parameters, {args.steps} steps in {seconds:.1f} s, "
                  f"{rate:,.0f} tokens/s; MFU {6 * n_params * rate / peak:.1%} "
                  f"(positions computed: {6 * n_params * computed / seconds / peak:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
