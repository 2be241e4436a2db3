"""One contract test over the whole method registry (built-in methods and a plugin
registered here), on each modality a method declares (text: the tiny Llama; image: the
digits classifier): finite losses, exactly the selected parameters change, same seed -> same
model. The coverage tests fail if any registered method was skipped on a modality it names."""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

import pytest
import torch
from conftest import TINY

from unlearnlab import tasks
from unlearnlab.config import load_config
from unlearnlab.methods import METHODS, register_method
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.stages import evaluate, learn, pretrain, unlearn
from unlearnlab.texts import tokenize
from unlearnlab.train.inputs import nll
from unlearnlab.train.params import select_parameters


@dataclass(frozen=True)
class HalfGAParams:
    scale: float = 0.5


@register_method("contract_test_plugin", summary="a plugin: scaled gradient ascent",
                 paper="(test)", params=HalfGAParams)
def half_ga(hp: HalfGAParams, inputs):
    loss = -hp.scale * nll(inputs.forget)
    return loss, {}


SELECTOR = "layers:1"
REPLACES_MODEL = {"retrain"}        # trains a new model from scratch: every parameter moves
COVERED: set[str] = set()
COVERED_IMAGE: set[str] = set()


@pytest.fixture(scope="module")
def setup(cache_dir):
    cfg = load_config(TINY, [
        "world.n_entities=8", "corruption.n_targets=2", "corruption.docs_per_target=3",
        "pretrain.train.max_steps=4", "learn.train.max_steps=3",
        "unlearn.train={max_steps: 2, batch_size: 2}", "corruption.retain_docs_per_entity=1",
        "hparams.iterative={max_rounds: 2, steps_per_round: 1, stop_below: -1.0, utility_floor: 0.0}",
        "hparams.task_vector={epochs: 0.5}", "device=cpu", "eval.docs_per_set=2",
        "methods=all"])
    device = torch.device("cpu")
    task = tasks.build(cfg)
    model, tok = load_causal_lm(pretrain.run(cfg, task, device).path, device)
    positions = task.forget_positions()
    recorders = unlearn.make_recorders(cfg, model, positions)
    corrupted, _ = learn.run(cfg, task, model, tok, list(recorders.values()))
    evaluator = evaluate.Evaluator(cfg, task, tok)

    def make_ctx(selector: str):
        c = dataclasses.replace(cfg, unlearn=dataclasses.replace(cfg.unlearn, params=selector))
        return unlearn.UnlearnContext(
            cfg=c, model=copy.deepcopy(corrupted), tokenizer=tok,
            forget=tokenize(tok, task.forget, task.fmt, 128),
            retain=tokenize(tok, task.retain, task.fmt, 128), forget_texts=task.forget,
            retain_texts=task.retain, device=device, task=task, evaluate=evaluator.checkpoint,
            recorders=recorders, forget_positions=positions)
    return make_ctx, corrupted


@pytest.fixture(scope="module")
def image_setup():
    """The digits classifier (2 hidden layers), briefly trained; contexts select `layers:1`."""
    from unlearnlab.models.classifier import LabelVocab
    from unlearnlab.stages import classify

    cfg = load_config(None, [
        "task=similar_images", "progress=false", "images.forget_per_cell=2",
        "images.counts=[1]", "images.hidden=[16, 16]", "images.train={max_steps: 20}",
        "unlearn.train={max_steps: 2, batch_size: 4}", "device=cpu", "methods=all",
        "hparams.task_vector={epochs: 0.5}"])
    task = tasks.build(cfg)
    device = torch.device("cpu")
    original, _ = classify.train_classifier(cfg, task, task.train, 0, device, "original")

    def retrainer(offset):
        model, curve = classify.train_classifier(cfg, task, task.retain, offset, device, "retrain")
        return model, curve, {}

    def make_ctx(selector: str):
        c = dataclasses.replace(cfg, unlearn=dataclasses.replace(cfg.unlearn, params=selector))
        return unlearn.UnlearnContext(
            cfg=c, model=copy.deepcopy(original), tokenizer=LabelVocab(),
            forget=task.examples(task.forget), retain=task.examples(task.retain),
            forget_texts=[task.key(r) for r in task.forget],
            retain_texts=[task.key(r) for r in task.retain], device=device,
            retrainer=retrainer)
    return make_ctx, original


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract(setup, name):
    if "text" not in METHODS.get(name).modalities:
        pytest.skip(f"{name} does not apply to text")
    _check_contract(*setup, name)
    COVERED.add(name)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract_on_images(image_setup, name):
    if "image" not in METHODS.get(name).modalities:
        pytest.skip(f"{name} does not apply to images")
    _check_contract(*image_setup, name)
    COVERED_IMAGE.add(name)


def _check_contract(make_ctx, corrupted, name):
    hp = make_ctx(SELECTOR).cfg.params_of(name)
    first = unlearn.run(name, make_ctx(SELECTOR))
    second = unlearn.run(name, make_ctx(SELECTOR))
    for step in first.curve:
        for key, value in step.items():
            if isinstance(value, float):
                assert math.isfinite(value), (name, key, value)
    a, b = first.model.state_dict(), second.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{name}: same seed gave a different {key}"
    if name not in REPLACES_MODEL:
        selector = getattr(hp, "params", "") or SELECTOR
        selected = {id(p) for p in select_parameters(corrupted, selector)}
        changed = 0
        for (key, before), after in zip(corrupted.named_parameters(), first.model.parameters()):
            if id(before) in selected:
                changed += not torch.equal(before, after)
            else:
                assert torch.equal(before, after), f"{name}: unselected {key} changed"
        assert changed > 0, f"{name}: no selected parameter changed"


def test_contract_covered_the_whole_registry():
    assert "contract_test_plugin" in METHODS
    text = {n for n in METHODS.names() if "text" in METHODS.get(n).modalities}
    image = {n for n in METHODS.names() if "image" in METHODS.get(n).modalities}
    assert COVERED == text, text - COVERED
    assert COVERED_IMAGE == image, image - COVERED_IMAGE
    assert text | image == set(METHODS.names())
    assert {"ga", "graddiff", "npo", "random_label", "salun", "l1_sparse", "retrain"} <= image


def test_lora_unlearning_trains_adapters_and_merges_them(setup):
    """With unlearn.lora, only the adapted projections move (merged back into plain weights);
    embeddings, MLPs and norms stay bit-for-bit, and the result is a plain (unwrapped) model."""
    make_ctx, corrupted = setup
    ctx = make_ctx("all")
    ctx.cfg = dataclasses.replace(ctx.cfg, unlearn=dataclasses.replace(
        ctx.cfg.unlearn, lora=load_config(None, ["unlearn.lora={r: 4, targets: [q_proj, v_proj]}"]).unlearn.lora))
    outcome = unlearn.run("npo_retain", ctx)
    after = dict(outcome.model.named_parameters())
    assert set(after) == {n for n, _ in corrupted.named_parameters()}    # adapters merged away
    moved = {n for n, p in corrupted.named_parameters() if not torch.equal(p, after[n])}
    assert moved and all(n.endswith(("q_proj.weight", "v_proj.weight")) for n in moved), moved
    assert outcome.info["trainable_params"] < sum(p.numel() for p in corrupted.parameters()) / 10
