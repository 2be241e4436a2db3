"""SimNPO, IdkDPO, RMU, UNDIAL, WGA and retain fine-tuning: each against values derived by
hand, its hyperparameter errors, and a three-step training run on a tiny Llama.

The forget and retain batches are those of tests/test_losses.py:
    forget seq 1: token probabilities (1/2, 1/4)  -> log pi(y) = ln 1/8 = -3 ln 2, |y| = 2
    forget seq 2: token probabilities (1/2, pad)  -> log pi(y) = ln 1/2 = -ln 2,   |y| = 1
    retain: one token with probability 0.8        -> NLL_r = -ln 0.8
"""

import copy
import math

import pytest
import torch
from conftest import approx, examples, tiny_model
from conftest import forget_forward as forget

from unlearnlab.errors import UserError
from unlearnlab.methods import METHODS
from unlearnlab.methods.rmu import random_direction
from unlearnlab.train.batches import collate
from unlearnlab.train.forward import Forward, forward
from unlearnlab.train.inputs import StepInputs
from unlearnlab.train.loop import TrainConfig, train
from unlearnlab.train.params import select_parameters
from unlearnlab.train.reference import CachedReference

LN2 = math.log(2)
NLL_R = -math.log(0.8)
NEW = ("simnpo", "idk_dpo", "rmu", "undial", "wga", "finetune_retain")






def retain() -> Forward:
    return Forward(token_logps=torch.log(torch.tensor([[0.8]])), mask=torch.ones(1, 1))


def loss_of(name: str, hp: dict | None = None, **kw) -> float:
    spec = METHODS.get(name)
    inputs = StepInputs(**{"forget": forget(), "retain": retain(), **kw})
    return spec.loss(spec.hyperparams(hp), inputs)[0].item()


def test_all_six_are_registered_loss_methods_with_a_paper():
    for name in NEW:
        spec = METHODS.get(name)
        assert spec.kind == "loss" and spec.summary and "arXiv" in spec.paper
        spec.objective(spec.hyperparams())  # the defaults are valid


# --- SimNPO -------------------------------------------------------------------------------

def test_simnpo_by_hand():
    # log pi(y)/|y| = (-1.5 ln 2, -ln 2). beta = 2, delta = 0:
    #   -(2/2) * mean(ln sigmoid(3 ln 2), ln sigmoid(2 ln 2)) = -(ln 8/9 + ln 4/5) / 2
    expected = -(math.log(8 / 9) + math.log(4 / 5)) / 2
    assert loss_of("simnpo", {"beta": 2.0, "retain_weight": 0.0}) == approx(expected)
    # delta = ln 2 lowers both arguments by ln 2: sigmoid(2 ln 2) = 4/5, sigmoid(ln 2) = 2/3;
    # retain_weight = 0.5 adds 0.5 * NLL_r.
    expected = -(math.log(4 / 5) + math.log(2 / 3)) / 2 + 0.5 * NLL_R
    assert loss_of("simnpo", {"beta": 2.0, "delta": LN2, "retain_weight": 0.5}) == approx(expected)


def test_simnpo_with_zero_margin_matches_closed_form():
    # delta = 0: -(2/b) ln sigmoid(-b m) = (2/b) ln(1 + e^{b m}), m = log pi(y) / |y|.
    g = torch.Generator().manual_seed(0)
    logps = -3 * torch.rand(4, 6, generator=g)
    mask = (torch.rand(4, 6, generator=g) > 0.3).float()
    mask[:, 0] = 1.0
    fw = Forward(token_logps=logps, mask=mask)
    beta = 1.7
    m = (logps * mask).sum(-1) / mask.sum(-1)
    expected = (2 / beta * torch.log1p(torch.exp(beta * m))).mean().item()
    spec = METHODS.get("simnpo")
    hp = spec.hyperparams({"beta": beta, "retain_weight": 0.0})
    assert spec.loss(hp, StepInputs(forget=fw, retain=retain()))[0].item() == approx(expected)


# --- IdkDPO -------------------------------------------------------------------------------

def alt() -> Forward:
    """The refusals: one token each, probabilities 1/2 and 1/4."""
    return Forward(token_logps=torch.log(torch.tensor([[0.5], [0.25]])), mask=torch.ones(2, 1))


