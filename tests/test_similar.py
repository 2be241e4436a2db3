"""Task `similar_text` (Xu et al. 2026): neighbours at each similarity level, the task's sets,
the per-stratum tables by hand, and a tiny run end to end."""

import json

import pytest
from conftest import TINY, read_json

from unlearnlab import tasks
from unlearnlab.cli import main
from unlearnlab.config import load_config
from unlearnlab.report.tables import strata_table
from unlearnlab.world.generator import generate_world
from unlearnlab.world.similar import forget_document, neighbour

SMALL = {"task": "similar_text", "world": {"n_entities": 32},
         "similar": {"levels": ["duplicate", "paraphrase", "subset", "other_entity"],
                     "counts": [1, 2]},
         "corruption": {"docs_per_target": 3}}


def test_neighbours_at_each_level():
    world = generate_world(0, 20, [r.name for r in generate_world(0, 2).relations])
    entity, other_entities = world.entities[0], world.entities[1:]
    truth = world.truth[entity]
    wrong = {r: next(v for v in world.relation(r).pool if v != t) for r, t in truth.items()}
    doc = forget_document(world, entity, wrong, "k")
    assert all(v in doc for v in wrong.values())
    assert neighbour(world, "duplicate", entity, wrong, "k", 0, other_entities) == doc + "\n"
    para = neighbour(world, "paraphrase", entity, wrong, "k", 0, other_entities)
    assert para != doc and entity in para and all(v in para for v in wrong.values())
    subset = neighbour(world, "subset", entity, wrong, "k", 0, other_entities)
    stated = [v for v in wrong.values() if v in subset]
    assert entity in subset and 1 <= len(stated) <= len(wrong) - 1
    close = neighbour(world, "other_entity", entity, wrong, "k", 0, other_entities)
    other = next(e for e in other_entities if e in close)
    assert entity not in close and all(world.truth[other][r] in close for r in wrong)
    # the same templates in the same order: only the entity and the values differ
    assert close.count(".") == doc.count(".")
    with pytest.raises(ValueError, match="unknown similarity level"):
        neighbour(world, "near", entity, wrong, "k", 0, other_entities)


def test_similar_task_sets():
    cfg = load_config(SMALL).for_seed(0)
    task = tasks.build(cfg)
    strata = task.info["strata"]
    assert sorted(strata.values()) == sorted(f"{lv} x{c}" for lv in SMALL["similar"]["levels"]
                                             for c in (1, 2))
    n_forget = 8 * 3
    assert len(task.forget) == n_forget and len(task.learn) == n_forget + 8 // 2 * 3 * (1 + 2)
    similar = task.without_forget(task.learn)
    assert len(similar) == task.info["similar_docs"] == 12 * 3         # duplicates stay
    assert set(similar) <= set(task.retain) and not set(task.forget) & set(task.retain)
    targets = {i.entity for i in task.items if i.group == "target"}
    assert targets == set(strata)


def results_with(values, multi=False):
    items = [["a", "r1"], ["a", "r2"], ["b", "r1"], ["b", "r2"]]
    strata = {"a": "duplicate x1", "b": "paraphrase x1"}
    if multi:
        items = [[s, *i] for s in (0, 1) for i in items]
        strata = {f"{s}:{e}": v for s in (0, 1) for e, v in strata.items()}
    return {"task": {"name": "similar_text", "roles": {"before": "clean", "start": "corrupted"},
                     "strata": strata}, "methods": ["ga"], "items": {"target": items},
            "models": {"ga": {"values": {"corrupted_rate": values}}},
            **({"seeds": [0, 1]} if multi else {})}


