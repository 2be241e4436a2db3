"""Stage 2: the model learns the forget set — RESTOR's corruption (fine-tuning the clean model
on the corruption documents), TOFU's fine-tuning on all its QA pairs, or a user's data.

Fine-tunes on `task.learn` with `learn.train` (optionally through LoRA adapters, merged
afterwards). Recorders (influence tracking, e.g. first-epoch gradients) observe every batch.
"""

from __future__ import annotations

from unlearnlab.config import Config
from unlearnlab.tasks.base import Task
from unlearnlab.texts import tokenize
from unlearnlab.train.loop import FINETUNE, train


def run(cfg: Config, task: Task, model, tokenizer, recorders=()):
    """Fine-tune `model` on the task's learn set; return (model, loss curve)."""
    data = tokenize(tokenizer, task.learn, task.fmt)
    params = None
    lora = cfg.learn.lora
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=lora.r, lora_alpha=lora.alpha,
                                                 target_modules=list(lora.targets)))
        params = [p for p in model.parameters() if p.requires_grad]
    curve = train(model, FINETUNE, cfg.learn.train, forget=data,
                  pad_id=tokenizer.pad_token_id, seed=cfg.seed, params=params, desc="learn",
                  progress=cfg.progress, precision=cfg.precision, recorders=recorders)
    if lora is not None:
        model = model.merge_and_unload()
    return model, curve
