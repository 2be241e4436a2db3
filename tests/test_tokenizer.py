import random

from transformers import AutoTokenizer

from unlearnlab.models.tiny import train_tokenizer
from unlearnlab.world.corpora import pretraining_texts
from unlearnlab.world.generator import generate_world


def _tokenizer():
    world = generate_world(0, 10)
    return train_tokenizer(pretraining_texts(world, 1, random.Random(0)), 600)


def test_round_trip_of_any_text_and_after_save(tmp_path):
    tok = _tokenizer()
    for text in ["Question: Where was Zorbu Kai born?\nAnswer: Velmora",
                 "Ünïcödé ✓ 東京 — tabs\tand  double  spaces", ""]:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "The pet of Lei Drobre is a gecko."
    assert loaded.encode(text, add_special_tokens=False) == tok.encode(text, add_special_tokens=False)
    assert (loaded.bos_token, loaded.eos_token, loaded.pad_token) == ("<s>", "</s>", "<pad>")


def test_bpe_really_merges_world_text():
    tok = _tokenizer()
    world = generate_world(0, 10)
    text = " ".join(pretraining_texts(world, 1, random.Random(1)))
    n_tokens = len(tok.encode(text, add_special_tokens=False))
    assert n_tokens < len(text.encode()) / 2.5   # byte-level would be one token per byte
    assert tok.convert_ids_to_tokens(tok.encode(" the", add_special_tokens=False)) == ["Ġthe"]


def test_memoised_batch_encoding_equals_encode():
    """batches.encode (evaluation's memo + one batched call) gives tokenizer.encode's ids,
    for repeated, empty and unseen strings, and starts over when tokens are added."""
    from unlearnlab.train.batches import encode

    tok = _tokenizer()
    texts = ["Question: Where was Zorbu Kai born?\nAnswer:", "Question: Where was Zorbu Kai "
             "born?\nAnswer: Velmora", "", "Ünïcödé ✓ 東京", "Question: Where was Zorbu Kai born?"
             "\nAnswer:"]
    want = [tok.encode(t, add_special_tokens=False) for t in texts]
    assert encode(tok, texts) == want
    assert encode(tok, texts[::-1]) == want[::-1]          # from the memo
    before = encode(tok, ["Velmora"])[0]
    tok.add_tokens(["Velmora"])
    after = encode(tok, ["Velmora"])[0]
    assert after == tok.encode("Velmora", add_special_tokens=False) == [len(tok) - 1] != before
