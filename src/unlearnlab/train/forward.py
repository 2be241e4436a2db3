"""What one forward pass computes for the loop and for evaluation.

`forward` returns per-token log-probabilities of the next token (only the gathered ones, via
`cross_entropy`, never a stored full log-softmax unless asked), the loss mask shifted to
match, and optionally the logits and one layer's hidden states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from unlearnlab.train.batches import Batch


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
            argmax: bool = False) -> Forward:
    # Positions count real tokens only, so a left-padded row scores like a right-padded one.
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                position_ids=position_ids, output_hidden_states=hidden_layer is not None,
                use_cache=False)
    logits = out.logits[:, :-1].float()                            # (B, T-1, V)
    labels = batch.input_ids[:, 1:]                                # (B, T-1)
    token_logps = -F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
    return Forward(
        token_logps=token_logps,
        mask=batch.loss_mask[:, 1:].to(token_logps.dtype),
        logits=logits if keep_logits else None,
        hidden=out.hidden_states[hidden_layer] if hidden_layer is not None else None,
        idx=batch.idx,
        labels=labels,
        hits=(logits.argmax(-1) == labels) if argmax else None,
    )
