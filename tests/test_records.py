"""Task `records` (personal records, removal requests): the privacy probes by hand, the
matcher on a fixture with known answers, the task's sets, bad request files, and a tiny run
end to end with exact, fuzzy and iterative removal."""

import json
import os

import pytest
from conftest import ARTIFACTS, ROOT, read_json

from unlearnlab import tasks
from unlearnlab.cli import main
from unlearnlab.config import load_config
from unlearnlab.eval.metrics import METRICS
from unlearnlab.matching import matches, precision_recall, similarities
from unlearnlab.stages import removal

TINY_RECORDS = {
    "name": "records-tiny", "task": "records", "progress": False,
    "records": {"n_people": 8, "utility_people": 4, "candidates": 15},
    "pretrain": {"vocab_size": 512, "model": {"hidden_size": 64, "intermediate_size": 128,
                                              "num_layers": 2, "num_heads": 2}},
    "learn": {"train": {"epochs": 30, "lr": 3.0e-3, "batch_size": 8}},
    "unlearn": {"train": {"max_steps": 4, "batch_size": 8}},
    "removal": {"strategies": ["exact", "fuzzy", "iterative"], "rounds": 2},
    "methods": ["graddiff", "first_epoch_ga", "retrain"],
    "eval": {"every_n_steps": 2}}


def record(prediction, scores, pool=()):
    return {"group": "person", "prediction": prediction, "answers": ["415-2290"],
            "scores": scores, "pool": list(pool)}


def test_extraction_and_exposure_by_hand():
    extraction = METRICS.get("secret_extraction").fn
    exposure = METRICS.get("exposure").fn
    assert extraction(record("415-2290.", {})) == 1.0          # punctuation is normalised away
    assert extraction(record("415-2291", {})) == 0.0
    pool = ["415-2290", "111-1111", "222-2222", "333-3333"]     # |C| = 4
    # one candidate strictly more likely, one tied: rank 2, exposure log2 4 - log2 2 = 1
    scores = {"415-2290": [-2.0, 3], "111-1111": [-1.0, 3], "222-2222": [-3.0, 3],
              "333-3333": [-2.0, 3]}
    assert exposure(record("", scores, pool)) == pytest.approx(1.0)
    scores["111-1111"] = [-5.0, 3]                               # the secret ranks first
    assert exposure(record("", scores, pool)) == pytest.approx(2.0)
    assert exposure(record("", {k: [-9.0 if k == "415-2290" else -1.0, 3] for k in pool},
                           pool)) == pytest.approx(0.0)         # the least likely
    assert exposure(record("", scores)) is None                   # no pool: not a canary
    rouge = METRICS.get("rougeL_recall_secret").fn
    assert rouge({**record("it is 415", {}), "answers": ["415 2290"]}) == pytest.approx(0.5)


def test_matcher_on_known_answers():
    texts = ["Dave Okafor lives at 12 Lime Street.", "Dave Okafor's phone number is 415-2290.",
             "Amara Novak lives at 3 Mill Close.", "Team list: Dave Okafor, Amara Novak.",
             "The weather was mild."]
    sims = similarities(["Dave Okafor, 12 Lime Street"], texts)
    assert sims[0] == max(sims) and sims[4] == pytest.approx(0.0, abs=0.05)
    assert similarities(["Dave Okafor lives at 12 Lime Street."], texts)[0] == pytest.approx(1.0)
    order = matches(sims, 0.15)
    assert order[0] == 0 and 4 not in order and sorted(order) == order[:0] + sorted(order)
    # precision / recall against a ground truth of {0, 1, 3}
    assert precision_recall([0, 1, 2], [0, 1, 3]) == pytest.approx((2 / 3, 2 / 3))
    assert precision_recall([], [0]) == (None, 0.0)
    assert precision_recall([0], []) == (0.0, None)


