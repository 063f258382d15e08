"""X-Ray traces as Lambda makes them (docs/traces.md): the trace header, sampling, and the
segments of one invocation, held in memory until the trace service writes them.

``TraceRecorder.begin`` decides what an invocation's ``_X_AMZN_TRACE_ID`` is. A function whose
``TracingConfig`` is ``Active`` continues the caller's trace (``Root`` and ``Sampled`` of the
``X-Amzn-Trace-Id`` it came with) or starts one, sampled by X-Ray's default rule (the first request
each second, then 5 %); ``Parent`` is the id of the function's segment, so what the X-Ray SDK sends
from inside attaches there. ``PassThrough`` passes a caller's header on and records nothing. After
the invocation, ``invocation`` turns its measured phases into the two segments Lambda reports: the
service's (origin ``AWS::Lambda``) and the function's (``AWS::Lambda::Function``, with its
``Initialization``, ``Invocation`` and ``Overhead`` subsegments).

A function that does not trace and is called without a header costs what it did before: one test
in ``Invoker._header``, then ``ids.trace_id()``.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["TraceHeader", "Trace", "Hop", "TraceRecorder", "Sampler", "parse_header", "new_root", "segment_id",
           "RESERVOIR_PER_S", "FIXED_RATE", "NO_TRACES"]

RESERVOIR_PER_S = 1        # X-Ray's default sampling rule: the first request each second …
FIXED_RATE = 0.05          # … then 5 % of the others
_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_ID = re.compile(r"[0-9a-f]{16}")
_PENDING_MAX = 100_000     # segments held for the store at most (beyond: dropped, as a full daemon drops)
_rng = random.Random(os.urandom(32))      # ids, not secrets (as ids.py's); reseeded in a forked child
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))


@dataclass(frozen=True)
class TraceHeader:
    """``X-Amzn-Trace-Id``: ``Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=0|1|?``."""

    root: str
    parent: str | None = None
    sampled: bool | None = None    # None: not decided ("?" or absent)

    def format(self) -> str:
        text = f"Root={self.root}"
        if self.parent:
            text += f";Parent={self.parent}"
        if self.sampled is not None:
            text += f";Sampled={1 if self.sampled else 0}"
        return text


def parse_header(text: str | None) -> TraceHeader | None:
    """The header's Root, Parent and Sampled, or None when it has no valid Root. Fields are
    ``key=value`` separated by ``;`` (spaces around them allowed); unknown keys (``Self``,
    ``Lineage``) are ignored, as is a Parent that is not 16 hex digits."""
    if not text or len(text) > 1024:
        return None
    fields: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    root = fields.get("Root", "")
    if not _ROOT.fullmatch(root):
        return None
    parent = fields.get("Parent")
    sampled = {"1": True, "0": False}.get(fields.get("Sampled", "?"))
    return TraceHeader(root, parent if parent and _ID.fullmatch(parent) else None, sampled)


def new_root(now: float) -> str:
    return f"1-{int(now):08x}-{_rng.getrandbits(96):024x}"


def segment_id() -> str:
    return f"{_rng.getrandbits(64):016x}"


class Sampler:
    """X-Ray's default rule: ``RESERVOIR_PER_S`` requests each second are traced, then
    ``FIXED_RATE`` of the rest (``draw``: a number in [0, 1))."""

    def __init__(self, now: Callable[[], float], draw: Callable[[], float] = _rng.random) -> None:
        self._now, self._draw = now, draw
        self._second, self._used = -1, 0
        self._lock = threading.Lock()

    def sample(self) -> bool:
        second = int(self._now())
        with self._lock:
            if second != self._second:
                self._second, self._used = second, 0
            if self._used < RESERVOIR_PER_S:
                self._used += 1
                return True
        return self._draw() < FIXED_RATE


@dataclass(frozen=True)
class Trace:
    """One invocation's place in a trace: the header the function sees, and the ids of the
    segments recorded for it (when ``sampled`` and traced)."""

    header: str
    root: str
    sampled: bool
    caller: str | None = None       # the caller's segment (the service segment's parent)
    service_id: str = ""            # the AWS::Lambda segment
    function_id: str = ""           # the AWS::Lambda::Function segment: the function's Parent
    active: bool = False


@dataclass(frozen=True)
class Hop:
    """A traced, sampled request through one of Cumulo's services that records a segment of its own
    (the gateway's stage, a state machine's execution): its trace, its segment's id and the
    caller's segment it hangs under."""

    root: str
    segment_id: str
    parent: str | None = None

    def header(self, parent: str) -> str:
        """The header a call made under the subsegment ``parent`` passes on."""
        return f"Root={self.root};Parent={parent};Sampled=1"