def test_idk_dpo_by_hand():
    # Forget log ratios: (ln 1/8 - ln 1/4, ln 1/2 - ln 1/4) = (-ln 2, +ln 2).
    # Refusal log ratios: (ln 1/2 - ln 1/4, ln 1/4 - ln 1/4) = (+ln 2, 0).
    # Margins (refusal - forget): (2 ln 2, -ln 2).
    ref = {"forget_seq": torch.log(torch.tensor([0.25, 0.25])),
           "alt_seq": torch.log(torch.tensor([0.25, 0.25]))}
    # beta = 1: -mean(ln sigmoid(2 ln 2), ln sigmoid(-ln 2)) = -(ln 4/5 + ln 1/3) / 2
    expected = -(math.log(4 / 5) + math.log(1 / 3)) / 2 + 2 * NLL_R
    assert loss_of("idk_dpo", {"beta": 1.0, "retain_weight": 2.0}, alt=alt(), ref=ref) == approx(expected)
    # beta = 1/2: sigmoid(ln 2) = 2/3, sigmoid(-ln 2 / 2) = 1 / (1 + sqrt 2)
    expected = -(math.log(2 / 3) + math.log(1 / (1 + math.sqrt(2)))) / 2
    assert loss_of("idk_dpo", {"beta": 0.5, "retain_weight": 0.0}, alt=alt(), ref=ref) == approx(expected)


def test_idk_dpo_at_the_reference_is_ln2():
    ref = {"forget_seq": forget().seq_logps.clone(), "alt_seq": alt().seq_logps.clone()}
    assert loss_of("idk_dpo", {"beta": 0.3}, alt=alt(), ref=ref) == approx(LN2 + NLL_R)


def test_idk_dpo_alternatives_cycle_deterministically():
    spec = METHODS.get("idk_dpo")
    hp = spec.hyperparams({"refusals": ["a", "b", "c"]})     # a config list becomes a tuple
    texts = [f"forget {i}" for i in range(7)]
    assert spec.alternatives(hp, texts) == ["a", "b", "c", "a", "b", "c", "a"]
    assert spec.alternatives(hp, texts) == spec.alternatives(hp, list(texts))
    default = spec.hyperparams()
    got = spec.alternatives(default, texts)
    assert len(got) == 7 and got == [default.refusals[i % len(default.refusals)] for i in range(7)]


# --- RMU ----------------------------------------------------------------------------------

