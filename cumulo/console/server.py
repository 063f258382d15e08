"""The console's HTTP side: sessions, CSRF, routes, actions, the live log tail.

It listens on a port of its own (``cumulo up --console-port``, 8081 by default) and is served by the
standard library's threading HTTP server: a page is rendered in one thread, and a live tail
(server-sent events) holds a thread for as long as its browser listens.

* **Login**: with one of the store's access keys (the owner's; a role session's temporary keys are
  refused, since the pages' reads are not checked against a role's policies): checked by the control
  plane's own key lookup (``ControlPlane.keys``); the session lives in memory,
  its id only in a cookie (``HttpOnly; SameSite=Strict``), never in a URL. Under ``--no-auth`` there
  is no login: the console is the owner's and answers loopback clients only, and only for a loopback
  ``Host`` (a page of another site cannot reach it by DNS rebinding).
* **CSRF**: every POST carries the session's token (a hidden field) and, when the browser sends
  one, an ``Origin`` of this console's own; anything else is refused (403).
* **Actions** go through ``ControlPlane.dispatch``: the same routing, authorization (``api/authz``,
  for a role session) and operations as a signed API request. Destructive ones (stop an execution,
  redrive a queue) ask first: a confirmation page, whose Confirm button posts again.
* **Headers**: a Content-Security-Policy allowing only the console's own script and stylesheet
  (no inline script), ``X-Frame-Options: DENY``, ``nosniff``, ``Referrer-Policy: same-origin`` (with ``no-referrer`` a browser
  sends ``Origin: null``), ``no-store``.
"""

from __future__ import annotations

import base64
import hmac
import html
import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Iterator, Protocol
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from cumulo.api import sigv4
from cumulo.api.http import Reply, Request
from cumulo.console import metrics_view, pages, service_pages, stacks_view
from cumulo.console.html import Safe, page, render, url
from cumulo.console.static import CSS, JS
from cumulo.console.telemetry import LogTelemetry, Telemetry
from cumulo.deploy import stacks
from cumulo.errors import CumuloError
from cumulo.logs.patterns import PatternError

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Console", "ConsoleServer", "Response", "COOKIE"]