class TraceRecorder:
    """Sampling decisions and segments waiting for the store (``drain``)."""

    def __init__(self, now: Callable[[], float] = time.time, sampler: Sampler | None = None) -> None:
        self._now = now
        self._sampler = sampler or Sampler(now)
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.dropped = 0

    def begin(self, active: bool, incoming: str | None) -> Trace:
        """The trace an invocation runs in: ``active`` for ``TracingConfig: Active``; ``incoming``
        the caller's ``X-Amzn-Trace-Id`` (None: none)."""
        caller = parse_header(incoming)
        if not active:
            if caller is None:
                root = new_root(self._now())
                return Trace(f"Root={root};Parent={segment_id()};Sampled=0", root, False)
            passed = TraceHeader(caller.root, caller.parent or segment_id(), bool(caller.sampled))
            return Trace(passed.format(), caller.root, bool(caller.sampled))
        root = caller.root if caller is not None else new_root(self._now())
        sampled = caller.sampled if caller is not None and caller.sampled is not None else self._sampler.sample()
        function_id = segment_id()
        header = TraceHeader(root, function_id, sampled).format()
        return Trace(header, root, sampled, caller.parent if caller else None, segment_id(), function_id, True)

    def now(self) -> float:
        return self._now()

    def hop(self, enabled: bool, incoming: str | None) -> Hop | None:
        """Whether a request through a service that traces (``enabled``: an API stage's
        ``TracingEnabled``, a state machine's ``TracingConfiguration``) is recorded: a caller's
        ``Sampled`` decides, else X-Ray's default rule when ``enabled``; a service that does not
        trace records one only for a caller's ``Sampled=1``. None: nothing recorded (the caller's
        header goes on as it came)."""
        caller = parse_header(incoming)
        if caller is not None and caller.sampled is not None:
            sampled = caller.sampled
        elif enabled:
            sampled = self._sampler.sample()
        else:
            return None
        if not sampled:
            return None
        return Hop(caller.root if caller is not None else new_root(self._now()), segment_id(),
                   caller.parent if caller is not None else None)

    def call(self, incoming: str | None, service: str, operation: str, started: float,
             aws: dict[str, Any] | None = None, error: bool = False) -> str | None:
        """A sampled caller's call into ``service`` (SQS's SendMessage, EventBridge's PutEvents,
        SNS's Publish): the subsegment its AWS SDK records for it, under the caller's ``Parent``
        (namespace ``aws``, X-Ray's inferred node for the service), and the header the service
        passes on, whose ``Parent`` is that subsegment. An unsampled or absent header goes on
        as it came, and nothing is recorded."""
        caller = parse_header(incoming)
        if caller is None or not caller.sampled or caller.parent is None:
            return incoming
        sid = segment_id()
        doc: dict[str, Any] = {
            "type": "subsegment", "trace_id": caller.root, "parent_id": caller.parent, "id": sid, "name": service,
            "namespace": "aws", "start_time": started, "end_time": max(self._now(), started),
            "aws": {"operation": operation, **(aws or {})}}
        if error:
            doc["error"] = True
        self.add([doc])
        return f"Root={caller.root};Parent={sid};Sampled=1"

    def add(self, segments: list[dict[str, Any]]) -> None:
        with self._lock:
            room = _PENDING_MAX - len(self._pending)
            if room < len(segments):
                self.dropped += len(segments) - max(room, 0)
                segments = segments[:max(room, 0)]
            self._pending.extend(segments)

    def drain(self) -> list[dict[str, Any]]:
        with self._lock:
            out, self._pending = self._pending, []
        return out

    def invocation(self, trace: Trace, *, name: str, arn: str, account: str, request_id: str,
                   duration_ms: float, init_ms: float | None, overhead_ms: float = 0.0, error: str | None = None,
                   error_type: str | None = None, status: int = 200, restored: bool = False) -> None:
        """The service's and the function's segments of one invocation that ends now (the
        recorder's clock): the handler ran ``duration_ms``, after Init's ``init_ms`` on a cold start
        (``restored``: a restore from a snapshot, Lambda's ``Restore`` subsegment, SnapStart's), and
        the platform spent ``overhead_ms`` after it answered."""
        if not (trace.active and trace.sampled):
            return
        done = self._now()
        ended = done - overhead_ms / 1000.0
        invoked = ended - duration_ms / 1000.0
        started = invoked - (init_ms or 0.0) / 1000.0
        subsegments = []
        if init_ms is not None:
            subsegments.append({"id": segment_id(), "name": "Restore" if restored else "Initialization",
                                "start_time": started,
                                "end_time": invoked, "aws": {"function_arn": arn}})
        invocation: dict[str, Any] = {"id": segment_id(), "name": "Invocation", "start_time": invoked,
                                      "end_time": ended, "aws": {"function_arn": arn}}
        subsegments.append(invocation)
        subsegments.append({"id": segment_id(), "name": "Overhead", "start_time": ended, "end_time": done,
                            "aws": {"function_arn": arn}})
        function: dict[str, Any] = {
            "trace_id": trace.root, "id": trace.function_id, "parent_id": trace.service_id, "name": name,
            "origin": "AWS::Lambda::Function", "start_time": started, "end_time": done, "resource_arn": arn,
            "aws": {"account_id": account, "function_arn": arn, "resource_names": [name]},
            "subsegments": subsegments,
        }
        service: dict[str, Any] = {
            "trace_id": trace.root, "id": trace.service_id, "name": name, "origin": "AWS::Lambda",
            "start_time": started, "end_time": done, "resource_arn": arn,
            "aws": {"account_id": account, "request_id": request_id, "resource_names": [name]},
            "http": {"response": {"status": status}},
        }
        if trace.caller:
            service["parent_id"] = trace.caller
        if error is not None:      # the function failed: a fault of the function, as Lambda reports it
            cause = {"exceptions": [{"id": segment_id(), "type": error_type or error, "message": error}]}
            invocation.update(fault=True, cause=cause)
            function["fault"] = True
            service["error"] = True
        self.add([service, function])


NO_TRACES = TraceRecorder()
