"""Aggregates with their uncertainty: mean, n and a 95% confidence interval, by a procedure
chosen from the values' kind and stated beside the number (`ci_method`):

- `wilson` — every value is 0 or 1 (accuracy, rates): the Wilson score interval of the
  proportion k/n (Wilson 1927), which stays inside [0, 1]:
      (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n),  z = Φ⁻¹(0.975)
- `bootstrap` — declared for skewed positive figures (perplexity): the seeded percentile
  bootstrap of the mean (scipy.stats.bootstrap), which stays inside the values' range;
- `t` — otherwise: the Student-t interval mean ± t_{0.975, n-1} sd/√n.
"""

from __future__ import annotations

import math

import numpy as np


def scipy_stats():
    """scipy.stats, imported on first use: config validation imports the metric registry,
    which imports this package, and should not pay for scipy."""
    from scipy import stats

    return stats


def wilson(k: int, n: int, level: float = 0.95) -> list[float]:
    """Wilson score interval of the proportion k / n."""
    if n == 0:
        return [None, None]
    z = scipy_stats().norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def mean_ci(values: list[float], level: float = 0.95, method: str = "auto",
            seed: int = 0) -> dict:
    """Mean, n, sample sd and a `level` interval of the mean; `method` auto picks Wilson for
    0/1 values and t otherwise; "bootstrap" and "t" force one. The CI is [mean, mean] for
    n < 2 (t, bootstrap)."""
    vals = [float(v) for v in values if v is not None]
    n = len(vals)
    if n == 0:
        return {"mean": None, "n": 0, "sd": None, "ci95": [None, None], "ci_method": None}
    mean = sum(vals) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
    if method == "auto":
        method = "wilson" if all(v in (0.0, 1.0) for v in vals) else "t"
    if method == "wilson":
        ci = wilson(int(sum(vals)), n, level)
    elif n < 2 or sd == 0:
        ci = [mean, mean]
    elif method == "bootstrap":
        res = scipy_stats().bootstrap((np.asarray(vals),), np.mean, confidence_level=level,
                              n_resamples=2000, method="percentile",
                              random_state=np.random.default_rng(seed))
        ci = [float(res.confidence_interval.low), float(res.confidence_interval.high)]
    else:
        half = scipy_stats().t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
        ci = [mean - half, mean + half]
    return {"mean": mean, "n": n, "sd": sd, "ci95": ci, "ci_method": method}
