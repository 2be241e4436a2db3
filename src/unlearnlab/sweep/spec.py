"""SWEEP.yaml: what a sweep runs, read and checked before anything else is imported.

    name: npo-beta                # the sweep's folder, <runs_dir>/<name> (default: the file's stem)
    base: configs/tiny.yaml       # the config every trial starts from: a file (relative to the
                                  #   current folder, like every path of a config), an inline
                                  #   mapping of config keys, or absent (the built-in default)
    runs_dir: runs                # default: the base config's runs_dir
    set: {eval.every_n_steps: 0}  # fixed overrides, as --set, for every trial
    grid:                         # every combination of these values
      methods: [ga, npo_retain]
      seed: [0, 1]
    random:                       # drawn `samples` times per grid combination
      hparams.npo_retain.beta: {loguniform: [0.1, 10]}
      unlearn.train.lr: {choice: [1.0e-4, 3.0e-4]}   # also {uniform: [lo, hi]}, {randint: [lo, hi]}
    samples: 4
    seed: 0                       # the random draws' seed
    cpus_per_trial: 1             # Ray resources of one trial
    gpus_per_trial: 0

A trial is `unlearnlab run BASE --set <set> --set <its values>`: its overrides are those
`--set` strings (values written as YAML, so they read back exactly). Its name is made of its
swept values, e.g. `methods=ga,seed=1` (each key shortened to the shortest dotted suffix
that tells the swept keys apart; characters a folder name should not hold become `_`).
Bad input raises `UserError` with one line; this module imports neither torch nor ray.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from unlearnlab.config import digest, read_yaml
from unlearnlab.errors import UserError

KEYS = ("name", "base", "runs_dir", "set", "grid", "random", "samples", "seed",
        "cpus_per_trial", "gpus_per_trial")
RESERVED = ("name", "runs_dir")          # each trial's, set by the sweep
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")
REPLICATE_KEYS = ("seed", "seeds")       # swept keys that repeat a configuration (see best.py)
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")   # 1e-4: a string in YAML 1.1
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]")
MAX_NAME = 120


@dataclass(frozen=True)
class Trial:
    name: str
    overrides: tuple[str, ...]      # its `--set` strings: the sweep's fixed ones, then its own
    values: dict                    # swept key -> this trial's value


@dataclass(frozen=True)
class Sweep:
    path: Path
    name: str
    base: str | dict | None         # an absolute config path, an inline mapping, or None
    runs_dir: str | None
    fixed: dict
    grid: dict
    random: dict
    samples: int
    seed: int
    cpus_per_trial: float
    gpus_per_trial: float

    def trials(self) -> list[Trial]:
        """Every grid combination × `samples` random draws (in file order; draws from
        `random.Random(seed)`), identical trials once."""
        rng = random.Random(self.seed)
        fixed = [override(k, v) for k, v in self.fixed.items()]
        found: dict[tuple, dict] = {}
        for combo in itertools.product(*self.grid.values()):
            for _ in range(self.samples):
                values = {**dict(zip(self.grid, combo)),
                          **{k: draw(rng, d) for k, d in self.random.items()}}
                found.setdefault(tuple(override(k, v) for k, v in values.items()), values)
        labels = _short_keys([*self.grid, *self.random])
        names = [_trial_name(values, labels) for values in found.values()]
        trials = []
        for name, (own, values) in zip(names, found.items()):
            if names.count(name) > 1:        # values that differ only in characters cut out
                name = f"{name}-{digest(list(own))[:6]}"
            trials.append(Trial(name, (*fixed, *own), values))
        return trials


def override(key: str, value) -> str:
    """`key=value` as after --set, the value in YAML flow style (it parses back as it was)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False)
    return f"{key}={text.strip().removesuffix('...').strip()}"


def draw(rng: random.Random, dist: dict):
    (kind, args), = dist.items()
    if kind == "choice":
        return rng.choice(args)
    if kind == "uniform":
        return rng.uniform(*args)
    if kind == "loguniform":
        return math.exp(rng.uniform(math.log(args[0]), math.log(args[1])))
    return rng.randint(*args)


def load_sweep(path: str | Path) -> Sweep:
    """Read and check SWEEP.yaml: every key, type and value; each error one line."""
    path = Path(path)
    data = read_yaml(path, "sweep file")
    if not isinstance(data, dict):
        raise UserError(f"sweep file {path} must hold a mapping with keys: {', '.join(KEYS)}")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise UserError(f"sweep file {path}: unknown key {unknown[0]!r}; valid keys: "
                        f"{', '.join(KEYS)}")
    try:
        return _sweep(path, data)
    except UserError as exc:
        raise UserError(f"sweep file {path}: {exc}") from None


