"""First-epoch gradient ascent.

Zagardo 2024, "A More Practical Approach to Machine Unlearning", arXiv 2406.09391. While
the model learns the forget set (here: the learn stage, e.g. RESTOR's corruption), a recorder stores each
forget example's gradient at the moment it is FIRST seen (influence/recorder.py). To unlearn,
the stored gradients are applied in the ascent direction, without an optimizer:

    d = (1 / |D_f|) sum_{i in D_f} grad_theta NLL(x_i; theta_{t_i})     t_i: first time i was seen
    theta_{k+1} = theta_k + step_size * d                               on the selected params only

`epochs` compares the paper's choice with the alternatives on the same run: "last" ascends
each example's gradient from its last epoch, "all" the mean over all its epochs (the
recorder then stores every epoch).

The step count is calibrated (the paper's warning: too few steps leave the model in an
optimum that still knows the data): step until the forget set's mean NLL reaches
target_nll_ratio x its value before unlearning, or max_steps. As d is fixed, the result
depends only on the total move k * step_size; step_size is the resolution of that stop.
The paper finds the embedding layer alone carries the effect in GPT-2, hence
`params: embeddings` by default (the store is then one embedding-sized vector per example).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearnlab.errors import UserError
from unlearnlab.methods.base import Outcome, check_range, register_procedure
from unlearnlab.models.loading import autocast
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.influence.recorder import DTYPES, EPOCHS, GradientRecorder
from unlearnlab.train.inputs import per_sequence_mean
from unlearnlab.train.params import VALID, select_parameters

NAME = "first_epoch_ga"


@dataclass(frozen=True)
class FirstEpochGAParams:
    params: str = "embeddings"       # what to record and update (overrides unlearn.params)
    dtype: str = "fp16"              # storage of the gradients: fp16 | fp32
    sketch_dim: int = 0              # 0: store exactly; k > 0: CountSketch of size k
    step_size: float = 0.5           # eta in theta <- theta + eta * d (the calibration resolution)
    max_steps: int = 20
    target_nll_ratio: float = 1.5    # stop once forget NLL >= ratio x its starting value
    epochs: str = "first"            # whose gradients to ascend: first | last | all epochs

    def __post_init__(self):
        if not isinstance(self.params, str) or not self.params.strip():
            raise UserError(f"hparams.{NAME}.params must be a non-empty parameter selector; "
                            f"valid: {VALID}; got {self.params!r}")
        if self.epochs not in EPOCHS:
            raise UserError(f"hparams.{NAME}.epochs: unknown value {self.epochs!r}; "
                            f"valid: {', '.join(EPOCHS)}")
        if self.dtype not in DTYPES:
            raise UserError(f"hparams.{NAME}.dtype: unknown value {self.dtype!r}; "
                            f"valid: {', '.join(DTYPES)}")
        for name, kind in (("sketch_dim", int), ("max_steps", int), ("step_size", (int, float)),
                           ("target_nll_ratio", (int, float))):
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                what = "an integer" if kind is int else "a number"
                raise UserError(f"hparams.{NAME}.{name}: expected {what}, got {value!r}")
        check_range(NAME, "sketch_dim", self.sketch_dim, low=0)
        check_range(NAME, "step_size", self.step_size, strict=True)
        check_range(NAME, "max_steps", self.max_steps, low=1)
        check_range(NAME, "target_nll_ratio", self.target_nll_ratio, low=1.0, strict=True)


def make_recorder(hp: FirstEpochGAParams, model) -> GradientRecorder:
    try:
        return GradientRecorder(model, hp.params, dtype=hp.dtype, sketch_dim=hp.sketch_dim,
                                epochs="first" if hp.epochs == "first" else "all")
    except UserError as exc:
        raise UserError(f"hparams.{NAME}.{exc}") from None


@torch.no_grad()
def forget_nll(model, examples: ExampleSet, pad_id: int, device, precision: str = "fp32",
               batch_size: int = 32) -> float:
    """Mean over the whole set of each sequence's mean token NLL (the loop's `nll`)."""
    total = 0.0
    for start in range(0, len(examples), batch_size):
        idx = list(range(start, min(start + batch_size, len(examples))))
        batch = collate(examples, idx, pad_id).to(device)
        with autocast(device, precision):
            fw = forward(model, batch)
        total += per_sequence_mean(-fw.token_logps, fw.mask).sum().item()
    return total / len(examples)


@register_procedure(NAME, summary="gradient ascent along stored first-epoch gradients",
                    paper="Zagardo 2024, arXiv 2406.09391", params=FirstEpochGAParams,
                    recorder=make_recorder)
def first_epoch_ga(hp: FirstEpochGAParams, ctx) -> Outcome:
    recorder = ctx.recorders.get(NAME)
    if recorder is None:
        raise UserError(f"{NAME}: no first-epoch gradients were recorded; the method needs its "
                        "recorder attached to the training that learned the forget set")
    n = len(ctx.forget)
    positions = ctx.forget_positions if ctx.forget_positions is not None else list(range(n))
    if len(positions) != n:
        raise UserError(f"{NAME}: {n - len(positions)} of {n} forget items were not in the "
                        "training that learned the forget set; nothing was recorded for them")
    missing = sorted(set(positions) - recorder.recorded)
    if missing:
        raise UserError(f"{NAME}: {len(missing)} of {n} forget items were never seen in training "
                        f"(first: item {missing[0]}); train at least one full epoch")
    model = ctx.model
    params = select_parameters(model, hp.params)
    if [tuple(p.shape) for p in params] != recorder.shapes:
        raise ValueError(f"{NAME}: the recorded parameters do not match {hp.params!r} here")
    device = params[0].device
    direction = recorder.ascent_direction(positions, device=device, epochs=hp.epochs)
    model.eval()

    def measure() -> float:
        return forget_nll(model, ctx.forget, ctx.tokenizer.pad_token_id, device, ctx.cfg.precision)

    start = measure()
    curve = [{"step": 0, "forget_nll": start}]
    steps = 0
    while steps < hp.max_steps and curve[-1]["forget_nll"] < hp.target_nll_ratio * start:
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(d, alpha=hp.step_size)
        steps += 1
        curve.append({"step": steps, "forget_nll": measure()})
    info = {"steps": steps, "forget_nll_before": start, "forget_nll_after": curve[-1]["forget_nll"],
            "bytes_per_example": recorder.bytes_per_example(),
            "total_bytes": recorder.total_bytes(), "n_params_recorded": recorder.n_params,
            "dtype": hp.dtype, "sketch_dim": hp.sketch_dim, "epochs": hp.epochs,
            "vectors_stored": len(recorder)}
    return Outcome(model=model, curve=curve, info=info)
