"""Exact unlearning oracle: retrain from scratch on the training data minus the forget set.

The model to unlearn saw the task's pretraining corpus, then its learn set (RESTOR's
corruption documents, TOFU's QA pairs). Retraining from scratch on both minus the forget set,
with their recipes, gives the model unlearning aims for (stages/oracle.py). With the RESTOR
forget set (all corruption documents) that is a fresh pretraining run; `seed_offset` > 0
makes it an independent run (another initialisation and batch order), 0 reproduces the clean
model. Feasible only for the built-in model; the result is cached like the clean model.
Every parameter is trained: `unlearn.params` and LoRA do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearnlab.methods.base import Outcome, check_range, register_procedure


@dataclass(frozen=True)
class RetrainParams:
    seed_offset: int = 1

    def __post_init__(self):
        check_range("retrain", "seed_offset", self.seed_offset)


@register_procedure("retrain", summary="oracle: retrain from scratch without the forget set",
                    paper="exact unlearning (Bourtoule et al. 2021, arXiv 1912.03817)",
                    params=RetrainParams,
                    modalities=("text", "image"))
def retrain(hp: RetrainParams, ctx) -> Outcome:
    model, curve, info = ctx.retrain(hp.seed_offset)
    return Outcome(model, curve, info)
