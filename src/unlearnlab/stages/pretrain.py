"""Stage 1: the clean model — the built-in tiny Llama trained from scratch on the task's
pretraining corpus, cached; or the user's model (`model: PATH`), loaded as it is.

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
from unlearnlab.models.loading import save_causal_lm
from unlearnlab.models.tiny import build_model, train_tokenizer
from unlearnlab.runs import atomic_dir, cache_root
from unlearnlab.tasks.base import Task
from unlearnlab.texts import Text, as_plain, tokenize
from unlearnlab.train.loop import FINETUNE, train

FORMAT = 2          # bump when what is trained for the same settings changes


@dataclass(frozen=True)
class CleanModel:
    path: Path
    cached: bool
    cache_key: str | None = None

    def manifest(self) -> dict:
        return {"path": str(self.path), "cached": self.cached, "cache_key": self.cache_key}


def corpus_digest(texts: list[Text], task: Task) -> str:
    return digest([as_plain(t, task.fmt) for t in texts])


def cache_key(cfg: Config, task: Task) -> str:
    return digest({"format": FORMAT, "tokenizer": digest(task.tokenizer_texts),
                   "corpus": corpus_digest(task.pretrain, task), "fmt": dataclasses.asdict(task.fmt),
                   "pretrain": dataclasses.asdict(cfg.pretrain)})


def run(cfg: Config, task: Task, device) -> CleanModel:
    """The clean model's folder: the user's model, or the built-in one (trained or cached)."""
    if cfg.model != "builtin":
        return CleanModel(Path(cfg.model), cached=False)
    key = cache_key(cfg, task)
    final = cache_root() / "clean" / key

    def build(folder: Path) -> None:
        tokenizer = train_tokenizer(task.tokenizer_texts, cfg.pretrain.vocab_size)
        model, curve = from_scratch(cfg, task, tokenizer, task.pretrain, cfg.pretrain.seed,
                                    device, "pretrain")
        save(model, tokenizer, curve, folder)

    cached = final.is_dir()
    atomic_dir(final, build)
    return CleanModel(final, cached, key)


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
