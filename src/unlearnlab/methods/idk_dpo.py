"""DPO towards a refusal: prefer "I don't know" over the forget text (TOFU's IdkDPO).

Rafailov et al. 2023, "Direct Preference Optimization", arXiv 2305.18290, eq. (7), with the
forget item y as the rejected answer and a refusal a as the preferred one (Maini et al.
2024, TOFU, arXiv 2401.06121):
    L(theta) = -E_{(y, a)} log sigmoid( beta * [ (log pi_theta(a) - log pi_ref(a))
                                                - (log pi_theta(y) - log pi_ref(y)) ] )
               + retain_weight * L_NLL(theta; D_r)
log pi is the summed log-prob of the counted tokens. This is the standard DPO scale; some
unlearning codebases multiply the first term by 2/beta, as in NPO.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from unlearnlab.errors import UserError
from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, nll

REFUSALS = ("I don't know.", "I have no information about that.", "I'm not sure about that.",
            "I can't answer that.")


@dataclass(frozen=True)
class IdkDPOParams:
    beta: float = 0.1
    retain_weight: float = 1.0
    refusals: tuple[str, ...] = REFUSALS

    def __post_init__(self):
        check_range("idk_dpo", "beta", self.beta, strict=True)
        check_range("idk_dpo", "retain_weight", self.retain_weight)
        if (not isinstance(self.refusals, tuple) or not self.refusals
                or not all(isinstance(r, str) and r.strip() for r in self.refusals)):
            raise UserError(f"hparams.idk_dpo.refusals must be a non-empty list of non-empty "
                            f"strings, got {self.refusals!r}")


def refusals_for(hp: IdkDPOParams, forget_texts: list[str]) -> list[str]:
    """One refusal per forget item, cycling: item i gets refusals[i % len(refusals)]."""
    return [hp.refusals[i % len(hp.refusals)] for i in range(len(forget_texts))]


@register_method("idk_dpo", summary="DPO preferring a refusal over the forget text + NLL on retain",
                 paper="Rafailov et al. 2023, arXiv 2305.18290; Maini et al. 2024 (TOFU), "
                       "arXiv 2401.06121", params=IdkDPOParams,
                 needs_retain=True, needs_alt=True, refs=("forget_seq", "alt_seq"),
                 alternatives=refusals_for)
def idk_dpo_loss(hp: IdkDPOParams, inputs: StepInputs):
    alt_ratio = inputs.alt.seq_logps - inputs.ref["alt_seq"]                # (B,)
    forget_ratio = inputs.forget.seq_logps - inputs.ref["forget_seq"]       # (B,)
    dpo = -F.logsigmoid(hp.beta * (alt_ratio - forget_ratio)).mean()
    retain_nll = nll(inputs.retain)
    return dpo + hp.retain_weight * retain_nll, {"dpo": dpo.item(), "retain_nll": retain_nll.item()}
