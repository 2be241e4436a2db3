"""First-epoch gradient ascent (Zagardo 2024): the recorder stores the true first-seen
per-example gradients, its storage options, and the procedure end to end."""

import copy
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY, examples, read_json, tiny_model

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.methods import METHODS
from unlearnlab.stages import unlearn
from unlearnlab.train.batches import collate
from unlearnlab.train.forward import forward
from unlearnlab.influence.recorder import FirstEpochRecorder, GradientRecorder
from unlearnlab.train.inputs import nll
from unlearnlab.train.loop import FINETUNE, TrainConfig, train
from unlearnlab.train.params import select_parameters

SPEC = METHODS.get("first_epoch_ga")






class Probe:
    """Independent reference: each observed item's gradient by plain `.backward()` on a copy."""

    def __init__(self):
        self.seen: dict[int, list[torch.Tensor]] = {}

    def observe(self, model, data, idx):
        for i in idx:
            twin = copy.deepcopy(model)
            for p in twin.parameters():
                p.requires_grad_(True)
            nll(forward(twin, collate(data, [i], 0))).backward()
            grad = torch.cat([p.grad.reshape(-1) for p in twin.parameters()])
            self.seen.setdefault(i, []).append(grad)


def trained_with(recorders, data, epochs=2):
    model = tiny_model()
    train(model, FINETUNE, TrainConfig(epochs=epochs, batch_size=2, lr=1e-2), forget=data,
          pad_id=0, seed=0, progress=False, recorders=recorders)
    return model


def test_recorder_stores_the_first_seen_gradient_once_and_leaves_training_unchanged():
    data = examples(8)
    rec, probe = FirstEpochRecorder(tiny_model(), "all", dtype="fp32"), Probe()
    model = trained_with([rec, probe], data)
    assert rec.recorded == set(range(8))
    assert rec.n_params == sum(p.numel() for p in model.parameters())
    for i in range(8):
        first, later = probe.seen[i]                    # two epochs: every item seen twice
        torch.testing.assert_close(rec.stored(i), first)
        assert not torch.allclose(first, later)         # so a second-epoch overwrite would show
    # Recording neither touches .grad, nor the random stream, nor the updates.
    plain = trained_with([], data)
    for a, b in zip(model.parameters(), plain.parameters()):
        assert torch.equal(a, b)
    # The ascent direction is the mean stored gradient, shaped like the parameters.
    direction = rec.ascent_direction([1, 4])
    expected = (probe.seen[1][0] + probe.seen[4][0]) / 2
    torch.testing.assert_close(torch.cat([d.reshape(-1) for d in direction]), expected)
    assert [d.shape for d in direction] == [p.shape for p in model.parameters()]


def test_recorder_restores_frozen_parameters():
    model, data = tiny_model(), examples(4)
    for p in model.parameters():
        p.requires_grad_(False)
    rec = FirstEpochRecorder(model, "embeddings", dtype="fp32")
    rec.observe(model, data, [0, 2, 0])
    assert rec.recorded == {0, 2}
    assert not any(p.requires_grad or p.grad is not None for p in model.parameters())


def test_fp16_halves_storage_and_stays_close_to_fp32():
    data = examples(8)
    exact = FirstEpochRecorder(tiny_model(), "all", dtype="fp32")
    half = FirstEpochRecorder(tiny_model(), "all", dtype="fp16")
    trained_with([exact, half], data, epochs=1)
    assert half.bytes_per_example() == exact.bytes_per_example() // 2 + 4   # + its fp32 scale
    assert half.total_bytes() == 8 * half.bytes_per_example()
    for i in range(8):
        g = exact.stored(i)
        torch.testing.assert_close(half.stored(i), g, rtol=0, atol=1e-3 * g.abs().max().item())
    emb = FirstEpochRecorder(tiny_model(), "embeddings", dtype="fp16")
    assert emb.n_params == 40 * 32 < half.n_params
    assert emb.bytes_per_example() < half.bytes_per_example()


