"""Curve points during unlearning compute only what the curve metrics read: the default curve
(accuracy, corrupted rate, utility, ROUGE-L, forget perplexity) scores no candidate answers, and
gives exactly the values of the full evaluation."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from unlearnlab import tasks
from unlearnlab.config import load_config
from unlearnlab.eval import records
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.stages import evaluate, pretrain

SMALL = ["world.n_entities=8", "corruption.n_targets=2", "corruption.docs_per_target=3",
         "pretrain.train.max_steps=4", "device=cpu", "eval.docs_per_set=3"]


@pytest.fixture(scope="module")
def model_and_task(cache_dir):
    cfg = load_config(TINY, SMALL)
    task = tasks.build(cfg)
    model, tok = load_causal_lm(pretrain.run(cfg, task, torch.device("cpu")).path,
                                torch.device("cpu"))
    return model, tok, task


@pytest.mark.parametrize("curve, scored", [
    ("[target_accuracy,corrupted_rate,utility,rougeL_recall_target,ppl_forget]", False),
    ("[target_accuracy,logp_correct]", True),
])
def test_curve_point_reads_only_what_its_metrics_need(model_and_task, monkeypatch, curve,
                                                      scored):
    model, tok, task = model_and_task
    cfg = load_config(TINY, [*SMALL, f"eval.curve_metrics={curve}"])
    evaluator = evaluate.Evaluator(cfg, task, tok)
    full = evaluator.checkpoint(model)
    calls = []
    real = records.answer_logprobs
    monkeypatch.setattr(records, "answer_logprobs",
                        lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    point = evaluator.curve_point(model)
    assert list(point) == list(cfg.eval.curve_metrics)
    assert point == {m: full[m] for m in cfg.eval.curve_metrics}       # the same numbers
    assert all(v is not None for v in point.values())
    n_items = len(task.items)
    assert (sum(calls) > n_items) == scored and evaluator.curve_scored == scored