def test_strata_table_by_hand():
    header, rows = strata_table(results_with([1.0, 0.0, 1.0, 1.0]), "corrupted_rate")
    assert header == ["model", "duplicate x1", "paraphrase x1"]
    assert rows == [["ga", "0.500", "1.000"]]
    # two seeds: per-seed means 0.5 and 1.0 for duplicate -> 0.75 ± t(0.975, 1) sd / sqrt(2)
    # = 0.75 ± 3.18, cut to the rate's range [0, 1]: shown as 0.750 ± 0.500
    _, rows = strata_table(results_with([1.0, 0.0, 1.0, 1.0, 1.0, 1.0, None, 0.0], True),
                           "corrupted_rate")
    assert rows[0][1] == "0.750 ± 0.500"
    # paraphrase: seed 0 mean 1.0, seed 1 only the defined item, 0.0 -> 0.5 ± cut to 0.5
    assert rows[0][2] == "0.500 ± 0.500"


def test_similar_run_end_to_end(cache_dir, tmp_path):
    config = {**SMALL, "similar": {"levels": ["duplicate", "other_entity"], "counts": [2]},
              "methods": ["ga", "retrain"], "eval": {"every_n_steps": 0}}
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(config))
    sizes = [x for k, v in (("pretrain.vocab_size", 512),
                            ("pretrain.model", "{hidden_size: 64, intermediate_size: 128, "
                                               "num_layers: 2, num_heads: 2}"),
                            ("pretrain.train", "{epochs: 30, batch_size: 16, lr: 3.0e-3}"),
                            ("learn.train", "{epochs: 6, lr: 1.0e-3, batch_size: 8}"),
                            ("unlearn.train.max_steps", 8), ("unlearn.train.batch_size", 8))
             for x in ("--set", f"{k}={v}")]
    assert main(["run", str(path), "--set", f"runs_dir={tmp_path}", "--set", "name=sim",
                 "--set", "progress=false", *sizes]) == 0
    results = read_json(tmp_path / "sim" / "results.json")
    assert results["task"]["strata"] and results["methods"] == ["ga", "retrain"]
    retrain = results["models"]["retrain"]["info"]
    assert retrain["kept_learn"] == 2 * 3 * 2               # the neighbours only
    summary = (tmp_path / "sim" / "summary.md").read_text()
    assert "## By stratum" in summary and "| retrain |" in summary
    assert "Similar-samples summary" in summary


def test_strata_comparisons_pair_each_cell_with_the_ideal():
    from unlearnlab.comparisons import strata_comparisons
    from unlearnlab.report.tables import strata_test_table
    from unlearnlab.stats import paired_comparison

    results = results_with([1.0, 1.0, 0.0, 1.0])
    results["models"]["ga"]["values"]["target_accuracy"] = [0.0, 0.0, 1.0, 1.0]
    results["models"]["clean"] = {"values": {"corrupted_rate": [0.0] * 4,
                                             "target_accuracy": [1.0] * 4}}
    out = strata_comparisons(results)                # ga only (no corrupted model here)
    cell = out["ga"]["duplicate x1"]["corrupted_rate"]
    assert cell == paired_comparison([1.0, 1.0], [0.0, 0.0], family=2)
    assert cell["mean_diff"] == 1.0 and cell["n"] == 2
    assert out["ga"]["paraphrase x1"]["target_accuracy"]["mean_diff"] == 0.0
    header, rows = strata_test_table({**results, "strata_comparisons": out}, "corrupted_rate")
    assert header == ["model − clean", "duplicate x1", "paraphrase x1"]
    assert rows == [["ga", "+1.000 ns", "+0.500 ns"]]


