"""Statistics over per-item values: intervals, paired tests, effect sizes, multiple comparisons."""

from unlearnlab.stats.intervals import mean_ci
from unlearnlab.stats.paired import bootstrap_ci, cohens_dz, holm, paired_comparison

__all__ = ["mean_ci", "bootstrap_ci", "cohens_dz", "holm", "paired_comparison"]
