"""Sequence packing (train/packing.py): the layout by hand, the same outputs and gradients
as the padded batch, and the same training."""

import copy

import pytest
import torch
from conftest import tiny_model

from unlearnlab.methods import METHODS
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward
from unlearnlab.train.loop import FINETUNE, TrainConfig, train
from unlearnlab.train.packing import first_fit, pack

IDS = [[1, 5, 6, 7, 2], [1, 8, 2], [1, 9, 10, 2], [1, 2]]         # lengths 5, 3, 4, 2
MASKS = [[0, 1, 1, 1, 1], [0, 0, 1], [0, 1, 1, 1], [0, 1]]


def test_first_fit_places_longest_first_in_the_first_row_with_room():
    # 5 -> row 0 (full); 4 -> row 1 (1 left); 3 -> row 2 (2 left); 2 -> row 2 at offset 3
    assert first_fit([5, 3, 4, 2], 5) == ([0, 2, 1, 2], [0, 0, 0, 3], 3)
    assert first_fit([2, 2, 2], 6) == ([0, 0, 0], [0, 2, 4], 1)
    assert first_fit([4, 4], 4) == ([0, 1], [0, 0], 2)


def test_pack_lays_examples_end_to_end_with_restarting_positions():
    batch = collate(ExampleSet(IDS, MASKS), [0, 1, 2, 3], 0)
    packing = pack(batch)
    assert packing.input_ids.tolist() == [[1, 5, 6, 7, 2], [1, 9, 10, 2, 0], [1, 8, 2, 1, 2]]
    assert packing.position_ids.tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 0], [0, 1, 2, 0, 1]]
    assert packing.rows.tolist() == [0, 2, 1, 2] and packing.offsets.tolist() == [0, 0, 0, 3]
    # back to the padded layout: per-token values, 0 on padding
    back = packing.unpack(packing.input_ids)
    assert back.tolist() == [[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [1, 9, 10, 2, 0], [1, 2, 0, 0, 0]]
    assert torch.equal(packing.repack(batch.input_ids), packing.input_ids)
    # next-token values (width T - 1): position t of example b scores its token t + 1
    nxt = packing.unpack(packing.input_ids[:, 1:])
    assert nxt.tolist() == [[5, 6, 7, 2], [8, 2, 0, 0], [9, 10, 2, 0], [2, 0, 0, 0]]


def test_nothing_to_gain_or_left_padding_is_not_packed():
    assert pack(collate(ExampleSet(IDS[:1] * 3, MASKS[:1] * 3), [0, 1, 2], 0)) is None
    assert pack(collate(ExampleSet(IDS, MASKS), [0, 1, 2, 3], 0, left_pad=True)) is None


def ragged(n: int, seed: int) -> ExampleSet:
    """`n` random examples of 2..25 tokens, a random part of each counted."""
    g = torch.Generator().manual_seed(seed)
    ids, masks = [], []
    for _ in range(n):
        length = int(torch.randint(1, 25, (1,), generator=g))
        ids.append([1] + torch.randint(3, 40, (length,), generator=g).tolist())
        masks.append([0] + torch.randint(0, 2, (length,), generator=g).tolist())
    return ExampleSet(ids, masks)


def _batch(n: int = 9, seed: int = 0):
    return collate(ragged(n, seed), list(range(n)), 0)


@pytest.mark.parametrize("kw", [{}, {"keep_logits": True}, {"hidden_layer": 1},
                                {"argmax": True}, {"counted_only": True, "argmax": True}])
def test_packed_forward_gives_the_padded_forwards_outputs(kw):
    model, batch = tiny_model(), _batch()
    assert len(pack(batch).input_ids) < len(batch.input_ids)       # several examples share rows
    padded, packed = forward(model, batch, **kw), forward(model, batch, pack=True, **kw)
    sel = padded.mask.bool()
    torch.testing.assert_close(packed.token_logps[sel], padded.token_logps[sel], rtol=1e-5, atol=1e-6)
    assert not packed.token_logps[~sel & ~batch.attention_mask[:, 1:].bool()].any()
    if padded.hits is not None:
        assert torch.equal(packed.hits[sel], padded.hits[sel])
    lengths = batch.attention_mask.sum(-1).tolist()
    if padded.logits is not None:
        for b, n in enumerate(lengths):
            torch.testing.assert_close(packed.logits[b, :n - 1], padded.logits[b, :n - 1])
    if padded.hidden is not None:
        for b, n in enumerate(lengths):
            torch.testing.assert_close(packed.hidden[b, :n], padded.hidden[b, :n])


def test_packed_gradients_equal_the_padded_ones():
    grads = []
    for packed in (False, True):
        model = tiny_model()
        batch = _batch()
        fw = forward(model, batch, keep_logits=True, pack=packed)
        real = batch.attention_mask[:, 1:]                  # the logits at padding differ
        (fw.seq_logps.sum() + (fw.logits.logsumexp(-1) * real).sum()).backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", [None, "npo_retain", "kl"])
def test_training_with_packing_follows_the_padded_curve(method):
    """Same batches, same steps: the loss curves agree to rounding (train.pack on and off), and
    so do the weights' updates. Those are compared per tensor as the norm of the difference
    over the norm of the padded run's update: AdamW divides each gradient by its running
    size, so where a gradient is rounding noise (kl's KL term is exactly zero at the first
    step, the model being its own reference) the noise moves a weight by up to lr, and an
    elementwise tolerance would be a test of float luck. Training on other data instead gives
    a relative difference above 1 for every tensor."""
    assert pack(collate(ragged(12, 0), list(range(6)), 0)) is not None     # packing happens
    spec = METHODS.get(method) if method else None
    objective = spec.objective(spec.hyperparams({})) if spec else FINETUNE
    curves, states = [], []
    init = tiny_model().state_dict()
    for packed in (False, True):
        model = tiny_model()
        reference = None
        if objective.refs:
            from unlearnlab.train.reference import LiveReference
            reference = LiveReference(copy.deepcopy(model))
        cfg = TrainConfig(max_steps=4, batch_size=6, lr=1e-3, pack=packed)
        curves.append(train(model, objective, cfg, forget=ragged(12, 0), retain=ragged(12, 1),
                            pad_id=0, seed=0, reference=reference, progress=False))
        states.append(model.state_dict())
    for a, b in zip(*curves):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4, abs=1e-6)
    for name, start in init.items():
        update = states[0][name] - start
        if update.norm() > 0:
            assert (states[1][name] - states[0][name]).norm() <= 1e-2 * update.norm(), name


