"""Stage 1: the clean model — the built-in tiny Llama trained from scratch on the task's
pretraining corpus, cached; or the user's model (`model: PATH`) fine-tuned on that corpus
(`pretrain.outside`, cached the same way; loaded as it is when the task has no corpus or
`pretrain.outside.finetune` is false).

The cache folder is keyed by a content hash of what the model is trained on (tokenizer texts
and corpus, prompt format) and the pretraining settings, under
`$UNLEARNLAB_CACHE/clean/<hash>/`. It holds a standard `save_pretrained` model and tokenizer
(loadable with plain `AutoModelForCausalLM` / `AutoTokenizer`) and the loss curve. A second
run with the same data and settings reuses it. An empty corpus gives the randomly
initialised model (TOFU's protocol starts there).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from unlearnlab.config import Config, digest
from unlearnlab.models.loading import load_causal_lm, save_causal_lm
from unlearnlab.models.tiny import build_model, train_tokenizer
from unlearnlab.runs import built_here, cache_root
from unlearnlab.tasks.base import Task
from unlearnlab.texts import Text, as_plain, tokenize
from unlearnlab.train.loop import FINETUNE, train

FORMAT = 2          # bump when what is trained for the same settings changes


@dataclass(frozen=True)
class CleanModel:
    path: Path
    cached: bool
    cache_key: str | None = None
    finetuned_from: str | None = None          # the outside model this one was fine-tuned from

    def manifest(self) -> dict:
        out = {"path": str(self.path), "cached": self.cached, "cache_key": self.cache_key}
        if self.finetuned_from:
            out["finetuned_from"] = self.finetuned_from
        return out


def corpus_digest(texts: list[Text], task: Task) -> str:
    return digest([as_plain(t, task.fmt) for t in texts])


def cache_key(cfg: Config, task: Task) -> str:
    settings = dataclasses.asdict(cfg.pretrain)
    settings.pop("outside")                    # the outside model's settings: see outside_key
    return digest({"format": FORMAT, "tokenizer": digest(task.tokenizer_texts),
                   "corpus": corpus_digest(task.pretrain, task), "fmt": dataclasses.asdict(task.fmt),
                   "pretrain": settings})


def model_identity(path: Path) -> str:
    """What identifies a local model folder without reading its weights: its resolved path
    and every file's name, size and modification time."""
    path = path.resolve()
    files = sorted((str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns)
                   for f in path.rglob("*") if f.is_file())
    return digest({"path": str(path), "files": files})


def outside_key(cfg: Config, task: Task) -> str:
    return digest({"format": FORMAT, "model": model_identity(Path(cfg.model)),
                   "corpus": corpus_digest(task.pretrain, task), "fmt": dataclasses.asdict(task.fmt),
                   "seed": cfg.pretrain.seed, "train": dataclasses.asdict(cfg.pretrain.outside.train)})


def run(cfg: Config, task: Task, device) -> CleanModel:
    """The clean model's folder: the user's model (fine-tuned on the task's corpus, or as it
    is), or the built-in one (trained or cached)."""
    if cfg.model != "builtin":
        if not (cfg.pretrain.outside.finetune and task.pretrain):
            return CleanModel(Path(cfg.model), cached=False)
        return _finetuned_outside(cfg, task, device)
    key = cache_key(cfg, task)
    final = cache_root() / "clean" / key

    def build(folder: Path) -> None:
        tokenizer = train_tokenizer(task.tokenizer_texts, cfg.pretrain.vocab_size)
        model, curve = from_scratch(cfg, task, tokenizer, task.pretrain, cfg.pretrain.seed,
                                    device, "pretrain")
        save(model, tokenizer, curve, folder)

    return CleanModel(final, not built_here(final, build), key)


def _finetuned_outside(cfg: Config, task: Task, device) -> CleanModel:
    """The user's model fine-tuned on the task's pretraining corpus (cached by the model
    folder's identity, the corpus and the recipe)."""
    key = outside_key(cfg, task)
    final = cache_root() / "clean" / key

    def build(folder: Path) -> None:
        model, tokenizer = load_causal_lm(cfg.model, device)
        curve = train(model, FINETUNE, cfg.pretrain.outside.train,
                      forget=tokenize(tokenizer, task.pretrain, task.fmt),
                      pad_id=tokenizer.pad_token_id, seed=cfg.pretrain.seed,
                      desc="fine-tune the outside model on the task's corpus",
                      progress=cfg.progress, precision=cfg.precision)
        save(model, tokenizer, curve, folder)

    return CleanModel(final, not built_here(final, build), key,
                      finetuned_from=str(Path(cfg.model).resolve()))


def from_scratch(cfg: Config, task: Task, tokenizer, corpus: list[Text], seed: int, device,
                 desc: str):
    """A new built-in model (initialised from `seed`), trained on `corpus` with the
    pretraining recipe; returns (model, loss curve)."""
    model = build_model(cfg.pretrain.model, tokenizer, seed).to(device)
    curve = []
    if corpus:
        curve = train(model, FINETUNE, cfg.pretrain.train, forget=tokenize(tokenizer, corpus, task.fmt),
                      pad_id=tokenizer.pad_token_id, seed=seed, desc=desc,
                      progress=cfg.progress, precision=cfg.precision)
    return model, curve


def save(model, tokenizer, curve: list[dict], folder: Path) -> None:
    save_causal_lm(model, tokenizer, folder)
    (folder / "loss_curve.json").write_text(json.dumps(curve))


def load_curve(folder: Path) -> list[dict]:
    """The loss curve saved with a cached model ([] for caches written without one)."""
    path = folder / "loss_curve.json"
    return json.loads(path.read_text()) if path.is_file() else []
