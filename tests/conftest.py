"""Shared fixtures: one tiny end-to-end run (tiny world, tiny model) reused by several tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from unlearnlab.train.batches import ExampleSet

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"

# Under pytest-xdist (`make test` runs `pytest -n auto`), the workers share the cores: each
# takes its share of torch threads (and so do the CLI processes tests start).
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
    torch.set_num_threads(THREADS)
    os.environ["OMP_NUM_THREADS"] = str(THREADS)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One model cache for the session; under xdist, one for all workers (the cache's file
    locks let one process build a model while the others wait and reuse it)."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-cache"
    path.mkdir(exist_ok=True)
    old = os.environ.get("UNLEARNLAB_CACHE")
    os.environ["UNLEARNLAB_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("UNLEARNLAB_CACHE", None)
    else:
        os.environ["UNLEARNLAB_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_cache(cache_dir, tmp_path_factory) -> Path:
    """A model cache of this process's own for `tiny_run`: its clean model is always built
    (not cached) however the test files are spread over xdist workers."""
    return tmp_path_factory.mktemp("tiny-cache")


@pytest.fixture(scope="session")
def tiny_run(tiny_cache, tmp_path_factory) -> Path:
    """`unlearnlab run configs/tiny.yaml` through the CLI entry point (cache: `tiny_cache`);
    returns the run dir."""
    from unlearnlab.cli import main

    runs = tmp_path_factory.mktemp("runs")
    shared = os.environ["UNLEARNLAB_CACHE"]
    os.environ["UNLEARNLAB_CACHE"] = str(tiny_cache)
    try:
        code = main(["run", str(TINY), "--set", f"runs_dir={runs}", "--set", "name=first"])
    finally:
        os.environ["UNLEARNLAB_CACHE"] = shared
    assert code == 0
    return runs / "first"


@pytest.fixture(scope="session")
def curves_run(tiny_run) -> Path:
    """The tiny run with checkpoints every 4 steps, a document curve metric, and a procedure
    with rounds (iterative) and one without a loop (task_vector)."""
    from unlearnlab.cli import main

    runs = tiny_run.parent
    assert main(["run", str(TINY), "--set", f"runs_dir={runs}", "--set", "name=curves",
                 "--set", "eval.every_n_steps=4", "--set", "methods=[npo,iterative,task_vector]",
                 "--set", "eval.curve_metrics=[target_accuracy,corrupted_rate,utility,ppl_forget]",
                 "--set", "hparams.iterative={max_rounds: 2, steps_per_round: 3, stop_below: -1, "
                 "utility_floor: 0}"]) == 0
    return runs / "curves"


ARTIFACTS = Path(os.environ.get("UNLEARNLAB_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of headless Chromium; skips without one, unless UNLEARNLAB_REQUIRE_BROWSER=1
    (set by .ci/run, which installs Debian's chromium), where a missing browser fails."""
    from browser import find_chromium

    path = find_chromium()
    if path is None:
        if os.environ.get("UNLEARNLAB_REQUIRE_BROWSER") == "1":
            pytest.fail("UNLEARNLAB_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); .ci/run installs it")
    return path


def refused_keeping_run(run: Path, argv: list[str], message: str, capsys) -> None:
    """`unlearnlab ARGV` into the finished run `run`'s name: exit 2 with one line holding
    `message` and no traceback; the run's results untouched and no temporary folder left."""
    from unlearnlab.cli import main

    before = (run / "results.json").read_bytes()
    assert main(argv + ["--set", f"runs_dir={run.parent}", "--set", f"name={run.name}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0], err
    assert (run / "results.json").read_bytes() == before
    assert not [p.name for p in run.parent.iterdir() if p.name.startswith(".")]


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def tiny_model(seed: int = 0) -> LlamaForCausalLM:
    """A random 2-block Llama (vocab 40, hidden 32; pad 0, bos 1, eos 2) for loop-level tests."""
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(cfg).eval()


def examples(n: int = 8, seed: int = 0) -> ExampleSet:
    """`n` random documents of 4..8 tokens after BOS, every token counted."""
    g = torch.Generator().manual_seed(seed)
    ids, masks = [], []
    for i in range(n):
        length = 4 + i % 5
        ids.append([1] + torch.randint(3, 40, (length,), generator=g).tolist())
        masks.append([0] + [1] * length)
    return ExampleSet(ids, masks)


def approx(x):
    """float32 arithmetic: agree to 1e-5 relative."""
    return pytest.approx(x, rel=1e-5, abs=1e-6)


def forget_forward():
    """Forget batch of tests/test_losses*.py: per-token p = (1/2, 1/4) and (1/2, pad)."""
    from unlearnlab.train.forward import Forward

    return Forward(token_logps=torch.log(torch.tensor([[0.5, 0.25], [0.5, 1.0]])),
                   mask=torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
