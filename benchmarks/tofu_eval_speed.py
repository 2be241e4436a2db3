"""TOFU forget10 evaluation speed against open-unlearning, on the same model.

The model is the fixed random tiny Llama of ../shared/tools/make_tiny_llama.py (8.4 M
parameters); the suite is open-unlearning's forget10 evaluation: for 400 questions the answer
probability, the paraphrased and 5 perturbed answers (truth ratio), ROUGE on 200 greedy tokens
and extraction strength. open-unlearning runs it at 3.56 questions/s (batch 32) and 4.23/s
(each metric at its best batch size) on the 2-core CPU machine kind (../shared/tools/README.md);
`--generate-batch-size` sets generation's batch apart from scoring's (as open-unlearning's best-batch
figure picks a batch size per metric).
This script times our records layer (eval/records.py) on the same items, checks the four
numbers against open-unlearning's (0.1% relative) and prints questions/s with the ratios.

    python benchmarks/tofu_eval_speed.py [--batch-sizes 32 64] [--data ../shared/data/tofu]
    python benchmarks/tofu_eval_speed.py --batch-sizes 32 --generate-batch-size 400
    python benchmarks/tofu_eval_speed.py --batch-sizes 16 32 --generate-batch-size 400 --peer 5.52 5.79
    python benchmarks/tofu_eval_speed.py --device cuda --precision bf16 --batch-sizes 64 256

On CUDA the timed pass follows one untimed warm-up pass (kernel selection, allocator).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from unlearnlab.config import load_config
from unlearnlab.eval.metrics import score
from unlearnlab.eval.records import make_records
from unlearnlab.models.loading import load_causal_lm
from unlearnlab.tasks import build

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PEER = {"default batch 32": 3.56, "best batch per metric": 4.23}
PARITY = {"forget_truth_ratio": 0.97528, "forget_Q_A_Prob": 1.1344e-4,
          "forget_Q_A_ROUGE": 0.0036459, "extraction_strength": 0.036215}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 64])
    parser.add_argument("--data", default=str(SHARED / "data" / "tofu"))
    parser.add_argument("--model", help="the tiny Llama folder (default: built into a temp dir)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--generate-batch-size", type=int, default=0,
                        help="prompts per generation batch (default: the scoring batch size)")
    parser.add_argument("--peer", nargs=2, type=float, metavar=("DEFAULT", "BEST"),
                        help="open-unlearning's questions/s measured on this host "
                             "(open_unlearning_speed.py: batch 32, best per metric), for "
                             "like-for-like ratios instead of the issue's host's figures")
    args = parser.parse_args()
    peer = PEER if args.peer is None else {
        "default batch 32 on this host": args.peer[0], "best batch per metric on this host": args.peer[1]}
    model_dir = args.model
    if model_dir is None:
        model_dir = tempfile.mkdtemp(prefix="tiny_llama-")
        subprocess.run([sys.executable, str(SHARED / "tools" / "make_tiny_llama.py"), args.data,
                        model_dir], check=True, capture_output=True)
    task = build(load_config(None, ["task=tofu", f"tofu.data_dir={args.data}"]))
    items = [i for i in task.items if i.group == "forget"]
    device = torch.device(args.device)
    model, tok = load_causal_lm(model_dir, device)
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{torch.get_num_threads()} threads")
    print(f"torch {torch.__version__}, {where}, {args.precision}; {len(items)} questions")
    for batch in args.batch_sizes:
        if device.type == "cuda":                 # warm-up, then time a synchronised pass
            make_records(model, tok, items[:batch], task.fmt, batch, task.fmt.max_new_tokens,
                         args.precision, generate_batch_size=args.generate_batch_size)
            torch.cuda.synchronize()
        start = time.perf_counter()
        records = make_records(model, tok, items, task.fmt, batch, task.fmt.max_new_tokens,
                               args.precision, generate_batch_size=args.generate_batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        scores = score(records)
        off = max(abs(scores[k]["mean"] / v - 1) for k, v in PARITY.items())
        rate = len(items) / seconds
        ratios = ", ".join(f"{rate / v:.2f}x open-unlearning's {k} ({v}/s)" for k, v in peer.items())
        gen = f" (generation {args.generate_batch_size})" if args.generate_batch_size else ""
        print(f"batch {batch}{gen}: {seconds:.1f} s, {rate:.2f} questions/s; {ratios}; "
              f"largest relative difference from its numbers {off:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
