"""Influence scores of training examples z on query examples q, three ways (Zagardo 2024,
arXiv 2406.09391, tracks and compares them; the scores' own papers below).

Gradient dot product (TracIn; Pruthi et al. 2020, arXiv 2002.08484): over recorded
checkpoints c with learning rates eta_c,
    TracIn(z, q) = sum_c eta_c * g_c(z) . g_c(q)          (one checkpoint: the plain dot product)

Activation x gradient: for a linear layer y = W a, one example's weight gradient is
dL/dW = sum_t delta_t a_t^T (delta_t = dL/dy_t, a_t the layer's input at token t), so the
inner product of two examples' gradients factorises without forming either:
    <dL_z/dW, dL_q/dW> = sum_{t, s} (delta_{z,t} . delta_{q,s}) (a_{z,t} . a_{q,s})
                       = sum( (D_z D_q^T) * (A_z A_q^T) )      D: (T, d_out), A: (T, d_in)

Influence function (Koh & Liang 2017, arXiv 1703.04730): the first-order change of the
query's loss when z is up-weighted,
    I(z, q) = - g(q)^T (H + lambda I)^{-1} g(z),       H the training loss's Hessian,
with (H + lambda I)^{-1} v solved from Hessian-vector products, by conjugate gradients or by
LiSSA (Agarwal et al. 2017): h_0 = v, h_{k+1} = v + h_k - ((H + lambda I) h_k) / s, whose
fixed point is s (H + lambda I)^{-1} v (the scale s > the largest eigenvalue makes it
converge). Removing z changes the query's loss by about -I(z, q) / n.
"""

from __future__ import annotations

from typing import Callable

import torch

Vector = torch.Tensor
HVP = Callable[[Vector], Vector]


def grad_dot(train: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """(N, M): g(z_n) . g(q_m) for train gradients (N, P) and query gradients (M, P)."""
    return train.float() @ query.float().T


def tracin(checkpoints: list[tuple[float, torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """(N, M): sum over checkpoints (lr, train grads (N, P), query grads (M, P)) of
    lr * train @ query^T."""
    total = None
    for lr, train, query in checkpoints:
        term = lr * grad_dot(train, query)
        total = term if total is None else total + term
    return total


def linear_grad_inner(acts_z: torch.Tensor, deltas_z: torch.Tensor, acts_q: torch.Tensor,
                      deltas_q: torch.Tensor) -> torch.Tensor:
    """<dL_z/dW, dL_q/dW> of one linear layer from its inputs A (T, d_in) and output
    gradients D (T, d_out) per example, without forming the (d_out, d_in) gradients."""
    return ((deltas_z @ deltas_q.T) * (acts_z @ acts_q.T)).sum()


def conjugate_gradient(hvp: HVP, v: Vector, damping: float = 0.0, steps: int = 100,
                       tol: float = 1e-10) -> Vector:
    """x with (H + damping I) x = v, H symmetric positive definite (Hestenes-Stiefel CG)."""
    x = torch.zeros_like(v)
    r = v.clone()
    p = r.clone()
    rs = r @ r
    for _ in range(steps):
        if rs.sqrt() <= tol:
            break
        ap = hvp(p) + damping * p
        alpha = rs / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        new = r @ r
        p = r + (new / rs) * p
        rs = new
    return x


def lissa(hvp: HVP, v: Vector, damping: float = 0.0, scale: float = 10.0, steps: int = 1000,
          tol: float = 1e-10) -> Vector:
    """(H + damping I)^{-1} v by LiSSA's recursion (a truncated Neumann series), with full
    Hessian-vector products (pass a stochastic `hvp` for the mini-batch variant)."""
    h = v.clone()
    for _ in range(steps):
        new = v + h - (hvp(h) + damping * h) / scale
        done = (new - h).norm() <= tol * max(1.0, new.norm().item())
        h = new
        if done:
            break
    return h / scale


def influence(train: torch.Tensor, query: torch.Tensor, inverse_hvp: Callable[[Vector], Vector]
              ) -> torch.Tensor:
    """(N, M): I(z_n, q_m) = -g(q_m)^T (H + lambda I)^{-1} g(z_n), one inverse-HVP per query."""
    solved = torch.stack([inverse_hvp(q.float()) for q in query])        # (M, P)
    return -(train.float() @ solved.T)


def hvp_of(loss: Callable[[Vector], torch.Tensor], theta: Vector) -> HVP:
    """v -> H v of the scalar `loss(theta)` at `theta` (flat), by forward-over-reverse
    differentiation (torch.func.jvp of torch.func.grad)."""
    from torch.func import grad, jvp

    g = grad(loss)

    def hvp(v: Vector) -> Vector:
        return jvp(g, (theta,), (v,))[1]
    return hvp
