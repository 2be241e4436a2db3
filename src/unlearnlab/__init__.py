"""unlearnlab: machine unlearning of language models, measured by forgetting and restoration.

The Python API (`unlearnlab.api`, light to import): `run(config, overrides)`,
`evaluate(model, task)`, `load_results(run_dir)`.
"""

__version__ = "0.1.0"

from unlearnlab.api import evaluate, load_results, run  # noqa: E402

__all__ = ["__version__", "evaluate", "load_results", "run"]
