"""AWS's Parameters and Secrets Lambda Extension, served by the platform on ``localhost:2773``.

A function whose layers include AWS's ``AWS-Parameters-and-Secrets-Lambda-Extension`` layer (any
region, account or version: ``model/layer.provided_layer``) reads, as on AWS, without an SDK:

- ``GET /secretsmanager/get?secretId=…[&versionId=…|&versionStage=…]``: GetSecretValue's answer;
- ``GET /systemsmanager/parameters/get?name=…[&version=…|&label=…][&withDecryption=true]``:
  GetParameter's answer.

Each request carries ``X-Aws-Parameters-Secrets-Token``: the environment's ``AWS_SESSION_TOKEN``.
That token names the function's session (``identity/sessions.py``), so the call is made *as the
function's role*: it is signed with that session's key and served by the control plane's own
``handle`` (signature, IAM policies, the service), and an error answer (AccessDeniedException,
ResourceNotFoundException) comes back with its status, as the extension passes it on. Without a
valid token: 401; a token of a function without the layer: 404. Answers are kept for
``SECRETS_MANAGER_TTL`` / ``SSM_PARAMETER_STORE_TTL`` seconds of the function's variables
(default and most 300; 0 keeps none), none with ``PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED=false``,
at most ``PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE`` (1,000) per function.

AWS runs the extension as a process in each environment. Here one listener serves them all: it
lives at 127.0.0.1:2773 in the environments' network namespace (the same door the API has,
``runtime.zygote.Zygote.listen_inside``), so it costs a cold start nothing and works for every
runtime; the token tells whose call it is. What differs: the port is always 2773
(``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` is not honoured), and a function without the layer
finds something listening there (it answers 404).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections import OrderedDict
from datetime import datetime, timezone
from concurrent.futures import Executor
from typing import Any, Protocol

from cumulo.api import sigv4
from cumulo.api.http import Reply, Request
from cumulo.edge import server as edge
from cumulo.iam.tokens import BadToken, key_id_of
from cumulo.model.layer import provided_layer

__all__ = ["PORT", "SecretsExtension"]

PORT = 2773
MAX_TTL_S = 300
CACHE_SIZE = 1000
# path -> (service kind, signing name, X-Amz-Target, TTL variable)
_ROUTES = {
    "/secretsmanager/get": ("secretsmanager", "secretsmanager.GetSecretValue", "SECRETS_MANAGER_TTL"),
    "/systemsmanager/parameters/get": ("ssm", "AmazonSSM.GetParameter", "SSM_PARAMETER_STORE_TTL"),
}


def request_document(service: str, query: dict[str, list[str]]) -> dict[str, Any] | str:
    """The API request the extension's query asks for, or why it is refused (a 400)."""
    first = {k: v[0] for k, v in query.items() if v}
    if service == "secretsmanager":
        if not first.get("secretId"):
            return "secretId is required"
        doc: dict[str, Any] = {"SecretId": first["secretId"]}
        for given, field in (("versionId", "VersionId"), ("versionStage", "VersionStage")):
            if given in first:
                doc[field] = first[given]
        return doc
    name = first.get("name")
    if not name:
        return "name is required"
    if "version" in first and "label" in first:
        return "version and label cannot both be given"
    selector = first.get("version") or first.get("label")
    return {"Name": f"{name}:{selector}" if selector else name,
            "WithDecryption": first.get("withDecryption", "false").lower() == "true"}


def _setting(variables: dict[str, str], name: str, default: int, high: int) -> int:
    try:
        return min(max(int(variables.get(name, default)), 0), high)
    except ValueError:
        return default


