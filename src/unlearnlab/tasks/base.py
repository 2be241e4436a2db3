"""The task contract: everything data-specific about one experiment, for one seed.

A task is the data; the pipeline is the protocol. Every task supplies the same things, and
nothing outside tasks/ (and the world generator) knows which task it runs:

    tokenizer_texts  what the built-in tokenizer is trained on
    pretrain         the built-in model's corpus from scratch ([]: random initialisation)
    learn            what the clean model is then fine-tuned on to learn the forget set:
                     RESTOR's corruption documents, TOFU's 4,000 QA pairs; [] = no such stage
                     (the clean model is already the model to unlearn from)
    forget, retain   the unlearning sets; holdout: non-members like the forget set (MIA)
    items            the evaluation questions, formatted by `fmt`
    queries          questions with the answers the forget set taught, and influence_pairs
                     (forget index, query index): whose influence the evaluation measures
    roles            labels of the model before `learn` (None: not evaluated) and after it
    scoring          which metrics lead, are compared, make model utility and forget quality
    requests         free-text removal requests (records): what `removal.strategies` fuzzy
                     and iterative resolve against the training data; `forget` is their
                     ground truth; request_forget and request_subjects: each request's
                     own ground truth and the entities of the items that probe it (for
                     removal.sequential)
    similar          training texts similar to the forget set that stay in training
                     (similar_text): a search that expands the forget set (the remedy) is
                     also scored against forget + similar, the known clusters
    files, info      JSON written into the run folder, and facts reported in results.json

The pipeline trains on `Text` lists (documents or prompt-answer pairs, see texts.py).
Retraining from scratch without the forget set follows from the same fields: `pretrain`
minus forget with the pretraining recipe, then `learn` minus forget with the learn recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from unlearnlab.eval.items import EvalItem
from unlearnlab.texts import Pair, PromptFormat, Text
from unlearnlab.train.batches import ExampleSet


@dataclass(frozen=True)
class Scoring:
    """How a task's results read (stored in results.json; the report reads them from there)."""

    main: tuple[str, ...]                 # the models table's columns (metrics, or derived figures)
    compared: tuple[str, ...]             # per-item metrics compared pairwise across models
    primary: str                          # the metric of the method-vs-method comparison
    utility: tuple[str, ...] = ()         # model utility: harmonic mean of these metric means
    forget_quality: str | None = None     # per-item metric whose distributions the KS test compares
    restoration: bool = False             # RESTOR's restoration from `primary` (clean vs corrupted)
    oracle_fallback: str | None = None    # the model standing in for `retrain` when it did not run
    mia_k: float = 0.2                    # Min-K% share of tokens in the membership scores
    mia_drop_eos: bool = False            # leave the final EOS out of the membership scores


