"""Stage 3: unlearning — one registered method applied to a copy of the starting model.

A loss method runs inside THE training loop; what it needs from the frozen starting model
is computed once before training (or, with `unlearn.reference: live`, by a frozen copy).
A procedure method gets an `UnlearnContext` and reaches the loop only through it
(`ctx.train`, `ctx.finetune`, `ctx.loss_run`, `ctx.retrain`), with the run's settings (seed,
precision, parameter selection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from unlearnlab.config import Config, TrainConfig
from unlearnlab.errors import UserError
from unlearnlab.methods import METHODS, Outcome
from unlearnlab.stages import oracle
from unlearnlab.tasks.base import Task
from unlearnlab.texts import PromptFormat, Text, tokenize, with_answer
from unlearnlab.train.batches import ExampleSet
from unlearnlab.train.loop import FINETUNE, Objective, train
from unlearnlab.train.params import select_parameters
from unlearnlab.train.reference import CachedReference, LiveReference


@dataclass
class UnlearnContext:
    """What a method may use: the run's settings, a copy of the starting model, the forget and
    retain sets (tokenized and as texts), an evaluation for checkpoints, the recorders that
    watched the forget set being learned, and the task (for retraining)."""

    cfg: Config
    model: Any                          # a copy of the starting model; the method may change it
    tokenizer: Any
    forget: ExampleSet                  # the forget set, tokenized
    retain: ExampleSet
    forget_texts: list[Text]
    retain_texts: list[Text]
    device: Any
    task: Task | None = None
    evaluate: Callable[[Any], dict[str, float]] | None = None   # model -> metric means
    curve: Callable[[Any], dict[str, float]] | None = None      # model -> curve metrics' means
    #                                                             (default: `evaluate`)
    start_scores: dict[str, float] | None = None   # metric means of `model` as given (step 0)
    recorders: dict[str, Any] = field(default_factory=dict)      # method name -> its recorder
    forget_positions: list[int] | None = None      # each forget item's index in what recorders saw
    retrainer: Callable[[int], tuple] | None = None  # seed_offset -> (model, curve, info): a
    #                                                  task's own retraining (image classifiers)

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

    def finetune(self, model, cfg: TrainConfig | None = None, desc: str = "finetune") -> list[dict]:
        """Plain NLL fine-tuning on the forget set (e.g. to get a task vector)."""
        return self.train(model, FINETUNE, cfg, desc=desc)

    def loss_run(self, method: str) -> LossRun:
        """A loss method prepared on this context's model, to train in several calls."""
        spec = METHODS.get(method)
        return LossRun(spec, self.cfg.params_of(method), self)

    def retrain(self, seed_offset: int):
        """(model, curve, info): the task's data minus the forget set, trained from scratch."""
        if self.retrainer is not None:
            return self.retrainer(seed_offset)
        if self.task is None:
            raise UserError("retrain needs the task's training data; none is available here")
        return oracle.retrain(self.cfg, self.task, self.tokenizer, seed_offset, self.device,
                              self.forget_texts)


def run(name: str, ctx: UnlearnContext) -> Outcome:
    spec = METHODS.get(name)
    hp = ctx.cfg.params_of(name)
    if spec.procedure is not None:
        return spec.procedure(hp, ctx)
    return run_loss(spec, hp, ctx)


def make_recorders(cfg: Config, model, positions: list[int] | None = None) -> dict[str, Any]:
    """The recorders the run's methods attach to the learn stage, each restricted to the
    forget items' `positions` in the learn set."""
    recorders = {}
    for name in cfg.methods:
        spec = METHODS.get(name)
        if spec.recorder is not None:
            recorders[name] = spec.recorder(cfg.params_of(name), model)
            if positions is not None:
                recorders[name].keep = set(positions)
    return recorders


