"""Command line: `unlearnlab run [CONFIG.yaml] [--set key=value ...]`,
`unlearnlab evaluate MODEL_DIR [--task TASK] [--set ...]`, `unlearnlab methods [NAME]`,
`unlearnlab report RUN_DIR`, `unlearnlab compare RUN_A RUN_B ... [--out DIR]`,
`unlearnlab sweep SWEEP.yaml [--address ADDR] [--retry-failed] [--max-concurrent N]`.

Bad input ends with one line on stderr naming the problem and the valid options, exit 2.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys

from unlearnlab.errors import UserError
from unlearnlab.tasks.presets import TASK_NAMES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unlearnlab",
        description="Machine unlearning of language models: teach a model what it must forget, "
                    "unlearn it with each method, and measure forgetting, restoration and what "
                    "is left (RESTOR, TOFU, personal records, similar samples, your own data).")
    from unlearnlab import __version__

    parser.add_argument("--version", action="version", version=f"unlearnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="run an experiment (no CONFIG: RESTOR on the built-in world)",
        description="Train (or reuse) the clean model, teach it the forget set (the task's "
                    "learn stage), unlearn with each method, evaluate, and write "
                    "runs/<name>-<date>-<time>/ (runs/latest links to it); --set name=NAME "
                    "writes runs/NAME, replacing a previous run of that name. Tasks (task: or "
                    f"--set task=...): {', '.join(TASK_NAMES)}.",
        epilog="example: unlearnlab run --set methods=[ga,npo] --set corruption.context_facts=2")
    run.add_argument("config", nargs="?", help="YAML config file (keys as in configs/default.yaml)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set unlearn.train.lr=1e-4 (repeatable)")
    evaluate = sub.add_parser(
        "evaluate", help="evaluate a given model on a task, without training it",
        description="Evaluate MODEL_DIR (any local Hugging Face causal LM) on a task's questions "
                    "and documents, with no pretraining, learning or unlearning: the same "
                    "records, metrics, results.json and report as a run, for one model.",
        epilog="example: unlearnlab evaluate tiny_llama --task tofu --set tofu.split=forget10")
    evaluate.add_argument("model_dir", metavar="MODEL_DIR", help="a local Hugging Face model folder")
    evaluate.add_argument("config", nargs="?", help="YAML config file (keys as in configs/default.yaml)")
    evaluate.add_argument("--task", help=f"the task ({', '.join(TASK_NAMES)}); "
                                         "the same as --set task=TASK")
    evaluate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                          help="override a config key (repeatable)")
    methods = sub.add_parser(
        "methods", help="list the registered unlearning methods, or describe one",
        description="List every registered unlearning method with its paper; with NAME, print "
                    "its equation, paper and hyperparameters with defaults and valid ranges.")
    methods.add_argument("name", nargs="?", metavar="NAME", help="a method to describe")
    report = sub.add_parser(
        "report", help="re-render report.html and summary.md of a finished run",
        description="Re-render RUN_DIR/report.html and RUN_DIR/summary.md from the run's saved "
                    "results (nothing is recomputed).")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `unlearnlab run`")
    compare = sub.add_parser(
        "compare", help="put several finished runs side by side",
        description="Compare finished runs from their saved results: a table of every model of "
                    "every run and a restoration-vs-utility plot, in OUT/report.html and "
                    "OUT/summary.md.")
    compare.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="two or more run folders")
    compare.add_argument("--out", default="runs/compare", help="output folder (default: runs/compare)")
    sweep = sub.add_parser(
        "sweep", help="run a grid or random search of runs on Ray",
        description="Run every trial of SWEEP.yaml (a grid and/or random search over config "
                    "keys; see configs/sweep_example.yaml) as a normal run in "
                    "<runs_dir>/<sweep name>/<trial>/ on Ray, sharing the clean and learned "
                    "models; then compare them and print the best configuration per method. "
                    "Finished trials are not run again. Exit 1 when a trial failed.",
        epilog="example: unlearnlab sweep configs/sweep_example.yaml --max-concurrent 2")
    sweep.add_argument("sweep_file", metavar="SWEEP.yaml", help="the sweep file")
    sweep.add_argument("--address", help="an existing Ray cluster (e.g. ray://head:10001 or "
                                         "auto); default: a local Ray on this machine")
    sweep.add_argument("--retry-failed", action="store_true",
                       help="run the trials that failed in an earlier run of the sweep again")
    sweep.add_argument("--max-concurrent", type=int, metavar="N",
                       help="at most N trials at once (default: as many as Ray has CPUs for)")
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so the same clean-up as Ctrl-C runs."""


def _terminate(signum, frame):
    raise Terminated()


def fewer_collections() -> None:
    """Run Python's cyclic garbage collector less often in this process (the CLI's, never on
    import of the library): at its default thresholds (700, 10, 10) it ran about 2,000 times
    during the default run, 10 of them full passes over the heap that torch, transformers,
    scipy and matplotlib bring, 2.0 s in all; at (50,000, 10, 10) it runs 21 times, 0.4 s
    (gc.callbacks, 2-core CPU, 2026-11-27). Only garbage held in reference cycles waits
    longer; everything else, tensors included, is still freed by reference counting."""
    gc.set_threshold(50_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    fewer_collections()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:                                   # not the main thread: leave it
        previous = None
    try:
        if args.command == "methods":
            from unlearnlab.methods import METHODS
            from unlearnlab.methods.base import describe

            if args.name:
                print(describe(METHODS.get(args.name)))
                return 0
            width = max(len(n) for n in METHODS)
            for name in METHODS:
                spec = METHODS.get(name)
                print(f"{name:<{width}}  {spec.summary}  [{spec.paper}]")
            return 0
        if args.command == "report":
            from unlearnlab.report import render

            render(args.run_dir)
            print(f"report: {args.run_dir}/report.html  summary: {args.run_dir}/summary.md")
            return 0
        if args.command == "compare":
            from unlearnlab.report.compare import compare

            out, markdown = compare(args.run_dirs, args.out)
            print(markdown)
            print(f"report: {out}/report.html  summary: {out}/summary.md")
            return 0
        if args.command == "sweep":
            from unlearnlab.sweep import run_sweep

            return run_sweep(args.sweep_file, args.address, args.retry_failed, args.max_concurrent)
        from unlearnlab import api

        if args.command == "evaluate":
            run_dir = api.evaluate(args.model_dir, args.task, args.config, args.overrides)
        else:
            run_dir = api.run(args.config, args.overrides)
        from unlearnlab import distributed

        if distributed.is_main():
            print(f"results: {run_dir}/results.json  report: {run_dir}/report.html  "
                  f"summary: {run_dir}/summary.md")
        return 0
    except UserError as exc:
        print(f"unlearnlab: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.command not in ("report", "compare"):
            raise
        print(f"unlearnlab: error: cannot write the report: {exc.strerror or exc} "
              f"({exc.filename})", file=sys.stderr)
        return 2
    except Terminated:
        print("unlearnlab: terminated (SIGTERM); nothing was written, an earlier run of that "
              "name is intact", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("unlearnlab: interrupted; nothing was written, an earlier run of that name is "
              "intact", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