def test_rmu_direction_is_a_fixed_seeded_unit_vector():
    u = random_direction(8, 3, torch.device("cpu"), torch.float32)
    raw = torch.rand(8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(u, raw / raw.norm())
    assert u.norm().item() == approx(1.0) and (u >= 0).all()
    assert random_direction(8, 3, torch.device("cpu"), torch.float32) is u   # cached
    assert not torch.equal(random_direction(8, 4, torch.device("cpu"), torch.float32), u)


def test_rmu_by_hand():
    # H = 2, c = 5. Forget hidden = c u + d, with d per position (position 0 never counts):
    #   seq 1, mask (1, 1): d = (1, 1) -> mean square 1;  d = (2, 0) -> 2;   seq mean 1.5
    #   seq 2, mask (1, 0): d = (0, 3) -> 4.5;            (masked d ignored); seq mean 4.5
    #   forget term = (1.5 + 4.5) / 2 = 3
    # Retain hidden = ref + (1, -1) at the counted position -> 1.  alpha = 2: loss = 3 + 2 * 1.
    c = 5.0
    u = random_direction(2, 0, torch.device("cpu"), torch.float32)
    d = torch.tensor([[[50.0, 50.0], [1.0, 1.0], [2.0, 0.0]],
                      [[50.0, 50.0], [0.0, 3.0], [100.0, 100.0]]])
    fw = Forward(token_logps=torch.zeros(2, 2), mask=torch.tensor([[1.0, 1.0], [1.0, 0.0]]),
                 hidden=c * u + d)
    ref_h = torch.tensor([[[0.3, -0.2], [0.7, 0.1]]])
    rw = Forward(token_logps=torch.zeros(1, 1), mask=torch.ones(1, 1),
                 hidden=ref_h + torch.tensor([[[7.0, 7.0], [1.0, -1.0]]]))
    spec = METHODS.get("rmu")
    hp = spec.hyperparams({"steering_coefficient": c, "alpha": 2.0})
    loss, stats = spec.loss(hp, StepInputs(forget=fw, retain=rw, ref={"retain_hidden": ref_h}))
    assert stats["forget_mse"] == approx(3.0) and stats["retain_mse"] == approx(1.0)
    assert loss.item() == approx(5.0)


def test_rmu_is_zero_at_the_target():
    g = torch.Generator().manual_seed(1)
    spec = METHODS.get("rmu")
    hp = spec.hyperparams()
    u = random_direction(16, hp.seed, torch.device("cpu"), torch.float32)
    fw = Forward(token_logps=torch.zeros(3, 4), mask=torch.ones(3, 4),
                 hidden=(hp.steering_coefficient * u).expand(3, 5, 16).clone())
    ref_h = torch.randn(2, 3, 16, generator=g)
    rw = Forward(token_logps=torch.zeros(2, 2), mask=torch.ones(2, 2), hidden=ref_h.clone())
    loss, _ = spec.loss(hp, StepInputs(forget=fw, retain=rw, ref={"retain_hidden": ref_h}))
    assert loss.item() == approx(0.0)


# --- UNDIAL -------------------------------------------------------------------------------

def test_undial_by_hand():
    # V = 2, beta = ln 3 (lowering a logit by ln 3 divides its probability's weight by 3).
    #   seq 1 pos 0: ref (1/2, 1/2), label 0 -> q = (1/6, 1/2)/(2/3) = (1/4, 3/4);
    #                p_theta = (1/2, 1/2): KL_a = 1/4 ln(1/2) + 3/4 ln(3/2)
    #   seq 1 pos 1: ref (3/4, 1/4), label 1 -> q ∝ (3/4, 1/12) = (9/10, 1/10);
    #                p_theta = (1/2, 1/2): KL_b = 9/10 ln(9/5) + 1/10 ln(1/5)
    #   seq 2 pos 0: ref (1/2, 1/2), label 1 -> q = (3/4, 1/4) = p_theta: KL = 0
    #   seq 2 pos 1: masked.   loss = ((KL_a + KL_b) / 2 + 0) / 2
    ref = torch.log(torch.tensor([[[0.5, 0.5], [0.75, 0.25]], [[0.5, 0.5], [0.9, 0.1]]]))
    logits = torch.tensor([[[0.0, 0.0], [0.0, 0.0]], [[math.log(3), 0.0], [5.0, -5.0]]])
    fw = Forward(token_logps=torch.zeros(2, 2), mask=torch.tensor([[1.0, 1.0], [1.0, 0.0]]),
                 logits=logits, labels=torch.tensor([[0, 1], [1, 0]]))
    kl_a = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    kl_b = 0.9 * math.log(1.8) + 0.1 * math.log(0.2)
    spec = METHODS.get("undial")
    loss, _ = spec.loss(spec.hyperparams({"beta": math.log(3)}),
                        StepInputs(forget=fw, ref={"forget_dist": ref}))
    assert loss.item() == approx((kl_a + kl_b) / 4)


def test_undial_with_beta_zero_at_the_reference_is_zero():
    g = torch.Generator().manual_seed(2)
    logits = 3 * torch.randn(2, 5, 11, generator=g)
    fw = Forward(token_logps=torch.zeros(2, 5), mask=torch.ones(2, 5), logits=logits,
                 labels=torch.randint(0, 11, (2, 5), generator=g))
    spec = METHODS.get("undial")
    loss, _ = spec.loss(spec.hyperparams({"beta": 0.0}),
                        StepInputs(forget=fw, ref={"forget_dist": torch.log_softmax(logits, -1)}))
    assert loss.item() == approx(0.0)


def test_forward_carries_the_labels_its_token_logps_score():
    model = tiny_model()
    batch = collate(examples(4), [0, 1, 2, 3], 0)
    fw = forward(model, batch, keep_logits=True)
    torch.testing.assert_close(fw.labels, batch.input_ids[:, 1:])
    gathered = torch.log_softmax(fw.logits, -1).gather(-1, fw.labels.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(gathered, fw.token_logps)


# --- WGA ----------------------------------------------------------------------------------

def test_wga_by_hand():
    # alpha = 1: w = p. seq 1: (1/2 ln 1/2 + 1/4 ln 1/4) / 2 = -ln 2 / 2;  seq 2: 1/2 ln 1/2.
    expected = -LN2 / 2 + 0.5 * NLL_R
    assert loss_of("wga", {"alpha": 1.0, "retain_weight": 0.5}) == approx(expected)
    # alpha = 2: w = p^2. seq 1: (1/4 (-ln 2) + 1/16 (-2 ln 2)) / 2 = -3 ln 2 / 16;
    # seq 2: 1/4 (-ln 2). Mean: -(3/16 + 4/16) ln 2 / 2 = -7 ln 2 / 32.
    assert loss_of("wga", {"alpha": 2.0, "retain_weight": 0.0}) == approx(-7 * LN2 / 32)


def test_wga_with_alpha_zero_is_ga():
    ga = loss_of("ga")
    assert ga == approx(-1.25 * LN2)
    assert loss_of("wga", {"alpha": 0.0, "retain_weight": 0.0}) == approx(ga)
    assert loss_of("wga", {"alpha": 0.0, "retain_weight": 3.0}) == approx(ga + 3 * NLL_R)


def test_wga_weights_carry_no_gradient():
    # d/d log p of (w * log p) with w detached is w, divided by |x| and B:
    # seq 1: (1/2 / 2 / 2, 1/4 / 2 / 2) = (1/8, 1/16);  seq 2: (1/2 / 1 / 2, 0) = (1/4, 0).
    fw = forget()
    fw.token_logps.requires_grad_(True)
    spec = METHODS.get("wga")
    loss, _ = spec.loss(spec.hyperparams({"retain_weight": 0.0}), StepInputs(forget=fw, retain=retain()))
    loss.backward()
    torch.testing.assert_close(fw.token_logps.grad, torch.tensor([[1 / 8, 1 / 16], [1 / 4, 0.0]]))


# --- fine-tuning on retain ----------------------------------------------------------------

def test_finetune_retain_is_retain_nll_without_a_forget_batch():
    spec = METHODS.get("finetune_retain")
    assert not spec.needs_forget and spec.needs_retain
    assert loss_of("finetune_retain", forget=None) == approx(NLL_R)


# --- hyperparameter errors ----------------------------------------------------------------

BAD = [("simnpo", "beta", 0.0), ("simnpo", "beta", -1.0), ("simnpo", "delta", -0.1),
       ("simnpo", "retain_weight", -1.0),
       ("idk_dpo", "beta", -0.1), ("idk_dpo", "retain_weight", -1.0), ("idk_dpo", "refusals", []),
       ("idk_dpo", "refusals", "I don't know."), ("idk_dpo", "refusals", ["fine", " "]),
       ("rmu", "layer", 0), ("rmu", "layer", 1.5), ("rmu", "steering_coefficient", 0.0),
       ("rmu", "alpha", -1.0),
       ("undial", "beta", -1.0),
       ("wga", "alpha", -0.5), ("wga", "retain_weight", -1.0)]


@pytest.mark.parametrize("method, option, value", BAD)
def test_bad_hyperparameter_is_a_one_line_user_error(method, option, value):
    with pytest.raises(UserError) as err:
        METHODS.get(method).hyperparams({option: value})
    message = str(err.value)
    assert message.startswith(f"hparams.{method}.{option} must be ") and "\n" not in message


def test_finetune_retain_takes_no_hyperparameters():
    with pytest.raises(UserError, match=r"^hparams\.finetune_retain: unknown key 'beta'"):
        METHODS.get("finetune_retain").hyperparams({"beta": 1.0})


# --- three training steps on a tiny Llama -------------------------------------------------





# What the first step's stats must be at the starting model (the reference).
AT_START = {"idk_dpo": {"dpo": LN2}, "rmu": {"retain_mse": 0.0}}


@pytest.mark.parametrize("name", NEW)
def test_three_training_steps(name):
    spec = METHODS.get(name)
    hp = spec.hyperparams()
    objective = spec.objective(hp)
    model = tiny_model()
    before = copy.deepcopy(model.state_dict())
    f, r = examples(8, 0), examples(6, 1)
    a = examples(8, 2) if spec.needs_alt else None
    reference = None
    if objective.refs:
        reference = CachedReference(model, 0, {"forget": f, "retain": r, "alt": a},
                                    objective.refs, objective.hidden_layer)
    params = select_parameters(model, hp.params) if getattr(hp, "params", "") else None
    curve = train(model, objective, TrainConfig(max_steps=3, batch_size=4, lr=1e-2), forget=f,
                  retain=r, alt=a, reference=reference, pad_id=0, seed=0, progress=False,
                  params=params)
    assert len(curve) == 3
    assert all(math.isfinite(v) for row in curve for v in row.values())
    for key, value in AT_START.get(name, {}).items():
        assert curve[0][key] == pytest.approx(value, abs=1e-5), key
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed
    if params is not None:   # rmu: only blocks 0-1 train
        assert all(".layers." in k for k in changed)
        assert torch.equal(after["lm_head.weight"], before["lm_head.weight"])
