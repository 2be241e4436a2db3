"""Image data for the classifier track: scikit-learn's bundled digits (no download) and
similar samples at controlled similarity (images/similar.py)."""
