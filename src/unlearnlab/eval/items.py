"""What evaluation asks: question items, built by tasks, answered in eval/records.py.

An item is one question with its gold answers (aliases) and, where the task knows them, the
injected wrong value (RESTOR), candidate pools for the logit probe, perturbed answers and a
paraphrased answer for the truth ratio (TOFU), and a paraphrased question. `group` says which
metrics read it (e.g. RESTOR's "target" / "utility", TOFU's "forget" / "retain" / "ra" / "wf").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalItem:
    entity: str                       # the subject (an entity, an author), or "" if none
    relation: str                     # the property asked about, or the item's id in its split
    question: str
    answers: tuple[str, ...]          # gold answers; the first is the canonical one
    group: str
    corrupted: str | None = None      # the injected wrong value (target items), when known
    random_alt: str | None = None     # an alternative that is neither the truth nor the wrong value
    pool: tuple[str, ...] = ()        # candidates ranked by the probe (empty: no probe)
    perturbed: tuple[str, ...] = ()   # wrong answers for the truth ratio (TOFU's perturbed answers)
    paraphrased_question: str | None = None   # the question in other words, when known
    paraphrased_answer: str | None = None     # the gold answer in other words (TOFU's truth ratio)
    context: str = ""                 # text before the prompt (RESTOR's few-shot lines)


def candidates(item: EvalItem) -> list[str]:
    """Every answer whose log-prob the records keep: gold, paraphrased answer, pool,
    perturbed answers, injected and random alternatives (each once, in this order)."""
    extra = [item.corrupted, item.random_alt] if item.pool else []
    return list(dict.fromkeys([item.answers[0], *([item.paraphrased_answer] if
                                                   item.paraphrased_answer else []),
                               *item.pool, *item.perturbed, *[c for c in extra if c]]))
