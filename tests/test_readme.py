"""The README's commands: the two quick-start commands, CI calling the test command, and
every `unlearnlab run` example line being a valid invocation."""

import re
import shlex

from conftest import ROOT

from unlearnlab.cli import _parser
from unlearnlab.config import load_config

README = (ROOT / "README.md").read_text()


def _code_lines() -> list[str]:
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", README, flags=re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]


def test_quick_start_has_exactly_the_two_commands_and_ci_runs_the_test_one():
    first = re.search(r"## Quick start\s+```bash\n(.*?)```", README, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first.strip().splitlines()]
    assert commands == ["make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: setup\n\t.*unlearnlab run$", makefile, flags=re.M)
    assert re.search(r"^test: setup\n\t.*pytest -n auto --dist loadfile$", makefile, flags=re.M)


def test_every_run_example_in_the_readme_is_a_valid_config():
    examples = [line for line in _code_lines() if line.startswith("unlearnlab run")]
    assert len(examples) >= 4
    for line in examples:
        argv = shlex.split(line)[1:]
        if argv == ["run", "--help"]:
            continue
        args = _parser().parse_args(argv)
        config = args.config and str(ROOT / args.config)
        load_config(config, args.overrides)     # raises UserError if the example were wrong


def test_report_and_compare_examples_parse():
    lines = [line for line in _code_lines()
             if line.startswith(("unlearnlab report", "unlearnlab compare"))]
    assert len(lines) == 2
    for line in lines:
        args = _parser().parse_args(shlex.split(line)[1:])
        assert args.command in ("report", "compare")
