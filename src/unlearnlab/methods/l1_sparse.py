"""l1-sparse unlearning: fine-tune on the retain set with an l1 penalty on the weights.

Jia et al. 2023, "Model Sparsity Can Simplify Machine Unlearning" (NeurIPS 2023,
arXiv 2304.04934), eq. (5):
    theta_u = argmin_theta  L_r(theta) + gamma * ||theta||_1
starting from the original model; the penalty drives weights that only the forget set needed
towards zero. The paper decays gamma linearly over the epochs; `decay: true` does that
(gamma_t = gamma * (1 - t / T) over the T steps), `decay: false` keeps it constant.
A procedure: the penalty reads the parameters, which a pure loss of forward outputs cannot;
it builds the objective over the parameters being trained and runs it through the context.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import Outcome, check_range, register_procedure
from unlearnlab.train.inputs import Objective, nll
from unlearnlab.train.params import select_parameters


@dataclass(frozen=True)
class L1SparseParams:
    gamma: float = 5e-4
    decay: bool = True

    def __post_init__(self):
        check_range("l1_sparse", "gamma", self.gamma)


def l1_objective(params: list, gamma: float, total_steps: int, decay: bool) -> Objective:
    """NLL on retain + gamma_t * sum_p ||p||_1 (t counts the calls, one per micro-batch)."""
    state = {"t": 0}

    def loss(inputs):
        scale = 1.0 - state["t"] / total_steps if decay else 1.0
        state["t"] += 1
        retain_nll = nll(inputs.retain)
        l1 = sum(p.abs().sum() for p in params)
        return retain_nll + gamma * max(scale, 0.0) * l1, {"retain_nll": retain_nll.item(),
                                                           "l1": l1.item()}
    return Objective(loss, needs_forget=False, needs_retain=True)


@register_procedure("l1_sparse", summary="fine-tune on retain with an l1 penalty on the weights",
                    paper="Jia et al. 2023, arXiv 2304.04934", params=L1SparseParams,
                    modalities=("text", "image"))
def l1_sparse(hp: L1SparseParams, ctx) -> Outcome:
    model = ctx.model
    params = select_parameters(model, ctx.cfg.unlearn.params)
    cfg = ctx.train_cfg
    steps = cfg.total_steps(len(ctx.forget)) * cfg.grad_accum
    curve = ctx.train(model, l1_objective(params, hp.gamma, steps, hp.decay), desc="l1_sparse")
    return Outcome(model, curve, {"gamma": hp.gamma})
