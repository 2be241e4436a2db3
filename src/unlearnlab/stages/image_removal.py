"""The remedy for similar images (Xu et al. 2026, arXiv 2601.06938; issue 10, item 4): expand
the forget set with the training images that the trained model sees as alike.

Each forget image is a removal request. Every training image x gets a similarity: the
cosine between its penultimate-layer features h(x) under the original model (the last hidden
layer's ReLU activations, the head's input) and those of the nearest forget image:

    s(x) = max_f  h(x)·h(f) / (‖h(x)‖ ‖h(f)‖)       (0 where a feature vector is all zero)

A forget image is its own request, so its s is 1. `removal.strategies` reads as for text
(stages/removal.py): `exact` unlearns the forget images, `fuzzy` every training image with
s >= `removal.threshold` (matching.matches). The plan is the text track's `removal.Plan`: each
method runs once per strategy (`method@fuzzy`), and the search is scored against the known
clusters, forget + the neighbours the task planted (`cluster_precision`, `cluster_recall`).
Retraining a classifier costs seconds, so `retrain` also runs on the expanded set
(`retrain@fuzzy`: the remedy applied to the oracle). Unlike the text search, this one needs
the trained model, so it runs after the original is trained.
"""

from __future__ import annotations

import numpy as np
import torch

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.matching import matches
from unlearnlab.stages.removal import Plan
from unlearnlab.tasks.base import ImageTask

IMAGE_STRATEGIES = ("exact", "fuzzy")


def check(cfg: Config) -> None:
    """The removal settings an image task supports (before any training)."""
    other = [s for s in cfg.removal.strategies if s not in IMAGE_STRATEGIES]
    if other:
        raise UserError(f"removal.strategies: {', '.join(other)} is not offered for image tasks; "
                        f"valid here: {', '.join(IMAGE_STRATEGIES)}")
    if cfg.removal.sequential:
        raise UserError("removal.sequential serves several text requests one after another; "
                        "image tasks have one request per forget image, served at once")


@torch.no_grad()
def penultimate(model, rows: list[int], batch_size: int = 256) -> torch.Tensor:
    """(len(rows), H): the last hidden layer's activations of each bank row (the pixels when
    the classifier has no hidden layer)."""
    was_training = model.training
    model.eval()
    out = [model.features(torch.tensor(rows[i:i + batch_size], device=model.device))[-1].cpu()
           for i in range(0, len(rows), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def max_cosine(queries: torch.Tensor, candidates: torch.Tensor) -> np.ndarray:
    """(M,): each candidate's highest cosine with any of the queries (Q, H); a zero vector's
    cosine is 0."""
    if not len(queries) or not len(candidates):
        return np.zeros(len(candidates))

    def unit(x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (unit(candidates) @ unit(queries).T).max(dim=1).values.numpy()   # (M, Q) -> (M,)


def similarities(model, task: ImageTask, batch_size: int = 256) -> list[float]:
    """s(x) for each training image (task.train order); 1 for the forget images themselves."""
    feats = penultimate(model, task.train, batch_size)                      # (N, H)
    where = {r: i for i, r in enumerate(task.train)}
    sims = max_cosine(feats[[where[r] for r in task.forget]], feats)
    for r in task.forget:
        sims[where[r]] = 1.0
    return [float(s) for s in sims]


def plan(cfg: Config, task: ImageTask, model) -> tuple[Plan, dict | None]:
    """(each strategy's forget rows as a removal plan, remedy.json's content or None when
    only `exact` runs)."""
    sets: dict[str, list] = {}
    thresholds: dict[str, list] = {}
    search = None
    for strategy in cfg.removal.strategies:
        if strategy == "exact":
            sets[strategy], thresholds[strategy] = [list(task.forget)], [None]
        else:
            threshold = cfg.removal.threshold
            sims = similarities(model, task, cfg.eval.batch_size)
            found = [task.train[i] for i in matches(sims, threshold)]
            if len(found) == len(task.train):
                median, top = np.quantile(sims, [0.5, 0.95])
                raise UserError(f"removal.threshold={threshold:g} expands the forget set to every "
                                f"training image, leaving nothing to retain; the similarities "
                                f"have median {median:.3f} and 95th percentile {top:.3f}: "
                                f"set a threshold above the median")
            sets[strategy], thresholds[strategy] = [found], [threshold]
            width = model.config.hidden[-1] if model.config.hidden else None
            search = {"threshold": threshold,
                      "features": f"the original model's penultimate layer ({width} units)"
                                  if width else "the pixels (no hidden layer)",
                      "similarity": {task.key(r): round(s, 6) for r, s in zip(task.train, sims)},
                      "found": [task.key(r) for r in found]}
    out = Plan(sets, thresholds, list(task.forget), cluster=[*task.forget, *task.similar],
               expand_oracles=True)
    return out, search
