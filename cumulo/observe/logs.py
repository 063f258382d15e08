"""Function logs: the platform's lines (START/END/REPORT) and the function's output.

Writing happens off the invocation path: ``LogSink.emit`` appends records and a
writer thread commits them in batches. ``flush`` waits until everything queued
so far is committed; ``close`` flushes. A crash of the supervisor can lose at
most the records of the last ``_BATCH_WINDOW_S`` (documented bound).
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
from datetime import datetime, timezone
from typing import Iterable

from cumulo.store.base import LogRecord, Store

__all__ = ["LogSink", "log_group_key", "start_line", "end_line", "report_line", "init_start_line", "init_report_line",
           "restore_start_line", "restore_report_line", "platform_json"]

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


_METRIC = re.compile(r"([0-9.]+) (?:ms|MB)")
_METRIC_NAMES = {"Duration": "durationMs", "Billed Duration": "billedDurationMs", "Memory Size": "memorySizeMB",
                 "Max Memory Used": "maxMemoryUsedMB", "Init Duration": "initDurationMs",
                 "Restore Duration": "restoreDurationMs", "Billed Restore Duration": "billedRestoreDurationMs"}
_SYSTEM_INFO = ("DEBUG", "INFO")      # SystemLogLevels at which Lambda writes these (INFO) records


def _fields(text: str) -> dict[str, str]:
    """``Key: value`` pairs of a tab-separated platform line (after its first word)."""
    out = {}
    for part in text.split(" ", 1)[-1].split("\t"):
        key, sep, value = part.partition(": ")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _metrics(text: str) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for key, field in _fields(text).items():
        name, m = _METRIC_NAMES.get(key), _METRIC.fullmatch(field)
        if name is not None and m is not None:
            value = m.group(1)
            out[name] = int(value) if name in ("billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                                               "billedRestoreDurationMs") else float(value)
    return out


def platform_json(text: str, ts_ms: int, status: str, system_level: str = "INFO") -> str | None:
    """A platform line as Lambda writes it with ``LogFormat: JSON`` (``{"time", "type", "record"}``:
    ``platform.initStart``, ``platform.start``, ``platform.report`` with its metrics and the
    invocation's ``status`` …), None when Lambda writes nothing for it (END; every one of them when
    the SystemLogLevel is WARN). Other lines (a timeout's message) are left as they are."""
    word = text.split(" ", 1)[0]
    kinds = {"START": "platform.start", "REPORT": "platform.report", "INIT_START": "platform.initStart",
             "INIT_REPORT": "platform.initReport", "RESTORE_START": "platform.restoreStart",
             "RESTORE_REPORT": "platform.restoreReport", "END": ""}
    kind = kinds.get(word)
    if kind is None:
        return text
    if not kind or system_level not in _SYSTEM_INFO:
        return None
    fields = _fields(text)
    record: dict[str, object]
    if kind == "platform.start":
        record = {"requestId": fields.get("RequestId", "").split(" ")[0], "version": text.rsplit("Version: ", 1)[-1]}
    elif kind == "platform.report":
        record = {"requestId": fields.get("RequestId", ""), "metrics": _metrics(text), "status": status}
    elif kind in ("platform.initStart", "platform.restoreStart"):
        record = {"runtimeVersion": fields.get("Runtime Version", ""),
                  "runtimeVersionArn": fields.get("Runtime Version ARN", "")}
        if kind == "platform.initStart":
            record = {"initializationType": "on-demand", "phase": "init", **record}
    else:
        failed = fields.get("Status") == "error"
        record = {"status": "error" if failed else "success",
                  "metrics": {"durationMs": next(iter(_metrics(text).values()), 0.0)}}
        if kind == "platform.initReport":
            record = {"initializationType": "on-demand", "phase": "init", **record}
        if failed:
            record["errorType"] = fields.get("Error Type", "")
    stamp = datetime.fromtimestamp(ts_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return json.dumps({"time": stamp, "type": kind, "record": record})


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
