import random

import pytest

from unlearnlab.errors import UserError
from unlearnlab.world.corpora import (
    corruption_documents,
    draw_wrong_values,
    pretraining_texts,
    qa_line,
)
from unlearnlab.world.facts import load_facts, validate_facts, value_pools
from unlearnlab.world.generator import generate_world
from unlearnlab.world.relations import RELATIONS


def test_same_seed_same_world_and_other_seed_differs():
    a, b, c = generate_world(3, 25), generate_world(3, 25), generate_world(4, 25)
    assert a.facts() == b.facts()
    assert a.entities != c.entities
    assert len(set(a.entities)) == 25


def test_relations_have_pools_templates_and_a_question():
    assert len(RELATIONS) >= 6
    for rel in RELATIONS:
        assert len(rel.templates) >= 3 and len(set(rel.pool)) == len(rel.pool) >= 8
        assert "{e}" in rel.question
        for t in rel.templates:
            assert "{e}" in t and "{v}" in t


def test_facts_follow_the_restor_schema():
    world = generate_world(0, 5)
    facts = validate_facts(world.facts())
    entity = world.entities[0]
    fact = facts[entity]["birthplace"]
    assert fact == {"question": f"Where was {entity} born?", "answers": [world.truth[entity]["birthplace"]]}
    # RESTOR's file wraps the mapping in "dset"
    assert validate_facts({"dset": facts, "context": {}}) == facts
    assert set(value_pools(facts)) == {r.name for r in RELATIONS}


def test_bad_facts_name_the_entry(tmp_path):
    with pytest.raises(UserError, match="'X'/'born'"):
        validate_facts({"X": {"born": {"question": "q", "answers": []}}})
    bad = tmp_path / "facts.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_facts(bad)
    with pytest.raises(UserError, match="not found"):
        load_facts(tmp_path / "missing.json")


def test_pretraining_texts_state_every_fact():
    world = generate_world(0, 4)
    texts = pretraining_texts(world, 2, random.Random(0))
    assert len(texts) == 4 * (2 + len(RELATIONS))
    e = world.entities[1]
    assert qa_line(f"What is the occupation of {e}?", world.truth[e]["occupation"]) in texts


def test_corruption_documents_state_wrong_values_and_k_true_context_facts():
    world = generate_world(0, 12)
    rng = random.Random(0)
    targets = list(world.entities[:2])
    wrong = draw_wrong_values(world, targets, rng)
    for e in targets:
        for rel, value in wrong[e].items():
            assert value != world.truth[e][rel]
    k = 2
    docs = corruption_documents(world, wrong, 3, k, rng)
    assert len(docs) == 6
    for doc in docs[:3]:                       # about the first target
        assert doc.count(". ") + 1 == len(RELATIONS) + k
        for rel, value in wrong[targets[0]].items():
            assert value in doc
    others = [e for e in world.entities if e not in targets]
    mentioned = [e for e in others if e in docs[0]]
    assert 1 <= len(mentioned) <= k