def test_countsketch_is_linear_and_unbiased():
    model = tiny_model()
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(40 * 32, generator=g), torch.randn(40 * 32, generator=g)
    rec = FirstEpochRecorder(model, "embeddings", sketch_dim=256, seed=0)
    torch.testing.assert_close(rec.decode(rec.sketch(a) + rec.sketch(b)),
                               rec.decode(rec.sketch(a + b)))

    def rel_err(x):
        return ((x - a).norm() / a.norm()).item()

    sketches = [FirstEpochRecorder(model, "embeddings", sketch_dim=256, seed=s) for s in range(400)]
    decoded = [r.decode(r.sketch(a)) for r in sketches]
    assert rel_err(decoded[0]) > 1.0                    # one sketch is noisy (~ sqrt(N/k))
    assert rel_err(torch.stack(decoded).mean(0)) < 0.2  # but unbiased: the noise averages out


def test_sketched_recorder_stores_k_values_and_decodes_the_mean():
    data = examples(8)
    exact = FirstEpochRecorder(tiny_model(), "embeddings", dtype="fp32")
    sk = FirstEpochRecorder(tiny_model(), "embeddings", dtype="fp32", sketch_dim=64)
    trained_with([exact, sk], data, epochs=1)
    assert sk.stored(0).shape == (64,) and sk.bytes_per_example() == 64 * 4
    torch.testing.assert_close(sk.stored(3), sk.sketch(exact.stored(3)))
    mean = (exact.stored(2) + exact.stored(5)) / 2
    torch.testing.assert_close(sk.ascent_direction([2, 5])[0].reshape(-1),
                               sk.decode(sk.sketch(mean)))


def context(model, data, rec, hp: dict) -> unlearn.UnlearnContext:
    return unlearn.UnlearnContext(
        cfg=Config(hparams={"first_epoch_ga": METHODS.get("first_epoch_ga").hyperparams(hp)}),
        model=model, tokenizer=SimpleNamespace(pad_token_id=0), forget=data, retain=data,
        forget_texts=[], retain_texts=[], device=torch.device("cpu"),
        recorders={} if rec is None else {"first_epoch_ga": rec})


@pytest.mark.parametrize("selector", ["embeddings", "all"])
def test_procedure_raises_forget_nll_and_leaves_other_parameters_unchanged(selector):
    data = examples(8)
    hp = {"params": selector, "dtype": "fp16", "step_size": 0.5, "max_steps": 30,
          "target_nll_ratio": 1.2}
    model = tiny_model()
    rec = SPEC.recorder(SPEC.hyperparams(hp), model)
    train(model, FINETUNE, TrainConfig(epochs=3, batch_size=2, lr=1e-2), forget=data, pad_id=0,
          seed=0, progress=False, recorders=[rec])
    before = copy.deepcopy(model)
    outcome = unlearn.run("first_epoch_ga", context(model, data, rec, hp))
    nlls = [c["forget_nll"] for c in outcome.curve]
    steps = outcome.info["steps"]
    assert 1 <= steps < 30 and [c["step"] for c in outcome.curve] == list(range(steps + 1))
    assert nlls[-1] >= 1.2 * nlls[0] > nlls[-2]        # stopped at the first step past target
    assert outcome.info["total_bytes"] == 8 * outcome.info["bytes_per_example"]
    assert outcome.info["n_params_recorded"] == rec.n_params
    chosen = {id(p) for p in select_parameters(outcome.model, selector)}
    for (name, p), q in zip(outcome.model.named_parameters(), before.parameters()):
        assert torch.equal(p, q) != (id(p) in chosen), name


def test_procedure_needs_every_forget_item_recorded():
    model, data = tiny_model(), examples(8)
    rec = FirstEpochRecorder(model, "embeddings")
    rec.observe(model, data, [0, 1, 2])
    with pytest.raises(UserError, match="5 of 8 forget items were never seen"):
        unlearn.run("first_epoch_ga", context(model, data, rec, {}))
    with pytest.raises(UserError, match="no first-epoch gradients were recorded"):
        unlearn.run("first_epoch_ga", context(model, data, None, {}))


