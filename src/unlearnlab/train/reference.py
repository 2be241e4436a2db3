"""Reference (frozen starting model) outputs, computed once before unlearning.

The reference model is frozen and the forget and retain sets are fixed, so its outputs on
each item never change: `CachedReference` runs it once per item before training and keeps
only what the method needs (per-sequence log-probs for NPO-style losses, per-token
distributions for KL), so no second model stays in memory and nothing is re-run per step.
`LiveReference` runs a frozen copy each step; it exists to check the cache against.
"""

from __future__ import annotations

import copy

import torch

from unlearnlab.train.batches import Batch, ExampleSet, collate
from unlearnlab.train.forward import forward


class LiveReference:
    """Runs a frozen copy of the starting model on every batch."""

    def __init__(self, model):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def forget_logps(self, batch: Batch) -> torch.Tensor:
        return forward(self.model, batch).seq_logps

    @torch.no_grad()
    def retain_logprobs(self, batch: Batch) -> torch.Tensor:
        return torch.log_softmax(forward(self.model, batch, keep_logits=True).logits, dim=-1)


class CachedReference:
    """Per-item reference outputs computed once; batches look them up by item index."""

    def __init__(self, model, pad_id: int, forget: ExampleSet | None = None,
                 retain: ExampleSet | None = None, batch_size: int = 32):
        self._forget = self._retain = None
        was_training = model.training
        model.eval()
        with torch.no_grad():
            if forget is not None:
                self._forget = torch.cat([
                    forward(model, b.to(model.device)).seq_logps.cpu()
                    for b in _batches(forget, pad_id, batch_size)])
            if retain is not None:
                self._retain = []
                for b in _batches(retain, pad_id, batch_size):
                    fw = forward(model, b.to(model.device), keep_logits=True)
                    logprobs = torch.log_softmax(fw.logits, dim=-1).cpu()
                    lengths = b.attention_mask.sum(-1) - 1
                    self._retain += [lp[:n] for lp, n in zip(logprobs, lengths.tolist())]
        model.train(was_training)

    def forget_logps(self, batch: Batch) -> torch.Tensor:
        return self._forget[batch.idx].to(batch.input_ids.device)

    def retain_logprobs(self, batch: Batch) -> torch.Tensor:
        rows = [self._retain[i] for i in batch.idx.tolist()]
        width = batch.input_ids.shape[1] - 1
        out = torch.zeros(len(rows), width, rows[0].shape[-1])
        for b, row in enumerate(rows):
            out[b, : len(row)] = row
        # padded positions carry zeros: their mask is 0, so they never count
        return out.to(batch.input_ids.device)


def _batches(examples: ExampleSet, pad_id: int, batch_size: int):
    for start in range(0, len(examples), batch_size):
        yield collate(examples, list(range(start, min(start + batch_size, len(examples)))), pad_id)
