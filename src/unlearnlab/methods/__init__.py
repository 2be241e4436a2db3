"""Unlearning methods. Importing this package registers every built-in method (each module
in this folder), and `load_plugins` registers user methods from modules, .py files and the
`unlearnlab.methods` entry-point group."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

from unlearnlab.errors import UserError
from unlearnlab.methods.base import (
    METHODS,
    MethodSpec,
    Outcome,
    check_range,
    register_method,
    register_procedure,
)

__all__ = ["METHODS", "MethodSpec", "Outcome", "check_range", "register_method",
           "register_procedure", "load_plugins"]

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"{__name__}.{_module}")

_loaded: set[str] = set()


def load_plugins(names=()) -> None:
    """Import entry points of group `unlearnlab.methods` (once) and the given plugins:
    dotted module names (importable, or found in the working directory) or paths to .py files."""
    if "<entry-points>" not in _loaded:
        _loaded.add("<entry-points>")
        for ep in entry_points(group="unlearnlab.methods"):
            ep.load()
    for name in names:
        if name in _loaded:
            continue
        try:
            if name.endswith(".py"):
                path = Path(name)
                if not path.is_file():
                    raise UserError(f"plugins: file not found: {name}")
                spec = importlib.util.spec_from_file_location(f"unlearnlab_plugin_{path.stem}", path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                if "" not in sys.path and str(Path.cwd()) not in sys.path:
                    sys.path.insert(0, str(Path.cwd()))
                importlib.import_module(name)
        except UserError:
            raise
        except Exception as exc:  # any failure importing user code is a user error
            raise UserError(f"plugins: cannot load {name!r}: {type(exc).__name__}: {exc}") from None
        _loaded.add(name)
