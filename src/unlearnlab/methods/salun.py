"""SalUn: saliency-masked random-label unlearning.

Fan, Liu, Zhang, Wei, Wong, Liu 2024, "SalUn: Empowering Machine Unlearning via Gradient-based
Weight Saliency in Both Image Classification and Generation" (ICLR 2024, arXiv 2310.12508).
The weight saliency map (eq. 6) keeps the weights the forget loss is most sensitive to:
    m_S = 1( |grad_theta l_f(theta; D_f)| at theta_o  >=  gamma )
with l_f the forget set's cross-entropy and gamma the threshold that marks the top
`salient_share` of the weights (the paper's default: half). Only the salient weights move
(eq. 7), trained with random labels (methods/random_label.py):
    theta_u = m_S . (theta_o + Delta theta) + (1 - m_S) . theta_o
    Delta theta from  min  E_{D_f}[ CE(theta; x, y') ] + retain_weight * E_{D_r}[ CE(theta; x, y) ]
The mask is applied to the gradients (a hook per parameter), so with weight_decay 0 the other
weights stay bit-for-bit unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearnlab.methods.base import METHODS, Outcome, check_range, register_procedure
from unlearnlab.methods.random_label import RandomLabelParams
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.train.inputs import per_sequence_mean
from unlearnlab.train.params import select_parameters


@dataclass(frozen=True)
class SalUnParams:
    salient_share: float = 0.5     # the share of the weights that may move
    forget_weight: float = 1.0
    retain_weight: float = 1.0     # alpha in the paper
    seed: int = 0                  # the random labels' draw

    def __post_init__(self):
        check_range("salun", "salient_share", self.salient_share, strict=True, high=1.0)
        check_range("salun", "forget_weight", self.forget_weight)
        check_range("salun", "retain_weight", self.retain_weight)


def forget_gradient(model, forget: ExampleSet, params: list, pad_id: int,
                    batch_size: int = 64) -> list[torch.Tensor]:
    """grad of the forget set's mean NLL (per-item means, averaged over all items)."""
    totals = [torch.zeros_like(p) for p in params]
    for p in params:
        p.requires_grad_(True)
    for start in range(0, len(forget), batch_size):
        idx = list(range(start, min(start + batch_size, len(forget))))
        fw = forward(model, collate(forget, idx, pad_id).to(model.device))
        loss = per_sequence_mean(-fw.token_logps, fw.mask).sum() / len(forget)
        for total, g in zip(totals, torch.autograd.grad(loss, params)):
            total += g
    return totals


def saliency_masks(grads: list[torch.Tensor], share: float) -> list[torch.Tensor]:
    """1.0 on the top `share` of all weights by |gradient| (exactly round(share * n) of them;
    ties broken by position), 0.0 elsewhere; one mask per tensor."""
    flat = torch.cat([g.abs().flatten() for g in grads])
    k = max(1, round(share * flat.numel()))
    mask = torch.zeros_like(flat)
    mask[torch.topk(flat, k, sorted=False).indices] = 1.0
    out, at = [], 0
    for g in grads:
        out.append(mask[at: at + g.numel()].view_as(g))
        at += g.numel()
    return out


@register_procedure("salun", summary="random labels on the salient weights only (gradient "
                    "saliency of the forget loss)", paper="Fan et al. 2024, arXiv 2310.12508",
                    params=SalUnParams, modalities=("image",))
def salun(hp: SalUnParams, ctx) -> Outcome:
    model = ctx.model
    params = select_parameters(model, ctx.cfg.unlearn.params)
    masks = saliency_masks(forget_gradient(model, ctx.forget, params,
                                           ctx.tokenizer.pad_token_id), hp.salient_share)
    hooks = [p.register_hook(lambda g, m=m: g * m) for p, m in zip(params, masks)]
    rl = RandomLabelParams(forget_weight=hp.forget_weight, retain_weight=hp.retain_weight,
                           seed=hp.seed)
    try:
        curve = ctx.train(model, METHODS.get("random_label").objective(rl), desc="salun")
    finally:
        for h in hooks:
            h.remove()
    return Outcome(model, curve, {"salient_weights": int(sum(m.sum() for m in masks))})
