"""Leave-one-out retraining: the true effect of removing each training example on query
losses, and how well an influence score predicts it (Koh & Liang 2017, arXiv 1703.04730,
check influence functions this way; Zagardo 2024 asks for it as "influence score agreement").

For a training set D = {z_1..z_n}, a start model theta_0, a recipe (the project's one loop,
`train/loop.py`, with its seed) and queries q_1..q_m, with theta(S) the model the loop
trains from theta_0 on S,

    effect(z_i, q_j) = L(q_j; theta(D minus z_i)) - L(q_j; theta(D))

where L is the loop's per-sequence loss (mean token NLL over the counted tokens). Positive:
removing z_i raises the query's loss (z_i helped the query). Every retrain starts from the
same theta_0 with the same seed; what still differs between two retrains besides the removed
example is the order in which the loop's seeded shuffle then visits the others (a
mini-batch recipe) or only float rounding (full-batch: batch_size >= n). `noise_floor`
measures that part: the same query losses after retraining on all of D with other seeds.

Agreement of a score with the effect is Spearman's rank correlation (scipy.stats.spearmanr),
per query over the removed examples (then averaged over queries), and pooled over every
(example, query) pair asked for. A score must be oriented as a predicted removal effect
(larger = removing the example raises the query's loss more): the gradient dot product and
TracIn as they are, an influence function's I(z, q) = -g(q)^T H^-1 g(z) negated.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass

import torch

from unlearnlab.config import TrainConfig
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.train.inputs import per_sequence_mean
from unlearnlab.train.loop import FINETUNE, train


def without(data: ExampleSet, i: int) -> ExampleSet:
    """`data` with item `i` removed (the others keep their order)."""
    return ExampleSet(data.input_ids[:i] + data.input_ids[i + 1:],
                      data.loss_mask[:i] + data.loss_mask[i + 1:])


@torch.no_grad()
def query_losses(model, queries: ExampleSet, pad_id: int, batch_size: int = 64) -> torch.Tensor:
    """(Q,) float64: each query's mean NLL over its counted tokens (the loop's per-item loss)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(queries), batch_size):
        idx = list(range(start, min(start + batch_size, len(queries))))
        fw = forward(model, collate(queries, idx, pad_id).to(device))
        out.append(per_sequence_mean(-fw.token_logps, fw.mask).double().cpu())
    model.train(was_training)
    return torch.cat(out)


def for_set(cfg: TrainConfig, full_batch: bool, n: int) -> TrainConfig:
    """The recipe for a training set of n items: a full-batch recipe's batch is the set."""
    return dataclasses.replace(cfg, batch_size=n, grad_accum=1) if full_batch else cfg


def retrain(start, data: ExampleSet, cfg: TrainConfig, *, pad_id: int, seed: int,
            on_step=None):
    """A copy of `start` trained on `data` by the loop (FINETUNE, all parameters);
    returns (model, loss curve). `start` itself is not touched."""
    model = copy.deepcopy(start)
    curve = train(model, FINETUNE, cfg, forget=data, pad_id=pad_id, seed=seed, desc="retrain",
                  progress=False, on_step=on_step)
    return model, curve


@dataclass(frozen=True)
class LeaveOneOut:
    base: torch.Tensor        # (Q,) query losses after training on every example
    effects: torch.Tensor     # (R, Q) query loss after training without removed[r], minus base
    removed: list[int]        # the training items removed, one retrain each (rows of effects)
    seconds_per_retrain: float


def leave_one_out(start, data: ExampleSet, queries: ExampleSet, cfg: TrainConfig, *,
                  pad_id: int, seed: int, removed: list[int] | None = None,
                  log=None) -> LeaveOneOut:
    """Retrain once on all of `data` and once without each item of `removed` (default: all),
    from `start` with the same recipe and seed; the query losses' changes. A recipe whose
    batch holds every item (batch_size >= len(data)) stays full-batch without one: its batch
    shrinks with the set (the loop would otherwise fill it from the next epoch, repeating an
    item)."""
    removed = list(range(len(data))) if removed is None else list(removed)
    full_batch = cfg.batch_size * cfg.grad_accum >= len(data)
    full, _ = retrain(start, data, for_set(cfg, full_batch, len(data)), pad_id=pad_id, seed=seed)
    base = query_losses(full, queries, pad_id)
    rows, began = [], time.perf_counter()
    for k, i in enumerate(removed):
        model, _ = retrain(start, without(data, i), for_set(cfg, full_batch, len(data) - 1),
                           pad_id=pad_id, seed=seed)
        rows.append(query_losses(model, queries, pad_id) - base)
        if log is not None:
            log(f"leave-one-out: {k + 1}/{len(removed)} retrains "
                f"({(time.perf_counter() - began) / (k + 1):.1f} s each)")
    seconds = (time.perf_counter() - began) / max(1, len(removed))
    return LeaveOneOut(base, torch.stack(rows) if rows else torch.zeros(0, len(queries)),
                       removed, seconds)


def noise_floor(start, data: ExampleSet, queries: ExampleSet, cfg: TrainConfig, *, pad_id: int,
                seed: int, other_seeds: list[int]) -> torch.Tensor:
    """(S, Q): query losses after training on ALL of `data` with each of `other_seeds`, minus
    those with `seed` — how much of an effect the recipe's randomness alone produces."""
    base = query_losses(retrain(start, data, cfg, pad_id=pad_id, seed=seed)[0], queries, pad_id)
    return torch.stack([query_losses(retrain(start, data, cfg, pad_id=pad_id, seed=s)[0],
                                     queries, pad_id) - base for s in other_seeds])


def spearman(x, y) -> float:
    """Spearman's rho of two equal-length sequences (nan when either is constant)."""
    from scipy.stats import spearmanr

    x, y = torch.as_tensor(x).double().flatten(), torch.as_tensor(y).double().flatten()
    if len(x) < 2 or bool((x == x[0]).all()) or bool((y == y[0]).all()):
        return math.nan
    return float(spearmanr(x.numpy(), y.numpy()).statistic)


def agreement(predicted: torch.Tensor, effects: torch.Tensor,
              pairs: list[tuple[int, int]] | None = None) -> dict:
    """How well `predicted` (R, Q), oriented as a removal effect, ranks `effects` (R, Q).

    per_query: rho over the R removed examples for each query (nan where undefined);
    per_query_mean: their mean over the queries where defined; pooled: rho over every
    (row, query) pair, or over `pairs` (row, query) when given."""
    if predicted.shape != effects.shape:
        raise ValueError(f"scores {tuple(predicted.shape)} and effects "
                         f"{tuple(effects.shape)} differ in shape")
    per_query = [spearman(predicted[:, j], effects[:, j]) for j in range(effects.shape[1])]
    defined = [r for r in per_query if not math.isnan(r)]
    if pairs is None:
        pooled = spearman(predicted, effects)
    else:
        rows, cols = zip(*pairs) if pairs else ((), ())
        pooled = spearman(predicted[list(rows), list(cols)], effects[list(rows), list(cols)])
    return {"per_query_mean": sum(defined) / len(defined) if defined else math.nan,
            "per_query": per_query, "pooled": pooled,
            "n_pooled": len(pairs) if pairs is not None else effects.numel()}
