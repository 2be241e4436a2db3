"""Gradient difference: ascent on the forget set, descent on the retain set.

Liu et al. 2022 ("Continual learning and private unlearning"); used as a baseline by TOFU
(Maini et al. 2024) and RESTOR.
    L(theta) = -forget_weight * L_NLL(theta; D_f) + retain_weight * L_NLL(theta; D_r)
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, nll


@dataclass(frozen=True)
class GradDiffParams:
    forget_weight: float = 1.0
    retain_weight: float = 1.0

    def __post_init__(self):
        check_range("graddiff", "forget_weight", self.forget_weight)
        check_range("graddiff", "retain_weight", self.retain_weight)


@register_method("graddiff", summary="ascent on forget + NLL on retain",
                 paper="Liu et al. 2022, arXiv 2203.12817", params=GradDiffParams,
                 needs_retain=True,
                 modalities=("text", "image"))
def graddiff_loss(hp: GradDiffParams, inputs: StepInputs):
    forget_nll, retain_nll = nll(inputs.forget), nll(inputs.retain)
    loss = -hp.forget_weight * forget_nll + hp.retain_weight * retain_nll
    return loss, {"forget_nll": forget_nll.item(), "retain_nll": retain_nll.item()}
