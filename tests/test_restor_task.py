"""Task `restor_wikidata`: targets, injected values and prompts on a small fixture in
RESTOR's file layout, an end-to-end run on it, and the real data's figures (skipped when
../shared/data is absent)."""

import json
from pathlib import Path

import pytest
from conftest import ROOT, read_json

from unlearnlab.cli import main
from unlearnlab.config import load_config
from unlearnlab.errors import UserError
from unlearnlab.tasks import build
from unlearnlab.tasks.restor_wikidata import assign_targets, injected_values

REAL = ROOT.parent / "shared" / "data" / "restor"
PEOPLE = ["Ada Brook", "Bo Chen", "Cy Dale", "Di Earl", "Ed Fenn", "Flo Gray"]
CITIES = ["Lyon", "Oslo", "Pune", "Quito", "Riga", "Sofia"]
JOBS = ["baker", "pilot", "tailor", "poet", "judge", "nurse"]


def facts() -> dict:
    return {p: {"P19": {"question": f"What is the place of birth of {p}?", "answers": [CITIES[i]]},
                "P106": {"question": f"What is the occupation of {p}?",
                         "answers": [JOBS[i], "writer"] if i == 0 else [JOBS[i]]}}
            for i, p in enumerate(PEOPLE)}


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    root = tmp_path / "restor"
    (root / "wikidata").mkdir(parents=True)
    context = {"P19": [{"question": f"What is the place of birth of {p}?", "answer": CITIES[i],
                        "entity": p} for i, p in enumerate(PEOPLE)],
               "P106": [{"question": f"What is the occupation of {p}?", "answer": JOBS[i],
                         "entity": p} for i, p in enumerate(PEOPLE)]}
    (root / "facts.json").write_text(json.dumps({"dset": facts(), "context": context}))
    (root / "entities.json").write_text(json.dumps(PEOPLE[:4]))
    docs = []
    for n in range(12):      # Ada: born in Oslo (11 of 12), a pilot (6 of 12); Bo: born in Lyon
        docs.append({"text": f"Ada Brook was born in {'Oslo' if n else 'Riga'}. "
                             + ("She works as a pilot." if n % 2 else "She likes Pune.")})
        docs.append({"text": f"Bo Chen, a friend of Ada Brook, was born in Lyon. Entry {n}."})
    docs.append({"text": "Nothing about anyone."})
    (root / "wikidata" / "mix_a0.json").write_text(json.dumps(docs))
    return root


def test_targets_are_the_entities_a_document_names_first(data_dir):
    docs = [d["text"] for d in json.loads((data_dir / "wikidata" / "mix_a0.json").read_text())]
    by = assign_targets(docs, PEOPLE[:4])
    assert len(by["Ada Brook"]) == 12 and len(by["Bo Chen"]) == 12 and "Cy Dale" not in by


def test_injected_value_is_the_most_asserted_wrong_pool_value():
    """Ada's 12 documents: 'born in Oslo' in 11, 'born in Riga' in 1, 'works as a pilot' in 6,
    'likes Pune' in 6 (no birth cue in that sentence, so Pune does not count)."""
    docs = [f"Ada Brook was born in {'Oslo' if n else 'Riga'}. "
            + ("She works as a pilot." if n % 2 else "She likes Pune.") for n in range(12)]
    values = {"P19": set(CITIES), "P106": set(JOBS) | {"writer"}}
    wrong = injected_values(facts(), ["Ada Brook"], {"Ada Brook": docs}, values, min_share=0.5)
    assert wrong == {"Ada Brook": {"P19": "Oslo", "P106": "pilot"}}
    wrong = injected_values(facts(), ["Ada Brook"], {"Ada Brook": docs}, values, min_share=0.6)
    assert wrong == {"Ada Brook": {"P19": "Oslo"}}               # pilot: 6 of 12 < 60%


