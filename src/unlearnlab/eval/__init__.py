"""Evaluation: records (the only place the model runs) and metrics (pure functions)."""
