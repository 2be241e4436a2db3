"""Stage 3: unlearning — one registered method applied to a copy of the corrupted model.

The method's loss runs inside THE training loop; what it needs from the frozen starting
model (reference log-probs on forget items, token distributions on retain items) is
computed once before training.
"""

from __future__ import annotations

from unlearnlab.config import Config
from unlearnlab.methods import METHODS
from unlearnlab.train.batches import ExampleSet
from unlearnlab.train.loop import train
from unlearnlab.train.reference import CachedReference


def run(cfg: Config, name: str, model, tokenizer, forget: ExampleSet, retain: ExampleSet) -> list[dict]:
    """Unlearn in place; return the loss curve."""
    spec = METHODS.get(name)
    objective = spec.objective(spec.hyperparams(cfg.hparams.get(name)))
    reference = None
    if objective.needs_ref_forget or objective.needs_ref_retain:
        reference = CachedReference(model, tokenizer.pad_token_id,
                                    forget=forget if objective.needs_ref_forget else None,
                                    retain=retain if objective.needs_ref_retain else None)
    return train(model, objective, cfg.unlearn.train, forget=forget, retain=retain,
                 reference=reference, pad_id=tokenizer.pad_token_id, seed=cfg.seed, desc=name,
                 progress=cfg.progress, precision=cfg.precision)
