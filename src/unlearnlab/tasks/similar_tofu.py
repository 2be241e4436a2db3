"""Task `similar_tofu`: forgetting when similar samples stay in training (Xu et al. 2026,
arXiv 2601.06938), on TOFU's real QA pairs (Maini et al. 2024) — the second text dataset of
the similar-samples study, after `similar_text` on the built-in world.

Data (`tofu.data_dir`, read in place). TOFU's 200 fictitious authors have 20 QA pairs each,
in order; forget10.json holds the last 20 authors with, per pair, a paraphrased question,
a paraphrased answer and five perturbed answers. The clusters are made from those fields:

    duplicate   the pair itself, with j newlines appended to the answer (j = 1..count; a
                string-identical copy would be forgotten, and retrained away, with it)
    paraphrase  the paraphrased question with the paraphrased answer: the same fact in other
                words (TOFU has one paraphrase per pair; copies 2..count add newlines)
    perturbed   the question with the j-th perturbed answer: the same template and length,
                another (wrong) fact about the same author — lexically close, semantically
                different, so it carries none of the pair's influence

Protocol, the same three references as the paper: the clean model is the built-in tiny
Llama trained from scratch on the retain split's pairs (`tofu.retain_authors` of its 180
authors, chosen by a fixed seed; 0 = all) — it never saw the forget pairs nor their
neighbours, so it is the *ideal*. Then it learns, for each target author (a forget10 author
per (level, count) cell x `similar.targets_per_cell`), `corruption.docs_per_target` of its
pairs (the forget set) with `count` neighbours per pair at the cell's level: the *original*
model. `retrain` is trained from scratch on the retain pairs and then the neighbours alone
(the oracle's "training data minus the forget set"). Residual influence is how far a model
sits from the ideal on the forget pairs — TOFU's answer probability and ROUGE on them, per
cell (`task.strata`: author -> "level xcount"), with paired per-item tests.

Evaluation as the `tofu` task (open-unlearning's conventions): forget items are the target
authors' forget pairs; retain items the retain_perturbed pairs of the trained authors; real
authors and world facts as TOFU's. The remedy (`removal.strategies: [exact, fuzzy]`):
each forget pair is a removal request; `task.similar` (duplicates and paraphrases) scores
the search.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from unlearnlab.config import SIMILAR_TOFU_LEVELS, Config
from unlearnlab.errors import UserError
from unlearnlab.tasks.base import Task
from unlearnlab.tasks.similar_text import cells
from unlearnlab.tasks.tofu import QA, SCORING, qa_items, read_split, strings
from unlearnlab.texts import Pair, as_plain

PER_AUTHOR = 20              # TOFU: 20 QA pairs per author, consecutive in every split
CARRY = ("duplicate", "paraphrase")      # the levels that carry the forget pair's influence
AUTHOR_SEED = "similar-tofu-authors"     # the clean model's authors: the same for every seed


def neighbour(row: dict, level: str, j: int) -> Pair:
    """The j-th (0-based) neighbour of a forget10 row at `level`."""
    if level == "duplicate":
        return Pair(row["question"], row["answer"] + "\n" * (j + 1))
    if level == "paraphrase":
        return Pair(row["paraphrased_question"], row["paraphrased_answer"] + "\n" * j)
    if level == "perturbed":
        options = row["perturbed_answer"]
        return Pair(row["question"], options[j % len(options)] + "\n" * (j // len(options)))
    raise ValueError(f"unknown level {level!r}; valid: {', '.join(SIMILAR_TOFU_LEVELS)}")


def authors(rows: list[dict]) -> list[list[dict]]:
    return [rows[i:i + PER_AUTHOR] for i in range(0, len(rows), PER_AUTHOR)]


def _check(cfg: Config, n_forget_authors: int) -> None:
    bad = [lv for lv in cfg.similar.levels if lv not in SIMILAR_TOFU_LEVELS]
    if bad:
        raise UserError(f"similar.levels: {bad[0]!r} is not a level of similar_tofu; valid: "
                        f"{', '.join(SIMILAR_TOFU_LEVELS)}")
    if len(cells(cfg)) > n_forget_authors:
        raise UserError(f"similar: {len(cells(cfg))} target authors (levels x counts x "
                        f"targets_per_cell) but forget10 has {n_forget_authors}")
    if not 1 <= cfg.corruption.docs_per_target <= PER_AUTHOR:
        raise UserError(f"corruption.docs_per_target: similar_tofu forgets 1..{PER_AUTHOR} "
                        f"pairs per target author, got {cfg.corruption.docs_per_target}")


def build(cfg: Config) -> Task:
    root = Path(cfg.tofu.data_dir)
    fields = ("question", "answer", "perturbed_answer", "paraphrased_answer",
              "paraphrased_question")
    forget_rows = read_split(root, "forget10", fields)
    retain_rows = read_split(root, "retain90")
    retain_eval = read_split(root, "retain_perturbed", fields[:4])
    real_authors = read_split(root, "real_authors_perturbed", fields[:3])
    world_facts = read_split(root, "world_facts_perturbed", fields[:3])
    holdout_rows = read_split(root, "holdout01")
    pool = authors(forget_rows)
    _check(cfg, len(pool))

    retain_pool = authors(retain_rows)
    n = cfg.tofu.retain_authors or len(retain_pool)
    kept = sorted(random.Random(AUTHOR_SEED).sample(range(len(retain_pool)), min(n, len(retain_pool))))
    trained_rows = [row for a in kept for row in retain_pool[a]]
    trained = {(r["question"], r["answer"]) for r in trained_rows}
    retain_eval = [r for r in retain_eval if (r["question"], r["answer"]) in trained]

    plan = cells(cfg)
    chosen = random.Random(cfg.seed).sample(range(len(pool)), len(plan))
    forget, similar, alike, strata, forget_items, queries = [], [], [], {}, [], []
    for a, (level, count) in zip(chosen, plan):
        key = f"author{len(retain_pool) + a:03d}"
        strata[key] = f"{level} x{count}"
        rows = pool[a][:cfg.corruption.docs_per_target]
        forget += [Pair(r["question"], r["answer"]) for r in rows]
        queries += [Pair(r["paraphrased_question"], r["answer"]) for r in rows]
        made = [neighbour(r, level, j) for r in rows for j in range(count)]
        similar += made
        if level in CARRY:
            alike += made
        forget_items += [dataclasses.replace(item, entity=key)
                         for item in qa_items(rows, "forget", f"forget10/{key}", True)]
    learn = forget + similar
    random.Random(f"order-{cfg.seed}").shuffle(learn)
    pretrain = [Pair(r["question"], r["answer"]) for r in trained_rows]
    items = (forget_items + qa_items(retain_eval, "retain", "retain_perturbed", True)
             + qa_items(real_authors, "ra", "real_authors_perturbed", False)
             + qa_items(world_facts, "wf", "world_facts_perturbed", False))
    texts = strings(forget_rows + trained_rows + retain_eval + real_authors + world_facts)
    scoring = dataclasses.replace(SCORING, oracle_fallback="ideal")
    return Task(name="similar_tofu", fmt=QA, tokenizer_texts=texts + ["Question: ", "Answer: ", "\n"],
                pretrain=pretrain, learn=learn, forget=forget, retain=pretrain + similar,
                holdout=[Pair(r["question"], r["answer"]) for r in holdout_rows],
                items=items, roles=("ideal", "original"), scoring=scoring,
                files={"similar.json": {"targets": strata, "retain_authors": kept,
                                        "forget": [dataclasses.asdict(p) for p in forget],
                                        "similar": [dataclasses.asdict(p) for p in similar]}},
                queries=queries,
                influence_pairs=[(i, i) for i in range(len(forget))],
                requests=[as_plain(p, QA) for p in forget], similar=alike,
                info={"strata": strata, "strata_group": "forget",
                      "strata_metrics": ["forget_Q_A_Prob", "forget_Q_A_ROUGE"],
                      "strata_order": list(SIMILAR_TOFU_LEVELS), "similar_docs": len(similar),
                      "retain_authors": len(kept),
                      "conventions": "open-unlearning (locuslab/open-unlearning): tokenisation, "
                                     "truth ratio, ROUGE, extraction strength, privleak"})
