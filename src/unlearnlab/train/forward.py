"""What one forward pass computes for the loop and for evaluation.

`forward` returns per-token log-probabilities of the next token (only the gathered ones, via
`cross_entropy`, never a stored full log-softmax unless asked), the loss mask shifted to
match, and optionally the logits and one layer's hidden states. With `counted_only` (scoring
answers after prompts) the vocabulary projection runs at the counted positions only
(transformers' boolean `logits_to_keep`), so prompt and padding positions cost no LM-head
matmul, log-softmax or argmax; their `token_logps` and `hits` are left at 0. With `pack`
(training) the batch's examples run packed into fewer rows (train/packing.py) and the
outputs come back in the padded layout.
"""

from __future__ import annotations

import inspect
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from unlearnlab.train.batches import Batch
from unlearnlab.train.packing import Packing, pack as packing_of


@dataclass
class Forward:
    token_logps: torch.Tensor               # (B, T-1) log p(x_{t+1} | x_{<=t})
    mask: torch.Tensor                      # (B, T-1) 1.0 on counted tokens
    logits: torch.Tensor | None = None      # (B, T-1, V), when asked for
    hidden: torch.Tensor | None = None      # (B, T, H), when asked for
    idx: torch.Tensor | None = None         # (B,) item indices
    labels: torch.Tensor | None = None      # (B, T-1) the next tokens x_{t+1} that token_logps score
    hits: torch.Tensor | None = None        # (B, T-1) argmax of the logits == the next token, when asked for

    @property
    def seq_logps(self) -> torch.Tensor:
        """(B,) summed log-prob of the counted tokens: log pi(y|x)."""
        return (self.token_logps * self.mask).sum(-1)

    @property
    def n_tokens(self) -> torch.Tensor:
        """(B,) number of counted tokens."""
        return self.mask.sum(-1)


def forward(model, batch: Batch, keep_logits: bool = False, hidden_layer: int | None = None,
            argmax: bool = False, counted_only: bool = False, pack: bool = False) -> Forward:
    """The model on `batch`. pack: run it on the batch's examples packed into fewer rows
    (train/packing.py) where the model allows; the outputs are the same up to rounding."""
    packing = packing_of(batch) if pack and _packs(model) else None
    return _run(model, batch, packing, keep_logits, hidden_layer, argmax, counted_only)


def _run(model, batch: Batch, packing: Packing | None, keep_logits: bool,
         hidden_layer: int | None, argmax: bool, counted_only: bool) -> Forward:
    """`forward` on the padded batch (packing None) or on its packed rows."""
    if packing is None:     # positions count real tokens only: left padding scores as right
        ids, attention = batch.input_ids, batch.attention_mask
        position_ids = (attention.cumsum(-1) - 1).clamp(min=0)
    else:                   # no mask: restarting positions separate the examples
        ids, attention, position_ids = packing.input_ids, None, packing.position_ids
    keep = None
    if counted_only and not keep_logits and takes_keep_mask(type(model)):
        keep = torch.zeros_like(batch.input_ids, dtype=torch.bool)     # position t predicts t+1
        keep[:, :-1] = batch.loss_mask[:, 1:].bool()
        keep = keep if packing is None else packing.repack(keep)
    out = model(input_ids=ids, attention_mask=attention, position_ids=position_ids,
                output_hidden_states=hidden_layer is not None, use_cache=False,
                **({"logits_to_keep": keep} if keep is not None else {}))
    labels = ids[:, 1:]                                            # (rows, T-1)
    logits = hits = None
    if keep is None:
        logits = out.logits[:, :-1].float()                        # (rows, T-1, V)
        token_logps = -F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
        hits = (logits.argmax(-1) == labels) if argmax else None
    else:                                   # logits (N, V) at the N counted positions, row-major
        token_logps, hits = _at_counted(out.logits.float(), keep[:, :-1], labels, argmax)
    hidden = out.hidden_states[hidden_layer] if hidden_layer is not None else None
    logits = logits if keep_logits else None
    if packing is not None:
        token_logps, hits, logits, hidden = (None if x is None else packing.unpack(x)
                                             for x in (token_logps, hits, logits, hidden))
    return Forward(
        token_logps=token_logps,
        mask=batch.loss_mask[:, 1:].to(token_logps.dtype),
        logits=logits,
        hidden=hidden,
        idx=batch.idx,
        labels=batch.input_ids[:, 1:],
        hits=hits,
    )


