"""Iterative removal: unlearn in rounds, verify after each, stop when done (or when harm starts).

Zagardo 2024, "A More Practical Approach to Machine Unlearning", arXiv 2406.09391 (iterative
unlearning with verification). Wraps any loss method M: its reference outputs come from the
model before round 1; each round runs `steps_per_round` steps of M, then evaluates.
Stopping, checked after each round r (1-based):
    stop if r >= min_rounds and  stop_metric <= stop_below          (forgotten enough)
    stop if utility < utility_floor                                  (harm: floor reached)
    stop if r == max_rounds
`min_rounds` makes it stop late, a loose `stop_below` early. The rounds used are reported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from unlearnlab.errors import UserError
from unlearnlab.methods.base import METHODS, Outcome, check_range, register_procedure


@dataclass(frozen=True)
class IterativeParams:
    method: str = "npo_retain"          # the wrapped loss method (its hparams apply)
    max_rounds: int = 5
    min_rounds: int = 1
    steps_per_round: int = 10
    stop_metric: str = "corrupted_rate"  # a metric where lower = more forgotten
    stop_below: float = 0.2
    utility_floor: float = 0.8

    def __post_init__(self):
        check_range("iterative", "max_rounds", self.max_rounds, low=1)
        check_range("iterative", "min_rounds", self.min_rounds, low=1, high=self.max_rounds)
        check_range("iterative", "steps_per_round", self.steps_per_round, low=1)
        check_range("iterative", "utility_floor", self.utility_floor, high=1.0)


@register_procedure("iterative", summary="unlearn in rounds with a wrapped method, verify, stop",
                    paper="Zagardo 2024, arXiv 2406.09391", params=IterativeParams)
def iterative(hp: IterativeParams, ctx) -> Outcome:
    spec = METHODS.get(hp.method)
    if spec.loss is None:
        raise UserError(f"hparams.iterative.method: {hp.method!r} is a procedure; wrap a loss "
                        f"method: {', '.join(n for n in METHODS if METHODS.get(n).loss)}")
    if ctx.evaluate is None:
        raise UserError("iterative needs an evaluation after each round; none is available here")
    job = ctx.loss_run(hp.method)
    round_cfg = dataclasses.replace(ctx.train_cfg, max_steps=hp.steps_per_round)
    curve, history, reason = [], [], "max_rounds"
    for r in range(1, hp.max_rounds + 1):
        steps = job.train(round_cfg, seed_offset=r - 1,
                          desc=f"iterative ({hp.method}) round {r}/{hp.max_rounds}")
        curve += [{**c, "step": len(curve) + i + 1, "round": r} for i, c in enumerate(steps)]
        scores = ctx.evaluate(job.model)
        if hp.stop_metric not in scores:
            raise UserError(f"hparams.iterative.stop_metric: unknown metric {hp.stop_metric!r}; "
                            f"valid: {', '.join(sorted(scores))}")
        history.append({"round": r, hp.stop_metric: scores[hp.stop_metric],
                        "utility": scores.get("utility")})
        if scores.get("utility") is not None and scores["utility"] < hp.utility_floor:
            reason = "utility_floor"
            break
        if r >= hp.min_rounds and scores[hp.stop_metric] <= hp.stop_below:
            reason = "forgotten"
            break
    info = {**job.info(), "method": hp.method, "rounds": len(history), "stopped_by": reason,
            "history": history}
    return Outcome(job.finish(), curve, info, job.checkpoints)
