"""Queues with SQS's semantics, over the durable message store.

One implementation behind the SQS JSON protocol, the ``cumulo queue`` CLI, the
event-source mappings and the destinations. Answers are AWS's documents (the
dicts boto3 returns), errors are ``cumulo.model.queue``'s SQS errors.

Standard queues deliver at least once, roughly in order; FIFO queues deliver
each message group in order, one batch in flight per group, and drop a send
whose deduplication id (explicit, or the body's SHA-256) was seen in the last
five minutes.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

from cumulo import ids
from cumulo.model import queue as q
from cumulo.model.queue import (
    BatchEntryIdsNotDistinct, EmptyBatchRequest, InvalidAttributeName, InvalidBatchEntryId, InvalidParameterValue,
    MessageNotInflight, MissingParameter, PurgeQueueInProgress, QueueAttributes, QueueDoesNotExist, QueueNameExists,
    ReceiptHandleIsInvalid, ResourceNotFound, SqsError, TooManyEntriesInBatchRequest,
)
from cumulo.observe.metrics import NO_METRICS, MetricRecorder
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.ports import now_ms as clock_ms
from cumulo.store.ports import NewMessage, QueueMessages, StoredMessage, Wakeups, parse_receipt

__all__ = ["QueueService", "queue_name_of"]

DEDUP_WINDOW_MS = 5 * 60 * 1000
MAX_BATCH = 10
BATCH_ID_RE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
PURGE_INTERVAL_MS = 60_000
MAX_RECEIVE_LIMIT = 10


def queue_name_of(ref: str) -> str:
    """A queue's name from its URL, ARN or name."""
    if not isinstance(ref, str) or not ref:
        raise MissingParameter("The request must contain the parameter QueueUrl.")
    if ref.startswith("arn:"):
        return ref.rsplit(":", 1)[-1]
    return ref.rstrip("/").rsplit("/", 1)[-1]


_DIRECT_S = 0.05     # how long prepare_direct trusts a queue's settings (the store's own recheck)

