"""The report: written by every run, re-rendered identically from saved files, opened in
headless Chromium (every plot decoded and laid out, no console error), and its tables."""

import shutil
from pathlib import Path

import pytest
from browser import inspect_page
from conftest import ARTIFACTS, read_json

from unlearnlab.cli import main
from unlearnlab.report import tables

FIGURES = ["fig-accuracy", "fig-tradeoff", "fig-curves", "fig-losses", "fig-probe", "fig-relations"]
DATA = Path(__file__).parent / "data"
MODELS = ["clean", "corrupted", "ga", "graddiff", "kl", "npo", "npo_retain"]


def test_run_writes_report_and_summary(tiny_run):
    html = (tiny_run / "report.html").read_text()
    # 8 steps, every_n_steps 10: curves from step 0 (the corrupted model) to the final model
    assert [html.index(f'<img id="{f}"') > 0 for f in FIGURES] == [True] * len(FIGURES)
    assert html.count("<img") == len(FIGURES)
    assert "src=\"http" not in html and "<script" not in html        # self-contained, no JS
    summary = (tiny_run / "summary.md").read_text()
    for section in ("## Models", "## Findings", "## Every metric", "## Paired comparisons",
                    "## Method against method", "## Target accuracy per relation", "## Run"):
        assert section in summary, section
    for model in MODELS:
        assert f"| {model} |" in summary
    results = read_json(tiny_run / "results.json")
    c = results["comparisons"]["npo"]["target_accuracy"]["vs_corrupted"]
    row = f"| npo | target_accuracy | corrupted | {c['n']} | {c['mean_diff']:+.3f} |"
    assert row in summary