class _Opaque(torch.nn.Module):
    """A model whose code the packer cannot vouch for (not transformers' mask builder)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.widths = inner, []

    def forward(self, input_ids, attention_mask=None, **kw):
        self.widths.append(tuple(input_ids.shape))
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, **kw)


def test_a_model_the_packer_cannot_vouch_for_gets_the_padded_batch():
    model, batch = _Opaque(tiny_model()), _batch()
    packed = forward(model, batch, pack=True)
    assert model.widths == [tuple(batch.input_ids.shape)]
    padded = forward(model.inner, batch)
    torch.testing.assert_close(packed.token_logps, padded.token_logps)


def _opt():
    from transformers import OPTConfig, OPTForCausalLM
    torch.manual_seed(0)
    return OPTForCausalLM(OPTConfig(vocab_size=40, hidden_size=32, ffn_dim=64, num_hidden_layers=2,
                                    num_attention_heads=2, max_position_embeddings=64,
                                    word_embed_proj_dim=32, dropout=0.0, pad_token_id=0))


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=40, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))


@pytest.mark.parametrize("build, packs", [(_gpt2, True), (_opt, False)])
def test_the_self_check_packs_only_where_packing_scores_like_padding(build, packs):
    """GPT-2 packs (learned absolute positions from position_ids); OPT builds its mask the
    same way but derives positions its own way, so its packed scores differ: the check
    catches it and OPT gets padded batches. Either way the outputs are the padded ones."""
    model, batch = build(), _batch()
    widths = []
    hook = model.register_forward_pre_hook(
        lambda m, args, kw: widths.append(kw["input_ids"].shape[0]), with_kwargs=True)
    packed = forward(model, batch, pack=True)
    hook.remove()
    assert (widths[-1] < len(batch.input_ids)) == packs
    padded = forward(model, batch)
    sel = padded.mask.bool()
    torch.testing.assert_close(packed.token_logps[sel], padded.token_logps[sel], rtol=1e-5, atol=1e-6)
