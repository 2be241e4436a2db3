"""Facts in the RESTOR `facts.json` schema (Rezaei et al. 2024, arXiv 2411.00204).

    {entity: {relation: {"question": str, "answers": [str, ...]}}}

The built-in world and RESTOR's real Wikidata facts (whose file wraps this mapping in a
top-level `"dset"` key next to few-shot `"context"`) go through the same code. Several gold
answers (aliases) may be listed; the first is the canonical one.
"""

from __future__ import annotations

import json
from pathlib import Path

from unlearnlab.errors import UserError

Facts = dict[str, dict[str, dict]]


def validate_facts(facts: object, source: str = "facts") -> Facts:
    """Check the schema; raise `UserError` naming the first bad entry."""
    if isinstance(facts, dict) and "dset" in facts:
        facts = facts["dset"]
    if not isinstance(facts, dict) or not facts:
        raise UserError(f"{source}: expected a non-empty JSON object {{entity: {{relation: "
                        "{{question, answers}}}}}}")
    for entity, relations in facts.items():
        if not isinstance(relations, dict):
            raise UserError(f"{source}: entity {entity!r} must map relations to facts")
        for relation, fact in relations.items():
            ok = (isinstance(fact, dict) and isinstance(fact.get("question"), str)
                  and isinstance(fact.get("answers"), list) and fact["answers"]
                  and all(isinstance(a, str) and a.strip() for a in fact["answers"]))
            if not ok:
                raise UserError(f"{source}: fact {entity!r}/{relation!r} needs a 'question' string "
                                "and a non-empty 'answers' list of strings")
    return facts


def load_facts(path: str | Path) -> Facts:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"facts file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"facts file {path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    return validate_facts(data, str(path))


def value_pools(facts: Facts) -> dict[str, list[str]]:
    """Per relation, the sorted distinct canonical answers seen across entities.

    Wrong values for corruption and random alternatives for the logit probe come from here,
    so real facts without hand-written pools work too.
    """
    pools: dict[str, set[str]] = {}
    for relations in facts.values():
        for relation, fact in relations.items():
            pools.setdefault(relation, set()).add(fact["answers"][0])
    return {rel: sorted(values) for rel, values in sorted(pools.items())}
