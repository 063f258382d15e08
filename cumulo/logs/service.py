"""CloudWatch Logs' log groups, streams and events, as its API names them (docs/logs.md).

Events live in the log store (``store.base.LogEvents``) under their group's key
(``observe.logs.log_group_key``: a function's ``/aws/lambda/<name>`` under the function's name), with
their stream; what the store cannot say is in documents: a group's settings (``log-group``: retention,
tags, creation time; written also by ``AWS::Logs::LogGroup``) and streams made before they hold events
(``log-stream``). A group exists when it has a document or holds events (Lambda makes a function's
group at its first line). A group without a document is kept ``default_retention_days``; one with a
document as the document says (none: forever, as AWS).

Positions in a group are ``(timestamp, id)``: reading goes in that order, and tokens name one.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from cumulo.errors import ServiceError
from cumulo.logs.insights import QueryError, compile_query, format_time
from cumulo.logs.patterns import Pattern, PatternError, compile_pattern
from cumulo.observe.logs import log_group_key
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, now_ms
from cumulo.store.base import LogEvents, LogRecord

__all__ = ["LogsService", "LogsError", "GROUP_DOCUMENT", "STREAM_DOCUMENT", "RETENTION_DAYS",
           "DEFAULT_RETENTION_DAYS", "not_found", "invalid_parameter"]

GROUP_DOCUMENT = "log-group"
STREAM_DOCUMENT = "log-stream"
# PutRetentionPolicy accepts these (and AWS::Logs::LogGroup's RetentionInDays).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
                  3653)
DEFAULT_RETENTION_DAYS = 30     # groups nobody configured (a function's, an API's access log): docs/logs.md
_DAY_MS = 86_400_000
_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_STREAM_NAME = re.compile(r"[^:*]{1,512}")
_TOKEN = re.compile(r"(?P<ts>-?\d{1,19})_(?P<id>\d{1,19})")
_FUNCTION_GROUP = "/aws/lambda/"

# PutLogEvents (AWS's quotas)
BATCH_MAX_BYTES = 1_048_576       # the sum of each message's UTF-8 bytes plus 26
BATCH_MAX_EVENTS = 10_000
EVENT_OVERHEAD = 26
BATCH_MAX_SPAN_MS = 24 * 3_600_000
TOO_NEW_MS = 2 * 3_600_000        # an event more than 2 hours ahead is rejected
TOO_OLD_MS = 14 * _DAY_MS         # ... and one older than 14 days
# reading
EVENTS_MAX = 10_000               # events in one answer (GetLogEvents, FilterLogEvents)
ANSWER_MAX_BYTES = 1_048_576      # ... and their messages' bytes
SCAN_BUDGET = 200_000             # candidate events one FilterLogEvents looks at before answering with a token
_CHUNK = 2_000
QUERY_SCAN_MAX = 1_000_000        # events one Insights query reads, at most (its statistics say how many)
QUERIES_KEPT = 100                # finished queries whose results GetQueryResults can still give


class LogsError(ServiceError):
    """CloudWatch Logs' errors, by the name boto3 reports."""


def not_found(message: str = "The specified log group does not exist.") -> LogsError:
    return LogsError("ResourceNotFoundException", message)


def invalid_parameter(message: str) -> LogsError:
    return LogsError("InvalidParameterException", message)


def already_exists(message: str) -> LogsError:
    return LogsError("ResourceAlreadyExistsException", message)


@dataclass(frozen=True)
class Group:
    name: str
    key: str
    doc: dict[str, Any] | None