class QueueService:
    def __init__(self, messages: QueueMessages, wakeups: Wakeups, region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK, metrics: MetricRecorder = NO_METRICS) -> None:
        self.messages, self.wakeups = messages, wakeups
        self.metrics = metrics  # SQS's NumberOfMessagesSent/Received/Deleted (observe/metrics.py)
        self.clock = clock      # messages' times, long polls' deadlines
        self.region, self.account = region, account
        self.endpoint = "http://localhost:9000"     # the control plane's URL, once a server listens
        self._direct: dict[str, tuple[float, tuple[str, int, int] | None]] = {}   # prepare_direct's queues

    # -- naming ---------------------------------------------------------------
    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    def url(self, name: str, base: str | None = None) -> str:
        return f"{(base or self.endpoint).rstrip('/')}/{self.account}/{name}"

    def _queue(self, ref: str) -> tuple[str, dict[str, Any]]:
        name = queue_name_of(ref)
        doc = self.messages.get_queue(name)
        if doc is None:
            raise QueueDoesNotExist("The specified queue does not exist.")
        return name, doc

    def attributes(self, ref: str) -> tuple[str, QueueAttributes]:
        name, doc = self._queue(ref)
        return name, QueueAttributes(doc["attributes"])

    def policy_text(self, name: str) -> str | None:
        """The queue's ``Policy`` attribute (its resource-based policy), None when it has none or is not there."""
        doc = self.messages.get_queue(name)
        return (doc["attributes"].get("Policy") or None) if doc is not None else None

    def exists(self, ref: str) -> bool:
        return self.messages.get_queue(queue_name_of(ref)) is not None

    # -- queues ---------------------------------------------------------------
    def create_queue(self, name: str, attributes: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
                     base: str | None = None) -> str:
        q.validate_queue_name(name)
        attrs = q.parse_attributes(attributes, name)
        self._check_redrive(attrs, name)
        now = int(self.clock.now())
        doc = {"name": name, "attributes": attrs.raw, "created": now, "modified": now, "tags": dict(tags or {})}
        existing = self.messages.create_queue(name, doc)
        self._direct.clear()
        if existing is not None:
            old = QueueAttributes(existing["attributes"]).defaults()
            new = attrs.defaults()
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    raise QueueNameExists(f"A queue already exists with the same name and a different value for "
                                          f"attribute {key}")
        return self.url(name, base)

    def _check_redrive(self, attrs: QueueAttributes, name: str) -> None:
        redrive = attrs.redrive
        if redrive is None:
            return
        target = queue_name_of(redrive[0])
        doc = self.messages.get_queue(target)
        if doc is None:
            raise q.InvalidParameterValue(f"Value {attrs.raw['RedrivePolicy']} for parameter RedrivePolicy is invalid. "
                                          "Reason: Dead letter target does not exist.")
        if QueueAttributes(doc["attributes"]).fifo != attrs.fifo:
            raise q.InvalidParameterValue(f"Value {attrs.raw['RedrivePolicy']} for parameter RedrivePolicy is invalid. "
                                          "Reason: Dead-letter queue must be same type of queue as the source.")

    def get_queue_url(self, name: str, base: str | None = None) -> str:
        q.validate_queue_name(name)
        self._queue(name)
        return self.url(name, base)

    def list_queues(self, prefix: str | None = None, max_results: int | None = None, base: str | None = None,
                    next_token: str | None = None) -> dict[str, Any]:
        if max_results is not None and not 1 <= int(max_results) <= 1000:
            raise InvalidParameterValue("Value for parameter MaxResults is invalid. Reason: must be between 1 and 1000.")
        names = [d["name"] for d in self.messages.list_queues() if not d["name"].startswith("~")
                 and d["name"].startswith(prefix or "")]
        if next_token:
            names = [n for n in names if n > next_token]
        out: dict[str, Any] = {}
        limit = int(max_results) if max_results else 1000
        page = names[:limit]
        if page:
            out["QueueUrls"] = [self.url(n, base) for n in page]
        if max_results and len(names) > limit:
            out["NextToken"] = page[-1]
        return out

    def delete_queue(self, ref: str) -> None:
        name, _ = self._queue(ref)
        self.messages.delete_queue(name)
        self._direct.clear()

    def get_queue_attributes(self, ref: str, names: list[str] | None = None) -> dict[str, str]:
        name, doc = self._queue(ref)
        wanted = list(names or [])
        for n in wanted:
            if n != "All" and n not in q.ATTRIBUTE_NAMES:
                raise InvalidAttributeName(f"Unknown Attribute {n}.")
        attrs = QueueAttributes(doc["attributes"])
        visible, inflight, delayed = self.messages.counts(name, clock_ms(self.clock))
        every = attrs.defaults()
        every.update({
            "QueueArn": self.arn(name),
            "ApproximateNumberOfMessages": str(visible),
            "ApproximateNumberOfMessagesNotVisible": str(inflight),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
            "CreatedTimestamp": str(doc["created"]),
            "LastModifiedTimestamp": str(doc["modified"]),
        })
        if "All" in wanted:
            return every
        return {n: every[n] for n in wanted if n in every}

    def set_queue_attributes(self, ref: str, attributes: dict[str, Any]) -> None:
        name, doc = self._queue(ref)
        attrs = q.parse_attributes(attributes, name, QueueAttributes(doc["attributes"]), creating=False)
        self._check_redrive(attrs, name)
        doc.update(attributes=attrs.raw, modified=int(self.clock.now()))
        self.messages.put_queue(name, doc)
        self._direct.clear()

    def purge_queue(self, ref: str) -> None:
        name, doc = self._queue(ref)
        now = clock_ms(self.clock)
        if now - doc.get("purged_ms", 0) < PURGE_INTERVAL_MS:
            raise PurgeQueueInProgress(f"Only one PurgeQueue operation on {name} is allowed every 60 seconds.")
        doc["purged_ms"] = now
        self.messages.put_queue(name, doc)
        self._direct.clear()
        self.messages.purge(name)

    def tag_queue(self, ref: str, tags: dict[str, str]) -> None:
        name, doc = self._queue(ref)
        doc.setdefault("tags", {}).update(tags or {})
        if len(doc["tags"]) > 50:
            raise InvalidParameterValue("Too many tags added for queue. Reason: a queue can have at most 50 tags.")
        self.messages.put_queue(name, doc)
        self._direct.clear()

    def untag_queue(self, ref: str, keys: list[str]) -> None:
        name, doc = self._queue(ref)
        for key in keys or []:
            doc.get("tags", {}).pop(key, None)
        self.messages.put_queue(name, doc)
        self._direct.clear()

    def list_queue_tags(self, ref: str) -> dict[str, str]:
        return dict(self._queue(ref)[1].get("tags", {}))

    def list_dead_letter_source_queues(self, ref: str, base: str | None = None) -> list[str]:
        name, _ = self._queue(ref)
        out = []
        for doc in self.messages.list_queues():
            redrive = QueueAttributes(doc["attributes"]).redrive
            if redrive and queue_name_of(redrive[0]) == name:
                out.append(self.url(doc["name"], base))
        return out

    # -- sending --------------------------------------------------------------
    def send_message(self, ref: str, body: Any, delay_seconds: int | None = None,
                     message_attributes: dict[str, Any] | None = None,
                     system_attributes: dict[str, Any] | None = None,
                     group_id: str | None = None, dedup_id: str | None = None,
                     trace_header: str | None = None) -> dict[str, Any]:
        """``trace_header``: the sender's ``X-Amzn-Trace-Id``, kept as the message's
        ``AWSTraceHeader`` unless it gives one (docs/traces.md)."""
        name, attrs = self.attributes(ref)
        prepared = self._prepare(attrs, body, delay_seconds, message_attributes, system_attributes, group_id, dedup_id,
                                 trace_header=trace_header)
        return self._commit(name, attrs, [prepared])[0]

    def send_message_batch(self, ref: str, entries: list[dict[str, Any]],
                           trace_header: str | None = None) -> dict[str, Any]:
        name, attrs = self.attributes(ref)
        _check_batch(entries)
        total = sum(len(str(e.get("MessageBody", "")).encode()) for e in entries)
        if total > attrs.number("MaximumMessageSize"):
            raise q.BatchRequestTooLong(f"Batch requests cannot be longer than {attrs.number('MaximumMessageSize')} bytes. "
                                        f"You have sent {total} bytes.")
        ok: list[tuple[str, tuple[NewMessage, dict[str, Any]]]] = []
        failed = []
        for entry in entries:
            try:
                ok.append((entry["Id"], self._prepare(
                    attrs, entry.get("MessageBody"), entry.get("DelaySeconds"), entry.get("MessageAttributes"),
                    entry.get("MessageSystemAttributes"), entry.get("MessageGroupId"),
                    entry.get("MessageDeduplicationId"), trace_header=trace_header)))
            except SqsError as err:
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": err.code, "Message": err.message})
        results = self._commit(name, attrs, [p for _, p in ok]) if ok else []
        successful = [{"Id": entry_id, **result} for (entry_id, _), result in zip(ok, results)]
        return {"Successful": successful, "Failed": failed}

    def _prepare(self, attrs: QueueAttributes, body: Any, delay_seconds: int | None, message_attributes: Any,
                 system_attributes: Any, group_id: Any, dedup_id: Any,
                 answer_wanted: bool = True, trace_header: str | None = None) -> tuple[NewMessage, dict[str, Any]]:
        text, mattrs = q.validate_message(body, message_attributes, attrs.number("MaximumMessageSize"))
        sys_attrs = _system_attributes(system_attributes)
        given_trace = sys_attrs.get("AWSTraceHeader")     # the answer's digest covers only what was sent
        if trace_header and not given_trace and len(trace_header) <= 1024:
            sys_attrs["AWSTraceHeader"] = trace_header
        if delay_seconds is not None and (isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int)
                                          or not 0 <= delay_seconds <= 900):
            raise InvalidParameterValue(f"Value {delay_seconds} for parameter DelaySeconds is invalid. Reason: "
                                        "must be between 0 and 900, if provided.")
        if attrs.fifo:
            if delay_seconds:
                raise InvalidParameterValue(f"Value {delay_seconds} for parameter DelaySeconds is invalid. Reason: "
                                            "The request include parameter that is not valid for this queue type.")
            if not group_id:
                raise MissingParameter("The request must contain the parameter MessageGroupId.")
            _check_token("MessageGroupId", group_id)
            if dedup_id is None:
                if not attrs.content_dedup:
                    raise InvalidParameterValue("The queue should either have ContentBasedDeduplication enabled or "
                                                "MessageDeduplicationId provided explicitly")
                dedup_id = hashlib.sha256(text.encode()).hexdigest()
            else:
                _check_token("MessageDeduplicationId", dedup_id)
            sys_attrs.update(MessageGroupId=group_id, MessageDeduplicationId=dedup_id)
            delay = attrs.number("DelaySeconds")
        else:
            if dedup_id is not None:
                raise InvalidParameterValue(f"Value {dedup_id} for parameter MessageDeduplicationId is invalid. "
                                            "Reason: The request includes a parameter that is not valid for this queue type.")
            if group_id is not None:
                _check_token("MessageGroupId", group_id)   # fair queues: accepted, ordering not promised
                sys_attrs["MessageGroupId"] = group_id
                group_id = None
            delay = attrs.number("DelaySeconds") if delay_seconds is None else delay_seconds
        stored_attrs = {k: ({**v, "BinaryValue": base64.b64encode(v["BinaryValue"]).decode()} if "BinaryValue" in v else v)
                        for k, v in mattrs.items()}
        message = NewMessage(str(uuid.uuid4()), text.encode(), stored_attrs or None, sys_attrs or None,
                             group_id if attrs.fifo else None, delay * 1000, None,
                             dedup_id if attrs.fifo else None)
        if not answer_wanted:
            return message, {}
        answer = {"MD5OfMessageBody": hashlib.md5(text.encode()).hexdigest()}
        digest = q.md5_of_attributes(mattrs)
        if digest:
            answer["MD5OfMessageAttributes"] = digest
        if given_trace:
            answer["MD5OfMessageSystemAttributes"] = q.md5_of_attributes(
                {"AWSTraceHeader": {"DataType": "String", "StringValue": given_trace}}) or ""
        return message, answer

    def _commit(self, name: str, attrs: QueueAttributes,
                prepared: list[tuple[NewMessage, dict[str, Any]]]) -> list[dict[str, Any]]:
        stored = self.messages.send(name, [m for m, _ in prepared], clock_ms(self.clock), DEDUP_WINDOW_MS,
                                    attrs.dedup_per_group)
        self._count("NumberOfMessagesSent", name, len(stored))
        out = []
        for (message_id, seq), (_, answer) in zip(stored, prepared):
            result = {"MessageId": message_id, **answer}
            if attrs.fifo:
                result["SequenceNumber"] = f"{seq:020d}"
            out.append(result)
        return out

    def send_raw(self, ref: str, body: str, message_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        """A platform-made message (destinations, dead-letter queues): FIFO queues get a group and
        a deduplication id of their own."""
        name, attrs = self.attributes(ref)
        if attrs.fifo:
            return self.send_message(name, body, message_attributes=message_attributes, group_id="cumulo",
                                     dedup_id=hashlib.sha256(f"{uuid.uuid4()}".encode()).hexdigest())
        return self.send_message(name, body, message_attributes=message_attributes)

    def prepare_direct(self, ref: str, body: str, message_attributes: dict[str, Any] | None = None,
                       ascii_json: bool = False, trace_header: str | None = None) -> tuple[str, NewMessage] | None:
        """A platform-made message for a standard queue, checked as SendMessage checks it and ready
        for the caller to commit in its own transaction (``QueueMessages.send_many``): (queue name,
        message). None where it cannot go that way (no such queue, a FIFO queue, which needs its
        deduplication, or a message the queue refuses): send it through ``send_raw`` instead, which
        answers the error, and through the target router's guard for a queue with a ``Policy``, which
        must allow the sender). ``ascii_json``: the body is ``json.dumps``'s ASCII text (an
        envelope), which holds no character SQS refuses, so that check is skipped."""
        if not message_attributes and not trace_header and isinstance(body, str) and body:
            # the common case (a fan-out's envelope): what _prepare checks of a body alone, without
            # building what only a SendMessage answer needs, the queue's settings kept briefly
            target = self._direct_target(ref)
            if target is None:
                return None
            name, max_size, delay_ms = target
            if len(body) * 4 > max_size and len(body.encode()) > max_size:
                return None
            if not ascii_json and q.has_invalid_characters(body):
                return None
            return name, NewMessage(ids.request_id(), body.encode(), None, None, None, delay_ms, None, None)
        doc = self.messages.get_queue(queue_name_of(ref))
        if doc is None or doc["attributes"].get("Policy"):
            return None
        attrs = QueueAttributes(doc["attributes"])
        if attrs.fifo:
            return None
        try:
            message, _ = self._prepare(attrs, body, None, message_attributes, None, None, None, False, trace_header)
        except SqsError:
            return None
        return doc["name"], message

    def _direct_target(self, ref: str) -> tuple[str, int, int] | None:
        """(name, MaximumMessageSize, delay in ms) of a standard queue without a policy, else None;
        kept ``_DIRECT_S`` (as the store's own cache shows another process's change only after its
        recheck; this service's own writes clear it at once)."""
        now = time.monotonic()
        found = self._direct.get(ref)
        if found is not None and found[0] > now:
            return found[1]
        doc = self.messages.get_queue(queue_name_of(ref))
        target = None
        if doc is not None and not doc["attributes"].get("Policy"):
            attrs = QueueAttributes(doc["attributes"])
            if not attrs.fifo:
                target = (str(doc["name"]), attrs.number("MaximumMessageSize"), attrs.number("DelaySeconds") * 1000)
        if len(self._direct) >= 4096:
            self._direct.clear()
        self._direct[ref] = (now + _DIRECT_S, target)
        return target

    # -- receiving ------------------------------------------------------------
    def receive_message(self, ref: str, max_messages: int | None = None, visibility_timeout: int | None = None,
                        wait_seconds: int | None = None, attribute_names: list[str] | None = None,
                        message_attribute_names: list[str] | None = None,
                        system_attribute_names: list[str] | None = None) -> list[dict[str, Any]]:
        name, attrs = self.attributes(ref)
        limit = _int_param("MaxNumberOfMessages", max_messages, 1, MAX_RECEIVE_LIMIT, 1)
        visibility = _int_param("VisibilityTimeout", visibility_timeout, 0, 43_200, attrs.number("VisibilityTimeout"))
        wait = _int_param("WaitTimeSeconds", wait_seconds, 0, 20, attrs.number("ReceiveMessageWaitTimeSeconds"))
        found = self.lease(name, attrs, limit, visibility, wait)
        wanted_sys = set(attribute_names or []) | set(system_attribute_names or [])
        return [self.to_aws(m, wanted_sys, message_attribute_names or []) for m in found]

    def lease(self, name: str, attrs: QueueAttributes, limit: int, visibility_s: int, wait_s: float,
              stop: Any = None) -> list[StoredMessage]:
        """Lease up to ``limit`` messages, waiting up to ``wait_s`` for the first (long polling)."""
        deadline = self.clock.monotonic() + wait_s
        redrive = attrs.redrive
        dlq = None
        if redrive is not None and self.messages.get_queue(queue_name_of(redrive[0])) is not None:
            dlq = (queue_name_of(redrive[0]), redrive[1])
        retention = attrs.number("MessageRetentionPeriod") * 1000
        while True:
            found = self.messages.receive(name, limit, visibility_s * 1000, clock_ms(self.clock), attrs.fifo, dlq,
                                          retention, self.arn(name))
            left = deadline - self.clock.monotonic()
            if found or left <= 0 or (stop is not None and stop.is_set()):
                if found:
                    self._count("NumberOfMessagesReceived", name, len(found))
                else:
                    self._count("NumberOfEmptyReceives", name, 1)
                return found
            self.wakeups.wait(name, left)

    def to_aws(self, m: StoredMessage, wanted_sys: set[str], wanted_attrs: list[str]) -> dict[str, Any]:
        body = m.body.decode()
        doc: dict[str, Any] = {"MessageId": m.id, "ReceiptHandle": m.receipt,
                               "MD5OfBody": hashlib.md5(m.body).hexdigest(), "Body": body}
        system = self.system_attributes(m)
        if wanted_sys:
            every = "All" in wanted_sys
            chosen = {k: v for k, v in system.items() if every or k in wanted_sys}
            if chosen:
                doc["Attributes"] = chosen
        if wanted_attrs and m.attrs:
            every = any(n in ("All", ".*") for n in wanted_attrs)
            chosen_attrs = {}
            for key, value in m.attrs.items():
                if every or key in wanted_attrs or any(n.endswith(".*") and key.startswith(n[:-1]) for n in wanted_attrs):
                    chosen_attrs[key] = value
            if chosen_attrs:
                doc["MessageAttributes"] = chosen_attrs
                doc["MD5OfMessageAttributes"] = q.md5_of_attributes(_decoded(chosen_attrs))
        return doc

    def system_attributes(self, m: StoredMessage) -> dict[str, str]:
        out = {"SenderId": self.account, "SentTimestamp": str(m.sent_ms),
               "ApproximateReceiveCount": str(m.receives),
               "ApproximateFirstReceiveTimestamp": str(m.first_receive_ms or m.sent_ms)}
        for key, value in (m.sys or {}).items():
            out[key] = str(value)
        if m.group_id is not None:
            out["SequenceNumber"] = m.sequence_number
        return out

    # -- acknowledging --------------------------------------------------------
    def delete_message(self, ref: str, receipt: str) -> None:
        name, _ = self._queue(ref)
        self._count("NumberOfMessagesDeleted", name, sum(self.messages.delete(name, [_receipt(receipt)])))

    def _count(self, metric: str, queue: str, n: int) -> None:
        if n and self.metrics.enabled:
            self.metrics.add("AWS/SQS", metric, (("QueueName", queue),), float(n), "Count")

    def delete_message_batch(self, ref: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        name, _ = self._queue(ref)
        _check_batch(entries)
        ok, failed, parsed = [], [], []
        for entry in entries:
            handle = parse_receipt(str(entry.get("ReceiptHandle", "")))
            if handle is None:
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": "ReceiptHandleIsInvalid",
                               "Message": f'The input receipt handle "{entry.get("ReceiptHandle")}" is not a valid '
                                          "receipt handle."})
            else:
                parsed.append((entry["Id"], handle))
        self._count("NumberOfMessagesDeleted", name, sum(self.messages.delete(name, [h for _, h in parsed])))
        ok = [{"Id": entry_id} for entry_id, _ in parsed]
        return {"Successful": ok, "Failed": failed}

    def change_message_visibility(self, ref: str, receipt: str, timeout: Any) -> None:
        name, _ = self._queue(ref)
        seconds = _int_param("VisibilityTimeout", timeout, 0, 43_200, None)
        handle = _receipt(receipt)
        now = clock_ms(self.clock)
        status = self.messages.change_visibility(name, handle, now + seconds * 1000, now)
        if status == "not-inflight":
            raise MessageNotInflight("Message does not exist or is not available for visibility timeout change.")
        if status == "gone":
            raise ReceiptHandleIsInvalid(f'The input receipt handle "{receipt}" is not a valid receipt handle.')

    def change_message_visibility_batch(self, ref: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._queue(ref)
        _check_batch(entries)
        ok, failed = [], []
        for entry in entries:
            try:
                self.change_message_visibility(ref, entry.get("ReceiptHandle", ""), entry.get("VisibilityTimeout"))
                ok.append({"Id": entry["Id"]})
            except SqsError as err:
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": err.code, "Message": err.message})
        return {"Successful": ok, "Failed": failed}

    # -- redrive back ---------------------------------------------------------
    def start_message_move_task(self, source_arn: str, destination_arn: str | None = None,
                                max_per_second: int | None = None) -> dict[str, Any]:
        source = queue_name_of(source_arn)
        if not source_arn or self.messages.get_queue(source) is None:
            raise ResourceNotFound("The resource that you specified for the SourceArn parameter doesn't exist.")
        if destination_arn:
            target = queue_name_of(destination_arn)
            if self.messages.get_queue(target) is None:
                raise ResourceNotFound("The resource that you specified for the DestinationArn parameter doesn't exist.")
            targets = [target]
        else:
            targets = [queue_name_of(u) for u in self.list_dead_letter_source_queues(source)]
            if len(targets) != 1:
                raise InvalidParameterValue("Source queue is not the dead-letter queue of exactly one queue: "
                                            "give a DestinationArn.")
        if max_per_second is not None and not 1 <= int(max_per_second) <= 500:
            raise InvalidParameterValue("MaxNumberOfMessagesPerSecond must be between 1 and 500.")
        moved = self.messages.move(source, targets[0], None, clock_ms(self.clock))
        handle = base64.urlsafe_b64encode(f"{source}:{uuid.uuid4()}".encode()).decode()
        _, doc = self._queue(source)
        task = {"TaskHandle": handle, "Status": "COMPLETED", "SourceArn": self.arn(source),
                "DestinationArn": self.arn(targets[0]), "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": moved, "StartedTimestamp": clock_ms(self.clock)}
        if max_per_second:
            task["MaxNumberOfMessagesPerSecond"] = int(max_per_second)
        doc.setdefault("move_tasks", []).insert(0, task)
        del doc["move_tasks"][10:]
        self.messages.put_queue(source, doc)
        self._direct.clear()
        return {"TaskHandle": handle}

    def list_message_move_tasks(self, source_arn: str, max_results: int | None = None) -> list[dict[str, Any]]:
        source = queue_name_of(source_arn)
        doc = self.messages.get_queue(source)
        if doc is None:
            raise ResourceNotFound("The resource that you specified for the SourceArn parameter doesn't exist.")
        return list(doc.get("move_tasks", []))[: max_results or 1]

    def sweep(self) -> int:
        """Drop messages past retention (run now and then by the workers)."""
        retention = {d["name"]: QueueAttributes(d["attributes"]).number("MessageRetentionPeriod") * 1000
                     for d in self.messages.list_queues()}
        return self.messages.sweep(clock_ms(self.clock), retention)


def _check_batch(entries: Any) -> None:
    if not entries:
        raise EmptyBatchRequest("There should be at least one SendMessageBatchRequestEntry in the request.")
    if not isinstance(entries, list):
        raise InvalidParameterValue("Entries must be a list.")
    if len(entries) > MAX_BATCH:
        raise TooManyEntriesInBatchRequest(f"Maximum number of entries per request are {MAX_BATCH}. "
                                           f"You have sent {len(entries)}.")
    seen = set()
    for entry in entries:
        entry_id = entry.get("Id") if isinstance(entry, dict) else None
        if not isinstance(entry_id, str) or not entry_id or len(entry_id) > 80 or set(entry_id) - BATCH_ID_RE_CHARS:
            raise InvalidBatchEntryId("A batch entry id can only contain alphanumeric characters, hyphens and "
                                      "underscores. It can be at most 80 letters long.")
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)


