"""A small image classifier (an MLP) behind the interface THE training loop already uses.

The adapter: an image example is a two-token "sequence" — token 0 is the image's row in a
pixel bank, token 1 its class — with only token 1 counted (loss mask [0, 1]).
`BankClassifier` looks the pixels up by row (as a language model looks up a token's
embedding), runs the MLP, and returns logits shaped (B, 2, C) whose position 0 predicts the
class. train/forward.py then gathers log p(class | image) exactly as it gathers a next
token's log-prob, so the loop, the reference cache, the parameter selectors and every loss
method that needs only per-example log-probs or logits run on it unchanged: for a
classifier, the "sequence" log-prob is the label's log-prob.

The bank is a non-persistent buffer (the data, not the model's weights); parameters are
`layers.<i>.{weight,bias}` (so `layers:A-B` selects hidden layers) and `head.*`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD_ID = 0        # examples all have length 2: nothing is ever padded


@dataclass(frozen=True)
class ClassifierConfig:
    n_inputs: int
    n_classes: int
    hidden: tuple[int, ...]

    @property
    def num_hidden_layers(self) -> int:     # what LossRun checks a hidden-state layer against
        return len(self.hidden)


@dataclass
class ClassifierOutput:
    logits: torch.Tensor                                # (B, 2, C); position 1 predicts nothing
    hidden_states: tuple[torch.Tensor, ...] | None = None   # each (B, 2, H), when asked for


class LabelVocab:
    """What the loop and the unlearning context need of a tokenizer: the pad id."""

    pad_token_id = PAD_ID


class BankClassifier(nn.Module):
    def __init__(self, pixels: torch.Tensor, config: ClassifierConfig, seed: int):
        super().__init__()
        self.config = config
        self.register_buffer("pixels", pixels.float(), persistent=False)   # (N, P) the bank
        torch.manual_seed(seed)
        widths = (config.n_inputs, *config.hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.head = nn.Linear(widths[-1], config.n_classes)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def get_input_embeddings(self) -> nn.Linear:     # the `embeddings` selector: the first layer
        return self.layers[0] if len(self.layers) else self.head

    def get_output_embeddings(self) -> nn.Linear:    # the `lm_head` selector: the class head
        return self.head

    def features(self, rows: torch.Tensor) -> list[torch.Tensor]:
        """Activations of `rows` (B,): the pixels, then each hidden layer's (B, H)."""
        x = self.pixels[rows]                                           # (B, P)
        out = [x]
        for layer in self.layers:
            x = F.relu(layer(x))                                        # (B, H)
            out.append(x)
        return out

    def forward(self, input_ids: torch.Tensor, attention_mask=None, position_ids=None,
                output_hidden_states: bool = False, use_cache: bool = False) -> ClassifierOutput:
        acts = self.features(input_ids[:, 0])
        logits = self.head(acts[-1])                                    # (B, C)
        logits = torch.stack([logits, torch.zeros_like(logits)], dim=1)  # (B, 2, C)
        hidden = None
        if output_hidden_states:
            hidden = tuple(h.unsqueeze(1).expand(-1, 2, -1) for h in acts)  # each (B, 2, H)
        return ClassifierOutput(logits, hidden)


def build_classifier(pixels: torch.Tensor, n_classes: int, hidden: tuple[int, ...],
                     seed: int) -> BankClassifier:
    """A fresh classifier over the bank `pixels` (N, P), initialised from `seed`."""
    return BankClassifier(pixels, ClassifierConfig(pixels.shape[1], n_classes, tuple(hidden)), seed)
