"""How the forget set is found from a removal request, and unlearned (Zagardo 2024, arXiv
2406.09391: fuzzy matching against iterative removal). `removal.strategies`:

    exact      the task's ground truth (`task.forget`): what a perfect matcher would find
    fuzzy      one shot: the training texts whose similarity to a request (matching.py) is
               >= removal.threshold, unlearned together with the method
    iterative  unlearn, verify, expand: round r unlearns the matches at removal.tiers[r]
               (strictest first; the last tier repeats) with the method, starting from the
               model round r - 1 left (a loss method's reference is that model), then runs the
               privacy probes; it stops once removal.stop_metric <= removal.stop_below, or
               after removal.rounds rounds. A round whose tier matches nothing is skipped.

With `removal.sequential` several requests are served one after another (MUSE's
sustainability): request k is resolved on its own (its ground truth: `task.request_forget[k]`)
and unlearned from the model request k - 1 left; after each, the probe is read per person
(`info["removal"]["sequence"]`: after each request, the probe's mean over each request's
people, served or not yet, and model utility).

Each strategy's retain set is the task's minus what the strategy forgets. Every method runs
with every strategy, labelled `method@strategy` when more than one strategy runs; `retrain`
(the exact oracle, the floor) runs on the ground truth, and where the task knows the forget
set's look-alikes (`task.similar`: the similar-samples remedy) or is an image task, also on
the one-shot search's set (`retrain@fuzzy`: the remedy applied to the oracle; never per
iterative round, whose rounds build on the model the previous one left). Reported per model
(`info["removal"]`): the examples removed, the matcher's precision and recall against the
ground truth, rounds and unlearning steps (wall time: the manifest's), and for `iterative` the probes after
every round. Where the task knows the forget set's look-alikes (`task.similar`), precision and
recall are also given against the clusters, forget + similar (`cluster_precision`,
`cluster_recall`): how well a search that expands the forget set finds them (Xu et al. 2026).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.matching import matches, precision_recall, similarities
from unlearnlab.methods import Outcome
from unlearnlab.tasks.base import Task
from unlearnlab.texts import Text, as_plain

ORACLES = ("retrain",)       # exact by definition: they retrain without the ground truth


@dataclass
class Plan:
    """Per strategy, the forget set of each round (one round unless iterative), with the
    matcher's figures."""

    sets: dict[str, list[list[Text]]]
    thresholds: dict[str, list[float | None]]
    truth: list[Text]
    per_request: list[Plan] = field(default_factory=list)     # sequential: one plan per request
    cluster: list[Text] = field(default_factory=list)         # truth + its look-alikes, if known
    subjects: tuple[str, ...] = ()      # one request's plan: whose probe items verify it
    expand_oracles: bool = False        # oracles also run on the fuzzy search's set

    @property
    def reported(self) -> bool:
        """Whether models report how their forget set was found (not for exact alone)."""
        return set(self.sets) != {"exact"} or bool(self.per_request)

    def label(self, method: str, strategy: str) -> str:
        plain = strategy == "exact" if method in ORACLES else len(self.sets) == 1
        return method if plain else f"{method}@{strategy}"

    def strategies_for(self, method: str) -> list[str]:
        if method not in ORACLES:
            return list(self.sets)
        return ["exact", *(["fuzzy"] if self.expand_oracles and "fuzzy" in self.sets else [])]

    def rounds(self, strategy: str) -> tuple[list[list[Text]], list[float | None]]:
        """(forget set of each round, threshold of each round) of `strategy`; `exact` is the
        ground truth even when not among the strategies (an oracle runs only on it)."""
        if strategy == "exact" and strategy not in self.sets:
            return [self.truth], [None]
        return self.sets[strategy], self.thresholds[strategy]

    def all_texts(self) -> list[Text]:
        """Every text any strategy may forget (the recorders keep their gradients)."""
        seen = dict.fromkeys(self.truth)
        for rounds in self.sets.values():
            for texts in rounds:
                seen.update(dict.fromkeys(texts))
        for sub in self.per_request:
            seen.update(dict.fromkeys(sub.all_texts()))
        return list(seen)

    def figures(self, texts: list[Text]) -> dict:
        precision, recall = precision_recall(texts, self.truth)
        out = {"removed": len(texts), "precision": precision, "recall": recall}
        if self.cluster:
            out["cluster_precision"], out["cluster_recall"] = precision_recall(texts, self.cluster)
        return out


