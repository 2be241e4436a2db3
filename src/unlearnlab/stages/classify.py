"""The image track's stages: a classifier trained from scratch through THE loop, and its
evaluation (records from eval/image_records.py, metrics from eval/images.py).

Training from scratch serves the original model (all training images), the ideal (without
the forget and similar images), retrain (without the forget images) and the K shadow models
of the likelihood-ratio test (without the forget images, plus each forget image in exactly
half of them). These models train in seconds on a CPU, so nothing is cached.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from unlearnlab.config import Config
from unlearnlab.eval.image_records import image_records
from unlearnlab.eval.images import FORGET, RETAIN, SIMILAR, TEST, attach_lira, attach_mia, lira_stats
from unlearnlab.eval.metrics import score
from unlearnlab.models.classifier import PAD_ID, build_classifier
from unlearnlab.runs import atomic_write_json
from unlearnlab.tasks.base import ImageTask
from unlearnlab.train.loop import FINETUNE, train


def train_classifier(cfg: Config, task: ImageTask, rows: list[int], seed: int, device,
                     desc: str):
    """(model, loss curve): a new classifier initialised from `seed`, trained on `rows` with
    `images.train`."""
    model = build_classifier(task.pixels, task.n_classes, cfg.images.hidden, seed).to(device)
    curve = train(model, FINETUNE, cfg.images.train, forget=task.examples(rows), pad_id=PAD_ID,
                  seed=seed, desc=desc, progress=cfg.progress, precision=cfg.precision)
    return model, curve


def shadow_membership(n_items: int, k: int, seed: int) -> np.ndarray:
    """(k, n_items) bool: shadow j trains on item i; every item is in exactly k/2 shadows."""
    rng = np.random.default_rng(seed)
    inside = np.zeros((k, n_items), dtype=bool)
    for i in range(n_items):
        inside[rng.permutation(k)[: k // 2], i] = True
    return inside


class ImageEvaluator:
    """Turns any classifier into per-image records (forget, retain, similar, test) and scores
    them; holds what every model is measured against: the MIA members (a seeded sample of
    retain images, as many as test images) and the shadows' LiRA statistics."""

    def __init__(self, cfg: Config, task: ImageTask):
        self.cfg, self.task = cfg, task
        self.groups = {FORGET: task.forget, RETAIN: task.retain, SIMILAR: task.similar,
                       TEST: task.test}
        self.examples = {g: task.examples(rows) for g, rows in self.groups.items() if rows}
        self.keys = {g: [task.key(r) for r in rows] for g, rows in self.groups.items()}
        n = min(len(task.retain), len(task.test))
        self.members = set(random.Random(f"mia-{cfg.seed}").sample(self.keys[RETAIN], n))
        self.lira: dict | None = None

    def fit_lira(self, shadows: list, inside: np.ndarray) -> None:
        """The per-image Gaussians of the shadows' phi on the forget images."""
        phi = np.array([[r["phi"] for r in image_records(m, self.examples[FORGET],
                                                          self.keys[FORGET], FORGET)]
                        for m in shadows])                                   # (K, n)
        self.lira = lira_stats(phi, inside)

    def items_index(self) -> dict:
        return {g: [[k, self.task.labels[r]] for k, r in zip(self.keys[g], rows)]
                for g, rows in self.groups.items() if rows}

    def records(self, model) -> list[dict]:
        truth = self.task.truth or self.task.labels
        out = [r for g, ex in self.examples.items()
               for r in image_records(model, ex, self.keys[g], g, self.cfg.eval.batch_size,
                                      [truth[r] for r in self.groups[g]])]
        attach_mia(out, self.cfg.images.mia_feature, self.members)
        if self.lira is not None:
            attach_lira(out, self.lira, self.keys[FORGET])
        return out

    def checkpoint(self, model) -> dict[str, float]:
        return {k: v["mean"] for k, v in score(self.records(model)).items()}

    def run(self, label: str, model, run_dir: Path) -> dict:
        """One model's results entry (aggregates with n and 95% CI, per-item values); its
        records into records/<label>.json."""
        records = self.records(model)
        atomic_write_json(run_dir / "records" / f"{label}.json", records)
        scores = score(records)
        return {"metrics": {k: {x: v[x] for x in ("mean", "n", "sd", "ci95", "ci_method",
                                                  "direction") if x in v}
                            for k, v in scores.items()},
                "values": {k: v["values"] for k, v in scores.items()}, "mia": {}}
