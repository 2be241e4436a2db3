"""The plugin API: the README's complete example, loaded from a file, runs from a config."""

import re

import pytest
import torch
from conftest import ROOT

from unlearnlab.config import load_config
from unlearnlab.errors import UserError
from unlearnlab.methods import METHODS
from unlearnlab.train.forward import Forward
from unlearnlab.train.inputs import StepInputs

README = (ROOT / "README.md").read_text()


def readme_plugin() -> str:
    return re.search(r"```python\n(# my_methods\.py.*?)```", README, flags=re.S).group(1)


def test_readme_plugin_example_is_short_loads_and_computes(tmp_path, monkeypatch):
    code = readme_plugin()
    assert len(code.strip().splitlines()) <= 25
    (tmp_path / "my_methods.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["plugins=[my_methods.py]", "methods=[ga,clipped_ga]",
                             "hparams.clipped_ga.max_nll=2.0"])
    assert cfg.methods == ("ga", "clipped_ga")
    spec = METHODS.get("clipped_ga")
    # forget: two one-token sequences with p = e^-1 and e^-3 -> NLL 1 and 3, clipped at 2
    # -> forget term 1.5; retain: p = e^-0.5 -> NLL 0.5.  loss = -1.5 + 1.0 * 0.5 = -1.0
    forget = Forward(token_logps=torch.tensor([[-1.0], [-3.0]]), mask=torch.ones(2, 1))
    retain = Forward(token_logps=torch.tensor([[-0.5]]), mask=torch.ones(1, 1))
    loss, _ = spec.loss(spec.hyperparams({"max_nll": 2.0}), StepInputs(forget=forget, retain=retain))
    assert loss.item() == pytest.approx(-1.0)
    with pytest.raises(UserError, match="hparams.clipped_ga.max_nll must be > 0"):
        load_config(None, ["plugins=[my_methods.py]", "hparams.clipped_ga.max_nll=0"])


def test_plugin_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="plugins: file not found: nope.py"):
        load_config(None, ["plugins=[nope.py]"])
    with pytest.raises(UserError, match="plugins: cannot load 'no_such_module_xyz'"):
        load_config(None, ["plugins=[no_such_module_xyz]"])
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UserError, match="RuntimeError: boom"):
        load_config(None, ["plugins=[broken_plugin.py]"])
