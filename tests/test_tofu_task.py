"""Task `tofu`: its sets and tokenisation, open-unlearning's metrics by hand, and parity with
open-unlearning's own evaluation of the fixed tiny Llama (skipped without ../shared)."""

import math
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from unlearnlab.config import load_config
from unlearnlab.eval.metrics import score
from unlearnlab.eval.records import make_records
from unlearnlab.eval.tofu import ou_extraction_strength, ou_prob_normalised, ou_truth_ratio
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.tasks import build
from unlearnlab.texts import Pair, tokenize

SHARED = ROOT.parent / "shared"
DATA, TOOL = SHARED / "data" / "tofu", SHARED / "tools" / "make_tiny_llama.py"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="TOFU data not found at ../shared/data/tofu")
# open-unlearning's evaluation of make_tiny_llama.py's model on forget10 (../shared/tools/README.md)
OPEN_UNLEARNING = {"forget_truth_ratio": 0.97528, "forget_Q_A_Prob": 1.1344e-4,
                   "forget_Q_A_ROUGE": 0.0036459, "extraction_strength": 0.036215}


def record(scores: dict, **kw) -> dict:
    return {"answers": ["gold"], "scores": scores, "perturbed": ["p1", "p2"],
            "paraphrased_answer": "para", "gold_hits": [], "eos_scored": True, **kw}


def test_truth_ratio_is_a_geometric_mean_against_the_paraphrase():
    """Mean NLLs: para 1.0, p1 2.0, p2 4.0 -> tr = exp(-3) / exp(-1) = exp(-2)."""
    r = record({"para": [-2.0, 2], "p1": [-6.0, 3], "p2": [-4.0, 1], "gold": [-1.0, 1]})
    assert ou_truth_ratio(r, "para") == pytest.approx(math.exp(-2.0))
    values = score([{**r, "group": "forget", "prediction": "gold"}])
    assert values["forget_truth_ratio"]["mean"] == pytest.approx(math.exp(-2.0))      # min(tr, 1/tr)
    assert values["forget_truth_ratio_raw"]["mean"] == pytest.approx(math.exp(-2.0))
    retain = score([{**r, "group": "retain", "prediction": "gold"}])
    assert retain["retain_Truth_Ratio"]["mean"] == pytest.approx(1 - math.exp(-2.0))
    # normalised probability: e^-1 / (e^-1 + e^-2 + e^-4)
    assert ou_prob_normalised(r) == pytest.approx(math.exp(-1) / (math.exp(-1) + math.exp(-2)
                                                                  + math.exp(-4)))


def test_extraction_strength_follows_open_unlearning():
    """Hits over 4 answer tokens and the scored EOS (dropped): 1 - k/n, with k = n - 1 when no
    suffix matches (open-unlearning's loop), so 1/n rather than 0."""
    assert ou_extraction_strength(record({}, gold_hits=[0, 1, 1, 1, 0])) == pytest.approx(0.75)
    assert ou_extraction_strength(record({}, gold_hits=[1, 1, 1, 1, 1])) == pytest.approx(1.0)
    assert ou_extraction_strength(record({}, gold_hits=[0, 0, 0, 0, 1])) == pytest.approx(0.25)
    assert ou_extraction_strength(record({}, gold_hits=[0, 0, 0, 1, 1])) == pytest.approx(0.25)


@needs_data
def test_tofu_task_sets():
    task = build(load_config(None, ["task=tofu", f"tofu.data_dir={DATA}"]))
    assert len(task.forget) == 400 and len(task.retain) == 3600 and len(task.learn) == 4000
    assert len(task.holdout) == 40 and task.pretrain == [] and task.roles == ("base", "target")
    assert task.forget_positions() == list(range(3600, 4000))
    groups = [i.group for i in task.items]
    assert [groups.count(g) for g in ("forget", "retain", "ra", "wf")] == [400, 400, 100, 117]
    small = build(load_config(None, ["task=tofu", f"tofu.data_dir={DATA}", "tofu.split=forget01"]))
    assert len(small.forget) == 40 and len(small.retain) == 3960


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    if not (DATA.is_dir() and TOOL.is_file()):
        pytest.skip("../shared/data/tofu or ../shared/tools/make_tiny_llama.py not found")
    out = tmp_path_factory.mktemp("tiny_llama")
    subprocess.run([sys.executable, str(TOOL), str(DATA), str(out)], check=True,
                   capture_output=True, timeout=600)
    return out


def test_answer_tokens_follow_open_unlearnings_mask(tiny_llama):
    """The prompt alone ends in a space token that merges into the first answer word in the
    joint tokenisation; masking by the prompt's length also masks that word."""
    model, tok = load_causal_lm(tiny_llama, torch.device("cpu"))
    fmt = build(load_config(None, ["task=tofu", f"tofu.data_dir={DATA}"])).fmt
    pair = Pair("Who wrote it?", "The author is Jo.")
    ex = tokenize(tok, [pair], fmt)
    prompt_ids = tok(fmt.prompt(pair.question)).input_ids            # BOS + prompt, as Llama adds
    joint = tok(fmt.prompt(pair.question) + pair.answer).input_ids + [tok.eos_token_id]
    assert ex.input_ids[0] == joint
    assert ex.loss_mask[0] == [0] * len(prompt_ids) + [1] * (len(joint) - len(prompt_ids))


def test_parity_with_open_unlearning_on_forget10(tiny_llama):
    """The four forget10 numbers of open-unlearning's evaluation, to 1e-4 relative."""
    task = build(load_config(None, ["task=tofu", f"tofu.data_dir={DATA}"]))
    model, tok = load_causal_lm(tiny_llama, torch.device("cpu"))
    items = [i for i in task.items if i.group == "forget"]
    # generation at batch 400 on the preallocated cache: the same answers, less time (README, issue 14)
    scores = score(make_records(model, tok, items, task.fmt, 32, task.fmt.max_new_tokens,
                                generate_batch_size=400))
    for name, reference in OPEN_UNLEARNING.items():
        assert scores[name]["mean"] == pytest.approx(reference, rel=1e-4), name
    assert scores["forget_Q_A_Prob"]["n"] == 400
