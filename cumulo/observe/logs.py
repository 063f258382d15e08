"""Function logs: the platform's lines (START/END/REPORT) and the function's output.

Writing happens off the invocation path: ``LogSink.emit`` appends records and a
writer thread commits them in batches. ``flush`` waits until everything queued
so far is committed; ``close`` flushes. A crash of the supervisor can lose at
most the records of the last ``_BATCH_WINDOW_S`` (documented bound).
"""

from __future__ import annotations

import math
import sys
import threading
from typing import Iterable

from cumulo.store.base import LogRecord, Store

__all__ = ["LogSink", "log_group_key", "start_line", "end_line", "report_line", "init_start_line", "init_report_line",
           "restore_start_line", "restore_report_line"]

_FUNCTION_GROUP = "/aws/lambda/"


def log_group_key(log_group: str) -> str:
    """Where the log store keeps a log group's events: a function's group ``/aws/lambda/<name>`` under the
    function's name, any other (an API's access log ``/aws/apigateway/<id>``) under the group's name."""
    return log_group.removeprefix(_FUNCTION_GROUP) if log_group.startswith(_FUNCTION_GROUP) else log_group


_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"   # what runs Python functions: our interpreter
_BATCH_WINDOW_S = 0.05
_BATCH_MAX = 5000


def init_start_line(runtime: str, function_arn: str) -> str:
    family = next((f for f in ("python", "nodejs", "provided") if runtime.startswith(f)), runtime)
    version = _PYTHON if family == "python" else runtime.removeprefix(family).lstrip(".").removesuffix(".x") or "1"
    return f"INIT_START Runtime Version: {family}:{version}.cumulo\tRuntime Version ARN: {function_arn}"


def init_report_line(init_ms: float) -> str:
    """A SnapStart function's Init (template creation): its duration is here, not in REPORT."""
    return f"INIT_REPORT Init Duration: {init_ms:.2f} ms"


def restore_start_line(runtime: str, function_arn: str) -> str:
    return f"RESTORE_START Runtime Version: python:{_PYTHON}.cumulo\tRuntime Version ARN: {function_arn}"


def restore_report_line(restore_ms: float, error_type: str | None = None) -> str:
    line = f"RESTORE_REPORT Restore Duration: {restore_ms:.2f} ms"
    if error_type is not None:
        line += f"\tStatus: error\tError Type: {error_type}"
    return line


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int,
                init_ms: float | None = None, restore_ms: float | None = None,
                billed_restore_ms: float | None = None) -> str:
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(math.ceil(duration_ms), 1)} ms\tMemory Size: {memory_mb} MB\t"
            f"Max Memory Used: {max_used_mb} MB\t")
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if restore_ms is not None:   # AWS: the whole restore, then the part it bills (runtime + after-restore hooks)
        billed = restore_ms if billed_restore_ms is None else billed_restore_ms
        line += f"Restore Duration: {restore_ms:.2f} ms\tBilled Restore Duration: {max(math.ceil(billed), 1)} ms\t"
    return line


class LogSink:
    """Records appended to a list (no wake-up, no lock handoff per invocation); a writer thread
    takes the list every ``_BATCH_WINDOW_S`` and commits it in one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[LogRecord] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._written = threading.Condition(self._lock)
        self._taken = 0              # batches taken by the writer
        self._done = 0               # batches committed
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="cumulo-log-writer", daemon=True)
        self._thread.start()

    def emit(self, records: list[LogRecord]) -> None:
        if records:
            with self._lock:
                self._pending.extend(records)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything emitted so far is committed."""
        with self._lock:
            target = self._taken + 1
            self._wake.set()
            self._written.wait_for(lambda: self._done >= target or self._stopping and not self._thread.is_alive(),
                                   timeout)

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            self._wake.wait(_BATCH_WINDOW_S)
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, []
                self._taken += 1
                number, stopping = self._taken, self._stopping
            for start in range(0, len(batch), _BATCH_MAX):
                self._write(batch[start:start + _BATCH_MAX])
            with self._lock:
                self._done = number
                self._written.notify_all()
            if stopping:
                return

    def _write(self, batch: Iterable[LogRecord]) -> None:
        try:
            self._store.append_logs(batch)
        except Exception:  # the store is gone (closing) or locked too long: report, keep going
            import traceback

            traceback.print_exc()
