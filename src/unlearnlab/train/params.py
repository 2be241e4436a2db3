"""Which parameters train: layer-specific unlearning (Zagardo 2024 restricts unlearning to
chosen layers; embeddings only roughly halves the optimiser's memory).

A selector is a comma-separated union of:
    all             every parameter
    embeddings      the input embedding matrix
    lm_head         the output projection (the same tensor as embeddings when tied)
    layers:A-B      transformer blocks A..B inclusive (or layers:A), 0-based
    <regex>         parameters whose name matches (re.search)
Parameters outside the selection get no gradient and stay bit-for-bit unchanged.
"""

from __future__ import annotations

import re

from unlearnlab.errors import UserError

_BLOCK = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.")
VALID = "all, embeddings, lm_head, layers:A-B, or a regex over parameter names"


def n_blocks(model) -> int:
    found = {int(m.group(1)) for n, _ in model.named_parameters() if (m := _BLOCK.search(n))}
    return max(found) + 1 if found else 0


def select_parameters(model, selector: str) -> list:
    """The parameters `selector` names, in model order; `UserError` if it names none."""
    chosen: dict[int, object] = {}
    named = list(model.named_parameters())
    for part in [p.strip() for p in selector.split(",") if p.strip()] or [""]:
        for p in _one(model, named, part):
            chosen[id(p)] = p
    return [p for _, p in named if id(p) in chosen]


def _one(model, named, part: str) -> list:
    if part == "all":
        return [p for _, p in named]
    if part == "embeddings":
        return [model.get_input_embeddings().weight]
    if part == "lm_head":
        head = model.get_output_embeddings()
        if head is None:
            raise UserError("params: this model has no output embeddings (lm_head)")
        return [head.weight]
    if part.startswith("layers:"):
        total = n_blocks(model)
        m = re.fullmatch(r"layers:(\d+)(?:-(\d+))?", part)
        lo, hi = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (-1, -1)
        if not m or not 0 <= lo <= hi < total:
            raise UserError(f"params: bad layer selector {part!r}; this model has blocks "
                            f"0-{total - 1}: use layers:A-B with 0 <= A <= B <= {total - 1}")
        return [p for n, p in named if (b := _BLOCK.search(n)) and lo <= int(b.group(1)) <= hi]
    try:
        pattern = re.compile(part)
    except re.error:
        raise UserError(f"params: {part!r} is neither a known selector nor a valid regex; "
                        f"valid: {VALID}") from None
    found = [p for n, p in named if pattern.search(n)]
    if not found:
        raise UserError(f"params: {part!r} matches no parameter; valid: {VALID}")
    return found


def relative_change(model, start) -> float | None:
    """||theta - theta_0|| / ||theta_0|| over the parameters both models share by name and
    shape (how far unlearning moved the model; None when they share none)."""
    import torch                      # not at the top: the config layer reads VALID from here

    before = dict(start.named_parameters())
    diff = norm = 0.0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in before and before[name].shape == p.shape:
                q = before[name].to(p.device, p.dtype)
                diff += float((p - q).pow(2).sum())
                norm += float(q.pow(2).sum())
    return (diff / norm) ** 0.5 if norm > 0 else None