log = logging.getLogger("cumulo.console")
COOKIE = "cumulo_console"
SESSION_IDLE_S = 12 * 3600
TAIL_POLL_S = 0.5
TAIL_MAX_S = 30 * 60
_SECURITY = [
    ("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("x-frame-options", "DENY"), ("x-content-type-options", "nosniff"), ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
]


class ControlPlane(Protocol):
    """What the console needs of ``api.server.ControlPlane``: its key lookup and its dispatch."""

    keys: sigv4.Keys

    def dispatch(self, request: Request, authenticated: bool = True) -> Reply: ...


@dataclass
class Session:
    principal: sigv4.Principal
    csrf: str
    seen: float


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Iterator[bytes] | None = None      # server-sent events, written as they come


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str                  # percent-encoded
    query: dict[str, str]
    headers: dict[str, str]    # lower-cased names
    body: bytes = b""
    client: str = "127.0.0.1"

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return address == "localhost"


def _html(status: int, body: bytes, extra: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, body, [("content-type", "text/html; charset=utf-8"), *_SECURITY, *(extra or [])])


def _redirect(to: str, extra: list[tuple[str, str]] | None = None) -> Response:
    return Response(303, b"", [("location", to), *_SECURITY, *(extra or [])])


class Console:
    """Requests to responses, without sockets (``ConsoleServer`` serves it; tests and the benchmark
    call ``handle`` directly)."""

    def __init__(self, cumulo: "Cumulo", control: ControlPlane, login: bool = True,
                 telemetry: Telemetry | None = None) -> None:
        self.c = cumulo
        self.control = control
        self.login = login
        newest = getattr(cumulo.store, "newest_logs", None)     # not in the Store protocol: where a store has it
        self.telemetry = telemetry or LogTelemetry(
            lambda fn, since, limit: cumulo.store.query_logs(fn, since, 0, limit), newest=newest)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # -- sessions ---------------------------------------------------------------
    def _session(self, req: Incoming) -> Session | None:
        sid = _cookie(req.headers.get("cookie", ""), COOKIE)
        now = time.monotonic()
        with self._lock:
            s = self._sessions.get(sid or "")
            if s is not None and now - s.seen > SESSION_IDLE_S:
                del self._sessions[sid or ""]
                s = None
            if s is not None:
                s.seen = now
            return s

    def _new_session(self, principal: sigv4.Principal) -> tuple[Session, str]:
        sid = secrets.token_urlsafe(32)
        s = Session(principal, secrets.token_urlsafe(24), time.monotonic())
        with self._lock:
            if len(self._sessions) > 10_000:
                self._sessions.clear()
            self._sessions[sid] = s
        return s, f"{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/"

    def owner(self) -> sigv4.Principal:
        return sigv4.Principal("", self.c.arns.region, "", self.c.identity.root_arn)

    def _check_key(self, key_id: str, secret: str) -> sigv4.Principal | None:
        """The owner's principal for one of the store's keys and its secret; None for anything else
        (a role session's keys included: the pages read without asking a role's policies)."""
        try:
            key = self.control.keys(key_id, None)
        except CumuloError:
            return None
        if not isinstance(key, sigv4.Key) or key.role_arn is not None or \
                not hmac.compare_digest(key.secret.encode(), secret.encode()):
            return None
        return sigv4.Principal(key_id, self.c.arns.region, "", key.arn, key.role_arn, key.session_name)

    # -- requests -----------------------------------------------------------------
    def handle(self, req: Incoming) -> Response:
        try:
            return self._handle(req)
        except CumuloError as err:
            return _html(err.status if 400 <= err.status < 600 else 400,
                         page("Not found" if err.status == 404 else "Error",
                              render('<p class="flash error" role="alert">{t}: {m}</p>', t=err.type, m=err.message),
                              logout=False))
        except Exception:
            log.exception("console: %s %s", req.method, req.path)
            return _html(500, page("Error", Safe('<p class="flash error">An internal error occurred; see the '
                                                 "server's log.</p>"), logout=False))

    def _handle(self, req: Incoming) -> Response:
        if req.path == "/static/console.css":
            return Response(200, CSS.encode(), [("content-type", "text/css; charset=utf-8"),
                                                ("cache-control", "max-age=3600"), ("x-content-type-options", "nosniff")])
        if req.path == "/static/console.js":
            return Response(200, JS.encode(), [("content-type", "text/javascript; charset=utf-8"),
                                               ("cache-control", "max-age=3600"), ("x-content-type-options", "nosniff")])
        if not self.login:
            host = urlsplit("//" + req.headers.get("host", "")).hostname or ""
            if not _loopback(req.client) or not _loopback(host):
                return _html(403, page("Forbidden", Safe("<p>Without a login (--no-auth) the console answers "
                                                         "loopback addresses only.</p>"), logout=False))
        if req.method == "POST" and not self._same_origin(req):
            return _html(403, page("Forbidden", Safe("<p>A form of another site.</p>"), logout=False))
        session = self._session(req)
        cookie: list[tuple[str, str]] = []
        if req.path == "/login":
            return self._login(req, session)
        if session is None:
            if self.login:
                return _redirect("/login")
            session, set_cookie = self._new_session(self.owner())
            cookie = [("set-cookie", set_cookie)]
        if req.method == "POST":
            if not hmac.compare_digest(req.form().get("csrf", "").encode(), session.csrf.encode()):
                return _html(403, page("Forbidden", Safe("<p>The form's token is missing or stale: reload the "
                                                         "page and try again.</p>"), logout=False))
            reply = self._action(req, session)
        else:
            reply = self._page(req, session)
        reply.headers.extend(cookie)
        return reply

    def _same_origin(self, req: Incoming) -> bool:
        origin = req.headers.get("origin")
        return origin is None or origin == f"http://{req.headers.get('host', '')}"

    def _login(self, req: Incoming, session: Session | None) -> Response:
        if not self.login:
            return _redirect("/functions")
        if req.method != "POST":
            return _html(200, page("Log in", pages.login_page(), logout=False))
        form = req.form()
        principal = self._check_key(form.get("key_id", "").strip(), form.get("secret", ""))
        if principal is None:
            time.sleep(0.25)       # a guess costs time
            return _html(401, page("Log in", pages.login_page("That access key and secret are not this store's."),
                                   logout=False))
        if session is not None:
            with self._lock:
                self._sessions = {k: v for k, v in self._sessions.items() if v is not session}
        _, set_cookie = self._new_session(principal)
        return _redirect("/functions", [("set-cookie", set_cookie)])

    def _page(self, req: Incoming, s: Session) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/")] if req.path.strip("/") else []
        q = req.query
        if not parts:
            return _redirect("/functions")
        head = parts[0]
        if head in ("functions", "apis"):
            self.c.logs.flush()      # what was just invoked (or requested) is in the store before it is read
        if head == "functions" and len(parts) == 1:
            try:
                number = int(q.get("page", "0"))
            except ValueError:
                number = 0
            w = metrics_view.window(metrics_view.SPARK_RANGE, period=metrics_view.SPARK_PERIOD)
            body = pages.functions_list(self.c, self.telemetry, q.get("q", ""), number,
                                        lambda names: metrics_view.function_sparklines(self.c.metrics, names, w))
            return self._ok("Functions", body, "f", s)
        if head == "functions" and len(parts) == 2:
            w = metrics_view.window(q.get("range", "1h"))
            charts = render('<h2 id="metrics">Metrics, last {r}</h2><p><a href="{h}">More metrics and alarms</a></p>'
                            '{charts}', r=w.name, h=url("metrics", function=parts[1], range=w.name),
                            charts=metrics_view.function_charts(self.c.metrics, parts[1], w))
            body = pages.function_page(self.c, self.telemetry, parts[1], s.csrf)
            return self._ok(parts[1], Safe(body + charts), "f", s)
        if head == "metrics" and len(parts) == 1:
            names = sorted(f.name for f in self.c.list_functions())
            function = q.get("function", "")
            if function and function not in names:
                function = ""
            return self._ok("Metrics", metrics_view.metrics_page(self.c.metrics, self.c.alarms, names, function,
                                                                 q.get("range", "1h")), "m", s)
        if head == "functions" and len(parts) == 4 and parts[2] == "requests":
            since = q.get("since", "")       # the earliest its lines can be (the index's range)
            return self._ok(f"Request {parts[3]}", pages.request_log(self.c, parts[1], parts[3],
                                                                     int(since) if since.isdigit() else None), "f", s)
        if head == "logs" and len(parts) == 1:
            return self._ok("Logs", pages.logs_page(self.c, q.get("function", ""), q.get("filter", "")), "l", s)
        if head == "logs" and parts[1:] == ["stream"]:
            try:
                pages.log_filter(q.get("filter", ""))
            except PatternError as err:
                return Response(400, f"InvalidParameterException: Invalid filter pattern: {err.message}\n".encode(),
                                [("content-type", "text/plain; charset=utf-8"), *_SECURITY])
            return Response(200, b"", [("content-type", "text/event-stream; charset=utf-8"), *_SECURITY],
                            stream=self.tail(q.get("function", ""), q.get("filter", "")))
        if head == "states" and len(parts) == 1:
            return self._ok("State machines", pages.states_list(self.c), "s", s)
        if head == "states" and len(parts) == 2:
            name, body = pages.machine_page(self.c, parts[1], s.csrf)
            return self._ok(name, body, "s", s)
        if head == "executions" and len(parts) == 2:
            name, body = pages.execution_page(self.c, parts[1], s.csrf)
            return self._ok(f"Execution {name}", body, "s", s)
        if head == "queues" and len(parts) == 1:
            flash = None
            if q.get("moved"):
                flash = render('<p class="flash" role="status" id="flash">Moved {n} message(s) from {f}.</p>',
                               n=q["moved"], f=q.get("from", ""))
            return self._ok("Queues", pages.queues_page(self.c, s.csrf), "q", s, flash)
        if len(parts) == 1 and head in _SERVICE_PAGES:
            title, section, render_page = _SERVICE_PAGES[head]
            return self._ok(title, render_page(self.c), section, s)
        if head == "stacks" and len(parts) == 1:
            return self._ok("Stacks", stacks_view.stacks_page(self.c, s.csrf), "d", s)
        if head == "stacks" and len(parts) == 2:
            return self._ok(f"Stack {parts[1]}", stacks_view.stack_page(self.c, parts[1], s.csrf), "d", s)
        if head == "tables" and len(parts) == 2:
            return self._ok(f"Table {parts[1]}", service_pages.table_page(self.c, parts[1], q.get("start", "")), "t", s)
        return _html(404, page("Not found", Safe("<p>No such page.</p>"), csrf=s.csrf if self.login else ""))

    def _ok(self, title: str, body: Safe, section: str, s: Session, flash: Safe | None = None) -> Response:
        return _html(200, page(title, body, section, s.csrf if self.login else "", flash))

    # -- actions ------------------------------------------------------------------
    def _action(self, req: Incoming, s: Session) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/")]
        form = req.form()
        if parts == ["logout"]:
            with self._lock:
                self._sessions = {k: v for k, v in self._sessions.items() if v is not s}
            return _redirect("/login" if self.login else "/functions",
                             [("set-cookie", f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")])
        if len(parts) == 3 and parts[0] == "functions" and parts[2] == "invoke":
            return self._invoke(parts[1], form.get("payload", ""), s)
        if len(parts) == 3 and parts[0] == "states" and parts[2] == "start":
            doc: dict[str, Any] = {"stateMachineArn": parts[1], "input": form.get("input") or "{}"}
            if form.get("name"):
                doc["name"] = form["name"]
            out = self._call(s, "AWSStepFunctions", "StartExecution", doc)
            return _redirect(url("executions", out["executionArn"]))
        if len(parts) == 3 and parts[0] == "executions" and parts[2] == "stop":
            if form.get("confirmed") != "yes":
                return self._confirm(s, f"Stop execution {parts[1]}? It fails with error “Stopped”.", req.path,
                                     url("executions", parts[1]))
            self._call(s, "AWSStepFunctions", "StopExecution", {"executionArn": parts[1],
                                                                "cause": "Stopped from the console"})
            return _redirect(url("executions", parts[1]))
        if len(parts) == 3 and parts[0] == "executions" and parts[2] == "redrive":
            if form.get("confirmed") != "yes":
                return self._confirm(s, f"Redrive execution {parts[1]}? It continues from the state it stopped in.",
                                     req.path, url("executions", parts[1]))
            self._call(s, "AWSStepFunctions", "RedriveExecution", {"executionArn": parts[1]})
            return _redirect(url("executions", parts[1]))
        if parts == ["stacks", "deploy"]:
            return self._deploy(form, req.path, s)
        if len(parts) == 3 and parts[0] == "queues" and parts[2] == "redrive":
            name = parts[1]
            if form.get("confirmed") != "yes":
                count = self.c.queues.get_queue_attributes(name, ["ApproximateNumberOfMessages"])
                return self._confirm(s, f"Move the {count.get('ApproximateNumberOfMessages', '?')} message(s) of "
                                        f"dead-letter queue {name} back to their source queue?", req.path, "/queues")
            arn = self.c.queues.arn(name)
            self._call(s, "AmazonSQS", "StartMessageMoveTask", {"SourceArn": arn})
            tasks = self._call(s, "AmazonSQS", "ListMessageMoveTasks", {"SourceArn": arn}).get("Results", [])
            moved = tasks[0].get("ApproximateNumberOfMessagesMoved", 0) if tasks else 0
            return _redirect(url("queues", moved=moved, **{"from": name}))
        return _html(404, page("Not found", Safe("<p>No such action.</p>"), logout=False))

    def _confirm(self, s: Session, question: str, action: str, back: str,
                 fields: dict[str, str] | None = None) -> Response:
        return _html(200, page("Confirm", pages.confirm_page(question, action, s.csrf, fields or {}, back),
                               csrf=s.csrf if self.login else ""))

    def _deploy(self, form: dict[str, str], path: str, s: Session) -> Response:
        """CreateStack, or UpdateStack (after a confirmation: it may replace or delete resources) of
        the stack named in the form, through CloudFormation's API as ``aws cloudformation`` calls it."""
        name, template = form.get("stack", "").strip(), form.get("template", "")
        params = {"StackName": name, "TemplateBody": template}
        if form.get("ack") == "yes":
            params.update({f"Capabilities.member.{i}": cap for i, cap in
                           enumerate(("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"), 1)})
        exists = name in {st["StackName"] for st in stacks.describe_stacks(self.c)}
        if exists and form.get("confirmed") != "yes":
            return self._confirm(s, f"Update stack {name}? Resources the new template no longer has are deleted, "
                                    "and changed ones may be replaced.", path, url("stacks", name),
                                 {k: v for k, v in form.items() if k in ("stack", "template", "ack")})
        try:
            self._query(s, "UpdateStack" if exists else "CreateStack", params)
        except _ActionFailed as err:
            if exists and "No updates are to be performed" in err.message:
                return _redirect(url("stacks", name))
            return self._ok("Deploy failed", render('<p class="flash error" role="alert">{t}: {m}</p>{f}', t=err.type,
                                                    m=err.message, f=stacks_view.deploy_form(s.csrf, name, template)),
                            "d", s)
        return _redirect(url("stacks", name))

    def _query(self, s: Session, action: str, params: dict[str, str]) -> bytes:
        """One CloudFormation operation (query protocol), as the API runs it for this session's principal."""
        body = urlencode({"Action": action, "Version": "2010-05-15", **params}).encode()
        reply = self.control.dispatch(self._request(s, "POST", "/", body, [
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8")]))
        if reply.status >= 400:
            code = re.search(rb"<Code>([^<]*)</Code>", reply.body)
            message = re.search(rb"<Message>([^<]*)</Message>", reply.body)
            raise _ActionFailed(reply.status, html.unescape(code.group(1).decode()) if code else "Error",
                                html.unescape(message.group(1).decode()) if message else "")
        return reply.body

    def _request(self, s: Session, method: str, path: str, body: bytes, headers: list[tuple[str, str]]) -> Request:
        host = self.c.endpoint_url.split("//", 1)[-1] if self.c.endpoint_url else "localhost"
        return Request(method, path, "", [("host", host), *headers], body, "127.0.0.1", principal=s.principal)

    def _call(self, s: Session, prefix: str, operation: str, doc: dict[str, Any]) -> dict[str, Any]:
        """One operation of a JSON-protocol service, as the API runs it for this session's principal."""
        request = self._request(s, "POST", "/", json.dumps(doc).encode(),
                                [("x-amz-target", f"{prefix}.{operation}"),
                                 ("content-type", "application/x-amz-json-1.0")])
        reply = self.control.dispatch(request)
        out = json.loads(reply.body or b"{}")
        if reply.status >= 400:
            raise _ActionFailed(reply.status, str(out.get("__type", "Error")).rsplit("#", 1)[-1],
                                str(out.get("message") or out.get("Message") or ""))
        return out if isinstance(out, dict) else {}

    def _invoke(self, name: str, payload: str, s: Session) -> Response:
        started = int(time.time() * 1000) - 2_000
        request = self._request(s, "POST", f"/2015-03-31/functions/{quote(name, safe='')}/invocations",
                                payload.encode(), [("x-amz-log-type", "Tail"), ("content-type", "application/json")])
        reply = self.control.dispatch(request)
        headers = {k.lower(): v for k, v in reply.headers}
        result: dict[str, Any]
        if reply.status >= 400:
            try:
                doc = json.loads(reply.body)
            except ValueError:
                doc = {}
            result = {"error": (headers.get("x-amzn-errortype", str(reply.status)),
                                str(doc.get("message") or doc.get("Message") or ""))}
        else:
            tail = headers.get("x-amz-log-result")
            result = {"status": reply.status, "payload": reply.body.decode("utf-8", "replace"),
                      "function_error": headers.get("x-amz-function-error"),
                      "request_id": headers.get("x-amzn-requestid", ""), "since": started,
                      "version": headers.get("x-amz-executed-version", ""),
                      "log": base64.b64decode(tail).decode("utf-8", "replace") if tail else ""}
        self.c.logs.flush()
        return self._ok(name, pages.function_page(self.c, self.telemetry, name, s.csrf, payload, result), "f", s)

    # -- the live tail -----------------------------------------------------------
    def tail(self, function: str, filter_text: str, max_s: float = TAIL_MAX_S,
             poll_s: float = TAIL_POLL_S) -> Iterator[bytes]:
        """Server-sent events: each new log line (of ``function``, or of every function) that passes the
        filter pattern (CloudWatch Logs' syntax, ``pages.log_filter``), as JSON; a comment every 15 s keeps proxies from closing the stream."""
        pattern = pages.log_filter(filter_text)
        started = time.time()
        since = int(started * 1000) - 60_000       # the last minute first
        last_id = 0
        names: list[str] = []
        names_at = 0.0
        pinged = time.monotonic()
        yield b"retry: 2000\n\n"
        if function:
            self.c.get_function_configuration(function)     # an unknown function: 404 before the stream
        while time.time() - started < max_s:
            if not function and time.monotonic() - names_at > 10:
                names, names_at = self.c.store.function_names(), time.monotonic()
            records = []
            for name in ([function] if function else names):
                records.extend(self.c.get_logs(name, since_ms=since, after_id=last_id, limit=500))
            records.sort(key=lambda r: r.id)
            out = []
            for r in records:
                last_id = max(last_id, r.id)
                # lines come out of order by at most an invocation's length (15 minutes): the index's
                # range need not reach further back than that before the newest line seen
                since = max(since, r.timestamp_ms - 16 * 60_000)
                if pattern.match(r.message):
                    out.append(b"data: " + json.dumps({"id": r.id, "function": r.function, "timestamp": r.timestamp_ms,
                                                       "requestId": r.request_id, "message": r.message}).encode()
                               + b"\n\n")
            if out:
                yield b"".join(out)
                pinged = time.monotonic()
            elif time.monotonic() - pinged > 15:
                yield b": ping\n\n"
                pinged = time.monotonic()
            time.sleep(poll_s)


matches = pages.matches


# path: (title, the layout's section letter, the page)
_SERVICE_PAGES = {"buses": ("Event buses", "b", service_pages.buses_page),
                  "streams": ("Streams", "k", service_pages.streams_page),
                  "tables": ("Tables", "t", service_pages.tables_page),
                  "apis": ("APIs", "a", service_pages.apis_page)}


class _ActionFailed(CumuloError):
    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self._type = type_

    @property
    def type(self) -> str:
        return self._type


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "ConsoleServer"

    def log_message(self, format: str, *args: Any) -> None:   # noqa: A002 (the base class's name)
        log.debug("console %s " + format, self.client_address[0], *args)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > 7 * 1024 * 1024:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        req = Incoming(self.command, split.path or "/", query, {k.lower(): v for k, v in self.headers.items()},
                       body, self.client_address[0])
        reply = self.server.console.handle(req)
        self.send_response(reply.status)
        for k, v in reply.headers:
            self.send_header(k, v)
        if reply.stream is None:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
            return
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in reply.stream:
                if self.server.stopping.is_set():
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        except CumuloError as err:   # e.g. the tailed function is gone
            self.wfile.write(b"event: error\ndata: " + json.dumps({"message": err.message}).encode() + b"\n\n")

    do_GET = do_POST = do_HEAD = _serve


class ConsoleServer(ThreadingHTTPServer):
    """The console on its own listening socket, in a thread of its own (``start``/``stop``)."""

    daemon_threads = True

    def __init__(self, sock: Any, console: Console) -> None:
        self.console = console
        self.stopping = threading.Event()
        super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="cumulo-console", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
