"""Asynchronous invocation: a durable queue, retries, maximum event age, destinations, DLQs.

``Invoke`` with ``InvocationType=Event`` commits the event to the message
store's internal queue (``~async``) and only then answers 202 with the request
id the invocation will run under. A dispatcher (``AsyncDispatcher``, started by
``cumulo up`` or ``Cumulo.start_workers()``) leases events and runs each through
the same synchronous invoker as every other trigger, so concurrency limits hold.

What AWS documents, and this does:

- a function error is retried ``MaximumRetryAttempts`` times (0–2, default 2),
  one minute before the second attempt and two before the third;
- a throttle (or a platform fault) is not an attempt: the event goes back with a
  backoff from 1 s doubling to 5 minutes, until ``MaximumEventAgeInSeconds``
  (60–21,600, default 6 hours);
- then the event's invocation record goes to the on-failure destination and the
  event itself to the function's dead-letter queue; a success's record goes to
  the on-success destination. Destinations may be a queue, a function, or an
  event bus.

A lease lasts the function's timeout plus a margin; if the process dies mid-
invocation, the event is leased again after that (at least once, never lost).

Invocation records and dead letters go out through the target router (``ports.Targets``);
whether a failed invocation is tried again is the error's ``retryable``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from cumulo import ids
from cumulo.config import Settings
from cumulo.errors import (
    CumuloError, InvalidParameterValueException, RequestTooLargeException, ResourceNotFoundException,
)
from cumulo.invoke.invoker import InvocationRequest, InvocationResult
from cumulo.model import function as fn
from cumulo.model.function import LATEST, Arns, FunctionConfiguration
from cumulo.model.queue import ASYNC_QUEUE
from cumulo.observe.metrics import LAMBDA, NO_METRICS, MetricRecorder
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, Functions, Kind, RunInvocation, Send, Target, Targets
from cumulo.ports import now_ms as clock_ms
from cumulo.store.ports import NewMessage, QueueMessages, StoredMessage, Wakeups
from cumulo.workers import QueueWorkers

__all__ = ["EventInvokeConfigs", "AsyncDispatcher", "AsyncEvents", "invocation_record"]

log = logging.getLogger("cumulo.async")

RETRIES_DEFAULT = 2
MAX_AGE_DEFAULT_S = 21_600
THROTTLE_BACKOFF_MAX_S = 300.0
LEASE_MARGIN_S = 5
_DESTINATION_RE = re.compile(r"^arn:aws[a-z-]*:(lambda|sqs|sns|events|s3):[a-z0-9-]*:\d{0,12}:.+$")
_KIND = "event-invoke-config"


@dataclass(frozen=True)
class EventInvokeConfig:
    retries: int = RETRIES_DEFAULT
    max_age_s: int = MAX_AGE_DEFAULT_S
    on_success: str = ""
    on_failure: str = ""


class EventInvokeConfigs:
    """``Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s)``: per function and qualifier."""

    def __init__(self, store: Documents, functions: Functions, arns: Arns, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._functions, self._arns = store, functions, arns
        self._clock = clock     # LastModified
        self._effective: dict[tuple[str, str], tuple[int, EventInvokeConfig]] = {}   # with the generation read at

    def _key(self, name: str, qualifier: str | None) -> tuple[str, str]:
        fname, q = fn.parse_function_ref(name, qualifier)
        q = q or LATEST
        self._functions.get(fname, q)         # the function (and qualifier) must exist
        return fname, q

    def put(self, name: str, qualifier: str | None = None, *, maximum_retry_attempts: int | None = None,
            maximum_event_age_in_seconds: int | None = None, destination_config: dict | None = None,
            update: bool = False) -> dict[str, Any]:
        fname, q = self._key(name, qualifier)
        doc_id = f"{fname}:{q}"
        current = self._store.get_document(_KIND, doc_id) if update else None
        doc: dict[str, Any] = dict(current or {})
        if maximum_retry_attempts is not None:
            if isinstance(maximum_retry_attempts, bool) or not isinstance(maximum_retry_attempts, int) \
                    or not 0 <= maximum_retry_attempts <= 2:
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value '{maximum_retry_attempts}' at 'maximumRetryAttempts' failed "
                    "to satisfy constraint: Member must have value less than or equal to 2")
            doc["MaximumRetryAttempts"] = maximum_retry_attempts
        if maximum_event_age_in_seconds is not None:
            age = maximum_event_age_in_seconds
            if isinstance(age, bool) or not isinstance(age, int) or not 60 <= age <= 21_600:
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value '{age}' at 'maximumEventAgeInSeconds' failed to satisfy "
                    "constraint: Member must have value between 60 and 21600")
            doc["MaximumEventAgeInSeconds"] = age
        if destination_config is not None:
            doc["DestinationConfig"] = _destinations(destination_config, (current or {}).get("DestinationConfig"))
        doc.setdefault("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}})
        doc["LastModified"] = self._clock.now()
        doc["FunctionArn"] = self._arns.function(fname, q)
        self._store.put_document(_KIND, doc_id, doc)
        return doc

    def get(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        fname, q = self._key(name, qualifier)
        doc = self._store.get_document(_KIND, f"{fname}:{q}")
        if doc is None:
            raise ResourceNotFoundException(f"The function {self._arns.function(fname, q)} doesn't have an "
                                            "EventInvokeConfig")
        return doc

    def delete(self, name: str, qualifier: str | None = None) -> None:
        fname, q = self._key(name, qualifier)
        if not self._store.delete_document(_KIND, f"{fname}:{q}"):
            raise ResourceNotFoundException(f"The function {self._arns.function(fname, q)} doesn't have an "
                                            "EventInvokeConfig")

    def list(self, name: str) -> list[dict[str, Any]]:
        fname, _ = fn.parse_function_ref(name)
        self._functions.get(fname)
        return [d for d in self._store.list_documents(_KIND) if d["FunctionArn"].split(":")[6] == fname]

    def effective(self, name: str, qualifier: str) -> EventInvokeConfig:
        """The configuration an event of ``name:qualifier`` runs under, read on every event: kept
        until the store's ``generation`` moves (any write of this process at once, another's within
        the store's re-check)."""
        generation = self._store.generation         # before the read: a write meanwhile moves it past
        hit = self._effective.get((name, qualifier))
        if hit is not None and hit[0] == generation:
            return hit[1]
        found = self._read_effective(name, qualifier)
        self._effective[(name, qualifier)] = (generation, found)
        return found

    def _read_effective(self, name: str, qualifier: str) -> EventInvokeConfig:
        doc = self._store.get_document(_KIND, f"{name}:{qualifier}")
        if doc is None:
            return EventInvokeConfig()
        dest = doc.get("DestinationConfig") or {}
        return EventInvokeConfig(doc.get("MaximumRetryAttempts", RETRIES_DEFAULT),
                                 doc.get("MaximumEventAgeInSeconds", MAX_AGE_DEFAULT_S),
                                 (dest.get("OnSuccess") or {}).get("Destination", ""),
                                 (dest.get("OnFailure") or {}).get("Destination", ""))


