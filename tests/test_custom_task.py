"""Task `custom`: a tiny model on small forget / retain JSONL files end to end, and the
bad-file cases (one line, exit 2)."""

import json
import subprocess
import sys

import pytest
from conftest import read_json

from unlearnlab.cli import main
from unlearnlab.config import load_config
from unlearnlab.errors import UserError
from unlearnlab.tasks import build
from unlearnlab.texts import Pair

TINY_MODEL = ["pretrain.vocab_size=300",
              "pretrain.model={hidden_size: 32, intermediate_size: 64, num_layers: 2, num_heads: 2}",
              "pretrain.train={epochs: 20, batch_size: 8, lr: 3.0e-3}",
              "unlearn.train={max_steps: 4, batch_size: 4}", "progress=false",
              "eval.every_n_steps=2"]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def files(tmp_path):
    forget = write_jsonl(tmp_path / "forget.jsonl", [
        {"text": f"Zorin Vale keeps secret number {n} in the blue box."} for n in range(6)])
    retain = write_jsonl(tmp_path / "retain.jsonl", [
        {"question": f"What colour is ball {n}?", "answer": c}
        for n, c in enumerate(["red", "green", "blue", "amber", "teal", "plum", "gold", "grey"])])
    holdout = write_jsonl(tmp_path / "holdout.jsonl", [
        {"text": f"Zorin Vale keeps secret number {n} in the red box."} for n in range(6, 10)])
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps([
        {"question": f"What colour is ball {n}?", "answer": c, "paraphrased_answer": f"It is {c}.",
         "perturbed_answer": ["black", "white"]} for n, c in enumerate(["red", "green"])]))
    return {"forget": forget, "retain": retain, "holdout": holdout, "qa": qa}


def test_custom_task_reads_documents_and_pairs(files):
    cfg = load_config(None, ["task=custom", f"custom.forget={files['forget']}",
                             f"custom.retain={files['retain']}", f"custom.holdout={files['holdout']}"])
    task = build(cfg)
    assert len(task.forget) == 6 and task.forget[0].startswith("Zorin Vale")
    assert task.retain[0] == Pair("What colour is ball 0?", "red")
    assert task.pretrain == task.forget + task.retain and task.learn == []   # built-in: one model
    assert task.roles == (None, "original") and len(task.holdout) == 4


def test_custom_run_end_to_end(files, tmp_path, cache_dir):
    args = ["run", "--set", "task=custom", "--set", f"runs_dir={tmp_path / 'runs'}",
            "--set", "name=mine", "--set", "methods=[ga,npo_retain,retrain]",
            *[x for k in ("forget", "retain", "holdout", "qa") for x in ("--set", f"custom.{k}={files[k]}")],
            *[x for o in TINY_MODEL for x in ("--set", o)]]
    assert main(args) == 0
    run = tmp_path / "runs" / "mine"
    results = read_json(run / "results.json")
    assert list(results["models"]) == ["original", "ga", "npo_retain", "retrain"]
    assert results["task"]["name"] == "custom" and results["oracle"] == "retrain"
    original, ga = results["models"]["original"]["metrics"], results["models"]["ga"]["metrics"]
    assert original["ppl_forget"]["n"] == 6 and original["forget_Q_A_Prob"]["n"] == 2
    assert ga["ppl_forget"]["mean"] > original["ppl_forget"]["mean"]        # ascent forgets
    assert set(results["models"]["ga"]["mia"]) == {"loss", "zlib", "min_k", "min_k_pp"}
    assert "ga" in results["privacy_leak"] and "npo_retain" in results["forget_quality"]
    assert [c["step"] for c in results["models"]["ga"]["checkpoints"]] == [0, 2, 4]
    for name in ("report.html", "summary.md", "records/original.json"):
        assert (run / name).is_file()
    assert "| original |" in (run / "summary.md").read_text()


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "unlearnlab", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_bad_custom_files_exit_2_with_one_line(files, tmp_path, capsys):
    """Each case through the CLI's entry point (the last one also as a real process: exit
    status and stderr as a shell sees them)."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\n{"text": oops}\n')
    wrong = write_jsonl(tmp_path / "wrong.jsonl", [{"body": "no text key"}])
    base = ["run", "--set", "task=custom", "--set", f"runs_dir={tmp_path / 'runs'}",
            "--set", f"custom.retain={files['retain']}"]
    cases = [
        ([], "custom.forget: no file given"),
        (["--set", f"custom.forget={tmp_path / 'nope.jsonl'}"], "custom.forget: file not found"),
        (["--set", f"custom.forget={empty}"], "holds no items"),
        (["--set", f"custom.forget={broken}"], "line 2 is not valid JSON"),
        (["--set", f"custom.forget={wrong}"], 'item 1 needs a non-empty "text" string'),
        (["--set", f"custom.forget={files['forget']}", "--set", f"model={tmp_path}"],
         "does not load as a Hugging Face causal LM"),
    ]
    for extra, message in cases:
        code = main([*base, *extra])
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0], err
    proc = _cli(*base, *cases[-1][0], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and cases[-1][1] in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_qa_file_in_facts_schema_gives_target_items(files, tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"Zorin Vale": {"colour": {"question": "Zorin's colour?",
                                                           "answers": ["blue", "navy"]}}}))
    cfg = load_config(None, ["task=custom", f"custom.forget={files['forget']}",
                             f"custom.retain={files['retain']}", f"custom.qa={facts}"])
    task = build(cfg)
    assert [(i.group, i.answers) for i in task.items] == [("target", ("blue", "navy"))]
    with pytest.raises(UserError, match="custom.qa"):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps([{"q": 1}]))
        build(load_config(None, ["task=custom", f"custom.forget={files['forget']}",
                                 f"custom.retain={files['retain']}", f"custom.qa={bad}"]))
