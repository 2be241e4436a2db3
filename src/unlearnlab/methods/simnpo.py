"""SimNPO: reference-free, length-normalised NPO with a margin.

Fan, Liu, Lin, Jia, Zhang, Mei, Liu 2024, "Simplicity Prevails: Rethinking Negative
Preference Optimization for LLM Unlearning", arXiv 2410.07163:
    L(theta) = -(2 / beta) * E_{(x,y) in D_f} log sigmoid( -(beta / |y|) * log pi_theta(y|x) - delta )
               + retain_weight * L_NLL(theta; D_r)
|y| is the number of counted tokens, so -(1/|y|) log pi_theta(y|x) is the item's mean NLL.
Unlike NPO there is no reference model: the length-normalised likelihood replaces the
log ratio, so long and short forget items are pushed equally hard. delta is the reward
margin (0 in most of the paper's experiments).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, nll


@dataclass(frozen=True)
class SimNPOParams:
    beta: float = 2.5
    delta: float = 0.0
    retain_weight: float = 1.0

    def __post_init__(self):
        check_range("simnpo", "beta", self.beta, strict=True)
        check_range("simnpo", "delta", self.delta)
        check_range("simnpo", "retain_weight", self.retain_weight)


@register_method("simnpo", summary="length-normalised, reference-free NPO + NLL on retain",
                 paper="Fan et al. 2024, arXiv 2410.07163", params=SimNPOParams,
                 needs_retain=True,
                 modalities=("text", "image"))
def simnpo_loss(hp: SimNPOParams, inputs: StepInputs):
    fw = inputs.forget
    mean_logp = fw.seq_logps / fw.n_tokens.clamp(min=1)                    # (B,) log pi(y) / |y|
    simnpo = -(2.0 / hp.beta) * F.logsigmoid(-hp.beta * mean_logp - hp.delta).mean()
    retain_nll = nll(inputs.retain)
    return simnpo + hp.retain_weight * retain_nll, {"simnpo": simnpo.item(),
                                                    "retain_nll": retain_nll.item()}
