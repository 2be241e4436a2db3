"""Influence: per-example gradients (vectorised) and influence scores of training examples on
query examples — gradient dot products (TracIn), activation x gradient, influence functions."""
