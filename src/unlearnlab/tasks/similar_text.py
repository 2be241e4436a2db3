"""Task `similar_text`: forgetting when similar samples stay in training (Xu et al. 2026,
arXiv 2601.06938), on the built-in world.

Clean model: the world task's (biographies and QA lines, cached). Then the model learns,
for each target entity, `corruption.docs_per_target` forget documents stating its wrong facts
together with `count` neighbours per forget document at one similarity `level`
(world/similar.py): every (level, count) pair of `similar.levels` x `similar.counts` is given
to `similar.targets_per_cell` targets, so one run measures every cell. The forget set is the
forget documents only; the neighbours stay in training and in the retain set (the rest of
the training data), with the world's clean documents about the other entities.

The three references of the paper follow from the protocol: the unlearned model (each
method), `retrain` (trained without the forget set: the clean model fine-tuned on the
neighbours alone) and the ideal (trained without the forget set and the neighbours: nothing
is left to learn, so it is the clean model, bit for bit). Residual influence is how far a
model sits from the ideal on the targets' facts: the rate of answering with the injected
value (`corrupted_rate`, 0 for the ideal), the accuracy lost, and per-item paired
differences against the clean model; the report breaks them down by cell
(`task.strata`: entity -> "level xcount").

The remedy (`removal.strategies: [exact, fuzzy]`): each forget document is also a removal
request, so `fuzzy` expands the forget set with every training text whose TF-IDF character
n-gram cosine to a forget document is >= `removal.threshold` (matching.py), and
`method@fuzzy` unlearns the expanded set. `task.similar` holds the neighbours that carry the
forget set's influence (duplicate, paraphrase and subset; not `other_entity`, which only
looks alike), so the search is scored against the known clusters; residual influence and
utility per method and threshold then give the remedy's curve
(benchmarks/similar_remedy.py).
"""

from __future__ import annotations

import random

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.tasks.base import Task
from unlearnlab.tasks.facts_items import fact_items
from unlearnlab.tasks.world import RESTOR_SCORING, taught_queries
from unlearnlab.texts import PromptFormat, as_plain
from unlearnlab.world.corpora import (corruption_documents, draw_wrong_values,
                                      pretraining_texts, retain_documents)
from unlearnlab.world.facts import value_pools
from unlearnlab.world.generator import generate_world
from unlearnlab.world.similar import forget_document, neighbour


def cells(cfg: Config) -> list[tuple[str, int]]:
    s = cfg.similar
    return [(level, count) for level in s.levels for count in s.counts] * s.targets_per_cell


def build(cfg: Config) -> Task:
    world = generate_world(cfg.world.seed, cfg.world.n_entities, cfg.world.relations)
    facts = world.facts()
    plan = cells(cfg)
    if len(plan) >= len(world.entities):
        raise UserError(f"similar: {len(plan)} targets (levels x counts x targets_per_cell) need "
                        f"world.n_entities above {len(plan)}, got {len(world.entities)}")
    rng = random.Random(cfg.seed)
    targets = rng.sample(list(world.entities), len(plan))
    wrong = draw_wrong_values(world, targets, rng)
    others = [e for e in world.entities if e not in wrong]
    forget, similar, strata, doc_entities, alike = [], [], {}, [], []
    for entity, (level, count) in zip(targets, plan):
        strata[entity] = f"{level} x{count}"
        for i in range(cfg.corruption.docs_per_target):
            key = f"{cfg.seed}-{entity}-{i}"
            forget.append(forget_document(world, entity, wrong[entity], key))
            doc_entities.append(entity)
            made = [neighbour(world, level, entity, wrong[entity], key, j, others)
                    for j in range(count)]
            similar += made
            if level != "other_entity":                # look-alikes that carry the influence
                alike += made
    learn = forget + similar
    random.Random(f"order-{cfg.seed}").shuffle(learn)
    retain = retain_documents(world, others, cfg.corruption.retain_docs_per_entity,
                              random.Random(f"retain-{cfg.seed}"))
    hold_rng = random.Random(f"holdout-{cfg.seed}")
    other_wrong = draw_wrong_values(world, targets, hold_rng, exclude=wrong)
    holdout = corruption_documents(world, other_wrong, cfg.corruption.docs_per_target, 0, hold_rng)
    texts = pretraining_texts(world, cfg.world.docs_per_entity, random.Random(cfg.pretrain.seed))
    pools, paraphrases = value_pools(facts), world.paraphrased_questions()
    utility = others
    if cfg.eval.utility_entities:
        utility = random.Random(cfg.seed).sample(others, min(cfg.eval.utility_entities,
                                                             len(others)))
    items = (fact_items(facts, targets, "target", pools, wrong, cfg.seed, probe=True,
                        paraphrases=paraphrases)
             + fact_items(facts, utility, "utility", pools, None, cfg.seed, probe=False,
                          paraphrases=paraphrases))
    queries, pairs = taught_queries(facts, wrong, doc_entities)
    fmt = PromptFormat()
    return Task(name="similar_text", fmt=fmt, tokenizer_texts=texts, pretrain=texts,
                learn=learn, forget=forget, retain=retain + similar, holdout=holdout, items=items,
                roles=("clean", "corrupted"), scoring=RESTOR_SCORING,
                files={"facts.json": facts,
                       "similar.json": {"targets": strata, "wrong": wrong,
                                        "forget": forget, "similar": similar}},
                queries=queries, influence_pairs=pairs,
                requests=[as_plain(doc, fmt) for doc in forget], similar=alike,
                info={"strata": strata, "similar_docs": len(similar)})
