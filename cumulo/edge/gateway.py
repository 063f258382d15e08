"""The gateway: HTTP requests (from ``edge/server.py``) turned into Lambda proxy invocations.

Which API a request is for: the Host header ``{api_id}.execute-api.<anything>``,
else a first path segment naming an API (``/{api_id}/...``). Which stage: a
named stage's name as the next path segment, else ``$default``. Then the route
table (rebuilt whenever the store changes), the event in the route's payload
format, the invocation in a worker thread bounded by the integration timeout,
and the response mapping. The gateway never parses or alters what the
function returns beyond AWS's documented mapping.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import Executor
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

import orjson

from cumulo.observe.metrics import GATEWAY
from cumulo.edge.server import Request
from cumulo.app import Cumulo
from cumulo.ids import short_id
from cumulo.errors import CumuloError, ResourceNotFoundException, TooManyRequestsException
from cumulo.gateway.access import AccessControl, discard_result
from cumulo.gateway.cors import CorsConfig, apply_cors, is_preflight, preflight
from cumulo.gateway.model import DEFAULT_STAGE, HttpApi, Route, Stage
from cumulo.gateway.payload import (
    INTERNAL_ERROR, MALFORMED_V1, GatewayResponse, HttpRequest, event_v1, event_v2, response_v1, response_v2,
)
from cumulo.gateway.payload_rest import event_rest
from cumulo.gateway.responses import message
from cumulo.gateway.routing import RouteMatch, RouteTable
from cumulo.gateway.service import cors_config
from cumulo.store.base import LogRecord

__all__ = ["Gateway", "MAX_BODY_BYTES", "access_log_group"]

MAX_BODY_BYTES = 10 * 1024 * 1024     # API Gateway's payload limit
MAX_HEADER_BYTES = 10_240             # HTTP APIs: request line and header values combined


NOT_FOUND = message(404, "Not Found")
# REST APIs (API Gateway v1, SAM's Api events) answer a request no stage and route match this way.
MISSING_TOKEN = message(403, "Missing Authentication Token",
                        [("x-amzn-ErrorType", "MissingAuthenticationTokenException")])
TOO_LARGE = message(413, "Request Entity Too Large")
HEADERS_TOO_LARGE = message(431, "Request Header Fields Too Large")
TIMEOUT = message(504, "Endpoint request timed out")
THROTTLED = message(429, "Too Many Requests")
BAD_REQUEST = message(400, "Bad Request")


# Function URLs: "<url-id>.lambda-url.<region>.localhost" in Host, or this path prefix (docs/gateway.md).
URL_PREFIX = "/lambda-url/"
URL_NOT_FOUND = message(404, "Not Found")
URL_FORBIDDEN = GatewayResponse(403, [("content-type", "application/json"),
                                      ("x-amzn-ErrorType", "AccessDeniedException")], b'{"Message":"Forbidden"}')
URL_ERROR = message(502, "Internal Server Error")
# (request, the function's ARN) -> requestContext.authorizer.iam of a caller allowed lambda:InvokeFunctionUrl, or None
UrlIam = Callable[[Request, str], "dict[str, Any] | None"]


class Gateway:
    def __init__(self, cumulo: Cumulo, executor: Executor, busy: Callable[[], bool] | None = None,
                 url_iam: UrlIam | None = None) -> None:
        self.cumulo = cumulo
        self._url_iam = url_iam     # checks AWS_IAM function URLs' signatures and policies (None: all refused)
        self.executor = executor
        self._busy = busy        # whether the loop has other work (edge.server.Readiness.pending)
        self._generation = -1
        self._apis: dict[str, tuple[HttpApi, RouteTable, CorsConfig | None]] = {}
        self._longest: dict[str, float] = {}
        self._longest_generation = -1
        self.access = AccessControl(cumulo.store, executor, self._invoke, cumulo.arns.region, cumulo.arns.account)

    def close(self) -> None:
        self.access.close()

    # -- APIs, cached until the store changes --------------------------------
    def _api(self, api_id: str) -> tuple[HttpApi, RouteTable, CorsConfig | None] | None:
        store = self.cumulo.store
        if store.generation != self._generation:
            self._apis.clear()
            self._generation = store.generation
        if api_id not in self._apis:
            try:
                api = self.cumulo.apis.get_api(api_id)
            except ResourceNotFoundException:
                return None
            self._apis[api_id] = (api, RouteTable(r.route_key for r in api.routes),
                                  cors_config(api.cors) if api.cors else None)
        return self._apis[api_id]

    def _locate(self, host: str, raw_path: str) -> tuple[HttpApi, RouteTable, CorsConfig | None, Stage | None, str] | None:
        """(API, routes, stage, path within the stage) for a request, or None; the stage is None
        when the API has neither the named stage nor ``$default``."""
        segments = raw_path.split("/")
        found = None
        if ".execute-api." in host:
            found = self._api(host.split(".", 1)[0])
        if found is None and len(segments) > 1 and segments[1]:
            found = self._api(segments[1])
            if found is not None:
                raw_path = "/" + "/".join(segments[2:])
                segments = raw_path.split("/")
        if found is None:
            return None
        api, table, cors = found
        if len(segments) > 1:
            named = api.stage(unquote(segments[1]))
            if named is not None and named.name != DEFAULT_STAGE:
                return api, table, cors, named, "/" + "/".join(segments[2:])
        return api, table, cors, api.stage(DEFAULT_STAGE), raw_path

    # -- HTTP -----------------------------------------------------------------
    async def handle(self, request: Request) -> GatewayResponse:
        """One request from the HTTP edge (``edge/server.py``), whole body included."""
        started = time.monotonic()
        access: dict[str, Any] = {}
        response = await self._respond(request, access)
        if "requestId" in access:
            response = GatewayResponse(response.status, [*response.headers, ("apigw-requestid", access["requestId"])],
                                       response.body)
        if "apiId" in access:
            self._access_log(access, response.status, started)
            status, dims = response.status, (("ApiId", access["apiId"]), ("Stage", access.get("stage", "")))
            self.cumulo.metric_recorder.add_many(GATEWAY, dims, (     # AWS/ApiGateway (docs/metrics.md)
                ("Count", 1.0, "Count"), ("4xx", 1.0 if 400 <= status < 500 else 0.0, "Count"),
                ("5xx", 1.0 if status >= 500 else 0.0, "Count"),
                ("Latency", (time.monotonic() - started) * 1000, "Milliseconds")))
        return response

    def _access_log(self, access: dict[str, Any], status: int, started: float) -> None:
        """One JSON line per request in the API's log group (``/aws/apigateway/<api-id>``)."""
        access.update(status=status, responseLatency=round((time.monotonic() - started) * 1000, 3))
        now = int(time.time() * 1000)
        self.cumulo.logs.emit([LogRecord(access_log_group(access["apiId"]), access.get("stage", ""), "access",
                                         access.get("requestId"), now, orjson.dumps(access).decode())])

    async def _respond(self, request: Request, access: dict[str, Any]) -> GatewayResponse:
        headers = request.headers
        line = len(request.raw_path) + len(request.query_string) + len(request.method)
        if line + sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            return HEADERS_TOO_LARGE
        if len(request.body) > MAX_BODY_BYTES:
            return TOO_LARGE
        host = next((v for k, v in headers if k.lower() == "host"), "")
        target = url_target(host, request.raw_path)
        if target is not None:
            return await self._function_url(target[0], target[1], host, request)
        located = self._locate(host, request.raw_path)
        if located is None:
            return NOT_FOUND
        api, table, cors, stage, path = located
        if stage is None:
            return _no_route(api)
        ip = request.client[0]
        access.update(apiId=api.api_id, stage=stage.name, requestId=_request_id(), ip=ip,
                      httpMethod=request.method, path=path, routeKey="-", integrationLatency=None)
        if cors is not None and is_preflight(request.method, headers):
            return preflight(cors, headers)
        if api.rest_cors is not None and request.method == "OPTIONS":
            answer = _rest_options(api, table, path)
            if answer is not None:
                return answer
        response = await self._route(api, table, stage, path, request, host, ip, access)
        return response if cors is None else apply_cors(cors, headers, response)

    async def _route(self, api: HttpApi, table: RouteTable, stage: Stage, path: str, received: Request,
                     host: str, ip: str, access: dict[str, Any]) -> GatewayResponse:
        try:
            match = table.match(received.method, path)
        except CumuloError:
            return BAD_REQUEST
        if match is None:
            return _no_route(api)
        route = next(r for r in api.routes if r.route_key == match.route_key)
        access["routeKey"] = route.route_key
        request = HttpRequest(
            method=received.method, raw_path=path, raw_query=received.query_string,
            headers=received.headers, body=received.body, source_ip=ip, request_id=access["requestId"],
            time_epoch_ms=int(time.time() * 1000), api_id=api.api_id, domain_name=host, stage=stage.name,
            account_id=self.cumulo.arns.account)
        context = {"requestId": request.request_id, "apiId": api.api_id, "stage": stage.name, "domainName": host,
                   "httpMethod": request.method, "path": path, "routeKey": route.route_key,
                   "identity": {"sourceIp": ip}}
        admission = await self.access.admit(api, stage, route, request, match, context)
        if admission.refused is not None:
            return admission.refused
        return await self._integrate(api, route, request, match, stage, access, admission.authorizer)

    async def _integrate(self, api: HttpApi, route: Route, request: HttpRequest, match: RouteMatch, stage: Stage,
                         access: dict[str, Any], authorizer: dict[str, Any] | None = None) -> GatewayResponse:
        v2 = route.payload_version == "2.0"
        rest = api.protocol == "REST"
        if rest:
            event = event_rest(request, match, stage.variables or None, authorizer, api.binary_media_types)
        else:
            event = (event_v2 if v2 else event_v1)(request, match, stage.variables or None, authorizer)
        payload = orjson.dumps(event)
        integration_started = time.monotonic()
        try:
            call = self._invoke(route.function, payload, _trace_header(request.headers))
            if route.timeout_ms / 1000 >= self._longest_run_s(route.function):
                result = await call       # the function's own deadline ends it first: no timer needed
            else:
                task = asyncio.ensure_future(call)
                task.add_done_callback(discard_result)    # after a 504 nobody awaits it; its error is not news
                result = await asyncio.wait_for(asyncio.shield(task), route.timeout_ms / 1000)
        except asyncio.TimeoutError:
            return TIMEOUT      # the function runs on to its own timeout, as on AWS
        except TooManyRequestsException:
            return THROTTLED
        except CumuloError:
            return MALFORMED_V1 if rest else INTERNAL_ERROR
        finally:
            access["integrationLatency"] = round((time.monotonic() - integration_started) * 1000, 3)
        if result.function_error:
            return MALFORMED_V1 if rest else INTERNAL_ERROR     # REST: 502 "Internal server error"
        return (response_v2 if v2 else response_v1)(result.payload)

    async def _function_url(self, url_id: str, path: str, host: str, received: Request) -> GatewayResponse:
        """A request to a function URL: its CORS, its AuthType, the payload 2.0 event, the function's answer."""
        url = self.cumulo.function_urls.by_id(url_id)
        if url is None:
            return URL_NOT_FOUND
        cors = cors_config(url.cors) if url.cors else None
        if cors is not None and is_preflight(received.method, received.headers):
            return preflight(cors, received.headers)
        authorizer, account = None, "anonymous"
        if url.auth_type == "AWS_IAM":
            iam = None if self._url_iam is None else await asyncio.get_running_loop().run_in_executor(
                self.executor, self._url_iam, received, self.cumulo.arns.function(url.function, url.qualifier))
            if iam is None:
                return URL_FORBIDDEN
            authorizer, account = {"iam": iam}, iam["accountId"]
        ip, port = received.client[0], received.server_port
        headers = [*received.headers, ("x-forwarded-for", ip), ("x-forwarded-proto", "http"),
                   ("x-forwarded-port", str(port))]
        domain = host.rsplit(":", 1)[0] if ".lambda-url." in host else \
            f"{url_id}.lambda-url.{self.cumulo.arns.region}.localhost"
        request = HttpRequest(method=received.method, raw_path=path, raw_query=received.query_string, headers=headers,
                              body=received.body, source_ip=ip, request_id=str(uuid.uuid4()),
                              time_epoch_ms=int(time.time() * 1000), api_id=url_id, domain_name=domain,
                              stage=DEFAULT_STAGE, account_id=account)
        event = event_v2(request, RouteMatch("$default", {}), None, authorizer)
        function = url.function + (f":{url.qualifier}" if url.qualifier else "")
        try:
            result = await self._invoke(function, orjson.dumps(event), _trace_header(received.headers))
        except TooManyRequestsException:
            return THROTTLED
        except CumuloError:
            return URL_ERROR
        if result.function_error:
            return URL_ERROR
        response = response_v2(result.payload)
        return response if cors is None else apply_cors(cors, received.headers, response)

    def _longest_run_s(self, function: str) -> float:
        """How long an invocation of ``function`` can take at most: Init, then its timeout
        (cached until the store changes)."""
        store = self.cumulo.store
        if store.generation != self._longest_generation:
            self._longest.clear()
            self._longest_generation = store.generation
        known = self._longest.get(function)
        if known is None:
            known = self._longest[function] = self._resolve_longest_run_s(function)
        return known

    def _resolve_longest_run_s(self, function: str) -> float:
        try:
            config, _ = self.cumulo.functions.resolve_for_invoke(function, None)
        except CumuloError:
            return 0.0          # the invocation itself will report it
        return self.cumulo.settings.init_timeout_s + config.timeout + 1.0

    def _invoke(self, function: str, payload: bytes, trace_header: str | None = None) -> Awaitable[Any]:
        return self.cumulo.invoke_on_loop(function, payload, self.executor, busy=self._busy, trace_header=trace_header)


