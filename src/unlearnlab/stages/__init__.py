"""Pipeline stages: pretrain (clean), corrupt, unlearn; evaluation lives in `unlearnlab.eval`."""
