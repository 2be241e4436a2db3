"""Random labels: fine-tune the forget images towards wrong labels, keep the retain set.

Golatkar et al. 2020 ("Eternal Sunshine", arXiv 1911.04933) and Graves et al. 2021
("Amnesiac Machine Learning", arXiv 2010.10981); the RL baseline of SalUn (Fan et al. 2024,
arXiv 2310.12508), which fine-tunes on the forget set relabelled at random together with
the retain set:
    L(theta) = forget_weight * E_{x in D_f} [ -log p_theta(y'_x | x) ]
             + retain_weight * E_{(x, y) in D_r} [ -log p_theta(y | x) ]
y'_x is a fixed wrong class per forget item, drawn uniformly from the other C - 1 classes by
a hash of (seed, item index), so the same item keeps the same label across steps and runs.
The loss reads the logits the loop already computed (position of the label token).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, nll, per_sequence_mean


@dataclass(frozen=True)
class RandomLabelParams:
    forget_weight: float = 1.0
    retain_weight: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_range("random_label", "forget_weight", self.forget_weight)
        check_range("random_label", "retain_weight", self.retain_weight)


def random_labels(labels: torch.Tensor, idx: torch.Tensor, n_classes: int,
                  seed: int) -> torch.Tensor:
    """(B, T) a wrong class per item: label + 1 + h(seed, idx) mod (C - 1), mod C."""
    h = (idx.long() * 2654435761 + seed * 40503 + 12345) % 2147483647       # (B,)
    offset = 1 + h % (n_classes - 1)
    return (labels + offset.unsqueeze(-1)) % n_classes


def random_label_nll(fw, seed: int) -> torch.Tensor:
    """Mean NLL of each item's random wrong labels (counted tokens only)."""
    logp = torch.log_softmax(fw.logits, dim=-1)                             # (B, T-1, C)
    target = random_labels(fw.labels, fw.idx.to(fw.labels.device), logp.shape[-1], seed)
    per_token = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)          # (B, T-1)
    return per_sequence_mean(per_token, fw.mask).mean()


@register_method("random_label", summary="fine-tune forget images to random wrong labels + "
                 "NLL on retain", paper="Golatkar et al. 2020, arXiv 1911.04933; SalUn's RL",
                 params=RandomLabelParams, needs_retain=True, logits=("forget",),
                 modalities=("image",))
def random_label_loss(hp: RandomLabelParams, inputs: StepInputs):
    forget_rl, retain_nll = random_label_nll(inputs.forget, hp.seed), nll(inputs.retain)
    loss = hp.forget_weight * forget_rl + hp.retain_weight * retain_nll
    return loss, {"forget_random_nll": forget_rl.item(), "retain_nll": retain_nll.item()}
