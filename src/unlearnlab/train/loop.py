"""THE training loop: pretraining, corruption, retraining and unlearning all run here.

What varies is data, never a copied loop: which example sets feed each step (`forget`, and
`retain` when the objective needs it), which loss turns the forward results into a scalar
(`Objective.loss`), and which parameters train (`params`). The loop is seeded, accumulates
gradients, clips, schedules the learning rate, shows a progress bar with loss and ETA, and
returns (and optionally writes) the loss curve.

Several processes (`accelerate launch`, see distributed.py): each rank forwards its shard of
the same global batch and the gradients are averaged before clipping, so the update is the
one-process update up to floating-point reduction order.

Guard: a step whose loss or gradient norm is not finite, or whose loss magnitude exceeds
EXPLODE x max(1, |first step's loss|), is not applied; training stops with `Diverged`.
"""

from __future__ import annotations

import math
import random
from typing import Callable, Iterator

import torch
from transformers import get_scheduler

from unlearnlab import distributed
from unlearnlab.config import TrainConfig
from unlearnlab.errors import Diverged, UserError
from unlearnlab.models.loading import autocast
from unlearnlab.progress import Progress
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.train.inputs import FINETUNE, Objective, StepInputs

__all__ = ["FINETUNE", "Objective", "TrainConfig", "index_stream", "train"]

EXPLODE = 1e3


def index_stream(n: int, batch_size: int, rng: random.Random,
                 lengths: list[int] | None = None) -> Iterator[list[int]]:
    """Endless full batches of indices over shuffled epochs of `n` items. With `lengths`
    (`train.group_by_length`), each shuffled epoch is cut into windows of 50 batches, each
    window is sorted by length and cut into batches, and the epoch's batches are shuffled:
    batches of similar lengths waste little padding, in random order (as transformers'
    LengthGroupedSampler)."""
    order: list[int] = []
    while True:
        while len(order) < batch_size:
            epoch = list(range(n))
            rng.shuffle(epoch)
            if lengths is not None:
                epoch = _grouped(epoch, lengths, batch_size, rng)
            order += epoch
        yield order[:batch_size]
        order = order[batch_size:]


def _grouped(epoch: list[int], lengths: list[int], batch_size: int,
             rng: random.Random) -> list[int]:
    window = 50 * batch_size
    chunks = []
    for start in range(0, len(epoch), window):
        ranked = sorted(epoch[start:start + window], key=lambda i: lengths[i])
        chunks += [ranked[k:k + batch_size] for k in range(0, len(ranked), batch_size)]
    rng.shuffle(chunks)
    return [i for chunk in chunks for i in chunk]


