"""The run report: report.html (self-contained, plots embedded) and summary.md, rendered
only from a run directory's saved files (results.json, manifest.json, curves/*.json).

`unlearnlab run` calls `render` on the finished run; `unlearnlab report RUN_DIR` calls the
same function later, so a re-render of an unchanged run gives identical files. No model is
loaded and nothing is recomputed beyond formatting.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from unlearnlab.comparisons import strata_metrics, task_of
from unlearnlab.errors import UserError
from unlearnlab.report import figures, tables
from unlearnlab.report.layout import fit
from unlearnlab.report.summary import (REMOVAL_LEAD, SEQUENCE_LEAD, strata_lead,
                                       comparisons_lead, headline, summary_markdown,
                                       terminal_summary)
from unlearnlab.runs import atomic_write_bytes, atomic_write_text

__all__ = ["RunFiles", "embeddable", "load_run", "render", "render_html", "terminal_summary"]


@dataclass
class RunFiles:
    path: Path
    results: dict
    manifest: dict
    curves: dict[str, list[dict]]


def load_run(run_dir: str | Path) -> RunFiles:
    """The saved files of a run; one clear error if `run_dir` is not a finished run."""
    path = Path(run_dir)
    for name in ("results.json", "manifest.json"):
        if not (path / name).is_file():
            raise UserError(f"not a run directory (no {name}): {path}; "
                            "give a folder written by `unlearnlab run`, e.g. runs/latest")
    try:
        results = json.loads((path / "results.json").read_text(encoding="utf-8"))
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"unreadable run file in {path}: {exc.msg} (line {exc.lineno})") from None
    if "models" not in results or not ("restoration" in results or "methods" in results):
        raise UserError(f"{path}/results.json is not an unlearnlab results file "
                        "(no models / methods)")
    order = [*figures.LEARN_CURVES, *tables.methods_of(results)]
    curves = {name: json.loads((path / "curves" / f"{name}.json").read_text(encoding="utf-8"))
              for name in order if (path / "curves" / f"{name}.json").is_file()}
    return RunFiles(path, results, manifest, curves)


def _has(run: RunFiles, metric: str) -> bool:
    return metric in run.results["models"][tables.labels_of(run.results)[0]]["metrics"]


FIGURES = (
    ("accuracy", "Accuracy per model",
     "Target-fact accuracy of the clean, corrupted and unlearned models, the rate of answering "
     "with the injected wrong value, and utility (accuracy on other entities); bars are 95% CIs.",
     lambda run: figures.accuracy_bars(run.results) if _has(run, "target_accuracy") else None),
    ("tradeoff", "Restoration against utility",
     "Each method's restoration of the clean answers (x) and the utility it keeps (y); the "
     "ideal is the top right corner (clean).",
     lambda run: figures.tradeoff(run.results) if "restoration" in run.results else None),
    ("quality", "Forget quality against model utility",
     "TOFU's view: each model's forget quality (KS-test p-value of its forget truth ratios "
     "against the oracle's; log scale, higher = closer to retraining) and model utility.",
     lambda run: figures.quality_vs_utility(run.results)
     if run.results.get("forget_quality") and not run.results.get("restoration") else None),
    ("strata", "Residual influence by stratum",
     "Per similarity level x number of similar samples kept in training: each model's mean "
     "paired difference from the ideal (0, the line) over the stratum's items, with its "
     "Bonferroni-adjusted 95% interval; unbounded metrics on a symmetric log scale.",
     lambda run: figures.strata_residual(run.results)),
    ("curves", "Metrics during unlearning",
     "Curve metrics evaluated every eval.every_n_steps steps (step 0 = the starting model).",
     lambda run: figures.metric_curves(run.results)),
    ("losses", "Training losses",
     "The learn stage's (corruption's) fine-tuning loss and each method's unlearning loss per "
     "step, one panel each on its own scale (the methods' losses are not comparable).",
     lambda run: figures.loss_curves(run.results, run.curves)),
    ("probe", "Logit probe",
     "Per target fact: mean per-token log-prob of the correct, the injected and a random "
     "answer (boxes: quartiles, whiskers: 1.5 IQR). Restoration moves mass from red back to blue.",
     lambda run: figures.logit_probe(run.results) if _has(run, "logp_correct") else None),
    ("influence", "Influence before and after unlearning",
     "Per (forget text, query it taught) pair, the gradient dot product of the two at each "
     "model (eval.influence); boxes: quartiles. Unlearning that removes the influence moves it "
     "towards zero.",
     lambda run: figures.influence_boxes(run.results) if _has(run, "influence_forget") else None),
    ("relations", "Per relation",
     "Target accuracy per relation and model.",
     lambda run: figures.relation_heatmap(run.results) if tables.has_relations(run.results)
     else None),
)


def _figures(run: RunFiles) -> list[dict]:
    """Every figure that applies: {id, title, caption, png, pdf} (bytes)."""
    out = []
    for fig_id, title, caption, draw in FIGURES:
        rendered = draw(run)
        if rendered is not None:
            out.append({"id": fig_id, "title": title, "caption": caption, **rendered})
    return out


def embeddable(fig: dict) -> dict:
    """The figure for the template: its PNG as base64 text."""
    return {**fig, "png": base64.b64encode(fig["png"]).decode("ascii")}


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("unlearnlab", "report"),
                      autoescape=select_autoescape(["html", "j2"]), keep_trailing_newline=True)
    env.globals["fit"] = fit
    return env


def render_html(run: RunFiles, figs: list[dict]) -> str:
    results, manifest = run.results, run.manifest
    relations = tables.relation_table(results) if tables.has_relations(results) else None
    removal = tables.removal_table(results, manifest) if results.get("removal") else None
    strata = ([(m, tables.strata_table(results, m), tables.strata_test_table(results, m))
               for m in strata_metrics(results)]
              if task_of(results).get("strata") else [])
    seed_runs = [(s, f"{results['runs'][str(s)]}/report.html") for s in results.get("seeds", [])]
    return _environment().get_template("report.html.j2").render(
        title=f"unlearnlab report: {manifest.get('name', run.path.name)}",
        headline=headline(results, manifest),
        sections=[("models", "Models"), ("figures", "Figures"), ("metrics", "Every metric"),
                  ("stats", "Paired comparisons"),
                  *([("removal", "Removal requests")] if removal else []),
                  *([("strata", "By stratum")] if strata else []),
                  *([("relations", "Per relation")] if relations else []), ("run", "Run")],
        seed_runs=seed_runs, warnings=results.get("warnings", []),
        flag_lines=tables.flag_lines(results),
        main=tables.main_table(results), findings=tables.findings(results),
        figures=[embeddable(f) for f in figs], all_metrics=tables.all_metrics_table(results),
        descriptions=tables.metric_descriptions(results), stats=tables.stats_table(results),
        head_to_head=tables.head_to_head_table(results), relations=relations,
        removal=removal, removal_lead=REMOVAL_LEAD, sequence_lead=SEQUENCE_LEAD,
        strata=strata, strata_lead=strata_lead(results),
        sequence=tables.sequence_table(results) if removal else None,
        head_to_head_how=tables.head_to_head_how(results),
        primary=task_of(results)["primary"].replace("_", " "),
        comparisons_lead=comparisons_lead(results),
        run=tables.run_table(manifest),
        config_yaml=yaml.safe_dump(manifest.get("config", {}), sort_keys=False))


def render(run_dir: str | Path) -> RunFiles:
    """Write report.html, summary.md and figures/<id>.pdf into `run_dir` from its saved files."""
    run = load_run(run_dir)
    figs = _figures(run)
    html = render_html(run, figs)
    markdown = summary_markdown(run.results, run.manifest)
    for fig in figs:
        atomic_write_bytes(run.path / "figures" / f"{fig['id']}.pdf", fig["pdf"])
    atomic_write_text(run.path / "summary.md", markdown)
    atomic_write_text(run.path / "report.html", html)
    return run
