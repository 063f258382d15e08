"""The control-plane server: AWS's wire protocols on Cumulo's HTTP edge, one per store.

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
import dataclasses
import fcntl
import functools
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
from typing import Any, Callable
from urllib.parse import unquote

from cumulo.api import (  # noqa: F401 (the JSON and query protocols register themselves)
    apigateway, apigatewayv2, authz, awsjson, cloudformation, cloudwatch, codedeploy, dynamodb, ecr, events, iam, kinesis, kms, lambda_api,
    logs, query, rpcv2, s3, secretsmanager, sigv2, sigv4, sns, sqs, ssm, stepfunctions, sts, xray,
)
from cumulo.api.authorize import AccessDeniedException, Authorizer
from cumulo.api.gate import ControlGate
from cumulo.api.http import Reply, Request, error_reply
from cumulo.api.keys import AccountKeys
from cumulo.api.secrets_extension import PORT as EXTENSION_PORT, SecretsExtension
from cumulo.api import service_calls
from cumulo.app import Cumulo
from cumulo.edge import server as edge
from cumulo.errors import CumuloError, ServiceException
from cumulo.traces.daemon import PORT as XRAY_DAEMON_PORT, XRayDaemon
from cumulo.runtime.environment import LOOP_PAYLOAD_MAX

__all__ = ["ControlPlane", "ServerLock", "ServerBusy", "listen", "serve"]

log = logging.getLogger("cumulo.server")

# CreateFunction carries a 50 MB zip in base64 (4/3 larger) inside JSON.
MAX_BODY_BYTES = 72 * 1024 * 1024

class UnknownOperationException(CumuloError):
    status = 404


INTEGRATION_SESSION = "BackplaneAssumeRoleSession"     # the session name API Gateway's role sessions carry


class ControlPlane:
    """AWS's wire protocols for one ``Cumulo``: requests from the HTTP edge to replies."""

    def __init__(self, cumulo: Cumulo, auth: bool = True, workers: int | None = None,
                 busy: Callable[[], bool] | None = None) -> None:
        self.cumulo = cumulo
        self._busy = busy        # whether the loop has other work (edge.Readiness.pending)
        self.auth = auth
        self.keys: sigv4.Keys = AccountKeys(cumulo.store, cumulo.identity)
        self.authorizer = Authorizer(cumulo.settings.iam, authz.Scope(cumulo.arns.account, cumulo.arns.region),
                                     roles=cumulo, resources=cumulo)
        cumulo.service_calls.serve_through(service_calls.through(self))   # state machines' SDK tasks
        self.executor = ThreadPoolExecutor(max_workers=workers or min(cumulo.settings.account_concurrency + 16, 1024),
                                           thread_name_prefix="cumulo-api")

    def integration_call(self, role_arn: str, target: str, doc: dict[str, Any]) -> tuple[int, bytes]:
        """An API's service integration (``X-Amz-Target`` ``target``, the JSON request ``doc``) made as API Gateway
        makes it: as a session of the integration's role (``CredentialsArn``), which must trust
        ``apigateway.amazonaws.com`` and be allowed the action, decided as any role session's request is. The
        service's (status, JSON body); status -1 when the role is missing or does not trust API Gateway (under
        ``--iam off`` that is not asked)."""
        c = self.cumulo
        service = target.split(".", 1)[0]
        if c.settings.iam != "off" and (not role_arn or not c.service_calls.assumable(role_arn, "apigateway.amazonaws.com")):
            return -1, b""       # API Gateway cannot assume the role: its configuration error, the client's 500
        if role_arn:
            name = role_arn.rsplit("/", 1)[-1]
            principal = sigv4.Principal("", c.arns.region, service, f"arn:aws:sts::{c.arns.account}:assumed-role/"
                                        f"{name}/{INTEGRATION_SESSION}", role_arn, INTEGRATION_SESSION)
        else:
            principal = sigv4.Principal("", c.arns.region, service, f"arn:aws:iam::{c.arns.account}:root")
        request = Request("POST", "/", "", [("host", "localhost"), ("x-amz-target", target),
                                            ("content-type", "application/x-amz-json-1.0")],
                          json.dumps(doc).encode(), "127.0.0.1", principal=principal)
        reply = self.dispatch(request)
        return reply.status, reply.body

    def function_url_iam(self, wire: edge.Request, function_arn: str) -> dict[str, Any] | None:
        """An ``AWS_IAM`` function URL's check (the gateway asks, in a worker thread): the request's SigV4
        signature with the account's keys, then ``lambda:InvokeFunctionUrl`` on the function for a role
        session (``lambda:FunctionUrlAuthType`` = ``AWS_IAM``). The caller as ``requestContext.authorizer.iam``
        shows it, or None: refused (403)."""
        incoming = sigv4.IncomingRequest(wire.method, wire.raw_path, wire.query_string, wire.headers, wire.body)
        try:
            principal = sigv4.verify(incoming, self.keys, datetime.now(timezone.utc))
        except CumuloError:
            return None
        if self.authorizer.refusal(principal, "lambda:InvokeFunctionUrl", function_arn,
                                   {"lambda:FunctionUrlAuthType": "AWS_IAM"}, wire.client[0]) is not None:
            return None
        account = principal.account or self.cumulo.arns.account
        caller = account if principal.role_arn is None else \
            f"{principal.role_arn.rsplit('/', 1)[-1]}:{principal.session_name or ''}"
        return {"accessKey": principal.access_key_id, "accountId": account, "callerId": caller,
                "cognitoIdentity": None, "principalOrgId": None, "userArn": principal.arn or f"arn:aws:iam::{account}:root",
                "userId": caller}

    def manage_connections_iam(self, wire: edge.Request, arn: str, inside: bool = False) -> bool:
        """A WebSocket API's ``@connections`` request (the gateway asks, in a worker thread): its SigV4 signature
        (service ``execute-api``) with the account's keys, then ``execute-api:ManageConnections`` on the
        connection's ARN for a role session, as IAM decides it. Under ``--no-auth`` a request without a
        session token is the owner's, as on the control plane — except through the functions' door."""
        if not self.auth and not inside and not any(k.lower() == "x-amz-security-token" for k, _ in wire.headers):
            return True
        incoming = sigv4.IncomingRequest(wire.method, wire.raw_path, wire.query_string, wire.headers, wire.body)
        try:
            principal = sigv4.verify(incoming, self.keys, datetime.now(timezone.utc))
        except CumuloError:
            return False
        return self.authorizer.refusal(principal, "execute-api:ManageConnections", arn, {}, wire.client[0]) is None

    async def answer(self, wire: edge.Request) -> Reply:
        """One request from the HTTP edge (complete, within ``MAX_BODY_BYTES``) to its reply."""
        request = Request(
            method=wire.method,
            raw_path=wire.raw_path,
            query_string=wire.query_string,
            headers=[(k.lower(), v) for k, v in wire.headers],
            body=wire.body,
            client=wire.client[0],
            admitted=wire.note,     # the gate checked the signature's head (ControlGate)
        )
        if request.method == "POST" and len(request.body) <= LOOP_PAYLOAD_MAX and \
                (m := lambda_api.INVOKE_PATH.match(request.path)) is not None:
            reply = await self._invoke_on_loop(request, m.group("name"))
        else:
            reply = await asyncio.get_running_loop().run_in_executor(self.executor, self.handle, request)
        return _named(reply)

    async def _invoke_on_loop(self, request: Request, name: str) -> Reply:
        """Invoke without a thread hop: the signature is checked and a warm environment driven on
        the loop (``Cumulo.invoke_on_loop`` moves cold starts and blocking work to the executor)."""
        try:
            request = self._authenticate(request)
            call = lambda_api.invoke_call(request, name)
            if call.kind != "RequestResponse":
                return await asyncio.get_running_loop().run_in_executor(self.executor, self.handle, request)
            if self.authorizer.needed(request.principal):
                self._authorize(request, ("lambda", "Invoke"), {"name": name}, {})
            result = await self.cumulo.invoke_on_loop(call.name, request.body, self.executor, call.qualifier,
                                                      call.kind, call.log_type, call.client_context,
                                                      busy=self._busy, trace_header=call.trace_header)
            return lambda_api.invoke_reply(result)
        except CumuloError as err:
            return error_reply(err)
        except Exception as exc:
            return error_reply(self._fault(request, exc))

    def _authenticate(self, request: Request) -> Request:
        """The request with its ``principal``: who signed it, or the owner when this port does not
        authenticate (--no-auth)."""
        if sns.public(request.method, request.raw_path, request.query_string, request.headers) is not None or \
                s3.is_preflight(request.method, request.headers):
            # no caller at all: only ``handle``'s SNS branch serves these (a token or a certificate)
            return _signed_by(request, sigv4.Principal("", self.cumulo.arns.region, "sns"))
        if request.admitted == s3.ANONYMOUS:
            # unsigned, let through by the gate for a bucket whose policy allows everyone: decided by that policy
            return _signed_by(request, sigv4.anonymous(self.cumulo.arns.region))
        if not self.auth and request.header("x-amz-security-token") is None:
            owner = sigv4.Principal("", self.cumulo.arns.region, "", self.cumulo.identity.root_arn)
            return _signed_by(request, owner)
        # (a request with a session token is that session's, checked, even where others are not:
        # a function's calls are its role's under --no-auth too)
        incoming = sigv4.IncomingRequest(request.method, request.raw_path, request.query_string,
                                         request.headers, request.body)
        if request.admitted is None and sigv2.is_presigned(request.query_string) and s3.find(request):
            principal = sigv2.verify_presigned(request.method, request.raw_path, request.query_string, request.headers,
                                               self.keys, datetime.now(timezone.utc), s3.virtual_bucket(request.headers))
        elif isinstance(request.admitted, sigv4.Admitted):
            principal = sigv4.check(incoming, request.admitted)
        else:
            principal = sigv4.verify(incoming, self.keys, datetime.now(timezone.utc))
        return _signed_by(request, principal)

    def handle(self, request: Request) -> Reply:
        """Authenticate, route, run: every failure becomes AWS's error answer here."""
        return self.dispatch(request, authenticated=False)

    def dispatch(self, request: Request, authenticated: bool = True) -> Reply:
        """Route and run a request whose ``principal`` is known (the console's, who logged in with
        the store's keys), through the same authorization and operations as a signed request;
        ``authenticated`` False: check its signature first (``handle``)."""
        anonymous = request.admitted == s3.ANONYMOUS      # only ever an S3 request (api/gate.py)
        json_target = None if anonymous else awsjson.find(request)
        cbor_target = rpcv2.find(request) if json_target is None and not anonymous else None
        if cbor_target is not None:
            return self._handle_cbor(request, *cbor_target)
        in_query = json_target is None and not anonymous and query.find(request)
        in_s3 = json_target is None and not in_query and s3.find(request)
        try:
            if not authenticated:
                request = self._authenticate(request)
                unsigned = sns.public(request.method, request.raw_path, request.query_string, request.headers)
                if s3.is_preflight(request.method, request.headers):   # a browser's, answered from the CORS rules
                    return s3.preflight(self.cumulo, request)
                if unsigned == "certificate":
                    return sns.certificate(self.cumulo)
                if unsigned == "confirm":       # the SubscribeURL: ConfirmSubscription, and nothing else
                    return query.handle(self.cumulo, request, None)
            elif request.principal is None:
                raise AccessDeniedException("A request without a principal is not authorized")
            guarded = self.authorizer.needed(request.principal)
            if json_target is not None:
                service, operation = json_target
                check = functools.partial(self._authorize_json, request, service, operation) if guarded else None
                return awsjson.handle(self.cumulo, request, service, operation, check)
            if in_query:
                check_query = functools.partial(self._authorize, request) if guarded else None
                return query.handle(self.cumulo, request, check_query)
            if in_s3:
                return s3.handle(self.cumulo, request, self._s3_check(request, guarded))
            found = lambda_api.route(request) or apigatewayv2.route(request) or apigateway.route(request) or \
                xray.route(request)
            if found is None:
                raise UnknownOperationException(f"Unknown operation {request.method} {request.path}")
            handler, params = found
            if guarded:
                self._authorize(request, getattr(handler, "operation", None), params, _lenient_json(request))
            return handler(self.cumulo, request, params)
        except CumuloError as err:
            return s3.error_reply(err, request.method) if in_s3 else self._error(request, json_target, err)
        except Exception as exc:
            fault = self._fault(request, exc)
            return s3.error_reply(fault, request.method) if in_s3 else self._error(request, json_target, fault)

    def _handle_cbor(self, request: Request, service: awsjson.Service, operation: str) -> Reply:
        """Smithy RPC v2 CBOR (CloudWatch, CodeDeploy): errors answered in CBOR."""
        try:
            request = self._authenticate(request)
            check = functools.partial(self._authorize_json, request, service, operation) \
                if self.authorizer.needed(request.principal) else None
            return rpcv2.handle(self.cumulo, request, service, operation, check)
        except CumuloError as err:
            return rpcv2.error_reply(service, err)
        except Exception as exc:
            return rpcv2.error_reply(service, self._fault(request, exc))

    @staticmethod
    def _error(request: Request, json_target: tuple[awsjson.Service, str] | None, err: CumuloError) -> Reply:
        """AWS's error answer in the request's protocol."""
        if json_target is not None:
            return awsjson.json_error(json_target[0], err)
        xml = query.head_error(err, request.method, request.raw_path, request.query_string, request.headers)
        return xml if xml is not None else error_reply(err)

    def _authorize(self, request: Request, operation: tuple[str, str] | None, params: dict[str, str],
                   doc: dict[str, Any]) -> None:
        """The caller's policies against the operation (``api/authorize.py``); raises AccessDeniedException."""
        assert request.principal is not None
        if operation is None:    # a route without its operation's name: never allowed to a role
            raise AccessDeniedException(f"User: {request.principal.arn} is not authorized to perform: "
                                        f"{request.method} {request.path}")
        call = authz.Call(operation[0], operation[1], doc, params, request.query() if request.query_string else {})
        self.authorizer.authorize(request.principal, call, request.client)

    def _s3_check(self, request: Request, guarded: bool) -> Callable[..., None] | None:
        """How an S3 request is decided: a role session's or an anonymous caller's by IAM (an
        anonymous one only while the bucket's policy still admits it: ``RestrictPublicBuckets``, a
        copy's source bucket too); the owner's keys by the bucket policy's explicit Denies."""
        assert request.principal is not None
        if request.principal.arn == sigv4.ANONYMOUS_ARN:
            return functools.partial(self._authorize_anonymous, request)
        if guarded:
            return functools.partial(self._authorize, request)
        if request.principal.role_arn is None and self.authorizer.mode != "off":
            return functools.partial(self._authorize_owner, request)
        return None

    def _authorize_anonymous(self, request: Request, operation: tuple[str, str] | None, params: dict[str, str],
                             doc: dict[str, Any]) -> None:
        buckets = {params.get("bucket") or ""}
        source = request.header("x-amz-copy-source")
        if source:
            buckets.add(unquote(source.split("?", 1)[0]).lstrip("/").partition("/")[0])
        if not all(self.cumulo.objects.anonymous_may(b) for b in buckets):
            raise AccessDeniedException("Access Denied")
        self._authorize(request, operation, params, doc)

    def _authorize_owner(self, request: Request, operation: tuple[str, str] | None, params: dict[str, str],
                         doc: dict[str, Any]) -> None:
        assert request.principal is not None and operation is not None
        call = authz.Call(operation[0], operation[1], doc, params, request.query() if request.query_string else {})
        self.authorizer.owner_refusal(request.principal, call, request.client)

    def _authorize_json(self, request: Request, service: awsjson.Service, operation: str, doc: dict[str, Any]) -> None:
        """As ``_authorize``, with what the service knows of the resource the request names (``Service.resources``)."""
        params = service.resources(self.cumulo, doc) if service.resources is not None else {}
        self._authorize(request, (service.model, operation), params, doc)

    def _fault(self, request: Request, exc: Exception) -> CumuloError:
        """What a request that failed unexpectedly is answered: the store's damaged file or full
        disk said as such (``store/health.py``), anything else a 500 whose traceback is logged."""
        known = self.cumulo.store_fault(exc)
        if known is not None:
            log.error("%s %s: %s", request.method, request.path, known.message)
            return known
        log.error("unexpected failure serving %s %s\n%s", request.method, request.path, traceback.format_exc())
        return ServiceException("An internal error occurred; see the server's log.")

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