def _sweep(path: Path, data: dict) -> Sweep:
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise UserError(f"name must be a plain folder name, got {name!r}")
    base = data.get("base")
    if isinstance(base, str):
        if not Path(base).is_file():
            raise UserError(f"base: config file not found: {base} (paths are relative to the "
                            "current folder)")
        base = str(Path(base).resolve())
    elif base is not None and not isinstance(base, dict):
        raise UserError(f"base: expected a config file path or a mapping of config keys, "
                        f"got {base!r}")
    runs_dir = data.get("runs_dir")
    if runs_dir is not None and (not isinstance(runs_dir, str) or not runs_dir):
        raise UserError(f"runs_dir: expected a folder path, got {runs_dir!r}")
    fixed = _keyed(data.get("set", {}), "set")
    grid = {k: _values(k, v) for k, v in _keyed(data.get("grid", {}), "grid").items()}
    rand = {k: _distribution(k, v) for k, v in _keyed(data.get("random", {}), "random").items()}
    if not grid and not rand:
        raise UserError("nothing to sweep: give grid: {key: [values, ...]} and/or random: "
                        "{key: {choice: [...]}}")
    _no_overlap([*fixed, *grid, *rand])
    samples = _integer(data.get("samples", 1), "samples", 1)
    if samples > 1 and not rand:
        raise UserError(f"samples: {samples} repeats of a grid without random: would run each "
                        "trial several times; sweep seeds with grid: {seed: [...]}")
    if rand and "samples" not in data:
        raise UserError("random: needs samples: N (random draws per grid combination)")
    return Sweep(path=path, name=name, base=base, runs_dir=runs_dir, fixed=fixed, grid=grid,
                 random=rand, samples=samples, seed=_integer(data.get("seed", 0), "seed", None),
                 cpus_per_trial=_number(data.get("cpus_per_trial", 1), "cpus_per_trial", 0, False),
                 gpus_per_trial=_number(data.get("gpus_per_trial", 0), "gpus_per_trial", 0, True))


def _keyed(section, what: str) -> dict:
    """A mapping of dotted config keys (`set`, `grid`, `random`), numbers like 1e-4 read as
    numbers."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise UserError(f"{what}: expected a mapping of config keys (e.g. unlearn.train.lr), "
                        f"got {section!r}")
    for key in section:
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)*", key):
            raise UserError(f"{what}: {key!r} is not a config key like unlearn.train.lr")
        if key.split(".")[0] in RESERVED:
            raise UserError(f"{what}: {key!r} is set by the sweep for each trial; use the "
                            f"sweep's own name: and runs_dir:")
    return {k: _numbers(v) for k, v in section.items()}


def _numbers(value):
    if isinstance(value, str) and _EXPONENT.match(value):
        return float(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


def _values(key: str, values) -> list:
    if not isinstance(values, list):
        raise UserError(f"grid.{key}: expected a list of values, got {values!r}")
    if not values:
        raise UserError(f"grid.{key}: the list of values is empty")
    texts = [override(key, v) for v in values]
    if len(set(texts)) != len(texts):
        raise UserError(f"grid.{key}: each value at most once, got {values!r}")
    return values


def _distribution(key: str, dist) -> dict:
    forms = ("{choice: [a, b, ...]}, {uniform: [lo, hi]}, {loguniform: [lo, hi]}, "
             "{randint: [lo, hi]}")
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        raise UserError(f"random.{key}: expected one of {forms}, got {dist!r}")
    (kind, args), = dist.items()
    if kind == "choice":
        _values(key, args)
        return {kind: args}
    if not isinstance(args, list) or len(args) != 2:
        raise UserError(f"random.{key}: {kind} takes [lo, hi], got {args!r}")
    lo, hi = (_number(a, f"random.{key}", None, True) for a in args)
    if kind == "randint":
        if lo != int(lo) or hi != int(hi) or lo > hi:
            raise UserError(f"random.{key}: randint takes integers lo <= hi, got {args!r}")
        return {kind: [int(lo), int(hi)]}
    if lo >= hi or (kind == "loguniform" and lo <= 0):
        need = "0 < lo < hi" if kind == "loguniform" else "lo < hi"
        raise UserError(f"random.{key}: {kind} needs {need}, got {args!r}")
    return {kind: [lo, hi]}


def _no_overlap(keys: list[str]) -> None:
    for a, b in itertools.combinations(keys, 2):
        if a == b or b.startswith(a + ".") or a.startswith(b + "."):
            raise UserError(f"{a!r} and {b!r} overlap: set each config key in one of set:, "
                            "grid: or random: only")


def _integer(value, what: str, low: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        raise UserError(f"{what}: expected an integer{f' >= {low}' if low is not None else ''}, "
                        f"got {value!r}")
    return value


def _number(value, what: str, low: float | None, zero_ok: bool) -> float:
    value = _numbers(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{what}: expected a finite number, got {value!r}")
    if low is not None and (value < low or (value == low and not zero_ok)):
        raise UserError(f"{what}: expected a number {'>=' if zero_ok else '>'} {low:g}, "
                        f"got {value!r}")
    return float(value)


def _short_keys(keys: list[str]) -> dict[str, str]:
    """Each key's shortest dotted suffix that no other key ends with."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if not any(o != key and (o == tail or o.endswith("." + tail)) for o in keys):
                break
        out[key] = tail
    return out


def _text(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "+".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "+".join(f"{k}-{_text(v)}" for k, v in value.items())
    return str(value)


def _trial_name(values: dict, labels: dict[str, str]) -> str:
    name = _UNSAFE.sub("_", ",".join(f"{labels[k]}={_text(v)}" for k, v in values.items()))
    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME - 9]}-{digest(values)[:8]}"
    return name