def _check_token(field: str, value: Any) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= 128 or any(not (33 <= ord(c) <= 126) for c in value):
        raise InvalidParameterValue(f"Value {value} for parameter {field} is invalid. Reason: it must be 1 to 128 "
                                    "characters of alphanumeric and punctuation.")


def _system_attributes(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if not isinstance(value, dict) or set(value) - {"AWSTraceHeader"}:
        raise InvalidParameterValue("Message system attribute name is invalid: only AWSTraceHeader is supported.")
    trace = value["AWSTraceHeader"]
    if not isinstance(trace, dict) or trace.get("DataType") != "String" or not trace.get("StringValue"):
        raise InvalidParameterValue("AWSTraceHeader must be a String attribute with a value.")
    return {"AWSTraceHeader": trace["StringValue"]}


def _int_param(name: str, value: Any, lo: int, hi: int, default: int | None) -> int:
    if value is None:
        if default is None:
            raise MissingParameter(f"The request must contain the parameter {name}.")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidParameterValue(f"Value {value} for parameter {name} is invalid. Reason: Must be between "
                                    f"{lo} and {hi}, if provided.")
    return value


def _receipt(receipt: Any) -> tuple[int, str]:
    if not isinstance(receipt, str) or not receipt:
        raise MissingParameter("The request must contain the parameter ReceiptHandle.")
    handle = parse_receipt(receipt)
    if handle is None:
        raise ReceiptHandleIsInvalid(f'The input receipt handle "{receipt}" is not a valid receipt handle.')
    return handle


def _decoded(attrs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: ({**v, "BinaryValue": base64.b64decode(v["BinaryValue"])} if "BinaryValue" in v else v)
            for k, v in attrs.items()}