def train(model, objective: Objective, cfg: TrainConfig, *, forget: ExampleSet, pad_id: int,
          seed: int, retain: ExampleSet | None = None, alt: ExampleSet | None = None,
          reference=None, params=None, desc: str = "train", progress: bool = True,
          precision: str = "fp32", recorders=(),
          on_step: Callable[[int], None] | None = None) -> list[dict]:
    """Train `model` in place; return the loss curve as one dict per optimizer step.

    forget: the set the steps iterate over (the training set when fine-tuning); alt: one
    alternative per forget item (same indices). params: the parameters to train (default:
    all); the others get no gradient and stay bit-for-bit unchanged. recorders: each called
    as `recorder.observe(model, forget, idx)` before each micro-batch's update (influence
    tracking during training, e.g. first-epoch gradients). on_step(step) runs after each optimizer step (evaluation hooks).
    """
    if len(forget) == 0:
        raise UserError(f"{desc}: the training (forget) set is empty")
    if objective.needs_retain and (retain is None or len(retain) == 0):
        raise UserError(f"{desc}: this method needs a retain set, and it is empty")
    if objective.needs_alt and (alt is None or len(alt) != len(forget)):
        raise ValueError(f"{desc}: the method needs one alternative per forget item")
    if distributed.active() and cfg.batch_size % distributed.world_size():
        raise UserError(f"{desc}: batch_size {cfg.batch_size} is not divisible by the "
                        f"{distributed.world_size()} processes; give a multiple of it")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    params = list(params) if params is not None else [p for p in model.parameters()]
    trainable = {id(p) for p in params}
    for p in model.parameters():
        p.requires_grad_(id(p) in trainable)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.total_steps(len(forget))
    name = {"constant": "constant_with_warmup"}.get(cfg.scheduler, cfg.scheduler)
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=int(cfg.warmup_ratio * steps),
                              num_training_steps=steps)
    def lengths(examples: ExampleSet) -> list[int] | None:
        return [len(ids) for ids in examples.input_ids] if cfg.group_by_length else None

    forget_ids = index_stream(len(forget), cfg.batch_size, rng, lengths(forget))
    retain_ids = (index_stream(len(retain), cfg.batch_size, rng, lengths(retain))
                  if objective.needs_retain else None)
    device = next(model.parameters()).device
    model.train()
    curve = []
    bar = Progress(steps, desc, enabled=progress)   # a bar on a terminal, else periodic lines
    for step in bar:
        totals: dict[str, float] = {}
        for _ in range(cfg.grad_accum):
            idx = next(forget_ids)
            for recorder in recorders:
                recorder.observe(model, forget, idx)
            with autocast(device, precision):
                inputs = _step_inputs(model, objective, forget, idx, alt, retain, retain_ids,
                                      reference, pad_id, device, cfg.pack)
                loss, stats = objective.loss(inputs)
            (loss / cfg.grad_accum).backward()
            for key, value in {"loss": loss.item(), **stats}.items():
                totals[key] = totals.get(key, 0.0) + value / cfg.grad_accum
        distributed.average_gradients(params)
        totals = distributed.mean_over_ranks(totals)
        grad_norm = torch.nn.utils.clip_grad_norm_(     # max_grad_norm 0: measure, no clipping
            params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf"))
        reason = _diverging(totals["loss"], float(grad_norm), curve)
        if reason:
            optimizer.zero_grad(set_to_none=True)
            bar.close()
            raise Diverged(desc, step + 1, reason)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        curve.append({"step": step + 1, "lr": scheduler.get_last_lr()[0],
                      "grad_norm": float(grad_norm), **totals})
        bar.note(loss=totals["loss"])
        if on_step is not None:
            on_step(step + 1)
            model.train()              # a hook may have evaluated the model
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return curve


def _diverging(loss: float, grad_norm: float, curve: list[dict]) -> str | None:
    """Why this step must not be applied, or None."""
    if not math.isfinite(loss):
        return "the loss is not finite"
    if not math.isfinite(grad_norm):
        return "the gradient norm is not finite"
    first = abs(curve[0]["loss"]) if curve else abs(loss)
    if abs(loss) > EXPLODE * max(1.0, first):
        return f"the loss {loss:.3g} exploded past {EXPLODE:g} x the first step's"
    return None


def _step_inputs(model, objective: Objective, forget, forget_idx, alt, retain, retain_ids,
                 reference, pad_id, device, pack: bool) -> StepInputs:
    inputs = StepInputs()
    forget_idx = distributed.shard(forget_idx)              # this rank's share of the batch
    sets = {"forget": (forget, forget_idx) if objective.needs_forget else None,
            "alt": (alt, forget_idx) if objective.needs_alt else None,
            "retain": (retain, distributed.shard(next(retain_ids)))
            if objective.needs_retain else None}
    for name, chosen in sets.items():
        if chosen is None:
            continue
        batch = collate(chosen[0], chosen[1], pad_id).to(device)
        hidden = objective.hidden_layer if name in ("forget", "retain") else None
        setattr(inputs, name, forward(model, batch, keep_logits=name in objective.logits,
                                      hidden_layer=hidden, pack=pack))
        for kind in objective.refs:
            if kind.startswith(name + "_"):
                inputs.ref[kind] = reference.get(kind, batch)
    return inputs
