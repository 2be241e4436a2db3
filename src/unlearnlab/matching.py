"""Resolving a removal request to training examples: fuzzy matching (Zagardo 2024, arXiv
2406.09391, "fuzzy matching" against iterative removal).

A request is free text ("Please delete all data about me, Dave Okafor, born 3 May 1988, ...").
Each training text gets a similarity to it: the cosine of TF-IDF vectors over character
n-grams (3 to 5, inside word boundaries; scikit-learn's `TfidfVectorizer(analyzer="char_wb")`),
with the IDF fitted on the searched texts and the requests together. With several requests a
text's similarity is its highest. A text matches when its similarity is >= the threshold.
The matcher is scored against the ground truth (the texts that really hold the person's data):
    precision = |found ∩ truth| / |found|,  recall = |found ∩ truth| / |truth|.
"""

from __future__ import annotations


def similarities(requests: list[str], texts: list[str]) -> list[float]:
    """Per text, its highest TF-IDF character n-gram cosine with any request."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    if not requests or not texts:
        return [0.0] * len(texts)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True,
                                 sublinear_tf=True)
    matrix = vectorizer.fit_transform([*texts, *requests])
    sims = cosine_similarity(matrix[len(texts):], matrix[:len(texts)])     # (requests, texts)
    return [float(x) for x in sims.max(axis=0)]


def matches(scores: list[float], threshold: float) -> list[int]:
    """Indices of the texts whose similarity is at least `threshold`, most similar first."""
    return sorted((i for i, s in enumerate(scores) if s >= threshold), key=lambda i: -scores[i])


def precision_recall(found, truth) -> tuple[float | None, float | None]:
    """(precision, recall) of the found indices against the true ones; None where undefined
    (nothing found, or nothing to find)."""
    found, truth = set(found), set(truth)
    hit = len(found & truth)
    return (hit / len(found) if found else None, hit / len(truth) if truth else None)
