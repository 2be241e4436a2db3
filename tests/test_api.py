"""The Python API (`unlearnlab.run`, `unlearnlab.evaluate`, `unlearnlab.load_results`) and
run naming: a run without an explicit name never touches an existing run."""

from __future__ import annotations

import time

import pytest
from conftest import TINY, read_json

import unlearnlab
from unlearnlab.errors import UserError
from unlearnlab.runs import fresh_name


def test_fresh_names_never_collide(tmp_path):
    now = time.mktime((2026, 11, 25, 19, 30, 5, 0, 0, -1))
    first = fresh_name(tmp_path, "tiny", now)
    assert first == "tiny-20261125-193005"
    (tmp_path / first).mkdir()
    assert fresh_name(tmp_path, "tiny", now) == "tiny-20261125-193005-2"


def test_api_run_without_a_name_leaves_earlier_runs_alone_and_evaluate_scores_a_model(tiny_run):
    runs = tiny_run.parent
    before = {p.name: p.stat().st_mtime_ns for p in runs.iterdir() if p.name != "latest"}
    first_results = (tiny_run / "results.json").read_bytes()
    lines = []
    run_dir = unlearnlab.run(TINY, [f"runs_dir={runs}", "methods=[ga]", "eval.every_n_steps=0",
                                    "progress=false"], log=lines.append)
    assert run_dir.name.startswith("tiny-") and run_dir.name not in before
    assert (tiny_run / "results.json").read_bytes() == first_results
    assert {p.name: p.stat().st_mtime_ns for p in runs.iterdir() if p.name in before} == before
    assert (runs / "latest").resolve() == run_dir.resolve()
    results = unlearnlab.load_results(run_dir)
    # same config and seed as the fixture's run: the same clean and ga numbers
    fixture = read_json(tiny_run / "results.json")
    for model in ("clean", "corrupted", "ga"):
        assert results["models"][model]["metrics"]["target_accuracy"]["mean"] == \
            fixture["models"][model]["metrics"]["target_accuracy"]["mean"]

    clean_path = read_json(run_dir / "manifest.json")["clean_model"]["path"]
    evaluated = unlearnlab.evaluate(clean_path, task="world", config=TINY,
                                    overrides=[f"runs_dir={runs}", "progress=false"],
                                    log=lines.append)
    assert evaluated.name.startswith("tiny-")
    scored = unlearnlab.load_results(evaluated)["models"]["model"]["metrics"]
    assert scored["target_accuracy"]["mean"] == \
        results["models"]["clean"]["metrics"]["target_accuracy"]["mean"]
    assert scored["utility"]["mean"] == results["models"]["clean"]["metrics"]["utility"]["mean"]

    named = unlearnlab.run(TINY, [f"runs_dir={runs}", "methods=[ga]", "eval.every_n_steps=0",
                                  "progress=false"], name=run_dir.name, log=lines.append)
    assert named == run_dir and f"replacing the previous run in {run_dir}" in lines


def test_load_results_of_a_folder_without_results_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no results.json"):
        unlearnlab.load_results(tmp_path)
