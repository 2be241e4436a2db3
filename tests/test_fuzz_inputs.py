"""Fuzz: every config key with hostile values, and every bad input issue 13 names, end as
one line (UserError / exit 2), never a traceback, never a half-written or replaced run."""


import pytest
import yaml
from conftest import ROOT, TINY, refused_keeping_run

from unlearnlab.config import load_config
from unlearnlab.errors import UserError

DEFAULTS = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
HOSTILE = [".nan", ".inf", "-.inf", "-1", "0", "-0.5", "2.5", "1.0e30", "abc", "''", "[]",
           "{}", "[1, 2]", "{a: 1}", "true", "null"]


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


LEAVES = list(_leaves(DEFAULTS))


def test_every_key_with_every_hostile_value_is_accepted_or_one_line():
    crashes, multiline = [], []
    for key, _ in LEAVES:
        for value in HOSTILE:
            try:
                load_config(None, [f"{key}={value}"])
            except UserError as exc:
                if "\n" in str(exc) or not str(exc).strip():
                    multiline.append((key, value))
            except Exception as exc:                     # noqa: BLE001 - the point of the test
                crashes.append((key, value, type(exc).__name__))
    assert len(LEAVES) > 80                              # the whole schema, not a sample
    assert not crashes and not multiline, (crashes, multiline)


@pytest.mark.parametrize("key", [k for k, v in LEAVES
                                 if isinstance(v, (int, float)) and not isinstance(v, bool)])
def test_no_numeric_key_takes_a_non_finite_value(key):
    for value in (".nan", ".inf", "-.inf"):
        with pytest.raises(UserError):
            load_config(None, [f"{key}={value}"])


def test_method_hyperparameters_refuse_non_finite_and_booleans():
    for setting in ("hparams.npo.beta=.nan", "hparams.npo_retain.beta=.inf",
                    "hparams.npo.beta=true", "hparams.first_epoch_ga.target_nll_ratio=.nan"):
        with pytest.raises(UserError, match=r"^hparams\."):
            load_config(None, [setting])


@pytest.mark.parametrize("setting, message", [
    ("task=[]", "task: unknown value []"),
    ("pretrain.model.num_heads=3", "must be a multiple of num_heads (3)"),
    ("pretrain.model.hidden_size=-1", "pretrain.model.hidden_size must be >= 1"),
    ("removal.stop_below=.nan", "stop_below must be a finite number"),
    ("hparams.npo.beta=.nan", "hparams.npo.beta must be > 0.0, got nan"),
])
def test_new_bad_settings_keep_the_previous_run(setting, message, tiny_run, capsys):
    refused_keeping_run(tiny_run, ["run", str(TINY), "--set", setting], message, capsys)


def test_first_epoch_ga_selector_is_checked_before_training(tiny_run, capsys):
    refused_keeping_run(tiny_run, ["run", str(TINY), "--set", "methods=[first_epoch_ga]",
                                    "--set", "hparams.first_epoch_ga.params=abc"],
                         "hparams.first_epoch_ga.params: 'abc' matches no parameter", capsys)


def test_config_file_not_utf8_keeps_the_previous_run(tiny_run, tmp_path, capsys):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: x\n# caf\xe9\n")
    refused_keeping_run(tiny_run, ["run", str(latin)], "is not UTF-8 text", capsys)


def test_cache_folder_that_cannot_be_written_keeps_the_previous_run(tiny_run, tmp_path,
                                                                    monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(blocker / "cache"))   # under a file: unwritable
    refused_keeping_run(tiny_run, ["run", str(TINY)], "the cache folder ($UNLEARNLAB_CACHE)",
                         capsys)
