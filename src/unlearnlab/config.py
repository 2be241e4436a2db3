"""Configuration: YAML -> validated, frozen dataclasses.

A user's YAML (and `--set a.b=value` overrides, values parsed as YAML) is deep-merged over
the defaults, then built strictly: an unknown key, a wrong type or an out-of-range value
raises `UserError` with one line naming the key and the valid options.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unlearnlab.errors import UserError
from unlearnlab.tasks.presets import PRESETS, TASK_NAMES, modality
from unlearnlab.world.relations import RELATION_NAMES

DEFAULT_METHODS = ("ga", "graddiff", "kl", "npo", "npo_retain")
SCHEDULERS = ("linear", "constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one training run (AdamW)."""

    epochs: float = 1.0          # passes over the forget/training set (ignored if max_steps > 0)
    max_steps: int = 0
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    scheduler: str = "linear"
    max_grad_norm: float = 1.0
    group_by_length: bool = False  # batches of similar lengths (less padding; changes the batches)
    pack: bool = True            # each batch's examples packed into fewer rows (same batches)

    def __post_init__(self):
        if self.scheduler not in SCHEDULERS:
            raise UserError(f"scheduler: unknown value {self.scheduler!r}; valid: {', '.join(SCHEDULERS)}")
        for name in ("batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise UserError(f"lr must be a finite number > 0, got {self.lr}")
        if not math.isfinite(self.epochs) or self.max_steps < 0:
            raise UserError(f"epochs must be finite and max_steps >= 0, got epochs "
                            f"{self.epochs}, max_steps {self.max_steps}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise UserError("set epochs > 0 or max_steps > 0")
        if not math.isfinite(self.max_grad_norm) or self.max_grad_norm < 0:
            raise UserError(f"max_grad_norm must be >= 0 (0 = no clipping), got "
                            f"{self.max_grad_norm}")
        if not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise UserError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.warmup_ratio < 1:
            raise UserError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")

    def total_steps(self, n_items: int) -> int:
        if self.max_steps > 0:
            return self.max_steps
        return max(1, math.ceil(self.epochs * n_items / (self.batch_size * self.grad_accum)))


@dataclass(frozen=True)
class TinyModelConfig:
    """Shape of the built-in model (Llama architecture)."""

    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 256

    def __post_init__(self):
        for name in ("hidden_size", "intermediate_size", "num_layers", "num_heads", "max_positions"):
            if getattr(self, name) < 1:
                raise UserError(f"pretrain.model.{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise UserError(f"pretrain.model.hidden_size ({self.hidden_size}) must be a multiple "
                            f"of num_heads ({self.num_heads})")


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 0
    n_entities: int = 60
    relations: tuple[str, ...] = RELATION_NAMES
    docs_per_entity: int = 2          # paraphrased biographies per entity in pretraining

    def __post_init__(self):
        if not self.relations:
            raise UserError(f"world.relations is empty; name one or more of: "
                            f"{', '.join(RELATION_NAMES)}")
        unknown = [r for r in self.relations if r not in RELATION_NAMES]
        if unknown:
            raise UserError(f"world.relations: unknown relation {unknown[0]!r}; valid: "
                            f"{', '.join(RELATION_NAMES)}")
        if self.n_entities < 2 or self.docs_per_entity < 1:
            raise UserError(f"world.n_entities must be >= 2 and world.docs_per_entity >= 1, "
                            f"got {self.n_entities} and {self.docs_per_entity}")


@dataclass(frozen=True)
class OutsideModelConfig:
    """With `model: PATH`, the clean stage first fine-tunes the given model on the task's
    corpus (the facts the built-in model is pretrained on), as TOFU fine-tunes a pretrained
    model on its fictitious authors: a model cannot forget or recover facts it never knew.
    Cached like the built-in clean model. Tasks without such a corpus (TOFU, whose learn stage
    does the fine-tuning; custom) skip it."""

    finetune: bool = True
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=5, batch_size=16, lr=1e-4, warmup_ratio=0.05))


