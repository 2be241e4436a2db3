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

Each strategy's retain set is the task's minus what the strategy forgets. Every method runs
with every strategy, labelled `method@strategy` when more than one strategy runs; `retrain`
(the exact oracle, the floor) runs once, on the ground truth. Reported per model
(`info["removal"]`): the examples removed, the matcher's precision and recall against the
ground truth, rounds, unlearning steps and wall time, and for `iterative` the probes after
every round.
"""

from __future__ import annotations

import time
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
    scores: dict[Text, float] = field(default_factory=dict)

    def label(self, method: str, strategy: str) -> str:
        return method if len(self.sets) == 1 or method in ORACLES else f"{method}@{strategy}"

    def strategies_for(self, method: str) -> list[str]:
        return ["exact"] if method in ORACLES else list(self.sets)

    def all_texts(self) -> list[Text]:
        """Every text any strategy may forget (the recorders keep their gradients)."""
        seen = dict.fromkeys(self.truth)
        for rounds in self.sets.values():
            for texts in rounds:
                seen.update(dict.fromkeys(texts))
        return list(seen)

    def figures(self, texts: list[Text]) -> dict:
        precision, recall = precision_recall(texts, self.truth)
        return {"removed": len(texts), "precision": precision, "recall": recall}


def plan(cfg: Config, task: Task) -> Plan:
    """Resolve the requests into each strategy's forget sets (text only, before any training)."""
    strategies = cfg.removal.strategies
    if set(strategies) - {"exact"} and not task.requests:
        raise UserError(f"removal.strategies: {', '.join(s for s in strategies if s != 'exact')} "
                        f"resolve a removal request, and task {task.name} has none; valid here: "
                        "exact (task records has requests)")
    sets: dict[str, list[list[Text]]] = {}
    thresholds: dict[str, list[float | None]] = {}
    scores: dict[Text, float] = {}
    if set(strategies) - {"exact"}:
        texts = task.training_texts()
        sims = similarities(task.requests, [as_plain(t, task.fmt) for t in texts])
        scores = dict(zip(texts, sims))

        def found(threshold: float) -> list[Text]:
            return [texts[i] for i in matches(sims, threshold)]
    for strategy in strategies:
        if strategy == "exact":
            sets[strategy], thresholds[strategy] = [task.forget], [None]
        elif strategy == "fuzzy":
            sets[strategy], thresholds[strategy] = [found(cfg.removal.threshold)], \
                [cfg.removal.threshold]
        else:
            tiers = [cfg.removal.tiers[min(r, len(cfg.removal.tiers) - 1)]
                     for r in range(cfg.removal.rounds)]
            sets[strategy], thresholds[strategy] = [found(t) for t in tiers], tiers
    return Plan(sets, thresholds, list(task.forget), scores)


def run(method: str, strategy: str, plan: Plan, model, context: Callable, unlearn_one: Callable,
        evaluate: Callable, cfg: Config, start_scores: dict) -> Outcome:
    """Unlearn with `method` the forget sets `strategy` found; `context(texts, model,
    checkpoints)` builds the method's context, `unlearn_one(method, ctx)` runs it."""
    started = time.perf_counter()
    rounds = plan.sets[strategy]
    if strategy != "iterative":
        texts = rounds[0]
        if not texts:
            outcome = Outcome(model, [], {"note": "nothing matched the request; model unchanged"})
        else:
            outcome = unlearn_one(method, context(texts, model, True))
        steps = _steps(outcome.curve)
        outcome.info["removal"] = {"strategy": strategy, **plan.figures(texts), "rounds": 1,
                                   "threshold": plan.thresholds[strategy][0], "steps": steps,
                                   "seconds": round(time.perf_counter() - started, 3)}
        return outcome
    wanted = cfg.eval.curve_metrics
    checkpoints = [{"step": 0, **{m: start_scores.get(m) for m in wanted}}]
    curve, history, removed, reason = [], [], [], "rounds"
    stop = cfg.removal.stop_metric
    for r, texts in enumerate(rounds, start=1):
        if not texts:
            history.append({"round": r, "threshold": plan.thresholds[strategy][r - 1],
                            "removed": 0, "skipped": True})
            continue
        outcome = unlearn_one(method, context(texts, model, False))
        model = outcome.model
        base = len(curve)
        curve += [{**c, "step": base + j + 1, "round": r}
                  for j, c in enumerate(c for c in outcome.curve if c.get("step", 1) > 0)]
        removed = list(dict.fromkeys([*removed, *texts]))
        scores = evaluate(model)
        if stop not in scores:
            raise UserError(f"removal.stop_metric: {stop!r} is not measured on this task; "
                            f"valid: {', '.join(sorted(scores))}")
        checkpoints.append({"step": _steps(curve), **{m: scores.get(m) for m in wanted}})
        history.append({"round": r, "threshold": plan.thresholds[strategy][r - 1],
                        **plan.figures(texts), stop: scores[stop],
                        "steps": _steps(outcome.curve)})
        if scores[stop] <= cfg.removal.stop_below:
            reason = "verified"
            break
    info = {"removal": {"strategy": strategy, **plan.figures(removed),
                        "rounds": sum(not h.get("skipped") for h in history),
                        "stopped_by": reason, "steps": _steps(curve),
                        "seconds": round(time.perf_counter() - started, 3), "history": history}}
    return Outcome(model, curve, info, checkpoints)


def _steps(curve: list[dict]) -> int:
    """Training steps in a loss curve (a procedure's curve may start with a step-0 entry)."""
    return sum(1 for c in curve if c.get("step", 1) > 0)