def test_report_rerenders_identically(tiny_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    for name in ("report.html", "summary.md"):
        (copy / name).unlink()
    shutil.rmtree(copy / "figures")
    for name in ("records", "facts.json", "corruption.json"):       # not needed: nothing recomputed
        path = copy / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert main(["report", str(copy)]) == 0
    pdfs = sorted(p.name for p in (tiny_run / "figures").iterdir())
    assert pdfs == sorted(f"{f[4:]}.pdf" for f in FIGURES)          # every figure, for papers
    for name in ("report.html", "summary.md", *(f"figures/{p}" for p in pdfs)):
        assert (copy / name).read_bytes() == (tiny_run / name).read_bytes(), name
    assert (copy / "figures" / "probe.pdf").read_bytes()[:5] == b"%PDF-"
    assert "report.html" in capsys.readouterr().out


def test_report_opens_in_chromium_with_every_plot_and_no_errors(curves_run, chromium):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    page = inspect_page(curves_run / "report.html", screenshot_path=shot)
    assert page["title"] == "unlearnlab report: curves"
    assert [img["id"] for img in page["images"]] == FIGURES
    for img in page["images"]:
        assert img["complete"] and img["natural_width"] > 200 and img["natural_height"] > 100, img
        assert img["rendered_width"] > 200 and img["rendered_height"] > 100, img
    assert page["console_errors"] == [] and page["exceptions"] == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_two_runs_side_by_side(tiny_run, curves_run, tmp_path, capsys, chromium):
    out = tmp_path / "cmp"
    assert main(["compare", str(tiny_run), str(curves_run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"| {tiny_run.name} | npo_retain |" in printed and "| curves | iterative |" in printed
    assert (out / "summary.md").read_text() in printed
    # what differs between the two configs, key by key (the names are left out)
    assert "## What differs" in printed
    assert f"| config key | {tiny_run.name} | curves |" in printed
    assert "| eval.every_n_steps | 10 | 4 |" in printed
    assert "| methods | [ga, graddiff, kl, npo, npo_retain] | [npo, iterative, task_vector] |" \
        in printed
    assert "| name |" not in printed
    page = inspect_page(out / "report.html", screenshot_path=ARTIFACTS / "compare.png")
    assert [img["id"] for img in page["images"]] == ["fig-tradeoff"]
    assert page["images"][0]["natural_width"] > 200
    assert page["console_errors"] == [] and page["exceptions"] == []


@pytest.mark.parametrize("args, message", [
    (["report", "nowhere"], "not a run directory (no results.json): nowhere"),
    (["compare", "a"], "compare needs at least two run directories"),
    (["compare", "a", "b"], "not a run directory (no results.json): a"),
])
def test_report_errors_are_one_line(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_broken_results_file_is_a_clean_error(tiny_run, tmp_path, capsys):
    copy = tmp_path / "broken"
    shutil.copytree(tiny_run, copy)
    (copy / "results.json").write_text("{not json")
    before = (copy / "report.html").read_bytes()
    assert main(["report", str(copy)]) == 2
    assert "unreadable run file" in capsys.readouterr().err
    assert (copy / "report.html").read_bytes() == before


# ----------------------------------------------------------------------------- tables

def _results(**extra):
    """A minimal results.json: one method 'm', two target facts of two relations."""
    metric = {"mean": 0.5, "n": 2, "sd": 0.7071, "ci95": [-5.85, 6.85], "direction": "higher"}
    model = {"metrics": {"target_accuracy": metric}, "values": {"target_accuracy": [1.0, 0.0]}}
    return {"items": {"target": [["e1", "pet"], ["e2", "hobby"]], "utility": []},
            "models": {"clean": model, "corrupted": model, "m": model},
            "restoration": {"m": 0.25}, **extra}


def test_significance_marks_and_p_formatting():
    assert [tables.significance(p) for p in (0.0005, 0.001, 0.009, 0.049, 0.05, None)] == \
        ["***", "**", "**", "*", "ns", ""]
    assert tables.pvalue(1e-20) == "< 1e-16" and tables.pvalue(0.0123) == "0.012"


def test_plus_minus_only_for_figures_over_seeds():
    over_seeds = {"mean": 0.4, "ci95": [0.1, 0.7], "per_seed": [0.2, 0.4, 0.6]}
    assert tables.plus_minus(over_seeds) == "0.400 ± 0.300"
    assert tables.plus_minus({"mean": 0.4, "ci95": [0.1, 0.7]}) == "0.400"
    assert tables.with_ci({"mean": 0.4, "ci95": [0.1, 0.7]}) == "0.400 [0.100, 0.700]"
    assert tables.plus_minus(0.25) == "0.250" and tables.num(None) == "—"
    one_seed = {"mean": 0.4, "n": 1, "ci95": [0.4, 0.4], "per_seed": [0.4]}
    assert tables.plus_minus(one_seed) == "0.400"


def test_per_relation_pools_items_by_their_relation():
    results = _results()
    results["items"]["target"] = [["e1", "pet"], ["e2", "pet"], ["e1", "hobby"]]
    for label in ("clean", "corrupted", "m"):
        results["models"][label] = {"values": {"target_accuracy": [1.0, 0.0, 1.0]}}
    results["models"]["m"]["values"]["target_accuracy"] = [1.0, 1.0, 0.0]
    assert tables.per_relation(results)["m"] == {"pet": 1.0, "hobby": 0.0}
    assert tables.per_relation(results)["clean"] == {"pet": 0.5, "hobby": 1.0}


def test_head_to_head_table_is_antisymmetric():
    results = _results(restoration={"a": 0.1, "b": 0.2})
    results["head_to_head"] = {"a|b": {"mean_diff": 0.25, "p_t_holm": 0.004}}
    header, rows = tables.head_to_head_table(results)
    assert header == ["row − column", "a", "b"]
    assert rows == [["a", "", "+0.250 **"], ["b", "-0.250 **", ""]]


def test_report_on_a_run_written_by_an_earlier_version(tmp_path, chromium):
    """tests/data/v0.1-run: results.json, manifest.json and curves/ of a small run written by
    unlearnlab before reports existed (commit 22ac2f1: no head-to-head, no membership metric;
    its manifest's paths replaced by placeholders). It renders, twice identically, with the
    summary pinned in tests/data/v0.1-run.summary.md."""
    run = tmp_path / "v0.1-run"
    shutil.copytree(DATA / "v0.1-run", run)
    assert main(["report", str(run)]) == 0
    first = (run / "report.html").read_bytes()
    assert (run / "summary.md").read_text() == (DATA / "v0.1-run.summary.md").read_text()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").read_bytes() == first
    page = inspect_page(run / "report.html")
    assert [img["id"] for img in page["images"]] == FIGURES
    assert all(img["natural_width"] > 200 for img in page["images"])
    assert page["console_errors"] == [] and page["exceptions"] == []
