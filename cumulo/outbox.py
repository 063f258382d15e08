"""The outbox: deliveries committed in the same transaction as the write that causes them, sent
through the target router (``targets.py``) by a worker.

An S3 object write and its event notifications, an SNS publish and its deliveries to each
subscriber: the service builds one ``entry`` per delivery and hands them to the store with the
write, so that nothing acknowledged is lost to ``kill -9``, and a write that did not commit
sends nothing. ``OutboxWorker`` leases them from the internal queue ``~outbox`` and sends each
with ``Send``'s fields as given (at least once: one a dead process held is sent again after
``LEASE_MS``): a delivery that fails with a ``retryable`` error is tried again
after ``retry_base_s``, doubling up to 60 s, for up to ``max_age_s``; one that fails otherwise,
or for too long, goes to its dead-letter queue if it names one (a subscription's
``RedrivePolicy``), and is logged and dropped if not.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from cumulo.errors import CumuloError
from cumulo.ports import SYSTEM_CLOCK, Clock, Send, Targets, now_ms
from cumulo.store.ports import NewMessage, QueueMessages, StoredMessage, Wakeups
from cumulo.workers import QueueWorkers

__all__ = ["OUTBOX_QUEUE", "entry", "OutboxWorker"]

log = logging.getLogger("cumulo.outbox")

OUTBOX_QUEUE = "~outbox"
MAX_AGE_S = 24 * 3600
# A delivery in hand when its process died is sent again once its lease runs out: deliveries are an
# enqueue (an asynchronous invoke, a queue message), so a short lease only risks a rare duplicate.
LEASE_MS = 15_000
_SEND_FIELDS = ("qualifier", "invocation_type", "attributes", "group_id", "dedup_id", "platform", "subject", "entries",
                "source_service", "source_arn", "trace_header")


def entry(target: str, payload: str, *, dead_letter: str | None = None, what: str = "",
          **send: Any) -> tuple[str, NewMessage]:
    """One delivery of ``payload`` to ``target`` (an ARN), for the store to commit with a write.
    ``send``: ``Send``'s fields (JSON-able); ``what`` names it in logs."""
    unknown = set(send) - set(_SEND_FIELDS)
    if unknown:
        raise TypeError(f"not a Send field: {sorted(unknown)}")
    meta: dict[str, Any] = {"target": target, "send": send, "what": what}
    if dead_letter:
        meta["dlq"] = dead_letter
    return OUTBOX_QUEUE, NewMessage(str(uuid.uuid4()), payload.encode(), sys=meta)


class OutboxWorker:
    def __init__(self, messages: QueueMessages, wakeups: Wakeups, targets: Targets, retry_base_s: float = 1.0,
                 clock: Clock = SYSTEM_CLOCK, workers: int = 8, max_age_s: float = MAX_AGE_S) -> None:
        self._messages, self._targets, self._clock = messages, targets, clock
        self._retry_base_s, self._max_age_s = retry_base_s, max_age_s
        self._workers = QueueWorkers(messages, wakeups, OUTBOX_QUEUE, workers, LEASE_MS, self.deliver,
                                     "cumulo-outbox", clock)

    def start(self) -> None:
        self._workers.start()

    def stop(self) -> None:
        self._workers.stop()

    def deliver(self, m: StoredMessage) -> None:
        meta = dict(m.sys or {})
        receipt = (m.seq, m.receipt.partition("-")[2])
        payload = m.body.decode()
        try:
            self._targets.send(meta["target"], Send(payload, **meta.get("send", {})))
        except CumuloError as err:
            meta["n"] = meta.get("n", 0) + 1
            delay = min(self._retry_base_s * 2 ** (meta["n"] - 1), 60.0)
            now = now_ms(self._clock)
            if err.retryable and now + delay * 1000 - m.sent_ms <= self._max_age_s * 1000:
                self._messages.release(OUTBOX_QUEUE, [receipt], now + int(delay * 1000), meta)
                return
            self._give_up(meta, payload, err)
        self._messages.delete(OUTBOX_QUEUE, [receipt])

    def _give_up(self, meta: dict[str, Any], payload: str, err: CumuloError) -> None:
        what = meta.get("what") or "a delivery"
        log.warning("%s to %s failed after %d attempts: %s", what, meta["target"], meta.get("n", 1), err)
        dlq = meta.get("dlq")
        if dlq:
            self._targets.dead_letter(dlq, payload, {"ERROR_CODE": err.type, "ERROR_MESSAGE": err.message[:1024] or "-",
                                                     "TARGET_ARN": meta["target"]}, what)