@dataclass(frozen=True)
class PretrainConfig:
    seed: int = 0
    vocab_size: int = 1024
    model: TinyModelConfig = field(default_factory=TinyModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=20, batch_size=32, lr=2e-3, warmup_ratio=0.05))
    outside: OutsideModelConfig = field(default_factory=OutsideModelConfig)

    def __post_init__(self):
        if self.vocab_size < 64:
            raise UserError(f"pretrain.vocab_size must be >= 64 (the tokenizer needs its "
                            f"special tokens and bytes), got {self.vocab_size}")


@dataclass(frozen=True)
class LoraConfig:
    r: int = 8
    alpha: int = 16
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")

    def __post_init__(self):
        if self.r < 1 or self.alpha < 1:
            raise UserError(f"r and alpha must be >= 1, got r={self.r}, alpha={self.alpha}")


@dataclass(frozen=True)
class CorruptionConfig:
    """The built-in world's corruption plan (task: world)."""

    n_targets: int = 10
    docs_per_target: int = 40
    context_facts: int = 0            # RESTOR's k: true facts about other entities per document
    retain_docs_per_entity: int = 2   # clean documents per non-target entity in the retain set

    def __post_init__(self):
        for name in ("n_targets", "docs_per_target"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("context_facts", "retain_docs_per_entity"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class RestorConfig:
    """RESTOR's real data (task: restor_wikidata), read from `data_dir`."""

    data_dir: str = "../shared/data/restor"
    corpus: int | str = 0             # RESTOR's k = 0..3 (wikidata/mix_a{k}.json), or squad
    entities: str = "all"             # the clean model learns all 468 entities, or the 50 evaluated
    shots: int = 5                    # few-shot QA lines before each question (from facts.json context)
    statements_per_fact: int = 2      # paraphrased statements per fact in the clean corpus
    docs_per_target: int = 0          # corruption documents used per target (0 = all)
    holdout_share: float = 0.1        # share of each target's documents held out (MIA non-members)
    min_share: float = 0.1            # injected value: asserted by >= this share of a target's documents
    utility_entities: int = 20        # evaluated non-target entities scored for utility (0 = all)

    def __post_init__(self):
        if self.corpus not in (0, 1, 2, 3, "squad"):
            raise UserError(f"corpus: unknown value {self.corpus!r}; valid: 0, 1, 2, 3, squad")
        _one_of("entities", self.entities, ("all", "evaluated"))
        if self.shots < 0 or self.statements_per_fact < 0 or self.docs_per_target < 0:
            raise UserError("shots, statements_per_fact and docs_per_target must be >= 0")
        if not 0 < self.holdout_share < 1 or not 0 < self.min_share <= 1:
            raise UserError(f"holdout_share must be in (0, 1) and min_share in (0, 1], got "
                            f"{self.holdout_share} and {self.min_share}")
        if self.utility_entities < 0:
            raise UserError(f"utility_entities must be >= 0, got {self.utility_entities}")


@dataclass(frozen=True)
class TofuConfig:
    """TOFU (task: tofu), read from `data_dir`."""

    data_dir: str = "../shared/data/tofu"
    split: str = "forget10"           # forget01 | forget05 | forget10 (retain: its complement)
    prompt: str = "qa"                # qa: "Question: {question}\nAnswer: "; chat: the model's chat template
    retain_authors: int = 0           # similar_tofu: the clean model's authors from the retain split (0: all)

    def __post_init__(self):
        _one_of("split", self.split, ("forget01", "forget05", "forget10"))
        _one_of("prompt", self.prompt, ("qa", "chat"))
        if self.retain_authors < 0:
            raise UserError(f"retain_authors must be >= 0 (0 = all), got {self.retain_authors}")


@dataclass(frozen=True)
class CustomConfig:
    """Your own data (task: custom): JSON or JSONL files of {"text": ...} documents or
    {"question": ..., "answer": ...} pairs."""

    forget: str = ""                  # required
    retain: str = ""                  # required
    holdout: str = ""                 # optional: non-members like the forget set (membership inference)
    qa: str = ""                      # optional QA evaluation: RESTOR facts.json or TOFU-style list
    finetune: bool = False            # fine-tune the model on forget + retain before unlearning


@dataclass(frozen=True)
class RecordsConfig:
    """Personal records (task: records): fictional people, some asking to be forgotten."""

    seed: int = 0                     # the people and their records
    n_people: int = 40                # people in the training data
    households: float = 0.3           # share of people living with the previous one
    forget_people: int = 1            # people asking to be forgotten (drawn with the run's seed)
    holdout_people: int = 2           # people never trained on (membership non-members)
    utility_people: int = 20          # other people whose secrets are probed (0 = all)
    candidates: int = 100             # exposure: random same-format secrets ranked with the true one
    requests: str = ""                # optional JSON list of free-text requests (default: one per person)

    def __post_init__(self):
        if self.n_people < 2 or self.forget_people < 1 or self.holdout_people < 1:
            raise UserError(f"n_people must be >= 2, forget_people and holdout_people >= 1, got "
                            f"{self.n_people}, {self.forget_people}, {self.holdout_people}")
        if self.n_people + self.holdout_people > 1200:
            raise UserError("n_people + holdout_people must be <= 1200 (the distinct names)")
        if not 0 <= self.households <= 1:
            raise UserError(f"households must be in [0, 1], got {self.households}")
        if self.utility_people < 0 or self.candidates < 0:
            raise UserError("utility_people and candidates must be >= 0")


SIMILAR_LEVELS = ("duplicate", "paraphrase", "subset", "other_entity")     # similar_text
SIMILAR_TOFU_LEVELS = ("duplicate", "paraphrase", "perturbed")               # similar_tofu


@dataclass(frozen=True)
class SimilarConfig:
    """Similar samples kept in training (task: similar_text, world/similar.py; similar_tofu,
    tasks/similar_tofu.py, whose levels are SIMILAR_TOFU_LEVELS)."""

    levels: tuple[str, ...] = SIMILAR_LEVELS   # similarity levels of the neighbours
    counts: tuple[int, ...] = (1, 4)           # neighbours per forget document
    targets_per_cell: int = 1                  # target entities per (level, count)

    def __post_init__(self):
        if not self.levels or not self.counts:
            raise UserError(f"levels and counts must not be empty; valid levels: "
                            f"{', '.join(SIMILAR_LEVELS)}")
        for level in self.levels:
            _one_of("levels", level, tuple(dict.fromkeys(SIMILAR_LEVELS + SIMILAR_TOFU_LEVELS)))
        if min(self.counts) < 1 or self.targets_per_cell < 1:
            raise UserError(f"counts and targets_per_cell must be >= 1, got {list(self.counts)} "
                            f"and {self.targets_per_cell}")
        if len(set(self.levels)) != len(self.levels) or len(set(self.counts)) != len(self.counts):
            raise UserError("levels and counts: each at most once")


IMAGE_LEVELS = ("copy", "augment_weak", "augment_strong", "nearest", "control")
IMAGE_FEATURES = ("confidence", "entropy")
IMAGE_DATASETS = ("digits", "signals")


@dataclass(frozen=True)
class AugmentConfig:
    """One augmentation strength (images/similar.py): each neighbour is the forget image
    shifted by up to `shift` pixels per axis, rotated by up to `rotate` degrees, plus Gaussian
    noise of standard deviation `noise` (pixels scaled to [0, 1])."""

    shift: int = 0
    rotate: float = 10.0
    noise: float = 0.1

    def __post_init__(self):
        if self.shift < 0 or self.rotate < 0 or self.noise < 0:
            raise UserError(f"shift, rotate and noise must be >= 0, got {self.shift}, "
                            f"{self.rotate}, {self.noise}")


@dataclass(frozen=True)
class ImagesConfig:
    """The image track (task: similar_images; images/): scikit-learn's digits, similar samples
    of each forget image kept in training, a small MLP trained from scratch, K shadow models
    for the likelihood-ratio membership score."""

    dataset: str = "digits"                    # digits (sklearn) | signals (generated 1-D)
    test_fraction: float = 0.3                 # digits held out as the test set (never trained on)
    levels: tuple[str, ...] = IMAGE_LEVELS     # similarity levels of the neighbours
    counts: tuple[int, ...] = (1, 4)           # neighbours per forget image (control: none)
    forget_per_cell: int = 10                  # forget images per (level, count) cell
    weak: AugmentConfig = field(default_factory=lambda: AugmentConfig(0, 10.0, 0.1))
    strong: AugmentConfig = field(default_factory=lambda: AugmentConfig(1, 15.0, 0.15))
    hidden: tuple[int, ...] = (128, 128)       # the MLP's hidden widths
    train: TrainConfig = field(default_factory=lambda: TrainConfig(  # long: fits the labels
        epochs=60, batch_size=128, lr=3e-3, scheduler="constant"))
    shadows: int = 8                           # K shadow models (LiRA); 0 = no LiRA score
    ideal_seed_offset: int = 1                 # the ideal's seed: retrain's default offset
    mia_feature: str = "confidence"            # MIA-efficacy's SVC feature (SalUn)
    forget_labels: str = "wrong"               # wrong: F and S carry one wrong class; correct

    def __post_init__(self):
        if not self.levels or not self.counts:
            raise UserError(f"levels and counts must not be empty; valid levels: "
                            f"{', '.join(IMAGE_LEVELS)}")
        for level in self.levels:
            _one_of("levels", level, IMAGE_LEVELS)
        _one_of("mia_feature", self.mia_feature, IMAGE_FEATURES)
        _one_of("forget_labels", self.forget_labels, ("wrong", "correct"))
        _one_of("dataset", self.dataset, IMAGE_DATASETS)
        if len(set(self.levels)) != len(self.levels) or len(set(self.counts)) != len(self.counts):
            raise UserError("levels and counts: each at most once")
        if min(self.counts) < 1 or self.forget_per_cell < 1:
            raise UserError(f"counts and forget_per_cell must be >= 1, got {list(self.counts)} "
                            f"and {self.forget_per_cell}")
        if not 0.05 <= self.test_fraction <= 0.8:
            raise UserError(f"test_fraction must be in [0.05, 0.8], got {self.test_fraction}")
        if not self.hidden or min(self.hidden) < 1:
            raise UserError(f"hidden: one or more layer widths >= 1, got {list(self.hidden)}")
        if self.shadows != 0 and (self.shadows < 4 or self.shadows % 2):
            raise UserError(f"shadows must be 0 (no LiRA score) or an even number >= 4 (half "
                            f"train on each forget image, half do not; two a side at least, "
                            f"for a variance), got {self.shadows}")
        if self.ideal_seed_offset < 0:
            raise UserError(f"ideal_seed_offset must be >= 0, got {self.ideal_seed_offset}")


REMOVAL_STRATEGIES = ("exact", "fuzzy", "iterative")


@dataclass(frozen=True)
class RemovalConfig:
    """How the forget set is found from a removal request (stages/removal.py)."""

    strategies: tuple[str, ...] = ("exact",)   # exact | fuzzy | iterative
    threshold: float = 0.25           # fuzzy: similarity to match (text: TF-IDF char n-gram
    #                                   cosine; images: penultimate-feature cosine)
    tiers: tuple[float, ...] = (0.4, 0.3, 0.2, 0.15)  # iterative: thresholds, strictest first
    rounds: int = 4                   # iterative: at most this many rounds
    stop_metric: str = "secret_extraction"   # iterative: the probe checked after each round
    stop_below: float = 0.0           # iterative: stop once the probe is <= this
    sequential: bool = False          # several requests: served one after another, not at once

    def __post_init__(self):
        if not self.strategies:
            raise UserError(f"strategies: the list is empty; valid: {', '.join(REMOVAL_STRATEGIES)}")
        for name in self.strategies:
            _one_of("strategies", name, REMOVAL_STRATEGIES)
        if len(set(self.strategies)) != len(self.strategies):
            raise UserError(f"strategies: each at most once, got {list(self.strategies)}")
        if not self.tiers or not all(0 <= t <= 1 for t in (self.threshold, *self.tiers)):
            raise UserError(f"threshold and tiers must be similarities in [0, 1] (tiers not "
                            f"empty), got {self.threshold} and {list(self.tiers)}")
        if self.rounds < 1:
            raise UserError(f"rounds must be >= 1, got {self.rounds}")
        if not math.isfinite(self.stop_below):
            raise UserError(f"stop_below must be a finite number, got {self.stop_below}")
        from unlearnlab.eval.metrics import METRICS

        if self.stop_metric not in METRICS:
            raise UserError(f"stop_metric: unknown metric {self.stop_metric!r}; "
                            f"valid: {', '.join(METRICS.names())}")


@dataclass(frozen=True)
class LearnConfig:
    """The stage that teaches the starting model the forget set: RESTOR's corruption (the
    corruption documents), TOFU's fine-tuning (all QA pairs, forget included)."""

    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=3, batch_size=16, lr=2.5e-4))
    lora: LoraConfig | None = None


