"""Schedules: functions invoked on ``rate``, ``cron`` or ``at`` expressions (or a queue, state machine, topic or
event bus sent to: ``TEMPLATED_TARGETS``).

``Schedules`` keeps one document per schedule (EventBridge Scheduler's fields:
``ScheduleExpression``, ``ScheduleExpressionTimezone``, ``FlexibleTimeWindow``,
``Target`` with ``Arn`` and optional ``Input``, ``State``, ``StartDate``/``EndDate``).
``Scheduler`` fires them: one process at a time holds the ``scheduler`` lease in
the message store (so several servers on one store fire each schedule once), and
a fire is an asynchronous invocation committed to the durable queue before the
schedule's next time is recorded — a crash between the two fires again, never
loses a fire. Each fire carries an id (the schedule's name and the fire's time),
committed with the queue's deduplication: the same fire sent again within 5
minutes — by the next leader after a crash between the two, or by a leader that
stalled past its lease while its successor fired — commits nothing, so a fire
happens once, never zero times or twice.

Missed fires: while no server runs, nothing fires. At start-up a schedule whose
time passed fires once (the latest missed time), and then continues on its
expression; older missed fires are skipped — like an EventBridge rule that was
disabled in between, and so that a laptop waking up doesn't replay a day of
``rate(1 minute)``. A flexible window spreads each fire over a random delay of
up to ``MaximumWindowInMinutes``.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, List

from cumulo.errors import (
    CumuloError, ResourceConflictException, ResourceNotFoundException, ValidationException,
)
from cumulo.model import function as fn
from cumulo.model import json_limits
from cumulo.model.function import Arns
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, Functions, Kind, Send, Target, Targets
from cumulo.ports import now_ms as clock_ms
from cumulo.model import cron
from cumulo.store.ports import Leases, lease_owner
from cumulo.store.health import log_failure

__all__ = ["Schedules", "Scheduler", "scheduled_event"]

log = logging.getLogger("cumulo.schedules")

_KIND = "schedule"
# EventBridge Scheduler's templated targets besides functions: a queue (SendMessage, Input as the body), a state
# machine (StartExecution, Input as its input), a topic (Publish) and an event bus.
TEMPLATED_TARGETS = frozenset({Kind.QUEUE, Kind.STATE_MACHINE, Kind.TOPIC, Kind.BUS})
_NAME_RE = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")


def scheduled_event(arns: Arns, name: str, when: datetime) -> dict[str, Any]:
    """The document a scheduled invocation receives (EventBridge's ``Scheduled Event``)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": arns.account, "time": when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": arns.region, "resources": [f"arn:aws:scheduler:{arns.region}:{arns.account}:"
                                                f"schedule/default/{name}"], "detail": {}}


