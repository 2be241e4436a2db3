"""Perplexity and membership-inference scores against hand-derived values; AUC against sklearn."""

import math

import pytest
import torch
from sklearn.metrics import roc_auc_score

from conftest import tiny_model
from unlearnlab.eval.metrics import score
from unlearnlab.eval.mia import mia_auc, mia_score, perplexity, privacy_leak, without_eos


def doc(group, logps, mu=None, sigma=None, zlib_bytes=10):
    n = len(logps)
    return {"group": group, "index": 0, "token_logps": logps, "mu": mu or [0.0] * n,
            "sigma": sigma or [1.0] * n, "zlib_bytes": zlib_bytes, "argmax_ok": [1] * n}


def test_scores_by_hand():
    # 10 tokens: log-probs -1 .. -10. Mean NLL = 5.5.
    r = doc("forget_docs", [-float(i) for i in range(1, 11)], zlib_bytes=11)
    assert mia_score(r, "loss") == pytest.approx(-5.5)
    assert mia_score(r, "zlib") == pytest.approx(-5.5 / 11)
    # k = 20% of 10 tokens = 2 lowest: -10, -9 -> -9.5
    assert mia_score(r, "min_k") == pytest.approx(-9.5)
    # Min-K%++: z = (logp - mu) / sigma with mu = -5, sigma = 2: lowest two z are -2.5, -2.0
    r2 = doc("forget_docs", r["token_logps"], mu=[-5.0] * 10, sigma=[2.0] * 10)
    assert mia_score(r2, "min_k_pp") == pytest.approx(-2.25)
    assert perplexity(r) == pytest.approx(math.exp(5.5))


def test_auc_matches_sklearn_and_orientation():
    members = [doc("forget_docs", [-0.1, -0.2]), doc("forget_docs", [-1.0, -0.5])]
    others = [doc("holdout_docs", [-2.0, -3.0]), doc("holdout_docs", [-0.3, -0.4]),
              doc("retain_docs", [-9.0])]                     # ignored by the AUC
    out = mia_auc(members + others)
    # loss scores: members -0.15, -0.75; non-members -2.5, -0.35 -> pairs won: 3 of 4
    assert out["loss"]["auc"] == pytest.approx(0.75)
    expected = roc_auc_score([1, 1, 0, 0], [-0.15, -0.75, -2.5, -0.35])
    assert out["loss"]["auc"] == pytest.approx(expected)
    assert out["loss"]["n_members"] == 2 and out["loss"]["n_nonmembers"] == 2
    assert mia_auc(members) == {}
    # MUSE's labelling (forget = non-member) turns AUC a into 1 - a, and PrivLeak is in percent:
    # (0.25 - 0.5) / 0.5 * 100 = -50 (forget still detectable); (0.6 - 0.5) / 0.5 * 100 = +20
    assert privacy_leak(0.75, 0.5) == pytest.approx(-50.0)
    assert privacy_leak(0.4, 0.5) == pytest.approx(20.0)
    # open-unlearning's privleak with its default reference AUC 0.5 is (0.5 - AUC) * 200
    assert privacy_leak(0.9, 0.5) == pytest.approx((0.5 - 0.9) * 200)


def test_perplexity_metrics_are_per_group():
    recs = [doc("forget_docs", [-math.log(2)] * 3), doc("retain_docs", [-math.log(4)] * 2),
            doc("holdout_docs", [-math.log(8)])]
    out = score(recs)
    assert out["ppl_forget"]["values"] == pytest.approx([2.0])
    assert out["ppl_retain"]["values"] == pytest.approx([4.0])
    assert out["ppl_holdout"]["values"] == pytest.approx([8.0])
    assert out["ppl_forget"]["direction"] == "higher" and out["ppl_retain"]["direction"] == "lower"


def test_text_records_statistics_match_the_model():
    """mu/sigma are the mean/sd of log p under the model's own next-token distribution, and
    the records do not depend on the batch size."""
    from unlearnlab.eval.records import text_records
    from unlearnlab.models.tiny import train_tokenizer
    from unlearnlab.texts import PromptFormat

    texts = ["Ab cd ef.", "Gh ij.", "Kl mn op qr st."]
    tok = train_tokenizer(texts * 3, 300)
    model = tiny_model()
    model.resize_token_embeddings(len(tok))
    one = text_records(model, tok, texts, PromptFormat(), "forget_docs", batch_size=1)
    many = text_records(model, tok, texts, PromptFormat(), "forget_docs", batch_size=3)
    for a, b in zip(one, many):
        for key in ("token_logps", "mu", "sigma"):
            assert a[key] == pytest.approx(b[key], abs=1e-5)
    ids = torch.tensor([[tok.bos_token_id] + tok.encode(texts[1], add_special_tokens=False)
                        + [tok.eos_token_id]])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1], -1)
    mu = (logp.exp() * logp).sum(-1)
    sd = (logp.exp() * (logp - mu[:, None]).pow(2)).sum(-1).sqrt()   # the sd's definition
    assert one[1]["mu"] == pytest.approx(mu.tolist(), abs=1e-5)
    assert one[1]["sigma"] == pytest.approx(sd.tolist(), abs=1e-5)
    assert one[1]["token_logps"] == pytest.approx(logp.gather(1, ids[0, 1:, None])[:, 0].tolist(), abs=1e-5)
    assert one[1]["argmax_ok"] == (logp.argmax(-1) == ids[0, 1:]).int().tolist()


def test_memorization_by_hand():
    from unlearnlab.eval.mia import exact_memorization, extraction_strength

    r = {"argmax_ok": [0, 1, 0, 1, 1]}
    assert exact_memorization(r) == pytest.approx(3 / 5)
    # the suffix from position 3 on is all hits: k* = 3 -> ES = 1 - 3/5
    assert extraction_strength(r) == pytest.approx(2 / 5)
    assert extraction_strength({"argmax_ok": [1, 1, 1]}) == 1.0
    assert extraction_strength({"argmax_ok": [1, 1, 0]}) == 0.0
    recs = [{**doc("forget_docs", [-1.0] * 5), "argmax_ok": [0, 1, 0, 1, 1]},
            {**doc("retain_docs", [-1.0] * 2), "argmax_ok": [1, 1]}]
    out = score(recs)
    assert out["exact_mem_forget"]["values"] == pytest.approx([0.6])
    assert out["extraction_forget"]["direction"] == "lower"
    assert out["extraction_retain"]["values"] == [1.0]


def test_min_k_share_and_eos_left_out():
    """TOFU's settings (open-unlearning): Min-K% over the lowest 40% of the answer tokens, the
    final EOS not scored. [-1, -2, -3, -4] + EOS -0.5: 40% of 4 -> the lowest 1 = -4; with
    EOS kept, 40% of 5 -> the lowest 2 = (-4 - 3) / 2."""
    member = doc("forget_docs", [-1.0, -2.0, -3.0, -4.0, -0.5])
    other = doc("holdout_docs", [-3.5, -3.5, -3.5, -3.5, -0.1])
    assert mia_score(without_eos(member), "min_k", 0.4) == pytest.approx(-4.0)
    assert mia_score(member, "min_k", 0.4) == pytest.approx(-3.5)
    # member -4 vs other -3.5: the member looks less like a member -> AUC 0; with EOS: tie
    assert mia_auc([member, other], 0.4, drop_eos=True)["min_k"]["auc"] == 0.0
    assert mia_auc([member, other], 0.4, drop_eos=False)["min_k"]["auc"] == 0.5