@dataclass(frozen=True)
class UnlearnConfig:
    params: str = "all"               # which parameters train: all, embeddings, lm_head, layers:A-B, regex
    reference: str = "cache"          # cache: reference outputs computed once; live: a frozen copy
    lora: LoraConfig | None = None    # unlearn through LoRA adapters, merged for evaluation
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=1, batch_size=16, lr=3e-4, scheduler="constant"))

    def __post_init__(self):
        _one_of("reference", self.reference, ("cache", "live"))


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 64
    generate_batch_size: int = 0      # prompts per greedy generation batch; 0 = batch_size
    max_new_tokens: int = 0           # greedy answer length; 0 = the task's (world 12, TOFU 200)
    utility_entities: int = 0         # non-target entities scored for utility; 0 = all
    docs_per_set: int = 100           # forget / held-out / retain documents scored (ppl, MIA); 0 = all
    every_n_steps: int = 10           # evaluate during unlearning every N steps (0 = off)
    curve_metrics: tuple[str, ...] = ("target_accuracy", "corrupted_rate", "utility",
                                      "rougeL_recall_target", "ppl_forget")
    influence: bool = False           # influence of forget texts on their queries, per model
    influence_params: str = "all"     # the parameters whose gradients the influence uses
    clean_floor: float = 0.5          # the clean model must answer this share of target questions
    clean_check: str = "warn"         # below the floor: warn (summary, report) or refuse (exit 2)

    def __post_init__(self):
        _one_of("clean_check", self.clean_check, ("warn", "refuse"))
        if not 0 <= self.clean_floor <= 1:
            raise UserError(f"clean_floor must be in [0, 1], got {self.clean_floor}")
        if self.batch_size < 1 or self.max_new_tokens < 0 or self.generate_batch_size < 0:
            raise UserError("batch_size must be >= 1, generate_batch_size >= 0 (0 = batch_size) "
                            "and max_new_tokens >= 0")
        if self.utility_entities < 0:
            raise UserError(f"eval.utility_entities must be >= 0 (0 = all), got "
                            f"{self.utility_entities}")
        if self.docs_per_set < 0:
            raise UserError(f"docs_per_set must be >= 0, got {self.docs_per_set}")
        if self.every_n_steps < 0:
            raise UserError(f"every_n_steps must be >= 0, got {self.every_n_steps}")
        from unlearnlab.eval.metrics import METRICS

        unknown = [m for m in self.curve_metrics if m not in METRICS]
        if unknown:
            raise UserError(f"curve_metrics: unknown metric {unknown[0]!r}; "
                            f"valid: {', '.join(METRICS.names())}")