def plan(cfg: Config, task: Task) -> Plan:
    """Resolve the requests into each strategy's forget sets (text only, before any training);
    with `removal.sequential`, also each request's own plan."""
    strategies = cfg.removal.strategies
    if set(strategies) - {"exact"} and not task.requests:
        raise UserError(f"removal.strategies: {', '.join(s for s in strategies if s != 'exact')} "
                        f"resolve a removal request, and task {task.name} has none; valid here: "
                        "exact (tasks records and similar_text have requests)")
    if cfg.removal.sequential and len(task.requests) < 2:
        raise UserError(f"removal.sequential serves several requests one after another; task "
                        f"{task.name} has {len(task.requests)} (records: set forget_people >= 2)")
    whole = resolve(cfg, task, task.requests, task.forget)
    whole.cluster = [*task.forget, *task.similar] if task.similar else []
    whole.expand_oracles = bool(task.similar)       # the remedy, applied to the oracle too
    if cfg.removal.sequential:
        whole.per_request = [resolve(cfg, task, [request], truth, subject) for request, truth,
                             subject in zip(task.requests, task.request_forget,
                                            task.request_subjects)]
    return whole


def resolve(cfg: Config, task: Task, requests: list[str], truth: list[Text],
            subjects: tuple[str, ...] = ()) -> Plan:
    """One plan: each strategy's forget sets for these requests, scored against `truth`."""
    strategies = cfg.removal.strategies
    sets: dict[str, list[list[Text]]] = {}
    thresholds: dict[str, list[float | None]] = {}
    if set(strategies) - {"exact"}:
        texts = task.training_texts()
        sims = similarities(requests, [as_plain(t, task.fmt) for t in texts])

        def found(threshold: float) -> list[Text]:
            return [texts[i] for i in matches(sims, threshold)]
    for strategy in strategies:
        if strategy == "exact":
            sets[strategy], thresholds[strategy] = [truth], [None]
        elif strategy == "fuzzy":
            sets[strategy], thresholds[strategy] = [found(cfg.removal.threshold)], \
                [cfg.removal.threshold]
        else:
            tiers = [cfg.removal.tiers[min(r, len(cfg.removal.tiers) - 1)]
                     for r in range(cfg.removal.rounds)]
            sets[strategy], thresholds[strategy] = [found(t) for t in tiers], tiers
    return Plan(sets, thresholds, list(truth), subjects=subjects)


def run_sequence(method: str, strategy: str, plan: Plan, model, context: Callable,
                 unlearn_one: Callable, evaluate: Callable, cfg: Config, start_scores: dict,
                 probe: Callable) -> Outcome:
    """`run` for each request of a sequential plan in turn, each from the model the previous
    left; `probe(model)` -> ({entity: stop metric over its items}, model utility), read
    after each request (and, for iterative, to verify one request's subjects alone)."""
    if method in ORACLES or not plan.per_request:
        outcome = run(method, strategy, plan, model, context, unlearn_one, evaluate, cfg,
                      start_scores)
        if not plan.reported:
            outcome.info.pop("removal", None)
        return outcome
    curve, removed, sequence, rounds = [], [], [], 0
    for k, sub in enumerate(plan.per_request, start=1):
        def verify(m, subjects=sub.subjects) -> dict:
            leak = probe(m)[0]
            return {cfg.removal.stop_metric: _mean([leak.get(s) for s in subjects])}
        outcome, texts = _run(method, strategy, sub, model, context, unlearn_one, verify, cfg,
                              start_scores, checkpoints=False)
        model = outcome.model
        base = len(curve)
        curve += [{**c, "step": base + j + 1, "request": k}
                  for j, c in enumerate(c for c in outcome.curve if c.get("step", 1) > 0)]
        removed = list(dict.fromkeys([*removed, *texts]))
        rounds += outcome.info["removal"]["rounds"]
        per_entity, utility = probe(model)
        sequence.append({"request": k, **{x: outcome.info["removal"][x] for x in
                                          ("removed", "precision", "recall", "steps")},
                         "leak": [_mean([per_entity.get(s) for s in other.subjects])
                                  for other in plan.per_request], "utility": utility})
    info = {"removal": {"strategy": strategy, **plan.figures(removed), "rounds": rounds,
                        "steps": _steps(curve), "requests": len(plan.per_request),
                        "sequence": sequence}}
    return Outcome(model, curve, info)