def test_remedy_search_is_scored_against_the_known_clusters():
    """Each forget document is a request; fuzzy expands the forget set. At a strict threshold
    it finds the forget documents and their duplicates (cosine ~1) and nothing else: cluster
    precision 1 and cluster recall (|F| + |duplicates|) / (|F| + |look-alikes|), counted by
    hand from the task; a loose one finds more of the clusters at a lower precision."""
    from unlearnlab.stages import removal

    cfg = load_config({**SMALL, "removal": {"strategies": ["exact", "fuzzy"],
                                            "threshold": 0.97}}).for_seed(0)
    task = tasks.build(cfg)
    n_forget = 8 * 3
    assert task.requests == [f for f in task.forget] and len(task.requests) == n_forget
    duplicates = [t for t in task.learn if t.endswith("\n")]
    # look-alikes: duplicate, paraphrase, subset neighbours (2 targets per level, counts 1 + 2);
    # a forget document's two duplicates are one text, so 3 + 3 distinct duplicates
    assert len(task.similar) == 3 * 3 * 3 and set(duplicates) <= set(task.similar)
    assert len(duplicates) == 3 * 3 and len(set(duplicates)) == 6
    alike = len(set(task.similar))
    assert alike == 6 + 9 + 9                          # paraphrases and subsets all differ
    plan = removal.plan(cfg, task)
    strict = plan.figures(plan.sets["fuzzy"][0])
    assert strict["removed"] == n_forget + 6
    assert strict["precision"] == pytest.approx(n_forget / (n_forget + 6))
    assert strict["recall"] == 1.0 and strict["cluster_precision"] == 1.0
    assert strict["cluster_recall"] == pytest.approx((n_forget + 6) / (n_forget + alike))
    loose_cfg = load_config({**SMALL, "removal": {"strategies": ["fuzzy"], "threshold": 0.3}})
    loose = removal.plan(loose_cfg.for_seed(0), task)
    figures = loose.figures(loose.sets["fuzzy"][0])
    assert figures["cluster_recall"] > strict["cluster_recall"]
    assert figures["cluster_precision"] < 1.0
    assert plan.figures(plan.sets["exact"][0])["cluster_recall"] == pytest.approx(
        n_forget / (n_forget + alike))


def test_an_oracle_runs_on_the_ground_truth_when_only_fuzzy_is_asked():
    """strategies [fuzzy] alone: retrain (exact by definition) still gets the forget set,
    not a KeyError for the missing `exact` entry; on this task, whose look-alikes are known,
    it also runs on the search's set (`retrain@fuzzy`, the remedy applied to the oracle)."""
    from unlearnlab.methods import Outcome
    from unlearnlab.stages import removal

    cfg = load_config({**SMALL, "removal": {"strategies": ["fuzzy"], "threshold": 0.97}}).for_seed(0)
    task = tasks.build(cfg)
    plan = removal.plan(cfg, task)
    assert plan.strategies_for("retrain") == ["exact", "fuzzy"] and "exact" not in plan.sets
    assert [plan.label("retrain", s) for s in ("exact", "fuzzy")] == ["retrain", "retrain@fuzzy"]
    assert plan.label("npo", "fuzzy") == "npo"
    outcome, texts = removal._run("retrain", "exact", plan, "model", lambda t, m, c: t,
                                  lambda name, ctx: Outcome("model", [], {}), None, cfg, {}, False)
    assert texts == plan.truth == task.forget
    assert outcome.info["removal"]["strategy"] == "exact" and outcome.info["removal"]["threshold"] is None


def test_retrain_at_fuzzy_retrains_without_what_the_search_found(monkeypatch):
    """The oracle's context hands its own forget set to the retraining: the task's data minus
    the search's finds (forget documents and look-alikes), not minus the forget set alone."""
    from unlearnlab.stages import oracle, removal, unlearn

    cfg = load_config({**SMALL, "removal": {"strategies": ["exact", "fuzzy"],
                                            "threshold": 0.97}}).for_seed(0)
    task = tasks.build(cfg)
    found = removal.plan(cfg, task).sets["fuzzy"][0]
    extra = [t for t in found if t not in set(task.forget)]
    assert extra and set(task.forget) <= set(found)
    seen = {}
    monkeypatch.setattr(oracle, "retrain", lambda cfg, task, tok, offset, device, forget=None:
                        seen.setdefault("forget", forget))
    ctx = unlearn.UnlearnContext(cfg=cfg, model=None, tokenizer=None, forget=None, retain=None,
                                 forget_texts=found, retain_texts=[], device="cpu", task=task)
    ctx.retrain(1)
    assert seen["forget"] is found
    kept = task.without_forget(task.learn, found)
    alone = task.without_forget(task.learn)                 # the exact oracle's learn set
    assert not set(kept) & set(found) and set(kept) < set(alone)
    assert set(alone) - set(kept) == set(extra) & set(task.learn)   # the look-alikes go too
