"""Batched per-example gradients from layer taps, the batched activation x gradient score,
TracIn over a checkpoint trail, the training objective's Hessian-vector products and its
extreme eigenvalues — each against an explicit computation."""

import copy

import pytest
import torch
from conftest import examples, tiny_model

from unlearnlab.config import TrainConfig
from unlearnlab.influence.grads import per_example_grads_loop
from unlearnlab.influence.hessian import Objective, lanczos_extremes
from unlearnlab.influence.scores import linear_grad_inner
from unlearnlab.influence.taps import (
    activation_gradient_scores,
    linear_factors,
    linear_names,
    per_example_grads_taps,
)
from unlearnlab.influence.tracin import CheckpointTrail, first_step_lr, tracin_scores
from unlearnlab.train.loop import FINETUNE, train


def linear_weights(model) -> str:
    """A selector of exactly the linear layers' weights."""
    return "|".join(n.replace(".", r"\.") + r"\.weight$" for n in linear_names(model))


@pytest.mark.parametrize("selector", ["all", "layers:1", "embeddings", "lm_head", "norm"])
def test_tapped_per_example_gradients_equal_the_loop(selector):
    """Rows of different lengths (4..8 tokens) padded into batches of 3: each row's gradient
    equals the one-example-at-a-time autograd gradient to 1e-5 relative (row norm)."""
    model = tiny_model()
    data = examples(7)
    fast = per_example_grads_taps(model, data, list(range(7)), selector, pad_id=0, chunk=3)
    slow = per_example_grads_loop(model, data, list(range(7)), selector, pad_id=0)
    assert fast.shape == slow.shape
    rel = (fast - slow).norm(dim=1) / slow.norm(dim=1)
    assert rel.max() < 1e-5
    assert all(p.requires_grad for p in model.parameters()) and model.training is False


def test_tapped_gradients_of_tied_embeddings_add_both_uses():
    """With the output head tied to the embedding matrix, the shared tensor's gradient is the
    sum of its two uses, as autograd's."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg).eval()
    data = examples(4)
    fast = per_example_grads_taps(model, data, list(range(4)), "embeddings", pad_id=0)
    slow = per_example_grads_loop(model, data, list(range(4)), "embeddings", pad_id=0)
    assert ((fast - slow).norm(dim=1) / slow.norm(dim=1)).max() < 1e-5


def test_activation_x_gradient_is_the_linear_weights_gradient_product():
    model = tiny_model()
    train_set, queries = examples(5), examples(3, seed=1)
    scores = activation_gradient_scores(model, train_set, queries, pad_id=0)          # (5, 3)
    sel = linear_weights(model)
    explicit = per_example_grads_loop(model, train_set, list(range(5)), sel, 0) \
        @ per_example_grads_loop(model, queries, list(range(3)), sel, 0).T
    torch.testing.assert_close(scores, explicit, rtol=1e-4, atol=1e-6)
    # one pair, one layer: the batched factors give scores.py's single-pair inner product
    factors = linear_factors(model, train_set, [2], 0, ["model.layers.0.mlp.down_proj"])
    qfactors = linear_factors(model, queries, [1], 0, ["model.layers.0.mlp.down_proj"])
    (a_z, d_z), (a_q, d_q) = factors["model.layers.0.mlp.down_proj"], qfactors["model.layers.0.mlp.down_proj"]
    layer = per_example_grads_loop(model, train_set, [2], r"layers\.0\.mlp\.down_proj", 0)[0] \
        @ per_example_grads_loop(model, queries, [1], r"layers\.0\.mlp\.down_proj", 0)[0]
    torch.testing.assert_close(linear_grad_inner(a_z[0], d_z[0], a_q[0], d_q[0]), layer,
                               rtol=1e-4, atol=1e-7)


def test_tracin_sums_learning_rate_times_gradient_products_over_checkpoints():
    """Three steps of batch 2 at a linear schedule (lr 0.01 -> 0.00667 -> 0.00333 -> 0):
    checkpoints theta_0, theta_1, theta_2 weighted by the rate of the step taken from them
    (0.01, 0.00667, 0.00333); theta_3 takes no step. First epoch (2 steps over 4 items):
    theta_0 and theta_1 only."""
    start = tiny_model()
    data, queries = examples(4), examples(2, seed=1)
    recipe = TrainConfig(max_steps=3, batch_size=2, lr=1e-2, scheduler="linear")
    model = copy.deepcopy(start)
    trail = CheckpointTrail(model)
    curve = train(model, FINETUNE, recipe, forget=data, pad_id=0, seed=0, progress=False,
                  on_step=trail)
    assert [s for s, _ in trail.states] == [0, 1, 2, 3]
    lr0 = first_step_lr(recipe.lr, recipe.warmup_ratio, 3)
    assert lr0 == 1e-2 and first_step_lr(1e-2, 0.5, 3) == 0.0
    etas = [1e-2, 1e-2 * 2 / 3, 1e-2 / 3]
    assert [c["lr"] for c in curve[:2]] == pytest.approx(etas[1:])
    work = copy.deepcopy(start)
    want = torch.zeros(4, 2)
    for eta, (_, state) in zip(etas, trail.states):
        work.load_state_dict(state)
        want += eta * per_example_grads_loop(work, data, list(range(4)), "all", 0) \
            @ per_example_grads_loop(work, queries, [0, 1], "all", 0).T
        if _ == 1:
            first_two = want.clone()
    got = tracin_scores(model, trail, curve, lr0, data, queries, pad_id=0)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(tracin_scores(model, trail, curve, lr0, data, queries,
                                             pad_id=0, upto=2), first_two, rtol=1e-4, atol=1e-8)


def test_objective_hvp_equals_double_backward_of_the_loop_loss():
    """H v of the flat objective equals reverse-over-reverse autograd through the model's
    own forward (eager attention) of the mean per-sequence NLL over the set."""
    from unlearnlab.train.batches import collate
    from unlearnlab.train.forward import forward
    from unlearnlab.train.inputs import nll

    model = tiny_model()
    data = examples(5)
    objective = Objective(model, data, "layers:1", pad_id=0)
    v = torch.randn(objective.theta0.numel(), generator=torch.Generator().manual_seed(0))
    with objective:
        got = objective.hvp()(v)
        loss_flat = objective(objective.theta0)
    model.set_attn_implementation("eager")
    params = [dict(model.named_parameters())[n] for n in objective.names]
    loss = nll(forward(model, collate(data, list(range(5)), 0)))
    assert float(loss.detach()) == pytest.approx(float(loss_flat.detach()), rel=1e-6)
    g = torch.autograd.grad(loss, params, create_graph=True)
    flat = torch.cat([x.reshape(-1) for x in g])
    want = torch.cat([x.reshape(-1) for x in torch.autograd.grad(flat @ v, params)])
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_lanczos_finds_the_extreme_eigenvalues_of_a_known_matrix():
    """A 40 x 40 symmetric matrix Q diag(-2, 0.01 .. 0.4 (38 values), 7) Q^T: after 40 steps
    (the whole space) the extreme Ritz values are the extreme eigenvalues."""
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(40, 40, generator=g, dtype=torch.float64))
    eig = torch.cat([torch.tensor([-2.0]), torch.linspace(0.01, 0.4, 38), torch.tensor([7.0])]).double()
    M = (q * eig) @ q.T
    top, bottom = lanczos_extremes(lambda v: (M @ v.double()).float(), 40, steps=40)
    assert top == pytest.approx(7.0, rel=1e-5) and bottom == pytest.approx(-2.0, rel=1e-5)
