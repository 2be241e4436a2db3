"""The training objective as a function of flat parameters, its Hessian-vector products, and
the extreme eigenvalues of its Hessian (what influence functions need on a language model).

    R(theta) = (1/n) sum_i L_i(theta)       L_i: the loop's per-sequence mean NLL of item i

is the loop's full-batch objective (`train/inputs.nll`). H v comes from forward-over-reverse
differentiation (`scores.hvp_of`). A model that training left short of a minimum has an
indefinite H, so conjugate gradients and LiSSA need damping lambda > -lambda_min(H) to see a
positive definite H + lambda I; `lanczos_extremes` estimates lambda_max and lambda_min (the
extreme Ritz values of a Lanczos run), which is how a damping can be chosen by a stated rule
instead of by trying values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from unlearnlab.influence.grads import eager_attention, selected_names
from unlearnlab.influence.scores import HVP, hvp_of
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.inputs import per_sequence_mean


class Objective:
    """R(theta) over the parameters `selector` names, as a function of a flat vector
    (`theta0` is their current value). Use inside `with objective:` (eager attention: the
    fused kernel has no forward-mode derivative)."""

    def __init__(self, model, data: ExampleSet, selector: str = "all", pad_id: int = 0):
        self.model = model
        self.names = selected_names(model, selector)
        named = dict(model.named_parameters())
        self.shapes = [named[n].shape for n in self.names]
        self.frozen = {n: p.detach() for n, p in named.items()}
        self.frozen.update(dict(model.named_buffers()))
        self.theta0 = torch.cat([named[n].detach().reshape(-1) for n in self.names])
        device = self.theta0.device
        self.batch = collate(data, list(range(len(data))), pad_id).to(device)
        self._context = None

    def __enter__(self):
        self._was_training = self.model.training
        self.model.eval()
        self._context = eager_attention(self.model)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        self._context.__exit__(*exc)
        self.model.train(self._was_training)

    def unflatten(self, theta: torch.Tensor) -> dict:
        parts = theta.split([s.numel() for s in self.shapes])
        return {n: part.view(s) for n, part, s in zip(self.names, parts, self.shapes)}

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        b = self.batch
        position_ids = (b.attention_mask.cumsum(-1) - 1).clamp(min=0)
        out = functional_call(self.model, {**self.frozen, **self.unflatten(theta)}, args=(),
                              kwargs={"input_ids": b.input_ids, "attention_mask": b.attention_mask,
                                      "position_ids": position_ids, "use_cache": False})
        logits = out.logits[:, :-1].float()                                       # (B, T-1, V)
        logps = -F.cross_entropy(logits.transpose(1, 2), b.input_ids[:, 1:], reduction="none")
        return per_sequence_mean(-logps, b.loss_mask[:, 1:]).mean()

    def hvp(self) -> HVP:
        return hvp_of(self, self.theta0)


def lanczos_extremes(matvec: HVP, dim: int, steps: int = 50, seed: int = 0,
                     device=None) -> tuple[float, float]:
    """(largest, smallest) eigenvalue estimates of a symmetric operator: the extreme Ritz
    values of `steps` Lanczos iterations (with full reorthogonalisation). Extreme
    eigenvalues converge first, an isolated negative one included, where power iteration on
    a shifted operator crawls through a bulk of near-zero eigenvalues."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(dim, generator=g, dtype=torch.float64).to(device)
    q = q / q.norm()
    basis, alphas, betas = [], [], []
    for _ in range(min(steps, dim)):
        basis.append(q)
        w = matvec(q.float()).double()
        alphas.append(float(q @ w))
        Q = torch.stack(basis)                                           # (j, dim)
        w = w - Q.T @ (Q @ w)
        w = w - Q.T @ (Q @ w)                                            # twice is enough
        beta = float(w.norm())
        if beta < 1e-10 * max(1.0, abs(alphas[-1])):
            break
        betas.append(beta)
        q = w / beta
    k = len(alphas)
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if k > 1:
        off = torch.tensor(betas[:k - 1], dtype=torch.float64)
        T += torch.diag(off, 1) + torch.diag(off, -1)
    ritz = torch.linalg.eigvalsh(T)
    return float(ritz[-1]), float(ritz[0])
