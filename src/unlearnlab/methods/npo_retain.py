"""NPO with a retain term (NPO-RT in Zhang et al. 2024, arXiv 2404.05868).

    L(theta) = L_NPO(theta; D_f, beta) + retain_weight * L_NLL(theta; D_r)
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.methods.npo import npo_term
from unlearnlab.train.inputs import StepInputs, nll


@dataclass(frozen=True)
class NPORetainParams:
    beta: float = 0.1
    retain_weight: float = 1.0

    def __post_init__(self):
        check_range("npo_retain", "beta", self.beta, strict=True)
        check_range("npo_retain", "retain_weight", self.retain_weight)


@register_method("npo_retain", summary="NPO on forget + NLL on retain",
                 paper="Zhang et al. 2024, arXiv 2404.05868", params=NPORetainParams,
                 needs_retain=True, refs=("forget_seq",),
                 modalities=("text", "image"))
def npo_retain_loss(hp: NPORetainParams, inputs: StepInputs):
    npo = npo_term(hp.beta, inputs)
    retain_nll = nll(inputs.retain)
    return npo + hp.retain_weight * retain_nll, {"npo": npo.item(), "retain_nll": retain_nll.item()}
