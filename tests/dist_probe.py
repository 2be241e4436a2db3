"""Run under a distributed launcher by tests/test_distributed.py (not a test itself): trains
the loop-level tiny model for a few graddiff steps, recording which forget and retain items
each rank forwards, and scores a 7-item list through the evaluation's sharding; writes
rank<R>.json and params<R>.pt into the folder given as the first argument."""

import dataclasses
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import examples, tiny_model  # noqa: E402

from unlearnlab import distributed  # noqa: E402
from unlearnlab.methods import METHODS  # noqa: E402
from unlearnlab.stages.evaluate import _sharded  # noqa: E402
from unlearnlab.train.loop import TrainConfig, train  # noqa: E402

PROBE = {"cfg": TrainConfig(max_steps=3, batch_size=4, lr=1e-2), "forget": (8, 0), "retain": (6, 1)}


def objective(seen: list | None = None):
    spec = METHODS.get("graddiff")
    base = spec.objective(spec.hyperparams({}))
    if seen is None:
        return base

    def loss(inputs):
        seen.append({"forget": inputs.forget.idx.tolist(), "retain": inputs.retain.idx.tolist()})
        return base.loss(inputs)
    return dataclasses.replace(base, loss=loss)


def trained(seen: list | None = None):
    model = tiny_model()
    curve = train(model, objective(seen), PROBE["cfg"], forget=examples(*PROBE["forget"]),
                  retain=examples(*PROBE["retain"]), pad_id=0, seed=0, progress=False)
    return model, curve


if __name__ == "__main__":
    out = Path(sys.argv[1])
    seen: list = []
    model, curve = trained(seen)
    scored: list = []
    gathered = _sharded(lambda items: (scored.extend(items), [{"item": i} for i in items])[1],
                        list(range(7)))
    r = distributed.rank()
    (out / f"rank{r}.json").write_text(json.dumps(
        {"world": distributed.world_size(), "seen": seen, "scored": scored,
         "gathered": gathered, "curve": curve}))
    torch.save(model.state_dict(), out / f"params{r}.pt")
