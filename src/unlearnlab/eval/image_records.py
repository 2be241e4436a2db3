"""Per-item records of an image classifier: the only place the image track runs a model.

Each image goes through the same adapter and forward pass as training (train/forward.py on
the example [row, label]); its record holds the numbers the image metrics read
(eval/images.py `features`).
"""

from __future__ import annotations

import torch

from unlearnlab.eval.images import features
from unlearnlab.train.batches import ExampleSet, collate
from unlearnlab.train.forward import forward


@torch.no_grad()
def image_records(model, examples: ExampleSet, keys: list[str], group: str,
                  batch_size: int = 256, truth: list[int] | None = None) -> list[dict]:
    """One record per example of `examples` (keys: their names), in order; `truth`: each
    image's true class, when it may differ from the label trained on."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(examples), batch_size):
        idx = list(range(start, min(start + batch_size, len(examples))))
        batch = collate(examples, idx, pad_id=0).to(model.device)
        fw = forward(model, batch, keep_logits=True)
        logprobs = torch.log_softmax(fw.logits[:, 0], dim=-1).double().cpu().numpy()  # (B, C)
        labels = fw.labels[:, 0].tolist()
        for i, lp, y in zip(idx, logprobs, labels):
            out.append({"group": group, "key": keys[i], **features(lp, y),
                        **({"truth": truth[i]} if truth is not None else {})})
    model.train(was_training)
    return out
