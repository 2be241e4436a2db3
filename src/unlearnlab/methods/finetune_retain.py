"""Fine-tune on the retain set only: the classic weak baseline.

Golatkar et al. 2020 ("Eternal Sunshine of the Spotless Net", arXiv 1911.04933); a baseline
in most unlearning benchmarks since. The forget set is never touched: forgetting can only
come from catastrophic forgetting while training on the rest.
    L(theta) = L_NLL(theta; D_r)
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import register_method
from unlearnlab.train.inputs import StepInputs, nll


@dataclass(frozen=True)
class FinetuneRetainParams:
    pass


@register_method("finetune_retain", summary="fine-tune on the retain set only (baseline)",
                 paper="Golatkar et al. 2020, arXiv 1911.04933", params=FinetuneRetainParams,
                 needs_forget=False, needs_retain=True,
                 modalities=("text", "image"))
def finetune_retain_loss(hp: FinetuneRetainParams, inputs: StepInputs):
    retain_nll = nll(inputs.retain)
    return retain_nll, {"retain_nll": retain_nll.item()}
