"""What the console reads about invocations: one small interface, read today from the log store.

``Telemetry`` is all the pages ask: a function's recent invocations and a summary of them. Today
``LogTelemetry`` derives both from the function's log (START … REPORT lines, grouped by request id:
the REPORT line gives duration, billed duration, memory and init/restore; an ``[ERROR]`` line, a
timeout or a REPORT ``Status: error`` marks the invocation failed). When CloudWatch-style metrics
exist (issue 24) another implementation of the same protocol plugs in (``Console(telemetry=...)``).

Reads are bounded: the newest invocations are looked for in widening windows (the last second,
10 s, 1 min, 10 min, 1 h, 1 day, 7 days) until one holds enough of them or ``LINES_PER_READ`` lines
(an empty window costs one index seek), so a function with a million lines costs about what one
with a hundred does, and a busy function's "recent" is its last second. A window read up to its
cap is read from its start: counts are then a lower bound (``Summary.capped``). A summary (one row
of the functions list) stops at ``SUMMARY_INVOCATIONS`` or ``SUMMARY_LINES``. A store that can walk a function's lines
backwards (SQLite's ``newest_logs``) is asked for the newest lines directly instead. Exact counts and
rates are what metrics (issue 24) are for.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from cumulo.store.base import LogRecord

__all__ = ["Invocation", "Summary", "Telemetry", "LogTelemetry", "parse_report", "WINDOWS_MS"]

WINDOWS_MS = (1_000, 10_000, 60_000, 600_000, 3_600_000, 86_400_000, 7 * 86_400_000)
SUMMARY_LINES = 100               # a summary (one row of the functions list) reads fewer lines …
SUMMARY_INVOCATIONS = 20          # … and stops at this many invocations
LINES_PER_READ = 2_000

_REPORT = re.compile(
    r"^REPORT RequestId: (?P<rid>\S+)\tDuration: (?P<duration>[0-9.]+) ms\tBilled Duration: (?P<billed>[0-9]+) ms"
    r"\tMemory Size: (?P<memory>[0-9]+) MB\tMax Memory Used: (?P<used>[0-9]+) MB"
    r"(?:\tInit Duration: (?P<init>[0-9.]+) ms)?(?:\tRestore Duration: (?P<restore>[0-9.]+) ms)?")
_FAILED = re.compile(r"^\[ERROR\]|\tERROR\t|Task timed out after|Status: (?:error|timeout)|Runtime exited")


@dataclass(frozen=True)
class Invocation:
    request_id: str
    timestamp_ms: int
    version: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_used_mb: int
    init_ms: float | None
    restore_ms: float | None
    failed: bool


@dataclass(frozen=True)
class Summary:
    invocations: int            # in the window read
    errors: int
    last_ms: int | None         # when the newest one ended
    window_ms: int              # how far back was read
    capped: bool = False        # the window held more lines than were read: counts are a lower bound

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.invocations if self.invocations else None


class Telemetry(Protocol):
    def invocations(self, function: str, limit: int = 20) -> list[Invocation]:
        """The newest invocations first (at most ``limit``)."""
        ...

    def summary(self, function: str) -> Summary: ...


def parse_report(record: LogRecord, failed: bool = False) -> Invocation | None:
    m = _REPORT.match(record.message)
    if m is None:
        return None
    init, restore = m.group("init"), m.group("restore")
    return Invocation(m.group("rid"), record.timestamp_ms, record.version, float(m.group("duration")),
                      int(m.group("billed")), int(m.group("memory")), int(m.group("used")),
                      float(init) if init else None, float(restore) if restore else None,
                      failed or "Status: error" in record.message or "Status: timeout" in record.message)


def _invocations(records: list[LogRecord]) -> list[Invocation]:
    failed: set[str] = set()
    found = []
    for r in records:
        m = r.message
        if m.startswith("REPORT "):
            inv = parse_report(r, r.request_id in failed)
            if inv is not None:
                found.append(inv)
        elif r.request_id and ("ERROR" in m or "Task timed out" in m or "Runtime exited" in m) and _FAILED.search(m):
            failed.add(r.request_id)
    return found


class LogTelemetry:
    """``Telemetry`` from the function log store (``read(function, since_ms, limit)``: its lines
    since then, oldest first)."""

    def __init__(self, read: Callable[[str, int, int], list[LogRecord]],
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 newest: Callable[[str, int], list[LogRecord]] | None = None) -> None:
        self._read = read
        self._now_ms = now_ms
        self._newest = newest     # a store's walk back along its index (SQLite's ``newest_logs``)

    def _window(self, function: str, want: int, cap: int) -> tuple[list[Invocation], int, bool]:
        now = self._now_ms()
        if self._newest is not None:         # the newest lines at once, however busy the function was
            newest = self._newest(function, cap)
            invocations = _invocations(newest)
            invocations.reverse()
            span = now - newest[0].timestamp_ms if newest else WINDOWS_MS[-1]
            return invocations, next((w for w in WINDOWS_MS if w >= span), WINDOWS_MS[-1]), len(newest) >= cap
        records: list[LogRecord] = []
        found: list[Invocation] = []
        window = WINDOWS_MS[0]
        for window in WINDOWS_MS:       # an empty window costs one index seek
            records = self._read(function, now - window, cap)
            found = _invocations(records)
            if len(found) >= want or len(records) >= cap:
                break
        found.reverse()
        return found, window, len(records) >= cap

    def invocations(self, function: str, limit: int = 20) -> list[Invocation]:
        return self._window(function, limit, LINES_PER_READ)[0][:limit]

    def summary(self, function: str) -> Summary:
        found, window, capped = self._window(function, SUMMARY_INVOCATIONS, SUMMARY_LINES)
        return Summary(len(found), sum(1 for i in found if i.failed), found[0].timestamp_ms if found else None, window,
                       capped)
