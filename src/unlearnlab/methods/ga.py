"""Gradient ascent (GA) on the forget set.

Jang et al. 2023, "Knowledge Unlearning for Mitigating Privacy Risks in Language Models".
    L_GA(theta) = -L_NLL(theta; D_f) = E_{(x,y) in D_f} [ log pi_theta(y | x) ]
Minimising L_GA raises the forget set's NLL without bound; nothing keeps utility.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import register_method
from unlearnlab.train.inputs import StepInputs, nll


@dataclass(frozen=True)
class GAParams:
    pass


@register_method("ga", summary="gradient ascent on the forget set",
                 paper="Jang et al. 2023, arXiv 2210.01504", params=GAParams,
                 modalities=("text", "image"))
def ga_loss(hp: GAParams, inputs: StepInputs):
    forget_nll = nll(inputs.forget)
    return -forget_nll, {"forget_nll": forget_nll.item()}
