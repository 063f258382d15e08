"""When the store's files or disk fail: a damaged database, a full disk.

Two SQLite files hold everything (``cumulo.db``: functions, keys, logs, documents;
``queues.db``: messages, events, streams). What can go wrong with them, and what Cumulo does:

- **A damaged file** (truncated, overwritten, garbage: SQLite's ``SQLITE_CORRUPT`` and
  ``SQLITE_NOTADB``). Opening it raises ``StoreDamaged``, which names the file and what to do;
  ``cumulo up`` also runs ``PRAGMA quick_check`` on both files before it accepts a write
  (``quick_check``: bounded by a time budget, since its cost grows with the file). A page found
  damaged while serving answers a 500 naming the file, never a write into it.
- **A full disk** (``SQLITE_FULL``; ``ENOSPC`` and ``EFBIG`` from other writes). The write
  is rolled back whole, the request is answered 503 ("the store's disk is full"), and what was
  committed before stays: SQLite never half-writes a transaction. Reads go on.

``fault`` turns such an exception into the error a request is answered with.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cumulo.errors import CumuloError, ServiceException

__all__ = ["StoreDamaged", "StoreFull", "StoreFullException", "StoreDamagedException", "StoreUnreachableException",
           "damaged", "full",
           "write_failed", "opening", "quick_check", "rollback", "fault"]

# PRAGMA quick_check reads every page: ~0.3 s for a 100 MB store on the reference machine. Past
# this budget it is interrupted and the store is taken as it is (see docs/store.md).
QUICK_CHECK_BUDGET_S = 5.0


class StoreDamaged(Exception):
    """A store file SQLite cannot read as a database, or whose pages contradict each other."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path, self.detail = path, detail
        super().__init__(
            f"the store's database {path} is damaged ({detail}). Cumulo will not use it: writing to a damaged "
            f"file can lose what it still holds. Stop every process using {path.parent}, then either restore the "
            f"file from a backup, or move it aside to start with an empty one (mv {path} {path}.damaged, and its "
            f"-wal and -shm files if there are any); `sqlite3 {path}.damaged .recover` can rescue what is readable.")


class StoreFull(Exception):
    """The disk holding the store has no room for a write (or the process its file size limit)."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path, self.detail = path, detail
        super().__init__(f"the store's disk is full: {path} could not be written ({detail}). Free space on the disk "
                         f"holding {path.parent}, then start again.")


class StoreDamagedException(ServiceException):
    """A request that met a damaged store file: 500, naming the file."""

    retryable = False

    @property
    def type(self) -> str:
        return "ServiceException"


class StoreFullException(CumuloError):
    """A write the store's disk had no room for: 503, retryable once there is room again."""

    status = 503
    retryable = True

    @property
    def type(self) -> str:
        return "ServiceUnavailableException"


class StoreUnreachableException(StoreFullException):
    """A request that could not reach the store's database (PostgreSQL down, or no connection
    free in time): 503, retryable."""


def damaged(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text)


def full(exc: BaseException, home: Path | None = None) -> bool:
    """Whether a write failed for want of room: the disk (``SQLITE_FULL``, ``ENOSPC``), a quota, or
    the process's file size limit (``EFBIG``, which SQLite reports as a write's I/O error)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL" or (isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)):
        return True
    return write_failed(exc) and (_size_limited() or (home is not None and _free_bytes(home) < 1 << 20))


def write_failed(exc: BaseException) -> bool:
    """SQLite could not write or sync a file (``SQLITE_IOERR_*``: "disk I/O error")."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_IOERR") or (isinstance(exc, sqlite3.OperationalError) and
                                               "disk I/O error" in str(exc))


def _size_limited() -> bool:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return soft != resource.RLIM_INFINITY


def _free_bytes(home: Path) -> int:
    try:
        stat = os.statvfs(home)
    except OSError:
        return 1 << 62
    return stat.f_bavail * stat.f_frsize


@contextmanager
def opening(path: Path) -> Iterator[None]:
    """Around opening a store file: SQLite's complaints about it become ``StoreDamaged`` or
    ``StoreFull`` naming the file."""
    try:
        yield
    except (sqlite3.DatabaseError, OSError) as exc:
        if damaged(exc):
            raise StoreDamaged(path, str(exc)) from None
        if full(exc, path.parent):
            raise StoreFull(path, str(exc)) from None
        raise


def quick_check(db: sqlite3.Connection, path: Path, budget_s: float = QUICK_CHECK_BUDGET_S) -> bool:
    """``PRAGMA quick_check`` of an open store file within ``budget_s``: raises ``StoreDamaged``
    with SQLite's first findings; False when the budget ran out first (the file is too large to
    check at every start-up), True when the file is sound."""
    deadline = time.monotonic() + budget_s
    db.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    try:
        with opening(path):
            rows = db.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return False
        raise
    finally:
        db.set_progress_handler(None, 0)
    findings = [str(r[0]) for r in rows]
    if findings != ["ok"]:
        raise StoreDamaged(path, "; ".join(findings)[:500])
    return True


def rollback(db: sqlite3.Connection) -> None:
    """End a failed transaction. SQLite may have rolled it back itself (a full disk, a damaged
    page): a second ROLLBACK would raise and hide the error that matters; a transaction left
    open would make every later BEGIN fail, so the store would stop working for good."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def fault(exc: BaseException, home: Path) -> CumuloError | None:
    """The answer to a request that failed on the store's files or disk; None for other faults."""
    if isinstance(exc, StoreDamaged):
        return StoreDamagedException(str(exc)[:1].upper() + str(exc)[1:])
    if isinstance(exc, StoreFull) or full(exc, home):
        limit = " (or the server's file size limit, RLIMIT_FSIZE, was reached)" if _size_limited() else ""
        return StoreFullException(f"The store's disk is full{limit}: the request was not carried out, and nothing "
                                  f"it would have written was kept (what was accepted before is intact). Free space "
                                  f"on the disk holding {home}, then retry.")
    if write_failed(exc):
        return StoreFullException(f"The store's disk failed a write ({exc}): the request was not carried out, and "
                                  f"nothing it would have written was kept. Check the disk holding {home} (its free "
                                  "space, its health), then retry.")
    if damaged(exc):
        return StoreDamagedException(f"The store under {home} is damaged ({exc}): stop `cumulo up`; at its next start "
                                     "it names the damaged file and what to do.")
    return None


def log_failure(log: logging.Logger, message: str, *args: object) -> None:
    """Log the exception being handled by a background loop (a scheduler tick, a poller, a worker):
    a store that cannot write (full, its file size limit, an I/O error) or is damaged in one line
    without a traceback — the requests that meet it answer 503 saying so, and the loop tries again
    — anything else with its traceback."""
    exc = sys.exc_info()[1]
    if exc is not None and (isinstance(exc, (StoreFull, StoreDamaged)) or full(exc) or write_failed(exc)
                            or damaged(exc)):
        log.warning(message + ": the store failed (%s); retrying", *args, exc)
    else:
        log.exception(message, *args)
