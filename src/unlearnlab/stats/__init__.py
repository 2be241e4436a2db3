"""Statistics over per-item values: intervals now; paired tests and effect sizes later."""

from unlearnlab.stats.intervals import mean_ci

__all__ = ["mean_ci"]