def _trace_header(headers: list[tuple[str, str]]) -> str | None:
    """The client's ``X-Amzn-Trace-Id``: the function's invocation continues its trace (docs/traces.md)."""
    for key, value in headers:
        if len(key) == 15 and key.lower() == "x-amzn-trace-id":
            return value
    return None


def _no_route(api: HttpApi) -> GatewayResponse:
    """What a request that matches no route of ``api`` gets: HTTP APIs 404 ``Not Found``, REST
    APIs 403 ``Missing Authentication Token``, as API Gateway answers each."""
    return MISSING_TOKEN if api.protocol == "REST" else NOT_FOUND


def url_target(host: str, raw_path: str) -> tuple[str, str] | None:
    """``(url id, path)`` when a request is for a function URL: ``Host: <url-id>.lambda-url.<...>`` (the path is
    the function's), or the path ``/lambda-url/<url-id>/<path>``; else None."""
    if ".lambda-url." in host:
        return host.split(".", 1)[0].lower(), raw_path
    if raw_path.startswith(URL_PREFIX):
        url_id, _, rest = raw_path[len(URL_PREFIX):].partition("/")
        return url_id.lower(), "/" + rest
    return None


def _rest_options(api: HttpApi, table: RouteTable, path: str) -> GatewayResponse | None:
    """SAM's ``Cors`` on a REST API: every path with methods gets an ``OPTIONS`` method (a mock
    integration) answering 200 with the configured headers, unless the template declares its own
    ``OPTIONS``; ``Access-Control-Allow-Methods`` defaults to the path's methods. None: not such a path."""
    try:
        if (declared := table.match("OPTIONS", path)) is not None and declared.route_key.startswith("OPTIONS "):
            return None
        keys = {m: found.route_key for m in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
                if (found := table.match(m, path)) is not None and found.route_key != "$default"}
    except CumuloError:
        return None
    if not keys:
        return None
    headers = dict(api.rest_cors or {})
    if "Access-Control-Allow-Methods" not in headers:
        methods = sorted({*keys, "OPTIONS"}) if any(k.startswith("ANY ") for k in keys.values()) else \
            sorted({k.split(" ", 1)[0] for k in keys.values()} | {"OPTIONS"})
        headers["Access-Control-Allow-Methods"] = ",".join(methods)
    return GatewayResponse(200, [("content-type", "application/json"), *headers.items()], b"")


def access_log_group(api_id: str) -> str:
    return f"/aws/apigateway/{api_id}"


def _request_id() -> str:
    """HTTP APIs' request IDs look like ``JKJaXmPLvHcESHA=``: 10 random bytes, base64."""
    return short_id(10)
