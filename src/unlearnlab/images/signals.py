"""A second image-like dataset, generated locally: 1-D signals of ten classes, in the spirit
of MNIST-1D (Greydanus 2020, arXiv 2011.14439; our own templates and generator, no download).

Each class has a 12-point template (a shape: bumps, ramps, steps, waves). An example is its
class's template stretched to 24 points, scaled by a random factor in [0.8, 1.2], placed at
a random offset in a 40-point signal, plus correlated noise (Gaussian noise smoothed over 5
points, sd 0.25) and i.i.d. noise (sd 0.05); the dataset is then scaled to [0, 1] as a whole.
The same `seed` always gives the same signals (the dataset, like the digits, is fixed; a
run's seed only splits it).
"""

from __future__ import annotations

import numpy as np

LENGTH, TEMPLATE, STRETCH = 40, 12, 24
_T = np.linspace(0.0, 1.0, TEMPLATE)
TEMPLATES = np.stack([
    np.exp(-((_T - 0.5) ** 2) / 0.02),                                  # 0 one bump
    np.exp(-((_T - 0.25) ** 2) / 0.01) + np.exp(-((_T - 0.75) ** 2) / 0.01),  # 1 two bumps
    _T,                                                                 # 2 ramp up
    1.0 - _T,                                                           # 3 ramp down
    (_T > 0.5).astype(float),                                           # 4 step up
    (_T <= 0.5).astype(float),                                          # 5 step down
    0.5 + 0.5 * np.sin(2 * np.pi * _T),                                 # 6 one wave
    0.5 + 0.5 * np.sin(4 * np.pi * _T),                                 # 7 two waves
    np.abs(2 * _T - 1.0),                                               # 8 V
    (3 * _T) % 1.0,                                                     # 9 saw teeth
])


def make_signals(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(signals (n, 40) float32 in [0, 1], labels (n,) int64), classes in turn (n/10 each)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(TEMPLATES)
    grid = np.linspace(0.0, 1.0, STRETCH)
    kernel = np.ones(5) / 5
    out = np.zeros((n, LENGTH))
    for i, c in enumerate(labels):
        shape = np.interp(grid, _T, TEMPLATES[c]) * rng.uniform(0.8, 1.2)
        at = rng.integers(0, LENGTH - STRETCH + 1)
        out[i, at: at + STRETCH] = shape
        out[i] += np.convolve(rng.normal(0.0, 0.25 * np.sqrt(5), LENGTH), kernel, mode="same")
        out[i] += rng.normal(0.0, 0.05, LENGTH)
    out = (out - out.min()) / (out.max() - out.min())
    return out.astype(np.float32), labels.astype(np.int64)
