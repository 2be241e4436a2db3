"""Similar images at controlled similarity (Xu et al. 2026, "Forgetting Similar Samples: Can
Machine Unlearning Do it Better?", arXiv 2601.06938), on scikit-learn's digits.

The data (`images.dataset`): `digits`, `sklearn.datasets.load_digits` (1,797 8x8 images of
10 digits, shipped with the wheel), pixels scaled from 0..16 to [0, 1]; or `signals`, 2,000
locally generated 1-D signals of 10 classes (images/signals.py; 40 points, where rotation
does not apply and augmentations shift and add noise). A seeded, class-stratified split holds out
`test_fraction` of the digits as the test set (never trained on); the rest is the training
base. Each forget image (a class-balanced draw from the base) gets `count` neighbours, kept
in training, at one level:

    copy            the same pixels (a pixel-identical copy; a separate example)
    augment_weak    the image shifted by up to `weak.shift` pixels per axis, rotated by up to
                    `weak.rotate` degrees, plus Gaussian noise of sd `weak.noise`
    augment_strong  the same with the `strong` strengths
    nearest         natural neighbours: the `count` training-base digits of the same class
                    nearest in pixel space (Euclidean), each claimed by one forget image
    control         no neighbours

Generated neighbours are appended to the pixel bank after the dataset's own examples.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import rotate as nd_rotate
from scipy.ndimage import shift as nd_shift

from unlearnlab.config import IMAGE_LEVELS as LEVELS  # noqa: F401  (the levels, named once)

def load(dataset: str) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(examples (N, P) float32 in [0, 1], labels (N,), each example's shape)."""
    if dataset == "signals":
        from unlearnlab.images.signals import LENGTH, make_signals

        return (*make_signals(), (LENGTH,))
    return (*load_digits(), (8, 8))


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """(pixels (1797, 64) float32 in [0, 1], labels (1797,) int64): the bundled digits."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


def split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(training base, test) indices: a seeded split stratified by class."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                   random_state=seed, stratify=labels)
    return sorted(int(i) for i in train), sorted(int(i) for i in test)


def balanced_draw(ids: list[int], labels: np.ndarray, n: int,
                  rng: np.random.Generator) -> list[int]:
    """`n` of `ids`, as even over the classes as they allow, in a seeded random order."""
    by_class = {c: list(rng.permutation([i for i in ids if labels[i] == c]))
                for c in sorted(set(labels[ids].tolist()))}
    chosen: list[int] = []
    while len(chosen) < n and any(by_class.values()):
        for c in by_class:
            if by_class[c] and len(chosen) < n:
                chosen.append(int(by_class[c].pop()))
    return [chosen[i] for i in rng.permutation(len(chosen))]


def augment(image: np.ndarray, shift: int, rotate: float, noise: float,
            rng: np.random.Generator, shape: tuple[int, ...] = (8, 8)) -> np.ndarray:
    """One augmented copy of a flat example of `shape`: rotation (2-D only), integer shift
    along each axis, Gaussian noise, clipped to [0, 1]."""
    x = image.reshape(shape)
    if rotate > 0 and len(shape) == 2:
        x = nd_rotate(x, rng.uniform(-rotate, rotate), reshape=False, order=1, mode="constant")
    if shift > 0:
        x = nd_shift(x, rng.integers(-shift, shift + 1, size=len(shape)), order=0,
                     mode="constant")
    if noise > 0:
        x = x + rng.normal(0.0, noise, size=x.shape)
    return np.clip(x, 0.0, 1.0).astype(np.float32).reshape(-1)


def nearest(pixels: np.ndarray, target: int, candidates: list[int], k: int) -> list[int]:
    """The `k` candidates nearest to image `target` in pixel space (Euclidean; ties by index)."""
    if not candidates:
        return []
    dist = np.linalg.norm(pixels[candidates] - pixels[target], axis=1)
    order = np.lexsort((np.asarray(candidates), dist))
    return [candidates[i] for i in order[:k]]
