"""Sweeps: a grid or random search over any config keys, each trial a normal run, on Ray
(`unlearnlab sweep SWEEP.yaml`). spec.py reads SWEEP.yaml, runner.py runs the trials and
writes the sweep folder, best.py picks each method's best configuration, trial.py is what a
worker runs, and ray_backend.py is the only module that imports ray (an optional extra:
`pip install 'unlearnlab[ray]'`)."""

from unlearnlab.sweep.runner import run_sweep

__all__ = ["run_sweep"]
