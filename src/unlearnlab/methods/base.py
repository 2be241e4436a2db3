"""The method contract.

A loss method is one file: a frozen dataclass of hyperparameters (validated in
`__post_init__`, raising `UserError` with the valid range) and a pure function
`loss(hp, inputs: StepInputs) -> (scalar, stats)` over tensors the loop already computed.
`@register_method` records its name, one-line summary, paper, and what the loop must
compute for it (a retain batch, reference log-probs on forget items, reference token
distributions on retain items).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from typing import Callable

from unlearnlab.errors import UserError
from unlearnlab.registry import Registry
from unlearnlab.train.loop import Objective


@dataclass(frozen=True)
class MethodSpec:
    name: str
    summary: str
    paper: str
    params: type
    loss: Callable
    needs_retain: bool = False
    needs_ref_forget: bool = False
    needs_ref_retain: bool = False

    def hyperparams(self, values: dict | None = None):
        """Build the hyperparameter dataclass from a config mapping; unknown keys are errors."""
        values = dict(values or {})
        fields = {f.name for f in dataclasses.fields(self.params)}
        unknown = sorted(set(values) - fields)
        if unknown:
            valid = ", ".join(sorted(fields)) or "none"
            raise UserError(f"hparams.{self.name}: unknown key {unknown[0]!r}; valid: {valid}")
        return self.params(**values)

    def objective(self, hp) -> Objective:
        return Objective(partial(self.loss, hp), needs_retain=self.needs_retain,
                         needs_ref_forget=self.needs_ref_forget,
                         needs_ref_retain=self.needs_ref_retain,
                         needs_logits=self.needs_ref_retain)


METHODS: Registry[MethodSpec] = Registry("method")


def register_method(name: str, *, summary: str, paper: str, params: type,
                    needs_retain: bool = False, needs_ref_forget: bool = False,
                    needs_ref_retain: bool = False):
    """Decorator: register `loss(hp, inputs)` as unlearning method `name`."""
    def decorate(loss: Callable) -> Callable:
        METHODS.add(name, MethodSpec(name, summary, paper, params, loss, needs_retain,
                                     needs_ref_forget, needs_ref_retain))
        return loss
    return decorate


def check_range(method: str, name: str, value: float, low: float = 0.0, strict: bool = False) -> None:
    """Raise `UserError` unless value >= low (or > low when strict)."""
    if value < low or (strict and value == low):
        op = ">" if strict else ">="
        raise UserError(f"hparams.{method}.{name} must be {op} {low}, got {value}")
