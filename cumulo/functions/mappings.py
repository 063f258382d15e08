"""Event-source mappings: queues polled into batched function invocations.

``EventSourceMappings`` is the Lambda API's CRUD (one document per mapping in
the store). ``MappingPollers`` runs them: a background supervisor keeps one set
of poller threads per enabled mapping (``ScalingConfig.MaximumConcurrency``
threads, 5 when unset — AWS starts with five pollers) and stops them when a
mapping is disabled, changed or deleted.

A queue poller gathers a batch (up to ``BatchSize`` messages, or until
``MaximumBatchingWindowInSeconds`` has passed, or 6 MB), invokes the function
synchronously with AWS's SQS event, and then:

- success: deletes the batch;
- ``ReportBatchItemFailures`` and a ``batchItemFailures`` answer: deletes all but
  the failed messages, which return after the visibility timeout;
- a function error: deletes nothing; the batch returns after the visibility
  timeout, and the queue's redrive policy eventually moves poison messages to
  its dead-letter queue;
- a throttle: the batch is made visible again after a second.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, List

from cumulo.errors import (
    CumuloError, InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException,
    TooManyRequestsException,
)
from cumulo.invoke.invoker import InvocationResult
from cumulo.model import function as fn
from cumulo.model import limits
from cumulo.model.function import Arns
from cumulo.model.queue import QueueAttributes, md5_of_attributes
from cumulo.model.stream import parse_sequence_number, sequence_number, shard_id
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, Functions, Invoke, Queues, Send, Streams, Targets
from cumulo.ports import now_ms as clock_ms
from cumulo.store.ports import QueueMessages, StoredMessage, StreamRecords, Wakeups, stream_topic

__all__ = ["EventSourceMappings", "MappingPollers", "sqs_record"]

log = logging.getLogger("cumulo.mappings")

_KIND = "event-source-mapping"
_SQS_FIELDS = {"EventSourceArn", "FunctionName", "Enabled", "BatchSize", "MaximumBatchingWindowInSeconds",
               "FunctionResponseTypes", "ScalingConfig", "FilterCriteria", "Tags"}
_STREAM_FIELDS = {"EventSourceArn", "FunctionName", "Enabled", "BatchSize", "MaximumBatchingWindowInSeconds",
                  "FunctionResponseTypes", "FilterCriteria", "Tags", "StartingPosition", "StartingPositionTimestamp",
                  "ParallelizationFactor", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                  "BisectBatchOnFunctionError", "DestinationConfig", "TumblingWindowInSeconds"}


def _is_stream(arn: str) -> bool:
    return ":kinesis:" in arn and ":stream/" in arn


def _apply_stream(doc: dict[str, Any], params: dict[str, Any]) -> None:
    def bad(member: str, value: Any, rule: str) -> InvalidParameterValueException:
        return InvalidParameterValueException(f"1 validation error detected: Value {value} at '{member}' failed to "
                                              f"satisfy constraint: Member must have value {rule}")

    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if params.get("ParallelizationFactor") is not None:
        v = params["ParallelizationFactor"]
        if not integer(v) or not 1 <= v <= 10:
            raise bad("parallelizationFactor", v, "between 1 and 10")
        doc["ParallelizationFactor"] = v
    if params.get("MaximumRetryAttempts") is not None:
        v = params["MaximumRetryAttempts"]
        if not integer(v) or not -1 <= v <= 10_000:
            raise bad("maximumRetryAttempts", v, "between -1 and 10000")
        doc["MaximumRetryAttempts"] = v
    if params.get("MaximumRecordAgeInSeconds") is not None:
        v = params["MaximumRecordAgeInSeconds"]
        if not integer(v) or not (v == -1 or 60 <= v <= 604_800):
            raise bad("maximumRecordAgeInSeconds", v, "-1 or between 60 and 604800")
        doc["MaximumRecordAgeInSeconds"] = v
    if params.get("BisectBatchOnFunctionError") is not None:
        doc["BisectBatchOnFunctionError"] = bool(params["BisectBatchOnFunctionError"])
    if params.get("TumblingWindowInSeconds"):
        raise InvalidParameterValueException("TumblingWindowInSeconds is not supported by Cumulo yet.")
    if params.get("DestinationConfig") is not None:
        target = ((params["DestinationConfig"] or {}).get("OnFailure") or {}).get("Destination")
        if target and (not isinstance(target, str) or ":sqs:" not in target):
            raise InvalidParameterValueException(f"The destination ARN {target} is invalid: Cumulo sends stream "
                                                 "failure records to SQS queues.")
        doc["DestinationConfig"] = {"OnFailure": {"Destination": target} if target else {}}
DEFAULT_POLLERS = 5



class EventSourceMappings:
    def __init__(self, store: Documents, records: StreamRecords, queues: Queues, streams: Streams,
                 functions: Functions, arns: Arns, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._records, self._queues, self._streams = store, records, queues, streams
        self._functions, self._arns, self._clock = functions, arns, clock

    # -- CRUD -----------------------------------------------------------------
    def create(self, **params: Any) -> dict[str, Any]:
        source = params.get("EventSourceArn")
        if not isinstance(source, str) or not source:
            raise InvalidParameterValueException("EventSourceArn is required.")
        stream = _is_stream(source)
        if not stream and ":sqs:" not in source:
            raise InvalidParameterValueException(f"Unsupported event source: {source}. Cumulo polls SQS queues "
                                                 "and Kinesis streams.")
        allowed = _STREAM_FIELDS if stream else _SQS_FIELDS
        unknown = set(params) - allowed
        if unknown:
            raise InvalidParameterValueException(f"Unsupported parameters for {'a Kinesis' if stream else 'an SQS'} "
                                                 f"event source: {', '.join(sorted(unknown))}")
        if stream:
            self._streams.require(source)
        elif not self._queues.exists(source):
            raise InvalidParameterValueException(f"Error occurred while ReceiveMessage. SQS Error Code: "
                                                 f"AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The "
                                                 f"specified queue does not exist: {source}")
        function_arn = self._function_arn(params.get("FunctionName"))
        for other in self._store.list_documents(_KIND):
            if other["EventSourceArn"] == source and other["FunctionArn"] == function_arn:
                raise ResourceConflictException(
                    f"An event source mapping with {'Kinesis' if stream else 'SQS'} arn (\" {source} \") and "
                    f"function (\" {function_arn.split(':')[6]} \") already exists. Please update or delete the "
                    f"existing mapping with UUID {other['UUID']}")
        doc: dict[str, Any] = {
            "UUID": str(uuid.uuid4()), "EventSourceArn": source, "FunctionArn": function_arn,
            "BatchSize": 100 if stream else 10, "MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": [],
            "StateTransitionReason": "USER_INITIATED", "LastProcessingResult": "No records processed",
            "State": "Enabled"}
        if stream:
            position = params.get("StartingPosition")
            if position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
                raise InvalidParameterValueException(
                    "1 validation error detected: Value at 'startingPosition' failed to satisfy constraint: Member "
                    "must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
            stamp = params.get("StartingPositionTimestamp")
            if position == "AT_TIMESTAMP" and stamp is None:
                raise InvalidParameterValueException("StartingPositionTimestamp is required for AT_TIMESTAMP.")
            name = source.rsplit("/", 1)[1]
            doc.update(StartingPosition=position, ParallelizationFactor=1, MaximumRetryAttempts=-1,
                       MaximumRecordAgeInSeconds=-1, BisectBatchOnFunctionError=False,
                       DestinationConfig={"OnFailure": {}}, TumblingWindowInSeconds=0)
            if stamp is not None:
                doc["StartingPositionTimestamp"] = stamp if not isinstance(stamp, datetime) else stamp.timestamp()
            doc["_positions"] = {str(i): self._streams.position(name, i, position, timestamp=doc.get(
                "StartingPositionTimestamp")) for i in range(self._streams.shard_count(name))}
        self._apply(doc, params)
        doc["LastModified"] = self._clock.now()
        self._store.put_document(_KIND, doc["UUID"], doc)
        return self._answer(doc, "Creating")

    def _function_arn(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidParameterValueException("FunctionName is required.")
        fname, qualifier = fn.parse_function_ref(name)
        config = self._functions.get(fname, qualifier)
        return self._arns.function(config.name, qualifier)

    def _apply(self, doc: dict[str, Any], params: dict[str, Any]) -> None:
        stream = _is_stream(doc["EventSourceArn"])
        fifo = not stream and QueueAttributes(self._queues.attributes(doc["EventSourceArn"])[1].raw).fifo
        if stream:
            _apply_stream(doc, params)
        if "BatchSize" in params and params["BatchSize"] is not None:
            doc["BatchSize"] = params["BatchSize"]
        if "MaximumBatchingWindowInSeconds" in params and params["MaximumBatchingWindowInSeconds"] is not None:
            doc["MaximumBatchingWindowInSeconds"] = params["MaximumBatchingWindowInSeconds"]
        size, window = doc["BatchSize"], doc["MaximumBatchingWindowInSeconds"]
        top = 10 if fifo else 10_000
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= top:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value {size} at 'batchSize' failed to satisfy constraint: Member must "
                f"have value {'less than or equal to 10 for a FIFO queue' if fifo else 'between 1 and 10000'}")
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 300:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value {window} at 'maximumBatchingWindowInSeconds' failed to satisfy "
                "constraint: Member must have value less than or equal to 300")
        if size > 10 and window < 1 and not stream:
            raise InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
        if fifo and window:
            raise InvalidParameterValueException("Batching window is not supported for FIFO queues")
        if "FunctionResponseTypes" in params and params["FunctionResponseTypes"] is not None:
            types = params["FunctionResponseTypes"]
            if not isinstance(types, list) or set(types) - {"ReportBatchItemFailures"}:
                raise InvalidParameterValueException(
                    "1 validation error detected: Value at 'functionResponseTypes' failed to satisfy constraint: "
                    "Member must satisfy enum value set: [ReportBatchItemFailures]")
            doc["FunctionResponseTypes"] = list(types)
        if "ScalingConfig" in params and params["ScalingConfig"] is not None:
            scaling = params["ScalingConfig"]
            top_c = (scaling or {}).get("MaximumConcurrency") if isinstance(scaling, dict) else "?"
            if top_c is not None and (isinstance(top_c, bool) or not isinstance(top_c, int) or not 2 <= top_c <= 1000):
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value {top_c} at 'scalingConfig.maximumConcurrency' failed to "
                    "satisfy constraint: Member must have value between 2 and 1000")
            doc["ScalingConfig"] = {"MaximumConcurrency": top_c} if top_c else {}
        if params.get("FilterCriteria"):
            raise InvalidParameterValueException("FilterCriteria are not supported by Cumulo yet.")
        if "Enabled" in params and params["Enabled"] is not None:
            doc["State"] = "Enabled" if params["Enabled"] else "Disabled"

    def get(self, mapping_id: str) -> dict[str, Any]:
        return self._answer(self._doc(mapping_id))

    def _doc(self, mapping_id: str) -> dict[str, Any]:
        doc = self._store.get_document(_KIND, mapping_id) if isinstance(mapping_id, str) else None
        if doc is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return doc

    def update(self, mapping_id: str, **params: Any) -> dict[str, Any]:
        doc = self._doc(mapping_id)
        unknown = set(params) - (_STREAM_FIELDS if _is_stream(doc["EventSourceArn"]) else _SQS_FIELDS) - {"UUID"}
        unknown |= {"StartingPosition", "StartingPositionTimestamp"} & set(params)
        if unknown or "EventSourceArn" in params:
            raise InvalidParameterValueException(f"Unsupported parameters for UpdateEventSourceMapping: "
                                                 f"{', '.join(sorted(unknown | ({'EventSourceArn'} & set(params))))}")
        if params.get("FunctionName"):
            doc["FunctionArn"] = self._function_arn(params["FunctionName"])
        self._apply(doc, params)
        doc["LastModified"] = self._clock.now()
        self._store.put_document(_KIND, mapping_id, doc)
        return self._answer(doc, "Updating")

    def delete(self, mapping_id: str) -> dict[str, Any]:
        doc = self._doc(mapping_id)
        self._store.delete_document(_KIND, mapping_id)
        self._records.delete_checkpoints(mapping_id)
        return self._answer(doc, "Deleting")

    def list(self, source_arn: str | None = None, function_name: str | None = None) -> "List[dict[str, Any]]":
        docs = self._store.list_documents(_KIND)
        if source_arn:
            docs = [d for d in docs if d["EventSourceArn"] == source_arn]
        if function_name:
            fname, qualifier = fn.parse_function_ref(function_name)
            docs = [d for d in docs if d["FunctionArn"].split(":")[6] == fname
                    and (qualifier is None or d["FunctionArn"].endswith(f":{qualifier}"))]
        return [self._answer(d) for d in docs]

    def enabled(self) -> "List[dict[str, Any]]":
        return [d for d in self._store.list_documents(_KIND) if d["State"] == "Enabled"]

    def record_result(self, mapping_id: str, result: str) -> None:
        doc = self._store.get_document(_KIND, mapping_id)
        if doc is not None and doc.get("LastProcessingResult") != result:
            doc["LastProcessingResult"] = result
            self._store.put_document(_KIND, mapping_id, doc)

    @staticmethod
    def _answer(doc: dict[str, Any], state: str | None = None) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if not (k == "ScalingConfig" and not v) and not k.startswith("_")}
        if state:
            out["State"] = state
        return out


def sqs_record(m: StoredMessage, system: dict[str, str], source_arn: str, region: str) -> dict[str, Any]:
    """AWS's SQS event record for one message."""
    attrs = {}
    for name, value in (m.attrs or {}).items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        else:
            entry["binaryValue"] = value["BinaryValue"]
        attrs[name] = entry

    record: dict[str, Any] = {
        "messageId": m.id, "receiptHandle": m.receipt, "body": m.body.decode(), "attributes": system,
        "messageAttributes": attrs, "md5OfBody": hashlib.md5(m.body).hexdigest(), "eventSource": "aws:sqs",
        "eventSourceARN": source_arn, "awsRegion": region,
    }
    if m.attrs:
        record["md5OfMessageAttributes"] = md5_of_attributes(
            {k: ({**v, "BinaryValue": base64.b64decode(v["BinaryValue"])} if "BinaryValue" in v else v)
             for k, v in m.attrs.items()})
    return record


