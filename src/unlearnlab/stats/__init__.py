"""Statistics over per-item values: intervals, paired tests, effect sizes, multiple comparisons."""

from unlearnlab.stats.intervals import mean_ci, wilson
from unlearnlab.stats.paired import bootstrap_ci, cohens_dz, holm, mcnemar_exact, paired_comparison

__all__ = ["mean_ci", "wilson", "bootstrap_ci", "cohens_dz", "holm", "mcnemar_exact",
           "paired_comparison"]
