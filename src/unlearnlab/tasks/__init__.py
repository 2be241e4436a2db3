"""Tasks: the data of an experiment (see tasks/base.py for the contract).

    world            RESTOR's protocol on the built-in world of fictional entities
    restor_wikidata  RESTOR's real data: Wikidata facts, mix_a{k} and SQuAD corruption corpora
    tofu             TOFU's fictitious authors (forget01/05/10), metrics as open-unlearning's
    custom           your own forget / retain / holdout files, and optional QA evaluation
    records          fictional people's personal records; some ask to be forgotten
    similar_text     the world's corruption with similar samples kept in training (Xu et al.)
    similar_tofu     TOFU's QA pairs with similar pairs kept in training (Xu et al.)
    similar_images   scikit-learn's digits with similar images kept in training (Xu et al.)

This package imports nothing heavy (the config layer reads its presets before any model code).
"""

from __future__ import annotations

import importlib

from unlearnlab.tasks.presets import PRESETS, TASK_NAMES, modality

__all__ = ["PRESETS", "TASK_NAMES", "build", "modality"]


def build(cfg):
    """The task `cfg.task` for `cfg.seed` (a `tasks.base.Task`); bad or missing data is a
    `UserError`."""
    return importlib.import_module(f"unlearnlab.tasks.{cfg.task}").build(cfg)
