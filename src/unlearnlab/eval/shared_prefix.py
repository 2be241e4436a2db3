"""Scoring many answers of one prompt with the prompt encoded once (a tree attention mask).

A question is scored against several candidate answers (gold, paraphrased, perturbed, the
probe's pool), and RESTOR's five-shot prompts are ~20x longer than the answers. For the
sequences of one group (same prompt), the longest common token prefix that holds no scored
token, P = x[:L], is laid out once in a row, followed by each member's suffix x[L:] end to
end. A 4D attention mask lets a suffix token see the prefix and the earlier tokens of its
own suffix only, and position ids continue from L in every suffix, so each token sees
exactly what it sees in the whole sequence P + x[L:], at the same positions. Token t >= L
of a member is scored from the logits of the token before it in the whole sequence: the
prefix's last position for t = L, the previous suffix token otherwise — the same
log-probabilities as a full forward, up to floating-point order, with no padded suffixes
and no copied KV cache (on the world's questions the previous KV-cache layout computed 2.7x
as many suffix positions as there are suffix tokens).

Which models take the mask is checked once per model class and attention implementation
(`tree_ok`): the model must accept a prepared 4D mask (transformers' mask builders return
one as given) and score a small tree like the whole sequences; others score whole.
"""

from __future__ import annotations

import torch

from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward, self_check, takes, takes_keep_mask


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


def _layout(examples: ExampleSet, groups: list[tuple[int, list[int]]], pad_id: int):
    """Rows of (prefix, suffix of each member) as (G, T) tensors of ids, position ids and
    segment ids (0 the prefix, k the k-th member's suffix, -1 padding); and per suffix token,
    flat: its row, its position there, the position predicting it, whether it is counted,
    and its member's number in the batch."""
    rows, flat = [], ([], [], [], [], [])
    n_members = 0
    for g, (length, members) in enumerate(groups):
        ids = list(examples.input_ids[members[0]][:length])
        pos, seg = list(range(length)), [0] * length
        for k, m in enumerate(members, 1):
            suffix = examples.input_ids[m][length:]
            at, n = len(ids), len(suffix)
            for column, values in zip(flat, ([g] * n, range(at, at + n),
                                             [length - 1, *range(at, at + n - 1)][:n],
                                             examples.loss_mask[m][length:], [n_members] * n)):
                column.extend(values)
            n_members += 1
            ids += suffix
            pos += range(length, length + n)
            seg += [k] * n
        rows.append((ids, pos, seg))
    width = max(len(ids) for ids, _, _ in rows)
    padded = [[part + [fill] * (width - len(ids)) for part, fill in zip((ids, pos, seg),
                                                                         (pad_id, 0, -1))]
              for ids, pos, seg in rows]
    ids, pos, seg = (torch.tensor([r[j] for r in padded]) for j in range(3))
    return ids, pos, seg, [torch.tensor(column) for column in flat]


def _mask(seg: torch.Tensor, implementation: str | None, dtype: torch.dtype) -> torch.Tensor:
    """(G, 1, T, T): query i may see key j <= i of the prefix or of its own suffix. Padding
    queries see the prefix (never attended to, but no empty softmax row). Boolean for SDPA
    (True = attend), additive for the other implementations."""
    t = seg.shape[1]
    causal = torch.ones((t, t), dtype=torch.bool, device=seg.device).tril()
    same = (seg[:, None, :] == 0) | (seg[:, None, :] == seg[:, :, None])     # (G, Tq, Tk)
    allowed = (causal[None] & same)[:, None]
    if implementation == "sdpa":
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype, device=seg.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)


@torch.no_grad()
def score_groups(model, examples: ExampleSet, groups: list[tuple[int, list[int]]], pad_id: int,
                 out: list) -> None:
    """For groups (L, members) of one batch: out[m] = (summed log-prob of the scored tokens,
    their number, per-token argmax hits), each group's prefix run once (module docstring)."""
    device = model.device
    ids, pos, seg, (row, at, before, counted, owner) = _layout(examples, groups, pad_id)
    members = [m for _, group in groups for m in group]
    scored = counted.bool()
    row, at, before, owner = row[scored], at[scored], before[scored], owner[scored]
    need = torch.zeros(ids.shape, dtype=torch.bool)         # the LM head runs only here
    need[row, before] = True
    mask = _mask(seg, getattr(model.config, "_attn_implementation", None),
                 next(model.parameters()).dtype)
    keep = {"logits_to_keep": need.to(device)} if takes_keep_mask(type(model)) else {}
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                   position_ids=pos.to(device), use_cache=False, **keep).logits.float()
    if keep:                                  # (N, V) at the needed positions, row-major
        index = torch.full(ids.shape, -1, dtype=torch.long)
        index[need] = torch.arange(int(need.sum()))
    else:
        logits = logits.reshape(-1, logits.shape[-1])
        index = torch.arange(ids.numel()).reshape(ids.shape)
    pick = index[row, before].to(device)                    # no copy of the picked rows
    target = ids[row, at].to(device)
    logps = (logits[pick, target] - torch.logsumexp(logits, -1)[pick]).double().cpu()
    hits = (logits.argmax(-1)[pick] == target).int().cpu()
    sums = torch.zeros(len(members), dtype=torch.float64).index_add_(0, owner, logps)
    counts = torch.bincount(owner, minlength=len(members)).tolist()
    for m, lp, n, h in zip(members, sums.tolist(), counts, torch.split(hits, counts)):
        out[m] = (lp, n, h.tolist())


def tree_ok(model) -> bool:
    """Whether `model` scores a shared-prefix tree like the whole sequences (once per model
    class and attention implementation; an error counts as no)."""
    key = (type(model), getattr(model.config, "_attn_implementation", None))
    if key not in _TREE:
        try:
            _TREE[key] = takes(type(model), "position_ids") and _tree_like_whole(model)
        except Exception:                      # a model that rejects the 4D mask scores whole
            _TREE[key] = False
    return _TREE[key]


_TREE: dict[tuple, bool] = {}


@torch.no_grad()
def _tree_like_whole(model) -> bool:
    """Prefix [1, 2, 3] with suffixes [4, 5], [6] and [7, 8, 9], every suffix token scored:
    the tree's log-probs against the whole sequences' (train/forward.py), in the model's own
    precision."""
    vocab = model.get_output_embeddings().weight.shape[0]
    seqs = [[t % vocab for t in s] for s in ([1, 2, 3, 4, 5], [1, 2, 3, 6], [1, 2, 3, 7, 8, 9])]
    examples = ExampleSet(seqs, [[0, 0, 0] + [1] * (len(s) - 3) for s in seqs])
    tree: list = [None] * 3
    with self_check(model) as tol:
        score_groups(model, examples, [(3, [0, 1, 2])], 0, tree)
        whole = forward(model, collate(examples, [0, 1, 2], 0).to(model.device))
    return all(n == int(n_w) and abs(lp - lp_w) <= tol * max(1.0, abs(lp_w))
               for (lp, n, _), lp_w, n_w in zip(tree, whole.seq_logps.tolist(),
                                                 whole.n_tokens.tolist()))
