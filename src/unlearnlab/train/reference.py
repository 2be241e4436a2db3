"""Reference (frozen starting model) outputs, computed once before unlearning.

The reference model is frozen and the forget, alternative and retain sets are fixed, so its
outputs on each item never change: `CachedReference` runs it once per item before training
and keeps only the kinds the method declared (see train/inputs.py for the keys), so no
second model stays in memory and nothing is re-run per step. `LiveReference` runs a frozen
copy on every batch instead: the same numbers, for sets too large to cache (e.g. full
next-token distributions of a large vocabulary), and to check the cache against.
"""

from __future__ import annotations

import copy

import torch

from unlearnlab.train.batches import Batch, ExampleSet, collate
from unlearnlab.train.forward import forward


def _outputs(model, batch: Batch, what: str, hidden_layer: int | None) -> list[torch.Tensor]:
    """Per item of `batch`: its `what` ("seq", "dist" or "hidden"), unpadded."""
    fw = forward(model, batch, keep_logits=what == "dist",
                 hidden_layer=hidden_layer if what == "hidden" else None)
    if what == "seq":
        return list(fw.seq_logps)
    lengths = batch.attention_mask.sum(-1).tolist()
    if what == "dist":
        logprobs = torch.log_softmax(fw.logits, dim=-1)
        return [lp[: n - 1] for lp, n in zip(logprobs, lengths)]
    return [h[:n] for h, n in zip(fw.hidden, lengths)]


def _pad(rows: list[torch.Tensor], width: int) -> torch.Tensor:
    """Stack per-item rows, zero-padded to `width` along dim 0 (masked positions never count)."""
    if rows[0].dim() == 0:
        return torch.stack(rows)
    out = rows[0].new_zeros((len(rows), width, *rows[0].shape[1:]))
    for b, row in enumerate(rows):
        out[b, : len(row)] = row
    return out


class LiveReference:
    """Runs a frozen copy of the starting model on every batch."""

    def __init__(self, model, hidden_layer: int | None = None):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.hidden_layer = hidden_layer

    @torch.no_grad()
    def get(self, kind: str, batch: Batch) -> torch.Tensor:
        what = kind.split("_")[1]
        width = batch.input_ids.shape[1] - (what == "dist")
        return _pad(_outputs(self.model, batch, what, self.hidden_layer), width)


class CachedReference:
    """Per-item reference outputs computed once; batches look them up by item index."""

    def __init__(self, model, pad_id: int, sets: dict[str, ExampleSet], kinds,
                 hidden_layer: int | None = None, batch_size: int = 32):
        self._values: dict[str, list[torch.Tensor]] = {}
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for kind in kinds:
                name, what = kind.split("_")
                examples = sets[name]
                rows: list[torch.Tensor] = []
                for start in range(0, len(examples), batch_size):
                    idx = list(range(start, min(start + batch_size, len(examples))))
                    batch = collate(examples, idx, pad_id).to(model.device)
                    rows += [r.cpu() for r in _outputs(model, batch, what, hidden_layer)]
                self._values[kind] = rows
        model.train(was_training)

    def get(self, kind: str, batch: Batch) -> torch.Tensor:
        rows = [self._values[kind][i] for i in batch.idx.tolist()]
        width = batch.input_ids.shape[1] - (kind.endswith("dist"))
        return _pad(rows, width).to(batch.input_ids.device)

    def nbytes(self) -> int:
        return sum(r.numel() * r.element_size() for rows in self._values.values() for r in rows)
