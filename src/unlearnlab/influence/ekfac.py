"""EK-FAC influence scores through kronfluence (Grosse et al. 2023, "Studying Large Language
Model Generalization with Influence Functions", arXiv 2308.03296; EK-FAC: George et al.
2018, arXiv 1806.03884). kronfluence is imported in this module only (optional extra
`influence`; `available()` says why it cannot be used).

For the linear layers it tracks, kronfluence approximates the Hessian of the training
objective by the Fisher F = E[g g^T] (labels sampled from the model: the Gauss-Newton
matrix of a log-likelihood; or the empirical Fisher with the data's labels), per layer as
Kronecker factors A (inputs) and S (output gradients) whose eigenbases Q_A, Q_S it keeps,
with the diagonal refitted in that basis (the "eigenvalue correction"):

    F_layer ~ (Q_S x Q_A) diag(Lambda) (Q_S x Q_A)^T,   Lambda = E[((Q_S x Q_A)^T g)^2]
    score(z, q) = g(q)^T (F + lambda I)^{-1} g(z)

with lambda kronfluence's default (0.1 x the mean of Lambda) unless given. The score is the
first-order increase of the query's measurement when z is removed, times n (Koh & Liang's
I_up,loss negated), so it is oriented as a removal effect like the other scores of
`influence/loo.py`.

Installation: `pip install --no-deps kronfluence einops opt-einsum einconv`. kronfluence
1.0.1 declares torchvision as a dependency but never imports it; a plain install would
pull torchvision and with it a torch that replaces the pinned one.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from typing import Any, Callable

import torch
from torch.utils.data import Dataset

from unlearnlab.train.batches import Batch, ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.train.inputs import per_sequence_mean

INSTALL = "pip install --no-deps kronfluence einops opt-einsum einconv"


def available() -> str | None:
    """None when kronfluence imports; else why not, with the install line."""
    try:
        import kronfluence  # noqa: F401
    except ImportError as exc:
        return f"kronfluence is not importable ({exc}); install it with: {INSTALL}"
    return None


class _Rows(Dataset):
    """An ExampleSet's items as (token ids, loss mask) pairs, for `collate_rows`."""

    def __init__(self, examples: ExampleSet):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        return self.examples.input_ids[i], self.examples.loss_mask[i]


def pairwise_scores(model, train_loss: Callable, measurement: Callable, train: Dataset,
                    queries: Dataset, *, collate_fn: Callable | None = None,
                    damping: float | None = None, modules: list[str] | None = None,
                    empirical_fisher: bool = False, attention_mask: Callable | None = None,
                    batch_size: int = 16, seed: int = 0) -> torch.Tensor:
    """(len(train), len(queries)) EK-FAC scores of a model with the given losses.

    train_loss(batch, model, sample) -> the batch's summed training loss (labels sampled
    from the model when `sample`); measurement(batch, model) -> the batch's summed query
    measurement; collate_fn (None: torch's default) makes a batch of either set's items;
    modules: the names of the layers to track (None: every linear layer). `model` is not
    modified (kronfluence wraps the layers of a copy)."""
    import copy

    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task
    from kronfluence.utils.dataset import DataLoaderKwargs

    class _Task(Task):
        def compute_train_loss(self, batch: Any, model, sample: bool = False) -> torch.Tensor:
            return train_loss(batch, model, sample)

        def compute_measurement(self, batch: Any, model) -> torch.Tensor:
            return measurement(batch, model)

        def get_influence_tracked_modules(self):
            return modules

        def get_attention_mask(self, batch: Any):
            return attention_mask(batch) if attention_mask is not None else None

    task = _Task()
    work = prepare_model(copy.deepcopy(model), task)
    loader = DataLoaderKwargs(collate_fn=collate_fn)
    with tempfile.TemporaryDirectory() as out, torch.random.fork_rng(), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)   # its CUDA GradScaler call
        torch.manual_seed(seed)
        analyzer = Analyzer("unlearnlab", work, task, cpu=not torch.cuda.is_available(),
                            log_level=logging.WARNING, disable_tqdm=True, output_dir=out)
        analyzer.fit_all_factors(
            "factors", train, per_device_batch_size=batch_size, dataloader_kwargs=loader,
            factor_args=FactorArguments(strategy="ekfac", use_empirical_fisher=empirical_fisher),
            overwrite_output_dir=True)
        analyzer.compute_pairwise_scores(
            "scores", "factors", queries, train, per_device_query_batch_size=batch_size,
            per_device_train_batch_size=batch_size, dataloader_kwargs=loader,
            score_args=ScoreArguments(damping_factor=damping), overwrite_output_dir=True)
        scores = analyzer.load_pairwise_scores("scores")["all_modules"]            # (Q, N)
    return scores.T.float().cpu().contiguous()


def lm_scores(model, train: ExampleSet, queries: ExampleSet, pad_id: int, *,
              damping: float | None = None, empirical_fisher: bool = False,
              batch_size: int = 16, seed: int = 0) -> torch.Tensor:
    """(N, M) EK-FAC scores of a causal LM over its linear layers: training examples are
    `train` (loss: the loop's per-sequence mean NLL), queries `queries` (measurement: the
    same loss on the query's counted tokens)."""

    def collate_rows(rows: list[tuple[list[int], list[int]]]) -> dict:
        b = collate(ExampleSet([r[0] for r in rows], [r[1] for r in rows]),
                    list(range(len(rows))), pad_id)
        return {"input_ids": b.input_ids, "attention_mask": b.attention_mask,
                "loss_mask": b.loss_mask}

    def losses(batch: dict, model, sample: bool = False) -> torch.Tensor:
        b = Batch(batch["input_ids"], batch["attention_mask"], batch["loss_mask"],
                  torch.arange(len(batch["input_ids"])))
        fw = forward(model, b, keep_logits=sample)
        if not sample:
            return per_sequence_mean(-fw.token_logps, fw.mask).sum()
        with torch.no_grad():                   # labels drawn from the model: the true Fisher
            drawn = torch.distributions.Categorical(logits=fw.logits.detach()).sample()
        logps = torch.log_softmax(fw.logits, -1).gather(-1, drawn[..., None])[..., 0]
        return per_sequence_mean(-logps, fw.mask).sum()

    return pairwise_scores(model, losses, lambda b, m: losses(b, m), _Rows(train), _Rows(queries),
                           collate_fn=collate_rows, damping=damping,
                           empirical_fisher=empirical_fisher,
                           attention_mask=lambda b: b["attention_mask"],
                           batch_size=batch_size, seed=seed)
