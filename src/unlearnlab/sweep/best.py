"""The best configuration of each method over a sweep's finished trials.

Criterion: on tasks that measure restoration (RESTOR: the built-in world, restor_wikidata),
the method's **restoration** — the share of the target accuracy the corruption took that
unlearning brings back, normalised per run, so trials of different seeds compare; on other
tasks the task's **primary metric** (results.json `task.primary`, the metric its
method-against-method comparison uses), in that metric's direction.

A method's *configuration* is a trial's swept values without those that do not change it:
replicate keys (`seed`, `seeds`, `world.seed`, ...: any key ending in seed or seeds), `methods`,
and other methods' hyperparameters (`hparams.<other>.*`). Its score is the mean of the
criterion over its trials (so seeds are averaged, not picked). Configurations where a trial
flagged the method (collapsed, no effect), where it diverged in a trial, or whose criterion is
undefined rank last; ties go to the higher model utility, then to the earlier trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unlearnlab.comparisons import task_of
from unlearnlab.report.tables import markdown
from unlearnlab.sweep.spec import REPLICATE_KEYS, Sweep, Trial, override


@dataclass
class Group:
    task: str
    method: str
    config: str
    values: list = field(default_factory=list)          # the criterion per trial (None: undefined)
    utilities: list = field(default_factory=list)
    trials: list = field(default_factory=list)
    flags: list = field(default_factory=list)

    @property
    def score(self) -> float | None:
        return _mean(self.values)

    @property
    def utility(self) -> float | None:
        return _mean(self.utilities)


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def criterion(results: dict) -> tuple[str, str]:
    """(figure, "higher" | "lower") that ranks a run's methods."""
    task = task_of(results)
    if task.get("restoration"):
        return "restoration", "higher"
    primary = task["primary"]
    directions = [m["metrics"][primary]["direction"] for m in results["models"].values()
                  if primary in m["metrics"]]
    return primary, directions[0] if directions else "higher"


def _scalar(value):
    """A figure of a single-seed run (a number) or of a seeds run ({"mean": ...})."""
    return value.get("mean") if isinstance(value, dict) else value


def figure(results: dict, label: str, name: str) -> float | None:
    if name == "restoration":
        return _scalar(results.get("restoration", {}).get(label))
    metric = results["models"][label]["metrics"].get(name)
    return metric and metric["mean"]


def configuration(trial: Trial, method: str) -> str:
    """The trial's swept values that can change `method`'s outcome, as --set strings."""
    def matters(key: str) -> bool:
        parts = key.split(".")
        if parts[-1] in REPLICATE_KEYS or key == "methods":
            return False
        return not (parts[0] == "hparams" and len(parts) > 1 and parts[1] != method)
    return ", ".join(override(k, v) for k, v in trial.values.items() if matters(k))


def best_per_method(finished: list[tuple[Trial, dict]]) -> list[tuple[Group, str, str]]:
    """(best group, criterion, direction) per (task, method), in the order methods appear."""
    groups: dict[tuple, Group] = {}
    criteria: dict[str, tuple[str, str]] = {}
    for trial, results in finished:
        task = task_of(results)["name"]
        criteria.setdefault(task, criterion(results))
        name = criteria[task][0]
        diverged = results.get("failed", {})
        for label in [*results.get("methods", []), *diverged]:
            config = configuration(trial, label.split("@")[0])
            g = groups.setdefault((task, label, config), Group(task, label, config))
            g.trials.append(trial.name)
            if label in diverged:                       # counts against its configuration
                g.values.append(None)
                g.utilities.append(None)
                g.flags.append(f"{diverged[label]} in {trial.name}")
                continue
            g.values.append(figure(results, label, name))
            g.utilities.append(_scalar(results.get("model_utility", {}).get(label)))
            g.flags += [f for f in results.get("flags", {}).get(label, []) if f not in g.flags]
    best: dict[tuple, tuple] = {}
    for order, ((task, label, _), g) in enumerate(groups.items()):
        name, direction = criteria[task]
        sign = 1 if direction == "higher" else -1
        rank = (bool(g.flags) or g.score is None, -sign * (g.score or 0.0),
                -(g.utility or 0.0), order)
        if (task, label) not in best or rank < best[(task, label)][0]:
            best[(task, label)] = (rank, g, name, direction)
    return [(g, name, direction) for _, g, name, direction in best.values()]


def _num(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def summary(sweep: Sweep, finished: list[tuple[Trial, dict]], failed: dict[str, str],
            counts: dict[str, int], report: str | None) -> str:
    """The sweep's summary.md: the best configuration per method, then the failed trials and
    the methods that did not finish inside finished trials (diverged)."""
    rows, criteria = [], {}
    multi_task = len({task_of(r)["name"] for _, r in finished}) > 1
    for g, name, direction in best_per_method(finished):
        criteria[name] = direction
        values = ", ".join(_num(v) for v in g.values)
        rows.append([*([g.task] if multi_task else []), g.method, g.config or "(all trials alike)",
                     f"{name} {_num(g.score)} (n = {len(g.values)}: {values})",
                     _num(g.utility), ", ".join(g.trials),
                     "; ".join(g.flags) or "—"])
    header = [*(["task"] if multi_task else []), "method", "best configuration",
              "criterion (mean over trials)", "model utility", "trials", "flags"]
    how = "; ".join(f"{n} ({d} is better)" for n, d in criteria.items())
    lines = [f"# Sweep {sweep.name}: best configuration per method", "",
             f"{counts['trials']} trials: {counts['finished']} finished ({counts['ran']} run "
             f"now, {counts['finished'] - counts['ran']} earlier), {counts['failed']} failed.", ""]
    if rows:
        lines += [f"Criterion: {how}; restoration on RESTOR tasks, else the task's primary "
                  "metric; a configuration's mean over its trials (seeds are averaged); "
                  "flagged (collapsed, no effect, diverged) rank last; ties: higher model utility.", "",
                  markdown((header, rows)), ""]
    if failed:
        lines += ["## Failed trials", "", *(f"- {n}: {why}" for n, why in failed.items()), "",
                  f"`unlearnlab sweep {sweep.path} --retry-failed` runs them again.", ""]
    stopped = [f"- {t.name}: {label}: {why}" for t, r in finished
               for label, why in r.get("failed", {}).items()]
    if stopped:
        lines += ["## Methods that did not finish", "", *stopped, ""]
    if report:
        lines += [f"Comparison of every finished trial: {report}", ""]
    return "\n".join(lines)
