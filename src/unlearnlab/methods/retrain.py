"""Exact unlearning oracle: retrain from scratch on the training data minus the forget set.

The corrupted model saw the pretraining texts, then the corruption documents. Retraining
from scratch on (pretraining texts + corruption documents) minus the forget set with the
pretraining recipe gives the model unlearning aims for. With the RESTOR forget set (all
corruption documents) that is a fresh pretraining run; `seed_offset` > 0 makes it an
independent run (another initialisation and batch order), 0 reproduces the clean model.
Feasible only for the built-in world; the result is cached like the clean model. Every
parameter is trained: `unlearn.params` and LoRA do not apply.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from unlearnlab.config import digest
from unlearnlab.errors import UserError
from unlearnlab.methods.base import Outcome, check_range, register_procedure
from unlearnlab.models.loading import load_causal_lm, save_causal_lm
from unlearnlab.models.tiny import build_model
from unlearnlab.runs import atomic_dir, cache_root
from unlearnlab.train.batches import documents
from unlearnlab.train.loop import FINETUNE, train
from unlearnlab.world.corpora import pretraining_texts


@dataclass(frozen=True)
class RetrainParams:
    seed_offset: int = 1

    def __post_init__(self):
        check_range("retrain", "seed_offset", self.seed_offset)


@register_procedure("retrain", summary="oracle: retrain from scratch without the forget set",
                    paper="exact unlearning (Bourtoule et al. 2021, arXiv 1912.03817)",
                    params=RetrainParams)
def retrain(hp: RetrainParams, ctx) -> Outcome:
    cfg = ctx.cfg
    if cfg.model != "builtin" or "world" not in ctx.extras:
        raise UserError("retrain needs the built-in world's training data; "
                        "it cannot retrain an external model")
    from unlearnlab.stages import pretrain

    world, plan = ctx.extras["world"], ctx.extras["plan"]
    forgotten = set(ctx.forget_texts)
    kept = [d for d in plan.documents if d not in forgotten]
    texts = pretraining_texts(world, cfg.world.docs_per_entity, random.Random(cfg.pretrain.seed))
    seed = cfg.pretrain.seed + hp.seed_offset
    key = digest({"clean": pretrain.cache_key(cfg), "seed": seed, "kept": kept})
    state = {}

    def build(folder):
        model = build_model(cfg.pretrain.model, ctx.tokenizer, seed).to(ctx.device)
        state["curve"] = train(model, FINETUNE, cfg.pretrain.train, seed=seed,
                               forget=documents(ctx.tokenizer, texts + kept),
                               pad_id=ctx.tokenizer.pad_token_id, desc="retrain",
                               progress=cfg.progress, precision=cfg.precision)
        save_causal_lm(model, ctx.tokenizer, folder)

    folder = cache_root() / "retrain" / key
    cached = folder.is_dir()
    atomic_dir(folder, build)
    model, _ = load_causal_lm(folder, ctx.device)
    return Outcome(model, state.get("curve", []),
                   {"cached": cached, "kept_corruption_docs": len(kept), "seed": seed})