class LogsService:
    def __init__(self, documents: Documents, events: LogEvents, region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK, flush: Callable[[], None] = lambda: None,
                 default_retention_days: int | None = DEFAULT_RETENTION_DAYS) -> None:
        self.documents, self.events, self.region, self.account = documents, events, region, account
        self.clock, self._flush, self.default_retention_days = clock, flush, default_retention_days
        self._lock = threading.RLock()
        self._queries: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # -- names ----------------------------------------------------------------------------------------
    def group_arn(self, name: str, star: bool = True) -> str:
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}" + (":*" if star else "")

    def _name_of(self, key: str, documented: set[str]) -> str:
        """The group whose events are kept under ``key``."""
        if key in documented or key.startswith("/"):
            return key
        return _FUNCTION_GROUP + key

    def group_name(self, name: Any = None, identifier: Any = None) -> str:
        """The group a request names: ``logGroupName``, or ``logGroupIdentifier`` (a name or an ARN)."""
        if name is not None and identifier is not None:
            raise invalid_parameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        value = identifier if name is None else name
        if not isinstance(value, str) or not value:
            raise invalid_parameter("Either logGroupName or logGroupIdentifier must be provided.")
        if value.startswith("arn:"):
            parts = value.split(":")
            if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
                raise invalid_parameter(f"Invalid log group ARN: {value[:200]}")
            value = parts[6]
        if not _GROUP_NAME.fullmatch(value):
            raise invalid_parameter(f"1 validation error detected: Value '{value[:200]}' at 'logGroupName' failed to "
                                    "satisfy constraint: Member must satisfy regular expression pattern: "
                                    "[\\.\\-_/#A-Za-z0-9]+")
        return value

    def _group(self, name: str) -> Group:
        doc = self.documents.get_document(GROUP_DOCUMENT, name)
        key = log_group_key(name)
        if doc is None and not self._holds_events(name, key):
            raise not_found()
        return Group(name, key, doc)

    def _holds_events(self, name: str, key: str) -> bool:
        return self._name_of(key, set()) == name and bool(self.events.scan_logs(key, -(2**62), 2**62, limit=1))

    def _groups(self) -> list[Group]:
        docs = {d["logGroupName"]: d for d in self.documents.list_documents(GROUP_DOCUMENT)}
        out = {name: Group(name, log_group_key(name), doc) for name, doc in docs.items()}
        for key in self.events.log_group_keys():
            name = self._name_of(key, set(docs))
            if name not in out:
                out[name] = Group(name, key, None)
        return [out[name] for name in sorted(out)]

    def retention_days(self, group: Group) -> int | None:
        if group.doc is None:
            return self.default_retention_days
        days = group.doc.get("retentionInDays")
        return int(days) if days else None

    # -- groups ---------------------------------------------------------------------------------------
    def create_group(self, name: str, tags: dict[str, str] | None = None) -> None:
        with self._lock:
            try:
                self._group(name)
            except LogsError:
                pass
            else:
                raise already_exists("The specified log group already exists")
            _check_tags(tags or {})
            self.documents.put_document(GROUP_DOCUMENT, name, {
                "logGroupName": name, "arn": self.group_arn(name), "retentionInDays": None, "tags": dict(tags or {}),
                "creationTime": now_ms(self.clock)})

    def delete_group(self, name: str) -> None:
        with self._lock:
            group = self._group(name)
            self.documents.delete_document(GROUP_DOCUMENT, name)
            for doc in self.documents.list_documents(STREAM_DOCUMENT):
                if doc["logGroupName"] == name:
                    self.documents.delete_document(STREAM_DOCUMENT, _stream_id(name, doc["logStreamName"]))
            self.events.prune_logs(group.key, None)

    def describe_groups(self, prefix: str | None = None, pattern: str | None = None) -> list[dict[str, Any]]:
        if prefix and pattern:
            raise invalid_parameter("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        out = []
        for group in self._groups():
            if prefix and not group.name.startswith(prefix):
                continue
            if pattern and pattern.lower() not in group.name.lower():
                continue
            out.append(self._describe(group))
        return out

    def _describe(self, group: Group) -> dict[str, Any]:
        created = (group.doc or {}).get("creationTime")
        if created is None:
            first = self.events.scan_logs(group.key, -(2**62), 2**62, limit=1)
            created = first[0].timestamp_ms if first else now_ms(self.clock)
        out: dict[str, Any] = {"logGroupName": group.name, "creationTime": created, "metricFilterCount": 0,
                               "arn": self.group_arn(group.name), "storedBytes": 0, "logGroupClass": "STANDARD",
                               "logGroupArn": self.group_arn(group.name, star=False)}
        days = self.retention_days(group)
        if days is not None:
            out["retentionInDays"] = days
        return out

    def put_retention(self, name: str, days: Any) -> None:
        if isinstance(days, bool) or not isinstance(days, int) or days not in RETENTION_DAYS:
            raise invalid_parameter(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                                    "satisfy constraint: Member must satisfy enum value set: "
                                    f"[{', '.join(map(str, RETENTION_DAYS))}]")
        self._set(name, retentionInDays=days)

    def delete_retention(self, name: str) -> None:
        self._set(name, retentionInDays=None)

    def _set(self, name: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            group = self._group(name)
            doc = dict(group.doc or {"logGroupName": name, "arn": self.group_arn(name), "tags": {},
                                     "creationTime": self._describe(group)["creationTime"],
                                     "retentionInDays": self.default_retention_days})
            doc.update(changes)
            self.documents.put_document(GROUP_DOCUMENT, name, doc)
            return doc

    def tags(self, name: str) -> dict[str, str]:
        doc = self._group(name).doc
        return dict((doc or {}).get("tags") or {})

    def tag(self, name: str, tags: dict[str, str]) -> None:
        with self._lock:
            merged = {**self.tags(name), **tags}
            _check_tags(merged)
            self._set(name, tags=merged)

    def untag(self, name: str, keys: Sequence[str]) -> None:
        with self._lock:
            self._set(name, tags={k: v for k, v in self.tags(name).items() if k not in set(keys)})

    def group_of_arn(self, arn: Any) -> str:
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise invalid_parameter("resourceArn must be a log group's ARN.")
        return self.group_name(identifier=arn)

    # -- streams --------------------------------------------------------------------------------------
    def _stream_docs(self, name: str) -> dict[str, dict[str, Any]]:
        return {d["logStreamName"]: d for d in self.documents.list_documents(STREAM_DOCUMENT)
                if d["logGroupName"] == name}

    def create_stream(self, group_name: str, stream: Any) -> None:
        with self._lock:
            group = self._group(group_name)
            _check_stream(stream)
            if stream in self._stream_docs(group_name) or self._span(group, stream) is not None:
                raise already_exists("The specified log stream already exists")
            self.documents.put_document(STREAM_DOCUMENT, _stream_id(group_name, stream), {
                "logGroupName": group_name, "logStreamName": stream, "creationTime": now_ms(self.clock)})

    def delete_stream(self, group_name: str, stream: Any) -> None:
        with self._lock:
            group = self._group(group_name)
            _check_stream(stream)
            had_doc = self.documents.delete_document(STREAM_DOCUMENT, _stream_id(group_name, stream))
            if not self.events.delete_log_stream(group.key, stream) and not had_doc:
                raise not_found("The specified log stream does not exist.")

    def describe_streams(self, group_name: str, prefix: str | None = None, order_by: str | None = None,
                         descending: bool = False) -> list[dict[str, Any]]:
        group = self._group(group_name)
        if order_by not in (None, "LogStreamName", "LastEventTime"):
            raise invalid_parameter("orderBy must be LogStreamName or LastEventTime.")
        if prefix and order_by == "LastEventTime":
            raise invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        self._flush()
        streams: dict[str, dict[str, Any]] = {}
        for name, doc in self._stream_docs(group_name).items():
            streams[name] = {"logStreamName": name, "creationTime": doc["creationTime"],
                             "arn": f"{self.group_arn(group_name, star=False)}:log-stream:{name}", "storedBytes": 0}
        for name, first, last in self.events.log_streams(group.key, prefix or ""):
            entry = streams.setdefault(name, {"logStreamName": name, "creationTime": first, "storedBytes": 0,
                                              "arn": f"{self.group_arn(group_name, star=False)}:log-stream:{name}"})
            entry.update(firstEventTimestamp=first, lastEventTimestamp=last, lastIngestionTime=last)
        found = [s for s in streams.values() if not prefix or s["logStreamName"].startswith(prefix)]
        if order_by == "LastEventTime":
            found.sort(key=lambda s: (s.get("lastEventTimestamp", 0), s["logStreamName"]), reverse=descending)
        else:
            found.sort(key=lambda s: s["logStreamName"], reverse=descending)
        return found

    def _span(self, group: Group, stream: str) -> tuple[int, int] | None:
        """(first, last) event time of a stream holding events: one row of the store's streams."""
        for name, first, last in self.events.log_streams(group.key, stream):
            if name == stream:
                return first, last
        return None

    def _stream_exists(self, group: Group, stream: str) -> bool:
        if self.documents.get_document(STREAM_DOCUMENT, _stream_id(group.name, stream)) is not None:
            return True
        return self._span(group, stream) is not None

    # -- writing --------------------------------------------------------------------------------------
    def put_events(self, group_name: str, stream: Any, events: Any) -> dict[str, Any]:
        group = self._group(group_name)
        _check_stream(stream)
        if not self._stream_exists(group, stream):
            raise not_found("The specified log stream does not exist.")
        if not isinstance(events, list) or not events:
            raise invalid_parameter("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "
                                    "Member must have length greater than or equal to 1")
        if len(events) > BATCH_MAX_EVENTS:
            raise invalid_parameter(f"1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "
                                    f"Member must have length less than or equal to {BATCH_MAX_EVENTS}")
        size = 0
        for e in events:
            if not isinstance(e, dict) or not isinstance(e.get("timestamp"), int) or not isinstance(e.get("message"), str):
                raise invalid_parameter("Each log event needs a timestamp (milliseconds) and a message.")
            if not e["message"]:
                raise invalid_parameter("A log event's message must not be empty.")
            size += len(e["message"].encode("utf-8", "replace")) + EVENT_OVERHEAD
        if size > BATCH_MAX_BYTES:
            raise invalid_parameter(f"Log events in a single PutLogEvents request cannot exceed {BATCH_MAX_BYTES} "
                                    f"bytes (each event's UTF-8 message plus {EVENT_OVERHEAD}); this one is {size}.")
        stamps = [e["timestamp"] for e in events]
        if any(b < a for a, b in zip(stamps, stamps[1:])):
            raise invalid_parameter("Log events in a single PutLogEvents request must be in chronological order.")
        if stamps[-1] - stamps[0] > BATCH_MAX_SPAN_MS:
            raise invalid_parameter("The batch of log events in a single PutLogEvents request cannot span more than "
                                    "24 hours.")
        now = now_ms(self.clock)
        days = self.retention_days(group)
        expired_before = now - days * _DAY_MS if days else None
        rejected: dict[str, int] = {}
        kept = []
        for i, ts in enumerate(stamps):
            if ts > now + TOO_NEW_MS:
                rejected.setdefault("tooNewLogEventStartIndex", i)
            elif expired_before is not None and ts < expired_before:
                rejected["expiredLogEventEndIndex"] = i
            elif ts < now - TOO_OLD_MS:
                rejected["tooOldLogEventEndIndex"] = i
            else:
                kept.append(LogRecord(group.key, "", stream, None, ts, events[i]["message"]))
        self.events.append_logs(kept)
        return {"rejectedLogEventsInfo": rejected} if rejected else {}

    # -- reading --------------------------------------------------------------------------------------
    def get_events(self, group_name: str, stream: Any, start: Any = None, end: Any = None, token: Any = None,
                   limit: Any = None, from_head: Any = None) -> dict[str, Any]:
        group = self._group(group_name)
        _check_stream(stream)
        size = _limit(limit, EVENTS_MAX)
        lo, hi = _range(start, end)
        self._flush()
        if not self._stream_exists(group, stream):
            raise not_found("The specified log stream does not exist.")
        direction, position = "", None
        if token is not None:
            if not isinstance(token, str) or token[:2] not in ("f/", "b/"):
                raise invalid_parameter("The specified nextToken is invalid.")
            direction, position = token[0], _position(token[2:])
        # the scan ranges over the group's lines by time: bounded by the stream's own first and last
        # event, it reads no other stream's lines from before the stream began or after it ended
        span = self._span(group, stream)
        scan_lo, scan_hi = (lo, hi) if span is None else (max(lo, span[0]), min(hi, span[1] + 1))
        if span is None or scan_lo >= scan_hi:
            records = []
        elif direction == "b":
            records = self.events.scan_logs(group.key, scan_lo, scan_hi, before=position, streams=[stream], limit=size)
        elif direction == "f" or from_head:
            records = self.events.scan_logs(group.key, scan_lo, scan_hi, after=position, streams=[stream], limit=size)
        else:
            records = self.events.scan_logs(group.key, scan_lo, scan_hi, before=(2**62, 0), streams=[stream],
                                            limit=size)
        records = _within_bytes(records)
        if records:
            first, last = _token(records[0]), _token(records[-1])
        else:   # nothing more this way: the same token again (how a client knows it reached the end)
            here = token[2:] if isinstance(token, str) else (_format(lo - 1, 2**62) if from_head or direction == "b"
                                                              else _format(hi, 0))
            first = last = here
        return {"events": [{"timestamp": r.timestamp_ms, "message": r.message, "ingestionTime": r.timestamp_ms}
                           for r in records],
                "nextForwardToken": f"f/{last}", "nextBackwardToken": f"b/{first}"}

    def filter_events(self, group_name: str, pattern_text: Any = None, streams: Any = None, stream_prefix: Any = None,
                      start: Any = None, end: Any = None, token: Any = None, limit: Any = None) -> dict[str, Any]:
        group = self._group(group_name)
        if streams is not None and stream_prefix is not None:
            raise invalid_parameter("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        pattern = self.pattern(pattern_text)
        size = _limit(limit, EVENTS_MAX)
        lo, hi = _range(start, end)
        position = None
        if token is not None:
            if not isinstance(token, str):
                raise invalid_parameter("The specified nextToken is invalid.")
            position = _position(token)
        self._flush()
        only: list[str] | None = None
        if streams is not None:
            if not isinstance(streams, list) or not 1 <= len(streams) <= 100:
                raise invalid_parameter("logStreamNames must name 1 to 100 streams.")
            only = [str(s) for s in streams]
        elif stream_prefix:
            only = [s for s, _, _ in self.events.log_streams(group.key, str(stream_prefix))]
            if not only:
                return {"events": [], "searchedLogStreams": []}
        found: list[LogRecord] = []
        scanned, size_bytes, full, exhausted = 0, 0, False, False
        while not full and scanned < SCAN_BUDGET:
            want = _CHUNK if pattern.kind != "all" and not pattern.required else min(_CHUNK, size - len(found))
            chunk = self.events.scan_logs(group.key, lo, hi, after=position, streams=only, contains=pattern.required,
                                          lacks=pattern.excluded, limit=want)
            for record in chunk:
                position = (record.timestamp_ms, record.id)
                scanned += 1
                if pattern.match(record.message):
                    found.append(record)
                    size_bytes += len(record.message) + EVENT_OVERHEAD
                    full = len(found) >= size or size_bytes >= ANSWER_MAX_BYTES
                    if full:
                        break
            if len(chunk) < want and (not chunk or position == (chunk[-1].timestamp_ms, chunk[-1].id)):
                exhausted = True
                break
        out: dict[str, Any] = {
            "events": [{"logStreamName": r.stream, "timestamp": r.timestamp_ms, "message": r.message,
                        "ingestionTime": r.timestamp_ms, "eventId": _event_id(r)} for r in found],
            "searchedLogStreams": []}
        if not exhausted and position is not None:
            out["nextToken"] = _format(*position)
        return out

    @staticmethod
    def pattern(text: Any) -> Pattern:
        if text is not None and not isinstance(text, str):
            raise invalid_parameter("filterPattern must be a string.")
        try:
            return compile_pattern(text)
        except PatternError as exc:
            raise invalid_parameter(exc.message) from None

    # -- Logs Insights --------------------------------------------------------------------------------
    def start_query(self, group_names: list[str], start_s: Any, end_s: Any, text: Any, limit: Any = None) -> str:
        """Run an Insights query (``cumulo.logs.insights``) over the groups' events from ``start_s`` to
        ``end_s`` (seconds) at once; its results wait for GetQueryResults under the id answered."""
        if not group_names:
            raise invalid_parameter("Name at least one log group (logGroupName, logGroupNames or logGroupIdentifiers).")
        if len(group_names) > 50:
            raise invalid_parameter("A query reads at most 50 log groups.")
        for value in (start_s, end_s):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise invalid_parameter("startTime and endTime are seconds since the epoch.")
        if end_s < start_s:
            raise invalid_parameter("endTime must not be before startTime.")
        try:
            query = compile_query(text)
        except QueryError as exc:
            raise LogsError("MalformedQueryException", exc.message) from None
        size = _limit(limit, EVENTS_MAX)
        groups = [self._group(name) for name in group_names]
        self._flush()
        events: list[dict[str, Any]] = []
        for group in groups:
            position = None
            while len(events) < QUERY_SCAN_MAX:
                chunk = self.events.scan_logs(group.key, start_s * 1000, end_s * 1000 + 1000, after=position,
                                              limit=min(10_000, QUERY_SCAN_MAX - len(events)))
                events += [{"@timestamp": r.timestamp_ms, "@message": r.message, "@logStream": r.stream,
                            "@log": f"{self.account}:{group.name}", "@ingestionTime": r.timestamp_ms}
                           for r in chunk]
                if len(chunk) < 10_000:
                    break
                position = (chunk[-1].timestamp_ms, chunk[-1].id)
        rows, matched = query.run(events, size)
        query_id = str(uuid.uuid4())
        with self._lock:
            self._queries[query_id] = {
                "status": "Complete", "results": rows, "queryString": text, "logGroupName": group_names[0],
                "createTime": now_ms(self.clock),
                "statistics": {"recordsMatched": float(matched), "recordsScanned": float(len(events)),
                               "bytesScanned": float(sum(len(e["@message"]) for e in events))}}
            while len(self._queries) > QUERIES_KEPT:
                self._queries.popitem(last=False)
        return query_id

    def query_results(self, query_id: Any) -> dict[str, Any]:
        with self._lock:
            found = self._queries.get(query_id) if isinstance(query_id, str) else None
        if found is None:
            raise not_found("The specified query does not exist (or is too old to be kept).")
        return {"results": found["results"], "statistics": found["statistics"], "status": found["status"]}

    def stop_query(self, query_id: Any) -> bool:
        self.query_results(query_id)
        return False          # a query is complete by the time StartQuery answers: nothing to stop

    def describe_queries(self, group_name: str | None = None, status: Any = None) -> list[dict[str, Any]]:
        with self._lock:
            found = list(self._queries.items())
        return [{"queryId": qid, "queryString": q["queryString"], "status": q["status"], "createTime": q["createTime"],
                 "logGroupName": q["logGroupName"]}
                for qid, q in reversed(found)
                if (group_name is None or q["logGroupName"] == group_name) and (status is None or q["status"] == status)]

    # -- retention ------------------------------------------------------------------------------------
    def sweep(self) -> int:
        """Every group's events older than its retention go (the housekeeper's sweep); how many went."""
        now = now_ms(self.clock)
        pruned = 0
        for group in self._groups():
            days = self.retention_days(group)
            if days:
                pruned += self.events.prune_logs(group.key, now - days * _DAY_MS)
        return pruned


def _stream_id(group: str, stream: str) -> str:
    return f"{group}:{stream}"


def _check_stream(stream: Any) -> None:
    if not isinstance(stream, str) or not _STREAM_NAME.fullmatch(stream):
        raise invalid_parameter("logStreamName must be 1 to 512 characters, none of them ':' or '*'.")


def _check_tags(tags: Any) -> None:
    if not isinstance(tags, dict) or len(tags) > 50 or not all(
            isinstance(k, str) and isinstance(v, str) and 1 <= len(k) <= 128 and len(v) <= 256 for k, v in tags.items()):
        raise invalid_parameter("tags: at most 50, keys of 1 to 128 and values of at most 256 characters.")


def _limit(limit: Any, most: int) -> int:
    if limit is None:
        return most
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= most:
        raise invalid_parameter(f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
                                f"constraint: Member must have value between 1 and {most}")
    return limit


def _range(start: Any, end: Any) -> tuple[int, int]:
    for value in (start, end):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise invalid_parameter("startTime and endTime are milliseconds since the epoch (0 or more).")
    lo = 0 if start is None else start
    hi = 2**62 if end is None else end
    if hi < lo:
        raise invalid_parameter("endTime must not be before startTime.")
    return lo, hi


def _format(ts: int, ident: int) -> str:
    return f"{ts}_{ident}"


def _token(record: LogRecord) -> str:
    return _format(record.timestamp_ms, record.id)


def _position(text: str) -> tuple[int, int]:
    m = _TOKEN.fullmatch(text)
    if m is None:
        raise invalid_parameter("The specified nextToken is invalid.")
    return int(m.group("ts")), int(m.group("id"))


def _event_id(record: LogRecord) -> str:
    """AWS's event ids are 56 digits; ours say the position (timestamp, id) the same way."""
    return f"{max(record.timestamp_ms, 0):020d}{record.id:036d}"


def _within_bytes(records: list[LogRecord]) -> list[LogRecord]:
    total = 0
    for i, r in enumerate(records):
        total += len(r.message) + EVENT_OVERHEAD
        if total > ANSWER_MAX_BYTES:
            return records[:max(i, 1)]
    return records
