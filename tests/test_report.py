"""The report: written by every run, re-rendered identically from saved files, opened in
headless Chromium (every plot decoded and laid out, no console error), and its tables."""

import json
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
    assert page["overflows"] == [] and page["overlaps"] == []
    assert page["text_boxes"] > 500                       # the check saw the page's text


def seventeen_models(run: Path, out: Path) -> Path:
    """A copy of the tiny run grown to `methods=all` size for layout checks: every registered
    method that did not run becomes a copy of a method that did, its restoration and utility
    shifted a little so points and labels crowd the plots as a real methods=all run does."""
    from unlearnlab.methods import METHODS
    from unlearnlab.comparisons import head_to_head

    shutil.copytree(run, out)
    results = read_json(out / "results.json")
    ran = list(results["methods"])
    for k, name in enumerate(n for n in METHODS.names() if n not in ran):
        source = ran[k % len(ran)]
        results["models"][name] = json.loads(json.dumps(results["models"][source]))
        util = results["models"][name]["metrics"]["utility"]
        util["mean"] = min(1.0, util["mean"] + 0.01 * (k % 5))
        results["restoration"][name] = results["restoration"][source] + 0.02 * (k % 3)
        results["comparisons"][name] = results["comparisons"][source]
        results["methods"].append(name)
    results["head_to_head"] = head_to_head(results["models"], results["methods"], "target_accuracy")
    (out / "results.json").write_text(json.dumps(results))
    return out


def test_report_with_every_method_fits_the_page(tiny_run, tmp_path, chromium):
    run = seventeen_models(tiny_run, tmp_path / "all")
    assert main(["report", str(run)]) == 0
    page = inspect_page(run / "report.html", screenshot_path=ARTIFACTS / "report-all-methods.png")
    assert len(read_json(run / "results.json")["methods"]) >= 15
    assert page["console_errors"] == [] and page["exceptions"] == []
    assert page["overflows"] == [], page["overflows"][:5]
    assert page["overlaps"] == [], page["overlaps"][:5]
    html = (run / "report.html").read_text()
    assert 'class="scroll"' not in html                   # no table behind a scroll bar
    assert html.count("<th>metric</th><th>95% interval</th>") >= 3    # every-metric table split


def test_tradeoff_labels_do_not_overprint(tiny_run, tmp_path, monkeypatch):
    from unlearnlab.report import figures
    run = seventeen_models(tiny_run, tmp_path / "all")
    seen = {}
    monkeypatch.setattr(figures, "export", lambda fig: seen.setdefault("fig", fig) and {})
    real = figures.place_labels
    monkeypatch.setattr(figures, "place_labels",
                        lambda ax, texts: seen.setdefault("texts", real(ax, texts)))
    figures.tradeoff(read_json(run / "results.json"))
    assert len(seen["texts"]) == len(read_json(run / "results.json")["methods"]) + 2
    assert figures.overlapping_labels(seen["fig"], seen["texts"]) == []


def test_twenty_methods_get_twenty_distinct_colour_and_style_pairs():
    from unlearnlab.report import figures
    results = {"models": {}, "methods": [f"m{i}" for i in range(20)]}
    labels = ["clean", "corrupted", *results["methods"]]
    palette, style = figures.colors(results, labels), figures.styles(results, labels)
    pairs = {(palette[m], style[m]) for m in results["methods"]}
    assert len(pairs) == 20
    assert palette["clean"] == figures.BEFORE and palette["corrupted"] == figures.START
    assert figures.BEFORE not in figures.HUES and figures.START not in figures.HUES


def test_wide_tables_are_split_repeating_the_label_columns():
    from unlearnlab.report.layout import fit
    header = ["metric", "how", *(f"model{i}" for i in range(6))]
    rows = [["acc", "Wilson", *("0.500 [0.400, 0.600]" for _ in range(6))]]
    # widths: metric 6+3, how 6+3, each model 20+3 -> 18 + 23 k; budget 90 -> 3 models a part
    parts = fit((header, rows), keep=2, budget=90)
    assert [p["header"] for p in parts] == [["metric", "how", "model0", "model1", "model2"],
                                           ["metric", "how", "model3", "model4", "model5"]]
    assert parts[1]["rows"] == [["acc", "Wilson", *("0.500 [0.400, 0.600]" for _ in range(3))]]
    assert fit((header, rows), keep=2, budget=None)[0]["header"] == header
    text = (["test"], [["exact McNemar, Bonferroni over 15"]])
    assert fit(text)[0]["wrap"] == [True]


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
    # paired tests between the runs: the same items, so curves' npo against the first run's
    from unlearnlab.stats.paired import paired_comparison
    first, curves = read_json(tiny_run / "results.json"), read_json(curves_run / "results.json")
    assert "## Paired tests between runs" in printed
    rows = [line for line in printed.splitlines() if line.startswith("| curves | npo | target_accuracy |")]
    c = paired_comparison(curves["models"]["npo"]["values"]["target_accuracy"],
                          first["models"]["npo"]["values"]["target_accuracy"])
    family = int(rows[0].split("Bonferroni over ")[1].split(" ")[0])
    present = [m for m in curves["task"]["compared"] if m in curves["models"]["npo"]["values"]]
    assert family == 3 * len(present) == 15              # clean, corrupted, npo × 5 metrics
    assert rows[0].startswith(f"| curves | npo | target_accuracy | {c['n']} | {c['mean_diff']:+.3f} |")
    page = inspect_page(out / "report.html", screenshot_path=ARTIFACTS / "compare.png")
    assert page["overflows"] == [] and page["overlaps"] == []
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


def test_head_to_head_heading_names_the_procedure_the_run_used():
    new = {"head_to_head": {"a|b": {"p_adj": 0.2}, "a|c": {"p_adj": 0.01}, "b|c": {"p_adj": 1}}}
    old = {"head_to_head": {"a|b": {"p_t_holm": 0.2}}}            # written before Bonferroni
    assert tables.head_to_head_how(new) == "primary test per pair, Bonferroni over the 3 pairs"
    assert tables.head_to_head_how(old) == "paired t-test, Holm-adjusted across all pairs"
