"""Stage 3: unlearning — one registered method applied to a copy of the corrupted model.

A loss method runs inside THE training loop; what it needs from the frozen starting model
is computed once before training (or, with `unlearn.reference: live`, by a frozen copy).
A procedure method gets an `UnlearnContext` and may run the loop itself any number of
times through `ctx.train`, with the run's settings (seed, precision, parameter selection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from unlearnlab.config import Config
from unlearnlab.methods import METHODS, Outcome
from unlearnlab.train.batches import ExampleSet, documents
from unlearnlab.train.loop import Objective, TrainConfig, train
from unlearnlab.train.params import select_parameters
from unlearnlab.train.reference import CachedReference, LiveReference

MAX_LEN = 256


@dataclass
class UnlearnContext:
    cfg: Config
    model: Any                          # a copy of the starting model; the method may change it
    tokenizer: Any
    forget: ExampleSet                  # the forget set (tokenized corruption documents)
    retain: ExampleSet
    forget_texts: list[str]
    retain_texts: list[str]
    device: Any
    evaluate: Callable[[Any], dict[str, float]] | None = None   # model -> metric means
    extras: dict = field(default_factory=dict)                    # world, plan, first-epoch store

    @property
    def train_cfg(self) -> TrainConfig:
        return self.cfg.unlearn.train

    def train(self, model, objective: Objective, cfg: TrainConfig | None = None, *,
              params: str | None = None, desc: str = "unlearn", **kw) -> list[dict]:
        """THE loop with this run's settings; `params` is a selector (default unlearn.params)."""
        selector = params or self.cfg.unlearn.params
        return train(model, objective, cfg or self.train_cfg, forget=kw.pop("forget", self.forget),
                     retain=kw.pop("retain", self.retain), pad_id=self.tokenizer.pad_token_id,
                     seed=self.cfg.seed, params=select_parameters(model, selector), desc=desc,
                     progress=self.cfg.progress, precision=self.cfg.precision, **kw)


def run(name: str, ctx: UnlearnContext) -> Outcome:
    spec = METHODS.get(name)
    hp = spec.hyperparams(ctx.cfg.hparams.get(name))
    if spec.procedure is not None:
        return spec.procedure(hp, ctx)
    return run_loss(spec, hp, ctx)


def run_loss(spec, hp, ctx: UnlearnContext) -> Outcome:
    """Train `ctx.model` with a loss method (through LoRA adapters if configured)."""
    objective = spec.objective(hp)
    model, cfg = ctx.model, ctx.cfg
    alt = None
    if objective.needs_alt:
        alt = documents(ctx.tokenizer, spec.alternatives(hp, ctx.forget_texts), MAX_LEN)
    reference = None
    if objective.refs:
        if cfg.unlearn.reference == "live":
            reference = LiveReference(model, objective.hidden_layer)
        else:
            reference = CachedReference(model, ctx.tokenizer.pad_token_id,
                                        {"forget": ctx.forget, "retain": ctx.retain, "alt": alt},
                                        objective.refs, objective.hidden_layer)
    selector = getattr(hp, "params", "") or cfg.unlearn.params
    params = select_parameters(model, selector)
    if cfg.unlearn.lora is not None:
        from peft import LoraConfig, get_peft_model

        lora = cfg.unlearn.lora
        model = get_peft_model(model, LoraConfig(r=lora.r, lora_alpha=lora.alpha,
                                                 target_modules=list(lora.targets)))
        params = [p for p in model.parameters() if p.requires_grad]
    curve = train(model, objective, cfg.unlearn.train, forget=ctx.forget, retain=ctx.retain,
                  alt=alt, reference=reference, pad_id=ctx.tokenizer.pad_token_id, seed=cfg.seed,
                  params=params, desc=spec.name, progress=cfg.progress, precision=cfg.precision)
    if cfg.unlearn.lora is not None:
        model = model.merge_and_unload()
    info = {"trainable_params": sum(p.numel() for p in params)}
    if isinstance(reference, CachedReference):
        info["reference_cache_bytes"] = reference.nbytes()
    return Outcome(model, curve, info)
