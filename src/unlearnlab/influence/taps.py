"""Per-example gradients from ONE batched backward pass, by tapping each layer's input and
output gradient (Goodfellow 2015, "Efficient per-example gradient computations", arXiv
1510.01799), and the activation x gradient influence score built on the same taps.

The batch's loss is the sum of the examples' own losses, sum_i L_i (L_i the loop's
per-sequence mean NLL). Rows of a causal LM do not interact, so the gradient of that sum
with respect to a layer's output at row i is example i's own output gradient delta_i. Each
layer's per-example parameter gradient then follows from its input a_i and delta_i alone:

    linear      y = W a + b:      dL_i/dW = sum_t delta_{i,t} a_{i,t}^T   (einsum over tokens)
                                  dL_i/db = sum_t delta_{i,t}
    embedding   y_t = E[x_t]:     dL_i/dE[v] = sum_{t: x_{i,t} = v} delta_{i,t}
                                  (the padding row gets none, as in autograd)
    any other   (RMSNorm, ...):   the module's vector-Jacobian product at (a_i, delta_i), for
                                  each example (torch.func.vmap over the module alone)

The network runs forward and backward once per batch at full width (the fused attention
kernel included); only the cheap per-layer contractions are per example. The per-example
loop of `grads.per_example_grads_loop` runs B small passes instead, and `grads.per_example_grads`
vmaps the whole network.

Activation x gradient (the factorised inner product of scores.py, batched): for every pair
(z, q) and linear layer,  <dL_z/dW, dL_q/dW> = sum_{t,s} (delta_{z,t} . delta_{q,s})
(a_{z,t} . a_{q,s}), summed over the layers — the gradient dot product over linear weights,
without ever forming a per-example weight gradient.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.train.inputs import per_sequence_mean
from unlearnlab.train.params import select_parameters


@contextmanager
def _tapped(modules: dict[str, nn.Module]):
    """Record each module's input and keep its output (in the graph) on every call:
    yields {name: [(input, output), ...]}."""
    seen: dict[str, list] = {name: [] for name in modules}
    handles = []
    for name, module in modules.items():
        def hook(mod, args, output, name=name):
            seen[name].append((args[0].detach(), output))
        handles.append(module.register_forward_hook(hook))
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def _owners(model, chosen: set[int]) -> dict[str, nn.Module]:
    """Modules that directly own at least one chosen parameter."""
    return {name: m for name, m in model.named_modules()
            if any(id(p) in chosen for p in m.parameters(recurse=False))}


def _batch_taps(model, examples: ExampleSet, idx: list[int], pad_id: int,
                modules: dict[str, nn.Module]):
    """One forward and one backward of sum_i L_i over the rows `idx`: per module, a list of
    (input, output gradient) per call."""
    device = next(model.parameters()).device
    batch = collate(examples, idx, pad_id).to(device)
    with torch.enable_grad(), _tapped(modules) as seen:
        fw = forward(model, batch)
        loss = per_sequence_mean(-fw.token_logps, fw.mask).sum()
        calls = [(name, k) for name in modules for k in range(len(seen[name]))]
        outputs = [seen[name][k][1] for name, k in calls]
        deltas = torch.autograd.grad(loss, outputs, allow_unused=True)
    taps: dict[str, list] = {name: [] for name in modules}
    for (name, k), delta in zip(calls, deltas):
        a = seen[name][k][0]
        taps[name].append((a, torch.zeros_like(seen[name][k][1]) if delta is None else delta))
    return taps


def _module_grads(module: nn.Module, a: torch.Tensor, delta: torch.Tensor,
                  into: dict[str, torch.Tensor]) -> None:
    """Add the per-example gradients of one call of `module` (input `a` (B, T, ...), output
    gradient `delta` (B, T, ...)) into `into[parameter name]` (B, *shape), in place."""
    if isinstance(module, nn.Linear):
        w = into.get("weight")
        if w is not None:                                       # (B, out, in) += D^T A
            w.baddbmm_(delta.transpose(1, 2).float(), a.float())
        if module.bias is not None and "bias" in into:
            into["bias"] += delta.float().sum(1)
        return
    if isinstance(module, nn.Embedding):
        w = into.get("weight")
        if w is not None:
            B, T, H = delta.shape
            w.scatter_add_(1, a[..., None].expand(B, T, H), delta.float())       # (B, V, H)
            if module.padding_idx is not None:
                w[:, module.padding_idx] = 0
        return
    params = {n: p.detach() for n, p in module.named_parameters(recurse=False)}

    def contracted(p, x, d):                       # <module(x; p), d>: its gradient is the VJP
        return (functional_call(module, p, (x[None],)).float() * d[None].float()).sum()
    for n, g in vmap(grad(contracted), in_dims=(None, 0, 0))(params, a, delta).items():
        if n in into:
            into[n] += g.float()


def per_example_grads_taps(model, examples: ExampleSet, idx: list[int], selector: str = "all",
                           pad_id: int = 0, chunk: int = 16) -> torch.Tensor:
    """(len(idx), P) float32: the same matrix as `grads.per_example_grads` (rows: examples;
    columns: the selected parameters flattened in model order), from one batched backward
    per chunk of rows."""
    params = select_parameters(model, selector)
    chosen = {id(p): p for p in params}
    modules = _owners(model, set(chosen))
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)                       # the taps need the graph to reach them
    was_training = model.training
    model.eval()
    sizes = [p.numel() for p in params]
    offsets = dict(zip((id(p) for p in params), torch.tensor([0, *sizes]).cumsum(0).tolist()))
    device = params[0].device if params else torch.device("cpu")
    out = torch.zeros(len(idx), sum(sizes), device=device)     # written in place: no concatenation
    try:
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            rows = out[start:start + len(part)]
            taps = _batch_taps(model, examples, part, pad_id, modules)
            for name, module in modules.items():
                into = {pname: rows[:, offsets[id(p)]:offsets[id(p)] + p.numel()]
                        .view(len(part), *p.shape)        # a view of `out`: written in place
                        for pname, p in module.named_parameters(recurse=False) if id(p) in chosen}
                for a, delta in taps[name]:
                    _module_grads(module, a, delta, into)    # a tied tensor adds both uses
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
        model.train(was_training)
    return out


def linear_names(model) -> list[str]:
    """Names of the model's linear layers (the modules the factorised score covers)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def linear_factors(model, examples: ExampleSet, idx: list[int], pad_id: int,
                   names: list[str] | None = None, chunk: int = 16) -> dict[str, tuple]:
    """{layer: (A (n, T, d_in), D (n, T, d_out))}: each example's inputs and output
    gradients of each linear layer, rows right-padded to the longest (zeros beyond an
    example's length contribute nothing: its output gradient is zero there)."""
    names = linear_names(model) if names is None else names
    modules = {n: model.get_submodule(n) for n in names}
    flags = {id(p): p.requires_grad for p in model.parameters()}
    for m in modules.values():
        m.weight.requires_grad_(True)
    was_training = model.training
    model.eval()
    parts: dict[str, list] = {n: [] for n in names}
    try:
        for start in range(0, len(idx), chunk):
            taps = _batch_taps(model, examples, idx[start:start + chunk], pad_id, modules)
            for n in names:
                (a, delta), = taps[n]                  # a linear layer runs once per forward
                parts[n].append((a.float(), delta.float()))
    finally:
        for p in model.parameters():
            p.requires_grad_(flags[id(p)])
        model.train(was_training)
    width = max(len(examples.input_ids[i]) for i in idx) if idx else 0
    out = {}
    for n, chunks in parts.items():
        def padded(t):                              # (b, T_chunk, d) -> (b, width, d)
            return torch.nn.functional.pad(t, (0, 0, 0, width - t.shape[1]))
        out[n] = (torch.cat([padded(a) for a, _ in chunks]), torch.cat([padded(d) for _, d in chunks]))
    return out


def activation_gradient_scores(model, train: ExampleSet, queries: ExampleSet, pad_id: int,
                               train_idx: list[int] | None = None,
                               query_idx: list[int] | None = None,
                               names: list[str] | None = None) -> torch.Tensor:
    """(N, M): sum over linear layers of sum((D_z D_q^T) * (A_z A_q^T)) for every training
    example z (rows) and query q (columns)."""
    train_idx = list(range(len(train))) if train_idx is None else train_idx
    query_idx = list(range(len(queries))) if query_idx is None else query_idx
    zf = linear_factors(model, train, train_idx, pad_id, names)
    qf = linear_factors(model, queries, query_idx, pad_id, names)
    total = torch.zeros(len(train_idx), len(query_idx))
    for n in zf:
        (az, dz), (aq, dq) = zf[n], qf[n]
        for start in range(0, len(train_idx), 8):      # bounds the (8, M, T_z, T_q) kernels
            sl = slice(start, start + 8)
            ka = torch.einsum("ntd,msd->nmts", az[sl], aq)
            kd = torch.einsum("ntd,msd->nmts", dz[sl], dq)
            total[sl] += (ka * kd).sum((2, 3)).cpu()
    return total
