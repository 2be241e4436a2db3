"""Question items from facts in the RESTOR schema ({entity: {relation: {question, answers}}}),
shared by the tasks built on such facts (the built-in world, RESTOR's Wikidata facts, a
user's facts.json)."""

from __future__ import annotations

import random
from typing import Callable

from unlearnlab.eval.items import EvalItem

N_PERTURBED = 5


def fact_items(facts: dict, entities: list[str], group: str, pools: dict[str, list[str]],
               wrong: dict[str, dict[str, str]] | None, seed: int, probe: bool,
               paraphrases: dict[str, dict[str, str]] | None = None,
               context: Callable[[str, str], str] | None = None,
               probe_pool: int = 0, n_perturbed: int = N_PERTURBED) -> list[EvalItem]:
    """Question items for `entities`. Target items carry the injected value (where `wrong`
    knows one); with `probe`, a random alternative and the relation's pool; every item gets
    up to `n_perturbed` (5) perturbed answers (other pool values, neither a gold alias nor
    the injected value). `context(entity, relation)`: text put before the prompt (few-shot lines).
    probe_pool > 0 caps the probe's candidates at that many pool values (a seeded sample per
    item, from a stream of its own), for relations with hundreds of values."""
    rng = random.Random(seed)
    pool_rng = random.Random(f"probe-pool-{seed}")
    items = []
    for entity in entities:
        for relation, fact in facts[entity].items():
            answers = tuple(fact["answers"])
            corrupted = (wrong or {}).get(entity, {}).get(relation)
            others = [v for v in pools[relation] if v not in answers and v != corrupted]
            alt = rng.choice(others) if probe and others else None
            perturbed = tuple(rng.sample(others, min(n_perturbed, len(others))))
            para = (paraphrases or {}).get(entity, {}).get(relation)
            pool = pools[relation]
            if probe and probe_pool and len(pool) > probe_pool:
                pool = sorted(pool_rng.sample(pool, probe_pool))
            items.append(EvalItem(entity, relation, fact["question"], answers, group, corrupted,
                                  alt, tuple(pool) if probe else (), perturbed, para,
                                  context=context(entity, relation) if context else ""))
    return items
