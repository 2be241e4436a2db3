"""What a loss function receives: forward results the loop already computed.

A method's loss is a pure function of these tensors: it never runs the model and never
touches the optimizer. Reference values (the frozen starting model's outputs) are looked up
per item from a `Reference`, computed once before training, under these keys:

    forget_seq    (B,)        log pi_ref(y) of each forget item (summed over counted tokens)
    alt_seq       (B,)        log pi_ref of each forget item's alternative (e.g. a refusal)
    forget_dist   (B, T-1, V) reference next-token log-probs on forget items
    retain_dist   (B, T-1, V) reference next-token log-probs on retain items
    retain_hidden (B, T, H)   reference hidden states (the objective's layer) on retain items
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from unlearnlab.train.forward import Forward

REF_KINDS = ("forget_seq", "alt_seq", "forget_dist", "retain_dist", "retain_hidden")


@dataclass
class StepInputs:
    forget: Forward | None = None   # the forget batch (the training batch when fine-tuning)
    retain: Forward | None = None   # a retain batch, for methods that need one
    alt: Forward | None = None      # the forget items' alternatives, aligned with `forget`
    ref: dict[str, torch.Tensor] = field(default_factory=dict)


def per_sequence_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) mean of `values` over each sequence's counted tokens."""
    return (values * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def nll(fw: Forward) -> torch.Tensor:
    """Negative log-likelihood: mean over sequences of each sequence's mean token NLL.

    Averaging per sequence first makes batch 1 x accumulation 8 equal batch 8 x 1.
    """
    return per_sequence_mean(-fw.token_logps, fw.mask).mean()


def kl_to_reference(fw: Forward, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """KL(p_ref || p_theta) per token, averaged like `nll` (per sequence, then over sequences)."""
    logp = torch.log_softmax(fw.logits, dim=-1)                       # (B, T-1, V)
    per_token = (ref_logprobs.exp() * (ref_logprobs - logp)).sum(-1)  # (B, T-1)
    return per_sequence_mean(per_token, fw.mask).mean()


@dataclass(frozen=True)
class Objective:
    """A loss over `StepInputs` and what the loop must compute for it."""

    loss: Callable[[StepInputs], tuple[torch.Tensor, dict]]
    needs_forget: bool = True          # forward the forget batch
    needs_retain: bool = False         # draw and forward a retain batch
    needs_alt: bool = False            # forward the forget items' alternatives
    refs: tuple[str, ...] = ()         # reference values to look up (train/inputs.py keys)
    logits: tuple[str, ...] = ()       # sets whose (B, T-1, V) logits to keep
    hidden_layer: int | None = None    # hidden states of this layer, for forget and retain

    def __post_init__(self):
        unknown = [k for k in self.refs if k not in REF_KINDS]
        if unknown:
            raise ValueError(f"unknown reference kind {unknown[0]!r}; valid: {REF_KINDS}")


def finetune_loss(inputs: StepInputs) -> tuple[torch.Tensor, dict]:
    """Plain next-token NLL on the training batch (pretraining, corruption, retraining)."""
    loss = nll(inputs.forget)
    return loss, {"nll": loss.item()}


FINETUNE = Objective(finetune_loss)
