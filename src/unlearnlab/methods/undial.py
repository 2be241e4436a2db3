"""UNDIAL: self-distillation towards reference logits with the forget token pushed down.

Dong, Lin, Belkin, Huerta, Vulic 2024, "UNDIAL: Self-Distillation with Adjusted Logits for
Robust Unlearning in Large Language Models", arXiv 2402.10052:
    q_t = softmax( z_ref(x_<t) - beta * onehot(x_t) )
    L(theta) = E_{x in D_f} (1/|x|) sum_t KL( q_t || p_theta(. | x_<t) )
The target is the starting model's distribution with the actual next token's logit lowered
by beta: every other token keeps its relative probability, so the model unlearns the token
without drifting elsewhere. Only reference log-probs are cached; softmax is shift-invariant,
so they serve as z_ref. We use KL rather than the paper's cross-entropy: they differ by the
entropy of q (no gradient), and KL is 0 at its minimum. The paper uses no retain data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, per_sequence_mean


@dataclass(frozen=True)
class UNDIALParams:
    beta: float = 10.0

    def __post_init__(self):
        check_range("undial", "beta", self.beta)


@register_method("undial", summary="self-distillation to reference logits with the forget token lowered",
                 paper="Dong et al. 2024, arXiv 2402.10052", params=UNDIALParams,
                 refs=("forget_dist",), logits=("forget",),
                 modalities=("text", "image"))
def undial_loss(hp: UNDIALParams, inputs: StepInputs):
    fw = inputs.forget
    ref = inputs.ref["forget_dist"].float()                                 # (B, T-1, V)
    lowered = torch.zeros_like(ref).scatter_(-1, fw.labels.unsqueeze(-1), hp.beta)
    log_q = torch.log_softmax(ref - lowered, dim=-1)                        # (B, T-1, V) target
    log_p = torch.log_softmax(fw.logits, dim=-1)                            # (B, T-1, V)
    per_token = (log_q.exp() * (log_q - log_p)).sum(-1)                     # (B, T-1)
    kl = per_sequence_mean(per_token, fw.mask).mean()
    return kl, {"undial_kl": kl.item()}