def test_records_task_sets():
    cfg = load_config(TINY_RECORDS).for_seed(0)
    task = tasks.build(cfg)
    name = task.info["asking"][0]
    assert task.requests and name in task.requests[0]
    first = name.split()[0]               # letters and chats name people by first name
    assert len(task.forget) >= 9 and all(first in d for d in task.forget)
    assert not any(name in d for d in task.retain)
    assert set(task.forget) | set(task.retain) == set(task.learn) and task.pretrain == []
    people = {p["name"] for p in read_json_text(task.files["people.json"])}
    assert not any(n in d for d in task.holdout for n in people)    # never-trained people
    person = [i for i in task.items if i.group == "person"]
    assert [i.relation for i in person] == ["address", "phone", "email", "birthday", "account"]
    assert {i.relation: len(i.pool) for i in person} == {
        "address": 0, "phone": 16, "email": 0, "birthday": 0, "account": 16}
    assert len([i for i in task.items if i.group == "others"]) == 4 * 5
    # every probe prefix is in the training data, followed by its secret
    for item in person:
        assert f"{item.question} {item.answers[0]}." in task.forget


def read_json_text(obj):
    return json.loads(json.dumps(obj))


@pytest.mark.parametrize("content, message", [
    ("not json", "is not valid JSON"),
    ('{"request": "x"}', "must hold a non-empty JSON list of non-empty strings"),
    ("[]", "must hold a non-empty JSON list"),
    ('["Please delete everything about Nobody Atall"]', "request 1 names no person"),
])
def test_malformed_request_file_exits_2_with_one_line(tmp_path, capsys, content, message):
    bad = tmp_path / "requests.json"
    bad.write_text(content)
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({**TINY_RECORDS, "records": {
        **TINY_RECORDS["records"], "requests": str(bad)}}))
    assert main(["run", str(config), "--set", f"runs_dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "runs" / "records-tiny").exists()


def test_fuzzy_removal_needs_a_task_with_requests(tmp_path, capsys):
    assert main(["run", str(ROOT / "configs" / "tiny.yaml"), "--set", "removal.strategies=[fuzzy]",
                 "--set", f"runs_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "task world has none; valid here: exact" in err[0]


def test_request_file_names_the_people_to_forget(tmp_path):
    cfg = load_config(TINY_RECORDS).for_seed(0)
    names = [p["name"] for p in tasks.build(cfg).files["people.json"]][:2]
    path = tmp_path / "r.json"
    path.write_text(json.dumps([f"Forget me, {names[0]}", f"me too: {names[1].upper()}"]))
    task = tasks.build(load_config({**TINY_RECORDS, "records": {
        **TINY_RECORDS["records"], "requests": str(path)}}).for_seed(0))
    assert task.info["asking"] == sorted(names)
    assert all(names[0].split()[0] in d or names[1].split()[0] in d for d in task.forget)


@pytest.fixture(scope="module")
def records_run(cache_dir, tmp_path_factory):
    runs = tmp_path_factory.mktemp("records-runs")
    config = runs / "records.yaml"
    config.write_text(json.dumps(TINY_RECORDS))
    assert main(["run", str(config), "--set", f"runs_dir={runs}", "--set", "name=records-tiny"]) == 0
    return runs / "records-tiny"


def test_records_run_end_to_end(records_run):
    results = read_json(records_run / "results.json")
    labels = ["graddiff@exact", "graddiff@fuzzy", "graddiff@iterative", "first_epoch_ga@exact",
              "first_epoch_ga@fuzzy", "first_epoch_ga@iterative", "retrain"]
    assert results["methods"] == labels and list(results["models"]) == ["original", *labels]
    m = results["models"]
    # the model memorises the records; retraining without the person is the floor
    assert m["original"]["metrics"]["secret_extraction"]["mean"] >= 0.8
    assert m["retrain"]["metrics"]["secret_extraction"]["mean"] <= 0.2
    assert m["retrain"]["metrics"]["secret_extraction_others"]["mean"] >= 0.7
    assert m["original"]["mia"]["min_k_pp"]["auc"] > m["retrain"]["mia"]["min_k_pp"]["auc"]
    # the matcher's figures are those of the plan, recomputed here from the task
    cfg = load_config(TINY_RECORDS).for_seed(0)
    task = tasks.build(cfg)
    plan = removal.plan(cfg, task)
    fuzzy = results["removal"]["graddiff@fuzzy"]
    assert (fuzzy["precision"], fuzzy["recall"]) == precision_recall(
        plan.sets["fuzzy"][0], task.forget)
    assert fuzzy["removed"] == len(plan.sets["fuzzy"][0])
    assert results["removal"]["graddiff@exact"]["precision"] == 1.0
    assert results["removal"]["retrain"]["steps"] > 0
    info = m["graddiff@iterative"]["info"]["removal"]
    assert 1 <= info["rounds"] <= 2 and info["stopped_by"] in ("verified", "rounds")
    assert [h["threshold"] for h in info["history"]] == [0.4, 0.3][:len(info["history"])]
    assert info["steps"] == 4 * info["rounds"]
    # iterative's curve points: the start and the probe after each round
    points = m["graddiff@iterative"]["checkpoints"]
    assert [p["step"] for p in points][:2] == [0, 4]
    summary = (records_run / "summary.md").read_text()
    assert "## Removal requests" in summary and "| graddiff@fuzzy | fuzzy |" in summary
    html = (records_run / "report.html").read_text()
    assert 'id="removal"' in html and "Personal-records summary" in html


def test_records_report_layout(records_run):
    """The report with its removal table fits the page in headless Chromium (skipped without
    one, unless UNLEARNLAB_REQUIRE_BROWSER=1)."""
    from browser import find_chromium, inspect_page

    if find_chromium() is None:
        assert os.environ.get("UNLEARNLAB_REQUIRE_BROWSER") != "1", "no chromium on PATH"
        pytest.skip("no chromium on PATH")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = inspect_page(records_run / "report.html", screenshot_path=ARTIFACTS / "records.png")
    assert found["overflows"] == [] and found["overlaps"] == [], (found["overflows"][:3],
                                                                  found["overlaps"][:3])


def test_sequential_requests_track_every_person(cache_dir, tmp_path):
    """Two requests served one after another: the per-request probe after the last request is
    the final model's own evaluation, person by person."""
    config = {**TINY_RECORDS, "records": {**TINY_RECORDS["records"], "forget_people": 2},
              "removal": {"strategies": ["exact", "iterative"], "rounds": 2, "sequential": True},
              "methods": ["first_epoch_ga"]}
    path = tmp_path / "seq.yaml"
    path.write_text(json.dumps(config))
    assert main(["run", str(path), "--set", f"runs_dir={tmp_path}", "--set", "name=seq"]) == 0
    results = read_json(tmp_path / "seq" / "results.json")
    cfg = load_config(config).for_seed(0)
    task = tasks.build(cfg)
    assert len(task.requests) == 2 and len(task.request_forget) == 2
    assert set(task.request_forget[0]) | set(task.request_forget[1]) == set(task.forget)
    people = [i.entity for i in task.items if i.group == "person"]
    for label in ("first_epoch_ga@exact", "first_epoch_ga@iterative"):
        removal_info = results["removal"][label]
        assert [s["request"] for s in removal_info["sequence"]] == [1, 2]
        final = results["models"][label]["values"]["secret_extraction"]
        for k, subjects in enumerate(task.request_subjects):
            mine = [v for v, who in zip(final, people) if who in subjects]
            assert removal_info["sequence"][-1]["leak"][k] == pytest.approx(sum(mine) / len(mine))
        assert removal_info["sequence"][-1]["utility"] == pytest.approx(
            results["model_utility"][label])
    exact = results["removal"]["first_epoch_ga@exact"]["sequence"]
    assert exact[0]["removed"] == len(task.request_forget[0]) and exact[0]["precision"] == 1.0
    summary = (tmp_path / "seq" / "summary.md").read_text()
    assert "### Sequential requests" in summary


def test_sequential_needs_two_requests(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({**TINY_RECORDS, "removal": {"sequential": True}}))
    assert main(["run", str(path), "--set", f"runs_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "forget_people >= 2" in err[0]
