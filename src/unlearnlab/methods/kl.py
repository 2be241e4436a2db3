"""KL minimisation: ascent on the forget set, stay close to the starting model on retain.

TOFU baseline (Maini et al. 2024), after Golatkar et al. 2020.
    L(theta) = -forget_weight * L_NLL(theta; D_f)
               + retain_weight * E_{x in D_r} (1/|x|) sum_t KL(pi_ref(.|x_<t) || pi_theta(.|x_<t))
pi_ref is the model before unlearning; its token distributions on the retain items are
computed once before training (see train/reference.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, kl_to_reference, nll


@dataclass(frozen=True)
class KLParams:
    forget_weight: float = 1.0
    retain_weight: float = 1.0

    def __post_init__(self):
        check_range("kl", "forget_weight", self.forget_weight)
        check_range("kl", "retain_weight", self.retain_weight)


@register_method("kl", summary="ascent on forget + KL to the starting model on retain",
                 paper="Maini et al. 2024 (TOFU), arXiv 2401.06121", params=KLParams,
                 needs_retain=True, refs=("retain_dist",), logits=("retain",),
                 modalities=("text", "image"))
def kl_loss(hp: KLParams, inputs: StepInputs):
    forget_nll = nll(inputs.forget)
    retain_kl = kl_to_reference(inputs.retain, inputs.ref["retain_dist"])
    loss = -hp.forget_weight * forget_nll + hp.retain_weight * retain_kl
    return loss, {"forget_nll": forget_nll.item(), "retain_kl": retain_kl.item()}