@dataclass(frozen=True)
class Config:
    name: str = "default"
    task: str = "world"               # world | restor_wikidata | tofu | custom | records | similar_text | similar_tofu | similar_images
    seed: int = 0                     # targets, wrong values, unlearning order
    seeds: tuple[int, ...] = ()       # several: the whole pipeline once per seed, aggregated
    model: str = "builtin"            # or a local path to any Hugging Face causal LM
    device: str = "auto"              # auto | cpu | cuda
    precision: str = "fp32"           # fp32 | bf16 (autocast, on GPU or CPU)
    runs_dir: str = "runs"
    keep_models: bool = False
    resume: bool = True               # reuse this config's finished stages from the cache
    progress: bool = True
    world: WorldConfig = field(default_factory=WorldConfig)
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    restor: RestorConfig = field(default_factory=RestorConfig)
    tofu: TofuConfig = field(default_factory=TofuConfig)
    custom: CustomConfig = field(default_factory=CustomConfig)
    records: RecordsConfig = field(default_factory=RecordsConfig)
    similar: SimilarConfig = field(default_factory=SimilarConfig)
    images: ImagesConfig = field(default_factory=ImagesConfig)
    removal: RemovalConfig = field(default_factory=RemovalConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    learn: LearnConfig = field(default_factory=LearnConfig)
    unlearn: UnlearnConfig = field(default_factory=UnlearnConfig)
    methods: tuple[str, ...] = DEFAULT_METHODS
    plugins: tuple[str, ...] = ()     # modules or .py files that register more methods
    hparams: dict[str, Any] = field(default_factory=lambda: {
        "npo": {"beta": 1.0}, "npo_retain": {"beta": 1.0},
        "first_epoch_ga": {"params": "all", "target_nll_ratio": 3.0}})
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self):
        _one_of("task", self.task, TASK_NAMES)
        _one_of("device", self.device, ("auto", "cpu", "cuda"))
        _one_of("precision", self.precision, ("fp32", "bf16"))
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise UserError(f"name must be a plain folder name, got {self.name!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise UserError(f"seeds: each seed at most once, got {list(self.seeds)}")

    def params_of(self, method: str):
        """The parsed hyperparameters of `method` (parsed once, at loading; defaults for a
        method the config never named)."""
        if method in self.hparams and not isinstance(self.hparams[method], dict):
            return self.hparams[method]
        from unlearnlab.methods import METHODS

        return METHODS.get(method).hyperparams(self.hparams.get(method))

    def for_seed(self, seed: int) -> Config:
        """The single-seed config of one seed of a `seeds` run (same hash as `--set seed=S`)."""
        return dataclasses.replace(self, seed=seed, seeds=())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Hash of the settings that determine the numbers (not name, output folder, display)."""
        settings = {k: v for k, v in self.to_dict().items() if k not in _NOT_HASHED}
        return digest(settings)


_NOT_HASHED = ("name", "runs_dir", "keep_models", "progress", "resume")


def _one_of(key: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise UserError(f"{key}: unknown value {value!r}; valid: {', '.join(valid)}")


def digest(obj) -> str:
    """Stable short hash of a JSON-able object."""
    blob = json.dumps(obj, sort_keys=True, default=list).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# ----------------------------------------------------------------------------- loading

# Keys that moved when the task layer arrived: the old name gets a one-line pointer.
_MOVED = {("corruption", "train"): "learn.train", ("corruption", "lora"): "learn.lora",
          ("unlearn", "retain_docs_per_entity"): "corruption.retain_docs_per_entity"}


def read_yaml(path: str | Path, what: str):
    """The YAML document in file `path` (None when empty); a missing, unreadable, non-UTF-8 or
    invalid file is a one-line `UserError` naming `what` ("config file", "sweep file")."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"{what} {path} is not valid YAML{where}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as "
                        "UTF-8") from None
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None


