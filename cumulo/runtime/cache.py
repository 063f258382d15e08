"""Cumulo's own cache of what it installs once per user (``$XDG_CACHE_HOME/cumulo``, by default
``~/.cache/cumulo``): the AWS SDK for JavaScript (node_sdk.py), Node.js majors the machine lacks
(node_versions.py). Every ``cumulo up`` of a user shares it.

Each entry is a folder filled in a scratch folder beside it and renamed into place once complete
(with a marker file inside), so a half-done install is never used; one install of an entry at a
time, across threads and processes (a lock file beside it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

from cumulo.runtime.inside import linux

__all__ = ["root", "complete", "install_once", "run_tool", "failure"]

DONE = ".cumulo-complete"
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cumulo"


def complete(entry: Path) -> bool:
    return (entry / DONE).is_file()


def install_once(entry: Path, fill: Callable[[Path], str | None], what: str, wait: bool = True) -> str | None:
    """Make ``entry`` unless it is complete: ``fill(work)`` fills an empty scratch folder and
    answers None, or why it could not. Answers None once ``entry`` is complete, or why not.
    ``wait=False`` gives up at once while another thread or process is installing it."""
    with _locks_guard:
        lock = _locks.setdefault(entry, threading.Lock())
    if not lock.acquire(blocking=wait):
        return f"another thread is installing {what}; it is there once that is done"
    try:
        if complete(entry):
            return None
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(entry.parent / f".{entry.name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return f"another Cumulo process is installing {what}; it is there once that is done"
            if complete(entry):    # what the process that held the lock installed
                return None
            for stale in entry.parent.glob(f".{entry.name}-*"):   # left by an install that was killed
                shutil.rmtree(stale, ignore_errors=True)
            return _fill_and_rename(entry, fill, what)
        finally:
            os.close(fd)
    finally:
        lock.release()


def _fill_and_rename(entry: Path, fill: Callable[[Path], str | None], what: str) -> str | None:
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        why = fill(work)
        if why is not None:
            return why
        (work / DONE).write_text(what + "\n")
        for path in [work, *work.rglob("*")]:   # readable by the environments' own uids
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() or path.stat().st_mode & 0o111 else 0o644)
        shutil.rmtree(entry, ignore_errors=True)
        os.rename(work, entry)
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"installing {what} failed: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _die_with_parent() -> None:
    linux.set_parent_death_signal()   # (imported before any fork: nothing is imported in the child)


def run_tool(argv: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run an installer (npm) that dies with this process: a server killed mid-install must not
    leave it running (the next install would remove its folder under it)."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                          preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def failure(result: subprocess.CompletedProcess[str], what: str) -> str:
    """The last lines an installer printed when it failed."""
    tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
    return f"{what} failed: " + " / ".join(tail)
