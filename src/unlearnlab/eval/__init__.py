"""Evaluation: records (the only place the model runs) and metrics (pure functions).

Importing this package registers every metric (eval/metrics.py, eval/mia.py, eval/tofu.py,
eval/privacy.py, eval/images.py)."""

from unlearnlab.eval import images, metrics, mia, privacy, tofu  # noqa: F401  (registration)
