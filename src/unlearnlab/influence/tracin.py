"""TracIn over the checkpoints of a training run (Pruthi et al. 2020, arXiv 2002.08484):

    TracIn(z, q) = sum_c eta_c * grad L(z; theta_c) . grad L(q; theta_c)

with theta_c the parameters after step s_c (theta_0 the start) and eta_c the learning rate of
the step taken from there, s_c + 1. `CheckpointTrail` is the loop's `on_step` hook that keeps
every k-th theta_c (and the start); `tracin_scores` pairs them with the learning rates the
loop's curve recorded (a curve entry's `lr` is the scheduler's rate after that step, i.e. the
next step's) and sums the dot products. `upto` keeps the checkpoints before a given step:
with `upto = steps per epoch` it is TracIn over the first epoch only (Zagardo 2024's
first-epoch gradients).
"""

from __future__ import annotations

import copy

import torch

from unlearnlab.influence.scores import grad_dot
from unlearnlab.influence.taps import per_example_grads_taps
from unlearnlab.train.batches import ExampleSet


class CheckpointTrail:
    """Keeps the start parameters and those after every `every`-th optimizer step, on the CPU."""

    def __init__(self, model, every: int = 1):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.model, self.every = model, every
        self.states: list[tuple[int, dict]] = [(0, self._state())]

    def _state(self) -> dict:
        return {n: p.detach().to("cpu", copy=True) for n, p in self.model.state_dict().items()}

    def __call__(self, step: int) -> None:
        if step % self.every == 0:
            self.states.append((step, self._state()))


def first_step_lr(lr: float, warmup_ratio: float, total_steps: int) -> float:
    """The rate of step 1 under the loop's schedulers: every one starts at the full rate
    without warmup and at 0 with it (the warmup ramp starts at 0)."""
    return 0.0 if int(warmup_ratio * total_steps) > 0 else lr


def tracin_scores(model, trail: CheckpointTrail, curve: list[dict], lr_first: float,
                  train: ExampleSet, queries: ExampleSet, selector: str = "all", pad_id: int = 0,
                  upto: int | None = None) -> torch.Tensor:
    """(N, M) TracIn of every training example on every query over the trail's checkpoints
    taken before step `upto` (all when None). The checkpoint after the last step is left out:
    no step was taken from it."""
    lr_after = {entry["step"]: entry["lr"] for entry in curve}
    last = max(lr_after) if lr_after else 0
    work = copy.deepcopy(model)
    total = torch.zeros(len(train), len(queries))
    for step, state in trail.states:
        if step >= last or (upto is not None and step >= upto):
            continue
        eta = lr_first if step == 0 else lr_after[step]
        if eta == 0:
            continue
        work.load_state_dict(state)
        g_train = per_example_grads_taps(work, train, list(range(len(train))), selector, pad_id)
        g_query = per_example_grads_taps(work, queries, list(range(len(queries))), selector, pad_id)
        total += eta * grad_dot(g_train, g_query).cpu()
    return total
