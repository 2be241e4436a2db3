"""The exact-unlearning oracle: retrain from scratch on the training data minus the forget set.

The model to unlearn saw the task's pretraining corpus, then its learn set. Retraining
repeats both without the forget set: a new built-in model (initialised from
pretrain.seed + seed_offset), trained on pretrain minus forget with the pretraining recipe,
then on learn minus forget with the learn recipe. For RESTOR (the forget set is the whole
corruption corpus) that is a fresh pretraining run, and seed_offset 0 reproduces the clean
model; for TOFU it is the retain model (fine-tuned on the retain split only). Only the
built-in model can be retrained; the result is cached like the clean model.

`forget` is the task's forget set unless a removal search expanded it (`retrain@fuzzy` on a
task with known look-alikes: the remedy of Xu et al. 2026 applied to the oracle); the cache
key holds the kept corpora, so each forget set gets its own model.
"""

from __future__ import annotations

import dataclasses

from unlearnlab.config import Config, digest
from unlearnlab.errors import UserError
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.runs import built_here, cache_root
from unlearnlab.stages import pretrain
from unlearnlab.tasks.base import Task
from unlearnlab.texts import Text, tokenize
from unlearnlab.train.loop import FINETUNE, train


def retrain(cfg: Config, task: Task, tokenizer, seed_offset: int, device,
            forget: list[Text] | None = None):
    """(model, loss curve, info) of the oracle retrained without `forget` (default: the
    task's forget set)."""
    if cfg.model != "builtin":
        raise UserError("retrain trains the built-in model from scratch; it cannot retrain an "
                        "external model")
    seed = cfg.pretrain.seed + seed_offset
    kept_pretrain = task.without_forget(task.pretrain, forget)
    kept_learn = task.without_forget(task.learn, forget)
    key = digest({"clean": pretrain.cache_key(cfg, task), "seed": seed,
                  "kept_pretrain": pretrain.corpus_digest(kept_pretrain, task),
                  "kept_learn": pretrain.corpus_digest(kept_learn, task),
                  "learn": dataclasses.asdict(cfg.learn.train), "learn_seed": cfg.seed})
    state = {"curve": []}

    def build(folder) -> None:
        model, curve = pretrain.from_scratch(cfg, task, tokenizer, kept_pretrain, seed, device,
                                             "retrain")
        if kept_learn:
            curve += train(model, FINETUNE, cfg.learn.train, forget=tokenize(tokenizer, kept_learn, task.fmt),
                           pad_id=tokenizer.pad_token_id, seed=cfg.seed, desc="retrain:learn",
                           progress=cfg.progress, precision=cfg.precision)
        pretrain.save(model, tokenizer, curve, folder)
        state["curve"] = curve

    folder = cache_root() / "retrain" / key
    cached = not built_here(folder, build)
    model, _ = load_causal_lm(folder, device)
    if cached:            # the curve of the training the cache holds (its cost, for reports)
        state["curve"] = pretrain.load_curve(folder)
    info = {"cached": cached, "seed": seed, "kept_pretrain": len(kept_pretrain),
            "kept_learn": len(kept_learn)}
    return model, state["curve"], info
