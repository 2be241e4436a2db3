"""The matrix-multiply and attention kernels a piece of code calls, recorded and then timed
alone: a floor on its wall time that sits above the FLOP count's (which assumes the machine's
square-matrix peak) because each kernel runs at the shape the code gave it.

    with KernelLog() as log:
        unlearnlab.run(...)
    seconds = replay(log)          # {"mm": s, "attention": s, ...}

`KernelLog` is a TorchDispatchMode that counts every call of aten.mm / addmm / bmm / baddbmm
and of CPU scaled-dot-product attention (forward and backward) by its signature: the op, each
tensor argument's shape, strides and dtype, and the other arguments. `replay` runs each
distinct signature on fresh random tensors of the same layout (once to warm up, then up to
`repeats` times) and charges its mean time for every recorded call. What this leaves out:
every other op (norms, activations, softmax, the optimizer), Python, tokenization; what it
includes: the few microseconds of calling each op from Python.
"""

from __future__ import annotations

import time
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
GROUPS = {
    aten.mm.default: "mm", aten.addmm.default: "mm", aten.bmm.default: "mm",
    aten.baddbmm.default: "mm",
    aten._scaled_dot_product_flash_attention_for_cpu.default: "attention",
    aten._scaled_dot_product_flash_attention_for_cpu_backward.default: "attention backward",
}


def _layout(x):
    if isinstance(x, torch.Tensor):
        return ("tensor", tuple(x.shape), tuple(x.stride()), x.dtype)
    if isinstance(x, (list, tuple)):
        return tuple(_layout(y) for y in x)
    return x


def _fresh(spec):
    if isinstance(spec, tuple) and spec and spec[0] == "tensor":
        _, shape, stride, dtype = spec
        span = 1 + sum((n - 1) * s for n, s in zip(shape, stride)) if all(shape) else 1
        base = torch.randn(span, dtype=dtype) if dtype.is_floating_point else \
            torch.zeros(span, dtype=dtype)                      # a boolean or integer mask
        return base.as_strided(shape, stride)
    if isinstance(spec, tuple):
        return tuple(_fresh(s) for s in spec)
    return spec


class KernelLog(TorchDispatchMode):
    """Counts the watched kernels' calls by signature while active."""

    def __init__(self):
        super().__init__()
        self.calls: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in GROUPS:
            self.calls[(func, _layout(args), tuple(sorted((k, _layout(v))
                                                          for k, v in kwargs.items())))] += 1
        return func(*args, **kwargs)


def replay(log: KernelLog, repeats: int = 20) -> dict[str, float]:
    """Seconds per kernel group: each distinct call timed alone, times its count."""
    seconds: dict[str, float] = {}
    for (func, args, kwargs), count in log.calls.items():
        args = [_fresh(a) for a in args]
        kwargs = {k: _fresh(v) for k, v in kwargs}
        func(*args, **kwargs)
        reps = max(1, min(count, repeats))
        start = time.perf_counter()
        for _ in range(reps):
            func(*args, **kwargs)
        group = GROUPS[func]
        seconds[group] = seconds.get(group, 0.0) + (time.perf_counter() - start) / reps * count
    return seconds
