"""Every loss against a value derived by hand.

Forget batch: two sequences with per-token probabilities
    seq 1: (1/2, 1/4)  -> mean NLL = (ln 2 + ln 4) / 2 = 1.5 ln 2,   log pi(y) = ln(1/8)
    seq 2: (1/2, pad)  -> mean NLL = ln 2,                          log pi(y) = ln(1/2)
    NLL_f = (1.5 ln 2 + ln 2) / 2 = 1.25 ln 2
Retain batch: one sequence, one token with probability 0.8 -> NLL_r = -ln 0.8.
"""

import math

import torch
from conftest import approx
from conftest import forget_forward as forget

from unlearnlab.methods import METHODS
from unlearnlab.train.forward import Forward
from unlearnlab.train.inputs import StepInputs, kl_to_reference, nll

LN2 = math.log(2)






def retain() -> Forward:
    return Forward(token_logps=torch.log(torch.tensor([[0.8]])), mask=torch.ones(1, 1),
                   logits=torch.zeros(1, 1, 2))          # p_theta = (1/2, 1/2)


def loss_of(name: str, hp: dict | None = None, **ref) -> float:
    spec = METHODS.get(name)
    inputs = StepInputs(forget=forget(), retain=retain(), ref=ref)
    return spec.loss(spec.hyperparams(hp), inputs)[0].item()


def test_nll_averages_per_sequence():
    assert nll(forget()).item() == approx(1.25 * LN2)


def test_ga_is_minus_forget_nll():
    assert loss_of("ga") == approx(-1.25 * LN2)


def test_graddiff_weights_forget_and_retain():
    # -0.5 * 1.25 ln 2 + 2 * (-ln 0.8)
    expected = -0.5 * 1.25 * LN2 - 2 * math.log(0.8)
    assert loss_of("graddiff", {"forget_weight": 0.5, "retain_weight": 2.0}) == approx(expected)


def test_kl_to_reference_by_hand():
    # KL((3/4, 1/4) || (1/2, 1/2)) = 3/4 ln(3/2) + 1/4 ln(1/2)
    ref = torch.log(torch.tensor([[[0.75, 0.25]]]))
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert kl_to_reference(retain(), ref).item() == approx(kl)
    assert loss_of("kl", {"retain_weight": 3.0}, retain_dist=ref) == approx(
        -1.25 * LN2 + 3 * kl)


def test_npo_by_hand():
    # log pi_theta = (ln 1/8, ln 1/2), log pi_ref = (ln 1/4, ln 1/4): log ratios (-ln 2, +ln 2).
    # beta = 1: -(2/1) * mean(log sigmoid(ln 2), log sigmoid(-ln 2)) = -(ln 2/3 + ln 1/3) = ln 4.5
    ref = torch.log(torch.tensor([0.25, 0.25]))
    assert loss_of("npo", {"beta": 1.0}, forget_seq=ref) == approx(math.log(4.5))
    # beta = 2: -(2/2) * mean(ln sigmoid(2 ln 2), ln sigmoid(-2 ln 2)) = -(ln 4/5 + ln 1/5) / 2
    expected = -(math.log(0.8) + math.log(0.2)) / 2
    assert loss_of("npo", {"beta": 2.0}, forget_seq=ref) == approx(expected)


def test_npo_at_the_reference_is_2_ln2_over_beta():
    fw = forget()
    value = loss_of("npo", {"beta": 0.5}, forget_seq=fw.seq_logps.clone())
    assert value == approx(2 / 0.5 * LN2)


def test_npo_retain_adds_weighted_retain_nll():
    ref = torch.log(torch.tensor([0.25, 0.25]))
    value = loss_of("npo_retain", {"beta": 1.0, "retain_weight": 0.5}, forget_seq=ref)
    assert value == approx(math.log(4.5) - 0.5 * math.log(0.8))


