"""Task arithmetic: negate the task vector of the forget set.

Ilharco et al. 2023, "Editing Models with Task Arithmetic", arXiv 2212.04089.
Fine-tune a copy of the model on the forget set (plain NLL) to get theta_ft; the task vector
is tau = theta_ft - theta; unlearning subtracts it:
    theta_u = theta - alpha * (theta_ft - theta)
Only the selected parameters (`unlearn.params`) are fine-tuned, so only they move.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch

from unlearnlab.methods.base import Outcome, check_range, register_procedure


@dataclass(frozen=True)
class TaskVectorParams:
    alpha: float = 1.0          # how far to move against the task vector
    epochs: float = 1.0         # fine-tuning epochs on the forget set
    lr: float = 0.0             # fine-tuning learning rate; 0 = unlearn.train.lr

    def __post_init__(self):
        check_range("task_vector", "alpha", self.alpha, strict=True)
        check_range("task_vector", "epochs", self.epochs, strict=True)
        check_range("task_vector", "lr", self.lr)


@register_procedure("task_vector", summary="fine-tune on forget, subtract alpha x the task vector",
                    paper="Ilharco et al. 2023, arXiv 2212.04089", params=TaskVectorParams,
                    modalities=("text", "image"))
def task_vector(hp: TaskVectorParams, ctx) -> Outcome:
    model = ctx.model
    finetuned = copy.deepcopy(model)
    cfg = dataclasses.replace(ctx.train_cfg, epochs=hp.epochs, max_steps=0,
                              lr=hp.lr or ctx.train_cfg.lr)
    curve = ctx.finetune(finetuned, cfg, desc="task_vector")
    moved = 0.0
    with torch.no_grad():
        for p, p_ft in zip(model.parameters(), finetuned.parameters()):
            tau = p_ft - p
            moved += float(tau.float().norm() ** 2)
            p.sub_(hp.alpha * tau)
    return Outcome(model, curve, {"task_vector_norm": moved ** 0.5})
