"""The clean model must know the target facts: an outside model that does not is caught."""

from __future__ import annotations

import subprocess
import sys

from conftest import TINY, read_json
from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

from unlearnlab.config import load_config
from unlearnlab.pipeline import _check_clean


def test_an_outside_model_that_does_not_know_the_facts_is_refused(tiny_run, tmp_path):
    clean = read_json(tiny_run / "manifest.json")["clean_model"]["path"]
    outside = tmp_path / "outside"
    LlamaForCausalLM(AutoConfig.from_pretrained(clean)).save_pretrained(outside)   # random weights
    AutoTokenizer.from_pretrained(clean).save_pretrained(outside)
    proc = subprocess.run([sys.executable, "-m", "unlearnlab", "run", str(TINY),
                           "--set", f"model={outside}", "--set", "eval.clean_check=refuse",
                           "--set", "pretrain.outside.finetune=false",
                           "--set", f"runs_dir={tmp_path / 'runs'}", "--set", "name=outside",
                           "--set", "progress=false"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "the clean model answers only 0.0% of the target questions" in lines[0]
    assert "an outside model does not know the task's facts" in lines[0]
    assert not (tmp_path / "runs" / "outside").exists()


def test_below_the_floor_warns_in_the_results():
    cfg = load_config(TINY, ["eval.clean_floor=0.9"])
    results = {"task": {"restoration": True, "primary": "target_accuracy"},
               "models": {"clean": {"metrics": {"target_accuracy": {"mean": 0.25}}}}}
    logged = []
    _check_clean(cfg, results, "clean", logged.append)
    assert results["warnings"] == [logged[0].removeprefix("WARNING: ")]
    assert "answers only 25.0% of the target questions (target_accuracy), below " \
           "eval.clean_floor 0.9" in results["warnings"][0]
    fine = {"task": results["task"], "models": {"clean": {"metrics": {"target_accuracy": {"mean": 0.95}}}}}
    _check_clean(cfg, fine, "clean", logged.append)
    assert "warnings" not in fine


def test_an_outside_model_is_fine_tuned_on_the_task_corpus_first_and_cached(tiny_run, tmp_path):
    """`model: PATH` on the built-in world: the clean stage fine-tunes the given model on the
    world's biographies (pretrain.outside), caches it, and the run starts from it."""
    import torch

    from unlearnlab import tasks
    from unlearnlab.models.loading import load_causal_lm
    from unlearnlab.stages import pretrain
    from unlearnlab.texts import tokenize

    clean = read_json(tiny_run / "manifest.json")["clean_model"]["path"]
    outside = tmp_path / "outside"
    torch.manual_seed(0)
    LlamaForCausalLM(AutoConfig.from_pretrained(clean)).save_pretrained(outside)   # random weights
    AutoTokenizer.from_pretrained(clean).save_pretrained(outside)
    cfg = load_config(TINY, [f"model={outside}", "pretrain.outside.train={epochs: 3, lr: 3.0e-3, "
                             "batch_size: 16}"])
    task = tasks.build(cfg)
    device = torch.device("cpu")
    first = pretrain.run(cfg, task, device)
    assert first.finetuned_from == str(outside.resolve()) and not first.cached
    assert first.path != outside and first.path.parent.name == "clean"
    curve = read_json(first.path / "loss_curve.json")
    assert len(curve) == -(-3 * len(task.pretrain) // 16)        # 3 epochs of 16-text batches
    assert curve[-1]["loss"] < 0.5 * curve[0]["loss"]             # it learned the corpus

    def corpus_loss(path):
        model, tokenizer = load_causal_lm(path, device)
        data = tokenize(tokenizer, task.pretrain[:32], task.fmt)
        losses = []
        with torch.no_grad():
            for ids in data.input_ids:
                x = torch.tensor([ids])
                losses.append(model(input_ids=x, labels=x).loss.item())
        return sum(losses) / len(losses)

    assert corpus_loss(first.path) < 0.5 * corpus_loss(outside)
    again = pretrain.run(cfg, task, device)                       # the same recipe: cached
    assert again.cached and again.path == first.path
    off = pretrain.run(load_config(TINY, [f"model={outside}", "pretrain.outside.finetune=false"]),
                       task, device)
    assert off.path == outside and off.finetuned_from is None
