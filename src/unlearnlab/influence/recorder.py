"""Influence tracking during training: each training example's gradient, per epoch.

Zagardo 2024 ("A More Practical Approach to Machine Unlearning", arXiv 2406.09391) unlearns
an example by gradient ascent along the gradient it had in the FIRST epoch of training,
which the paper finds works better than gradients from later epochs. `GradientRecorder` is
attached to the training loop as a recorder: before each micro-batch's update it computes,
for every item of the batch it records (the first time it is seen, or every time with
epochs="all"), that item's gradient, vectorised over the batch (influence/grads.py)

    g_i^e = d NLL(x_i; theta_t) / d theta_sel      at the parameters theta_t of its e-th visit

and stores it flattened on the CPU under (i, e). Memory is the cost of the method (one
vector per example and recorded epoch), so storage is configurable:

    dtype       fp32, or fp16 (each vector scaled by its max |value| first, so small
                gradients do not underflow; the scale is kept in fp32)
    sketch_dim  0: exact; k > 0: a CountSketch of size k. A seeded hash h: coord -> bucket
                and sign s: coord -> +-1 give  sketch = sum_i s_i g_i e_{h(i)}, decoded as
                g_hat_i = s_i sketch[h(i)]. It is linear, and unbiased over the hash draw
                (E g_hat = g), with per-coordinate noise of order ||g|| / sqrt(k). The hash
                and signs (5 bytes per recorded parameter) are shared by all examples.

Recording never touches `.grad`, the model's train/eval mode or the training's random
stream (the extra forward runs under a forked RNG), so training is the same with or
without a recorder. `ascent_direction` reads the first epoch, the last, or the mean over
all recorded epochs (first-epoch vs multi-epoch gradient ascent on the same run).
"""

from __future__ import annotations

import torch

from unlearnlab.errors import UserError
from unlearnlab.influence.grads import per_example_grads
from unlearnlab.train.batches import ExampleSet
from unlearnlab.train.params import select_parameters

DTYPES = {"fp16": torch.float16, "fp32": torch.float32}
EPOCHS = ("first", "last", "all")


class GradientRecorder:
    """Stores examples' NLL gradients w.r.t. the parameters `selector` names: at the first
    visit (epochs="first") or at every visit (epochs="all")."""

    def __init__(self, model, selector: str = "all", *, dtype: str = "fp16", sketch_dim: int = 0,
                 seed: int = 0, epochs: str = "first"):
        if dtype not in DTYPES:
            raise UserError(f"dtype: unknown value {dtype!r}; valid: {', '.join(DTYPES)}")
        if sketch_dim < 0:
            raise UserError(f"sketch_dim must be >= 0, got {sketch_dim}")
        if epochs not in ("first", "all"):
            raise UserError(f"epochs: unknown value {epochs!r}; valid: first, all")
        self.selector = selector
        self.epochs = epochs
        self.dtype = dtype
        self.sketch_dim = sketch_dim
        self.pad_id = model.config.pad_token_id
        params = select_parameters(model, selector)
        self.shapes = [tuple(p.shape) for p in params]
        self.n_params = sum(p.numel() for p in params)
        self.device = params[0].device
        self._store: dict[tuple[int, int], tuple[torch.Tensor, float]] = {}  # (i, e) -> (vector, scale)
        self._visits: dict[int, int] = {}     # i -> visits so far (the epoch of the next one)
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
        """Items with a stored first-epoch gradient."""
        return {i for i, e in self._store if e == 0}

    def __len__(self) -> int:
        """Stored vectors (items x recorded epochs)."""
        return len(self._store)

    def epochs_of(self, i: int) -> list[int]:
        return sorted(e for j, e in self._store if j == i)

    def observe(self, model, examples: ExampleSet, idx: list[int]) -> None:
        """Record the gradient of every visit of `idx` this recorder keeps (the first, or all)."""
        wanted = []
        for i in (int(i) for i in idx):
            epoch = self._visits.get(i, 0)
            self._visits[i] = epoch + 1
            if (self.keep is None or i in self.keep) and (epoch == 0 or self.epochs == "all") \
                    and (i, epoch) not in self._store:
                wanted.append((i, epoch))
        if not wanted:
            return
        params = select_parameters(model, self.selector)
        if [tuple(p.shape) for p in params] != self.shapes:
            raise UserError(f"gradient recorder: the parameters {self.selector!r} of the "
                            "trained model differ from those at creation (LoRA training is "
                            "not supported)")
        self.device = params[0].device
        forked = [self.device] if self.device.type == "cuda" else []
        items = list(dict.fromkeys(i for i, _ in wanted))     # an item twice in one batch: same params
        with torch.random.fork_rng(devices=forked):
            rows = per_example_grads(model, examples, items, self.selector, self.pad_id)  # (n, N)
        row_of = {i: r for i, r in zip(items, rows)}
        for i, epoch in wanted:
            self._store[(i, epoch)] = self._encode(row_of[i])

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

    def stored(self, i: int, epoch: int = 0) -> torch.Tensor:
        """Example `i`'s stored vector of `epoch` (0 = first) as fp32 on the CPU ((N,) exact,
        (k,) sketched)."""
        vector, scale = self._store[(i, epoch)]
        return vector.float() * scale

    def ascent_direction(self, indices, device=None, epochs: str = "first") -> list[torch.Tensor]:
        """Mean stored gradient of `indices` — of their first epoch, their last, or the mean
        over all their recorded epochs — decoded, as fp32 tensors shaped like the params."""
        indices = list(indices)
        missing = [i for i in indices if (i, 0) not in self._store]
        if not indices or missing:
            raise UserError(f"gradient recorder: no stored gradient for item "
                            f"{missing[0] if missing else '(none asked for)'}")
        if epochs != "first" and self.epochs != "all":
            raise UserError(f"gradient recorder: epochs={epochs!r} needs every epoch recorded "
                            "(record: all)")
        total = torch.zeros_like(self.stored(indices[0]))
        for i in indices:
            seen = self.epochs_of(i)
            chosen = {"first": seen[:1], "last": seen[-1:], "all": seen}[epochs]
            total += sum(self.stored(i, e) for e in chosen) / len(chosen)
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


FirstEpochRecorder = GradientRecorder      # the first-epoch store is the recorder's default
