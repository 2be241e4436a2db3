"""First-epoch gradient store: each training example's gradient the first time it is seen.

Zagardo 2024 ("A More Practical Approach to Machine Unlearning", arXiv 2406.09391) unlearns
an example by gradient ascent along the gradient it had in the FIRST epoch of training,
which the paper finds works better than gradients from later epochs. `FirstEpochRecorder`
is attached to the training loop as a recorder: before each micro-batch's update it
computes, for every item of the batch not yet recorded, that single item's gradient

    g_i = d NLL(x_i; theta_t) / d theta_sel      at the current parameters theta_t

and stores it flattened on the CPU. Memory is the cost of the method (one vector per
example), so storage is configurable:

    dtype       fp32, or fp16 (each vector scaled by its max |value| first, so small
                gradients do not underflow; the scale is kept in fp32)
    sketch_dim  0: exact; k > 0: a CountSketch of size k. A seeded hash h: coord -> bucket
                and sign s: coord -> +-1 give  sketch = sum_i s_i g_i e_{h(i)}, decoded as
                g_hat_i = s_i sketch[h(i)]. It is linear, and unbiased over the hash draw
                (E g_hat = g), with per-coordinate noise of order ||g|| / sqrt(k). The hash
                and signs (5 bytes per recorded parameter) are shared by all examples.

Recording never touches `.grad`, the model's train/eval mode or the training's random
stream (the extra forward runs under a forked RNG), so training is the same with or
without a recorder.
"""

from __future__ import annotations

import torch

from unlearnlab.errors import UserError
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.train.inputs import nll
from unlearnlab.train.params import select_parameters

DTYPES = {"fp16": torch.float16, "fp32": torch.float32}


class FirstEpochRecorder:
    """Stores each example's first-seen NLL gradient w.r.t. the parameters `selector` names."""

    def __init__(self, model, selector: str = "all", *, dtype: str = "fp16", sketch_dim: int = 0,
                 seed: int = 0):
        if dtype not in DTYPES:
            raise UserError(f"dtype: unknown value {dtype!r}; valid: {', '.join(DTYPES)}")
        if sketch_dim < 0:
            raise UserError(f"sketch_dim must be >= 0, got {sketch_dim}")
        self.selector = selector
        self.dtype = dtype
        self.sketch_dim = sketch_dim
        self.pad_id = model.config.pad_token_id
        params = select_parameters(model, selector)
        self.shapes = [tuple(p.shape) for p in params]
        self.n_params = sum(p.numel() for p in params)
        self.device = params[0].device
        self._store: dict[int, tuple[torch.Tensor, float]] = {}   # idx -> (vector, scale)
        self.keep: set[int] | None = None     # record only these items (None: every item)
        self._hash = self._sign = None
        if sketch_dim > 0:
            g = torch.Generator().manual_seed(seed)
            # Shared by all examples: 5 bytes per recorded parameter (int32 bucket, int8 sign).
            self._hash = torch.randint(0, sketch_dim, (self.n_params,), generator=g,
                                       dtype=torch.int32)                                 # (N,)
            self._sign = (torch.randint(0, 2, (self.n_params,), generator=g) * 2 - 1).to(torch.int8)

    # ------------------------------------------------------------------ recording

    @property
    def recorded(self) -> set[int]:
        return set(self._store)

    def observe(self, model, examples: ExampleSet, idx: list[int]) -> None:
        """Record the gradient of every item of `idx` seen here for the first time."""
        new = [i for i in dict.fromkeys(int(i) for i in idx)
               if i not in self._store and (self.keep is None or i in self.keep)]
        if not new:
            return
        params = select_parameters(model, self.selector)
        if [tuple(p.shape) for p in params] != self.shapes:
            raise UserError(f"first-epoch recorder: the parameters {self.selector!r} of the "
                            "trained model differ from those at creation (LoRA corruption is "
                            "not supported)")
        self.device = params[0].device
        frozen = [not p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(True)
        forked = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.enable_grad(), torch.random.fork_rng(devices=forked):
                for i in new:
                    batch = collate(examples, [i], self.pad_id).to(self.device)
                    loss = nll(forward(model, batch))
                    grads = torch.autograd.grad(loss, params, allow_unused=True)
                    flat = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                      for g, p in zip(grads, params)]).float()   # (N,)
                    self._store[i] = self._encode(flat)
        finally:
            for p, was_frozen in zip(params, frozen):
                if was_frozen:
                    p.requires_grad_(False)

    def _encode(self, flat: torch.Tensor) -> tuple[torch.Tensor, float]:
        if self.sketch_dim > 0:
            flat = self.sketch(flat)
        if self.dtype == "fp32":
            return flat.cpu(), 1.0
        scale = flat.abs().max().item() or 1.0
        return (flat / scale).to(torch.float16).cpu(), scale

    # ------------------------------------------------------------------ CountSketch

    def sketch(self, flat: torch.Tensor) -> torch.Tensor:
        """(N,) -> (k,): sketch[b] = sum over coords i with h(i) = b of s_i g_i."""
        h, s = self._hash.to(flat.device).long(), self._sign.to(flat.device).float()
        return torch.zeros(self.sketch_dim, device=flat.device).index_add_(0, h, s * flat.float())

    def decode(self, sketch: torch.Tensor) -> torch.Tensor:
        """(k,) -> (N,): g_hat_i = s_i sketch[h(i)]."""
        h, s = self._hash.to(sketch.device).long(), self._sign.to(sketch.device).float()
        return s * sketch.float()[h]

    # ------------------------------------------------------------------ reading

    def stored(self, i: int) -> torch.Tensor:
        """Example `i`'s stored vector as fp32 on the CPU ((N,) exact, (k,) sketched)."""
        vector, scale = self._store[i]
        return vector.float() * scale

    def ascent_direction(self, indices, device=None) -> list[torch.Tensor]:
        """Mean stored gradient of `indices`, decoded, as fp32 tensors shaped like the params."""
        indices = list(indices)
        missing = [i for i in indices if i not in self._store]
        if not indices or missing:
            raise UserError(f"first-epoch recorder: no stored gradient for item "
                            f"{missing[0] if missing else '(none asked for)'}")
        total = torch.zeros_like(self.stored(indices[0]))
        for i in indices:
            total += self.stored(i)
        mean = total / len(indices)                        # linear: decode(mean) = mean(decode)
        flat = self.decode(mean) if self.sketch_dim > 0 else mean
        flat = flat.to(device or self.device)
        sizes = [int(torch.Size(s).numel()) for s in self.shapes]
        return [part.view(shape) for part, shape in zip(flat.split(sizes), self.shapes)]

    def bytes_per_example(self) -> int:
        """Stored bytes of one example: its vector, plus its fp32 scale when stored in fp16."""
        length = self.sketch_dim or self.n_params
        return length * DTYPES[self.dtype].itemsize + (4 if self.dtype == "fp16" else 0)

    def total_bytes(self) -> int:
        return len(self._store) * self.bytes_per_example()