def _destinations(doc: Any, current: dict | None) -> dict[str, Any]:
    if not isinstance(doc, dict) or set(doc) - {"OnSuccess", "OnFailure"}:
        raise InvalidParameterValueException("DestinationConfig takes OnSuccess and OnFailure.")
    out = dict(current or {"OnSuccess": {}, "OnFailure": {}})
    for key in ("OnSuccess", "OnFailure"):
        if key not in doc:
            continue
        arn = (doc[key] or {}).get("Destination")
        if arn and (not isinstance(arn, str) or not _DESTINATION_RE.match(arn)):
            raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
        if arn and arn.startswith("arn:aws:s3") and key == "OnSuccess":
            raise InvalidParameterValueException("S3 buckets are only supported as OnFailure destinations.")
        out[key] = {"Destination": arn} if arn else {}
    return out


class AsyncEvents:
    """The asynchronous queue's way in: ``Invoke`` with ``InvocationType=Event``."""

    def __init__(self, functions: Functions, messages: QueueMessages, payload_max: int,
                 clock: Clock = SYSTEM_CLOCK, metrics: MetricRecorder = NO_METRICS) -> None:
        self._functions, self._messages, self._payload_max, self._clock = functions, messages, payload_max, clock
        self._metrics = metrics     # AsyncEventsReceived

    def enqueue(self, name: str, qualifier: str | None, payload: bytes, client_context: dict | None = None,
                trace_header: str | None = None, dedup_id: str | None = None) -> tuple[str, FunctionConfiguration]:
        """Commit one asynchronous event; returns the request id it will run under and the configuration
        ``name`` and ``qualifier`` resolved to (the version Invoke reports). ``dedup_id``: nothing is
        committed when an event of that id was in the last 5 minutes (the queue's deduplication)."""
        config, _ = self._functions.resolve_for_invoke(name, qualifier)
        if len(payload) > self._payload_max:
            raise RequestTooLargeException(
                f"Request must be smaller than {self._payload_max} bytes for the InvokeAsync operation")
        if payload.strip():
            try:
                json.loads(payload)
            except ValueError as exc:
                from cumulo.errors import InvalidRequestContentException
                raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from None
        _, q = fn.parse_function_ref(name, qualifier)
        request_id = ids.request_id()
        now = clock_ms(self._clock)
        meta = {"fn": config.name, "q": q or LATEST, "rid": request_id, "at": now, "n": 0, "t": 0}
        if client_context is not None:
            meta["cc"] = client_context
        if trace_header:        # the caller's trace goes on when the event runs (docs/traces.md)
            meta["xt"] = trace_header
        self._messages.send(ASYNC_QUEUE, [NewMessage(request_id, payload, None, meta, None, 0,
                                                     (config.timeout + LEASE_MARGIN_S) * 1000, dedup_id)], now)
        if self._metrics.enabled:
            self._metrics.add(LAMBDA, "AsyncEventsReceived", (("FunctionName", config.name),), 1.0, "Count")
        return request_id, config


