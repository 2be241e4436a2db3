"""The built-in world: a seeded set of fictional entities and their facts.

Same seed and size give the identical world (names, facts), on any machine: only Python's
`random.Random(seed)` is used. Facts are exported in the RESTOR `facts.json` schema.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from unlearnlab.errors import UserError
from unlearnlab.world.facts import Facts
from unlearnlab.world.relations import RELATIONS, Relation

_ONSETS = ("b", "br", "c", "d", "dr", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s",
           "t", "th", "v", "w", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou")
_CODAS = ("", "", "n", "r", "l", "s", "th", "m", "k")


def _name_part(rng: random.Random, syllables: int) -> str:
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    return (word + rng.choice(_CODAS)).capitalize()


@dataclass(frozen=True)
class World:
    """Entities, relations and the true value of every (entity, relation)."""

    seed: int
    entities: tuple[str, ...]
    relations: tuple[Relation, ...]
    truth: dict[str, dict[str, str]]

    def relation(self, name: str) -> Relation:
        for rel in self.relations:
            if rel.name == name:
                return rel
        raise KeyError(name)

    def paraphrased_questions(self) -> dict[str, dict[str, str]]:
        """entity -> relation -> the question in other words (evaluation only, never trained)."""
        return {e: {r.name: r.ask_paraphrased(e) for r in self.relations if r.paraphrase}
                for e in self.entities}

    def facts(self) -> Facts:
        """The world's facts in the RESTOR schema."""
        return {
            e: {r.name: {"question": r.ask(e), "answers": [self.truth[e][r.name]]}
                for r in self.relations}
            for e in self.entities
        }


def generate_world(seed: int, n_entities: int, relations: tuple[str, ...] | None = None) -> World:
    """Draw `n_entities` distinct fictional names and one value per relation for each."""
    known = {r.name: r for r in RELATIONS}
    names = list(relations) if relations else list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"world.relations: unknown relation {unknown[0]!r}; valid: {', '.join(known)}")
    if n_entities < 2:
        raise UserError(f"world.n_entities must be at least 2, got {n_entities}")
    rng = random.Random(seed)
    entities: list[str] = []
    seen: set[str] = set()
    while len(entities) < n_entities:
        name = f"{_name_part(rng, rng.choice((1, 2)))} {_name_part(rng, rng.choice((2, 3)))}"
        if name not in seen:
            seen.add(name)
            entities.append(name)
    rels = tuple(known[n] for n in names)
    truth = {e: {r.name: rng.choice(r.pool) for r in rels} for e in entities}
    return World(seed=seed, entities=tuple(entities), relations=rels, truth=truth)
