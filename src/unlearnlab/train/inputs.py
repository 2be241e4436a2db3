"""What a loss function receives: forward results the loop already computed.

A method's loss is a pure function of these tensors: it never runs the model and never
touches the optimizer. Reference values (the frozen starting model's outputs) are looked up
per item from a `Reference`, computed once before training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearnlab.train.forward import Forward


@dataclass
class StepInputs:
    forget: Forward                               # the forget batch (the training batch when fine-tuning)
    retain: Forward | None = None                 # a retain batch, for methods that need one
    ref_forget_logps: torch.Tensor | None = None  # (B,) reference log pi_ref(y) of forget items
    ref_retain_logprobs: torch.Tensor | None = None  # (B, T-1, V) reference log-probs on retain


def nll(fw: Forward) -> torch.Tensor:
    """Negative log-likelihood: mean over sequences of each sequence's mean token NLL.

    Averaging per sequence first makes batch 1 x accumulation 8 equal batch 8 x 1.
    """
    per_seq = -(fw.token_logps * fw.mask).sum(-1) / fw.mask.sum(-1).clamp(min=1)
    return per_seq.mean()


def kl_to_reference(fw: Forward, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """KL(p_ref || p_theta) per token, averaged like `nll` (per sequence, then over sequences)."""
    logp = torch.log_softmax(fw.logits, dim=-1)                       # (B, T-1, V)
    per_token = (ref_logprobs.exp() * (ref_logprobs - logp)).sum(-1)  # (B, T-1)
    per_seq = (per_token * fw.mask).sum(-1) / fw.mask.sum(-1).clamp(min=1)
    return per_seq.mean()
