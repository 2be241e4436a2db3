"""The method contract.

A *loss method* is one file: a frozen dataclass of hyperparameters (validated in
`__post_init__`, raising `UserError` with the valid range) and a pure function
`loss(hp, inputs: StepInputs) -> (scalar, stats)` over tensors the loop already computed.
`@register_method` records its name, one-line summary, paper, and what the loop must
compute for it (forget / retain / alternative batches, reference values, logits, one
layer's hidden states).

A *procedure method* (task vectors, first-epoch gradient ascent, iterative removal,
retraining) is a function `procedure(hp, ctx: UnlearnContext) -> Outcome` registered with
`@register_procedure`; it may run the loop itself, any number of times.

Both kinds live in one registry, `METHODS`; user plugins register with the same decorators.
`modalities` says which tasks a method applies to: "text" (language models) and/or "image"
(classifiers, whose examples are one label "token": train/forward.py sees no difference);
a method that reads text (alternative answers, hidden layers, removal requests) is text-only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from unlearnlab.errors import UserError
from unlearnlab.registry import Registry
from unlearnlab.train.inputs import Objective


@dataclass(frozen=True)
class MethodSpec:
    name: str
    summary: str
    paper: str
    params: type
    loss: Callable | None = None
    procedure: Callable | None = None
    needs_forget: bool = True
    needs_retain: bool = False
    needs_alt: bool = False
    refs: tuple[str, ...] = ()
    logits: tuple[str, ...] = ()
    hidden: bool = False                  # hidden states at the layer `hp.layer`
    alternatives: Callable | None = None  # (hp, forget_texts) -> one alternative answer per item
    recorder: Callable | None = None      # (hp, model) -> recorder attached to corruption training
    modalities: tuple[str, ...] = ("text",)   # the kinds of task it applies to: text, image

    @property
    def kind(self) -> str:
        return "loss" if self.loss is not None else "procedure"

    def hyperparams(self, values: dict | None = None):
        """Build the hyperparameter dataclass from a config mapping; unknown keys are errors."""
        if values is not None and not isinstance(values, dict):
            raise UserError(f"hparams.{self.name}: expected a mapping of hyperparameters, "
                            f"got {values!r}")
        values = dict(values or {})
        fields = {f.name for f in dataclasses.fields(self.params)}
        unknown = sorted(set(values) - fields)
        if unknown:
            valid = ", ".join(sorted(fields)) or "none"
            raise UserError(f"hparams.{self.name}: unknown key {unknown[0]!r}; valid: {valid}")
        for key, value in list(values.items()):
            if isinstance(value, list):
                values[key] = tuple(value)
        try:
            return self.params(**values)
        except TypeError as exc:
            raise UserError(f"hparams.{self.name}: {exc}") from None

    def objective(self, hp) -> Objective:
        if self.loss is None:
            raise TypeError(f"{self.name} is a procedure, not a loss")
        return Objective(partial(self.loss, hp), needs_forget=self.needs_forget,
                         needs_retain=self.needs_retain, needs_alt=self.needs_alt,
                         refs=self.refs, logits=self.logits,
                         hidden_layer=hp.layer if self.hidden else None)


@dataclass
class Outcome:
    """What a procedure returns: the unlearned model, its loss curve, facts to report, and
    metric checkpoints taken during unlearning ({"step": k, metric: value, ...})."""

    model: Any
    curve: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    checkpoints: list[dict] = field(default_factory=list)


METHODS: Registry[MethodSpec] = Registry("method")


def register_method(name: str, *, summary: str, paper: str, params: type,
                    needs_forget: bool = True, needs_retain: bool = False,
                    needs_alt: bool = False, refs: tuple[str, ...] = (),
                    logits: tuple[str, ...] = (), hidden: bool = False,
                    alternatives: Callable | None = None,
                    modalities: tuple[str, ...] = ("text",)):
    """Decorator: register `loss(hp, inputs)` as unlearning method `name`.

    needs_alt requires `alternatives(hp, forget_texts) -> list[str]`, one alternative per
    forget item (e.g. a refusal: it replaces a forget document whole, or a forget pair's
    answer), forwarded as `inputs.alt`. hidden=True forwards the hidden states
    of layer `hp.layer`. A hyperparameter `params` (a selector string), when non-empty,
    overrides the run's `unlearn.params` for this method.
    """
    if needs_alt and alternatives is None:
        raise ValueError(f"method {name!r}: needs_alt requires an alternatives function")

    def decorate(loss: Callable) -> Callable:
        METHODS.add(name, MethodSpec(name, summary, paper, params, loss=loss,
                                     needs_forget=needs_forget, needs_retain=needs_retain,
                                     needs_alt=needs_alt, refs=tuple(refs),
                                     logits=tuple(logits), hidden=hidden,
                                     alternatives=alternatives,
                                     modalities=_modalities(name, modalities)))
        return loss
    return decorate


def register_procedure(name: str, *, summary: str, paper: str, params: type,
                       recorder: Callable | None = None,
                       modalities: tuple[str, ...] = ("text",)):
    """Decorator: register `procedure(hp, ctx) -> Outcome` as unlearning method `name`.

    recorder: `(hp, model) -> object with observe(model, examples, idx)`, attached to the
    corruption training (where the forget set is learned) to track influence as it trains;
    the procedure finds it as `ctx.recorders[name]`; the pipeline restricts it (`recorder.keep`)
    to the forget items' positions in what it watches (`ctx.forget_positions`).
    """
    def decorate(procedure: Callable) -> Callable:
        METHODS.add(name, MethodSpec(name, summary, paper, params, procedure=procedure,
                                     recorder=recorder,
                                     modalities=_modalities(name, modalities)))
        return procedure
    return decorate


MODALITY_NAMES = ("text", "image")


def _modalities(name: str, modalities) -> tuple[str, ...]:
    modalities = tuple(modalities)
    bad = [m for m in modalities if m not in MODALITY_NAMES]
    if not modalities or bad:
        raise ValueError(f"method {name!r}: modalities must name one or more of "
                         f"{', '.join(MODALITY_NAMES)}, got {list(modalities)}")
    return modalities


_RANGES: dict[str, str] | None = None   # filled by check_range while `describe` builds defaults


def check_range(method: str, name: str, value: float, low: float = 0.0, strict: bool = False,
                high: float | None = None) -> None:
    """Raise `UserError` unless low <= value (< if strict) and value <= high (if given)."""
    op = ">" if strict else ">="
    bound = f"{op} {low}" + (f" and <= {high}" if high is not None else "")
    if _RANGES is not None:
        _RANGES[name] = bound
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"hparams.{method}.{name} must be a number {bound}, got {value!r}")
    if not math.isfinite(value) or value < low or (strict and value == low) \
            or (high is not None and value > high):
        raise UserError(f"hparams.{method}.{name} must be {bound}, got {value}")


def describe(spec: MethodSpec) -> str:
    """What `unlearnlab methods NAME` prints: summary, paper, the module's docstring (the
    equation) and each hyperparameter with its default and valid range."""
    import inspect

    global _RANGES
    _RANGES = {}
    try:
        defaults = spec.params()
        ranges = _RANGES
    finally:
        _RANGES = None
    fn = spec.loss or spec.procedure
    doc = inspect.getdoc(inspect.getmodule(fn)) or ""
    lines = [f"{spec.name}: {spec.summary}", f"paper: {spec.paper}",
             f"kind: {'loss' if spec.loss else 'procedure'}"
             + (", uses the retain set" if spec.needs_retain else ""),
             f"applies to: {', '.join(spec.modalities)} tasks", "", doc, "",
             f"hyperparameters (hparams.{spec.name}.<name>):"]
    fields = dataclasses.fields(defaults)
    for f in fields:
        value = getattr(defaults, f.name)
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rng = f"  valid: {ranges[f.name]}" if f.name in ranges else ""
        lines.append(f"  {f.name}: {kind} = {value!r}{rng}")
    if not fields:
        lines.append("  (none)")
    return "\n".join(lines)
