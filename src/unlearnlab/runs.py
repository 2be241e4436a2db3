"""Run directories, the artifact cache, and atomic writes.

Every file is written to a temporary sibling and renamed into place, so an interrupted or
failed run never leaves a half-written file; a cached model folder appears only complete.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from unlearnlab import distributed


def cache_root() -> Path:
    """`$UNLEARNLAB_CACHE`, else `$XDG_CACHE_HOME/unlearnlab`, else `~/.cache/unlearnlab`."""
    if os.environ.get("UNLEARNLAB_CACHE"):
        return Path(os.environ["UNLEARNLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "unlearnlab"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False) + "\n")


def temp_dir(final: Path, kind: str = "tmp") -> Path:
    """A new hidden folder beside `final` for building it: `.<name>.<kind>-<pid>-<random>`
    (the pid lets `remove_stale` tell a dead process's leftovers from a running one's)."""
    return Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.{kind}-{os.getpid()}-"))


_STALE = re.compile(r"^\..+\.(?:tmp|old)-(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:              # someone else's live process
        return True
    return True


def remove_stale(folder: Path) -> list[str]:
    """Delete the temporary folders in `folder` left by processes that no longer run (a run
    killed with SIGKILL leaves its `.<name>.tmp-<pid>-*`); returns their names."""
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        m = _STALE.match(entry.name)
        if m and entry.is_dir() and not _alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


SEAL = ".contents.json"     # in a cache folder: every file's size and sha256, written last


def seal(folder: Path) -> None:
    """Record every file's size and sha256 in `folder/.contents.json`."""
    files = {str(f.relative_to(folder)): [f.stat().st_size, _sha256(f)]
             for f in sorted(folder.rglob("*")) if f.is_file() and f.name != SEAL}
    (folder / SEAL).write_text(json.dumps(files, indent=1))


def damage(folder: Path) -> str | None:
    """What is wrong with a sealed cache folder (a file missing, of another size, or not
    matching its checksum), or None when it is intact. Folders written before seals existed
    are taken as they are."""
    path = folder / SEAL
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text())
    except (OSError, ValueError):
        return "its contents list is unreadable"
    for name, (size, sha) in files.items():
        f = folder / name
        if not f.is_file():
            return f"{name} is missing"
        if f.stat().st_size != size:
            return f"{name} has {f.stat().st_size} bytes, not {size}"
        if _sha256(f) != sha:
            return f"{name} does not match its checksum"
    return None


def intact(folder: Path) -> bool:
    return folder.is_dir() and damage(folder) is None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_dir(final: Path, build) -> Path:
    """Create folder `final` by calling `build(tmp_dir)`, sealing it (`seal`) and renaming;
    reuse it if present and intact. A damaged one (`damage`) is named on stderr in one line,
    removed and rebuilt, never used. Processes building the same folder at once take turns on
    a file lock: the first builds, the others wait and reuse its folder. Ranks of one
    distributed run: see `_ranked_atomic_dir`."""
    if distributed.active():
        return _ranked_atomic_dir(final, build)
    return _atomic_dir(final, build)


def built_here(final: Path, build) -> bool:
    """`atomic_dir(final, build)`; True when this call built the folder, False when it reused
    one, including one another process built while this one waited on the lock (so a
    "cached" flag read before the call would be wrong)."""
    calls = []

    def counted(folder: Path) -> None:
        calls.append(folder)
        build(folder)

    atomic_dir(final, counted)
    return bool(calls)


def _ranked_atomic_dir(final: Path, build) -> Path:
    """Rank 0 builds (or reuses) `final` as one process does; when it builds, the other ranks
    run the same `build` (its training needs every rank) into a scratch folder they discard.
    All ranks return once `final` is in place."""
    if distributed.is_main():
        announced = []

        def build_along(tmp: Path) -> None:
            announced.append(distributed.agree(True))     # the others build along
            build(tmp)
        try:
            _atomic_dir(final, build_along)
        finally:
            if not announced:
                distributed.agree(False)                  # reused: nothing to build
    elif distributed.agree(None):
        with distributed.scratch() as folder:
            build(folder)
    distributed.barrier()
    return final


def _atomic_dir(final: Path, build) -> Path:
    if intact(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if final.is_dir():                       # built while this process waited, or damaged
                problem = damage(final)
                if problem is None:
                    return final
                print(f"cache entry {final} is damaged ({problem}); rebuilding it",
                      file=sys.stderr)
                aside = temp_dir(final)
                os.replace(final, aside)
                shutil.rmtree(aside, ignore_errors=True)
            remove_stale(final.parent)
            tmp = temp_dir(final)
            try:
                build(tmp)
                seal(tmp)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return final


def versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    from unlearnlab import __version__

    return {"unlearnlab": __version__, "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "platform": platform.platform()}


def fresh_name(runs_dir: str | Path, base: str, now: float | None = None) -> str:
    """A run name that no folder in `runs_dir` has: `<base>-<YYYYmmdd-HHMMSS>`, with `-2`,
    `-3`, ... appended when two runs start in the same second."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    name, n = f"{base}-{stamp}", 1
    while (Path(runs_dir) / name).exists():
        n += 1
        name = f"{base}-{stamp}-{n}"
    return name


def point_latest(final: Path) -> None:
    """Make `<runs_dir>/latest` a relative link to the run folder just written (best effort:
    where links are not supported, nothing happens)."""
    link = final.parent / "latest"
    tmp = final.parent / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(final.name, tmp, target_is_directory=True)
        if link.exists() and not link.is_symlink():
            tmp.unlink()
            return
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)


def environment() -> dict:
    """For the manifest: the git commit of the unlearnlab source (when it is a git checkout;
    "+dirty" when it has uncommitted changes) and every installed distribution's version."""
    import subprocess
    from importlib import metadata

    commit = None
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0:
            commit = out.stdout.strip()
            dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "."],
                                   capture_output=True, text=True, timeout=10)
            if dirty.returncode == 0 and dirty.stdout.strip():
                commit += "+dirty"
    except (OSError, subprocess.SubprocessError):
        pass
    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    return {"git_commit": commit, "packages": dict(sorted(packages.items()))}


RENAME_EXCHANGE = 2                    # linux/fs.h
AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False
    where the system or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder into place, replacing any previous one whole. Where the two
    folders can be swapped atomically (Linux), `final` is complete at every moment; else the
    old one is moved aside first (a crash in between leaves it as `.<name>.old-<pid>-*`)."""
    if final.exists() and exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)          # tmp now holds the previous run
        return
    old = None
    if final.exists():
        old = temp_dir(final, "old")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
