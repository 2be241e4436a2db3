"""Leave-one-out retraining (influence/loo.py) on a model whose removal effect is derived by
hand, equality with explicit retrains through the loop, and the rank agreement."""

import copy
import math
from types import SimpleNamespace

import pytest
import torch
from conftest import examples, tiny_model
from torch import nn

from unlearnlab.config import TrainConfig
from unlearnlab.influence.loo import (
    agreement,
    leave_one_out,
    noise_floor,
    query_losses,
    spearman,
    without,
)
from unlearnlab.train.batches import ExampleSet
from unlearnlab.train.loop import FINETUNE, train


class Unigram(nn.Module):
    """A context-free LM: the same logits b (V,) at every position."""

    def __init__(self, vocab: int):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(vocab))

    def forward(self, input_ids, **_):
        B, T = input_ids.shape
        return SimpleNamespace(logits=self.b.expand(B, T, -1), hidden_states=None)


def test_removal_effect_of_one_adam_step_on_a_unigram_model():
    """Vocabulary {0 pad, 1 BOS, 2, 3}; documents after BOS (counted tokens):
    d0 = 2 2 2, d1 = 2 3 3, d2 = 3 3 3 3. One full-batch AdamW step from b = 0 moves every
    coordinate by -lr sign(g) (bias-corrected first step: m/sqrt(v) = g/|g|), with
    g = softmax(0) - F = 1/4 - F and F the mean over documents of their token frequencies.
      all:        F2 = (1 + 1/3 + 0)/3 = 4/9, F3 = 5/9  -> b = a(-1, -1, +1, +1)
      without d0: F2 = 1/6 < 1/4,         F3 = 5/6  -> b = a(-1, -1, -1, +1)
      without d1: F2 = F3 = 1/2;  without d2: F2 = 2/3, F3 = 1/3  -> b as with all
    Queries "BOS 2" and "BOS 3" have loss -log softmax(b)[token]:
      all: log(2e^-a + 2e^a) - a for both; without d0: log(3e^-a + e^a) + a for token 2,
      log(3e^-a + e^a) - a for token 3. Removing d1 or d2 changes nothing."""
    a = 0.5
    docs = ExampleSet([[1, 2, 2, 2], [1, 2, 3, 3], [1, 3, 3, 3, 3]],
                      [[0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1, 1]])
    queries = ExampleSet([[1, 2], [1, 3]], [[0, 1], [0, 1]])
    recipe = TrainConfig(max_steps=1, batch_size=3, lr=a, scheduler="constant", max_grad_norm=0)
    start = Unigram(4)
    loo = leave_one_out(start, docs, queries, recipe, pad_id=0, seed=0)
    both = math.log(2 * math.exp(-a) + 2 * math.exp(a)) - a
    moved = math.log(3 * math.exp(-a) + math.exp(a))
    assert loo.base.tolist() == pytest.approx([both, both], rel=1e-6)
    want = [[moved + a - both, moved - a - both], [0.0, 0.0], [0.0, 0.0]]
    assert loo.effects.tolist()[0] == pytest.approx(want[0], rel=1e-6)   # +0.737, -0.263
    assert loo.effects[1:].abs().max() < 1e-6
    assert loo.removed == [0, 1, 2]
    assert start.b.abs().max() == 0                       # the start model is never trained
    # full batch: the seed only orders the batch, so another seed changes nothing
    assert noise_floor(start, docs, queries, recipe, pad_id=0, seed=0,
                       other_seeds=[1, 2]).abs().max() < 1e-6


def test_leave_one_out_equals_explicit_retrains_through_the_loop():
    start = tiny_model()
    data, queries = examples(5), examples(3, seed=1)
    recipe = TrainConfig(max_steps=3, batch_size=2, lr=1e-2)
    before = copy.deepcopy(start.state_dict())
    loo = leave_one_out(start, data, queries, recipe, pad_id=0, seed=7, removed=[1, 4])

    def trained_on(subset):
        model = copy.deepcopy(start)
        train(model, FINETUNE, recipe, forget=subset, pad_id=0, seed=7, progress=False)
        return query_losses(model, queries, pad_id=0)

    base = trained_on(data)
    assert torch.equal(loo.base, base)
    assert torch.equal(loo.effects[0], trained_on(without(data, 1)) - base)
    assert torch.equal(loo.effects[1], trained_on(without(data, 4)) - base)
    assert loo.effects.abs().max() > 0
    assert all(torch.equal(v, start.state_dict()[k]) for k, v in before.items())


def test_without_removes_exactly_one_item():
    data = examples(4)
    rest = without(data, 2)
    assert rest.input_ids == [data.input_ids[i] for i in (0, 1, 3)]
    assert rest.loss_mask == [data.loss_mask[i] for i in (0, 1, 3)]


def test_spearman_by_hand():
    """Ranks (1, 2, 3, 4) against (1, 3, 2, 4): sum d^2 = 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8."""
    assert spearman([10, 20, 30, 40], [0.1, 0.3, 0.2, 0.4]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_agreement_per_query_pooled_and_on_pairs():
    effects = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    predicted = torch.tensor([[1.0, 5.0], [3.0, 4.0], [2.0, 3.0]])
    got = agreement(predicted, effects)
    assert got["per_query"][0] == pytest.approx(0.5)          # ranks 1 3 2 vs 1 2 3
    assert math.isnan(got["per_query"][1])                    # constant effect: undefined
    assert got["per_query_mean"] == pytest.approx(0.5)
    assert got["n_pooled"] == 6
    # pairs (0, 1), (1, 0), (2, 0): predicted 5, 3, 2 against effects 0, 2, 3
    assert agreement(predicted, effects, [(0, 1), (1, 0), (2, 0)])["pooled"] == pytest.approx(-1.0)
    assert agreement(effects, effects)["per_query"][0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        agreement(predicted[:2], effects)
