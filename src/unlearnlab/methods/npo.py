"""Negative Preference Optimization (NPO).

Zhang, Lin, Bai, Mei 2024, "Negative Preference Optimization: From Catastrophic Collapse
to Effective Unlearning", arXiv 2404.05868, eq. (3):
    L_NPO(theta) = -(2 / beta) * E_{(x,y) in D_f} log sigmoid( -beta * (log pi_theta(y|x) - log pi_ref(y|x)) )
log pi(y|x) is the summed log-prob of the forget sequence's counted tokens. The loss is
bounded below by 0 and its gradient vanishes as pi_theta(y) -> 0, which is what prevents
gradient ascent's collapse. As beta -> 0 it recovers gradient ascent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs


@dataclass(frozen=True)
class NPOParams:
    beta: float = 0.1

    def __post_init__(self):
        check_range("npo", "beta", self.beta, strict=True)


def npo_term(beta: float, inputs: StepInputs) -> torch.Tensor:
    log_ratio = inputs.forget.seq_logps - inputs.ref["forget_seq"]      # (B,)
    return -(2.0 / beta) * F.logsigmoid(-beta * log_ratio).mean()


@register_method("npo", summary="negative preference optimization on the forget set",
                 paper="Zhang et al. 2024, arXiv 2404.05868", params=NPOParams,
                 refs=("forget_seq",),
                 modalities=("text", "image"))
def npo_loss(hp: NPOParams, inputs: StepInputs):
    loss = npo_term(hp.beta, inputs)
    return loss, {"npo": loss.item()}
