"""Influence of the forget set on its queries, for one model: the evaluation's influence
records (Zagardo 2024 compares influence before and after unlearning with paired tests).

For each pair (forget text z, query q) the task declares (RESTOR: a corruption document and
a question about its target entity, answered with the injected value; TOFU: a forget pair
and its paraphrased question), the value is the gradient dot product at the model's
parameters theta (TracIn at one checkpoint; Pruthi et al. 2020):
    infl(z, q) = grad_theta L(z) . grad_theta L(q)
positive when a step on z lowers q's loss — the forget text still pushes the model towards
the answer it taught. It is a local quantity: at a model that has already fit z the
gradients vanish and so does the value, and ascent on z makes them grow again, so it is not
"influence left" with a better direction; Zagardo compares it before and after unlearning
with paired t-tests and Cohen's d, which is how `compare` reads it. Gradients are per example and vectorised (influence/grads.py), over
the parameters `selector` names; texts are grouped by their queries so each query's
gradient is computed once.
"""

from __future__ import annotations

import torch

from unlearnlab.influence.grads import per_example_grads
from unlearnlab.train.batches import ExampleSet


def pair_influence(model, texts: ExampleSet, queries: ExampleSet, pairs: list[tuple[int, int]],
                   selector: str = "all", pad_id: int = 0, chunk: int = 16) -> list[float]:
    """The gradient dot product of each (text index, query index) pair, in `pairs` order."""
    by_queries: dict[tuple[int, ...], list[int]] = {}
    wanted: dict[int, list[int]] = {}
    for z, q in pairs:
        wanted.setdefault(z, []).append(q)
    for z, qs in wanted.items():
        by_queries.setdefault(tuple(sorted(set(qs))), []).append(z)
    value: dict[tuple[int, int], float] = {}
    for qs, zs in by_queries.items():
        q_grads = per_example_grads(model, queries, list(qs), selector, pad_id, chunk)  # (Q, P)
        for start in range(0, len(zs), chunk):
            part = zs[start:start + chunk]
            dots = per_example_grads(model, texts, part, selector, pad_id, chunk) @ q_grads.T
            for row, z in enumerate(part):
                for col, q in enumerate(qs):
                    value[(z, q)] = float(dots[row, col])
        del q_grads
    return [value[p] for p in pairs]


@torch.no_grad()
def influence_records(model, texts: ExampleSet, queries: ExampleSet, pairs: list[tuple[int, int]],
                      selector: str, pad_id: int) -> list[dict]:
    """One record per pair for the metrics: {"group": "influence_pairs", "influence", "text",
    "query"}."""
    values = pair_influence(model, texts, queries, pairs, selector, pad_id)
    return [{"group": "influence_pairs", "influence": v, "text": z, "query": q}
            for (z, q), v in zip(pairs, values)]
