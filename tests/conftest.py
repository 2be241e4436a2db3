"""Shared fixtures: one tiny end-to-end run (tiny world, tiny model) reused by several tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("UNLEARNLAB_CACHE")
    os.environ["UNLEARNLAB_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("UNLEARNLAB_CACHE", None)
    else:
        os.environ["UNLEARNLAB_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_run(cache_dir, tmp_path_factory) -> Path:
    """`unlearnlab run configs/tiny.yaml` through the CLI entry point; returns the run dir."""
    from unlearnlab.cli import main

    runs = tmp_path_factory.mktemp("runs")
    code = main(["run", str(TINY), "--set", f"runs_dir={runs}", "--set", "name=first"])
    assert code == 0
    return runs / "first"


def read_json(path: Path):
    return json.loads(Path(path).read_text())