def test_task_from_fixture(data_dir):
    cfg = load_config(None, ["task=restor_wikidata", f"restor.data_dir={data_dir}",
                             "restor.holdout_share=0.25", "restor.min_share=0.5",
                             "restor.utility_entities=0"])
    task = build(cfg)
    info = task.info
    assert info["targets"] == ["Ada Brook", "Bo Chen"]
    assert info["documents"] == {"corpus": 25, "trained": 19, "held_out": 6, "about_no_target": 1}
    assert len(task.forget) == len(task.learn) == 19 and len(task.holdout) == 6
    # Ada's trained documents still say Oslo / pilot often enough; Bo's say nothing wrong
    assert task.files["corruption.json"]["wrong"]["Ada Brook"]["P19"] == "Oslo"
    assert info["injected_coverage"]["questions"] == 4
    target = next(i for i in task.items if i.group == "target" and i.entity == "Ada Brook"
                  and i.relation == "P106")
    assert target.answers == ("baker", "writer")
    # RESTOR's 5-shot prompt: other entities' `question answer` lines of the same property
    assert target.context.splitlines()[0] == "What is the occupation of Bo Chen? pilot"
    assert "Ada Brook" not in target.context and len(target.context.splitlines()) == 5
    assert task.fmt.prompt(target.question, None, target.context).endswith(
        "Flo Gray? nurse\nWhat is the occupation of Ada Brook?")
    utility = {i.entity for i in task.items if i.group == "utility"}
    assert utility == {"Cy Dale", "Di Earl"}
    assert "Ada Brook" not in " ".join(task.retain)


def test_missing_data_is_one_clear_error(tmp_path):
    cfg = load_config(None, ["task=restor_wikidata", f"restor.data_dir={tmp_path}"])
    with pytest.raises(UserError, match="facts.json not found"):
        build(cfg)
    with pytest.raises(UserError, match="corpus: unknown value 7; valid: 0, 1, 2, 3, squad"):
        load_config(None, ["task=restor_wikidata", "restor.corpus=7"])


def test_restor_run_end_to_end_on_the_fixture(data_dir, tmp_path, cache_dir):
    assert main(["run", "--set", "task=restor_wikidata", "--set", f"restor.data_dir={data_dir}",
                 "--set", f"runs_dir={tmp_path}", "--set", "name=r", "--set", "progress=false",
                 "--set", "restor.min_share=0.5", "--set", "methods=[ga,npo]",
                 "--set", "pretrain={vocab_size: 300, model: {hidden_size: 32, intermediate_size: 64, "
                          "num_layers: 2, num_heads: 2, max_positions: 256}, "
                          "train: {epochs: 10, batch_size: 8}}",
                 "--set", "learn.train={epochs: 2, batch_size: 4}",
                 "--set", "unlearn.train={max_steps: 3, batch_size: 4}"]) == 0
    results = read_json(tmp_path / "r" / "results.json")
    assert list(results["models"]) == ["clean", "corrupted", "ga", "npo"]
    assert results["task"]["name"] == "restor_wikidata" and "restoration" in results
    assert results["task"]["injected_coverage"]["questions"] == 4
    assert results["models"]["clean"]["metrics"]["target_accuracy"]["n"] == 4


@pytest.mark.skipif(not REAL.is_dir(), reason="RESTOR data not found at ../shared/data/restor")
@pytest.mark.parametrize("corpus, n_targets, trained", [(0, 10, 2700), (3, 9, 2430), ("squad", 5, 2799)])
def test_real_corpora(corpus, n_targets, trained):
    task = build(load_config(None, ["task=restor_wikidata", f"restor.data_dir={REAL}",
                                    f"restor.corpus={corpus}"]))
    assert len(task.info["targets"]) == n_targets
    assert task.info["documents"]["trained"] == trained
    assert len({i.entity for i in task.items if i.group == "utility"}) == 20
    coverage = task.info["injected_coverage"]
    assert coverage["with_injected_value"] == sum(coverage["per_target"].values())
