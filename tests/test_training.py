"""The one loop: reference caching, accumulation invariance, parameter subsets, determinism."""

import copy

import pytest
import torch
from conftest import examples, tiny_model

from unlearnlab.methods import METHODS
from unlearnlab.train.batches import ExampleSet, collate, documents
from unlearnlab.train.forward import forward
from unlearnlab.train.inputs import StepInputs
from unlearnlab.train.loop import FINETUNE, TrainConfig, train
from unlearnlab.train.reference import CachedReference, LiveReference


def npo(beta=0.5):
    spec = METHODS.get("npo")
    return spec.objective(spec.hyperparams({"beta": beta}))


def test_cached_reference_equals_live_reference_in_loss_and_training():
    model, forget, retain = tiny_model(), examples(8, 0), examples(6, 1)
    sets = {"forget": forget, "retain": retain}
    kinds = ("forget_seq", "forget_dist", "retain_dist", "retain_hidden")
    cached = CachedReference(model, 0, sets, kinds, hidden_layer=1)
    live = LiveReference(model, hidden_layer=1)
    batch = collate(forget, [5, 2, 7], 0)
    torch.testing.assert_close(cached.get("forget_seq", batch), live.get("forget_seq", batch))
    keep = batch.attention_mask[:, 1:].bool()
    torch.testing.assert_close(cached.get("forget_dist", batch)[keep],
                               live.get("forget_dist", batch)[keep])
    rb = collate(retain, [4, 0], 0)
    keep = rb.attention_mask[:, 1:].bool()
    torch.testing.assert_close(cached.get("retain_dist", rb)[keep], live.get("retain_dist", rb)[keep])
    keep = rb.attention_mask.bool()
    torch.testing.assert_close(cached.get("retain_hidden", rb)[keep],
                               live.get("retain_hidden", rb)[keep])

    # At the start the NPO loss is (2/beta) ln 2 with either reference.
    inp = StepInputs(forget=forward(model, batch), ref={"forget_seq": cached.get("forget_seq", batch)})
    assert npo().loss(inp)[0].item() == pytest.approx(2 / 0.5 * torch.log(torch.tensor(2.0)).item())

    cfg = TrainConfig(max_steps=4, batch_size=3, lr=1e-2)
    a, b = tiny_model(), tiny_model()
    curve_a = train(a, npo(), cfg, forget=forget, pad_id=0, seed=1, progress=False,
                    reference=CachedReference(a, 0, {"forget": forget}, ("forget_seq",)))
    curve_b = train(b, npo(), cfg, forget=forget, pad_id=0, seed=1, progress=False,
                    reference=LiveReference(b))
    assert [c["loss"] for c in curve_a] == pytest.approx([c["loss"] for c in curve_b], abs=1e-6)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)


def test_batch_times_accumulation_is_invariant():
    data = examples(8)
    a, b = tiny_model(), tiny_model()
    train(a, FINETUNE, TrainConfig(max_steps=3, batch_size=4, grad_accum=1, lr=1e-2),
          forget=data, pad_id=0, seed=0, progress=False)
    train(b, FINETUNE, TrainConfig(max_steps=3, batch_size=2, grad_accum=2, lr=1e-2),
          forget=data, pad_id=0, seed=0, progress=False)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, atol=1e-5, rtol=1e-4)


def test_parameters_outside_the_subset_stay_bit_for_bit():
    model = tiny_model()
    before = copy.deepcopy(model.state_dict())
    subset = [model.model.embed_tokens.weight]
    train(model, FINETUNE, TrainConfig(max_steps=2, batch_size=4, lr=1e-2), forget=examples(),
          pad_id=0, seed=0, progress=False, params=subset)
    after = model.state_dict()
    for name, value in after.items():
        if name == "model.embed_tokens.weight":
            assert not torch.equal(value, before[name])
        else:
            assert torch.equal(value, before[name]), name


def test_same_seed_same_curve_and_other_seed_differs():
    curves = []
    for seed in (0, 0, 1):
        model = tiny_model()
        curves.append([c["loss"] for c in train(
            model, FINETUNE, TrainConfig(max_steps=4, batch_size=2, lr=1e-2), forget=examples(),
            pad_id=0, seed=seed, progress=False)])
    assert curves[0] == curves[1]
    assert curves[0] != curves[2]


def test_documents_count_every_token_and_prompt_answers_only_the_answer():
    from unlearnlab.models.tiny import train_tokenizer
    from unlearnlab.train.batches import prompt_answers

    tok = train_tokenizer(["Question: Where?\nAnswer: Velmora"] * 5, 300)
    doc = documents(tok, ["Answer: Velmora"], 64)
    assert doc.input_ids[0][0] == tok.bos_token_id and doc.input_ids[0][-1] == tok.eos_token_id
    assert doc.loss_mask[0] == [0] + [1] * (len(doc.input_ids[0]) - 1)
    pa = prompt_answers(tok, ["Question: Where?\nAnswer:"], [" Velmora"], 64, eos=False)
    answer_ids = [t for t, m in zip(pa.input_ids[0], pa.loss_mask[0]) if m]
    assert tok.decode(answer_ids) == " Velmora"


