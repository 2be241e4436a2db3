"""Scoring many answers of one prompt with the prompt encoded once (the KV cache).

A question is scored against several candidate answers (gold, paraphrased, perturbed, the
probe's pool), and RESTOR's five-shot prompts are ~20x longer than the answers. For the
sequences of one group (same prompt), the longest common token prefix that holds no scored
token, P = x[:L], is run once with `use_cache=True`; each sequence's suffix x[L:] then runs
on a copy of that cache (`DynamicCache.batch_select_indices`). Token t >= L of a sequence is
scored from the logits at t - 1: the prefix's last position for t = L, the suffix's
otherwise — the same log-probabilities as a full forward, up to floating-point order.
Prefixes are left-padded (so every row's prefix ends at the same cache position) with
position ids counted from each row's first real token, as in `train/forward.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearnlab.train.batches import ExampleSet
from unlearnlab.train.forward import takes


def shared_length(examples: ExampleSet, members: list[int]) -> int:
    """L: the members' common token prefix, stopping before the first scored token of any."""
    rows = [examples.input_ids[m] for m in members]
    first_scored = min(examples.loss_mask[m].index(1) if 1 in examples.loss_mask[m]
                       else len(examples.loss_mask[m]) for m in members)
    length = 0
    while length < min(first_scored, *(len(r) for r in rows)) and \
            all(r[length] == rows[0][length] for r in rows):
        length += 1
    return length


@torch.no_grad()
def score_groups(model, examples: ExampleSet, groups: list[tuple[int, list[int]]], pad_id: int,
                 out: list) -> None:
    """For groups (L, members) of one batch: out[m] = (summed log-prob of the scored tokens,
    their number, per-token argmax hits), sharing each group's prefix of length L."""
    device = model.device
    width = max(length for length, _ in groups)
    prefix = torch.full((len(groups), width), pad_id, dtype=torch.long)
    prefix_mask = torch.zeros((len(groups), width), dtype=torch.long)
    for g, (length, members) in enumerate(groups):
        prefix[g, width - length:] = torch.tensor(examples.input_ids[members[0]][:length])
        prefix_mask[g, width - length:] = 1
    prefix, prefix_mask = prefix.to(device), prefix_mask.to(device)
    keep = {"logits_to_keep": 1} if takes(type(model), "logits_to_keep") else {}  # last only
    first = model(input_ids=prefix, attention_mask=prefix_mask,
                  position_ids=(prefix_mask.cumsum(-1) - 1).clamp(min=0), use_cache=True, **keep)
    cache = getattr(first, "cache", None) or first.past_key_values
    last = first.logits[:, -1].float()                                       # (G, V)

    rows = [(g, m) for g, (_, members) in enumerate(groups) for m in members]
    suffixes = [examples.input_ids[m][groups[g][0]:] for g, m in rows]
    span = max(len(s) for s in suffixes)
    ids = torch.full((len(rows), span), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), span), dtype=torch.long)
    for r, suffix in enumerate(suffixes):
        ids[r, :len(suffix)] = torch.tensor(suffix)
        mask[r, :len(suffix)] = 1
    ids, mask = ids.to(device), mask.to(device)
    owner = torch.tensor([g for g, _ in rows], device=device)
    cache.batch_select_indices(owner)
    lengths = torch.tensor([groups[g][0] for g, _ in rows], device=device)
    positions = lengths[:, None] + torch.arange(span, device=device)[None]   # (R, S)
    rest = model(input_ids=ids, attention_mask=torch.cat([prefix_mask[owner], mask], 1),
                 position_ids=positions, use_cache=True, **_cache_kwarg(model, cache)).logits.float()
    logits = torch.cat([last[owner][:, None], rest[:, :-1]], 1)              # (R, S, V): predict ids
    logps = -F.cross_entropy(logits.transpose(1, 2), ids, reduction="none")  # (R, S)
    hits = logits.argmax(-1) == ids
    for r, (g, m) in enumerate(rows):
        length = groups[g][0]
        counted = torch.tensor(examples.loss_mask[m][length:], device=device, dtype=torch.bool)
        n = len(counted)
        keep = counted & mask[r, :n].bool()
        out[m] = (float(logps[r, :n][keep].sum()), int(keep.sum()), hits[r, :n][keep].int().tolist())


def _cache_kwarg(model, cache) -> dict:
    """The cache argument under the name this transformers version takes (`cache` in
    recent releases, `past_key_values` before)."""
    return {"cache": cache} if takes(type(model), "cache") else {"past_key_values": cache}
