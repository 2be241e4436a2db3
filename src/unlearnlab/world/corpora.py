"""Texts made from the world: pretraining documents and QA lines, corruption documents.

RESTOR (Rezaei et al. 2024) corrupts a model with *documents* that state wrong facts about
target entities, each document mixing in `k` unrelated true facts about other entities
(the paper's `mix_a{k}` corpora). We build the same from the world's paraphrase templates.
"""

from __future__ import annotations

import random

from unlearnlab.world.generator import World

QA_PROMPT = "Question: {question}\nAnswer:"


def qa_prompt(question: str) -> str:
    return QA_PROMPT.format(question=question)


def qa_line(question: str, answer: str) -> str:
    return f"{qa_prompt(question)} {answer}"


def fact_sentence(world: World, entity: str, relation: str, value: str, rng: random.Random) -> str:
    rel = world.relation(relation)
    return rel.state(entity, value, rng.randrange(len(rel.templates)))


def entity_document(world: World, entity: str, values: dict[str, str], rng: random.Random,
                    extra: list[str] = ()) -> str:
    """Sentences stating `values` about `entity` in a random order and random paraphrases,
    with the `extra` sentences inserted at random positions."""
    sentences = [fact_sentence(world, entity, rel, val, rng) for rel, val in values.items()]
    rng.shuffle(sentences)
    for sentence in extra:
        sentences.insert(rng.randrange(len(sentences) + 1), sentence)
    return " ".join(sentences)


def pretraining_texts(world: World, docs_per_entity: int, rng: random.Random) -> list[str]:
    """Biography documents (several paraphrased versions per entity) and one QA line per fact."""
    texts = []
    for entity in world.entities:
        truth = world.truth[entity]
        texts += [entity_document(world, entity, truth, rng) for _ in range(docs_per_entity)]
        texts += [qa_line(world.relation(r).ask(entity), v) for r, v in truth.items()]
    return texts


def draw_wrong_values(world: World, targets: list[str], rng: random.Random,
                      exclude: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """For every fact of every target, a value from the relation's pool that is not the truth
    (nor the value in `exclude`, if given)."""
    wrong = {}
    for entity in targets:
        wrong[entity] = {}
        for rel in world.relations:
            banned = {world.truth[entity][rel.name], (exclude or {}).get(entity, {}).get(rel.name)}
            choices = [v for v in rel.pool if v not in banned]
            wrong[entity][rel.name] = rng.choice(choices)
    return wrong


def corruption_documents(world: World, wrong: dict[str, dict[str, str]], docs_per_target: int,
                         context_facts: int, rng: random.Random) -> list[str]:
    """RESTOR-style corruption corpus: each document states a target's wrong facts and mixes
    in `context_facts` (RESTOR's k) true facts about random non-target entities."""
    others = [e for e in world.entities if e not in wrong]
    docs = []
    for entity, values in wrong.items():
        for _ in range(docs_per_target):
            extra = []
            for _ in range(context_facts):
                other = rng.choice(others)
                rel = rng.choice(world.relations).name
                extra.append(fact_sentence(world, other, rel, world.truth[other][rel], rng))
            docs.append(entity_document(world, entity, values, rng, extra))
    return docs


def retain_documents(world: World, entities: list[str], docs_per_entity: int,
                     rng: random.Random) -> list[str]:
    """Clean documents about non-target entities: the retain set for unlearning."""
    return [entity_document(world, e, world.truth[e], rng)
            for e in entities for _ in range(docs_per_entity)]