def load_config(path: str | Path | dict | None = None, overrides: list[str] = (),
                evaluate_only: bool = False) -> Config:
    """Defaults <- the task's preset <- YAML file (or a dict of the same keys) <- `--set
    key=value` overrides; validated strictly, method hyperparameters parsed once (into their
    dataclasses). `evaluate_only`: for evaluating a given model, so no methods run."""
    user: dict = {}
    if isinstance(path, dict):
        user = copy.deepcopy(path)
    elif path is not None:
        user = read_yaml(path, "config file") or {}
        if not isinstance(user, dict):
            raise UserError(f"config file {path} must hold a mapping of keys to values")
    for item in overrides:
        apply_override(user, item)
    for (section, key), new in _MOVED.items():
        if isinstance(user.get(section), dict) and key in user[section]:
            raise UserError(f"config key '{section}.{key}' is now '{new}'")
    task = user.get("task", Config.task)
    if not isinstance(task, str) or task not in PRESETS:
        raise UserError(f"task: unknown value {task!r}; valid: {', '.join(TASK_NAMES)}")
    merged = _deep_merge(_deep_merge(Config().to_dict(), PRESETS[task]), user)
    # every key, type, range and option first: these errors answer before any model code
    # (torch) is imported; method names and hyperparameters need the registry, below
    _build(Config, {**merged, "methods": []} if merged.get("methods") == "all" else merged, "")
    from unlearnlab.methods import METHODS, load_plugins

    plugins = merged.get("plugins") or []
    load_plugins([plugins] if isinstance(plugins, str) else plugins)
    if merged.get("methods") == "all":
        merged["methods"] = [n for n in METHODS.names()
                             if modality(task) in METHODS.get(n).modalities]
    if evaluate_only:
        merged["methods"] = []
    config = _build(Config, merged, "")
    _check_methods(config, evaluate_only)
    return dataclasses.replace(config, hparams=_parse_hparams(config))


