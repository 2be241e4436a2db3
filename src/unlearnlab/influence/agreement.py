"""Every influence score of one training run, each oriented as a predicted removal effect,
for the leave-one-out agreement study (influence/loo.py; benchmarks/influence_agreement.py).

The run trains `start` on the training set with the loop (the model theta(D) the
leave-one-out effects are measured against), keeping checkpoints; then, for every training
example z and query q (larger = removing z is predicted to raise q's loss more):

    grad_dot            g(z) . g(q) at theta(D)                               (all parameters)
    tracin              sum_c eta_c g_c(z) . g_c(q) over the checkpoints        (all parameters)
    tracin_first_epoch  the same over the checkpoints of the first epoch
    activation_x_gradient  the factorised linear-layer form of g(z) . g(q) at theta(D)
                        (the linear layers' weights only)
    influence_cg        g(q)^T (H + lambda I)^{-1} g(z), H the Hessian of the training
                        objective at theta(D), solved by conjugate gradients (all parameters)
    influence_lissa     the same solved by LiSSA with the same budget of Hessian-vector products
    ekfac               kronfluence's EK-FAC influence (the linear layers; when installed)

Damping rule, fixed before looking at any agreement: lambda = damping_ratio x lambda_max(H)
(0.01 by default, the scale of Koh & Liang's damping relative to the curvature), raised to
2 |lambda_min(H)| if H is that indefinite, so that H + lambda I is positive definite;
LiSSA's scale is 1.1 (lambda_max + lambda), above the largest eigenvalue it must exceed.
"""

from __future__ import annotations

import copy
import math
import time

import torch

from unlearnlab.config import TrainConfig
from unlearnlab.influence import ekfac
from unlearnlab.influence.hessian import Objective, lanczos_extremes
from unlearnlab.influence.scores import conjugate_gradient, grad_dot, lissa
from unlearnlab.influence.taps import activation_gradient_scores, per_example_grads_taps
from unlearnlab.influence.tracin import CheckpointTrail, first_step_lr, tracin_scores
from unlearnlab.train.batches import ExampleSet
from unlearnlab.train.loop import FINETUNE, train

SCORES = ("grad_dot", "tracin", "tracin_first_epoch", "activation_x_gradient", "influence_cg",
          "influence_lissa", "ekfac")


def score_run(start, data: ExampleSet, queries: ExampleSet, cfg: TrainConfig, *, pad_id: int,
              seed: int, damping_ratio: float = 0.01, solver_steps: int = 100,
              cg_tol: float = 1e-4, lanczos_steps: int = 40, with_ekfac: bool = True, log=print) -> dict:
    """Train on `data` from `start` (checkpoints after every step) and compute every score.
    Returns {"model", "curve", "scores": {name: (N, Q)}, "seconds": {name: s}, "hessian": {...}}."""
    n, m = len(data), len(queries)
    model = copy.deepcopy(start)
    trail = CheckpointTrail(model)
    began = time.perf_counter()
    curve = train(model, FINETUNE, cfg, forget=data, pad_id=pad_id, seed=seed, desc="train",
                  progress=False, on_step=trail)
    seconds = {"train": time.perf_counter() - began}
    scores: dict[str, torch.Tensor] = {}

    def timed(name, fn):
        t = time.perf_counter()
        scores[name] = fn()
        seconds[name] = time.perf_counter() - t
        log(f"  {name}: {seconds[name]:.1f} s")

    everything = list(range(n))
    g_train = per_example_grads_taps(model, data, everything, "all", pad_id)           # (N, P)
    g_query = per_example_grads_taps(model, queries, list(range(m)), "all", pad_id)    # (Q, P)
    timed("grad_dot", lambda: grad_dot(g_train, g_query))
    steps_per_epoch = math.ceil(n / (cfg.batch_size * cfg.grad_accum))
    lr_first = first_step_lr(cfg.lr, cfg.warmup_ratio, cfg.total_steps(n))
    timed("tracin", lambda: tracin_scores(model, trail, curve, lr_first, data, queries,
                                          pad_id=pad_id))
    timed("tracin_first_epoch", lambda: tracin_scores(model, trail, curve, lr_first, data,
                                                      queries, pad_id=pad_id,
                                                      upto=steps_per_epoch))
    timed("activation_x_gradient", lambda: activation_gradient_scores(model, data, queries, pad_id))

    objective = Objective(model, data, "all", pad_id)
    with objective:
        hvp = objective.hvp()
        t = time.perf_counter()
        top, bottom = lanczos_extremes(hvp, objective.theta0.numel(), steps=lanczos_steps,
                                       device=objective.theta0.device)
        damping = max(damping_ratio * top, 2 * max(0.0, -bottom))
        scale = 1.1 * (top + damping)
        hessian = {"lambda_max": top, "lambda_min": bottom, "damping": damping,
                   "lissa_scale": scale, "eigen_seconds": time.perf_counter() - t,
                   "parameters": objective.theta0.numel(), "solver_steps": solver_steps}
        log(f"  Hessian: lambda_max {top:.4g}, lambda_min {bottom:.4g} -> damping {damping:.4g}")
        solved: dict[str, list] = {"influence_cg": [], "influence_lissa": []}
        for name, solve in (
                ("influence_cg", lambda v: conjugate_gradient(hvp, v, damping, solver_steps,
                                                              tol=cg_tol * float(v.norm()))),
                ("influence_lissa", lambda v: lissa(hvp, v, damping, scale, solver_steps,
                                                    tol=0.0))):
            t = time.perf_counter()
            solved[name] = torch.stack([solve(g) for g in g_train.to(objective.theta0.device)])
            scores[name] = (solved[name] @ g_query.T.to(solved[name].device)).cpu()    # (N, Q)
            seconds[name] = time.perf_counter() - t
            log(f"  {name}: {seconds[name]:.1f} s")
        cg, li = solved["influence_cg"], solved["influence_lissa"]
        residual = torch.stack([(hvp(x) + damping * x - g).norm() / g.norm()
                                for x, g in zip(cg, g_train)])
        hessian["cg_relative_residual_max"] = float(residual.max())
        hessian["lissa_relative_error_vs_cg_mean"] = float(((li - cg).norm(dim=1)
                                                            / cg.norm(dim=1)).mean())
    reason = ekfac.available() if with_ekfac else "not asked for"
    if reason is None:
        timed("ekfac", lambda: ekfac.lm_scores(model, data, queries, pad_id, seed=seed))
    return {"model": model, "curve": curve, "scores": scores, "seconds": seconds,
            "hessian": hessian, "ekfac": reason or "kronfluence EK-FAC, default damping"}
