"""open-unlearning's own TOFU forget10 evaluation, timed on this host, for a like-for-like ratio.

`tofu_eval_speed.py` compares our questions/s with the figures the issue measured on one host
(3.56/s at batch 32, 4.23/s best per metric). Hosts of the same machine kind differ (fp32
matmul peak 115-225 GFLOP/s), so this script runs the peer itself: the suite of
`tofu_eval_speed.py` (answer probability, paraphrased + perturbed answers for the truth ratio,
ROUGE on 200 greedy tokens, extraction strength) on the tiny Llama of
../shared/tools/make_tiny_llama.py, at each batch size, and prints questions/s per batch size
and with each metric at its best batch size, from the peer's own log timestamps.

It needs an open-unlearning checkout (tested at commit d3d7cf9) and a Python with its pinned
stack, e.g. a venv made with --system-site-packages plus transformers==4.45.1 datasets==3.0.1
hydra-core==1.3 hydra_colorlog==1.2.0 accelerate==0.34.2 rouge-score==0.1.2 (the CPU torch of
this machine serves). The checkout is copied to a temporary folder and adapted there, never
in place: the TOFU dataset is read from ../shared/data/tofu instead of the Hub, the imports
evaluation does not use (deepspeed, lm_eval) are made optional, the metric list is cut to the
suite, and the tokenizer folder names its class as transformers 4.45 knows it. The prompt is
`Question: {q}\\nAnswer: ` (the peer's phi-1_5 template), as for the parity numbers.

    python benchmarks/open_unlearning_speed.py --repo PATH --python VENV/bin/python \\
        [--batch-sizes 32 64 128] [--data ../shared/data/tofu]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SUITE = ("forget_Truth_Ratio", "forget_Q_A_Prob", "forget_Q_A_ROUGE", "extraction_strength")
# the peer logs each metric's start; the truth ratio evaluates its two inputs first
GROUPS = {"truth ratio": ("forget_Q_A_PARA_Prob", "forget_Q_A_PERT_Prob", "forget_truth_ratio"),
          "answer probability": ("forget_Q_A_Prob",), "ROUGE": ("forget_Q_A_ROUGE",),
          "extraction strength": ("extraction_strength",)}

SHIM = '''import runpy, sys
import datasets
_load = datasets.load_dataset
def _local(path, **kw):
    if path == "locuslab/TOFU":
        name = kw.pop("name").replace("_perturbed", "")
        return _load("json", data_files=DATA + "/" + name + ".json", split=kw.pop("split", "train"))
    return _load(path, **kw)
datasets.load_dataset = _local
sys.path.insert(0, "src")
sys.argv = ["src/eval.py"] + sys.argv[1:]
runpy.run_path("src/eval.py", run_name="__main__")
'''


def optional_import(path: Path, statement: str, name: str) -> None:
    guarded = f"try:\n    {statement}\nexcept ImportError:\n    {name} = None"
    path.write_text(re.sub(rf"^{re.escape(statement)}$", guarded, path.read_text(), count=1, flags=re.M))


def adapt(repo: Path, work: Path, data: Path) -> None:
    shutil.copytree(repo, work, ignore=shutil.ignore_patterns(".git", "saves"))
    optional_import(work / "src/trainer/unlearn/rmu.py", "import deepspeed", "deepspeed")
    evals = work / "src/evals/__init__.py"
    optional_import(evals, "from evals.lm_eval import LMEvalEvaluator", "LMEvalEvaluator")
    evals.write_text(evals.read_text().replace(
        "\n_register_evaluator(LMEvalEvaluator)", "\nif LMEvalEvaluator:\n    _register_evaluator(LMEvalEvaluator)"))
    cfg = work / "configs/eval/tofu.yaml"
    lines = cfg.read_text().splitlines()
    # the metric entries under `- tofu_metrics:` (commented-out ones start with #)
    keep = [ln for ln in lines if not re.match(r"\s{4,}- \w+", ln) or ln.split("-", 1)[1].split("#")[0].strip() in SUITE]
    cfg.write_text("\n".join(keep) + "\n")
    (work / "shim.py").write_text(f"DATA = {str(data)!r}\n" + SHIM)


def tiny_llama(data: Path, out: Path) -> Path:
    subprocess.run([sys.executable, str(SHARED / "tools/make_tiny_llama.py"), str(data), str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    conf = out / "tokenizer_config.json"
    c = json.loads(conf.read_text())
    c["tokenizer_class"] = "PreTrainedTokenizerFast"     # transformers 5 writes TokenizersBackend
    conf.write_text(json.dumps(c, indent=2))
    return out


def seconds_per_group(log: str) -> tuple[dict[str, float], dict[str, float]]:
    stamps, results = [], {}
    for line in re.sub(r"\x1b\[[0-9;]*m", "", log).splitlines():
        m = re.search(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)\].*?- (Evaluating (\w+)|Result for metric (\w+):\s*(\S+))", line)
        if not m:
            continue
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        if m.group(3):
            stamps.append((m.group(3), t))
        else:
            results[m.group(4)] = float(m.group(5))
            if m.group(4) == "extraction_strength":
                stamps.append(("end", t))
    took = {a: (t2 - t1).total_seconds() for (a, t1), (_, t2) in zip(stamps, stamps[1:])}
    return {g: sum(took[m] for m in ms) for g, ms in GROUPS.items()}, results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", required=True, type=Path, help="an open-unlearning checkout")
    ap.add_argument("--python", required=True, help="a Python with open-unlearning's pinned stack")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--data", type=Path, default=SHARED / "data/tofu")
    args = ap.parse_args()
    for path, what in ((args.repo / "src/eval.py", "an open-unlearning checkout"),
                       (args.data / "forget10.json", "the TOFU data")):
        if not path.is_file():
            print(f"error: {path} not found; --repo and --data must point at {what}", file=sys.stderr)
            return 2
    if not shutil.which(args.python):
        print(f"error: {args.python} is not a Python to run; --python must be one with open-unlearning's "
              "pinned stack", file=sys.stderr)
        return 2
    n = len(json.loads((args.data / "forget10.json").read_text()))
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "open-unlearning"
        adapt(args.repo, work, args.data.resolve())
        model = tiny_llama(args.data, Path(tmp) / "tiny_llama")
        for b in args.batch_sizes:
            cmd = [args.python, "shim.py", "experiment=eval/tofu/default", "model=phi-1_5",
                   f"model.model_args.pretrained_model_name_or_path={model}",
                   f"model.tokenizer_args.pretrained_model_name_or_path={model}",
                   "model.model_args.device_map=cpu", f"task_name=speed{b}", f"eval.tofu.batch_size={b}"]
            run = subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                                 env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if run.returncode:
                print(run.stderr[-3000:], file=sys.stderr)
                return 1
            groups, results = seconds_per_group(run.stdout + run.stderr)
            total = sum(groups.values())
            print(f"batch {b}: {total:.1f} s, {n / total:.2f} questions/s; "
                  + ", ".join(f"{g} {s:.1f} s" for g, s in groups.items())
                  + "; " + ", ".join(f"{k} {v:.6g}" for k, v in results.items()))
            for g, s in groups.items():
                best[g] = min(best.get(g, float("inf")), s)
    total = sum(best.values())
    print(f"best batch per metric: {total:.1f} s, {n / total:.2f} questions/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