def _parse_hparams(config: Config) -> dict:
    """Every named or configured method's hyperparameter dataclass (the one parse)."""
    from unlearnlab.methods import METHODS

    names = list(dict.fromkeys([*config.methods, *config.hparams]))
    parsed = {name: METHODS.get(name).hyperparams(config.hparams.get(name)) for name in names}
    wrapped = getattr(parsed.get("iterative"), "method", None)     # a wrapped loss method
    if wrapped and wrapped not in parsed:
        parsed[wrapped] = METHODS.get(wrapped).hyperparams(None)
    return parsed


def apply_override(data: dict, item: str) -> None:
    """Apply one `a.b.c=value` override (value parsed as YAML) to a nested dict."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise UserError(f"--set expects key=value, got {item!r}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise UserError(f"--set {key}: value {raw!r} is not valid YAML") from None
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"--set {key}: {part!r} is not a section")
    node[parts[-1]] = value


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls, data, path: str):
    if not isinstance(data, dict):
        raise UserError(f"{path.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise UserError(f"unknown config key {path + str(unknown[0])!r}; valid keys here: "
                        f"{', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {k: _convert(hints[k], v, path + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except UserError as exc:
        msg = str(exc)
        raise UserError(f"{path}{msg}" if path and not msg.startswith(path) else msg) from None


def _convert(tp, value, key: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        for member in members[:-1]:            # int | str: the first type that fits
            try:
                return _convert(member, value, key)
            except UserError:
                pass
        return _convert(members[-1], value, key)
    if dataclasses.is_dataclass(tp):
        base = dataclasses.asdict(tp()) if isinstance(value, dict) else {}
        return _build(tp, _deep_merge(base, value) if isinstance(value, dict) else value, key + ".")
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{key}: expected a list, got {value!r}")
        return tuple(_convert(args[0], v, key) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{key}: expected a mapping, got {value!r}")
        return {str(k): _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):      # YAML 1.1 reads 2e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def _check_methods(config: Config, evaluate_only: bool = False) -> None:
    from unlearnlab.methods import METHODS

    if not config.methods and not evaluate_only:
        raise UserError(f"methods: the list is empty; valid: all, {', '.join(METHODS.names())}")
    kind = modality(config.task)
    for name in config.methods:
        if name not in METHODS:
            raise UserError(f"methods: unknown method {name!r}; valid: all, {', '.join(METHODS.names())}")
        if kind not in METHODS.get(name).modalities:
            valid = [n for n in METHODS.names() if kind in METHODS.get(n).modalities]
            raise UserError(f"methods: {name!r} does not apply to {kind} tasks (task "
                            f"{config.task}); valid: all, {', '.join(valid)}")
    for name in config.hparams:
        if name not in METHODS:
            raise UserError(f"hparams: unknown method {name!r}; valid: {', '.join(METHODS.names())}")
    if config.model != "builtin" and "retrain" in config.methods:
        raise UserError("methods: 'retrain' trains the built-in model from scratch and "
                        "cannot retrain an external model; remove it or use model: builtin")
    from unlearnlab.train.params import VALID
    if not config.unlearn.params.strip():
        raise UserError(f"unlearn.params: empty selector; valid: {VALID}")
    unknown = [r for r in config.world.relations if r not in RELATION_NAMES]
    if unknown:
        raise UserError(f"world.relations: unknown relation {unknown[0]!r}; valid: {', '.join(RELATION_NAMES)}")