class LossRun:
    """A loss method prepared on `ctx.model`: alternatives tokenized, reference outputs taken
    from the model as it is now (the frozen starting point), parameters selected, LoRA
    adapters attached if configured. `train(steps)` may be called repeatedly (iterative
    removal); `finish()` merges adapters and returns the model."""

    def __init__(self, spec, hp, ctx: UnlearnContext):
        self.spec, self.ctx, cfg = spec, ctx, ctx.cfg
        self.objective = spec.objective(hp)
        layer, depth = self.objective.hidden_layer, ctx.model.config.num_hidden_layers
        if layer is not None and not 0 <= layer <= depth:
            raise UserError(f"hparams.{spec.name}.layer must be between 0 and {depth} "
                            f"(this model's hidden-state layers), got {layer}")
        self.alt = None
        if self.objective.needs_alt:
            alternatives = spec.alternatives(hp, ctx.forget_texts)
            texts = [with_answer(t, a) for t, a in zip(ctx.forget_texts, alternatives)]
            fmt = ctx.task.fmt if ctx.task is not None else PromptFormat()
            self.alt = tokenize(ctx.tokenizer, texts, fmt)
        self.reference = None
        if self.objective.refs:
            if cfg.unlearn.reference == "live":
                self.reference = LiveReference(ctx.model, self.objective.hidden_layer)
            else:
                self.reference = CachedReference(
                    ctx.model, ctx.tokenizer.pad_token_id,
                    {"forget": ctx.forget, "retain": ctx.retain, "alt": self.alt},
                    self.objective.refs, self.objective.hidden_layer)
        self.model = ctx.model
        self.steps_done = 0
        self.checkpoints: list[dict] = []
        self.params = select_parameters(self.model, getattr(hp, "params", "") or cfg.unlearn.params)
        if cfg.unlearn.lora is not None:
            from peft import LoraConfig, get_peft_model

            lora = cfg.unlearn.lora
            self.model = get_peft_model(self.model, LoraConfig(
                r=lora.r, lora_alpha=lora.alpha, target_modules=list(lora.targets)))
            self.params = [p for p in self.model.parameters() if p.requires_grad]

    def train(self, train_cfg: TrainConfig | None = None, seed_offset: int = 0,
              desc: str | None = None) -> list[dict]:
        """Run the loop; with eval.every_n_steps = N, checkpoint metrics every N steps
        (counted across calls, starting with step 0 = the model before unlearning). `desc`
        labels its progress (default: the method's name)."""
        cfg = self.ctx.cfg
        every = cfg.eval.every_n_steps if self.ctx.evaluate is not None else 0
        if every and self.steps_done == 0:
            self._checkpoint(0)
        offset = self.steps_done

        def on_step(step: int) -> None:
            if (offset + step) % every == 0:
                self._checkpoint(offset + step)

        curve = train(self.model, self.objective, train_cfg or cfg.unlearn.train,
                      forget=self.ctx.forget, retain=self.ctx.retain, alt=self.alt,
                      reference=self.reference, pad_id=self.ctx.tokenizer.pad_token_id,
                      seed=cfg.seed + seed_offset, params=self.params,
                      desc=desc or self.spec.name,
                      progress=cfg.progress, precision=cfg.precision,
                      on_step=on_step if every else None)
        self.steps_done += len(curve)
        return curve

    def _checkpoint(self, step: int) -> None:
        known = self.ctx.start_scores if step == 0 else None
        scores = known if known is not None else (self.ctx.curve or self.ctx.evaluate)(self.model)
        wanted = self.ctx.cfg.eval.curve_metrics
        self.checkpoints.append({"step": step, **{m: scores.get(m) for m in wanted}})

    def info(self) -> dict:
        info = {"trainable_params": sum(p.numel() for p in self.params)}
        if isinstance(self.reference, CachedReference):
            info["reference_cache_bytes"] = self.reference.nbytes()
        return info

    def finish(self):
        if self.ctx.cfg.unlearn.lora is not None:
            self.model = self.model.merge_and_unload()
        return self.model


def run_loss(spec, hp, ctx: UnlearnContext) -> Outcome:
    """Train `ctx.model` with a loss method (through LoRA adapters if configured)."""
    job = LossRun(spec, hp, ctx)
    curve = job.train()
    info = job.info()
    return Outcome(job.finish(), curve, info, job.checkpoints)
