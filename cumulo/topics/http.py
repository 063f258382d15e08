"""Deliveries to HTTP/HTTPS subscribers: POSTs with SNS's headers, retried by the delivery policy.

Each delivery (a ``SubscriptionConfirmation``, ``Notification`` or ``UnsubscribeConfirmation``,
already signed) is a message of the internal queue ``~sns-http``, committed before the operation
that caused it answers. ``HttpDeliveries`` leases them (a process that dies holding one: it comes
back after ``LEASE_MS``) and POSTs each: a 2xx answer delivers it; a connection failure, a 5xx or
a 429 is tried again after the next of the policy's delays (``model/sns.py`` ``retry_delays``);
a 4xx, or a retry policy run out, ends it: to the subscription's dead-letter queue when it names
one (the body as the queue message, as SNS's dead-letter queues hold them), else logged.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import uuid
from typing import Any, Callable
from urllib.parse import urlsplit

from cumulo.model import sns
from cumulo.ports import SYSTEM_CLOCK, Clock, now_ms
from cumulo.store.ports import NewMessage, QueueMessages, StoredMessage, Wakeups
from cumulo.workers import QueueWorkers

__all__ = ["HTTP_QUEUE", "delivery", "HttpDeliveries"]

log = logging.getLogger("cumulo.topics")

HTTP_QUEUE = "~sns-http"
LEASE_MS = 60_000
TIMEOUT_S = 15.0

DeadLetter = Callable[[str, str, dict[str, str], str], None]


def delivery(url: str, body: str, headers: dict[str, str], retry: dict[str, Any], *, dead_letter: str | None = None,
             what: str = "") -> tuple[str, NewMessage]:
    """One POST of ``body`` to ``url``, for the store to commit with the write that causes it."""
    meta: dict[str, Any] = {"url": url, "headers": headers, "delays": sns.retry_delays(retry), "what": what}
    if dead_letter:
        meta["dlq"] = dead_letter
    return HTTP_QUEUE, NewMessage(str(uuid.uuid4()), body.encode(), sys=meta)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S) -> int | None:
    """The answer's status; None when there was none (no connection, a timeout)."""
    parts = urlsplit(url)
    try:
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as err:
        log.info("POST to %s failed: %s", url, err)
        return None


class HttpDeliveries:
    def __init__(self, messages: QueueMessages, wakeups: Wakeups, dead_letter: DeadLetter,
                 clock: Clock = SYSTEM_CLOCK, workers: int = 8,
                 send: Callable[[str, bytes, dict[str, str]], int | None] = post) -> None:
        self._messages, self._dead_letter, self._clock, self._send = messages, dead_letter, clock, send
        self._workers = QueueWorkers(messages, wakeups, HTTP_QUEUE, workers, LEASE_MS, self.deliver,
                                     "cumulo-sns-http", clock)

    def start(self) -> None:
        self._workers.start()

    def stop(self) -> None:
        self._workers.stop()

    def deliver(self, m: StoredMessage) -> None:
        meta = dict(m.sys or {})
        receipt = (m.seq, m.receipt.partition("-")[2])
        status = self._send(meta["url"], m.body, meta["headers"])
        if status is not None and 200 <= status < 300:
            self._messages.delete(HTTP_QUEUE, [receipt])
            return
        attempt = meta.get("n", 0)
        delays = meta.get("delays", [])
        if sns.http_failure_retried(status) and attempt < len(delays):
            meta["n"] = attempt + 1
            self._messages.release(HTTP_QUEUE, [receipt], now_ms(self._clock) + int(delays[attempt] * 1000), meta)
            return
        what = meta.get("what") or "an SNS message"
        answer = "no answer" if status is None else f"HTTP {status}"
        log.warning("%s to %s not delivered after %d attempts (%s)", what, meta["url"], attempt + 1, answer)
        if meta.get("dlq"):
            self._dead_letter(meta["dlq"], m.body.decode(), {
                "ERROR_CODE": "EndpointUnavailable" if status is None or status >= 500 or status == 429
                else "ClientError", "ERROR_MESSAGE": answer, "TARGET_ARN": meta["url"]}, what)
        self._messages.delete(HTTP_QUEUE, [receipt])
