import pytest

from unlearnlab.config import Config, load_config
from unlearnlab.errors import UserError

from conftest import ROOT


def test_default_yaml_equals_builtin_defaults():
    assert load_config(ROOT / "configs" / "default.yaml") == load_config(None) == Config()


def test_overrides_merge_and_parse_yaml_values():
    cfg = load_config(None, ["unlearn.train.lr=2e-4", "methods=[ga,npo]", "corruption.lora={r: 4}",
                             "hparams.npo.beta=0.3"])
    assert cfg.unlearn.train.lr == 2e-4
    assert cfg.unlearn.train.scheduler == "constant"          # sibling default kept
    assert cfg.methods == ("ga", "npo")
    assert cfg.corruption.lora.r == 4 and cfg.corruption.lora.alpha == 16
    assert cfg.hparams["npo"] == {"beta": 0.3}
    from unlearnlab.methods import METHODS
    assert load_config(None, ["methods=all"]).methods == tuple(METHODS.names())


@pytest.mark.parametrize("override, message", [
    ("colour=red", "unknown config key 'colour'; valid keys here: name, seed"),
    ("world.size=3", "unknown config key 'world.size'; valid keys here: seed, n_entities"),
    ("methods=[ga,magic]", "methods: unknown method 'magic'; valid: all, ga, graddiff"),
    ("hparams.npo.beta=-1", "hparams.npo.beta must be > 0.0, got -1"),
    ("hparams.npo.gamma=1", "hparams.npo: unknown key 'gamma'; valid: beta"),
    ("unlearn.train.lr=0", "unlearn.train.lr must be > 0, got 0.0"),
    ("unlearn.train.scheduler=step", "unlearn.train.scheduler: unknown value 'step'; valid: linear"),
    ("device=tpu", "device: unknown value 'tpu'; valid: auto, cpu, cuda"),
    ("eval.batch_size=big", "eval.batch_size: expected an integer, got 'big'"),
    ("world.relations=[birthplace,shoe_size]", "world.relations: unknown relation 'shoe_size'"),
    ("corruption.context_facts=-2", "corruption.context_facts must be >= 0, got -2"),
    ("novalue", "--set expects key=value"),
])
def test_bad_config_names_the_key_and_the_valid_options(override, message):
    with pytest.raises(UserError) as info:
        load_config(None, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("world: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
