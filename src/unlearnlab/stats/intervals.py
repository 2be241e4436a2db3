"""Aggregates with their uncertainty: mean, n and a 95% confidence interval (Student t)."""

from __future__ import annotations

import math

from scipy import stats


def mean_ci(values: list[float], level: float = 0.95) -> dict:
    """Mean, n, sample sd and the t-interval of the mean; the CI is [mean, mean] for n < 2."""
    vals = [float(v) for v in values if v is not None]
    n = len(vals)
    if n == 0:
        return {"mean": None, "n": 0, "sd": None, "ci95": [None, None]}
    mean = sum(vals) / n
    if n < 2:
        return {"mean": mean, "n": n, "sd": None, "ci95": [mean, mean]}
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "n": n, "sd": sd, "ci95": [mean - half, mean + half]}
