"""The built-in world of fictional entities, the facts schema and the corpora made from it."""