def test_forward_is_the_same_with_left_or_right_padding_and_any_batch_size():
    model, data = tiny_model(), examples(6)
    alone = [forward(model, collate(data, [i], 0)) for i in range(6)]
    for left in (False, True):
        fw = forward(model, collate(data, list(range(6)), 0, left_pad=left))
        for i, one in enumerate(alone):
            n = int(one.mask.sum())
            got = fw.token_logps[i][fw.mask[i].bool()]
            torch.testing.assert_close(got, one.token_logps[0][one.mask[0].bool()], atol=1e-5, rtol=0)
            assert got.numel() == n


def test_counted_only_projects_the_counted_positions_alone():
    """`counted_only`: the LM head sees exactly the counted positions, and their log-probs
    and argmax hits are the full forward's; other positions stay 0."""
    model = tiny_model()
    ids = [[1, 5, 6, 7, 8, 9], [1, 10, 11, 12], [1, 13, 14, 15, 16, 17, 18, 19]]
    masks = [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 1, 1]]
    batch = collate(ExampleSet(ids, masks), [0, 1, 2], 0)
    rows = []
    hook = model.lm_head.register_forward_hook(lambda m, i, o: rows.append(i[0].shape[:-1]))
    full = forward(model, batch, argmax=True)
    fast = forward(model, batch, argmax=True, counted_only=True)
    hook.remove()
    assert rows == [torch.Size([3, 8]), torch.Size([3 + 2 + 2])]       # 7 counted targets
    sel = fast.mask.bool()
    torch.testing.assert_close(fast.token_logps[sel], full.token_logps[sel], rtol=1e-5, atol=1e-6)
    assert torch.equal(fast.hits[sel], full.hits[sel])
    assert not fast.token_logps[~sel].any() and not fast.hits[~sel].any()
    torch.testing.assert_close(fast.seq_logps, full.seq_logps, rtol=1e-5, atol=1e-5)


def test_greedy_answers_are_the_same_with_the_filled_cache(monkeypatch):
    """CPU generation writes keys and values into a buffer of the final length and attends
    over its filled part only (eval/kv_cache.py); the greedy tokens equal the default
    cache's, also when the buffer is planned too short and has to grow."""
    from unlearnlab.eval import kv_cache, records
    from unlearnlab.models.tiny import train_tokenizer

    tok = train_tokenizer(["a b c d e f g h i j k l m n o p q r s t"] * 4, 300)
    model = tiny_model()
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    prompts = ["a b", "c d e f g", "h", "i j k l"]
    made = []

    def planned(m, capacity, short=False):
        made.append(kv_cache.filled_cache(m, 2 if short else capacity))
        return made[-1]

    monkeypatch.setattr(records, "filled_cache", planned)
    filled = records.greedy_answers(model, tok, prompts, 3, 12, stop=[])
    assert len(made) == 2 and all(filled)                   # two batches (3 + 1 prompts)
    for cache in made:
        for layer in cache.layers:               # views of the filled part: 12 - 1 new tokens
            width = layer.key_buffer.shape[-2] - 12
            assert layer.keys.shape[-2] == layer.filled == width + 11
            assert layer.keys.data_ptr() == layer.key_buffer.data_ptr()
    monkeypatch.setattr(records, "filled_cache", lambda m, c: planned(m, c, short=True))
    assert records.greedy_answers(model, tok, prompts, 3, 12, stop=[]) == filled
    assert made[-1].layers[0].key_buffer.shape[-2] >= made[-1].layers[0].filled > 2
    monkeypatch.setattr(records, "_cpu_cache", lambda m, c: {})   # transformers' own cache
    assert records.greedy_answers(model, tok, prompts, 3, 12, stop=[]) == filled


def test_question_records_do_not_depend_on_batch_size():
    import random as rnd

    from unlearnlab.eval.records import make_records
    from unlearnlab.models.tiny import train_tokenizer
    from unlearnlab.tasks.facts_items import fact_items
    from unlearnlab.texts import PromptFormat
    from unlearnlab.world.corpora import pretraining_texts
    from unlearnlab.world.facts import value_pools
    from unlearnlab.world.generator import generate_world

    world = generate_world(0, 4)
    tok = train_tokenizer(pretraining_texts(world, 1, rnd.Random(0)), 400)
    model = tiny_model()
    model.resize_token_embeddings(len(tok))
    facts = world.facts()
    items = fact_items(facts, list(world.entities[:2]), "target", value_pools(facts),
                       {e: {r: "Velmora" for r in facts[e]} for e in world.entities[:2]}, 0, probe=True)
    a = make_records(model, tok, items, PromptFormat(), batch_size=1, max_new_tokens=4)
    b = make_records(model, tok, items, PromptFormat(), batch_size=13, max_new_tokens=4)
    for ra, rb in zip(a, b):
        assert ra["prediction"] == rb["prediction"]
        for cand, (lp, n) in ra["scores"].items():
            assert rb["scores"][cand][1] == n and abs(rb["scores"][cand][0] - lp) < 1e-5