# (every field of ``Request``, in order: one added there must be added to ``_signed_by`` too)
assert [f.name for f in dataclasses.fields(Request)] == ["method", "raw_path", "query_string", "headers", "body",
                                                         "client", "admitted", "principal"]


def _signed_by(request: Request, principal: sigv4.Principal) -> Request:
    """``request`` with its ``principal`` (as ``dataclasses.replace`` would make it, in a fifth of the time)."""
    return Request(request.method, request.raw_path, request.query_string, request.headers, request.body,
                   request.client, request.admitted, principal)


def _lenient_json(request: Request) -> dict[str, Any]:
    """A REST body as the mapping reads it (FunctionName, Role, Principal): {} when it is not a JSON
    object (the operation itself answers that with its own error, after authorization)."""
    if not request.body or request.body[:1] not in (b"{", b" ", b"\n", b"\r", b"\t"):
        return {}
    try:
        doc = json.loads(request.body)
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _named(reply: Reply) -> Reply:
    """AWS names every answer, errors included; boto3 shows it as ResponseMetadata.RequestId."""
    if not any(k.lower() in ("x-amzn-requestid", "x-amz-request-id") for k, _ in reply.headers):
        reply.headers.append(("x-amzn-requestid", str(uuid.uuid4())))
    return reply


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

    def publish(self, endpoint: str, gateway: str | None = None) -> None:
        """Say where this server listens (``endpoint``; ``gateway``: its HTTP API gateway)."""
        info = {"pid": os.getpid(), "endpoint": endpoint, **({"gateway": gateway} if gateway else {})}
        self.info_path.write_text(json.dumps(info))

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


