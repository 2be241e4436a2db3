"""Several processes, one run: `accelerate launch --multi_gpu --num_processes N -m unlearnlab
run ...` (on CPUs too: `--multi_gpu` picks accelerate's process launcher; without CUDA the
ranks join a gloo group), or `torchrun --nproc_per_node N -m unlearnlab run ...`.

The one module that imports `accelerate` (and only when launched with more than one process:
a plain run never pays its import). Every rank runs the whole protocol in lockstep:

- training (train/loop.py): every rank draws the same global batch of indices (same seed),
  forwards its own shard `idx[rank::N]` and the gradients are averaged across ranks before
  clipping and the optimizer step. Losses are means over examples of per-example terms, so
  with `batch_size` divisible by N the averaged gradient is the one-process gradient (DDP's
  semantics; the difference is floating-point reduction order only);
- evaluation (stages/evaluate.py): each rank scores the items `items[rank::N]`, the records
  are gathered and put back in item order, so every item is scored exactly once;
- files: only rank 0 writes the run folder and the cache; the other ranks build into private
  scratch folders that are discarded, and take cache decisions from rank 0 (`agree`).

Multi-GPU: accelerate's launcher sets up the process group (NCCL on GPUs, gloo on CPUs); each
rank trains on `cuda:<local rank>`. The gradient exchange here is a plain all-reduce of the
trained parameters' gradients, i.e. DDP: every rank holds the whole model. A launch that asks
for a sharded state (FSDP, DeepSpeed) is refused in one line rather than silently run as DDP.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path


def world_size() -> int:
    """Processes in this run (1 unless started by a distributed launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def active() -> bool:
    return world_size() > 1


SHARDED = ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED")


@lru_cache(maxsize=1)
def _state():
    import torch
    from accelerate import PartialState

    from unlearnlab.errors import UserError

    asked = [k for k in SHARDED if os.environ.get(k, "").lower() in ("1", "true")]
    if asked:
        raise UserError(f"accelerate launch asked for {asked[0][len('ACCELERATE_USE_'):]}: "
                        "unlearnlab runs data-parallel (DDP) only; launch with --multi_gpu")

    # Without CUDA, accelerate's multi-CPU state: a gloo process group over the launched ranks.
    return PartialState(cpu=not torch.cuda.is_available())


def rank() -> int:
    return _state().process_index if active() else 0


def is_main() -> bool:
    return rank() == 0


def local_device(device):
    """This rank's device: `cuda:<local rank>` when the run asks for CUDA, else `device`."""
    import torch

    if active() and device.type == "cuda":
        return torch.device("cuda", _state().local_process_index)
    return device


def shard(items: list) -> list:
    """This rank's share of `items` (every N-th item from its rank)."""
    return items[rank()::world_size()] if active() else items


def gather(mine: list, n: int) -> list:
    """The full list from every rank's `shard` of an `n`-item list, in the original order
    (each item exactly once)."""
    if not active():
        return mine
    from accelerate.utils import gather_object

    parts = gather_object([mine])                    # one list per rank, rank order
    size = world_size()
    out = [None] * n
    for r, part in enumerate(parts):
        if len(part) != len(range(r, n, size)):
            raise RuntimeError(f"rank {r} returned {len(part)} records for "
                               f"{len(range(r, n, size))} items")
        out[r::size] = part
    return out


def agree(value):
    """Rank 0's `value`, on every rank (a decision all ranks must take the same way)."""
    if not active():
        return value
    from accelerate.utils import broadcast_object_list

    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


@contextmanager
def scratch():
    """A private folder, deleted afterwards, for what a rank other than 0 writes (rank 0
    writes the real files)."""
    folder = Path(tempfile.mkdtemp(prefix=f"unlearnlab-rank{rank()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def barrier() -> None:
    if active():
        _state().wait_for_everyone()


def average_gradients(params) -> None:
    """Each parameter's gradient replaced by its mean over ranks (one all-reduce per tensor).
    Which parameters have a gradient is the same on every rank (same model, same objective),
    so every rank takes part in the same all-reduces."""
    if not active():
        return
    import torch.distributed as dist

    size = world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(size)


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Per-key mean of floats over ranks (the loss and statistics of a sharded batch)."""
    if not active():
        return values
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) / world_size() for k, v in zip(keys, t.tolist())}
