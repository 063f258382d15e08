"""The control-plane server: an ASGI app on uvicorn, one per store.

Thread model: the event loop (uvloop) only reads requests and writes replies.
Each request runs in a worker thread — signature check, then the operation on
``Cumulo`` — because operations block (SQLite, and invocations that may run
for up to 15 minutes). The pool is sized for the account's concurrency, so
throttling stays the runtime's decision (a 429), never a queue in front of it.

One server per store: ``ServerLock`` holds an exclusive ``flock`` on
``<home>/server.lock`` for the server's lifetime and records where it listens.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import signal
import socket
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

from cumulo.api import (  # noqa: F401 (the JSON protocols register themselves)
    apigateway, apigatewayv2, awsjson, events, kinesis, lambda_api, sigv4, sqs, stepfunctions,
)
from cumulo.api.http import Reply, Request, error_reply
from cumulo.app import Cumulo
from cumulo.errors import CumuloError, RequestTooLargeException, ServiceException
from cumulo.runtime.environment import LOOP_PAYLOAD_MAX

__all__ = ["ControlPlane", "ServerLock", "ServerBusy", "listen", "serve"]

log = logging.getLogger("cumulo.server")

# CreateFunction carries a 50 MB zip in base64 (4/3 larger) inside JSON.
MAX_BODY_BYTES = 72 * 1024 * 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class UnknownOperationException(CumuloError):
    status = 404


class ControlPlane:
    """The ASGI application serving AWS's wire protocols for one ``Cumulo``."""

    def __init__(self, cumulo: Cumulo, auth: bool = True, workers: int | None = None) -> None:
        self.cumulo = cumulo
        self.auth = auth
        self.executor = ThreadPoolExecutor(max_workers=workers or min(cumulo.settings.account_concurrency + 16, 1024),
                                           thread_name_prefix="cumulo-api")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            body = await _read_body(receive)
        except RequestTooLargeException as exc:
            await _send(send, error_reply(exc))
            return
        except _ClientGone:
            return
        client = scope.get("client") or ("", 0)
        request = Request(
            method=scope["method"],
            raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            client=client[0],
        )
        if request.method == "POST" and len(body) <= LOOP_PAYLOAD_MAX and \
                (m := lambda_api.INVOKE_PATH.match(request.path)) is not None:
            reply = await self._invoke_on_loop(request, m.group("name"))
        else:
            reply = await asyncio.get_running_loop().run_in_executor(self.executor, self.handle, request)
        await _send(send, reply)

    async def _invoke_on_loop(self, request: Request, name: str) -> Reply:
        """Invoke without a thread hop: the signature is checked and a warm environment driven on
        the loop (``Cumulo.invoke_on_loop`` moves cold starts and blocking work to the executor)."""
        try:
            self._authenticate(request)
            call = lambda_api.invoke_call(request, name)
            if call.kind != "RequestResponse":
                return await asyncio.get_running_loop().run_in_executor(self.executor, self.handle, request)
            result = await self.cumulo.invoke_on_loop(call.name, request.body, self.executor, call.qualifier,
                                                      call.kind, call.log_type, call.client_context)
            return lambda_api.invoke_reply(result)
        except CumuloError as err:
            return error_reply(err)
        except Exception:
            log.error("unexpected failure serving %s %s\n%s", request.method, request.path, traceback.format_exc())
            return error_reply(ServiceException("An internal error occurred; see the server's log."))

    def _authenticate(self, request: Request) -> None:
        if self.auth:
            sigv4.verify(sigv4.IncomingRequest(request.method, request.raw_path, request.query_string,
                                               request.headers, request.body),
                         self.cumulo.store.access_key_secret, datetime.now(timezone.utc))

    def handle(self, request: Request) -> Reply:
        """Authenticate, route, run: every failure becomes AWS's error answer here."""
        json_target = awsjson.find(request)
        try:
            self._authenticate(request)
            if json_target is not None:
                return awsjson.handle(self.cumulo, request, *json_target)
            found = lambda_api.route(request) or apigatewayv2.route(request) or apigateway.route(request)
            if found is None:
                raise UnknownOperationException(f"Unknown operation {request.method} {request.path}")
            handler, params = found
            return handler(self.cumulo, request, params)
        except CumuloError as err:
            return awsjson.json_error(json_target[0], err) if json_target else error_reply(err)
        except Exception:
            log.error("unexpected failure serving %s %s\n%s", request.method, request.path, traceback.format_exc())
            fault = ServiceException("An internal error occurred; see the server's log.")
            return awsjson.json_error(json_target[0], fault) if json_target else error_reply(fault)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


