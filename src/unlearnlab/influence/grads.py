"""Per-example gradients, vectorised: `torch.func.vmap` over the examples of a batch of
`grad` of one example's loss (Zagardo 2024 tracks them during training; influence scores are
inner products of them).

For example i with token ids x_i and counted tokens C_i (the loss mask), the loss is the
loop's per-sequence NLL,
    L_i(theta) = -(1 / |C_i|) sum_{t in C_i} log p_theta(x_{i,t} | x_{i,<t}),
and g_i = dL_i / d theta_S for a parameter subset S (a `train/params.py` selector). Rows are
right-padded to the batch's longest and run without an attention mask: a causal model's
logits at real positions never see the padding that follows them, so the padded forward
equals the unpadded one (and position ids are the plain 0..T-1 of an unpadded row).
Attention runs in its eager form inside vmap (the fused kernel has no batching rule on CPU).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.params import select_parameters


def selected_names(model, selector: str) -> list[str]:
    """Names of the parameters `selector` picks, in model order."""
    chosen = {id(p) for p in select_parameters(model, selector)}
    return [n for n, p in model.named_parameters() if id(p) in chosen]


@contextmanager
def eager_attention(model):
    """The model's attention in eager form for the duration (vmap needs batching rules)."""
    config = model.config
    before = getattr(config, "_attn_implementation", None)
    try:
        if before not in (None, "eager"):
            model.set_attn_implementation("eager")
        yield model
    finally:
        if before not in (None, "eager"):
            model.set_attn_implementation(before)


def _example_loss(model, frozen: dict, params: dict, ids: torch.Tensor, mask: torch.Tensor):
    """L_i for one right-padded row `ids` (T,) with its counted-token mask (T,)."""
    out = functional_call(model, {**frozen, **params}, args=(),
                          kwargs={"input_ids": ids[None], "use_cache": False})
    logits = out.logits[0, :-1].float()                                   # (T-1, V)
    logps = -F.cross_entropy(logits, ids[1:], reduction="none")           # (T-1,)
    counted = mask[1:]
    return -(logps * counted).sum() / counted.sum().clamp(min=1)


def per_example_grads(model, examples: ExampleSet, idx: list[int], selector: str = "all",
                      pad_id: int = 0, chunk: int = 16) -> torch.Tensor:
    """(len(idx), P) float32: each example's gradient w.r.t. the selected parameters,
    flattened in model order (P = their total size)."""
    names = selected_names(model, selector)
    device = next(model.parameters()).device
    frozen = {n: p.detach() for n, p in model.named_parameters()}
    frozen.update(dict(model.named_buffers()))
    params = {n: frozen[n] for n in names}
    per_row = vmap(grad(lambda p, x, m: _example_loss(model, frozen, p, x, m)),
                   in_dims=(None, 0, 0), chunk_size=chunk)
    was_training = model.training
    model.eval()
    rows = []
    with eager_attention(model), torch.no_grad():
        for start in range(0, len(idx), chunk):
            batch = collate(examples, idx[start:start + chunk], pad_id).to(device)
            with torch.enable_grad():
                g = per_row(params, batch.input_ids, batch.loss_mask)
            rows.append(torch.cat([g[n].reshape(len(batch.idx), -1).float() for n in names], 1))
    model.train(was_training)
    return torch.cat(rows) if rows else torch.zeros(0, sum(params[n].numel() for n in names))


def per_example_grads_loop(model, examples: ExampleSet, idx: list[int], selector: str = "all",
                           pad_id: int = 0) -> torch.Tensor:
    """The same gradients one example at a time with autograd (the reference the vectorised
    version is checked and timed against)."""
    params = select_parameters(model, selector)
    device = params[0].device
    rows = []
    for i in idx:
        batch = collate(examples, [i], pad_id).to(device)
        out = model(input_ids=batch.input_ids, use_cache=False)
        logps = -F.cross_entropy(out.logits[0, :-1].float(), batch.input_ids[0, 1:], reduction="none")
        counted = batch.loss_mask[0, 1:]
        loss = -(logps * counted).sum() / counted.sum().clamp(min=1)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                               for g, p in zip(grads, params)]))
    return torch.stack(rows) if rows else torch.zeros(0, sum(p.numel() for p in params))
