"""Influence scores by hand on a two-parameter model with a known Hessian, the factorised
activation x gradient inner product of a linear layer, and vectorised per-example gradients
against a per-example loop."""

import pytest
import torch
from conftest import examples, tiny_model

from unlearnlab.eval.metrics import score
from unlearnlab.influence.grads import per_example_grads, per_example_grads_loop
from unlearnlab.influence.pairs import influence_records, pair_influence
from unlearnlab.influence.scores import (
    conjugate_gradient,
    grad_dot,
    hvp_of,
    influence,
    linear_grad_inner,
    lissa,
    tracin,
)

# Least squares with theta in R^2: loss_i = (theta . x_i - y_i)^2 / 2, evaluated at theta = 0.
X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
Y = torch.tensor([1.0, 1.0, 2.0])
QX, QY = torch.tensor([1.0, 2.0]), torch.tensor(1.0)
THETA = torch.zeros(2)


def train_loss(theta):
    return 0.5 * ((X @ theta - Y) ** 2).mean()


def grads_at(theta, x, y):
    """g_i = (theta . x_i - y_i) x_i: at 0, g = -y x."""
    return ((x @ theta - y)[:, None] * x)


def test_scores_on_a_two_parameter_model():
    """g_1 = (-1, 0), g_2 = (0, -2), g_3 = (-2, -2), g_q = (-1, -2).
    H = mean x x^T = [[2, 1], [1, 5]] / 3, H^-1 = [[5, -1], [-1, 2]] / 3, H^-1 g_q = (-1, -1);
    I(z, q) = -g_q^T H^-1 g_z = g_z . (1, 1) = -1, -2, -4. Dot products g_z . g_q = 1, 4, 6."""
    train = grads_at(THETA, X, Y)
    query = grads_at(THETA, QX[None], QY[None])
    assert grad_dot(train, query)[:, 0].tolist() == [1.0, 4.0, 6.0]
    assert tracin([(0.5, train, query), (0.25, train, query)])[:, 0].tolist() == [0.75, 3.0, 4.5]
    hvp = hvp_of(train_loss, THETA)
    assert torch.allclose(hvp(torch.tensor([1.0, 0.0])), torch.tensor([2.0, 1.0]) / 3)
    exact = torch.tensor([-1.0, -1.0])
    torch.testing.assert_close(conjugate_gradient(hvp, query[0]), exact)
    # LiSSA needs scale > the largest eigenvalue (7 + sqrt 13) / 6 = 1.77
    torch.testing.assert_close(lissa(hvp, query[0], scale=2.0, steps=2000), exact, atol=1e-5, rtol=0)
    scores = influence(train, query, lambda v: conjugate_gradient(hvp, v))
    torch.testing.assert_close(scores[:, 0], torch.tensor([-1.0, -2.0, -4.0]))
    # damping: (H + I) x = g_q -> x = (H + I)^-1 g_q, checked against a direct solve
    damped = conjugate_gradient(hvp, query[0], damping=1.0)
    H = X.T @ X / 3
    torch.testing.assert_close(damped, torch.linalg.solve(H + torch.eye(2), query[0]))


def test_activation_times_gradient_equals_the_weight_gradient_inner_product():
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 3, bias=False)
    grads, acts, deltas = [], [], []
    for T in (4, 6):
        a = torch.randn(T, 5)
        y = layer(a)
        y.retain_grad()
        loss = (y.tanh() ** 2).sum()
        g, = torch.autograd.grad(loss, layer.weight, retain_graph=True)
        delta, = torch.autograd.grad(loss, y)
        grads.append(g)
        acts.append(a)
        deltas.append(delta)
    explicit = (grads[0] * grads[1]).sum()
    factorised = linear_grad_inner(acts[0], deltas[0], acts[1], deltas[1])
    torch.testing.assert_close(factorised, explicit)


@pytest.mark.parametrize("selector", ["all", "layers:1", "embeddings"])
def test_vectorised_per_example_gradients_equal_the_loop(selector):
    model = tiny_model()
    data = examples(7)
    fast = per_example_grads(model, data, list(range(7)), selector, pad_id=0, chunk=4)
    slow = per_example_grads_loop(model, data, list(range(7)), selector, pad_id=0)
    assert fast.shape == slow.shape
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-6)


def test_pair_influence_is_the_dot_of_the_two_examples_gradients():
    model = tiny_model()
    texts, queries = examples(5), examples(3, seed=1)
    pairs = [(0, 0), (0, 2), (3, 1), (4, 1), (4, 2)]
    got = pair_influence(model, texts, queries, pairs, "all", pad_id=0, chunk=2)
    g_text = per_example_grads_loop(model, texts, list(range(5)), "all", pad_id=0)
    g_query = per_example_grads_loop(model, queries, list(range(3)), "all", pad_id=0)
    want = [float(g_text[z] @ g_query[q]) for z, q in pairs]
    assert got == pytest.approx(want, rel=1e-4)
    records = influence_records(model, texts, queries, pairs, "all", pad_id=0)
    scored = score(records)["influence_forget"]
    assert scored["n"] == 5 and scored["mean"] == pytest.approx(sum(want) / 5, rel=1e-4)
