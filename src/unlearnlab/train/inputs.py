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