def test_shared_prefix_scores_equal_whole_sequence_scores(monkeypatch):
    """Answers of one prompt scored in one row behind its shared encoding (a tree attention
    mask) give the log-probs, counts and argmax hits of scoring each prompt + answer whole
    (prompts of unequal length in one batch, answers of unequal length, an empty one, both
    answer masks, with and without EOS), with SDPA's boolean mask and eager attention's additive one; a
    model that cannot take the mask scores whole."""
    from unlearnlab.eval import records, shared_prefix
    from unlearnlab.eval.records import answer_logprobs
    from unlearnlab.models.tiny import train_tokenizer

    texts = ["Question: where is it?\nAnswer: in the red box", "Question: who?\nAnswer: Bo",
             "a b c d e f g h i j k l m n o p"]
    tok = train_tokenizer(texts * 4, 300)
    prompts = (["Question: where is it?\nAnswer:"] * 4 + ["Question: who?\nAnswer:"] * 2
               + ["lonely prompt"])
    answers = [" in the red box", " blue", " in a b c d e", "", " Bo", " Ann Lee", " x"]
    for attention in ("sdpa", "eager"):
        model = tiny_model()
        model.resize_token_embeddings(len(tok), mean_resizing=False)
        model.config._attn_implementation = attention
        assert shared_prefix.tree_ok(model)
        calls = []
        monkeypatch.setattr(records, "score_groups", lambda *args: calls.append(len(args[2]))
                            or shared_prefix.score_groups(*args))
        for eos, mask in ((False, "prefix"), (True, "length")):
            shared = answer_logprobs(model, tok, prompts, answers, 4, eos=eos, mask=mask)
            whole = [answer_logprobs(model, tok, [p], [a], 1, eos=eos, mask=mask)[0]
                     for p, a in zip(prompts, answers)]
            for k, ((lp_s, n_s, hit_s), (lp_w, n_w, hit_w)) in enumerate(zip(shared, whole)):
                assert n_s == n_w and hit_s == hit_w
                assert n_s > 0 or (k == 3 and not eos)   # an empty answer scores nothing
                assert lp_s == pytest.approx(lp_w, abs=1e-4)
        assert calls == [2, 2]                 # both prompt groups in one tree batch, each time
    model = tiny_model()
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    model.config._attn_implementation = "no_such_kernel"
    assert not shared_prefix.tree_ok(model)


def test_bf16_autocast_is_applied_on_cpu_too():
    """precision=bf16 on a CPU run was recorded but not applied; now matmuls run in bf16."""
    from unlearnlab.models.loading import autocast

    layer = torch.nn.Linear(4, 3)
    x = torch.full((2, 4), 1 / 3)
    with autocast(torch.device("cpu"), "bf16"):
        low = layer(x)
    with autocast(torch.device("cpu"), "fp32"):
        full = layer(x)
    assert low.dtype == torch.bfloat16 and full.dtype == torch.float32
    assert torch.allclose(low.float(), full, atol=2e-2) and not torch.equal(low.float(), full)


def test_group_by_length_batches_similar_lengths_and_covers_each_epoch():
    """train.group_by_length: an epoch still visits every item once, batches hold items of
    near-equal length (a window of 50 batches sorted, so here one sorted epoch), the batch
    order is shuffled; without lengths the stream is the plain shuffled one."""
    import random

    from unlearnlab.train.loop import index_stream

    lengths = [(i * 37) % 88 + 3 for i in range(64)]
    grouped = index_stream(64, 8, random.Random(0), lengths)
    epoch = [next(grouped) for _ in range(8)]
    assert sorted(i for b in epoch for i in b) == list(range(64))
    ranked = sorted(lengths)
    spans = sorted(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch)
    assert spans == sorted(ranked[k + 7] - ranked[k] for k in range(0, 64, 8))
    firsts = [min(lengths[i] for i in b) for b in epoch]
    assert firsts != sorted(firsts)                      # batches come in shuffled order
    plain, rng = index_stream(64, 8, random.Random(0)), random.Random(0)
    order = list(range(64))
    rng.shuffle(order)
    assert [next(plain) for _ in range(8)] == [order[k:k + 8] for k in range(0, 64, 8)]