class Schedules:
    def __init__(self, store: Documents, functions: Functions, arns: Arns, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._functions, self._arns, self._clock = store, functions, arns, clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), timezone.utc)

    def create(self, name: str, expression: str, target_arn: str, *, timezone_name: str | None = None,
               input: str | None = None, state: str = "ENABLED", flexible_window_minutes: int | None = None,
               start_date: datetime | None = None, end_date: datetime | None = None,
               description: str = "", update: bool = False) -> dict[str, Any]:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValidationException("Schedule names are 1 to 64 letters, digits, '.', '-' or '_'.")
        existing = self._store.get_document(_KIND, name)
        if existing is not None and not update:
            raise ResourceConflictException(f"Schedule {name} already exists.")
        if existing is None and update:
            raise ResourceNotFoundException(f"Schedule {name} does not exist.")
        schedule = cron.parse(expression)
        tz = cron.zone(timezone_name)
        if state not in ("ENABLED", "DISABLED"):
            raise ValidationException("State must be ENABLED or DISABLED.")
        if isinstance(target_arn, str) and Target.parse(target_arn).kind in TEMPLATED_TARGETS:
            pass            # a templated target: sent to when it fires (a failure is logged, as AWS retries then drops)
        elif not (isinstance(target_arn, str) and target_arn.startswith("arn:aws:events:") and ":rule/" in target_arn):
            fname, qualifier = fn.parse_function_ref(target_arn)
            self._functions.get(fname, qualifier)
        if input is not None:
            if not isinstance(input, str) or len(input.encode()) > 256 * 1024:
                raise ValidationException("Input must be a JSON text of at most 256 KB.")
            try:
                if Target.parse(target_arn).kind not in (Kind.QUEUE, Kind.TOPIC):    # those take any text
                    json_limits.loads(input, "Input")
            except ValueError:
                raise ValidationException("Input must be valid JSON.") from None
        if flexible_window_minutes is not None and not 1 <= flexible_window_minutes <= 1440:
            raise ValidationException("MaximumWindowInMinutes must be between 1 and 1440.")
        now = self._now()
        first_from = max(now, start_date) if start_date else now
        nxt = schedule.next_after(first_from, tz)
        doc = {
            "Name": name, "Arn": f"arn:aws:scheduler:{self._arns.region}:{self._arns.account}:schedule/default/{name}",
            "ScheduleExpression": expression, "ScheduleExpressionTimezone": timezone_name or "UTC",
            "Target": {"Arn": target_arn, **({"Input": input} if input is not None else {})},
            "State": state, "Description": description,
            "FlexibleTimeWindow": ({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": flexible_window_minutes}
                                   if flexible_window_minutes else {"Mode": "OFF"}),
            "CreationDate": (existing or {}).get("CreationDate", now.isoformat()), "LastModificationDate": now.isoformat(),
            "StartDate": start_date.isoformat() if start_date else None,
            "EndDate": end_date.isoformat() if end_date else None,
            "next_ms": int(nxt.timestamp() * 1000) if nxt else None, "last_fire": (existing or {}).get("last_fire"),
        }
        self._store.put_document(_KIND, name, doc)
        return self._answer(doc)

    def get(self, name: str) -> dict[str, Any]:
        doc = self._store.get_document(_KIND, name)
        if doc is None:
            raise ResourceNotFoundException(f"Schedule {name} does not exist.")
        return self._answer(doc)

    def list(self) -> "List[dict[str, Any]]":
        return [self._answer(d) for d in self._store.list_documents(_KIND)]

    def delete(self, name: str) -> None:
        if not self._store.delete_document(_KIND, name):
            raise ResourceNotFoundException(f"Schedule {name} does not exist.")

    def set_state(self, name: str, enabled: bool) -> dict[str, Any]:
        doc = self._store.get_document(_KIND, name)
        if doc is None:
            raise ResourceNotFoundException(f"Schedule {name} does not exist.")
        doc["State"] = "ENABLED" if enabled else "DISABLED"
        if enabled and doc.get("next_ms") is not None and doc["next_ms"] < self._clock.now() * 1000:
            nxt = cron.parse(doc["ScheduleExpression"]).next_after(self._now(),
                                                                   cron.zone(doc["ScheduleExpressionTimezone"]))
            doc["next_ms"] = int(nxt.timestamp() * 1000) if nxt else None
        self._store.put_document(_KIND, name, doc)
        return self._answer(doc)

    def due(self, now_ms: int) -> "List[dict[str, Any]]":
        return [d for d in self._store.list_documents(_KIND)
                if d["State"] == "ENABLED" and d.get("next_ms") is not None and d["next_ms"] <= now_ms]

    def fired(self, doc: dict[str, Any], fired_at: datetime) -> None:
        """Record a fire; the next time comes from now (missed fires are not replayed)."""
        schedule = cron.parse(doc["ScheduleExpression"])
        tz = cron.zone(doc["ScheduleExpressionTimezone"])
        base = max(fired_at, self._now()) if not isinstance(schedule, cron.Rate) else fired_at
        nxt = schedule.next_after(base, tz)
        while nxt is not None and isinstance(schedule, cron.Rate) and nxt <= self._now():
            nxt = schedule.next_after(nxt, tz)       # a rate catches up to the present, firing once
        end = doc.get("EndDate")
        if nxt is not None and end and nxt > datetime.fromisoformat(end):
            nxt = None
        doc["next_ms"] = int(nxt.timestamp() * 1000) if nxt else None
        doc["last_fire"] = fired_at.isoformat()
        if nxt is None and isinstance(schedule, cron.At):
            doc["State"] = "DISABLED"
        self._store.put_document(_KIND, doc["Name"], doc)

    @staticmethod
    def _answer(doc: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if k not in ("next_ms", "last_fire") and v is not None}
        if doc.get("next_ms") is not None:
            out["NextInvocation"] = datetime.fromtimestamp(doc["next_ms"] / 1000, timezone.utc).isoformat()
        if doc.get("last_fire"):
            out["LastInvocation"] = doc["last_fire"]
        return out


class Scheduler:
    """Fires due schedules; one process per store at a time (a lease in the message store). A fire
    goes to its function through the target router, or to a scheduled rule's ``fire_rule``."""

    TICK_S = 0.25
    LEASE_MS = 10_000
    RENEW_S = 2.0

    def __init__(self, schedules: Schedules, store: Documents, leases: Leases, targets: Targets,
                 fire_rule: Callable[[str, dict[str, Any], str], None], arns: Arns,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._schedules, self._store, self._leases, self._targets = schedules, store, leases, targets
        self._fire_rule, self._arns, self._clock = fire_rule, arns, clock
        self._owner = lease_owner()
        self._leader = False
        self._renewed_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log_failure(log, "scheduler tick failed")
            self._stop.wait(self.TICK_S)

    def tick(self) -> None:
        """One look at the schedules (every TICK_S): fire those due by the clock, if this process leads."""
        now = clock_ms(self._clock)
        if self._leads(now):
            for doc in self._schedules.due(now):
                self.fire(doc)

    def _leads(self, now_ms: int) -> bool:
        """Whether this process is the scheduler: the lease is renewed at most every
        ``RENEW_S`` while held (it lasts ``LEASE_MS``), and asked for on every tick while not."""
        now = self._clock.monotonic()
        if not self._leader or now - self._renewed_at >= self.RENEW_S:
            self._leader = self._leases.take_lease("scheduler", self._owner, self.LEASE_MS, now_ms)
            self._renewed_at = now
        return self._leader

    def fire(self, doc: dict[str, Any]) -> None:
        when = datetime.fromtimestamp(doc["next_ms"] / 1000, timezone.utc)
        window = (doc.get("FlexibleTimeWindow") or {}).get("MaximumWindowInMinutes")
        if window and not doc.get("flex_delay_applied"):
            # spread the fire: postpone it once by a random part of the window
            doc["flex_delay_applied"] = True
            doc["next_ms"] += int(random.random() * window * 60_000)
            self._store.put_document(_KIND, doc["Name"], doc)
            return
        doc.pop("flex_delay_applied", None)
        target = doc["Target"]
        payload = target.get("Input")
        event = scheduled_event(self._arns, doc["Name"], when)
        fire_id = f"schedule:{doc['Name']}:{doc['next_ms']}"     # the same on every node that fires it
        try:
            if target["Arn"].startswith("arn:aws:events:") and ":rule/" in target["Arn"]:   # a scheduled rule
                event["resources"] = [target["Arn"]]
                self._fire_rule(target["Arn"], event, fire_id)
            else:
                body = payload if payload is not None else json.dumps(event)
                parsed = Target.parse(target["Arn"])
                if parsed.kind not in TEMPLATED_TARGETS:
                    parsed = Target.of(Kind.FUNCTION, target["Arn"])
                self._targets.send(parsed, Send(body, once_id=fire_id))
        except CumuloError as err:
            log.warning("schedule %s could not invoke %s: %s", doc["Name"], target["Arn"], err)
        self._schedules.fired(doc, when)
