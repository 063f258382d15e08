"""The message store's ports: what services and workers ask of it, whatever the database.

``store/base.py`` is the protocol of the documents store (functions, keys, logs, documents); this
module is the protocol of the *message* store, one per concern, and the values that cross them:

- ``QueueMessages``: SQS queues and the platform's internal queues (asynchronous events ``~async``,
  the event bus's events and deliveries, the state machines' inbox). A receive is a lease.
- ``StreamRecords``: stream records by shard, and pollers' checkpoints.
- ``Executions``: Standard state-machine executions, every step durable: state, history, timers,
  task tokens.
- ``TableItems``: DynamoDB-style tables (one JSON document each) and their items by encoded key,
  with secondary-index entries and TTL expiry times; a ``transaction`` also appends stream records,
  so an item's change and its stream record commit together.
- ``Leases``: a named job held by one process at a time (the scheduler, the state-machine engine).
- ``Wakeups``: the wake-up port. Who waits for a topic (a queue's name, ``stream_topic(name)``)
  sleeps until a write notifies it, instead of polling.
- ``ObjectIndex``: S3 buckets, objects' metadata (their bodies are files), multipart uploads; a
  write commits the notifications it causes (outbox messages) in its own transaction.
- ``MessageStore``: one backend's set of them, on one database, closed together.

Services and workers are typed against these protocols only; ``cumulo/app.py`` (the composition
root) picks the implementation (today ``store/sqlite_messages/``), and
``tests/unit/store/test_contract_*.py`` hold every implementation to the same behaviour.

Time is the store's unit: wall-clock milliseconds (``now_ms``), always passed in by the caller.
Every method is one transaction; nothing holds one open across calls. Implementations are safe to
share between threads.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, ContextManager, Iterable, Iterator, Protocol, Sequence

__all__ = ["NewMessage", "StoredMessage", "parse_receipt", "stream_topic", "lease_owner", "now_ms", "deleted_per_receipt",
           "QueueMessages", "StreamRecords", "TableItems", "ItemTransaction", "ItemRow", "Executions", "Leases",
           "Wakeups", "MessageStore", "ObjectRow", "PartRow", "ObjectIndex", "ObjectBodies", "MetricPoint", "MetricData",
           "TraceSegments"]

_SEQ = re.compile(r"[0-9]{1,18}")   # a receipt's sequence (str.isdigit() takes '²', which int() refuses)


# -- values -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewMessage:
    id: str
    body: bytes
    attrs: dict[str, Any] | None = None         # message attributes (JSON-able; binary as base64)
    sys: dict[str, Any] | None = None           # system attributes: MessageGroupId, AWSTraceHeader …
    group_id: str | None = None
    delay_ms: int = 0
    lease_ms: int | None = None                 # a receive's lease for this message, if not the queue's
    dedup_id: str | None = None


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    id: str
    body: bytes
    attrs: dict[str, Any] | None
    sys: dict[str, Any] | None
    group_id: str | None
    sent_ms: int
    receives: int
    first_receive_ms: int | None
    receipt: str        # "<seq>-<token>", token 16 hex digits: names this lease (``parse_receipt``)

    @property
    def sequence_number(self) -> str:
        return f"{self.seq:020d}"


def parse_receipt(receipt: str) -> tuple[int, str] | None:
    """A receipt handle's (seq, token), what ``delete``, ``release`` and ``change_visibility`` take;
    None for a handle no store could have written."""
    seq, sep, token = receipt.partition("-")
    if not sep or not _SEQ.fullmatch(seq) or len(token) != 16:
        return None
    return int(seq), token


def stream_topic(stream: str) -> str:
    """What a stream's pollers wait on (``Wakeups``): apart from queues' names, which are topics as
    they are."""
    return "stream:" + stream


def lease_owner() -> str:
    """A lease holder's name: this host, this process, and a nonce (``host|pid|nonce``)."""
    return f"{socket.gethostname()}|{os.getpid()}|{secrets.token_hex(4)}"


def now_ms() -> int:
    """Wall-clock milliseconds, the store's time unit."""
    return int(time.time() * 1000)


def deleted_per_receipt(receipts: list[tuple[int, str]], found: set[int]) -> list[bool]:
    """Per receipt (message sequence, lease), whether it deleted its message, given the sequences a
    batch delete removed (``found``, consumed): a receipt named twice deletes once."""
    out = []
    for seq, _ in receipts:
        out.append(seq in found)
        found.discard(seq)
    return out


