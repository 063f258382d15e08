"""The event bus: buses, rules, targets, PutEvents, archives and replays (EventBridge's semantics).

Flow, every step durable before the next (the message store's internal queues):

    PutEvents ── match rules (RuleIndex per bus), one commit ──┬──► ~deliveries (one per matching target,
                                                               │                input rendered)
                                                               └──► ~archive/<name> (matching archives)
    another bus's target, a replay ──► ~events ──EventRouter──► the same routing
    ~deliveries ──DeliveryWorker──► the target router (``cumulo/targets.py``): function (async invoke) |
                     │               queue | another bus (``forward``) | API destination (HTTP) | state machine
                     └── failed: retried with backoff per the target's RetryPolicy while the failure is
                         ``retryable``, then its DLQ

PutEvents answers once the accepted entries are committed — already routed: the
deliveries and archive copies are written in the same transaction — and never waits
for targets. A crash between two steps repeats the step (at least once per target,
never lost). Events forwarded to another bus carry the buses they passed through,
and a bus never takes the same event twice (loop protection).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, List

from cumulo.errors import CumuloError, ResourceNotFoundException, ValidationException
from cumulo.events.index import RuleIndex
from cumulo.events.pattern import InvalidEventPatternException, Pattern, compile_pattern, flatten
from cumulo.events.transform import TargetInput, compile_target_input
from cumulo.model import json_limits
from cumulo.model.function import Arns
from cumulo.observe.metrics import NO_METRICS, MetricRecorder
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, RuleSchedules, Send, Target, Targets
from cumulo.ports import now_ms as clock_ms
from cumulo.model import cron
from cumulo.store.ports import NewMessage, QueueMessages, StoredMessage, Wakeups
from cumulo.workers import QueueWorkers
from cumulo.store.health import log_failure

__all__ = ["EventBusService", "EventRouter", "DeliveryWorker", "ResourceAlreadyExistsException",
           "LimitExceededException", "EVENTS_QUEUE", "DELIVERIES_QUEUE"]

log = logging.getLogger("cumulo.events")

EVENTS_QUEUE = "~events"
DELIVERIES_QUEUE = "~deliveries"
ARCHIVE_PREFIX = "~archive/"
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
MAX_TARGETS = 5
RETRY_ATTEMPTS_DEFAULT = 185
EVENT_AGE_DEFAULT_S = 86_400
_BUS_NAME_RE = re.compile(r"^[/\.\-_A-Za-z0-9]{1,256}$")
_RULE_NAME_RE = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
_TARGET_ID_RE = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
_ARCHIVE_NAME_RE = re.compile(r"^[\.\-_A-Za-z0-9]{1,48}$")
_FAR_FUTURE_MS = 2 ** 62

_Inputs = dict[tuple[str, str], TargetInput | CumuloError]   # (rule ARN, target Id) -> compiled input


class ResourceAlreadyExistsException(CumuloError):
    status = 400


class LimitExceededException(CumuloError):
    status = 400


class InvalidStateException(CumuloError):
    status = 400


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: Any, what: str) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ValidationException(f"{what} must be a timestamp.")


class EventBusService:
    """``schedules`` keeps scheduled rules' schedules; ``api_destination`` describes an API
    destination (raising when there is none), for PutTargets."""

    def __init__(self, store: Documents, messages: QueueMessages, arns: Arns, schedules: RuleSchedules,
                 api_destination: Callable[[str], Any], clock: Clock = SYSTEM_CLOCK,
                 metrics: MetricRecorder = NO_METRICS) -> None:
        self._store, self._messages, self._arns, self._clock = store, messages, arns, clock
        self._metrics = metrics     # AWS/Events: MatchedEvents per rule
        self._schedules, self._api_destination = schedules, api_destination
        self._indexes: dict[str, tuple[str, RuleIndex, dict[str, dict[str, Any]], _Inputs]] = {}
        self._archives: dict[str, tuple[int, list[tuple[str, Pattern | None]]]] = {}
        self._index_lock = threading.Lock()
        self._checked: dict[str, tuple[int, float, int]] = {}
        self._rules_written = 0   # this process's own rule writes: they reach the index at once

    # -- names ----------------------------------------------------------------
    def bus_arn(self, name: str) -> str:
        return f"arn:aws:events:{self._arns.region}:{self._arns.account}:event-bus/{name}"

    def rule_arn(self, bus: str, name: str) -> str:
        middle = "" if bus == "default" else f"{bus}/"
        return f"arn:aws:events:{self._arns.region}:{self._arns.account}:rule/{middle}{name}"

    def _bus_name(self, ref: Any) -> str:
        if ref in (None, ""):
            return "default"
        if not isinstance(ref, str):
            raise ValidationException("EventBusName must be a string.")
        name = ref.split(":event-bus/", 1)[1] if ref.startswith("arn:") and ":event-bus/" in ref else ref
        if not _BUS_NAME_RE.match(name):
            raise ValidationException(f"1 validation error detected: Value '{ref}' at 'eventBusName' failed to satisfy "
                                      "constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+")
        return name

    def _bus(self, ref: Any) -> dict[str, Any]:
        name = self._bus_name(ref)
        if name == "default":
            return {"Name": "default", "Arn": self.bus_arn("default")}
        doc = self._store.get_document("event-bus", name)
        if doc is None:
            raise ResourceNotFoundException(f"Event bus {name} does not exist.")
        return doc

    # -- buses ----------------------------------------------------------------
    def create_event_bus(self, name: str, description: str | None = None, tags: Any = None) -> dict[str, Any]:
        if not isinstance(name, str) or not _BUS_NAME_RE.match(name) or name.startswith("aws."):
            raise ValidationException("Event bus names are 1-256 characters of letters, digits and . - _ /, and do "
                                      "not start with 'aws.'.")
        if name == "default" or self._store.get_document("event-bus", name) is not None:
            raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
        now = self._clock.now()
        doc = {"Name": name, "Arn": self.bus_arn(name), "CreationTime": now, "LastModifiedTime": now}
        if description:
            doc["Description"] = description
        self._store.put_document("event-bus", name, doc)
        return {"EventBusArn": doc["Arn"], **({"Description": description} if description else {})}

    def describe_event_bus(self, name: Any = None) -> dict[str, Any]:
        return dict(self._bus(name))

    def list_event_buses(self, prefix: str | None = None) -> list[dict[str, Any]]:
        buses = [{"Name": "default", "Arn": self.bus_arn("default")}] + self._store.list_documents("event-bus")
        return [b for b in buses if b["Name"].startswith(prefix or "")]

    def delete_event_bus(self, name: str) -> None:
        bus = self._bus_name(name)
        if bus == "default":
            raise ValidationException("Cannot delete event bus default.")
        if any(r["EventBusName"] == bus for r in self._rules()):
            raise ValidationException(f"Cannot delete event bus {bus} because it has rules.")
        self._store.delete_document("event-bus", bus)

    # -- rules ----------------------------------------------------------------
    def _rules(self) -> "List[dict[str, Any]]":
        return self._store.list_documents("event-rule")

    def _rule(self, name: Any, bus: Any) -> dict[str, Any]:
        bus_name = self._bus(bus)["Name"]
        doc = self._store.get_document("event-rule", f"{bus_name}|{name}") if isinstance(name, str) else None
        if doc is None:
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus_name}.")
        return doc

    def put_rule(self, name: str, event_bus: Any = None, event_pattern: Any = None, schedule_expression: Any = None,
                 state: str | None = None, description: str | None = None, role_arn: str | None = None) -> str:
        if not isinstance(name, str) or not _RULE_NAME_RE.match(name):
            raise ValidationException(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                                      "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+")
        bus = self._bus(event_bus)["Name"]
        if not event_pattern and not schedule_expression:
            raise ValidationException("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        pattern_text = None
        if event_pattern:
            if not isinstance(event_pattern, str):
                event_pattern = json.dumps(event_pattern)
            compile_pattern(event_pattern)                  # InvalidEventPatternException, with AWS's reason
            pattern_text = event_pattern
        if schedule_expression:
            if bus != "default":
                raise ValidationException("ScheduleExpression is supported only on the default event bus.")
            cron.parse(schedule_expression)
        if state not in (None, "ENABLED", "DISABLED"):
            raise ValidationException("State must be ENABLED or DISABLED.")
        current = self._store.get_document("event-rule", f"{bus}|{name}") or {}
        doc = {**current, "Name": name, "Arn": self.rule_arn(bus, name), "EventBusName": bus,
               "State": state or current.get("State", "ENABLED"), "Targets": current.get("Targets", [])}
        for key, value in (("EventPattern", pattern_text), ("ScheduleExpression", schedule_expression),
                           ("Description", description), ("RoleArn", role_arn)):
            if value:
                doc[key] = value
            else:
                doc.pop(key, None)
        self._store.put_document("event-rule", f"{bus}|{name}", doc)
        self._rules_written += 1
        self._sync_rule_schedule(doc)
        return doc["Arn"]

    def _sync_rule_schedule(self, doc: dict[str, Any]) -> None:
        schedules = self._schedules
        schedule_name = f"rule.{doc['Name']}"[:64]
        exists = self._store.get_document("schedule", schedule_name) is not None
        if doc.get("ScheduleExpression"):
            schedules.create(schedule_name, doc["ScheduleExpression"], doc["Arn"],
                             state="ENABLED" if doc["State"] == "ENABLED" else "DISABLED", update=exists)
        elif exists:
            schedules.delete(schedule_name)

    def describe_rule(self, name: str, event_bus: Any = None) -> dict[str, Any]:
        doc = self._rule(name, event_bus)
        return {k: v for k, v in doc.items() if k != "Targets"}

    def list_rules(self, prefix: str | None = None, event_bus: Any = None) -> list[dict[str, Any]]:
        bus = self._bus(event_bus)["Name"]
        return sorted(({k: v for k, v in r.items() if k != "Targets"} for r in self._rules()
                       if r["EventBusName"] == bus and r["Name"].startswith(prefix or "")), key=lambda r: r["Name"])

    def set_rule_state(self, name: str, event_bus: Any, enabled: bool) -> None:
        doc = self._rule(name, event_bus)
        doc["State"] = "ENABLED" if enabled else "DISABLED"
        self._store.put_document("event-rule", f"{doc['EventBusName']}|{name}", doc)
        self._rules_written += 1
        self._sync_rule_schedule(doc)

    def delete_rule(self, name: str, event_bus: Any = None, force: bool = False) -> None:
        try:
            doc = self._rule(name, event_bus)
        except ResourceNotFoundException:
            return                                          # AWS: deleting a missing rule succeeds
        if doc["Targets"] and not force:
            raise ValidationException("Rule can't be deleted since it has targets.")
        self._store.delete_document("event-rule", f"{doc['EventBusName']}|{name}")
        self._rules_written += 1
        doc.pop("ScheduleExpression", None)
        self._sync_rule_schedule(doc)

    def put_targets(self, rule: str, event_bus: Any, targets: Any) -> dict[str, Any]:
        doc = self._rule(rule, event_bus)
        if not isinstance(targets, list) or not targets:
            raise ValidationException("Targets must be a non-empty list.")
        current = {t["Id"]: t for t in doc["Targets"]}
        failed = []
        for target in targets:
            target_id = target.get("Id") if isinstance(target, dict) else None
            try:
                if not isinstance(target_id, str) or not _TARGET_ID_RE.match(target_id):
                    raise ValidationException("Target Id must be 1-64 letters, digits, '.', '-' or '_'.")
                current[target_id] = self._check_target(target)
            except CumuloError as err:
                failed.append({"TargetId": str(target_id), "ErrorCode": err.type, "ErrorMessage": err.message})
        if len(current) > MAX_TARGETS:
            raise LimitExceededException(f"The requested resource exceeds the maximum number allowed "
                                         f"({MAX_TARGETS} targets per rule).")
        doc["Targets"] = list(current.values())
        self._store.put_document("event-rule", f"{doc['EventBusName']}|{rule}", doc)
        self._rules_written += 1
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def _check_target(self, target: dict[str, Any]) -> dict[str, Any]:
        arn = target.get("Arn")
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise ValidationException("Target Arn is required and must be an ARN.")
        if Target.parse(arn).kind is None:      # what the target router delivers to (targets.py)
            raise ValidationException(f"Target {arn} is not supported: Cumulo delivers to functions, queues, "
                                      "event buses, API destinations, state machines and topics.")
        compile_target_input(target)
        retry = target.get("RetryPolicy") or {}
        if retry:
            attempts = retry.get("MaximumRetryAttempts", RETRY_ATTEMPTS_DEFAULT)
            age = retry.get("MaximumEventAgeInSeconds", EVENT_AGE_DEFAULT_S)
            if not isinstance(attempts, int) or not 0 <= attempts <= 185:
                raise ValidationException("RetryPolicy.MaximumRetryAttempts must be between 0 and 185.")
            if not isinstance(age, int) or not 60 <= age <= 86_400:
                raise ValidationException("RetryPolicy.MaximumEventAgeInSeconds must be between 60 and 86400.")
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq and ":sqs:" not in dlq:
            raise ValidationException("DeadLetterConfig.Arn must be an SQS queue ARN.")
        if ":api-destination/" in arn:
            self._api_destination(arn)
        keep = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig",
                "SqsParameters", "HttpParameters", "RoleArn")
        return {k: target[k] for k in keep if target.get(k) is not None}

    def remove_targets(self, rule: str, event_bus: Any, ids: list[str]) -> dict[str, Any]:
        doc = self._rule(rule, event_bus)
        known = {t["Id"] for t in doc["Targets"]}
        failed = [{"TargetId": i, "ErrorCode": "ResourceNotFoundException",
                   "ErrorMessage": f"Target {i} does not exist on rule {rule}."} for i in ids if i not in known]
        doc["Targets"] = [t for t in doc["Targets"] if t["Id"] not in set(ids)]
        self._store.put_document("event-rule", f"{doc['EventBusName']}|{rule}", doc)
        self._rules_written += 1
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, rule: str, event_bus: Any = None) -> list[dict[str, Any]]:
        return list(self._rule(rule, event_bus)["Targets"])

    def list_rule_names_by_target(self, target_arn: str, event_bus: Any = None) -> list[str]:
        bus = self._bus(event_bus)["Name"]
        return sorted(r["Name"] for r in self._rules() if r["EventBusName"] == bus
                      and any(t["Arn"] == target_arn for t in r["Targets"]))

    @staticmethod
    def test_event_pattern(pattern: Any, event: Any) -> bool:
        compiled = compile_pattern(pattern if isinstance(pattern, str) else json.dumps(pattern))
        try:
            doc = json_limits.loads(event, "Event") if isinstance(event, str) else json_limits.check(event)
        except ValueError:
            raise ValidationException("Parameter Event is not valid.") from None
        if not isinstance(doc, dict) or not all(k in doc for k in ("id", "account", "source", "time", "region",
                                                                    "detail-type")):
            raise ValidationException("Parameter Event is not valid.")
        return compiled.matches(doc)

    # -- events ---------------------------------------------------------------
    def put_events(self, entries: Any, trace_header: str | None = None) -> dict[str, Any]:
        """``trace_header``: the caller's ``X-Amzn-Trace-Id``, which goes on to the targets (docs/traces.md)."""
        if not isinstance(entries, list) or not entries:
            raise ValidationException("1 validation error detected: Value at 'entries' failed to satisfy "
                                      "constraint: Member must have length greater than or equal to 1")
        if len(entries) > MAX_ENTRIES:
            raise ValidationException(f"1 validation error detected: Value '[...]' at 'entries' failed to satisfy "
                                      f"constraint: Member must have length less than or equal to {MAX_ENTRIES}")
        total = sum(_entry_size(e) for e in entries if isinstance(e, dict))
        if total > MAX_REQUEST_BYTES:
            raise ValidationException(f"Total size of the entries in the request is over the limit "
                                      f"({total} > {MAX_REQUEST_BYTES} bytes).")
        results: list[dict[str, Any]] = []
        accepted: list[tuple[str, dict[str, Any]]] = []
        for entry in entries:
            try:
                bus, event = self._envelope(entry)
            except _EntryError as err:
                results.append({"ErrorCode": err.code, "ErrorMessage": err.message})
                continue
            results.append({"EventId": event["id"]})
            accepted.append((bus, event))
        if accepted:
            # Routed here, in the same transaction that accepts them: one commit per request holds
            # every target's delivery and every archive copy (an event no rule matches costs nothing).
            now = clock_ms(self._clock)
            batches: dict[str, list[NewMessage]] = {}
            for bus, event in accepted:
                self.route_event(event, bus, [bus], None, False, now, batches, trace_header)
            self._messages.send_many(batches, now)
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}

    def route_event(self, event: dict[str, Any], bus: str, hops: list[str], only_rules: list[str] | None,
                    replayed: bool, now_ms: int, batches: dict[str, list[NewMessage]],
                    trace_header: str | None = None) -> None:
        """Add to ``batches`` the deliveries (per matching rule target) and archive copies of one event."""
        index, rules, inputs = self.index(bus)
        flat = flatten(event)
        matched = index.match_flat(flat)
        if only_rules:
            matched &= set(only_rules)
        for arn in sorted(matched):
            if self._metrics.enabled:
                self._metrics.add("AWS/Events", "MatchedEvents", rule_dimensions(arn), 1.0, "Count")
            batches.setdefault(DELIVERIES_QUEUE, []).extend(self.deliveries_for(event, rules[arn], hops, now_ms,
                                                                                inputs, trace_header))
        if not replayed:
            body = None
            for name, pattern in self.archives_for(bus):
                if pattern is None or pattern.matches_flat(flat):
                    body = body or json.dumps(event).encode()
                    batches.setdefault(ARCHIVE_PREFIX + name, []).append(
                        NewMessage(event["id"], body, None, None, None, _FAR_FUTURE_MS - now_ms))

    def _envelope(self, entry: Any) -> tuple[str, dict[str, Any]]:
        if not isinstance(entry, dict):
            raise _EntryError("InvalidArgument", "Each entry must be an object.")
        missing = [k for k in ("Source", "DetailType", "Detail") if not entry.get(k)]
        if missing:
            raise _EntryError("InvalidArgument", f"Parameter(s) {', '.join(missing)} must be specified.")
        try:
            bus = self._bus(entry.get("EventBusName"))["Name"]
        except ResourceNotFoundException as err:
            raise _EntryError("ResourceNotFoundException", err.message) from None
        except ValidationException as err:
            raise _EntryError("InvalidArgument", err.message) from None
        try:
            detail = json_limits.loads(entry["Detail"], "Detail") if isinstance(entry["Detail"], str) else None
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            raise _EntryError("MalformedDetail", "Detail is malformed.")
        if _entry_size(entry) > MAX_REQUEST_BYTES:
            raise _EntryError("InvalidArgument", "Entry size exceeds 256 KB.")
        resources = entry.get("Resources") or []
        if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
            raise _EntryError("InvalidArgument", "Resources must be a list of strings.")
        when = entry.get("Time")
        try:
            stamp = _epoch(when, "Time") if when is not None else self._clock.now()
        except ValidationException as err:
            raise _EntryError("InvalidArgument", err.message) from None
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": str(entry["DetailType"]),
                 "source": str(entry["Source"]), "account": self._arns.account, "time": _iso(stamp * 1000),
                 "region": self._arns.region, "resources": resources, "detail": detail}
        return bus, event

    # -- routing --------------------------------------------------------------
    def index(self, bus: str) -> tuple[RuleIndex, dict[str, dict[str, Any]], _Inputs]:
        """The enabled rules of ``bus`` with event patterns, indexed, and their targets' compiled
        inputs; rebuilt when they change."""
        with self._index_lock:
            generation, written = self._store.generation, self._rules_written   # before the rules are read
            checked = self._checked.get(bus)
            cached = self._indexes.get(bus)
            # (the 0.2 s grace is a cache's, on the machine's clock: a test's clock that stands still
            # must not keep a rule unseen; it spares a rebuild at every other write, an archive's, and
            # bounds how long another node's rule change goes unseen. This process's own rule writes
            # are seen at once: an event put right after PutTargets meets its targets.)
            if cached is not None and checked is not None and checked[2] == written and (
                    checked[0] == generation or time.monotonic() - checked[1] < 0.2):
                return cached[1], cached[2], cached[3]
            rules = {r["Arn"]: r for r in self._rules() if r["EventBusName"] == bus and r["State"] == "ENABLED"
                     and r.get("EventPattern")}
            signature = json.dumps(sorted((a, r["EventPattern"], r["Targets"]) for a, r in rules.items()),
                                   sort_keys=True)
            self._checked[bus] = (generation, time.monotonic(), written)
            if cached is not None and cached[0] == signature:
                self._indexes[bus] = (signature, cached[1], rules, cached[3])
                return cached[1], rules, cached[3]
            index = RuleIndex()
            for arn, rule in rules.items():
                try:
                    index.add(arn, compile_pattern(rule["EventPattern"]))
                except InvalidEventPatternException:
                    log.warning("rule %s has a pattern this build refuses; skipped", arn)
            inputs = {(arn, t["Id"]): _compiled_input(t) for arn, rule in rules.items() for t in rule["Targets"]}
            self._indexes[bus] = (signature, index, rules, inputs)
            return index, rules, inputs

    def deliveries_for(self, event: dict[str, Any], rule: dict[str, Any], hops: list[str],
                       now_ms: int, inputs: _Inputs | None = None, trace_header: str | None = None) -> list[NewMessage]:
        """One delivery per target of ``rule``; ``inputs`` are ``index()``'s (without, compiled here)."""
        out = []
        for target in rule["Targets"]:
            compiled = _compiled_input(target) if inputs is None else inputs[(rule["Arn"], target["Id"])]
            payload = _render(compiled, event, rule, now_ms)
            if isinstance(payload, CumuloError):
                log.warning("rule %s target %s: input could not be rendered: %s", rule["Arn"], target["Id"],
                            payload)
                continue
            meta = {"rule": rule["Arn"], "target": target, "at": now_ms, "n": 0, "event_id": event["id"],
                    "hops": hops}
            if trace_header:
                meta["xt"] = trace_header
            out.append(NewMessage(str(uuid.uuid4()), payload.encode(), None, meta, None, 0, 60_000))
        return out

    def fire_rule(self, rule_arn: str, event: dict[str, Any], fire_id: str | None = None) -> None:
        """A scheduled rule's fire: its targets get the Scheduled Event. ``fire_id`` names the fire:
        a second fire of the same id within the queue's deduplication window delivers nothing."""
        for rule in self._rules():
            if rule["Arn"] == rule_arn and rule["State"] == "ENABLED":
                deliveries = self.deliveries_for(event, rule, ["default"], clock_ms(self._clock))
                if fire_id is not None:
                    deliveries = [replace(d, dedup_id=f"{fire_id}:{(d.sys or {})['target']['Id']}")
                                  for d in deliveries]
                if deliveries:
                    self._messages.send(DELIVERIES_QUEUE, deliveries, clock_ms(self._clock))

    def forward(self, bus_ref: str, event: str, hops: tuple[str, ...], event_id: str) -> None:
        """An event a rule of another bus sends to this one (a bus target): routed here next, unless it
        already passed through this bus (a loop)."""
        bus = self._bus(bus_ref)["Name"]
        if bus in hops:
            log.warning("event %s already passed through bus %s: not sent again (loop)", event_id, bus)
            return
        try:
            json.loads(event)
        except ValueError:
            raise ValidationException("An event bus target needs the event as its input.") from None
        forwarded = NewMessage(str(uuid.uuid4()), event.encode(), None, {"bus": bus, "hops": list(hops) + [bus]})
        self._messages.send(EVENTS_QUEUE, [forwarded], clock_ms(self._clock))

    # -- archives and replays --------------------------------------------------------
    def create_archive(self, name: str, source_arn: str, event_pattern: Any = None, retention_days: int | None = None,
                       description: str | None = None) -> dict[str, Any]:
        if not isinstance(name, str) or not _ARCHIVE_NAME_RE.match(name):
            raise ValidationException("Archive names are 1-48 letters, digits, '.', '-' or '_'.")
        if self._store.get_document("event-archive", name) is not None:
            raise ResourceAlreadyExistsException(f"Archive {name} already exists.")
        bus = self._bus(source_arn)["Name"]
        if event_pattern:
            event_pattern = event_pattern if isinstance(event_pattern, str) else json.dumps(event_pattern)
            compile_pattern(event_pattern)
        days = 0 if retention_days is None else retention_days
        if not isinstance(days, int) or days < 0:
            raise ValidationException("RetentionDays must be 0 (forever) or more.")
        now = self._clock.now()
        doc = {"ArchiveName": name, "ArchiveArn": f"arn:aws:events:{self._arns.region}:{self._arns.account}:"
                                                  f"archive/{name}", "EventSourceArn": self.bus_arn(bus),
               "State": "ENABLED", "RetentionDays": days, "CreationTime": now, "bus": bus}
        if event_pattern:
            doc["EventPattern"] = event_pattern
        if description:
            doc["Description"] = description
        self._store.put_document("event-archive", name, doc)
        return {"ArchiveArn": doc["ArchiveArn"], "State": "ENABLED", "CreationTime": now}

    def _archive(self, name: Any) -> dict[str, Any]:
        doc = self._store.get_document("event-archive", name) if isinstance(name, str) else None
        if doc is None:
            raise ResourceNotFoundException(f"Archive {name} does not exist.")
        return doc

    def describe_archive(self, name: str) -> dict[str, Any]:
        return self._describe(self._archive(name))

    def _describe(self, doc: dict[str, Any]) -> dict[str, Any]:
        count, size = self._messages.queue_stats(ARCHIVE_PREFIX + doc["ArchiveName"])
        return {**{k: v for k, v in doc.items() if k != "bus"}, "EventCount": count, "SizeBytes": size}

    def list_archives(self, prefix: str | None = None) -> list[dict[str, Any]]:
        return [self._describe(d) for d in self._store.list_documents("event-archive")
                if d["ArchiveName"].startswith(prefix or "")]

    def delete_archive(self, name: str) -> None:
        self._archive(name)
        self._store.delete_document("event-archive", name)
        self._messages.purge(ARCHIVE_PREFIX + name)

    def sweep_archives(self) -> int:
        """Remove archived events past their archive's retention (the housekeeper's sweep)."""
        archives = {ARCHIVE_PREFIX + d["ArchiveName"]: d["RetentionDays"] * 86_400_000
                    for d in self._store.list_documents("event-archive") if d.get("RetentionDays")}
        return self._messages.sweep(clock_ms(self._clock), archives) if archives else 0

    def archives_for(self, bus: str) -> list[tuple[str, Pattern | None]]:
        """The enabled archives of ``bus`` and their compiled patterns, re-read whenever the store's
        generation has changed (every archive write bumps it; unlike ``index()``, with no 0.2 s
        grace, so an archive takes the very next event, as when this read the store per event)."""
        with self._index_lock:
            generation = self._store.generation
            cached = self._archives.get(bus)
            if cached is not None and cached[0] == generation:
                return cached[1]
            out = []
            for doc in self._store.list_documents("event-archive"):
                if doc["bus"] == bus and doc["State"] == "ENABLED":
                    out.append((doc["ArchiveName"], compile_pattern(doc["EventPattern"]) if doc.get("EventPattern")
                                else None))
            self._archives[bus] = (generation, out)
            return out

    def start_replay(self, name: str, source_arn: str, start: Any, end: Any, destination: Any,
                     description: str | None = None) -> dict[str, Any]:
        if not isinstance(name, str) or not _RULE_NAME_RE.match(name):
            raise ValidationException("Replay names are 1-64 letters, digits, '.', '-' or '_'.")
        if self._store.get_document("event-replay", name) is not None:
            raise ResourceAlreadyExistsException(f"Replay {name} already exists.")
        if not isinstance(source_arn, str) or ":archive/" not in source_arn:
            raise ValidationException("EventSourceArn must be an archive ARN.")
        archive = self._archive(source_arn.rsplit("/", 1)[1])
        begin, finish = _epoch(start, "EventStartTime"), _epoch(end, "EventEndTime")
        if begin >= finish:
            raise ValidationException("EventStartTime must be before EventEndTime.")
        if finish > self._clock.now() + 1:
            raise ValidationException("EventEndTime cannot be in the future.")
        dest = destination if isinstance(destination, dict) else {}
        bus = self._bus(dest.get("Arn"))["Name"]
        if bus != archive["bus"]:
            raise ValidationException("A replay's destination must be the archive's event bus.")
        filters = dest.get("FilterArns") or []
        now = self._clock.now()
        doc = {"ReplayName": name, "ReplayArn": f"arn:aws:events:{self._arns.region}:{self._arns.account}:"
                                                f"replay/{name}", "EventSourceArn": source_arn,
               "Destination": {"Arn": self.bus_arn(bus), **({"FilterArns": filters} if filters else {})},
               "EventStartTime": begin, "EventEndTime": finish, "State": "STARTING", "ReplayStartTime": now}
        if description:
            doc["Description"] = description
        self._store.put_document("event-replay", name, doc)
        return {"ReplayArn": doc["ReplayArn"], "State": "STARTING", "ReplayStartTime": now}

    def describe_replay(self, name: str) -> dict[str, Any]:
        doc = self._store.get_document("event-replay", name) if isinstance(name, str) else None
        if doc is None:
            raise ResourceNotFoundException(f"Replay {name} does not exist.")
        return doc

    def list_replays(self) -> list[dict[str, Any]]:
        return self._store.list_documents("event-replay")

    def cancel_replay(self, name: str) -> dict[str, Any]:
        doc = self.describe_replay(name)
        if doc["State"] not in ("STARTING", "RUNNING"):
            raise InvalidStateException(f"Replay {name} is {doc['State']} and cannot be cancelled.")
        doc["State"] = "CANCELLING"
        self._store.put_document("event-replay", name, doc)
        return {"ReplayArn": doc["ReplayArn"], "State": "CANCELLING"}

    def run_replay(self, doc: dict[str, Any]) -> None:
        """Send the archived events of the replay's time range to its bus (replayed events carry
        ``replay-name``, go only to ``FilterArns`` rules if given, and are not archived again)."""
        name = doc["ReplayName"]
        doc["State"] = "RUNNING"
        self._store.put_document("event-replay", name, doc)
        archive = doc["EventSourceArn"].rsplit("/", 1)[1]
        bus = doc["Destination"]["Arn"].rsplit("/", 1)[1]
        filters = doc["Destination"].get("FilterArns")
        last = None
        batch: list[NewMessage] = []
        for body in self._messages.scan(ARCHIVE_PREFIX + archive):
            event = json.loads(body)
            stamp = _epoch(event["time"], "time")
            if not doc["EventStartTime"] <= stamp < doc["EventEndTime"]:
                continue
            current = self._store.get_document("event-replay", name) or {}
            if current.get("State") == "CANCELLING":
                doc.update(State="CANCELLED", ReplayEndTime=self._clock.now())
                self._store.put_document("event-replay", name, doc)
                return
            event["replay-name"] = name
            meta: dict[str, Any] = {"bus": bus, "hops": [bus], "replay": name}
            if filters:
                meta["rules"] = filters
            batch.append(NewMessage(str(uuid.uuid4()), json.dumps(event).encode(), None, meta))
            last = stamp
            if len(batch) >= 100:
                self._messages.send(EVENTS_QUEUE, batch, clock_ms(self._clock))
                batch = []
        if batch:
            self._messages.send(EVENTS_QUEUE, batch, clock_ms(self._clock))
        doc.update(State="COMPLETED", ReplayEndTime=self._clock.now())
        if last is not None:
            doc["EventLastReplayedTime"] = last
        self._store.put_document("event-replay", name, doc)