def _at_counted(logits: torch.Tensor, sel: torch.Tensor, labels: torch.Tensor,
                argmax: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(B, T-1) token log-probs and argmax hits from logits at the positions `sel` only;
    0 elsewhere."""
    targets = labels[sel]
    token_logps = torch.zeros(labels.shape, dtype=logits.dtype, device=logits.device)
    token_logps[sel] = -F.cross_entropy(logits, targets, reduction="none")
    if not argmax:
        return token_logps, None
    hits = torch.zeros_like(sel)
    hits[sel] = logits.argmax(-1) == targets
    return token_logps, hits


@lru_cache(maxsize=None)
def takes(model_class: type, argument: str) -> bool:
    """Whether the model class's forward takes `argument` (transformers renames and adds
    them across releases)."""
    return argument in inspect.signature(model_class.forward).parameters


def takes_keep_mask(model_class: type) -> bool:
    """Whether the model's forward takes a boolean `logits_to_keep` mask: its module slices
    with transformers' `slice_logits_to_keep` (transformers 5). Other models (older
    releases, remote code) get the full forward, as without `counted_only`."""
    module = sys.modules.get(model_class.__module__)
    return (takes(model_class, "logits_to_keep")
            and getattr(module, "slice_logits_to_keep", None) is not None)


def _packs(model) -> bool:
    """Whether packing gives `model` the padded batch's outputs (train/packing.py). The model
    (unwrapped from PEFT) must build its attention mask with transformers'
    `create_causal_mask`, in a release whose mask builder reads restarting position ids as
    separate sequences (`find_packed_sequence_indices`), and take `position_ids`; and, once
    per model class and attention implementation, a packed three-example batch must score
    like the padded one (some models, e.g. OPT, derive positions their own way). Others get
    padded batches."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    cls = type(base)
    key = (cls, getattr(getattr(base, "config", None), "_attn_implementation", None))
    if key not in _PACKS:
        module = sys.modules.get(cls.__module__)
        masking = sys.modules.get("transformers.masking_utils")   # loaded by any module using it
        _PACKS[key] = (getattr(module, "create_causal_mask", None) is not None
                       and getattr(masking, "find_packed_sequence_indices", None) is not None
                       and takes(cls, "position_ids") and _packs_like_padded(model))
    return _PACKS[key]


_PACKS: dict[tuple, bool] = {}


@torch.no_grad()
def _packs_like_padded(model) -> bool:
    """Examples of 4, 2 and 2 tokens (two rows packed, three padded): the same log-probs, in
    the model's own precision (no autocast; half-precision weights get a looser tolerance)?"""
    vocab = model.get_output_embeddings().weight.shape[0]
    rows = [[1, 2, 3, 4], [5, 6], [7, 8]]
    ids = torch.tensor([r + [0] * (4 - len(r)) for r in rows]) % vocab
    attention = torch.tensor([[1] * len(r) + [0] * (4 - len(r)) for r in rows])
    batch = Batch(ids, attention, attention.float(), torch.arange(3)).to(next(model.parameters()).device)
    with self_check(model) as tol:
        padded = _run(model, batch, None, False, None, False, False)
        packed = _run(model, batch, packing_of(batch), False, None, False, False)
    keep = padded.mask.bool()
    return bool(torch.allclose(packed.token_logps[keep], padded.token_logps[keep],
                               rtol=tol, atol=tol))


@contextmanager
def self_check(model):
    """For a once-per-model-class check that a faster layout scores like the plain one: the
    model in eval mode and its own precision (autocast off), its training mode restored
    after. Yields the tolerance allowed: 1e-4 in fp32, 5e-2 for half-precision weights."""
    weight = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.autocast(weight.device.type, enabled=False):
            yield 1e-4 if weight.dtype == torch.float32 else 5e-2
    finally:
        model.train(was_training)
