import dataclasses
import re

import pytest
from conftest import ROOT

from unlearnlab.config import Config, load_config
from unlearnlab.errors import UserError
from unlearnlab.methods import METHODS
from unlearnlab.methods.npo import NPOParams


def test_default_yaml_equals_builtin_defaults():
    loaded = load_config(None)
    assert load_config(ROOT / "configs" / "default.yaml") == loaded
    assert dataclasses.replace(loaded, hparams=Config().hparams) == Config()


def test_overrides_merge_and_parse_yaml_values():
    cfg = load_config(None, ["unlearn.train.lr=2e-4", "methods=[ga,npo]", "learn.lora={r: 4}",
                             "hparams.npo.beta=0.3"])
    assert cfg.unlearn.train.lr == 2e-4
    assert cfg.unlearn.train.scheduler == "constant"          # sibling default kept
    assert cfg.methods == ("ga", "npo")
    assert cfg.learn.lora.r == 4 and cfg.learn.lora.alpha == 16
    assert cfg.hparams["npo"] == NPOParams(beta=0.3)          # parsed once, at loading
    assert cfg.params_of("kl") == METHODS.get("kl").params()  # a method never named: defaults
    text = tuple(n for n in METHODS.names() if "text" in METHODS.get(n).modalities)
    assert load_config(None, ["methods=all"]).methods == text   # every method for the task
    image = load_config(None, ["methods=all", "task=similar_images"]).methods
    assert "salun" in image and "idk_dpo" not in image and "salun" not in text


def test_task_presets_and_moved_keys():
    tofu = load_config(None, ["task=tofu"])
    assert tofu.eval.docs_per_set == 400 and tofu.learn.train.epochs == 10     # TOFU's preset
    assert load_config(None, ["task=tofu", "learn.train.epochs=2"]).learn.train.epochs == 2
    with pytest.raises(UserError, match="config key 'corruption.train' is now 'learn.train'"):
        load_config(None, ["corruption.train.lr=1e-3"])
    with pytest.raises(UserError, match="task: unknown value 'mnist'; valid: world, restor_wikidata"):
        load_config(None, ["task=mnist"])
    with pytest.raises(UserError, match="hparams.npo: expected a mapping"):
        load_config(None, ["hparams.npo=5"])


@pytest.mark.parametrize("override, message", [
    ("colour=red", "unknown config key 'colour'; valid keys here: name, task, seed"),
    ("world.size=3", "unknown config key 'world.size'; valid keys here: seed, n_entities"),
    ("methods=[ga,magic]", "methods: unknown method 'magic'; valid: all, finetune_retain, "),
    ("hparams.npo.beta=-1", "hparams.npo.beta must be > 0.0, got -1"),
    ("hparams.npo.gamma=1", "hparams.npo: unknown key 'gamma'; valid: beta"),
    ("unlearn.train.lr=0", "unlearn.train.lr must be a finite number > 0, got 0.0"),
    ("unlearn.train.scheduler=step", "unlearn.train.scheduler: unknown value 'step'; valid: linear"),
    ("device=tpu", "device: unknown value 'tpu'; valid: auto, cpu, cuda"),
    ("eval.batch_size=big", "eval.batch_size: expected an integer, got 'big'"),
    ("world.relations=[birthplace,shoe_size]", "world.relations: unknown relation 'shoe_size'"),
    ("corruption.context_facts=-2", "corruption.context_facts must be >= 0, got -2"),
    ("novalue", "--set expects key=value"),
    ("eval.curve_metrics=[utility,vibes]", "eval.curve_metrics: unknown metric 'vibes'; valid: target_accuracy"),
    ("eval.every_n_steps=-1", "eval.every_n_steps must be >= 0, got -1"),
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


def test_retrain_on_an_external_model_is_refused(tmp_path):
    with pytest.raises(UserError, match="'retrain' .* cannot retrain an external model"):
        load_config(None, [f"model={tmp_path}", "methods=[ga,retrain]"])


@pytest.mark.parametrize("selector, message", [
    ("layers:7", "params: bad layer selector 'layers:7'; this model has blocks 0-1"),
    ("layers:1-0", "bad layer selector 'layers:1-0'"),
    ("layers:x", "bad layer selector 'layers:x'"),
    ("mlp\\.nothing_like_this", "matches no parameter; valid: all, embeddings, lm_head, layers:A-B"),
    ("(", "is neither a known selector nor a valid regex"),
])
def test_bad_parameter_selectors_name_the_valid_range(selector, message):
    from transformers import LlamaConfig, LlamaForCausalLM

    from unlearnlab.train.params import select_parameters

    model = LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=2, num_attention_heads=2,
                                         num_key_value_heads=2))
    with pytest.raises(UserError, match=re.escape(message) if "(" not in message else message):
        select_parameters(model, selector)


def test_parameter_selectors_pick_what_they_name():
    from transformers import LlamaConfig, LlamaForCausalLM

    from unlearnlab.train.params import select_parameters

    model = LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=3, num_attention_heads=2,
                                         num_key_value_heads=2))
    names = {id(p): n for n, p in model.named_parameters()}

    def picked(selector):
        return sorted(names[id(p)] for p in select_parameters(model, selector))

    assert picked("embeddings") == ["model.embed_tokens.weight"]
    assert picked("lm_head") == ["lm_head.weight"]
    assert picked("embeddings,lm_head") == ["lm_head.weight", "model.embed_tokens.weight"]
    assert all(".layers.1." in n or ".layers.2." in n for n in picked("layers:1-2"))
    assert len(picked("layers:1-2")) == 2 * len(picked("layers:0"))
    assert picked(r"mlp\.down_proj") == [f"model.layers.{i}.mlp.down_proj.weight" for i in range(3)]
    assert len(picked("all")) == len(names)