# -- the concerns -------------------------------------------------------------------------------
class QueueMessages(Protocol):
    """Queues (one JSON document each) and their messages.

    A receive is a lease: the message stays invisible until ``visible_ms`` and gets a fresh receipt,
    in one transaction; a consumer that dies never deletes, and the message comes back when the
    lease runs out. A receipt names the row *and* the lease, so one from an older receive can never
    delete, extend or release a message since handed to someone else."""

    # queues' documents
    def create_queue(self, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Insert ``doc`` unless the queue exists; the existing document if it does."""
    def get_queue(self, name: str) -> dict[str, Any] | None:
        """A copy of the queue's document: read on every send and receive, so it may be cached, as
        long as this store's own writes show at once."""
    def put_queue(self, name: str, doc: dict[str, Any]) -> bool: ...      # False: no such queue
    def list_queues(self) -> list[dict[str, Any]]: ...                    # by name
    def delete_queue(self, name: str) -> bool:
        """The queue with its messages and deduplication ids."""

    # messages: each write that makes a message visible now notifies the queue's topic
    def send(self, queue: str, messages: Iterable[NewMessage], now_ms: int,
             dedup_window_ms: int = 300_000, dedup_scope_by_group: bool = False) -> list[tuple[str, int]]:
        """Commit messages; (message id, seq) per message, seqs increasing. A deduplication id seen
        within the window answers the original message's id and seq, and stores nothing."""
    def send_many(self, batches: dict[str, list[NewMessage]], now_ms: int) -> None:
        """Messages for several queues (no deduplication ids) in one transaction: all or none."""
    def receive(self, queue: str, limit: int, visibility_ms: int, now_ms: int, fifo: bool = False,
                redrive: tuple[str, int] | None = None, retention_ms: int | None = None,
                source_arn: str | None = None) -> list[StoredMessage]:
        """Lease up to ``limit`` visible messages, oldest first, for the message's own ``lease_ms`` or
        else ``visibility_ms``. FIFO: none from a group with a message in flight. ``redrive``
        (dead-letter queue, maxReceiveCount): a message received that many times moves there
        instead (visible at once, ``DeadLetterQueueSourceArn`` = ``source_arn`` in its system
        attributes, its receive count back to 0). Messages past ``retention_ms`` are dropped."""
    def delete(self, queue: str, receipts: list[tuple[int, str]]) -> list[bool]:
        """By receipt; False for one that no longer holds its message (deleted, or received since)."""
    def change_visibility(self, queue: str, receipt: tuple[int, str], visible_ms: int, now_ms: int) -> str:
        """'ok', 'gone' (no such lease), or 'not-inflight' (the lease already ran out)."""
    def release(self, queue: str, receipts: list[tuple[int, str]], visible_ms: int,
                sys_attrs: dict[str, Any] | None = None) -> None:
        """Leased messages visible again at ``visible_ms`` (a retry's delay, or now), with new system
        attributes when given, in one transaction."""
    def queue_stats(self, queue: str) -> tuple[int, int]: ...             # (messages, bytes of bodies)
    def scan(self, queue: str, batch: int = 500) -> Iterator[bytes]:
        """Every body, oldest first, without leasing (archives)."""
    def purge(self, queue: str) -> int: ...                               # messages dropped
    def counts(self, queue: str, now_ms: int) -> tuple[int, int, int]: ...   # (visible, in flight, delayed)
    def oldest_sent_ms(self, queue: str) -> int | None:
        """When the oldest message still in the queue was sent (None: the queue is empty)."""
    def move(self, source: str, target: str, limit: int | None, now_ms: int) -> int:
        """Up to ``limit`` (None: all) visible messages to another queue, oldest first, as never
        received (a redrive back); how many moved."""
    def sweep(self, now_ms: int, retention: dict[str, int]) -> int:
        """Drop messages older than their queue's retention (ms, by queue) and expired deduplication
        ids; how many messages."""


class StreamRecords(Protocol):
    """Streams (one JSON document each), their records by shard, and consumers' checkpoints."""

    def create_stream(self, name: str, doc: dict[str, Any]) -> bool: ...  # False: it exists
    def get_stream(self, name: str) -> dict[str, Any] | None: ...
    def list_streams(self) -> list[dict[str, Any]]: ...                   # by name
    def delete_stream(self, name: str) -> bool: ...                        # with its records
    def put_records(self, stream: str, records: list[tuple[int, str, bytes]], now_ms: int) -> list[int]:
        """Append (shard, partition key, data) records in one transaction; each one's seq, which
        counts up per shard from 1, and never restarts. Notifies ``stream_topic(stream)``."""
    def read_records(self, stream: str, shard: int, after_seq: int, limit: int) -> list[tuple[int, str, bytes, int]]:
        """(seq, partition key, data, arrival ms) of the records after ``after_seq``, in order."""
    def shard_bounds(self, stream: str, shard: int) -> tuple[int, int]:
        """(first seq, last seq) held for a shard; (0, 0) when it never had a record."""
    def seq_at(self, stream: str, shard: int, timestamp_ms: int) -> int:
        """The seq just before the first record that arrived at or after ``timestamp_ms`` (the last
        seq when there is none)."""
    def trim_records(self, stream: str, before_ms: int) -> int:
        """Drop records that arrived before ``before_ms``, but a shard's newest; how many."""
    def get_checkpoint(self, consumer: str, shard: str) -> int | None: ...
    def set_checkpoint(self, consumer: str, shard: str, seq: int) -> None: ...
    def delete_checkpoints(self, consumer: str) -> None: ...


ItemRow = tuple[bytes, bytes, str]      # (partition key, sort key, the item's JSON); keys sortable bytes


class ItemTransaction(Protocol):
    """One write transaction on tables' items (``TableItems.transaction``): reads see its own
    writes; nothing is kept unless the block ends without an exception."""

    def get(self, table: str, pk: bytes, sk: bytes) -> str | None: ...
    def put(self, table: str, pk: bytes, sk: bytes, item: str, expires: int | None = None,
            index_keys: Iterable[tuple[str, bytes, bytes]] | None = ()) -> None:
        """Insert or replace the item, its secondary-index entries (index, index pk, index sk) being
        exactly ``index_keys`` afterwards (None: the table has no index, nothing to keep), and its
        TTL expiry (epoch seconds) ``expires``."""
    def delete(self, table: str, pk: bytes, sk: bytes) -> bool: ...      # with its index entries
    def append_record(self, stream: str, partition_key: str, data: bytes, now_ms: int) -> int:
        """A record on shard 0 of ``stream`` (``StreamRecords``' records), its seq; its topic is
        notified once the transaction commits."""


class TableItems(Protocol):
    """Tables (one JSON document each) and their items, keyed by (table, pk, sk) as sortable bytes.
    Secondary indexes are entries (index, index pk, index sk) → the item's key, read in key order."""

    def create_table(self, name: str, doc: dict[str, Any]) -> bool: ...  # False: it exists
    def get_table(self, name: str) -> dict[str, Any] | None: ...
    def put_table(self, name: str, doc: dict[str, Any]) -> bool: ...     # False: no such table
    def list_tables(self) -> list[str]: ...                               # by name
    def delete_table(self, name: str) -> bool: ...                        # with its items and entries
    def delete_index(self, table: str, index: str) -> None: ...
    def transaction(self) -> ContextManager[ItemTransaction]: ...
    def get(self, table: str, pk: bytes, sk: bytes) -> str | None: ...
    def query(self, table: str, index: str, pk: bytes, low: tuple[bytes, bool] | None,
              high: tuple[bytes, bool] | None, forward: bool, after: tuple[bytes, ...] | None,
              limit: int) -> list[tuple[tuple[bytes, ...], str]]:
        """Items of one partition of the table (``index`` "") or of an index, sort key within
        ``low``/``high`` (bound, inclusive), in sort-key order (descending unless ``forward``),
        after the position ``after``; each with its position (table: (sk,); index: (isk, pk, sk))."""
    def scan(self, table: str, index: str, after: tuple[bytes, ...] | None, limit: int,
             segment: int = 0, segments: int = 1) -> list[tuple[tuple[bytes, ...], str]]:
        """Items in key order after ``after`` (table: (pk, sk); index: (ipk, isk, pk, sk)), those of
        one segment of ``segments`` (by partition key)."""
    def stats(self, table: str) -> tuple[int, int]: ...                   # (items, bytes of JSON)
    def expired(self, table: str, now_s: int, limit: int) -> list[tuple[bytes, bytes, str]]:
        """Items whose expiry is at or before ``now_s``: (pk, sk, item JSON)."""


class Executions(Protocol):
    """Standard state-machine executions: each transition is one durable step."""

    def insert_execution(self, arn: str, machine: str, name: str, started_ms: int, doc: dict[str, Any]) -> bool:
        """A RUNNING execution; False (and nothing written) when the ARN exists."""
    def get_execution(self, arn: str) -> tuple[str, str, int, int | None, dict[str, Any]] | None:
        """(status, name, started ms, stopped ms, document)."""
    def list_executions(self, machine: str, status: str | None = None, after: tuple[int, str] | None = None,
                        limit: int | None = None) -> list[tuple[str, str, str, int, int | None]]:
        """(arn, name, status, started ms, stopped ms), newest first (then by ARN); ``after``: only
        those after the position (started ms, ARN) of the page before; at most ``limit``. A page
        is one range of an index: its cost does not grow with the executions kept."""
    def running_executions(self) -> list[str]: ...
    def redrives(self, machine: str, arns: Sequence[str] | None = None) -> dict[str, tuple[int, float]]:
        """ARN -> (redriveCount, redriveDate in seconds) of the machine's executions that were redriven
        (the document's ``redriveCount`` above 0); with ``arns`` (the machine's), only those, read
        by their key: the cost of a page, not of every execution kept."""
    def save_step(self, arn: str, status: str, stopped_ms: int | None, doc: dict[str, Any] | str,
                  events: list[tuple[int, str]], timers_add: list[tuple[str, int]], timers_del: list[str],
                  tokens_add: list[tuple[str, str]]) -> None:
        """One transition, atomically: the new status and document (or its JSON text), history events (id, JSON),
        timers (id, fire ms) added and deleted, task tokens (token, task id) added. An execution
        that is no longer RUNNING loses its timers and tokens."""
    def history(self, arn: str, after_id: int = 0, limit: int = 1000, reverse: bool = False) -> list[str]:
        """Events after ``after_id`` in order, or (``reverse``) before it (0: the end), newest first."""
    def due_timers(self, now_ms: int) -> list[tuple[str, str]]:
        """(arn, timer id) of timers due, soonest first, at most 500."""
    def next_timer_ms(self) -> int | None: ...
    def delete_timer(self, arn: str, timer_id: str) -> None: ...
    def task_token(self, token: str) -> tuple[str, str] | None: ...       # (arn, task id)
    def delete_task_token(self, token: str) -> None: ...


class Leases(Protocol):
    """A job that one process does at a time (the scheduler, the state-machine engine)."""

    def take_lease(self, name: str, owner: str, ttl_ms: int, now_ms: int) -> bool:
        """Hold (or renew) the lease ``name`` for ``owner`` (a ``lease_owner()``) until now + ttl;
        False while another owner holds it. A holder on this host whose process is gone loses it
        at once, not after its TTL."""


class Wakeups(Protocol):
    """The wake-up port: sleep until what a topic names may have changed.

    A topic is a queue's name or ``stream_topic(name)``. The store notifies a topic after each
    commit that makes something there available now (a send, a release or a change of visibility
    due now, a move, a dead letter, a put of records); inserting an execution notifies no topic,
    which wakes only those waiting for anything. A notify wakes the waiters of its topics and those
    waiting for anything (``topic=None``), no others. A wait ends at a notify made while it waits,
    at its timeout, or sooner (an implementation may re-check on its own): waiters always look
    again at what they wait for. SQLite: conditions in this process, re-checking now and then for
    other processes' commits; PostgreSQL: LISTEN/NOTIFY."""

    def notify(self, *topics: str) -> None: ...
    def wait(self, topic: str | None, timeout_s: float) -> None: ...


@dataclass(frozen=True)
class ObjectRow:
    """An object's metadata; ``blob`` names the file holding its bytes (``objects/files.py``)."""

    key: str
    blob: str
    size: int
    etag: str                                   # quoted, as S3 answers it
    modified_ms: int
    meta: dict[str, Any]                        # content headers, user metadata, checksums, tags
    version_id: str = "null"                    # S3's version id ("null": written while unversioned)
    marker: bool = False                        # a delete marker (no bytes: blob "")
    latest: bool = True                         # the key's latest version


@dataclass(frozen=True)
class PartRow:
    number: int
    blob: str
    size: int
    etag: str
    modified_ms: int


class ObjectIndex(Protocol):
    """Buckets (one JSON document each), objects' metadata, multipart uploads and their parts.

    A write that replaces or removes an object answers the old row, so that its file can go once
    the transaction committed; ``outbox`` messages (queue name, message) are committed in the same
    transaction as the write they describe, so that an acknowledged write never loses its
    notifications. Keys compare as their UTF-8 bytes (S3's order)."""

    def create_bucket(self, name: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Insert unless it exists; the existing document if it does."""
    def get_bucket(self, name: str) -> dict[str, Any] | None: ...
    def put_bucket(self, name: str, doc: dict[str, Any], outbox: list[tuple[str, NewMessage]] | None = None,
                   now_ms: int = 0) -> bool: ...
    def list_buckets(self) -> list[dict[str, Any]]: ...                   # by name
    def delete_bucket(self, name: str) -> str:
        """'ok', 'gone' (no such bucket) or 'not-empty' (objects, versions or uploads in it)."""

    def put_object(self, bucket: str, row: ObjectRow, now_ms: int, outbox: list[tuple[str, NewMessage]] | None = None,
                   if_match: str | None = None, if_none_match: bool = False,
                   versioning: str = "") -> tuple[str, ObjectRow | None]:
        """('ok', the row replaced for good) or, writing nothing: ('no-bucket', None), ('exists', row)
        with ``if_none_match`` and an object there, ('missing', None) / ('mismatch', row) when
        ``if_match`` (an ETag) does not hold. ``versioning`` is the bucket's ("" never enabled,
        "Enabled", "Suspended"): in a versioned bucket ``row`` (an object, or a delete marker) becomes
        the key's latest version and the one before is kept, except a suspended bucket's ``null``
        version, which is replaced (the row answered)."""
    def get_object(self, bucket: str, key: str) -> ObjectRow | None: ...     # the current object
    def get_version(self, bucket: str, key: str, version_id: str | None) -> ObjectRow | None:
        """One version (a delete marker too), ``latest`` set; None: the latest."""
    def delete_version(self, bucket: str, key: str, version_id: str, now_ms: int,
                       outbox: list[tuple[str, NewMessage]] | None = None) -> ObjectRow | None:
        """Remove one version for good (the newest remaining becomes current when it was the
        latest); the row removed, None when there was none (and the outbox is not written)."""
    def update_meta(self, bucket: str, key: str, version_id: str | None, meta: dict[str, Any]) -> bool:
        """Replace one object version's ``meta`` (None: the current one); False when there is none."""
    def delete_object(self, bucket: str, key: str, now_ms: int,
                      outbox: list[tuple[str, NewMessage]] | None = None,
                      if_blob: str | None = None) -> ObjectRow | None:
        """The row removed (None: nothing there, and the outbox is not written). ``if_blob``: only
        while the object is still the one whose bytes are that file (lifecycle expiration must not
        take a newer write of the key)."""
    def list_objects(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRow]:
        """Current objects whose key starts with ``prefix`` and sorts after ``after``, in order."""
    def list_versions(self, bucket: str, prefix: str, after: str, limit: int,
                      key: str | None = None) -> list[ObjectRow]:
        """Every version and delete marker of the keys that start with ``prefix`` and sort after
        ``after`` (or of ``key`` alone): by key, newest first; ``latest`` set."""
    def noncurrent_since(self, bucket: str, key: str, version_id: str) -> int | None:
        """When a noncurrent version stopped being current (None: it is not one)."""

    def create_upload(self, upload_id: str, bucket: str, key: str, meta: dict[str, Any], now_ms: int) -> bool: ...
    def get_upload(self, upload_id: str) -> tuple[str, str, dict[str, Any], int] | None:
        """(bucket, key, meta, initiated ms)."""
    def list_uploads(self, bucket: str) -> list[tuple[str, str, int]]: ...   # (key, upload id, initiated ms)
    def put_part(self, upload_id: str, part: PartRow) -> tuple[bool, PartRow | None]:
        """(False, None) when the upload is gone; else the part replaced."""
    def list_parts(self, upload_id: str) -> list[PartRow]: ...
    def complete_upload(self, upload_id: str, bucket: str, row: ObjectRow, now_ms: int,
                        outbox: list[tuple[str, NewMessage]] | None = None,
                        versioning: str = "") -> tuple[bool, ObjectRow | None, list[PartRow]]:
        """The object in place of the upload, atomically: (False, …) when the upload is gone;
        else the row replaced for good (as ``put_object``) and every part (their files are no
        longer needed)."""
    def abort_upload(self, upload_id: str) -> list[PartRow] | None: ...   # None: no such upload
    def blobs(self) -> set[str]:
        """Every file name a row names (objects and parts): the rest are leftovers of a crash."""


@dataclass
class MetricPoint:
    """One metric's statistics over one period (``ts``: the period's start, epoch seconds):
    SampleCount, Sum, Minimum, Maximum and a histogram (bucket index -> count) for percentiles.
    ``dims``: the dimensions as canonical JSON (a sorted list of [name, value] pairs)."""

    namespace: str
    metric: str
    dims: str
    ts: int
    count: float
    sum: float
    min: float
    max: float
    hist: dict[int, float]
    unit: str = "None"


class MetricData(Protocol):
    """CloudWatch's metric data, kept at several periods (1, 60, 300, 3600 s) with a retention
    each (docs/metrics.md), and the catalog of metrics seen (ListMetrics). Its own database file, so
    the flush never waits on message traffic."""

    def merge(self, points: Iterable[MetricPoint], periods: Iterable[int]) -> None:
        """Add each point into its period's row at each of ``periods`` (a point's ``ts`` rounded
        down to the period): counts and sums add, minima and maxima widen, histograms add."""
    def read(self, namespace: str, metric: str, dims: str, period: int, start_s: int,
             end_s: int) -> list[MetricPoint]:
        """The rows of one metric at one stored period with ``start_s <= ts < end_s``, by time."""
    def read_many(self, namespace: str, metrics: Sequence[str], dims: Sequence[str], period: int, start_s: int,
                  end_s: int) -> list[MetricPoint]:
        """``read`` of every (metric, dims) pair of ``metrics`` × ``dims`` at once, in one query (a
        page's sparklines for all its functions): their rows, by (metric, dims, ts)."""
    def catalog(self, namespace: str | None, metric: str | None, since_s: int) -> list[tuple[str, str, str, int]]:
        """(namespace, metric, dims, last seen s) of metrics with data since ``since_s``."""
    def prune(self, period: int, before_s: int) -> int:
        """Drop rows of ``period`` older than ``before_s`` (and catalog entries not seen since); how many."""
    def close(self) -> None: ...


class TraceSegments(Protocol):
    """X-Ray's segment documents (docs/traces.md), kept per trace: a segment, or a subsegment sent on
    its own, is a row named (trace id, its id); the trace's first start and last end are kept with
    it for the time-range reads and the retention. Its own database file, as metrics'."""

    def put(self, segments: Iterable[tuple[str, str, float, float, str]]) -> None:
        """(trace id, segment id, start, end, document JSON) rows; a segment sent again replaces itself."""
    def traces(self, start: float, end: float, after: str, limit: int) -> list[tuple[str, float, float]]:
        """(trace id, first start, last end) of traces with ``start <= first start < end``, ordered by
        (first start, trace id), after the trace ``after`` names ("" from the first)."""
    def segments(self, trace_ids: Iterable[str]) -> dict[str, list[str]]:
        """The documents of each trace asked for that is kept."""
    def prune(self, before: float) -> int:
        """Drop the traces that ended before ``before`` (epoch seconds); how many."""
    def close(self) -> None: ...


class ObjectBodies(Protocol):
    """Objects' bytes, each named by a random id (what ``ObjectIndex`` rows' ``blob`` names), written
    whole before the row that names them commits: files under one home (``objects/files.py``) or
    rows every node of a cluster reads (``store/postgres/bodies.py``)."""

    def write(self, data: bytes) -> tuple[str, bytes]:
        """A new body holding ``data``: its name and the data's MD5."""
    def join(self, names: Iterable[str], ranges: Iterable[tuple[int, int]] | None = None) -> tuple[str, int]:
        """A new body of the named bodies' bytes one after another (with ``ranges``, (start, length)
        of each), never held whole in memory: its name and size."""
    def open(self, name: str) -> BinaryIO:
        """The body, readable and seekable (FileNotFoundError: there is none); a body replaced or
        deleted meanwhile stays whole for this reader."""
    def delete(self, *names: str) -> None: ...
    def sweep(self, keep: set[str]) -> int:
        """Remove bodies no row names (``keep``: those rows name) left by a crash; how many."""


class MessageStore(Protocol):
    """One backend's message store: every concern, on one database."""

    @property
    def queues(self) -> QueueMessages: ...
    @property
    def streams(self) -> StreamRecords: ...
    @property
    def tables(self) -> TableItems: ...
    @property
    def executions(self) -> Executions: ...
    @property
    def leases(self) -> Leases: ...
    @property
    def wakeups(self) -> Wakeups: ...
    @property
    def objects(self) -> ObjectIndex: ...
    def close(self) -> None: ...