def invocation_record(condition: str, meta: dict[str, Any], function_arn: str, payload: bytes,
                      result: InvocationResult | None, now: float) -> dict[str, Any]:
    """AWS's invocation record: what destinations receive (``now``: the clock's wall time)."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {"requestId": meta["rid"], "functionArn": function_arn, "condition": condition,
                           "approximateInvokeCount": meta["n"]},
        "requestPayload": _json_or_text(payload),
    }
    if result is not None:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": result.executed_version}
        if result.function_error:
            response["functionError"] = result.function_error
        record["responseContext"] = response
        record["responsePayload"] = _json_or_text(result.payload)
    return record


def _json_or_text(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


class AsyncDispatcher:
    """Leases asynchronous events and runs them on a pool of worker threads (``run``: the runtime's
    invocation of a resolved configuration); ``settings`` gives the retry delays."""

    def __init__(self, messages: QueueMessages, wakeups: Wakeups, functions: Functions, configs: EventInvokeConfigs,
                 run: RunInvocation, targets: Targets, arns: Arns, settings: Settings, clock: Clock = SYSTEM_CLOCK,
                 workers: int = 16, metrics: MetricRecorder = NO_METRICS,
                 role_refusal: Callable[[str, str, str, dict[str, Any]], str | None] | None = None) -> None:
        self._messages, self._functions, self._configs, self._run = messages, functions, configs, run
        self._role_refusal = role_refusal   # may the function's role send to its destination?
        self._metrics = metrics     # AsyncEventAge, AsyncEventsDropped, DeadLetterErrors, DestinationDeliveryFailures
        self._targets, self._arns, self._settings, self._clock = targets, arns, settings, clock
        # events leased in batches, up to twice as many buffered as running while they are quick;
        # the handled ones deleted in groups
        self._workers = QueueWorkers(messages, wakeups, ASYNC_QUEUE, workers, 30_000, self.process, "cumulo-async",
                                     clock, prefetch=2 * workers)

    def start(self) -> None:
        self._workers.start()

    def stop(self) -> None:
        self._workers.stop()

    def _now_ms(self) -> int:
        return clock_ms(self._clock)

    def process(self, message: StoredMessage) -> None:
        store = self._messages
        meta = dict(message.sys or {})
        receipt = (message.seq, message.receipt.partition("-")[2])
        try:
            config, invoked_arn = self._functions.resolve_for_invoke(meta["fn"], meta["q"])
        except ResourceNotFoundException:
            log.warning("dropping async event %s: function %s:%s no longer exists", meta["rid"], meta["fn"], meta["q"])
            self._count("AsyncEventsDropped", meta["fn"])
            self._workers.settle(receipt)
            return
        settings = self._settings
        policy = self._configs.effective(config.name, meta["q"])
        function_arn = self._arns.function(config.name, meta["q"])
        now = self._now_ms()
        if now - meta["at"] > policy.max_age_s * 1000:
            self._failed("EventAgeExceeded", meta, function_arn, message.body, None, config.dead_letter_arn,
                         policy, "EventAgeExceeded", "Event age exceeded MaximumEventAgeInSeconds", config.role)
            self._workers.settle(receipt)
            return
        if (config.timeout + LEASE_MARGIN_S) * 1000 > 30_000:
            # a function that may run longer than the lease holds its event that much longer
            store.release(ASYNC_QUEUE, [receipt], now + (config.timeout + LEASE_MARGIN_S) * 1000)
        request = InvocationRequest(message.body, "RequestResponse", "None", meta.get("cc"), None, meta["rid"],
                                    meta.get("xt"))
        self._count("AsyncEventAge", config.name, float(max(now - meta["at"], 0)), "Milliseconds")
        try:
            result = self._run(config, request, invoked_arn)
        except CumuloError as err:
            if not err.retryable:
                # A request the function can never accept (e.g. not valid JSON): not retried. A
                # throttle or a fault of the platform is retried, and is not an attempt.
                self._failed("RetriesExhausted", meta, function_arn, message.body, None, config.dead_letter_arn,
                             policy, err.type, err.message, config.role)
                self._workers.settle(receipt)
                return
            meta["t"] = meta.get("t", 0) + 1
            delay = min(settings.async_throttle_backoff_s * 2 ** (meta["t"] - 1), THROTTLE_BACKOFF_MAX_S)
            if now + delay * 1000 - meta["at"] > policy.max_age_s * 1000:
                self._failed("EventAgeExceeded", meta, function_arn, message.body, None, config.dead_letter_arn,
                             policy, err.type, err.message, config.role)
                self._workers.settle(receipt)
                return
            store.release(ASYNC_QUEUE, [receipt], self._now_ms() + int(delay * 1000), meta)
            return
        meta["n"] = meta.get("n", 0) + 1
        if result.function_error is None:
            if policy.on_success:
                record = invocation_record("Success", meta, function_arn, message.body, result, self._clock.now())
                self._deliver(policy.on_success, record, "Success", config.role)
            self._workers.settle(receipt)
            return
        if meta["n"] <= policy.retries:
            delay = settings.async_retry_delay_s * meta["n"]        # 1 minute, then 2
            if self._now_ms() + delay * 1000 - meta["at"] <= policy.max_age_s * 1000:
                store.release(ASYNC_QUEUE, [receipt], self._now_ms() + int(delay * 1000), meta)
                return
            condition = "EventAgeExceeded"
        else:
            condition = "RetriesExhausted"
        error = _json_or_text(result.payload)
        message_text = error.get("errorMessage", "") if isinstance(error, dict) else str(error)
        self._failed(condition, meta, function_arn, message.body, result, config.dead_letter_arn, policy,
                     "200", message_text, config.role)
        self._workers.settle(receipt)

    def _failed(self, condition: str, meta: dict[str, Any], function_arn: str, payload: bytes,
                result: InvocationResult | None, dead_letter_arn: str, policy: EventInvokeConfig,
                error_code: str, error_message: str, role: str = "") -> None:
        record = invocation_record(condition, meta, function_arn, payload, result, self._clock.now())
        self._count("AsyncEventsDropped", meta["fn"])
        self._deliver(policy.on_failure, record, "Failure", role)
        if dead_letter_arn:
            try:
                self._dead_letter(dead_letter_arn, meta, payload, error_code, error_message)
            except Exception:
                self._count("DeadLetterErrors", meta["fn"])
                raise

    def _count(self, metric: str, function: str, value: float = 1.0, unit: str = "Count") -> None:
        if self._metrics.enabled:
            self._metrics.add(LAMBDA, metric, (("FunctionName", function),), value, unit)

    def _dead_letter(self, arn: str, meta: dict[str, Any], payload: bytes, code: str, text: str) -> None:
        attributes = {"RequestID": meta["rid"], "ErrorCode": code, "ErrorMessage": (text or "unknown")[:1024]}
        self._targets.dead_letter(arn, payload.decode(errors="replace") or "{}", attributes, f"event {meta['rid']}",
                                  numbers=("ErrorCode",) if code.isdigit() else ())

    def _deliver(self, arn: str, record: dict[str, Any], outcome: str, role: str = "") -> None:
        """An invocation record to its destination: a queue, a topic, a function or an event bus,
        sent with the function's execution role (``role``), which must be allowed to, as on AWS."""
        if not arn:
            return
        target = Target.parse(arn)
        if target.service == "events":      # Lambda sends records to event buses: any events ARN is taken as one
            target = Target(arn, Kind.BUS, target.service)
        if role and self._role_refusal is not None and target.kind in _SENDS:
            service, action, key = _SENDS[target.kind]
            refused = self._role_refusal(role, service, action, {key: arn} if target.kind is not Kind.BUS
                                         else {"Entries": [{"EventBusName": arn}]})
            if refused:
                self._undelivered(record, arn, refused)
                return
        try:
            if target.kind is Kind.BUS:
                entry = {"Source": "lambda", "DetailType": f"Lambda Function Invocation Result - {outcome}",
                         "Detail": json.dumps(record), "Resources": [record["requestContext"]["functionArn"]]}
                result = self._targets.send(target, Send(entries=[entry]))
                if result["FailedEntryCount"]:
                    raise InvalidParameterValueException(result["Entries"][0]["ErrorMessage"])
            elif target.kind in (Kind.QUEUE, Kind.FUNCTION, Kind.TOPIC):
                self._targets.send(target, Send(json.dumps(record), platform=True))
            else:
                log.warning("destination %s is not available here; invocation record of %s dropped", arn,
                            record["requestContext"]["requestId"])
        except (CumuloError, ValueError) as err:
            self._undelivered(record, arn, err)

    def _undelivered(self, record: dict[str, Any], arn: str, why: object) -> None:
        function_arn = record["requestContext"]["functionArn"]
        self._count("DestinationDeliveryFailures", function_arn.split(":")[6] if function_arn.count(":") >= 6
                    else function_arn)
        log.warning("could not deliver the invocation record of %s to %s: %s",
                    record["requestContext"]["requestId"], arn, why)


# What sending an invocation record to a destination is, as the execution role's call:
# (service, API action, the request's member naming the destination).
_SENDS = {Kind.QUEUE: ("sqs", "SendMessage", "QueueUrl"), Kind.TOPIC: ("sns", "Publish", "TopicArn"),
          Kind.FUNCTION: ("lambda", "Invoke", "FunctionName"), Kind.BUS: ("events", "PutEvents", "")}


