"""RMU: Representation Misdirection for Unlearning.

Li et al. 2024, "The WMDP Benchmark: Measuring and Reducing Malicious Use With Unlearning",
arXiv 2403.03218, Sec. 5:
    L(theta) = E_{x in D_f} (1/|x|) sum_t (1/H) || h_theta(x)_t - c * u ||^2
               + alpha * E_{x in D_r} (1/|x|) sum_t (1/H) || h_theta(x)_t - h_ref(x)_t ||^2
h(x)_t is the hidden state of layer `layer` at token t (Hugging Face `hidden_states`
indexing: 0 is the embeddings, l the output of block l-1); u is a fixed random unit vector
(uniform [0, 1) entries, normalised, from `seed`) and c the steering coefficient. Forget
activations are pushed to a large random direction, retain activations kept where the
starting model put them. Only blocks up to `layer`-1 train (`params`): the paper updates a
few blocks below the steered layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

from unlearnlab.errors import UserError
from unlearnlab.methods.base import check_range, register_method
from unlearnlab.train.inputs import StepInputs, per_sequence_mean


@dataclass(frozen=True)
class RMUParams:
    layer: int = 2
    steering_coefficient: float = 20.0
    alpha: float = 100.0
    seed: int = 0
    params: str = "layers:0-1"     # parameter selector; overrides unlearn.params when non-empty

    def __post_init__(self):
        if not isinstance(self.layer, int) or isinstance(self.layer, bool):
            raise UserError(f"hparams.rmu.layer must be an integer >= 1, got {self.layer!r}")
        check_range("rmu", "layer", self.layer, low=1)
        check_range("rmu", "steering_coefficient", self.steering_coefficient, strict=True)
        check_range("rmu", "alpha", self.alpha)


@cache
def random_direction(size: int, seed: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(H,) the fixed unit vector u: uniform [0, 1) entries from `seed`, normalised."""
    u = torch.rand(size, generator=torch.Generator().manual_seed(seed))   # drawn on CPU
    return (u / u.norm()).to(device=device, dtype=dtype)


def masked_mse(hidden: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over H of the squared error, per-sequence mean over counted tokens, mean over B.

    hidden, target: (B, T, H); mask: (B, T-1), aligned with tokens 1..T-1.
    """
    per_token = (hidden[:, 1:] - target[:, 1:]).pow(2).mean(-1)            # (B, T-1)
    return per_sequence_mean(per_token, mask).mean()


@register_method("rmu", summary="steer forget activations to a random direction, keep retain's",
                 paper="Li et al. 2024 (WMDP), arXiv 2403.03218", params=RMUParams,
                 needs_retain=True, refs=("retain_hidden",), hidden=True)
def rmu_loss(hp: RMUParams, inputs: StepInputs):
    forget_h = inputs.forget.hidden.float()                                 # (B, T, H)
    u = random_direction(forget_h.shape[-1], hp.seed, forget_h.device, forget_h.dtype)
    forget = masked_mse(forget_h, (hp.steering_coefficient * u).expand_as(forget_h),
                        inputs.forget.mask)
    retain = masked_mse(inputs.retain.hidden.float(), inputs.ref["retain_hidden"].float(),
                        inputs.retain.mask)
    return forget + hp.alpha * retain, {"forget_mse": forget.item(), "retain_mse": retain.item()}
