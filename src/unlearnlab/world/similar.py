"""Similar samples at controlled similarity (Xu et al. 2026, "Forgetting Similar Samples: Can
Machine Unlearning Do it Better?", arXiv 2601.06938), on the built-in world.

A forget document states a target entity's wrong facts (as RESTOR's corruption documents
do). Its neighbours, kept in training, are made at one of four levels:

    duplicate     the same document, with a newline appended (a string-identical copy could
                  not be told from the forget document in the text-keyed sets: it would be
                  forgotten, and retrained away, with it)
    paraphrase    the same wrong facts about the same entity, in freshly drawn templates and order
    subset        about half of the same wrong facts (at least one), freshly worded
    other_entity  the same templates in the same order about another (non-target) entity and
                  its true facts: lexically close, semantically different

Every document is drawn from its own seed, so a forget document and its `other_entity`
neighbour share their template choices exactly.
"""

from __future__ import annotations

import random

from unlearnlab.world.corpora import entity_document
from unlearnlab.world.generator import World

LEVELS = ("duplicate", "paraphrase", "subset", "other_entity")


def forget_document(world: World, entity: str, wrong: dict[str, str], key: str) -> str:
    return entity_document(world, entity, wrong, random.Random(f"doc-{key}"))


def neighbour(world: World, level: str, entity: str, wrong: dict[str, str], key: str,
              index: int, others: list[str]) -> str:
    """The `index`-th neighbour at `level` of the forget document drawn from `key`."""
    rng = random.Random(f"neighbour-{key}-{level}-{index}")
    if level == "duplicate":
        return forget_document(world, entity, wrong, key) + "\n"
    if level == "paraphrase":
        return entity_document(world, entity, wrong, rng)
    if level == "subset":
        keep = rng.sample(list(wrong), max(1, len(wrong) // 2))
        return entity_document(world, entity, {r: wrong[r] for r in wrong if r in keep}, rng)
    if level == "other_entity":
        other = rng.choice(others)
        truth = {r: world.truth[other][r] for r in wrong}           # same relations, same order
        return entity_document(world, other, truth, random.Random(f"doc-{key}"))
    raise ValueError(f"unknown similarity level {level!r}; valid: {', '.join(LEVELS)}")