class _ClientGone(Exception):
    """The connection ended before the whole body arrived (or it was malformed): run nothing."""


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestTooLargeException(f"Request must be smaller than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(send: Send, reply: Reply) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    if not any(k.lower() == "x-amzn-requestid" for k, _ in reply.headers):
        # AWS names every answer, errors included; boto3 shows it as ResponseMetadata.RequestId.
        headers.append((b"x-amzn-requestid", str(uuid.uuid4()).encode()))
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _lifespan(receive: Receive, send: Send, startup: Callable[[], Awaitable[None]] | None = None,
                    shutdown: Callable[[], Awaitable[None]] | None = None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if startup is not None:
                await startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if shutdown is not None:
                await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


class ServerBusy(RuntimeError):
    pass


@dataclass
class ServerLock:
    """Exclusive ownership of a store by one server process."""

    home: Path
    _fd: int | None = None

    @property
    def info_path(self) -> Path:
        return self.home / "server.json"

    def acquire(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.home / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = self.running()
            where = f" (pid {other['pid']}, {other['endpoint']})" if other else ""
            raise ServerBusy(f"another `cumulo up` is already serving {self.home}{where}; "
                             "stop it first, or use another --home") from None
        self._fd = fd

    def publish(self, endpoint: str) -> None:
        self.info_path.write_text(json.dumps({"pid": os.getpid(), "endpoint": endpoint}))

    def running(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return None

    def running_server(self) -> dict[str, Any] | None:
        """Where the server owning this store listens, if one is running (its lock is held)."""
        lock_path = self.home / "server.lock"
        if not lock_path.exists():
            return None
        fd = os.open(lock_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.running()
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            self.info_path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def listen(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening socket (port 0 picks a free one) and the endpoint URL it serves."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    return sock, f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{bound}"


def serve(cumulo: Cumulo, control: socket.socket, auth: bool, gateway: socket.socket | None = None) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, let in-flight requests finish, return.

    One event loop, two listening sockets: uvicorn serves the control plane (ASGI), and
    the HTTP API gateway is served on the same loop by Cumulo's own HTTP edge
    (``api/edge.py``), started and stopped with uvicorn's lifespan."""
    import uvicorn

    from cumulo.api.edge import HttpEdge
    from cumulo.gateway.server import MAX_BODY_BYTES, Gateway

    app = ControlPlane(cumulo, auth=auth)
    gw: Gateway | None = None
    edge: HttpEdge | None = None
    if gateway is not None:
        gw = Gateway(cumulo, app.executor)
        edge = HttpEdge(gw.handle, max_body_bytes=MAX_BODY_BYTES)
        host, port = gateway.getsockname()[:2]
        cumulo.gateway_url = f"http://{host}:{port}"

    async def startup() -> None:
        if edge is not None and gateway is not None:
            await edge.start(gateway)

    async def shutdown() -> None:
        if edge is not None:
            await edge.stop()   # requests in flight finish: their integration timeouts bound them

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, startup, shutdown)
            return
        await app(scope, receive, send)

    config = uvicorn.Config(dispatch, loop="uvloop", http="httptools", lifespan="on", log_level="warning",
                            access_log=False, timeout_graceful_shutdown=None)
    # uvicorn re-raises the signal that stopped it once it is done; these handlers absorb
    # that, so the caller can shut environments down and exit 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: None)
    try:
        uvicorn.Server(config).run(sockets=[control])
    finally:
        app.close()
        if gw is not None:
            gw.close()
