"""Every `unlearnlab ...` command in the README's code blocks, run in order exactly as written,
at tiny size: the command line is the README's, followed by `--set` overrides that shrink the
world, model and evaluation (keys the example sets itself are never overridden), in a scratch
folder holding the repository's configs. Later examples use the runs of earlier ones
(`runs/beta2`, `runs/latest`), as a reader following the README would. The RESTOR and TOFU
examples need ../shared/data and skip without it; `path/to/hf-model` is a model the TOFU
example just trained."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ARTIFACTS, ROOT, TINY, read_json

from unlearnlab.cli import main

README = (ROOT / "README.md").read_text()
DATA = ROOT.parent / "shared" / "data"


def readme_commands() -> list[str]:
    """The `unlearnlab` command lines of the README's bash blocks, comments cut, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return list(dict.fromkeys(line for line in lines if line.startswith("unlearnlab ")))


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


TINY_KEYS = {k: v for k, v in flatten(yaml.safe_load(TINY.read_text())).items() if k != "name"}
FAST = {"world.n_entities": 16, "pretrain.train.epochs": 8, "corruption.n_targets": 2,
        "corruption.docs_per_target": 6, "learn.train.epochs": 2, "unlearn.train.max_steps": 3,
        "eval.utility_entities": 6, "eval.docs_per_set": 8, "eval.every_n_steps": 0}
RESTOR = {"restor.entities": "evaluated", "restor.utility_entities": 2, "restor.docs_per_target": 4,
          "pretrain": "{vocab_size: 512, model: {hidden_size: 32, intermediate_size: 64, "
                      "num_layers: 2, num_heads: 2, max_positions: 512}, train: {epochs: 1}}",
          "learn.train.max_steps": 2, "eval.docs_per_set": 4, "unlearn.train.max_steps": 2,
          "eval.max_new_tokens": 4, "restor.data_dir": str(DATA / "restor")}
TOFU = {"pretrain": "{vocab_size: 512, model: {hidden_size: 32, intermediate_size: 64, "
                    "num_layers: 2, num_heads: 2, max_positions: 512}}",
        "learn.train.max_steps": 2, "unlearn.train.max_steps": 2, "eval.max_new_tokens": 4,
        "eval.docs_per_set": 4, "eval.every_n_steps": 0, "tofu.data_dir": str(DATA / "tofu")}


SIMILAR_TOFU = {**TOFU, "seeds": "[0]", "tofu.retain_authors": 2, "corruption.docs_per_target": 2,
                "pretrain.train.epochs": 1}
RECORDS = {"records.n_people": 8, "records.utility_people": 4, "records.candidates": 15,
           "pretrain": "{vocab_size: 512, model: {hidden_size: 64, intermediate_size: 128, "
                       "num_layers: 2, num_heads: 2}}",
           "learn.train.epochs": 10, "unlearn.train.max_steps": 3, "removal.rounds": 2,
           "eval.every_n_steps": 0, "seeds": "[0]"}


IMAGES = {"images.forget_per_cell": 2, "images.shadows": 4, "images.train.epochs": 4,
          "unlearn.train.max_steps": 3, "seeds": "[0]"}


def shrink(argv: list[str]) -> list[str]:
    """The overrides that make this command tiny, leaving out every key the command sets."""
    if argv[0] not in ("run", "evaluate"):
        return []
    config = " ".join(argv)
    sizes = (RESTOR if "restor" in config else SIMILAR_TOFU if "similar_tofu" in config else
             TOFU if "tofu" in config else
             RECORDS if "records" in config else IMAGES if "similar_images" in config else
             {**TINY_KEYS, **FAST, "seeds": "[0]"} if "similar" in config else {**TINY_KEYS, **FAST})
    given = [a.split("=", 1)[0] for a in argv if "=" in a]
    keep = {k: v for k, v in sizes.items()
            if not any(k == g or k.startswith(g + ".") or g.startswith(k + ".") for g in given)}
    extra = [x for k, v in keep.items() for x in ("--set", f"{k}={v}")]
    return [*extra, "--set", "progress=false"]


COMMANDS = readme_commands()


def layout_is_clean(page: Path, shot: str) -> None:
    """In headless Chromium (skipped without one, unless UNLEARNLAB_REQUIRE_BROWSER=1): no
    element overflows its container or the window, no text overprints other text."""
    from browser import find_chromium, inspect_page

    if find_chromium() is None:
        assert os.environ.get("UNLEARNLAB_REQUIRE_BROWSER") != "1", "no chromium on PATH"
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = inspect_page(page, screenshot_path=ARTIFACTS / shot)
    assert found["overflows"] == [] and found["overlaps"] == [], (found["overflows"][:3],
                                                                  found["overlaps"][:3])
    assert found["console_errors"] == [] and found["exceptions"] == []


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, cache_dir):
    path = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "configs", path / "configs")
    old = os.getcwd()
    os.chdir(path)
    yield path
    os.chdir(old)


def test_the_readme_has_the_examples_this_file_runs():
    assert len(COMMANDS) >= 15
    assert "unlearnlab run --set methods=all" in COMMANDS


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_example_runs(line, workspace, capsys):
    argv = shlex.split(line)[1:]
    if ("restor" in line and not (DATA / "restor").is_dir()) or \
            ("tofu" in line and not (DATA / "tofu").is_dir()):
        pytest.skip("needs ../shared/data (RESTOR / TOFU), not present here")
    if argv[-1] == "--help" or argv == ["--help"]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 0 and "usage: unlearnlab run" in capsys.readouterr().out
        return
    if "path/to/hf-model" in argv:                   # the model the TOFU example trained
        tofu = sorted(workspace.glob("runs/tofu-*"))[-1]
        argv[argv.index("path/to/hf-model")] = read_json(tofu / "manifest.json")["clean_model"]["path"]
    before = set(os.listdir(workspace / "runs")) if (workspace / "runs").is_dir() else set()
    assert main([*argv, *shrink(argv)]) == 0, line
    out = capsys.readouterr().out
    if argv[0] in ("run", "evaluate"):
        made = set(os.listdir(workspace / "runs")) - before - {"latest"}
        name = next((a.split("=", 1)[1] for a in argv if a.startswith("name=")), None)
        target = workspace / "runs" / (name or sorted(made)[-1])
        assert (target / "results.json").is_file() and (target / "report.html").is_file()
        assert (workspace / "runs" / "latest").resolve() == target.resolve()
        if "methods=all" in argv:                 # the real methods=all report fits the page
            layout_is_clean(target / "report.html", "report-methods-all.png")
    elif argv[0] == "compare":
        layout_is_clean(workspace / "runs" / "compare" / "report.html", "compare-readme.png")
    elif argv[0] == "methods":
        assert "npo_retain" in out
