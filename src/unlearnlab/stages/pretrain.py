"""Stage 1: the clean model — a tiny Llama trained from scratch on the world, cached.

The folder is keyed by a content hash of the world and pretraining settings, under
`$UNLEARNLAB_CACHE/clean/<hash>/`, and holds a standard `save_pretrained` model and
tokenizer (loadable with plain `AutoModelForCausalLM` / `AutoTokenizer`), the world's
`facts.json` and the loss curve. A second run with the same settings reuses it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

from unlearnlab.config import Config, digest
from unlearnlab.models.loading import save_causal_lm
from unlearnlab.models.tiny import build_model, train_tokenizer
from unlearnlab.runs import atomic_dir, cache_root
from unlearnlab.train.batches import documents
from unlearnlab.train.loop import FINETUNE, train
from unlearnlab.world.corpora import pretraining_texts
from unlearnlab.world.generator import World

FORMAT = 1          # bump when what is trained for the same settings changes


def cache_key(cfg: Config) -> str:
    return digest({"format": FORMAT, "world": dataclasses.asdict(cfg.world),
                   "pretrain": dataclasses.asdict(cfg.pretrain)})


def run(cfg: Config, world: World, device) -> tuple[Path, bool]:
    """Path of the clean model folder, and whether it came from the cache."""
    final = cache_root() / "clean" / cache_key(cfg)
    cached = final.is_dir()

    def build(folder: Path) -> None:
        texts = pretraining_texts(world, cfg.world.docs_per_entity, random.Random(cfg.pretrain.seed))
        tokenizer = train_tokenizer(texts, cfg.pretrain.vocab_size)
        model = build_model(cfg.pretrain.model, tokenizer, cfg.pretrain.seed).to(device)
        curve = train(model, FINETUNE, cfg.pretrain.train, forget=documents(tokenizer, texts),
                      pad_id=tokenizer.pad_token_id, seed=cfg.pretrain.seed, desc="pretrain",
                      progress=cfg.progress, precision=cfg.precision)
        save_causal_lm(model, tokenizer, folder)
        (folder / "facts.json").write_text(json.dumps(world.facts(), indent=1))
        (folder / "loss_curve.json").write_text(json.dumps(curve))

    return atomic_dir(final, build), cached