def _compiled_input(target: dict[str, Any]) -> TargetInput | CumuloError:
    """The target's compiled input, or the error compiling it raised."""
    try:
        return compile_target_input(target)
    except CumuloError as err:
        return err


def _render(compiled: TargetInput | CumuloError, event: dict[str, Any], rule: dict[str, Any],
            now_ms: int) -> str | CumuloError:
    """The target's payload for ``event``, or why it cannot be rendered."""
    if isinstance(compiled, CumuloError):
        return compiled
    try:
        return compiled.render(event, rule_name=rule["Name"], rule_arn=rule["Arn"], ingestion_time=_iso(now_ms))
    except CumuloError as err:
        return err


class _EntryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _entry_size(entry: dict[str, Any]) -> int:
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode())
    for resource in entry.get("Resources") or []:
        if isinstance(resource, str):
            size += len(resource.encode())
    return size


class EventRouter:
    """Moves committed events to archives and per-target deliveries; runs replays."""

    def __init__(self, messages: QueueMessages, wakeups: Wakeups, bus: EventBusService,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._messages, self._wakeups, self._bus, self._clock = messages, wakeups, bus, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-events-router", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        store = self._messages
        while not self._stop.is_set():
            try:
                self._replays()
                found = store.receive(EVENTS_QUEUE, 50, 30_000, clock_ms(self._clock))
                if not found:
                    self._wakeups.wait(EVENTS_QUEUE, 0.5)
                    continue
                self.route(found)
            except Exception:
                log_failure(log, "event router failed; events will be retried")
                self._stop.wait(0.5)

    def route(self, events: list[StoredMessage]) -> None:
        """Events that arrived through ``~events`` (forwarded from another bus, or replayed)."""
        now = clock_ms(self._clock)
        batches: dict[str, list[NewMessage]] = {}
        for m in events:
            meta = m.sys or {}
            bus = meta.get("bus", "default")
            self._bus.route_event(json.loads(m.body), bus, meta.get("hops", [bus]), meta.get("rules"),
                                  bool(meta.get("replay")), now, batches)
        self._messages.send_many(batches, now)
        self._messages.delete(EVENTS_QUEUE, [(m.seq, m.receipt.partition("-")[2]) for m in events])

    def _replays(self) -> None:
        for doc in self._bus.list_replays():
            if doc["State"] == "STARTING":
                self._bus.run_replay(doc)


def rule_dimensions(rule_arn: str) -> tuple[tuple[str, str], ...]:
    """AWS/Events' dimensions of a rule: ``RuleName``, and ``EventBusName`` for a bus not the default."""
    path = rule_arn.partition(":rule/")[2]
    bus, _, name = path.rpartition("/")
    return (("EventBusName", bus), ("RuleName", name)) if bus and bus != "default" else (("RuleName", name),)


class DeliveryWorker:
    """Delivers to targets through the target router, with the target's retry policy (from
    ``retry_base_s``, doubling up to 60 s, while the failure is ``retryable``) and dead-letter queue."""

    def __init__(self, messages: QueueMessages, wakeups: Wakeups, targets: Targets, retry_base_s: float,
                 clock: Clock = SYSTEM_CLOCK, workers: int = 8, metrics: MetricRecorder = NO_METRICS) -> None:
        self._messages, self._targets, self._retry_base_s, self._clock = messages, targets, retry_base_s, clock
        self._metrics = metrics     # AWS/Events: Invocations and FailedInvocations per rule
        self._workers = QueueWorkers(messages, wakeups, DELIVERIES_QUEUE, workers, 60_000, self.deliver,
                                     "cumulo-deliver", clock)

    def start(self) -> None:
        self._workers.start()

    def stop(self) -> None:
        self._workers.stop()

    def deliver(self, m: StoredMessage) -> None:
        store = self._messages
        meta = dict(m.sys or {})
        target = meta["target"]
        receipt = (m.seq, m.receipt.partition("-")[2])
        try:
            self._send(target, m.body.decode(), meta)
        except CumuloError as err:
            policy = target.get("RetryPolicy") or {}
            attempts = policy.get("MaximumRetryAttempts", RETRY_ATTEMPTS_DEFAULT)
            max_age = policy.get("MaximumEventAgeInSeconds", EVENT_AGE_DEFAULT_S)
            meta["n"] = meta.get("n", 0) + 1
            delay = min(self._retry_base_s * 2 ** (meta["n"] - 1), 60.0)
            now = clock_ms(self._clock)
            if not err.retryable or meta["n"] > attempts or now + delay * 1000 - meta["at"] > max_age * 1000:
                self._count("FailedInvocations", meta)
                self._dead_letter(target, meta, m.body.decode(), err)
                store.delete(DELIVERIES_QUEUE, [receipt])
                return
            store.release(DELIVERIES_QUEUE, [receipt], now + int(delay * 1000), meta)
            return
        self._count("Invocations", meta)
        store.delete(DELIVERIES_QUEUE, [receipt])

    def _count(self, metric: str, meta: dict[str, Any]) -> None:
        if self._metrics.enabled and isinstance(meta.get("rule"), str):
            self._metrics.add("AWS/Events", metric, rule_dimensions(meta["rule"]), 1.0, "Count")

    def _send(self, target: dict[str, Any], payload: str, meta: dict[str, Any]) -> None:
        self._targets.send(target["Arn"], Send(payload, sqs_parameters=target.get("SqsParameters") or {},
                                               dedup_id=meta["event_id"], http_parameters=target.get("HttpParameters"),
                                               hops=tuple(meta.get("hops", [])), event_id=meta["event_id"],
                                               trace_header=meta.get("xt"), source_service="events.amazonaws.com",
                                               source_arn=meta.get("rule")))

    def _dead_letter(self, target: dict[str, Any], meta: dict[str, Any], payload: str, err: CumuloError) -> None:
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        log.warning("delivery of event %s to %s gave up after %d attempts: %s", meta["event_id"], target["Arn"],
                    meta["n"], err)
        if not dlq:
            return
        attributes = {"RULE_ARN": meta["rule"], "TARGET_ARN": target["Arn"], "ERROR_CODE": err.type,
                      "ERROR_MESSAGE": err.message[:1024] or "-"}
        self._targets.dead_letter(dlq, payload, attributes, f"event {meta['event_id']}")
