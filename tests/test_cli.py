"""The CLI end to end on the tiny config, and its errors."""

import subprocess
import sys

import pytest
import torch
from conftest import TINY, read_json, refused_keeping_run
from transformers import AutoModelForCausalLM, AutoTokenizer

from unlearnlab.cli import main
from unlearnlab.world.corpora import qa_prompt

MODELS = ["clean", "corrupted", "ga", "graddiff", "kl", "npo", "npo_retain"]


def test_run_writes_every_artifact(tiny_run):
    for name in ["manifest.json", "results.json", "summary.md", "facts.json", "corruption.json",
                 "curves/learn.json", "curves/npo.json", "records/clean.json"]:
        assert (tiny_run / name).is_file(), name
    results = read_json(tiny_run / "results.json")
    assert list(results["models"]) == MODELS
    n_target = len(results["items"]["target"])
    assert n_target == 4 * 8                                      # 4 targets x 8 relations
    for model in MODELS:
        metrics = results["models"][model]["metrics"]
        assert metrics["target_accuracy"]["n"] == n_target
        assert len(results["models"][model]["values"]["target_accuracy"]) == n_target
        assert metrics["utility"]["n"] == len(results["items"]["utility"]) == 28 * 8
    manifest = read_json(tiny_run / "manifest.json")
    assert manifest["config"]["world"]["n_entities"] == 32
    assert {"task", "pretrain", "learn", "evaluate", "unlearn:npo"} <= set(manifest["wall_time_s"])
    assert "torch" in manifest["versions"] and manifest["clean_model"]["cached"] is False
    # without retrain in the run, the clean model is the oracle for forget quality / privacy leak
    assert results["oracle"] == "clean"
    assert set(results["forget_quality"]) == set(results["privacy_leak"]) == set(MODELS) - {"clean"}
    assert 0.0 <= results["forget_quality"]["npo"] <= 1.0
    assert set(results["privacy_leak"]["ga"]) == {"loss", "zlib", "min_k", "min_k_pp"}
    assert results["model_utility"]["clean"] > 0.5
    summary = (tiny_run / "summary.md").read_text()
    for model in MODELS:
        assert f"| {model} |" in summary


def test_clean_model_knows_and_corruption_really_corrupts(tiny_run):
    m = read_json(tiny_run / "results.json")["models"]
    clean, corrupted = m["clean"]["metrics"], m["corrupted"]["metrics"]
    assert clean["target_accuracy"]["mean"] >= 0.9 and clean["utility"]["mean"] >= 0.9
    assert clean["corrupted_rate"]["mean"] == 0.0
    assert corrupted["target_accuracy"]["mean"] <= clean["target_accuracy"]["mean"] - 0.4
    assert corrupted["corrupted_rate"]["mean"] >= 0.25
    # the probe: the injected answer became far more likely, the correct one less
    assert corrupted["logp_corrupted"]["mean"] >= clean["logp_corrupted"]["mean"] + 1.0
    assert corrupted["logp_correct"]["mean"] < clean["logp_correct"]["mean"]


def test_saved_clean_model_loads_with_plain_transformers_and_answers(tiny_run):
    folder = read_json(tiny_run / "manifest.json")["clean_model"]["path"]
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    facts = read_json(tiny_run / "facts.json")
    entity = next(iter(facts))
    fact = facts[entity]["occupation"]
    ids = torch.tensor([[tok.bos_token_id] + tok.encode(qa_prompt(fact["question"]),
                                                        add_special_tokens=False)])
    out = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id)
    assert tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip() == fact["answers"][0]


