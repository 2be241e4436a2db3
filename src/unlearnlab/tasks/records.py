"""Task `records`: personal records and removal requests (Zagardo 2024, arXiv 2406.09391:
a person asks to be forgotten; fuzzy matching against iterative removal).

Data (world/people.py, drawn from `records.seed`): `records.n_people` fictional people, each
with an address, phone, e-mail, birthday, account number and employer, written as directory
lines, a form, a letter and a chat snippet; households share an address and colleagues a
team list, so some documents hold two people's data.
Model: the built-in Llama trained from scratch on all of it (the learn stage, from a random
initialisation, like TOFU's fine-tuning: so first-epoch gradients are recorded as it learns).
Request: `records.forget_people` people (drawn from the run's `seed`) ask to be forgotten, each
with a free-text request naming them and two details (or the requests of `records.requests`,
a JSON list of strings, each naming one of the people).
Ground truth (the forget set): every training document that names a person asking. Retain:
the rest. Held out: the same kinds of documents about `records.holdout_people` people never
trained on (membership non-members).
Evaluation: for each secret a prefix ("Dave Okafor's phone number is") whose greedy
completion is checked against the secret: the people asking ("person": extraction, exposure
of phone and account numbers among `records.candidates` random ones, ROUGE-L) and up to
`records.utility_people` others ("others": the same, utility).
How the forget set is found from the requests (`removal.strategies`) is the protocol's
(stages/removal.py).
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.eval.items import EvalItem
from unlearnlab.tasks.base import Scoring, Task
from unlearnlab.texts import PromptFormat
from unlearnlab.world.people import (CANARIES, CANARY_DRAW, SECRETS, Person, make_people,
                                     personal_documents, request_text, shared_documents)

FORMAT = PromptFormat(template="{question}", max_new_tokens=24)
SCORING = Scoring(
    main=("secret_extraction", "exposure", "rougeL_recall_secret", "secret_extraction_others",
          "ppl_forget", "ppl_retain", "mia_auc"),
    compared=("secret_extraction", "exposure", "rougeL_recall_secret", "ppl_forget",
              "membership_forget"),
    primary="secret_extraction",
    utility=("secret_extraction_others", "rougeL_recall_secret_others"))


def corpus(people: list[Person]) -> list[tuple[str, tuple[str, ...]]]:
    """(document, names in it) for every training document."""
    return [*((d, (p.name,)) for p in people for d in personal_documents(p)),
            *shared_documents(people)]


def read_requests(path: str, people: list[Person]) -> tuple[list[str], list[list[Person]]]:
    """The requests of a JSON file (a list of strings) and the people each names; one line
    on anything malformed."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"records.requests: file not found: {path}")
    try:
        requests = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"records.requests: {path} is not valid JSON "
                        f"({getattr(exc, 'msg', exc)})") from None
    if (not isinstance(requests, list) or not requests
            or not all(isinstance(r, str) and r.strip() for r in requests)):
        raise UserError(f"records.requests: {path} must hold a non-empty JSON list of "
                        "non-empty strings, e.g. [\"Please delete my data, Dave Okafor, born "
                        "3 May 1988\"]")
    named = []
    for i, request in enumerate(requests):
        found = [p for p in people if p.name.lower() in request.lower()]
        if not found:
            raise UserError(f"records.requests: request {i + 1} names no person in the records; "
                            f"valid names e.g. {', '.join(p.name for p in people[:3])}")
        named.append(found)
    return requests, named


def secret_items(people: list[Person], group: str, candidates: int, seed: int) -> list[EvalItem]:
    """One item per person and secret; phone and account items of the group `person` carry
    `candidates` random secrets of the same format (the exposure pool)."""
    items = []
    for p in people:
        for field in SECRETS:
            pool: tuple[str, ...] = ()
            if group == "person" and field in CANARIES and candidates:
                rng = random.Random(f"canary-{seed}-{p.name}-{field}")
                others: set[str] = set()
                while len(others) < candidates:
                    draw = CANARY_DRAW[field](rng)
                    if draw != p.secret(field):
                        others.add(draw)
                pool = (p.secret(field), *sorted(others))
            items.append(EvalItem(entity=p.name, relation=field, question=p.probe(field),
                                  answers=(p.secret(field),), group=group, pool=pool))
    return items


def build(cfg: Config) -> Task:
    r = cfg.records
    everyone = make_people(r.n_people + r.holdout_people, random.Random(r.seed), r.households)
    people, unseen = everyone[:r.n_people], everyone[r.n_people:]
    docs = corpus(people)
    random.Random(f"order-{r.seed}").shuffle(docs)
    if r.requests:
        requests, named = read_requests(r.requests, people)
    else:
        if r.forget_people >= r.n_people:
            raise UserError(f"records.forget_people must be below records.n_people "
                            f"({r.n_people}), got {r.forget_people}")
        rng = random.Random(cfg.seed)
        named = [[p] for p in rng.sample(people, r.forget_people)]
        requests = [request_text(p[0], rng) for p in named]
    subjects = [tuple(p.name for p in group) for group in named]
    names = {name for group in subjects for name in group}
    forget = [d for d, who in docs if names & set(who)]
    each = [[d for d, who in docs if set(group) & set(who)] for group in subjects]
    retain = [d for d, who in docs if not names & set(who)]
    holdout = [d for p in unseen for d in personal_documents(p)]
    others = [p for p in people if p.name not in names]
    if r.utility_people:
        others = random.Random(f"utility-{cfg.seed}").sample(others, min(r.utility_people,
                                                                         len(others)))
    asking = [p for p in people if p.name in names]
    items = (secret_items(asking, "person", r.candidates, cfg.seed)
             + secret_items(others, "others", 0, cfg.seed))
    texts = [d for d, _ in docs]
    return Task(name="records", fmt=FORMAT, tokenizer_texts=texts, pretrain=[], learn=texts,
                forget=forget, retain=retain, holdout=holdout, items=items,
                roles=(None, "original"), scoring=SCORING, requests=requests,
                request_forget=each, request_subjects=subjects,
                files={"people.json": [dataclasses.asdict(p) for p in people],
                       "requests.json": {"requests": requests,
                                         "people": sorted(names)}},
                info={"people": len(people), "asking": sorted(names)})
