"""`seeds: [...]`: the whole pipeline per seed, aggregated over seeds with mean and 95% CI."""

import math

import pytest
from conftest import TINY, read_json
from scipy import stats

from unlearnlab.aggregate import aggregate, over_seeds
from unlearnlab.cli import main
from unlearnlab.config import load_config


def test_over_seeds_is_the_t_interval_by_hand():
    out = over_seeds([0.2, 0.4, 0.6])
    half = stats.t.ppf(0.975, 2) * 0.2 / math.sqrt(3)          # sd = 0.2, n = 3
    assert out["mean"] == pytest.approx(0.4) and out["sd"] == pytest.approx(0.2)
    assert out["ci95"] == pytest.approx([0.4 - half, 0.4 + half])
    assert half == pytest.approx(0.4968, abs=1e-4)
    assert out["per_seed"] == [0.2, 0.4, 0.6] and out["n"] == 3
    assert over_seeds([None, 0.5])["mean"] == 0.5               # undefined seeds are left out


def _seed_result(acc: list[float], restoration: float) -> dict:
    """A per-seed results.json with one method 'm' (clean all right, corrupted all wrong)."""
    def model(values):
        return {"metrics": {"target_accuracy": {"mean": sum(values) / len(values),
                                                "direction": "higher"}},
                "values": {"target_accuracy": values}, "mia": {"loss": {"auc": 0.5}}}
    n = len(acc)
    return {"config_hash": "h", "items": {"target": [["e", "pet"]] * n, "utility": []},
            "models": {"clean": model([1.0] * n), "corrupted": model([0.0] * n), "m": model(acc)},
            "restoration": {"m": restoration}, "mia_orientation": "o", "oracle": "clean",
            "model_utility": {"m": 0.9}, "forget_quality": {"m": 0.1},
            "privacy_leak": {"m": {"loss": 0.2}}}


def test_aggregate_pools_items_and_averages_figures_over_seeds():
    out = aggregate({3: _seed_result([1.0, 0.0], 0.5), 7: _seed_result([1.0, 1.0, 1.0, 0.0], 0.75)})
    m = out["models"]["m"]
    assert out["seeds"] == [3, 7] and out["runs"] == {"3": "seed-3", "7": "seed-7"}
    assert out["items"]["target"][0] == [3, "e", "pet"] and len(out["items"]["target"]) == 6
    # the mean of the per-seed means (0.5 and 0.75), not of the pooled items (4/6)
    assert m["metrics"]["target_accuracy"]["mean"] == pytest.approx(0.625)
    assert m["metrics"]["target_accuracy"]["per_seed"] == [0.5, 0.75]
    assert m["values"]["target_accuracy"] == [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    assert out["restoration"]["m"]["mean"] == pytest.approx(0.625)
    assert out["privacy_leak"]["m"]["loss"]["per_seed"] == [0.2, 0.2]
    assert m["mia"]["loss"]["auc"] == 0.5
    # paired comparisons run on the pooled items: 4 of 6 facts gained 1.0 over corrupted
    c = out["comparisons"]["m"]["target_accuracy"]["vs_corrupted"]
    assert c["n"] == 6 and c["mean_diff"] == pytest.approx(4 / 6)


def test_seed_config_hash_matches_a_single_seed_run():
    multi = load_config(TINY, ["seeds=[0, 5]"])
    assert multi.for_seed(5).hash() == load_config(TINY, ["seed=5"]).hash()
    with pytest.raises(Exception, match="each seed at most once"):
        load_config(TINY, ["seeds=[1, 1]"])


def test_three_seeds_report_mean_and_ci_for_every_metric(tiny_run):
    runs = tiny_run.parent
    assert main(["run", str(TINY), "--set", f"runs_dir={runs}", "--set", "name=seeds",
                 "--set", "seeds=[0, 1, 2]", "--set", "methods=[ga, npo_retain]"]) == 0
    top = runs / "seeds"
    results = read_json(top / "results.json")
    per_seed = [read_json(top / f"seed-{s}" / "results.json") for s in (0, 1, 2)]
    # seed 0 of the seeds run is exactly the single-seed run with seed 0
    single = read_json(tiny_run / "results.json")["models"]
    for label in ("clean", "corrupted", "ga", "npo_retain"):
        assert per_seed[0]["models"][label]["values"] == single[label]["values"]
    # different seeds corrupt different targets
    assert per_seed[0]["items"]["target"] != per_seed[1]["items"]["target"]
    acc = results["models"]["npo_retain"]["metrics"]["target_accuracy"]
    assert acc["per_seed"] == [r["models"]["npo_retain"]["metrics"]["target_accuracy"]["mean"]
                               for r in per_seed]
    assert acc["ci95"] == pytest.approx(over_seeds(acc["per_seed"])["ci95"])
    # curves over seeds: 8 steps with every_n_steps 10 -> the corrupted model and the final one
    curve = results["models"]["npo_retain"]["checkpoints"]
    assert [c["step"] for c in curve] == [0, 8]
    assert curve[-1]["target_accuracy"] == pytest.approx(acc["mean"])
    assert curve[-1]["ci95"]["target_accuracy"] == pytest.approx(acc["ci95"])
    assert (top / "seed-1" / "report.html").is_file() and (top / "report.html").is_file()
    assert 'id="fig-curves"' in (top / "report.html").read_text()
    manifest = read_json(top / "manifest.json")
    assert manifest["seeds"] == [0, 1, 2] and set(manifest["wall_time_per_seed_s"]) == {"0", "1", "2"}
    # the summary: every metric of every model as mean ± CI
    summary = (top / "summary.md").read_text()
    section = summary.split("## Every metric")[1].split("##")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= len(results["models"]["clean"]["metrics"])
    for row in rows[:len(results["models"]["clean"]["metrics"])]:
        how, *cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert how == "t over seeds"
        assert len(cells) == 4 and all("±" in c for c in cells), row
    assert "3 seeds (0, 1, 2)" in summary