def test_same_config_and_seed_give_identical_results(tiny_run, tiny_cache, monkeypatch):
    runs = tiny_run.parent
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tiny_cache))   # where tiny_run's clean model is
    assert main(["run", str(TINY), "--set", f"runs_dir={runs}", "--set", "name=second",
                 "--set", "resume=false"]) == 0             # computed again, not reused
    first = read_json(tiny_run / "results.json")
    second = read_json(runs / "second" / "results.json")
    assert first == second
    manifest = read_json(runs / "second" / "manifest.json")
    assert manifest["clean_model"]["cached"] is True and manifest["resumed"] == []


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "unlearnlab", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: [ga, magic]\n")
    cases = [
        ([str(bad)], "methods: unknown method 'magic'; valid: all, finetune_retain, "),
        (["--set", "world.colour=blue"], "unknown config key 'world.colour'"),
        (["--set", "hparams.npo.beta=-0.5"], "hparams.npo.beta must be > 0.0"),
        (["--set", f"model={tmp_path / 'no-model'}"], "is not a folder"),
        ([str(tmp_path / "missing.yaml")], "config file not found"),
    ]
    for args, message in cases:
        proc = _cli("run", *args, "--set", f"runs_dir={tmp_path / 'runs'}", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_failed_rerun_is_a_clean_error_and_keeps_the_previous_run(tiny_run, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    before = (tiny_run / "results.json").read_bytes()
    proc = _cli("run", str(TINY), "--set", f"model={tmp_path / 'broken'}",
                "--set", f"runs_dir={tiny_run.parent}", "--set", f"name={tiny_run.name}",
                cwd=tmp_path)
    assert proc.returncode == 2 and "does not load as a Hugging Face causal LM" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (tiny_run / "results.json").read_bytes() == before
    assert not [p.name for p in tiny_run.parent.iterdir() if p.name.startswith(".")]


def test_methods_and_help(tmp_path):
    proc = _cli("methods", cwd=tmp_path)
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert {"ga", "graddiff", "kl", "npo", "npo_retain"} <= set(names)
    assert "arXiv 2404.05868" in proc.stdout
    for args in (["--help"], ["run", "--help"], ["methods", "--help"]):
        assert _cli(*args, cwd=tmp_path).returncode == 0


def test_checkpoints_every_n_steps_bracket_the_unlearning(curves_run):
    """eval.every_n_steps=4 with 8 unlearning steps: checkpoints at 0, 4, 8 per loss method;
    step 0 is the corrupted model and step 8 the method's final model, so both must equal the
    metrics evaluated separately for those models."""
    models = read_json(curves_run / "results.json")["models"]
    corrupted = models["corrupted"]["metrics"]
    npo = models["npo"]
    assert [c["step"] for c in npo["checkpoints"]] == [0, 4, 8]
    for metric in ("target_accuracy", "corrupted_rate", "utility", "ppl_forget"):
        assert npo["checkpoints"][0][metric] == corrupted[metric]["mean"]
        assert npo["checkpoints"][-1][metric] == npo["metrics"][metric]["mean"]
    # iterative: 2 rounds x 3 steps, checkpoints counted across rounds
    # (the final model at step 6 closes the curve with its own evaluation)
    assert [c["step"] for c in models["iterative"]["checkpoints"]] == [0, 4, 6]
    assert models["iterative"]["checkpoints"][-1]["utility"] == \
        models["iterative"]["metrics"]["utility"]["mean"]
    assert "checkpoints" not in models["task_vector"]          # a procedure without a loop of its own


def test_paired_comparisons_per_method_adjusted(tiny_run):
    results = read_json(tiny_run / "results.json")
    models, cmp = results["models"], results["comparisons"]
    assert set(cmp) == set(MODELS) - {"clean", "corrupted"}
    for name, by_metric in cmp.items():
        c = by_metric["target_accuracy"]["vs_corrupted"]
        a = models[name]["values"]["target_accuracy"]
        b = models["corrupted"]["values"]["target_accuracy"]
        assert c["n"] == len(a) and abs(c["mean_diff"] - (sum(a) - sum(b)) / len(a)) < 1e-12
        assert c["test"] == "mcnemar_exact"                       # right/wrong answers
        assert c["p"] <= c["p_adj"] == min(1.0, c["family"] * c["p"])
        assert c["family"] == len(cmp)
        assert "vs_clean" in by_metric["logp_correct"]


def test_methods_name_describes_one_method_and_version(tmp_path):
    proc = _cli("methods", "npo", cwd=tmp_path)
    assert proc.returncode == 0
    assert "L_NPO(theta) = -(2 / beta)" in proc.stdout                    # the equation
    assert "  beta: float = 0.1  valid: > 0.0" in proc.stdout.splitlines()
    proc = _cli("methods", "magic", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "unknown method 'magic'" in proc.stderr
    from unlearnlab import __version__

    assert _cli("--version", cwd=tmp_path).stdout.strip() == f"unlearnlab {__version__}"


BAD_INPUTS = [
    ("unlearn.train.lr=.nan", "unlearn.train.lr must be a finite number > 0, got nan"),
    ("unlearn.train.max_grad_norm=-1", "max_grad_norm must be >= 0 (0 = no clipping)"),
    ("learn.train.weight_decay=-0.1", "learn.train.weight_decay must be >= 0"),
    ("unlearn.train.warmup_ratio=2", "warmup_ratio must be in [0, 1), got 2.0"),
    ("world.docs_per_entity=0", "world.docs_per_entity >= 1"),
    ("world.relations=[]", "world.relations is empty; name one or more of: birthplace"),
    ("pretrain.vocab_size=0", "pretrain.vocab_size must be >= 64"),
    ("eval.utility_entities=-1", "eval.utility_entities must be >= 0 (0 = all), got -1"),
    ("hparams.npo=5", "hparams.npo: expected a mapping of hyperparameters, got 5"),
    ("unlearn.params=nonsense:3", "unlearn.params: 'nonsense:3' matches no parameter"),
    ("unlearn.params=layers:0-7", "unlearn.params: bad layer selector 'layers:0-7'; this model has blocks 0-1"),
    ("eval.influence_params=layers:5", "eval.influence_params: bad layer selector 'layers:5'"),
]


@pytest.mark.parametrize("override, message", BAD_INPUTS)
def test_each_bad_input_is_one_line_before_any_compute_and_keeps_the_run(
        override, message, tiny_run, capsys):
    """Exit 2, one line naming the problem, no traceback; the previous run of that name
    untouched and no temporary folder left (the check runs before any stage)."""
    refused_keeping_run(tiny_run, ["run", str(TINY), "--set", override], message, capsys)


def test_runs_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    afile = tmp_path / "runs"
    afile.write_text("not a folder")
    assert main(["run", str(TINY), "--set", f"runs_dir={afile}", "--set", "name=x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"runs_dir {afile} is a file; give a folder" in err[0]
    assert afile.read_text() == "not a folder"


def test_max_grad_norm_zero_measures_without_clipping():
    """0 = no clipping: the step is the unclipped one (a negative value used to be accepted
    and reversed the update)."""
    from conftest import tiny_model

    from unlearnlab.config import TrainConfig
    from unlearnlab.train.batches import ExampleSet
    from unlearnlab.train.loop import FINETUNE, train

    data = ExampleSet([[1, 5, 6, 7, 2]] * 4, [[0, 1, 1, 1, 1]] * 4)
    a, b = tiny_model(), tiny_model()
    ca = train(a, FINETUNE, TrainConfig(max_steps=1, batch_size=4, lr=1e-2, max_grad_norm=0),
               forget=data, pad_id=0, seed=0, progress=False)
    cb = train(b, FINETUNE, TrainConfig(max_steps=1, batch_size=4, lr=1e-2, max_grad_norm=1e9),
               forget=data, pad_id=0, seed=0, progress=False)
    assert ca[0]["grad_norm"] == pytest.approx(cb[0]["grad_norm"]) and ca[0]["grad_norm"] > 0
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_config_errors_answer_before_torch_is_imported(tmp_path):
    """A key, value or range error is found before any model code loads (method names and
    hyperparameters need the registry, which imports torch)."""
    for setting in ("world.colour=blue", "unlearn.train.lr=.nan", "eval.utility_entities=-1"):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "unlearnlab", "run",
                               "--set", setting], capture_output=True, text=True, cwd=tmp_path,
                              timeout=120)
        assert proc.returncode == 2
        imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "unlearnlab.config" in imported
        assert not imported & {"torch", "transformers", "peft", "scipy", "sklearn"}, setting
        errors = [line for line in proc.stderr.splitlines() if line.startswith("unlearnlab:")]
        assert len(errors) == 1


def test_the_cli_collects_garbage_less_often():
    """The CLI's process runs the cyclic collector at (50,000, 10, 10), not Python's
    (700, 10, 10); importing the library, pipeline included, leaves the thresholds alone."""
    import gc

    probe = "import gc, unlearnlab, unlearnlab.pipeline; print(gc.get_threshold())"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "(700, 10, 10)"
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        assert main(["methods"]) == 0
        assert gc.get_threshold() == (50_000, 10, 10)
    finally:
        gc.set_threshold(*before)
