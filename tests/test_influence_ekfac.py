"""EK-FAC through kronfluence against the explicit Gauss-Newton influence, on a linear model
where EK-FAC is exact (derivation in the test's docstring), and on a tiny causal LM."""

import pytest
import torch
from conftest import examples, tiny_model
from torch import nn
from torch.utils.data import TensorDataset

from unlearnlab.influence.ekfac import available, lm_scores, pairwise_scores

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


def test_ekfac_equals_the_explicit_gauss_newton_influence_on_a_linear_model():
    """y = W a, W (2, 3), loss 1/2 ||W a - y||^2 per example. Inputs a_1..a_3 crossed with
    residual patterns d in {(1, 1), (1, -1)}: six examples with targets y = W a - d, so the
    residual is exactly d and the gradient is G = d a^T, vec G = d (x) a.

    Empirical Fisher F = (1/6) sum (d d^T) (x) (a a^T) = S (x) A with S = mean d d^T = I and
    A = (1/3) sum a a^T; the Gauss-Newton Hessian of the mean loss is (1/6) sum I (x) a a^T =
    I (x) A: the same matrix. EK-FAC keeps the eigenbases of S and A and refits the diagonal
    in their product basis; I (x) A is diagonal in (Q_S (x) Q_A) for any orthogonal Q_S, so the
    refitted diagonal is exact and EK-FAC = F = H. Hence kronfluence's score must equal
    g_q^T (I (x) A + lambda I)^{-1} g_z computed directly. Tolerance 1e-4 relative: kronfluence
    forms the factors in float32 (eigendecomposition in float64)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2, bias=False))
    W = model[0].weight.detach()
    inputs = torch.tensor([[1.0, 0.5, -1.0], [0.0, 2.0, 1.0], [1.5, -0.5, 0.5]])
    patterns = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    a = inputs.repeat_interleave(2, 0)                                   # (6, 3)
    d = patterns.repeat(3, 1)                                            # (6, 2)
    y = a @ W.T - d
    qa, qd = torch.tensor([[0.5, 1.0, 2.0], [-1.0, 0.0, 1.0]]), torch.tensor([[0.3, -0.7], [1.0, 2.0]])
    qy = qa @ W.T - qd

    def loss(batch, model, sample=False):
        x, target = batch
        return 0.5 * ((model(x) - target) ** 2).sum()

    damping = 0.1
    got = pairwise_scores(model, loss, lambda b, m: loss(b, m), TensorDataset(a, y),
                          TensorDataset(qa, qy), damping=damping, empirical_fisher=True,
                          batch_size=4)                                   # (6, 2)
    g_train = torch.stack([torch.kron(di, ai) for di, ai in zip(d, a)]).double()    # (6, 6)
    g_query = torch.stack([torch.kron(di, ai) for di, ai in zip(qd, qa)]).double()  # (2, 6)
    A = (inputs.T @ inputs / 3).double()
    H = torch.kron(torch.eye(2, dtype=torch.float64), A)
    assert torch.allclose(H, g_train.T @ g_train / 6)                    # F = H, as derived
    want = g_train @ torch.linalg.solve(H + damping * torch.eye(6, dtype=torch.float64), g_query.T)
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-6)


def test_ekfac_on_a_tiny_language_model_is_finite_and_ranks_like_the_gradient_product():
    """On a random 2-block Llama the scores are finite, one per (train, query) pair, and with
    an overwhelming damping (F + lambda I ~ lambda I) they become the gradient dot product of
    the linear layers over lambda: their ranks agree."""
    from unlearnlab.influence.grads import per_example_grads_loop
    from unlearnlab.influence.loo import spearman
    from unlearnlab.influence.taps import linear_names

    model = tiny_model()
    train, queries = examples(6), examples(3, seed=1)
    scores = lm_scores(model, train, queries, pad_id=0, batch_size=4)
    assert scores.shape == (6, 3) and torch.isfinite(scores).all()
    big = 1e6
    damped = lm_scores(model, train, queries, pad_id=0, damping=big, batch_size=4)
    sel = "|".join(n.replace(".", r"\.") + r"\.weight$" for n in linear_names(model))
    dots = per_example_grads_loop(model, train, list(range(6)), sel, 0) \
        @ per_example_grads_loop(model, queries, list(range(3)), sel, 0).T
    torch.testing.assert_close(damped * big, dots, rtol=1e-3, atol=1e-6)
    assert spearman(damped, dots) == pytest.approx(1.0)