class _Cache:
    """Answers by (token, request), each until its deadline; the least recently used go first."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[float, int, bytes]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[int, bytes] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return found[1], found[2]

    def put(self, key: tuple[str, str], ttl: int, status: int, body: bytes) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, status, body)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class ControlPlane(Protocol):
    """What the extension needs of ``api.server.ControlPlane``: its ``handle`` and its threads."""

    @property
    def cumulo(self) -> Any: ...

    @property
    def executor(self) -> Executor: ...

    def handle(self, request: Request) -> Reply: ...


class SecretsExtension:
    """The extension's HTTP interface: ``answer`` for the edge serving the door at ``PORT``."""

    def __init__(self, app: ControlPlane) -> None:
        self._app = app
        self._cumulo = app.cumulo
        self._caches: dict[str, _Cache] = {}

    async def answer(self, wire: edge.Request) -> edge.Response:
        loop = asyncio.get_running_loop()
        status, content_type, body = await loop.run_in_executor(self._app.executor, self.serve, wire.method,
                                                                wire.raw_path, wire.query_string, wire.headers)
        return edge.Response(status, [("content-type", content_type)], body)

    def serve(self, method: str, raw_path: str, query_string: str,
              headers: list[tuple[str, str]]) -> tuple[int, str, bytes]:
        """One request to (status, content type, body)."""
        route = _ROUTES.get(urllib.parse.unquote(raw_path))
        if method != "GET" or route is None:
            return 404, "text/plain", b"not found\n"
        token = next((v for k, v in headers if k.lower() == "x-aws-parameters-secrets-token"), "")
        session = self._session(token)
        if session is None:
            return 401, "text/plain", (b"X-Aws-Parameters-Secrets-Token is missing, or is not the session token "
                                       b"of a function's environment (AWS_SESSION_TOKEN)\n")
        variables = self._variables(session.session_name, session.role_arn)
        if variables is None:
            return 404, "text/plain", (b"the AWS Parameters and Secrets Lambda Extension is not among this "
                                       b"function's layers\n")
        service, target, ttl_name = route
        doc = request_document(service, urllib.parse.parse_qs(query_string, keep_blank_values=True))
        if isinstance(doc, str):
            return 400, "text/plain", doc.encode() + b"\n"
        enabled = variables.get("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "true").lower() != "false"
        ttl = _setting(variables, ttl_name, MAX_TTL_S, MAX_TTL_S) if enabled else 0
        size = _setting(variables, "PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE", CACHE_SIZE, CACHE_SIZE)
        cache = self._caches.setdefault(session.session_name, _Cache(CACHE_SIZE))
        key = (token, f"{target} {json.dumps(doc, sort_keys=True)}")
        if ttl and size and (hit := cache.get(key)) is not None:
            return hit[0], "application/x-amz-json-1.1", hit[1]
        reply = self._app.handle(self._signed(session, service, target, json.dumps(doc).encode()))
        if ttl and size and reply.status == 200:
            cache.put(key, ttl, reply.status, reply.body)
        return reply.status, "application/x-amz-json-1.1", reply.body

    def _session(self, token: str) -> Any:
        try:
            session = self._cumulo.identity.sessions.check(key_id_of(token), token)
        except (BadToken, Exception):   # forged, revoked, expired: all are 401 here
            return None
        return session if session.role_arn and session.session_name else None

    def _variables(self, function: str, role_arn: str) -> dict[str, str] | None:
        """The function's variables if the session is its own and it has the extension's layer."""
        try:
            config = self._cumulo.store.get_function(function).latest
        except Exception:
            return None
        if config.role != role_arn or not any(provided_layer(r.arn) == "parameters-secrets" for r in config.layers):
            return None
        return dict(config.environment)

    def _signed(self, session: Any, service: str, target: str, body: bytes) -> Request:
        host = "127.0.0.1"
        headers = [("host", host), ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target),
                   ("x-amz-security-token", session.token)]
        extra = sigv4.sign(sigv4.IncomingRequest("POST", "/", "", headers, body), session.key_id, session.secret,
                           self._cumulo.arns.region, service, datetime.now(timezone.utc))
        return Request("POST", "/", "", headers + extra, body, client="127.0.0.1")