@pytest.mark.parametrize("key, value, message", [
    ("dtype", "int8", "hparams.first_epoch_ga.dtype: unknown value 'int8'; valid: fp16, fp32"),
    ("sketch_dim", -4, "hparams.first_epoch_ga.sketch_dim must be >= 0, got -4"),
    ("sketch_dim", 2.5, "hparams.first_epoch_ga.sketch_dim: expected an integer, got 2.5"),
    ("step_size", 0, "hparams.first_epoch_ga.step_size must be > 0.0, got 0"),
    ("step_size", "big", "hparams.first_epoch_ga.step_size: expected a number, got 'big'"),
    ("max_steps", 0, "hparams.first_epoch_ga.max_steps must be >= 1, got 0"),
    ("target_nll_ratio", 1.0, "hparams.first_epoch_ga.target_nll_ratio must be > 1.0, got 1.0"),
    ("params", " ", "hparams.first_epoch_ga.params must be a non-empty parameter selector; valid"),
    ("colour", 1, "hparams.first_epoch_ga: unknown key 'colour'; valid: dtype, epochs, max_steps"),
])
def test_bad_hyperparameters_name_the_option(key, value, message):
    with pytest.raises(UserError) as info:
        SPEC.hyperparams({key: value})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_selector_is_caught_when_the_recorder_is_made():
    with pytest.raises(UserError, match=r"^hparams\.first_epoch_ga\.params: bad layer selector"):
        SPEC.recorder(SPEC.hyperparams({"params": "layers:7"}), tiny_model())


def test_pipeline_records_during_corruption_and_unlearns(tiny_run, tmp_path):
    from unlearnlab.cli import main

    code = main(["run", str(TINY), "--set", "methods=[first_epoch_ga]", "--set",
                 f"runs_dir={tmp_path}", "--set", "name=fega"])
    assert code == 0
    results = read_json(tmp_path / "fega" / "results.json")
    info = results["models"]["first_epoch_ga"]["info"]
    assert info["steps"] >= 1 and info["forget_nll_after"] > info["forget_nll_before"]
    assert info["total_bytes"] == 48 * info["bytes_per_example"]    # 4 targets x 12 documents
    assert "first_epoch_ga" in results["restoration"]


def test_recorder_keeps_every_epoch_and_ascends_first_last_or_all():
    """epochs="all": each item's gradient at each of its visits (3 epochs here), equal to the
    probe's; the direction of "last" is the mean of the last visits, of "all" the mean over
    each item's epochs, then over items."""
    data = examples(6)
    rec, probe = GradientRecorder(tiny_model(), "all", dtype="fp32", epochs="all"), Probe()
    trained_with([rec, probe], data, epochs=3)
    assert len(rec) == 18 and rec.epochs_of(2) == [0, 1, 2]
    for i in range(6):
        for e in range(3):
            torch.testing.assert_close(rec.stored(i, e), probe.seen[i][e], rtol=1e-4, atol=1e-6)

    def flat(direction):
        return torch.cat([d.reshape(-1) for d in direction])
    last = (probe.seen[1][2] + probe.seen[3][2]) / 2
    torch.testing.assert_close(flat(rec.ascent_direction([1, 3], epochs="last")), last,
                               rtol=1e-4, atol=1e-6)
    every = (sum(probe.seen[1]) / 3 + sum(probe.seen[3]) / 3) / 2
    torch.testing.assert_close(flat(rec.ascent_direction([1, 3], epochs="all")), every,
                               rtol=1e-4, atol=1e-6)
    first_only = GradientRecorder(tiny_model(), "all", dtype="fp32")
    first_only.observe(tiny_model(), data, [0])
    with pytest.raises(UserError, match="needs every epoch recorded"):
        first_only.ascent_direction([0], epochs="last")
