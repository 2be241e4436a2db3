"""Task `similar_images`: forgetting when similar images stay in training (Xu et al. 2026,
arXiv 2601.06938), on scikit-learn's digits (or generated 1-D signals, `images.dataset`),
with a classifier trained from scratch.

Every (level, count) of `images.levels` x `images.counts` is a cell of
`images.forget_per_cell` forget images (`control`: one cell with no neighbours, "control x0");
each forget image gets `count` neighbours at its level (images/similar.py), kept in training.
The forget set F is the forget images; the similar set S their neighbours; retain = training
minus F (S stays). Three references: the unlearned model (each method, F as the forget set),
`retrain` (from scratch on training minus F) and the ideal (from scratch on training minus F
and S). Residual influence is how far a model sits from the ideal on F, per cell
(`task.strata`: forget image -> "level xcount").

`images.forget_labels`: `wrong` (the default) gives each forget image one wrong class, drawn
at random, and its neighbours the same wrong class — mislabelled data to remove, as in
corrective unlearning, the image counterpart of similar_text's wrong facts: the influence of
F is then visible on F itself (does the model still predict the wrong class?). `correct` keeps
the true classes; digits are easy enough that an MLP classifies an unseen typical digit as
confidently as a trained one, so F's influence barely shows (measured: README).

An example is (bank row, label); the pixel bank holds the dataset's examples, then the generated
neighbours (models/classifier.py explains how the loop sees it).
"""

from __future__ import annotations

import numpy as np
import torch

from unlearnlab.config import Config
from unlearnlab.errors import UserError
from unlearnlab.images import similar as sim
from unlearnlab.tasks.base import ImageTask, Scoring

SCORING = Scoring(
    main=("unlearn_accuracy", "retain_accuracy", "test_accuracy", "mia_efficacy", "avg_gap",
          "forget_loss", "forget_lira"),
    compared=("unlearn_accuracy", "forget_loss", "forget_lira", "mia_efficacy", "test_accuracy"),
    primary="unlearn_accuracy", utility=("retain_accuracy", "test_accuracy"),
    oracle_fallback=None)
GAP_METRICS = ("unlearn_accuracy", "retain_accuracy", "test_accuracy", "mia_efficacy")
STRATA_METRICS = ("unlearn_accuracy", "forget_loss", "forget_lira")


def cells(cfg: Config) -> list[tuple[str, int]]:
    """One (level, count) per forget image."""
    im = cfg.images
    plan = [(level, count) for level in im.levels if level != "control" for count in im.counts]
    if "control" in im.levels:
        plan.append(("control", 0))
    return [cell for cell in plan for _ in range(im.forget_per_cell)]


def build(cfg: Config) -> ImageTask:
    if cfg.model != "builtin":
        raise UserError(f"task similar_images trains its own classifier; model must be builtin, "
                        f"got {cfg.model!r}")
    im = cfg.images
    pixels, labels, shape = sim.load(im.dataset)
    base, test = sim.split(labels, im.test_fraction, cfg.seed)
    plan = cells(cfg)
    claimed = sum(count for level, count in plan if level == "nearest")
    if 2 * (len(plan) + claimed) > len(base):
        raise UserError(f"images: {len(plan)} forget images and {claimed} natural neighbours "
                        f"need at most half of the {len(base)} training digits; lower "
                        f"images.forget_per_cell or images.counts")
    rng = np.random.default_rng(cfg.seed)
    forget = sim.balanced_draw(base, labels, len(plan), rng)
    taken = set(forget)
    n_classes = int(labels.max()) + 1
    bank, bank_labels, similar, strata, clusters = [pixels], list(labels.tolist()), [], {}, {}
    if im.forget_labels == "wrong":
        for row in forget:
            bank_labels[row] = int(labels[row] + rng.integers(1, n_classes)) % n_classes
    next_row = len(labels)
    for row, (level, count) in zip(forget, plan):
        strata[f"img{row}"] = f"{level} x{count}"
        rows: list[int] = []
        if level == "nearest":
            pool = [r for r in base if labels[r] == labels[row] and r not in taken]
            rows = sim.nearest(pixels, row, pool, count)
            taken.update(rows)
            for r in rows:                         # the cluster teaches the forget image's class
                bank_labels[r] = bank_labels[row]
        elif level != "control":
            aug = {"augment_weak": im.weak, "augment_strong": im.strong}.get(level)
            for _ in range(count):
                image = pixels[row] if aug is None else sim.augment(
                    pixels[row], aug.shift, aug.rotate, aug.noise, rng, shape)
                bank.append(image[None])
                bank_labels.append(bank_labels[row])
                rows.append(next_row)
                next_row += 1
        similar += rows
        clusters[f"img{row}"] = {"label": bank_labels[row], "true_label": int(labels[row]),
                                 "level": level, "count": count,
                                 "neighbours": [f"img{r}" for r in rows]}
    generated = list(range(len(labels), next_row))
    truth = labels.tolist() + [int(labels[row]) for row, (level, count) in zip(forget, plan)
                               if level not in ("nearest", "control") for _ in range(count)]
    return ImageTask(
        name="similar_images", pixels=torch.from_numpy(np.concatenate(bank)),
        labels=bank_labels, n_classes=n_classes, train=base + generated,
        forget=forget, similar=similar, test=test, strata=strata, truth=truth,
        scoring=SCORING, gap_metrics=GAP_METRICS, strata_metrics=STRATA_METRICS,
        strata_order=sim.LEVELS,
        files={"similar.json": {"forget": clusters, "test": len(test)}},
        info={"strata": strata, "similar_images": len(similar),
              "forget_labels": im.forget_labels,
              "dataset": {"digits": "sklearn digits (1,797 8x8 images, 10 classes)",
                          "signals": "generated 1-D signals (2,000 x 40 points, 10 classes)"}[
                  im.dataset]})