@dataclass
class Task:
    name: str
    fmt: PromptFormat
    tokenizer_texts: list[str]
    pretrain: list[Text]
    learn: list[Text]
    forget: list[Text]
    retain: list[Text]
    holdout: list[Text]
    items: list[EvalItem]
    roles: tuple[str | None, str]
    scoring: Scoring
    files: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    queries: list[Pair] = field(default_factory=list)               # what the forget set taught
    influence_pairs: list[tuple[int, int]] = field(default_factory=list)  # (forget index, query index)
    requests: list[str] = field(default_factory=list)               # removal requests (free text)
    request_forget: list[list[Text]] = field(default_factory=list)  # each request's ground truth
    request_subjects: list[tuple[str, ...]] = field(default_factory=list)  # each request's item entities
    similar: list[Text] = field(default_factory=list)               # the forget set's look-alikes

    def training_texts(self) -> list[Text]:
        """Everything the model to unlearn was trained on (pretrain, then learn), each once."""
        return list(dict.fromkeys([*self.pretrain, *self.learn]))

    def forget_positions(self, texts: list[Text] | None = None) -> list[int]:
        """Where each forget item (or each of `texts`) sits in `learn` (influence is recorded
        while learning it)."""
        where = {t: i for i, t in enumerate(self.learn)}
        return [where[t] for t in (self.forget if texts is None else texts) if t in where]

    def without_forget(self, texts: list[Text], forget: list[Text] | None = None) -> list[Text]:
        """`texts` minus the forget set (the task's, or `forget`: what a removal search found)."""
        forgotten = set(self.forget if forget is None else forget)
        return [t for t in texts if t not in forgotten]

    def summary(self) -> dict:
        """What results.json says about the task: its name, roles and scoring, and its facts."""
        before, start = self.roles
        return {"name": self.name, "roles": {"before": before, "start": start},
                "main": list(self.scoring.main), "compared": list(self.scoring.compared),
                "primary": self.scoring.primary, "utility": list(self.scoring.utility),
                "forget_quality": self.scoring.forget_quality,
                "restoration": self.scoring.restoration,
                "oracle_fallback": self.scoring.oracle_fallback,
                "mia": {"k_fraction": self.scoring.mia_k, "drop_eos": self.scoring.mia_drop_eos},
                "sizes": {"pretrain": len(self.pretrain), "learn": len(self.learn),
                          "forget": len(self.forget), "retain": len(self.retain),
                          "holdout": len(self.holdout), "items": len(self.items)},
                **self.info}


@dataclass
class ImageTask:
    """The contract of an image task (a classifier's data; see models/classifier.py): a pixel
    bank, each row's class, and rows for training, forget, similar samples and test. Retain
    is training minus forget; the ideal trains without forget and similar. An example is
    the two-token [row, class]; the forget items' keys map to strata (e.g. "copy x4")."""
    name: str
    pixels: torch.Tensor            # (N, P) the bank (similar_images: digits, then neighbours)
    labels: list[int]               # (N,) class of each bank row as trained on
    n_classes: int
    train: list[int]                # rows the original model trains on (F and S included)
    forget: list[int]
    similar: list[int]
    test: list[int]
    strata: dict[str, str]          # forget key -> "level xcount"
    scoring: Scoring
    truth: list[int] = field(default_factory=list)  # (N,) true class (differs if relabelled)
    roles: tuple[str | None, str] = ("ideal", "original")
    gap_metrics: tuple[str, ...] = ()     # SalUn's average gap to retrain: over these
    strata_metrics: tuple[str, ...] = ()  # read per stratum (residual influence)
    strata_order: tuple[str, ...] = ()    # the strata levels, most similar first
    modality: str = "image"
    files: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def retain(self) -> list[int]:
        gone = set(self.forget)
        return [r for r in self.train if r not in gone]

    @property
    def ideal_train(self) -> list[int]:
        gone = set(self.forget) | set(self.similar)
        return [r for r in self.train if r not in gone]

    def key(self, row: int) -> str:
        return f"img{row}"

    def examples(self, rows: list[int]) -> ExampleSet:
        """Each row as the two-token example [row, label], only the label counted."""
        return ExampleSet([[r, self.labels[r]] for r in rows], [[0, 1] for _ in rows])

    def summary(self) -> dict:
        s = self.scoring
        return {"name": self.name, "modality": self.modality,
                "roles": {"before": self.roles[0], "start": self.roles[1]},
                "main": list(s.main), "compared": list(s.compared), "primary": s.primary,
                "utility": list(s.utility), "forget_quality": s.forget_quality,
                "restoration": s.restoration, "oracle_fallback": s.oracle_fallback,
                "gap_metrics": list(self.gap_metrics),
                "strata_metrics": list(self.strata_metrics),
                "strata_group": "forget_images", "strata_order": list(self.strata_order),
                "sizes": {"train": len(self.train), "forget": len(self.forget),
                          "similar": len(self.similar), "retain": len(self.retain),
                          "ideal_train": len(self.ideal_train), "test": len(self.test)},
                **self.info}