class MappingPollers:
    """Keeps poller threads in step with the enabled mappings in the store."""

    RESYNC_S = 0.5

    def __init__(self, mappings: EventSourceMappings, messages: QueueMessages, records: StreamRecords,
                 wakeups: Wakeups, queues: Queues, streams: Streams, invoke: Invoke, targets: Targets,
                 arns: Arns, clock: Clock = SYSTEM_CLOCK) -> None:
        self._mappings, self._messages, self._queues, self._streams = mappings, messages, queues, streams
        self._records, self._wakeups = records, wakeups
        self._invoke_function, self._targets, self._arns, self._clock = invoke, targets, arns, clock
        self._stop = threading.Event()
        self._running: dict[str, tuple[str, threading.Event, list[threading.Thread]]] = {}
        self._thread = threading.Thread(target=self._supervise, name="cumulo-mappings", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for _, flag, threads in self._running.values():
            flag.set()
        for _, _, threads in self._running.values():
            for t in threads:
                t.join(timeout=30)
        self._running.clear()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception:
                log.exception("event-source mapping supervisor failed; retrying")
            self._stop.wait(self.RESYNC_S)

    def _sync(self) -> None:
        wanted = {d["UUID"]: d for d in self._mappings.enabled()}
        for mapping_id in list(self._running):
            version, flag, threads = self._running[mapping_id]
            doc = wanted.get(mapping_id)
            if doc is None or _version(doc) != version:
                flag.set()
                del self._running[mapping_id]
                for t in threads:       # a shard's batches never overlap: the old pollers finish first
                    t.join()
        for mapping_id, doc in wanted.items():
            if mapping_id in self._running:
                continue
            flag = threading.Event()
            if _is_stream(doc["EventSourceArn"]):
                shards = self._streams.shard_count(doc["EventSourceArn"].rsplit("/", 1)[1])
                lanes = doc.get("ParallelizationFactor", 1)
                threads = [threading.Thread(target=self._poll_stream, args=(doc, flag, shard, lane), daemon=True,
                                            name=f"cumulo-stream-{mapping_id[:8]}-{shard}-{lane}")
                           for shard in range(shards) for lane in range(lanes)]
            else:
                count = (doc.get("ScalingConfig") or {}).get("MaximumConcurrency") or DEFAULT_POLLERS
                threads = [threading.Thread(target=self._poll, args=(doc, flag), daemon=True,
                                            name=f"cumulo-poll-{mapping_id[:8]}-{i}") for i in range(count)]
            self._running[mapping_id] = (_version(doc), flag, threads)
            for t in threads:
                t.start()

    def _poll(self, doc: dict[str, Any], flag: threading.Event) -> None:
        while not flag.is_set() and not self._stop.is_set():
            try:
                if not self._poll_once(doc, flag):
                    continue
            except CumuloError as err:
                log.warning("mapping %s: %s", doc["UUID"], err)
                self._mappings.record_result(doc["UUID"], f"PROBLEM: {err.message}")
                flag.wait(1.0)
            except Exception:
                log.exception("mapping %s: poller failed", doc["UUID"])
                flag.wait(1.0)

    def _poll_once(self, doc: dict[str, Any], flag: threading.Event) -> bool:
        queues = self._queues
        name, attrs = queues.attributes(doc["EventSourceArn"])
        visibility = attrs.number("VisibilityTimeout")
        size, window = doc["BatchSize"], doc["MaximumBatchingWindowInSeconds"]
        batch: list[StoredMessage] = []
        payload_bytes = 0
        first_at = None
        while len(batch) < size:
            if first_at is None:
                wait = 1.0
            else:
                wait = window - (self._clock.monotonic() - first_at)
                if wait <= 0:
                    break
            got = queues.lease(name, attrs, min(10, size - len(batch)), visibility, min(wait, 1.0), flag)
            batch.extend(got)
            payload_bytes += sum(len(m.body) + 512 for m in got)
            if got and first_at is None:
                first_at = self._clock.monotonic()
            if flag.is_set() or payload_bytes > limits.SYNC_PAYLOAD_MAX - 256 * 1024:
                break
            if first_at is not None and window == 0:
                break
            if first_at is None and not got:
                return False
        if not batch:
            return False
        self._invoke(doc, name, batch)
        return True

    def _invoke(self, doc: dict[str, Any], queue: str, batch: list[StoredMessage]) -> None:
        queues = self._queues
        source_arn = doc["EventSourceArn"]
        records = [sqs_record(m, queues.system_attributes(m), source_arn, self._arns.region) for m in batch]
        fname, qualifier = fn.parse_function_ref(doc["FunctionArn"])
        receipts = [(m.seq, m.receipt.partition("-")[2]) for m in batch]
        try:
            result = self._invoke_function(fname, json.dumps({"Records": records}).encode(), qualifier=qualifier)
        except TooManyRequestsException:
            self._messages.release(queue, receipts, clock_ms(self._clock) + 1000)
            return
        if result.function_error:
            self._mappings.record_result(doc["UUID"], "PROBLEM: Function call failed")
            return         # the batch returns after its visibility timeout
        done = receipts
        if "ReportBatchItemFailures" in doc.get("FunctionResponseTypes", []):
            failed = _failed_items(result.payload, {m.id for m in batch})
            if failed is None:
                self._mappings.record_result(doc["UUID"], "PROBLEM: Invalid batchItemFailures response")
                return
            done = [r for m, r in zip(batch, receipts) if m.id not in failed]
        self._messages.delete(queue, done)
        self._mappings.record_result(doc["UUID"], "OK")


    # -- streams --------------------------------------------------------------
    def _poll_stream(self, doc: dict[str, Any], flag: threading.Event, shard: int, lane: int) -> None:
        """One shard (one lane of it, with ParallelizationFactor > 1): batches strictly in order;
        the checkpoint moves only past records that succeeded or were given up on."""
        name = doc["EventSourceArn"].rsplit("/", 1)[1]
        key = f"{shard}:{lane}"
        lanes = doc.get("ParallelizationFactor", 1)
        after = self._records.get_checkpoint(doc["UUID"], key)
        if after is None:
            after = int(doc["_positions"].get(str(shard), 0))
        attempts, limit = 0, doc["BatchSize"]
        while not flag.is_set() and not self._stop.is_set():
            try:
                batch, scanned = self._stream_batch(doc, name, shard, lane, lanes, after, limit, flag)
                if not batch:
                    if scanned > after:
                        after = scanned
                        self._records.set_checkpoint(doc["UUID"], key, after)
                    else:
                        self._wakeups.wait(stream_topic(name), 1.0)
                    continue
                outcome, failed_seq, last = self._invoke_stream(doc, name, shard, batch, attempts)
                if outcome == "ok":
                    after, attempts, limit = scanned, 0, doc["BatchSize"]
                elif outcome == "partial":
                    assert failed_seq is not None
                    after, attempts = failed_seq - 1, attempts + 1
                elif outcome == "throttled":
                    flag.wait(1.0)
                    continue
                else:
                    attempts += 1
                    give_up = doc["MaximumRetryAttempts"] != -1 and attempts > doc["MaximumRetryAttempts"]
                    if give_up:
                        self._stream_failure(doc, name, shard, batch, attempts, "RetryAttemptsExhausted", last)
                        after, attempts, limit = batch[-1][0], 0, doc["BatchSize"]
                    elif doc.get("BisectBatchOnFunctionError") and len(batch) > 1:
                        limit = max(1, len(batch) // 2)        # retry the first half first
                        continue
                    else:
                        flag.wait(min(0.1 * 2 ** min(attempts, 6), 5.0))
                        continue
                self._records.set_checkpoint(doc["UUID"], key, after)
            except CumuloError as err:
                self._mappings.record_result(doc["UUID"], f"PROBLEM: {err.message}")
                flag.wait(1.0)
            except Exception:
                log.exception("mapping %s: stream poller failed", doc["UUID"])
                flag.wait(1.0)

    def _stream_batch(self, doc: dict[str, Any], name: str, shard: int, lane: int, lanes: int, after: int,
                      limit: int, flag: threading.Event) -> tuple[list[tuple[int, str, bytes, int]], int]:
        """Up to ``limit`` records of this lane after ``after`` (waiting out the batching window), and
        the last seq scanned."""
        window = doc.get("MaximumBatchingWindowInSeconds", 0)
        started = self._clock.monotonic()
        batch: list[tuple[int, str, bytes, int]] = []
        scanned = after
        size = 0
        while True:
            rows = self._records.read_records(name, shard, scanned, max(limit - len(batch), 1) * lanes)
            for row in rows:
                if len(batch) >= limit or size + len(row[2]) > limits.SYNC_PAYLOAD_MAX // 2:
                    break
                scanned = row[0]
                if lanes == 1 or _lane(row[1], lanes) == lane:
                    batch.append(row)
                    size += len(row[2]) * 4 // 3 + 600
            if len(batch) >= limit or size > limits.SYNC_PAYLOAD_MAX // 2:
                return batch, scanned
            left = window - (self._clock.monotonic() - started)
            if left <= 0 or flag.is_set() or (not rows and not batch):
                return batch, scanned
            if not rows:
                self._wakeups.wait(stream_topic(name), min(left, 1.0))

    def _invoke_stream(self, doc: dict[str, Any], name: str, shard: int, batch: list[tuple[int, str, bytes, int]],
                       attempts: int) -> tuple[str, int | None, InvocationResult | None]:
        """(outcome, the lowest failed sequence for "partial", the invocation's result)."""
        max_age = doc.get("MaximumRecordAgeInSeconds", -1)
        if max_age != -1 and batch[0][3] < self._clock.now() * 1000 - max_age * 1000:
            expired = [r for r in batch if r[3] < self._clock.now() * 1000 - max_age * 1000]
            self._stream_failure(doc, name, shard, expired, attempts, "RecordAgeExceeded")
            return ("partial", expired[-1][0] + 1, None) if len(expired) < len(batch) else ("ok", None, None)
        records = [kinesis_record(shard, r, doc["EventSourceArn"], self._arns.region, self._arns.default_role())
                   for r in batch]
        fname, qualifier = fn.parse_function_ref(doc["FunctionArn"])
        try:
            result = self._invoke_function(fname, json.dumps({"Records": records}).encode(), qualifier=qualifier)
        except TooManyRequestsException:
            return "throttled", None, None
        if result.function_error:
            self._mappings.record_result(doc["UUID"], "PROBLEM: Function call failed")
            return "error", None, result
        if "ReportBatchItemFailures" in doc.get("FunctionResponseTypes", []):
            seqs = {sequence_number(shard, r[0]) for r in batch}
            failed = _failed_items(result.payload, seqs)
            if failed is None:
                return "error", None, result
            if failed:
                lowest = min(parse_sequence_number(f)[1] for f in failed)
                self._mappings.record_result(doc["UUID"], "PROBLEM: Function reported failed records")
                return "partial", lowest, result
        self._mappings.record_result(doc["UUID"], "OK")
        return "ok", None, result

    def _stream_failure(self, doc: dict[str, Any], name: str, shard: int, batch: list[tuple[int, str, bytes, int]],
                        attempts: int, condition: str, last: InvocationResult | None = None) -> None:
        target = ((doc.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        log.warning("mapping %s: %d records of %s/%s skipped (%s)", doc["UUID"], len(batch), name, shard_id(shard),
                    condition)
        if not target:
            return
        record: dict[str, Any] = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": doc["FunctionArn"],
                               "condition": condition, "approximateInvokeCount": attempts},
            "version": "1.0", "timestamp": _iso(self._clock.now() * 1000),
            "KinesisBatchInfo": {"shardId": shard_id(shard), "startSequenceNumber": sequence_number(shard, batch[0][0]),
                                 "endSequenceNumber": sequence_number(shard, batch[-1][0]),
                                 "approximateArrivalOfFirstRecord": _iso(batch[0][3]),
                                 "approximateArrivalOfLastRecord": _iso(batch[-1][3]), "batchSize": len(batch),
                                 "streamArn": doc["EventSourceArn"]}}
        if condition == "RetryAttemptsExhausted" and last is not None:
            record["responseContext"] = {"statusCode": 200, "executedVersion": last.executed_version,
                                         "functionError": last.function_error}
        try:
            self._targets.send(target, Send(json.dumps(record), platform=True))
        except CumuloError as err:
            log.warning("mapping %s: could not send the failure record to %s: %s", doc["UUID"], target, err)


def kinesis_record(shard: int, row: tuple[int, str, bytes, int], stream_arn: str, region: str,
                   role: str) -> dict[str, Any]:
    """AWS's Kinesis event record for one stream record."""
    seq, key, data, arrival_ms = row
    number = sequence_number(shard, seq)
    return {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": key, "sequenceNumber": number,
                        "data": base64.b64encode(data).decode(), "approximateArrivalTimestamp": arrival_ms / 1000},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard_id(shard)}:{number}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": role, "awsRegion": region,
            "eventSourceARN": stream_arn}


def _lane(partition_key: str, lanes: int) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest()[:8], "big") % lanes


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _failed_items(payload: bytes, ids: set[str]) -> set[str] | None:
    """The message ids a ``batchItemFailures`` answer names; None when the answer is invalid
    (then the whole batch counts as failed, as on AWS)."""
    try:
        doc = json.loads(payload) if payload else None
    except ValueError:
        return set()
    if not isinstance(doc, dict) or doc.get("batchItemFailures") in (None, []):
        return set()
    items = doc["batchItemFailures"]
    if not isinstance(items, list):
        return None
    out = set()
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in ids:
            return None
        out.add(ident)
    return out


def _version(doc: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in doc.items() if k not in ("LastProcessingResult",)}, sort_keys=True)

