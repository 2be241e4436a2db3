"""Weighted gradient ascent (WGA): gradient ascent with each token weighted by its probability.

Wang et al. 2025, "Rethinking LLM Unlearning Objectives: A Gradient Perspective and Go
Beyond", arXiv 2502.19301:
    L(theta) = E_{x in D_f} (1/|x|) sum_t w_t * log p_theta(x_t | x_<t)
               + retain_weight * L_NLL(theta; D_r),
    w_t = stopgrad( p_theta(x_t | x_<t) ^ alpha )
Minimising the first term ascends the forget NLL like GA, but tokens the model already
finds unlikely get a vanishing weight, so ascent stops pushing them towards -inf (GA's
collapse). alpha = 0 gives GA (+ the retain term).
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, nll, per_sequence_mean


@dataclass(frozen=True)
class WGAParams:
    alpha: float = 1.0
    retain_weight: float = 1.0

    def __post_init__(self):
        check_range("wga", "alpha", self.alpha)
        check_range("wga", "retain_weight", self.retain_weight)


@register_method("wga", summary="probability-weighted gradient ascent on forget + NLL on retain",
                 paper="Wang et al. 2025, arXiv 2502.19301", params=WGAParams,
                 needs_retain=True,
                 modalities=("text", "image"))
def wga_loss(hp: WGAParams, inputs: StepInputs):
    logp = inputs.forget.token_logps                                        # (B, T-1)
    weight = (hp.alpha * logp).exp().detach()                               # p^alpha, no gradient
    wga = per_sequence_mean(weight * logp, inputs.forget.mask).mean()
    retain_nll = nll(inputs.retain)
    return wga + hp.retain_weight * retain_nll, {"wga": wga.item(), "retain_nll": retain_nll.item()}
