"""unlearnlab: machine unlearning of language models, measured by forgetting and restoration."""

__version__ = "0.1.0"