def run(method: str, strategy: str, plan: Plan, model, context: Callable, unlearn_one: Callable,
        evaluate: Callable, cfg: Config, start_scores: dict, checkpoints: bool = True) -> Outcome:
    """Unlearn with `method` the forget sets `strategy` found; `context(texts, model,
    checkpoints)` builds the method's context, `unlearn_one(method, ctx)` runs it.
    `checkpoints`: metric checkpoints during unlearning (off inside a sequence, whose start
    is not the original model)."""
    return _run(method, strategy, plan, model, context, unlearn_one, evaluate, cfg, start_scores,
                checkpoints)[0]


def _run(method: str, strategy: str, plan: Plan, model, context: Callable, unlearn_one: Callable,
         evaluate: Callable, cfg: Config, start_scores: dict, checkpoints: bool
         ) -> tuple[Outcome, list[Text]]:
    """(outcome, the texts unlearned)."""
    rounds, thresholds = plan.rounds(strategy)
    if strategy != "iterative":
        texts = rounds[0]
        if not texts:
            outcome = Outcome(model, [], {"note": "nothing matched the request; model unchanged"})
        else:
            outcome = unlearn_one(method, context(texts, model, checkpoints))
        steps = _steps(outcome.curve)
        outcome.info["removal"] = {"strategy": strategy, **plan.figures(texts), "rounds": 1,
                                   "threshold": thresholds[0], "steps": steps}
        return outcome, texts
    wanted = cfg.eval.curve_metrics
    points = [{"step": 0, **{m: start_scores.get(m) for m in wanted}}] if checkpoints else []
    curve, history, removed, reason = [], [], [], "rounds"
    stop = cfg.removal.stop_metric
    for r, texts in enumerate(rounds, start=1):
        if not texts:
            history.append({"round": r, "threshold": thresholds[r - 1],
                            "removed": 0, "skipped": True})
            continue
        outcome = unlearn_one(method, context(texts, model, False))
        model = outcome.model
        base = len(curve)
        curve += [{**c, "step": base + j + 1, "round": r}
                  for j, c in enumerate(c for c in outcome.curve if c.get("step", 1) > 0)]
        removed = list(dict.fromkeys([*removed, *texts]))
        scores = evaluate(model)
        if scores.get(stop) is None:
            raise UserError(f"removal.stop_metric: {stop!r} is not measured on this task; "
                            f"valid: {', '.join(sorted(scores))}")
        if checkpoints:
            points.append({"step": _steps(curve), **{m: scores.get(m) for m in wanted}})
        history.append({"round": r, "threshold": thresholds[r - 1],
                        **plan.figures(texts), stop: scores[stop],
                        "steps": _steps(outcome.curve)})
        if scores[stop] <= cfg.removal.stop_below:
            reason = "verified"
            break
    info = {"removal": {"strategy": strategy, **plan.figures(removed),
                        "rounds": sum(not h.get("skipped") for h in history),
                        "stopped_by": reason, "steps": _steps(curve), "history": history}}
    return Outcome(model, curve, info, points), removed


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _steps(curve: list[dict]) -> int:
    """Training steps in a loss curve (a procedure's curve may start with a step-0 entry)."""
    return sum(1 for c in curve if c.get("step", 1) > 0)
