"""The layering the design asks for, checked on the source: methods never import the training
loop or the stages; only tasks/ (and the world generator) know which task runs."""

import ast

from conftest import ROOT

SRC = ROOT / "src" / "unlearnlab"


def imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_methods_do_not_import_the_loop_or_stages():
    for path in (SRC / "methods").glob("*.py"):
        bad = {m for m in imports(path) if m.startswith(("unlearnlab.train.loop", "unlearnlab.stages",
                                                          "unlearnlab.pipeline"))}
        assert not bad, f"{path.name} imports {bad}"


def test_only_tasks_know_which_task_runs():
    """(The config layer may read the world's relation names: the defaults of its section.)"""
    task_modules = ("unlearnlab.tasks.world", "unlearnlab.tasks.restor_wikidata",
                    "unlearnlab.tasks.tofu", "unlearnlab.tasks.custom", "unlearnlab.tasks.records", "unlearnlab.tasks.similar_text",
                    "unlearnlab.tasks.similar_images", "unlearnlab.images",
                    "unlearnlab.world")
    outside = [p for p in SRC.rglob("*.py")
               if not {"tasks", "world", "images"} & set(p.relative_to(SRC).parts)]
    for path in outside:
        bad = {m for m in imports(path) if m.startswith(task_modules)
               and not (path.name == "config.py" and m.startswith("unlearnlab.world.relations"))}
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"
    pipeline = (SRC / "pipeline.py").read_text()
    for name in ("world", "restor", "tofu", "custom", "records", "similar_text", "similar_images"):
        assert f'"{name}"' not in pipeline and f"'{name}'" not in pipeline
