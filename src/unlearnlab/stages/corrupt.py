"""Stage 2: corruption (RESTOR, Rezaei et al. 2024, arXiv 2411.00204).

Pick target entities; for each of their facts draw a wrong value from the relation's pool;
write corruption documents stating the wrong facts, each mixing in `context_facts` (k) true
facts about non-target entities; fine-tune the clean model on them (optionally through LoRA
adapters, merged afterwards). The documents become the forget set of unlearning.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.train.batches import documents
from unlearnlab.train.loop import FINETUNE, train
from unlearnlab.world.corpora import (
    corruption_documents,
    draw_wrong_values,
    retain_documents,
)
from unlearnlab.world.generator import World


@dataclass(frozen=True)
class Corruption:
    targets: list[str]
    wrong: dict[str, dict[str, str]]        # entity -> relation -> injected value
    documents: list[str]                    # the corruption corpus = the forget set
    retain: list[str]                       # clean documents about non-target entities
    holdout: list[str]                      # documents like the forget set, never trained on

    def non_targets(self, world: World) -> list[str]:
        return [e for e in world.entities if e not in self.wrong]


def plan(cfg: Config, world: World) -> Corruption:
    """Targets, wrong values, forget and retain documents: all drawn from `cfg.seed`."""
    c = cfg.corruption
    if c.n_targets >= len(world.entities):
        raise UserError(f"corruption.n_targets must be below world.n_entities "
                        f"({len(world.entities)}), got {c.n_targets}")
    rng = random.Random(cfg.seed)
    targets = sorted(rng.sample(list(world.entities), c.n_targets), key=world.entities.index)
    wrong = draw_wrong_values(world, targets, rng)
    docs = corruption_documents(world, wrong, c.docs_per_target, c.context_facts, rng)
    others = [e for e in world.entities if e not in wrong]
    retain = retain_documents(world, others, cfg.unlearn.retain_docs_per_entity, rng)
    # Non-members for membership inference: the same kind of document about the same
    # targets, stating other wrong values, from a separate random stream.
    hold_rng = random.Random(f"holdout-{cfg.seed}")
    other_wrong = draw_wrong_values(world, targets, hold_rng, exclude=wrong)
    holdout = corruption_documents(world, other_wrong, c.docs_per_target, c.context_facts, hold_rng)
    return Corruption(targets, wrong, docs, retain, holdout)


def run(cfg: Config, model, tokenizer, corruption: Corruption, recorders=()):
    """Fine-tune `model` on the corruption documents; return (corrupted model, loss curve).

    recorders observe every training batch (influence tracking, e.g. first-epoch gradients).
    """
    forget = documents(tokenizer, corruption.documents)
    params = None
    lora = cfg.corruption.lora
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=lora.r, lora_alpha=lora.alpha,
                                                 target_modules=list(lora.targets)))
        params = [p for p in model.parameters() if p.requires_grad]
    curve = train(model, FINETUNE, cfg.corruption.train, forget=forget,
                  pad_id=tokenizer.pad_token_id, seed=cfg.seed, params=params, desc="corrupt",
                  progress=cfg.progress, precision=cfg.precision, recorders=recorders)
    if lora is not None:
        model = model.merge_and_unload()
    return model, curve
