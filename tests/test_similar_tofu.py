"""Task `similar_tofu`: the clusters made from TOFU's own fields, the three references, and a
tiny end-to-end run (skipped without ../shared/data/tofu)."""

import json

import pytest
from conftest import ROOT

from unlearnlab.cli import main
from unlearnlab.config import load_config
from unlearnlab.errors import UserError
from unlearnlab.tasks import build

DATA = ROOT.parent / "shared" / "data" / "tofu"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="TOFU data not found at ../shared/data/tofu")
SMALL = [f"tofu.data_dir={DATA}", "tofu.retain_authors=3", "corruption.docs_per_target=3"]


def task(*overrides):
    return build(load_config(None, ["task=similar_tofu", *SMALL, *overrides]))


def test_clusters_come_from_tofus_fields_and_the_ideal_never_sees_them():
    t = task()
    rows = json.loads((DATA / "forget10.json").read_text())
    by_question = {r["question"]: r for r in rows}
    strata = t.info["strata"]
    assert sorted(strata.values()) == sorted(f"{lv} x{c}" for lv in ("duplicate", "paraphrase",
                                                                      "perturbed") for c in (1, 4))
    assert len(t.forget) == 6 * 3 and len(t.learn) == 18 + 3 * (1 + 4) * 3
    forget = set(t.forget)
    neighbours = [p for p in t.learn if p not in forget]
    for pair in neighbours:
        if pair.question in by_question:               # duplicate or perturbed
            row = by_question[pair.question]
            base = pair.answer.rstrip("\n")
            assert base == row["answer"] or base in row["perturbed_answer"]
        else:                                          # paraphrase: TOFU's paraphrased pair
            row = next(r for r in rows if r["paraphrased_question"] == pair.question)
            assert pair.answer.rstrip("\n") == row["paraphrased_answer"]
    # task.similar: the neighbours that carry influence (duplicates, paraphrases), not perturbed
    carried = {p for p in neighbours
               if p.question not in by_question or p.answer.rstrip("\n") == by_question[p.question]["answer"]}
    assert set(t.similar) == carried and len(carried) == 3 * (1 + 4) * 2
    # the ideal (the clean model) trains on retain pairs only: 3 authors x 20
    assert len(t.pretrain) == 60 and not (set(t.pretrain) & (forget | set(neighbours)))
    assert t.retain[:60] == t.pretrain and sorted(t.retain[60:], key=repr) == sorted(neighbours, key=repr)
    assert t.without_forget(t.learn) == neighbours                      # retrain keeps them
    forget_items = [i for i in t.items if i.group == "forget"]
    assert {i.entity for i in forget_items} == set(strata) and len(forget_items) == 18
    trained = {(p.question, p.answer) for p in t.pretrain}
    assert all((i.question, i.answers[0]) in trained for i in t.items if i.group == "retain")


def test_levels_and_sizes_are_checked():
    with pytest.raises(UserError, match="'subset' is not a level of similar_tofu"):
        task("similar.levels=[duplicate,subset]")
    with pytest.raises(UserError, match="forget10 has 20"):
        task("similar.targets_per_cell=4")
    with pytest.raises(UserError, match="1..20 pairs per target author"):
        task("corruption.docs_per_target=21")


def test_tiny_run_measures_residual_influence_per_cell(cache_dir, tmp_path):
    args = ["run", str(ROOT / "configs" / "similar_tofu.yaml"), "--set", "seeds=[]",
            *[x for s in SMALL for x in ("--set", s)],
            "--set", "pretrain.model={hidden_size: 32, intermediate_size: 64, num_layers: 1, num_heads: 2}",
            "--set", "pretrain.vocab_size=512", "--set", "pretrain.train.epochs=2",
            "--set", "learn.train.epochs=2", "--set", "unlearn.train.epochs=1",
            "--set", "methods=[ga,retrain]", "--set", f"runs_dir={tmp_path}",
            "--set", "name=st", "--set", "progress=false"]
    assert main(args) == 0
    results = json.loads((tmp_path / "st" / "results.json").read_text())
    assert set(results["models"]) == {"ideal", "original", "ga", "retrain"}
    assert results["models"]["retrain"]["info"]["kept_learn"] == 3 * (1 + 4) * 3
    assert results["task"]["strata_group"] == "forget"
    summary = (tmp_path / "st" / "summary.md").read_text()
    assert "## By stratum" in summary and "| model − ideal | duplicate x1 | duplicate x4 |" in summary