def listen(host: str, port: int, reuse_port: bool = False) -> tuple[socket.socket, str]:
    """A listening socket (port 0 picks a free one) and the endpoint URL it serves. ``reuse_port``:
    with ``SO_REUSEPORT``, so other processes of the same user doing the same bind the same address
    and the kernel spreads incoming connections over them (``cumulo up --reuse-port``: several
    nodes of one database on one machine, an event loop each)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    return sock, f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{bound}"


def _door(cumulo: Cumulo, control: socket.socket) -> socket.socket | None:
    """Where functions reach this server when they live in a network namespace of their own (the
    namespace level, ``runtime.zygote.Zygote.network``): 127.0.0.1 on the control plane's own port,
    inside that namespace — so the endpoint URL is the same from both sides. None when functions
    share the host's network (they reach the control plane itself)."""
    zygote = cumulo.pool.zygote()
    if zygote.network == "host":
        return None
    return zygote.listen_inside(control.getsockname()[1])


def _extension_door(cumulo: Cumulo) -> socket.socket | None:
    """127.0.0.1:2773 in the environments' network namespace, where functions with AWS's Parameters
    and Secrets extension layer find it; None (and a warning) where it cannot be had."""
    try:
        return cumulo.pool.zygote().listen_inside(EXTENSION_PORT)
    except Exception as exc:
        log.warning("the Parameters and Secrets extension's port %d is not served: %s", EXTENSION_PORT, exc)
        return None


