"""Event-source mappings' pollers: queues and streams polled into batched function invocations.

``MappingPollers`` runs the mappings ``functions/mappings.py`` keeps: a background supervisor keeps
one set of poller threads per enabled mapping (``ScalingConfig.MaximumConcurrency`` threads, 5 when
unset — AWS starts with five pollers) and stops them when a mapping is disabled, changed or deleted.

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
from typing import Any

from cumulo.errors import CumuloError, TooManyRequestsException
from cumulo.functions.mappings import EventSourceMappings, is_stream, stream_name
from cumulo.invoke.invoker import InvocationResult
from cumulo.model import function as fn
from cumulo.model import limits
from cumulo.model.function import Arns
from cumulo.model.queue import md5_of_attributes
from cumulo.model import table_stream
from cumulo.model.stream import sequence_number, shard_id
from cumulo.observe.metrics import LAMBDA, NO_METRICS, MetricRecorder
from cumulo.ports import SYSTEM_CLOCK, Clock, Invoke, Queues, Send, Streams, Targets
from cumulo.ports import now_ms as clock_ms
from cumulo.store.ports import QueueMessages, StoredMessage, StreamRecords, Wakeups, stream_topic
from cumulo.store.health import log_failure

__all__ = ["MappingPollers", "sqs_record", "kinesis_record"]

log = logging.getLogger("cumulo.mappings")

DEFAULT_POLLERS = 5


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


def function_name(doc: dict[str, Any]) -> str:
    """A mapping's function's name (its ``FunctionArn``, qualified or not)."""
    arn = str(doc.get("FunctionArn", ""))
    return arn.split(":")[6] if arn.count(":") >= 6 else arn


class MappingPollers:
    """Keeps poller threads in step with the enabled mappings in the store."""

    RESYNC_S = 0.5

    def __init__(self, mappings: EventSourceMappings, messages: QueueMessages, records: StreamRecords,
                 wakeups: Wakeups, queues: Queues, streams: Streams, invoke: Invoke, targets: Targets,
                 arns: Arns, clock: Clock = SYSTEM_CLOCK, metrics: MetricRecorder = NO_METRICS) -> None:
        self._mappings, self._messages, self._queues, self._streams = mappings, messages, queues, streams
        self._metrics = metrics     # IteratorAge of stream mappings
        self._records, self._wakeups = records, wakeups
        self._invoke_function, self._targets, self._arns, self._clock = invoke, targets, arns, clock
        self._stop = threading.Event()
        self._filters: dict[str, list[Any]] = {}      # FilterCriteria's JSON -> its compiled patterns
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
                log_failure(log, "event-source mapping supervisor failed; retrying")
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
            if is_stream(doc["EventSourceArn"]):
                shards = self._streams.shard_count(stream_name(doc["EventSourceArn"]))
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
                log_failure(log, "mapping %s: poller failed", doc["UUID"])
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

    def _matching(self, doc: dict[str, Any], records: list[dict[str, Any]], view: Any) -> list[bool]:
        """Which records pass the mapping's FilterCriteria (all, without filters): a record passes when
        any filter's pattern matches ``view(record)``, what Lambda filters on."""
        criteria = doc.get("FilterCriteria") or {}
        if not criteria.get("Filters"):
            return [True] * len(records)
        key = json.dumps(criteria, sort_keys=True)
        patterns = self._filters.get(key)
        if patterns is None:
            patterns = self._mappings.filters(doc)
            if len(self._filters) > 256:
                self._filters.clear()
            self._filters[key] = patterns
        return [any(p.matches(view(r)) for p in patterns) for r in records]

    def _invoke(self, doc: dict[str, Any], queue: str, batch: list[StoredMessage]) -> None:
        queues = self._queues
        source_arn = doc["EventSourceArn"]
        records = [sqs_record(m, queues.system_attributes(m), source_arn, self._arns.region) for m in batch]
        passing = self._matching(doc, records, _sqs_filterable)
        if not all(passing):     # filtered out: deleted, as Lambda does
            self._messages.delete(queue, [(m.seq, m.receipt.partition("-")[2])
                                          for m, ok in zip(batch, passing) if not ok])
            batch = [m for m, ok in zip(batch, passing) if ok]
            records = [r for r, ok in zip(records, passing) if ok]
            if not batch:
                return
        fname, qualifier = fn.parse_function_ref(doc["FunctionArn"])
        receipts = [(m.seq, m.receipt.partition("-")[2]) for m in batch]
        try:
            # the first message's trace goes on into the function (docs/traces.md)
            trace = next((m.sys["AWSTraceHeader"] for m in batch if m.sys and m.sys.get("AWSTraceHeader")), None)
            result = self._invoke_function(fname, json.dumps({"Records": records}).encode(), qualifier=qualifier,
                                           **({"trace_header": trace} if trace else {}))
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
        name = stream_name(doc["EventSourceArn"])
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
                log_failure(log, "mapping %s: stream poller failed", doc["UUID"])
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
        if self._metrics.enabled:     # IteratorAge: the age of the batch's last record when it is handed over
            self._metrics.add(LAMBDA, "IteratorAge", (("FunctionName", function_name(doc)),),
                              float(max(self._clock.now() * 1000 - batch[-1][3], 0)), "Milliseconds")
        table = table_stream.is_table_stream(doc["EventSourceArn"])
        if table:
            records = [table_stream.event_record(r[2], r[0], doc["EventSourceArn"]) for r in batch]
        else:
            records = [kinesis_record(shard, r, doc["EventSourceArn"], self._arns.region, self._arns.default_role())
                       for r in batch]
        passing = self._matching(doc, records, (lambda r: r) if table else _kinesis_filterable)
        if not all(passing):     # filtered out: passed over, as if processed
            batch = [r for r, ok in zip(batch, passing) if ok]
            records = [r for r, ok in zip(records, passing) if ok]
            if not batch:
                return "ok", None, None
        fname, qualifier = fn.parse_function_ref(doc["FunctionArn"])
        try:
            result = self._invoke_function(fname, json.dumps({"Records": records}).encode(), qualifier=qualifier)
        except TooManyRequestsException:
            return "throttled", None, None
        if result.function_error:
            self._mappings.record_result(doc["UUID"], "PROBLEM: Function call failed")
            return "error", None, result
        if "ReportBatchItemFailures" in doc.get("FunctionResponseTypes", []):
            number = (lambda seq: table_stream.sequence_number(seq)) if table else \
                (lambda seq: sequence_number(shard, seq))
            seqs = {number(r[0]): r[0] for r in batch}
            failed = _failed_items(result.payload, set(seqs))
            if failed is None:
                return "error", None, result
            if failed:
                lowest = min(seqs[f] for f in failed)
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
        }
        if table_stream.is_table_stream(doc["EventSourceArn"]):
            record["DDBStreamBatchInfo"] = {
                "shardId": table_stream.SHARD_ID, "startSequenceNumber": table_stream.sequence_number(batch[0][0]),
                "endSequenceNumber": table_stream.sequence_number(batch[-1][0]),
                "approximateArrivalOfFirstRecord": _iso(batch[0][3]),
                "approximateArrivalOfLastRecord": _iso(batch[-1][3]), "batchSize": len(batch),
                "streamArn": doc["EventSourceArn"]}
        else:
            record["KinesisBatchInfo"] = {
                "shardId": shard_id(shard), "startSequenceNumber": sequence_number(shard, batch[0][0]),
                "endSequenceNumber": sequence_number(shard, batch[-1][0]),
                "approximateArrivalOfFirstRecord": _iso(batch[0][3]),
                "approximateArrivalOfLastRecord": _iso(batch[-1][3]), "batchSize": len(batch),
                "streamArn": doc["EventSourceArn"]}
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


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _sqs_filterable(record: dict[str, Any]) -> dict[str, Any]:
    """An SQS record as Lambda filters it: ``body`` parsed when it is JSON."""
    return {**record, "body": _decoded(record["body"])}


def _kinesis_filterable(record: dict[str, Any]) -> dict[str, Any]:
    """A Kinesis record as Lambda filters it: ``data`` decoded (and parsed when it is JSON)."""
    try:
        data = _decoded(base64.b64decode(record["kinesis"]["data"]).decode())
    except (ValueError, UnicodeDecodeError):
        data = record["kinesis"]["data"]
    return {**record, "data": data, "kinesis": {**record["kinesis"], "data": data}}


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

