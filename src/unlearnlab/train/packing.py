"""Sequence packing within a batch: the same examples, fewer padded positions.

A right-padded batch of B examples of lengths n_1..n_B and width T = max n_b is laid out as
R <= B rows of width T, each holding several whole examples end to end (first-fit
decreasing). Position ids restart at 0 at each example, and transformers' causal-mask
builder reads a restart as the start of a new sequence (`find_packed_sequence_indices`),
so attention stays within each example: every token sees exactly the tokens it sees in the
padded batch, at the same positions, and its logits are the padded batch's up to
floating-point rounding. The batch's examples, its loss and its gradient are unchanged;
only padding positions — which the linear layers, the LM head and the log-softmax would
otherwise compute — go away. Outputs are mapped back to the padded (B, T) layout, so
nothing downstream knows.

Which models pack is decided in train/forward.py (`_packs`): transformers' mask builder with
packed-sequence detection, `position_ids`, and a once-per-class self-check that a packed
batch scores like the padded one (Llama, Mistral, Qwen2, Gemma, Phi-3, GPT-NeoX, GPT-2 pass
in transformers 5.24; OPT does not). Other models get the padded batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearnlab.train.batches import Batch


@dataclass
class Packing:
    input_ids: torch.Tensor       # (R, T) examples end to end, then a pad tail
    position_ids: torch.Tensor    # (R, T) restarting at 0 at each example (and at the pad tail)
    rows: torch.Tensor            # (B,) the row of each example
    offsets: torch.Tensor         # (B,) where it starts in its row
    lengths: torch.Tensor         # (B,) its number of tokens

    def _where(self, width: int, shorter: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, width) flat index into (R, width) of position t of each example, and whether
        t is within the example (t < n_b - shorter)."""
        t = torch.arange(width, device=self.rows.device)[None, :]
        valid = t < self.lengths[:, None] - shorter
        return torch.where(valid, self.rows[:, None] * width + self.offsets[:, None] + t, 0), valid

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(R, W, ...) values at the packed rows' positions -> (B, W, ...) in the padded
        layout: position t of example b is position offsets[b] + t of its row. W is T for
        per-token values (hidden states, logits) and T - 1 for next-token values (position t
        scores token t + 1, so only t < n_b - 1 is the example's); 0 where the padded layout
        has padding."""
        flat, valid = self._where(x.shape[1], self.input_ids.shape[1] - x.shape[1])
        out = x.reshape(-1, *x.shape[2:])[flat.reshape(-1)].reshape(*flat.shape, *x.shape[2:])
        valid = valid.reshape(*valid.shape, *(1,) * (x.dim() - 2))
        return torch.where(valid, out, torch.zeros((), dtype=out.dtype, device=out.device))

    def repack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) values in the padded layout -> (R, T) in the packed one (0 in the pad tail)."""
        flat, valid = self._where(x.shape[1])
        out = x.new_zeros(self.input_ids.shape)
        out.view(-1)[flat[valid]] = x[valid]
        return out


def pack(batch: Batch) -> Packing | None:
    """The batch packed into fewer rows, or None when it would not save a row or the batch
    is not right-padded (left-padded prompts are generation's, never packed)."""
    attention = batch.attention_mask
    lengths = attention.sum(-1)
    width = attention.shape[1]
    positions = torch.arange(width, device=attention.device)[None, :]
    if not bool((attention == (positions < lengths[:, None])).all()):
        return None
    sizes = lengths.tolist()
    rows, offsets, n_rows = first_fit(sizes, width)
    if n_rows == len(sizes):
        return None
    as_tensor = lambda v: torch.tensor(v, dtype=torch.long, device=attention.device)  # noqa: E731
    rows_t, offsets_t = as_tensor(rows), as_tensor(offsets)
    used = torch.zeros(n_rows, dtype=torch.long, device=attention.device)
    used.index_add_(0, rows_t, lengths)
    # the pad tail of each row counts up from 0: a sequence of its own
    position_ids = (positions - used[:, None]).clamp(min=0).expand(n_rows, width).contiguous()
    packing = Packing(batch.input_ids.new_zeros((n_rows, width)), position_ids, rows_t,
                      offsets_t, lengths)
    flat, valid = packing._where(width)
    packing.input_ids.view(-1)[flat[valid]] = batch.input_ids[valid]
    packing.position_ids.view(-1)[flat[valid]] = positions.expand_as(valid)[valid]
    return packing


def first_fit(sizes: list[int], width: int) -> tuple[list[int], list[int], int]:
    """First-fit decreasing: each item's row and offset in rows of `width`, and the number
    of rows. Items are placed longest first (ties by index), each in the first row with
    room, so the layout depends only on the sizes."""
    free: list[int] = []                      # room left in each row
    rows, offsets = [0] * len(sizes), [0] * len(sizes)
    for b in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        r = next((r for r, room in enumerate(free) if room >= sizes[b]), len(free))
        if r == len(free):
            free.append(width)
        rows[b], offsets[b] = r, width - free[r]
        free[r] -= sizes[b]
    return rows, offsets, len(free)