def _xray_daemon(cumulo: Cumulo) -> XRayDaemon | None:
    """The X-Ray daemon's UDP port, where traced functions' SDKs send segments
    (``AWS_XRAY_DAEMON_ADDRESS``): 127.0.0.1:2000 in the environments' network namespace, or a free
    port on the host's loopback where they share the host's network; None (and a warning) where it
    cannot be had."""
    try:
        zygote = cumulo.pool.zygote()
        if zygote.network == "host":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
        else:
            sock = zygote.listen_inside(XRAY_DAEMON_PORT, udp=True)
    except Exception as exc:
        log.warning("the X-Ray daemon's port is not served: %s", exc)
        return None
    daemon = XRayDaemon(sock, cumulo.traces.receive)
    cumulo.xray_daemon_address = daemon.address
    return daemon


def inside_url(cumulo: Cumulo, control: socket.socket) -> str:
    """The control plane's URL as functions reach it (their ``AWS_ENDPOINT_URL``): the door at
    127.0.0.1 on the same port when they live in a network namespace of their own (``_door``),
    else the address it listens on (loopback for a wildcard)."""
    host, port = control.getsockname()[:2]
    if cumulo.pool.zygote().network != "host" or host in ("0.0.0.0", "", "127.0.0.1"):
        return f"http://127.0.0.1:{port}"
    return f"http://[{'::1' if host == '::' else host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(cumulo: Cumulo, control: socket.socket, auth: bool, gateway: socket.socket | None = None,
          console: socket.socket | None = None) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, let in-flight requests finish, return.

    One event loop (uvloop), two listening sockets, both served by Cumulo's own HTTP/1.1 edge
    (``edge/server.py``): the control plane (``ControlPlane.answer``) and the HTTP API gateway.
    The web console (``console/``), on a third socket, has threads of its own; its actions go
    through this control plane's ``dispatch``."""
    import uvloop

    from cumulo.console.server import Console, ConsoleServer

    from cumulo.edge.gateway import MAX_BODY_BYTES as GATEWAY_MAX_BODY, MAX_HEADER_BYTES, Gateway

    readiness = edge.Readiness()     # both ports: what the loop has still to read
    app = ControlPlane(cumulo, auth=auth, busy=readiness.pending)
    gw: Gateway | None = None
    if gateway is not None:
        gw = Gateway(cumulo, app.executor, readiness.pending, url_iam=app.function_url_iam,
                     manage_iam=app.manage_connections_iam, services=app.integration_call)
        host, port = gateway.getsockname()[:2]
        cumulo.gateway_url = f"http://{host}:{port}"

    door = _door(cumulo, control)
    gateway_door = _door(cumulo, gateway) if gw is not None and gateway is not None and door is not None else None
    extension_door = _extension_door(cumulo) if door is not None else None
    xray_daemon = _xray_daemon(cumulo)
    if xray_daemon is not None:
        xray_daemon.start()
    cumulo.endpoint_url = cumulo.endpoint_url or inside_url(cumulo, control)
    signed = app if auth or door is None else ControlPlane(cumulo, auth=True, busy=readiness.pending)
    web = ConsoleServer(console, Console(cumulo, app, login=auth)) if console is not None else None
    if web is not None:
        web.start()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        s = cumulo.settings
        http_edge = functools.partial(   # what one client may hold, on either port (README: The server)
            edge.HttpEdge, readiness=readiness, header_timeout_s=s.http_header_timeout_s,
            body_timeout_s=s.http_body_timeout_s, body_min_rate=s.http_body_min_rate,
            max_connections=s.http_max_connections or None, max_buffered_bytes=s.http_max_buffered_mb << 20)
        gate = ControlGate(s, app.keys, auth, MAX_BODY_BYTES, anonymous=cumulo.objects.anonymous_may)
        edges = [(http_edge(app.answer, max_body_bytes=MAX_BODY_BYTES, refusal=gate.refusal, gate=gate), control)]
        if gw is not None and gateway is not None:
            edges.append((http_edge(gw.handle, max_head_bytes=MAX_HEADER_BYTES, max_body_bytes=GATEWAY_MAX_BODY,
                                    upgrade=gw.upgrade), gateway))
        if gw is not None and gateway_door is not None:   # functions reach the gateway (@connections) here
            edges.append((http_edge(gw.handle_inside, max_head_bytes=MAX_HEADER_BYTES,
                                    max_body_bytes=GATEWAY_MAX_BODY), gateway_door))
        if door is not None:   # functions reach the API here, signed requests only (even with --no-auth)
            door_gate = gate if auth else ControlGate(s, signed.keys, True, MAX_BODY_BYTES,
                                                      anonymous=cumulo.objects.anonymous_may)
            edges.append((http_edge(signed.answer, max_body_bytes=MAX_BODY_BYTES, refusal=door_gate.refusal,
                                    gate=door_gate), door))
        if extension_door is not None:   # AWS's Parameters and Secrets extension (api/secrets_extension.py)
            edges.append((http_edge(SecretsExtension(signed).answer, max_body_bytes=0), extension_door))
        for server, sock in edges:
            await server.start(sock)
        await stopping.wait()
        # Requests in flight finish: invocation and integration timeouts bound them.
        await asyncio.gather(*(server.stop() for server, _ in edges))

    try:
        uvloop.run(main())
    finally:
        # A second signal while the caller shuts environments down is absorbed, so it exits 0.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: None)
        if web is not None:
            web.stop()
        app.close()
        if signed is not app:
            signed.close()
        if door is not None:
            door.close()
        if gateway_door is not None:
            gateway_door.close()
        if extension_door is not None:
            extension_door.close()
        if xray_daemon is not None:
            xray_daemon.stop()
        if gw is not None:
            gw.close()
        readiness.close()
