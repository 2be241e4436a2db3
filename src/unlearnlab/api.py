"""The Python API: what the command line does, as functions.

    import unlearnlab
    run_dir = unlearnlab.run("configs/tiny.yaml", ["methods=[ga,npo_retain]"])
    results = unlearnlab.load_results(run_dir)
    results["models"]["npo_retain"]["metrics"]["target_accuracy"]["mean"]
    run_dir = unlearnlab.evaluate("path/to/hf-model", task="tofu", overrides=["tofu.split=forget05"])

`config` is a YAML path, a dict of the same keys, or None (the built-in default); overrides
are `key=value` strings as after `--set`. A run without an explicit name (`name=` argument or
override) gets a fresh folder `<config name>-<date>-<time>` under `runs_dir`, so no earlier
run is touched; `runs_dir/latest` links to the newest run. Bad input raises
`unlearnlab.errors.UserError` with a one-line message (the CLI prints it and exits 2).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path


def _config(config, overrides, name, evaluate_only: bool):
    from unlearnlab.config import load_config
    from unlearnlab.runs import fresh_name

    overrides = [*overrides, *([f"name={name}"] if name else [])]
    explicit = any(o.split("=", 1)[0].strip() == "name" for o in overrides) \
        or (isinstance(config, dict) and "name" in config)
    cfg = load_config(config, overrides, evaluate_only=evaluate_only)
    if not explicit:
        base = f"evaluate-{cfg.task}" if evaluate_only and cfg.name == "default" else cfg.name
        cfg = dataclasses.replace(cfg, name=fresh_name(cfg.runs_dir, base))
    return cfg


def run(config: str | Path | dict | None = None, overrides: list[str] = (), *,
        name: str | None = None, log=print) -> Path:
    """Run the protocol (clean -> learned -> unlearned per method -> evaluated) and return
    the run folder (results.json, summary.md, report.html, ...)."""
    cfg = _config(config, overrides, name, False)          # config errors before any model code
    from unlearnlab import pipeline

    return pipeline.run(cfg, log=log)


def evaluate(model: str | Path, task: str | None = None, config: str | Path | dict | None = None,
             overrides: list[str] = (), *, name: str | None = None, log=print) -> Path:
    """Evaluate a local Hugging Face model on a task without training it; return the run
    folder (one model, labelled "model")."""
    sets = [*([f"task={task}"] if task else []), *overrides, f"model={model}"]
    cfg = _config(config, sets, name, True)
    from unlearnlab import pipeline

    return pipeline.evaluate_model(cfg, log=log)


def load_results(run_dir: str | Path) -> dict:
    """A finished run's results.json (per model: every metric's mean, n, sd, 95% CI,
    direction and per-item values; comparisons; the task's summary)."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        from unlearnlab.errors import UserError

        raise UserError(f"no results.json in {run_dir}; give a folder written by a finished run")
    return json.loads(path.read_text(encoding="utf-8"))
