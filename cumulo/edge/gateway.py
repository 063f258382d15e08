"""The gateway: HTTP requests (from ``edge/server.py``) turned into Lambda proxy invocations.

Which API a request is for: the Host header ``{api_id}.execute-api.<anything>``,
else a first path segment naming an API (``/{api_id}/...``). Which stage: a
named stage's name as the next path segment, else ``$default``. Then the route
table (rebuilt whenever the store changes), the event in the route's payload
format, the invocation in a worker thread bounded by the integration timeout,
and the response mapping. The gateway never parses or alters what the
function returns beyond AWS's documented mapping.

WebSocket APIs: an upgrade request for one (``upgrade``) runs ``$connect`` (and its Lambda
authorizer) before the handshake is answered; each message is routed by the API's selection
expression and invoked; ``$disconnect`` runs when the connection ends, however it ends. The
``@connections`` management API (``PostToConnection``, ``GetConnection``, ``DeleteConnection``) is
served on the same port, signed (SigV4, ``execute-api:ManageConnections``). Connections live in this
process: a server's restart closes them, as a deployment's does on AWS.
"""

from __future__ import annotations

import asyncio
import http.client
import select
import ssl
import threading
import time
import uuid
from concurrent.futures import Executor
from typing import Any, Awaitable, Callable
from urllib.parse import unquote, urlsplit

import orjson

from cumulo.observe.metrics import GATEWAY
from cumulo.edge.server import Request, Upgrade
from cumulo.edge.websocket import MAX_MESSAGE, WebSocket, accept_key, handshake_problem
from cumulo.observe.traces import Hop, segment_id
from cumulo.app import Cumulo
from cumulo.ids import short_id
from cumulo.errors import CumuloError, ResourceNotFoundException, TooManyRequestsException
from cumulo.gateway.access import AccessControl, discard_result
from cumulo.gateway.cors import CorsConfig, apply_cors, is_preflight, preflight
from cumulo.gateway.integrations import INTERNAL_ERROR_REST, PROXY_HOP_HEADERS, RestCall, Sources, map_parameters, \
    proxy_url, rest_aws_call, rest_aws_response, rest_http_call, rest_mock_response, service_call, service_response
from cumulo.gateway.model import DEFAULT_STAGE, HttpApi, Route, Stage
from cumulo.gateway.payload import (
    INTERNAL_ERROR, MALFORMED_V1, GatewayResponse, HttpRequest, event_v1, event_v2, response_v1, response_v2,
)
from cumulo.gateway.payload_rest import event_rest
from cumulo.gateway.responses import message
from cumulo.gateway.routing import RouteMatch, RouteTable
from cumulo.gateway.service import cors_config
from cumulo.gateway import websocket as ws
from cumulo.gateway.identity import identity_values
from cumulo.gateway.lambda_auth import MalformedAuthorizerResponse, Verdict, parse_verdict
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
# (request, the connection's execute-api ARN, whether it came through the functions' door) -> whether its
# signer may execute-api:ManageConnections there
ManageIam = Callable[[Request, str, bool], bool]

AUTHORIZER_TIMEOUT_S = 10.0
INSIDE = "inside"          # Request.note of a request through the door in the functions' namespace
MAX_IN_FLIGHT = 100       # one connection's messages being integrated at once; more are answered Too Many Requests


def _ws_error(status: int, kind: str, text: str | None) -> GatewayResponse:
    """The ``@connections`` API's errors, as boto3's ``apigatewaymanagementapi`` reads them."""
    return GatewayResponse(status, [("content-type", "application/json"), ("x-amzn-ErrorType", kind)],
                           orjson.dumps({"message": text}))


GONE = _ws_error(410, "GoneException", None)
FORBIDDEN = _ws_error(403, "ForbiddenException", "Forbidden")
PAYLOAD_TOO_LARGE = _ws_error(413, "PayloadTooLargeException", "Message too long")


class _Live:
    """An open WebSocket connection: what is known of it and its socket."""

    __slots__ = ("info", "socket", "api", "route_keys", "stage", "in_flight")

    def __init__(self, info: ws.Connection, api: HttpApi, stage: Stage) -> None:
        self.info = info
        self.socket: WebSocket | None = None
        self.api = api
        self.route_keys = {r.route_key for r in api.routes}
        self.stage = stage
        self.in_flight = 0       # messages whose integration has not answered yet
# (the integration's role ARN, X-Amz-Target, the request document) -> the service's (status, JSON body), the call
# made as a session of that role (``api.server.ControlPlane.integration_call``)
ServiceCall = Callable[[str, str, "dict[str, Any]"], "tuple[int, bytes]"]


class Gateway:
    def __init__(self, cumulo: Cumulo, executor: Executor, busy: Callable[[], bool] | None = None,
                 url_iam: UrlIam | None = None, manage_iam: ManageIam | None = None,
                 services: ServiceCall | None = None) -> None:
        self.cumulo = cumulo
        self._manage_iam = manage_iam   # checks @connections requests' signatures and policies (None: all refused)
        self._services = services   # service integrations' calls (None: every one answered 500)
        self.connections: dict[str, _Live] = {}    # open WebSocket connections by id
        self.ws_idle_timeout_s = cumulo.settings.websocket_idle_timeout_s
        self.ws_max_duration_s = cumulo.settings.websocket_max_duration_s
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

    async def handle_inside(self, request: Request) -> GatewayResponse:
        """The gateway's door inside the functions' network namespace: ``@connections`` only."""
        return await _connections_only(self, request)

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
            table = RouteTable(() if api.protocol == "WEBSOCKET" else (r.route_key for r in api.routes))
            self._apis[api_id] = (api, table, cors_config(api.cors) if api.cors else None)
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
            integration = access.get("integrationLatency")    # ms; only where a backend was called
            self.cumulo.metric_recorder.add_many(GATEWAY, dims, (     # AWS/ApiGateway (docs/metrics.md)
                ("Count", 1.0, "Count"), ("4xx", 1.0 if 400 <= status < 500 else 0.0, "Count"),
                ("5xx", 1.0 if status >= 500 else 0.0, "Count"),
                ("Latency", (time.monotonic() - started) * 1000, "Milliseconds"),
                *((("IntegrationLatency", float(integration), "Milliseconds"),) if integration is not None else ())))
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
        if "/@connections/" in request.raw_path and ".lambda-url." not in host and \
                not request.raw_path.startswith(URL_PREFIX):
            managed = await self._manage(request, host)
            if managed is not None:
                return managed
        target = url_target(host, request.raw_path)
        if target is not None:
            return await self._function_url(target[0], target[1], host, request)
        located = self._locate(host, request.raw_path)
        if located is None:
            return NOT_FOUND
        api, table, cors, stage, path = located
        if stage is None or api.protocol == "WEBSOCKET":
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
        if route.integration_type == "HTTP_PROXY":
            return await self._proxy(api, route, request, match, access)
        if route.integration_type == "HTTP":
            return await self._http(route, request, match, stage, access, context, admission.authorizer)
        if route.integration_type == "MOCK":
            return rest_mock_response(route.mapping, next((v for k, v in request.headers
                                                           if k.lower() == "content-type"), ""),
                                      request.request_id, _sources(request, match, stage, context, admission.authorizer))
        if route.integration_subtype or route.integration_type == "AWS":
            return await self._service(route, request, match, stage, access, context, admission.authorizer)
        incoming = _trace_header(request.headers)
        hop = None if incoming is None and not stage.tracing else self.cumulo.trace_recorder.hop(stage.tracing, incoming)
        if hop is None:
            return await self._integrate(api, route, request, match, stage, access, admission.authorizer, incoming)
        recorder = self.cumulo.trace_recorder
        started, call_id = recorder.now(), segment_id()
        response = await self._integrate(api, route, request, match, stage, access, admission.authorizer,
                                         hop.header(call_id))
        recorder.add([self._stage_segment(api, stage, route, request, host, hop, call_id, started, response)])
        return response

    def _stage_segment(self, api: HttpApi, stage: Stage, route: Route, request: HttpRequest, host: str, hop: Hop,
                       call_id: str, started: float, response: GatewayResponse) -> dict[str, Any]:
        """The segment X-Ray shows for an API stage (origin ``AWS::ApiGateway::Stage``): the
        request and the answer, and the ``Lambda`` subsegment whose id the function's segment
        hangs under (docs/traces.md)."""
        ended = self.cumulo.trace_recorder.now()
        status = response.status
        region, account = self.cumulo.arns.region, self.cumulo.arns.account
        kind = "restapis" if api.protocol == "REST" else "apis"
        agent = next((v for k, v in request.headers if k.lower() == "user-agent"), None)
        query = f"?{request.raw_query}" if request.raw_query else ""
        parts = route.function.split(":")
        fn = parts[6] if route.function.startswith("arn:") and len(parts) > 6 else parts[0]
        doc: dict[str, Any] = {
            "trace_id": hop.root, "id": hop.segment_id, "name": f"{api.name}/{stage.name}",
            "origin": "AWS::ApiGateway::Stage", "start_time": started, "end_time": max(ended, started),
            "resource_arn": f"arn:aws:apigateway:{region}::/{kind}/{api.api_id}/stages/{stage.name}",
            "http": {"request": {"url": f"http://{host}{request.raw_path}{query}", "method": request.method,
                                 "client_ip": request.source_ip, **({"user_agent": agent} if agent else {}),
                                 "x_forwarded_for": True},
                     "response": {"status": status}},
            "aws": {"api_gateway": {"account_id": account, "rest_api_id": api.api_id, "stage": stage.name,
                                    "request_id": request.request_id}},
            "annotations": {"aws:api_id": api.api_id, "aws:api_stage": stage.name},
            "subsegments": [{"id": call_id, "name": "Lambda", "namespace": "aws", "start_time": started,
                             "end_time": max(ended, started), "http": {"response": {"status": status}},
                             "aws": {"function_name": fn, "region": region, "operation": "Invoke",
                                     "resource_names": [fn]}}],
        }
        if hop.parent:
            doc["parent_id"] = hop.parent
        if status == 429:
            doc["throttle"] = doc["error"] = True
        elif 400 <= status < 500:
            doc["error"] = True
        elif status >= 500:
            doc["fault"] = True
        return doc

    async def _service(self, route: Route, request: HttpRequest, match: RouteMatch, stage: Stage,
                       access: dict[str, Any], context: dict[str, Any],
                       authorizer: dict[str, Any] | None) -> GatewayResponse:
        """A first-class AWS service integration: the request parameters mapped, the service's operation
        called as the integration's role, its answer relayed (``gateway/integrations.py``)."""
        sources = _sources(request, match, stage, context, authorizer)
        rest: RestCall | None = None
        if route.integration_type == "AWS":          # a REST API's service integration, with mapping templates
            content_type = next((v for k, v in request.headers if k.lower() == "content-type"), "")
            found = rest_aws_call(route.integration_uri, route.request_parameters, route.mapping, content_type,
                                  sources)
            if isinstance(found, GatewayResponse):
                return found
            rest, target, doc = found, found.target, found.doc
        else:
            target, doc = service_call(route.integration_subtype, map_parameters(route.request_parameters, sources))
        failed = INTERNAL_ERROR_REST if rest is not None else INTERNAL_ERROR
        if rest is not None and rest.service == "lambda":      # a non-proxy Lambda integration
            return await self._lambda_aws(route, rest, request, access, sources)
        if self._services is None:
            return failed
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self.executor, self._services, route.credentials, target, doc)
        try:
            status, body = await asyncio.wait_for(call, route.timeout_ms / 1000)
        except asyncio.TimeoutError:
            return TIMEOUT
        except Exception:           # noqa: BLE001 — the service failed; the client gets API Gateway's 500
            return failed
        finally:
            access["integrationLatency"] = round((time.monotonic() - started) * 1000, 3)
        access["integrationStatus"] = status
        if status < 0:
            return failed
        if rest is not None:
            return rest_aws_response(rest, route.mapping, status, body, request.request_id, sources)
        return service_response(route.integration_subtype, status, body, request.request_id)

    async def _lambda_aws(self, route: Route, rest: RestCall, request: HttpRequest, access: dict[str, Any],
                          sources: Sources) -> GatewayResponse:
        """A REST API's ``type: aws`` integration to a function: the mapped body is its event; its result (or its
        error document, selected by ``errorMessage``) goes through the integration responses."""
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(self._invoke(route.function, str(rest.doc["payload"]).encode(),
                                                         _trace_header(request.headers)), route.timeout_ms / 1000)
        except asyncio.TimeoutError:
            return TIMEOUT
        except TooManyRequestsException:
            return THROTTLED
        except CumuloError:
            return INTERNAL_ERROR_REST
        finally:
            access["integrationLatency"] = round((time.monotonic() - started) * 1000, 3)
        status = 0 if result.function_error else 200
        return rest_aws_response(rest, route.mapping, status, result.payload, request.request_id, sources)

    async def _http(self, route: Route, request: HttpRequest, match: RouteMatch, stage: Stage,
                    access: dict[str, Any], context: dict[str, Any],
                    authorizer: dict[str, Any] | None) -> GatewayResponse:
        """A REST API's ``HTTP`` (non-proxy) integration: the backend request made from the mappings
        (``rest_http_call``), sent by the ``HTTP_PROXY`` forwarder (its kept-alive connections, its 10 MB
        limit), its answer mapped by the integration responses (``rest_aws_response``)."""
        sources = _sources(request, match, stage, context, authorizer)
        content_type = next((v for k, v in request.headers if k.lower() == "content-type"), "")
        found = rest_http_call(route.integration_uri, route.request_parameters, route.mapping, content_type, sources)
        if isinstance(found, GatewayResponse):
            return found
        method = request.method if route.integration_method in ("", "ANY") else route.integration_method
        headers = [*found.headers, ("X-Forwarded-For", request.source_ip)]
        started = time.monotonic()
        call = asyncio.get_running_loop().run_in_executor(
            self.executor, _forward, found.url, method, headers, found.body, route.timeout_ms / 1000)
        try:
            answer = await asyncio.wait_for(call, route.timeout_ms / 1000 + 1)
        except (asyncio.TimeoutError, TimeoutError):
            return TIMEOUT
        except (OSError, http.client.HTTPException, ValueError):
            return INTERNAL_ERROR_REST
        finally:
            access["integrationLatency"] = round((time.monotonic() - started) * 1000, 3)
        access["integrationStatus"] = answer.status
        return rest_aws_response(RestCall("http", "", {}, True), route.mapping, answer.status, answer.body,
                                 request.request_id, sources, answer.headers)

    async def _proxy(self, api: HttpApi, route: Route, request: HttpRequest, match: RouteMatch,
                     access: dict[str, Any]) -> GatewayResponse:
        """An ``HTTP_PROXY`` integration: the request forwarded to the backend (method, headers, query, body),
        the backend's answer returned as it is."""
        url = proxy_url(route.integration_uri, match.path_parameters, request.raw_query)
        method = request.method if route.integration_method in ("", "ANY") else route.integration_method
        headers = [(k, v) for k, v in request.headers if k.lower() not in PROXY_HOP_HEADERS]
        headers.append(("X-Forwarded-For", request.source_ip))
        started = time.monotonic()
        call = asyncio.get_running_loop().run_in_executor(
            self.executor, _forward, url, method, headers, request.body, route.timeout_ms / 1000)
        try:
            response = await asyncio.wait_for(call, route.timeout_ms / 1000 + 1)
        except (asyncio.TimeoutError, TimeoutError):
            return TIMEOUT
        except (OSError, http.client.HTTPException, ValueError):
            return INTERNAL_ERROR_REST if api.protocol == "REST" else INTERNAL_ERROR
        finally:
            access["integrationLatency"] = round((time.monotonic() - started) * 1000, 3)
        access["integrationStatus"] = response.status
        return response

    async def _integrate(self, api: HttpApi, route: Route, request: HttpRequest, match: RouteMatch, stage: Stage,
                         access: dict[str, Any], authorizer: dict[str, Any] | None = None,
                         trace_header: str | None = None) -> GatewayResponse:
        v2 = route.payload_version == "2.0"
        rest = api.protocol == "REST"
        if rest:
            event = event_rest(request, match, stage.variables or None, authorizer, api.binary_media_types)
        else:
            event = (event_v2 if v2 else event_v1)(request, match, stage.variables or None, authorizer)
        payload = orjson.dumps(event)
        integration_started = time.monotonic()
        try:
            call = self._invoke(route.function, payload, trace_header)
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


    # -- WebSocket APIs ---------------------------------------------------------------
    async def upgrade(self, request: Request) -> GatewayResponse | Upgrade:
        """An upgrade request (``edge/server.py``): a WebSocket API's handshake, ``$connect`` deciding it;
        anything else is answered as a plain request (and the connection closed)."""
        host = next((v for k, v in request.headers if k.lower() == "host"), "")
        located = None if url_target(host, request.raw_path) else self._locate(host, request.raw_path)
        if located is None or located[0].protocol != "WEBSOCKET":
            return await self.handle(request)
        api, _, _, stage, path = located
        if stage is None or stage.name == DEFAULT_STAGE or path not in ("/", ""):
            return FORBIDDEN
        problem = handshake_problem(request.method, request.headers)
        if problem is not None:
            extra = [("Sec-WebSocket-Version", "13")] if problem[0] == 426 else []
            return GatewayResponse(problem[0], [("content-type", "application/json"), *extra],
                                   orjson.dumps({"message": problem[1]}))
        now = int(time.time() * 1000)
        info = ws.Connection(
            connection_id=_connection_id(), api_id=api.api_id, stage=stage.name, domain_name=host,
            source_ip=request.client[0], user_agent=next((v for k, v in request.headers if k.lower() == "user-agent"), ""),
            connected_at_ms=now, headers=list(request.headers), raw_query=request.query_string, last_active_ms=now)
        live = _Live(info, api, stage)
        connect = next((r for r in api.routes if r.route_key == "$connect"), None)
        protocol_header: list[tuple[str, str]] = []
        if connect is not None:
            if self.access.throttle(api, stage, connect) is not None:
                self._ws_metrics(info, ("ClientError", 1.0, "Count"))
                return THROTTLED
            if connect.authorization_type == "CUSTOM":
                refused = await self._ws_authorize(api, stage, connect, live)
                if refused is not None:
                    self._ws_metrics(info, ("ClientError" if refused.status < 500 else "ExecutionError", 1.0, "Count"))
                    return refused
            request_id = _request_id()
            event = ws.ws_event(info, "CONNECT", "$connect", request_id, int(time.time() * 1000))
            started = time.monotonic()
            try:
                result = await self._ws_invoke(connect, event)
            except TooManyRequestsException:
                self._ws_metrics(info, ("ClientError", 1.0, "Count"))
                return THROTTLED
            except (CumuloError, asyncio.TimeoutError):
                self._ws_metrics(info, ("ExecutionError", 1.0, "Count"))
                return INTERNAL_ERROR
            latency = ("IntegrationLatency", (time.monotonic() - started) * 1000, "Milliseconds")
            if result.function_error:
                self._ws_metrics(info, ("IntegrationError", 1.0, "Count"), latency)
                return INTERNAL_ERROR
            status = ws.connect_status(result.payload)
            if not 200 <= status < 300:
                self._ws_metrics(info, ("ClientError" if status < 500 else "IntegrationError", 1.0, "Count"), latency)
                return GatewayResponse(status, [("content-type", "application/json")], b"")
            self._ws_metrics(info, latency)
            protocol_header = _subprotocol(result.payload)
        key = next(v for k, v in request.headers if k.lower() == "sec-websocket-key").strip()
        self.connections[info.connection_id] = live
        self._ws_metrics(info, ("ConnectCount", 1.0, "Count"))

        def start(transport: Any) -> WebSocket:
            live.socket = WebSocket(transport, lambda op, data: self._ws_message(live, op, data),
                                    lambda code, reason: self._ws_closed(live, code, reason),
                                    idle_timeout_s=self.ws_idle_timeout_s, max_duration_s=self.ws_max_duration_s)
            return live.socket

        return Upgrade([("Upgrade", "websocket"), ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Accept", accept_key(key)), *protocol_header], start)

    async def _ws_authorize(self, api: HttpApi, stage: Stage, route: Route, live: _Live) -> GatewayResponse | None:
        """``$connect``'s Lambda REQUEST authorizer: None (allowed; its context kept on the connection) or the
        refusal (401 missing identity or ``Unauthorized``, 403 denied, 500 failed). With identity sources and a
        TTL its verdict is cached per their values, as API Gateway caches it."""
        authorizer = api.authorizer(route.authorizer_id)
        if authorizer is None or authorizer.kind not in ("REQUEST", "TOKEN"):
            return message(500, "Internal Server Error")
        info = live.info
        sources = tuple(ws.identity_source_as_http(s) for s in authorizer.identity_sources)
        request = HttpRequest("GET", "/", info.raw_query, info.headers, b"", info.source_ip, "", 0, api.api_id,
                               info.domain_name, stage.name)
        values = identity_values(sources, request, stage.variables, {}) if sources else []
        if values is None:
            return message(401, "Unauthorized")
        arn = f"arn:aws:execute-api:{self.cumulo.arns.region}:{self.cumulo.arns.account}:{api.api_id}/{stage.name}/$connect"
        started = time.monotonic()
        cache_key = ("ws", api.api_id, authorizer.authorizer_id, tuple(values))
        cached = self.access.verdicts.get(cache_key) if values and authorizer.ttl_seconds > 0 else None
        verdict = cached or await self._ws_call_authorizer(authorizer.function, info, arn, stage)
        if isinstance(verdict, GatewayResponse):
            return verdict
        if cached is None and values:
            self.access.verdicts.put(cache_key, verdict, authorizer.ttl_seconds)
        if not verdict.allows(arn):
            return message(403, "Forbidden")
        info.authorizer = {**verdict.context, "principalId": verdict.principal_id or "",
                           "integrationLatency": int((time.monotonic() - started) * 1000)}
        return None

    async def _ws_call_authorizer(self, function: str, info: ws.Connection, arn: str,
                                  stage: Stage) -> Verdict | GatewayResponse:
        event = ws.connect_authorizer_event(info, arn, stage.variables, _request_id(), int(time.time() * 1000))
        call = asyncio.ensure_future(self._invoke(function, orjson.dumps(event)))
        call.add_done_callback(discard_result)
        try:
            result = await asyncio.wait_for(asyncio.shield(call), AUTHORIZER_TIMEOUT_S)
        except (asyncio.TimeoutError, CumuloError):
            return message(500, "Internal Server Error")
        if result.function_error:
            try:
                unauthorized = orjson.loads(result.payload).get("errorMessage") == "Unauthorized"
            except (orjson.JSONDecodeError, AttributeError):
                unauthorized = False
            return message(401, "Unauthorized") if unauthorized else message(500, "Internal Server Error")
        try:
            return parse_verdict(result.payload, False)
        except MalformedAuthorizerResponse:
            return message(500, "Internal Server Error")

    def _ws_metrics(self, info: ws.Connection, *metrics: tuple[str, float, str]) -> None:
        """AWS/ApiGateway's WebSocket metrics (ConnectCount, MessageCount, IntegrationError, ClientError,
        ExecutionError, IntegrationLatency) by ApiId and Stage (docs/metrics.md)."""
        self.cumulo.metric_recorder.add_many(GATEWAY, (("ApiId", info.api_id), ("Stage", info.stage)), metrics)

    def _ws_invoke(self, route: Route, event: dict[str, Any]) -> Awaitable[Any]:
        call = asyncio.ensure_future(self._invoke(route.function, orjson.dumps(event)))
        call.add_done_callback(discard_result)      # after a timeout nobody awaits it
        return asyncio.wait_for(asyncio.shield(call), route.timeout_ms / 1000)

    def _ws_message(self, live: _Live, opcode: int, data: bytes) -> None:
        """A whole message from the client: routed, invoked in a task of its own (messages are not serialised)."""
        live.info.last_active_ms = int(time.time() * 1000)
        if live.in_flight >= MAX_IN_FLIGHT:
            if live.socket is not None:
                live.socket.send(ws.error_message("Too Many Requests", live.info.connection_id, _request_id()))
            return
        live.in_flight += 1
        task = asyncio.ensure_future(self._ws_route(live, opcode, data))
        task.add_done_callback(discard_result)
        task.add_done_callback(lambda _: setattr(live, "in_flight", live.in_flight - 1))

    async def _ws_route(self, live: _Live, opcode: int, data: bytes) -> None:
        info, request_id = live.info, _request_id()
        key = ws.select_route(live.api.route_selection, data, live.route_keys)
        sock = live.socket
        self._ws_metrics(info, ("MessageCount", 1.0, "Count"))
        if key is None:
            self._ws_metrics(info, ("ClientError", 1.0, "Count"))
            if sock is not None:
                sock.send(ws.error_message("Forbidden", info.connection_id, request_id))
            return
        route = next(r for r in live.api.routes if r.route_key == key)
        if self.access.throttle(live.api, live.stage, route) is not None:
            self._ws_metrics(info, ("ClientError", 1.0, "Count"))
            if sock is not None:
                sock.send(ws.error_message("Too Many Requests", info.connection_id, request_id))
            return
        event = ws.ws_event(info, "MESSAGE", key, request_id, int(time.time() * 1000), data, opcode == 2,
                            message_id=_request_id())
        started = time.monotonic()
        try:
            result = await self._ws_invoke(route, event)
        except (CumuloError, asyncio.TimeoutError) as exc:
            self._ws_metrics(info, ("ExecutionError", 1.0, "Count"))
            if sock is not None:
                text = "Endpoint request timed out" if isinstance(exc, asyncio.TimeoutError) else "Internal server error"
                sock.send(ws.error_message(text, info.connection_id, request_id))
            return
        latency = ("IntegrationLatency", (time.monotonic() - started) * 1000, "Milliseconds")
        if result.function_error:
            self._ws_metrics(info, ("IntegrationError", 1.0, "Count"), latency)
            if sock is not None:
                sock.send(ws.error_message("Internal server error", info.connection_id, request_id))
            return
        self._ws_metrics(info, latency)
        if sock is not None and route.route_response:
            answer = ws.route_response_body(result.payload)
            if answer is not None and len(answer[0]) <= MAX_MESSAGE and sock.send(answer[0], answer[1]):
                self._ws_metrics(info, ("MessageCount", 1.0, "Count"))

    def _ws_closed(self, live: _Live, code: int, reason: str) -> None:
        """The connection ended: it is gone for ``@connections`` at once, then ``$disconnect`` runs (best effort)."""
        self.connections.pop(live.info.connection_id, None)
        route = next((r for r in live.api.routes if r.route_key == "$disconnect"), None)
        if route is None:
            return
        if code == 1005 and not reason:
            reason = "Client-side close frame status not set"
        event = ws.ws_event(live.info, "DISCONNECT", "$disconnect", _request_id(), int(time.time() * 1000),
                            disconnect=(code, reason))
        asyncio.ensure_future(self._ws_invoke(route, event)).add_done_callback(discard_result)

    async def _manage(self, request: Request, host: str) -> GatewayResponse | None:
        """``@connections/{id}``: POST sends data, GET describes, DELETE closes (``apigatewaymanagementapi``).
        Addressed as ``/{api-id}/{stage}/@connections/{id}``, or ``/{stage}/@connections/{id}`` (an endpoint
        made of the event's ``domainName`` and ``stage``: the connection names its API). None: the path
        names an HTTP or REST API, whose own routes it is for."""
        before, _, after = request.raw_path.partition("/@connections/")
        connection_id = unquote(after)
        prefix = [unquote(p) for p in before.split("/") if p]
        live = self.connections.get(connection_id)
        if ".execute-api." in host:
            prefix = [host.split(".", 1)[0], *prefix]
        if len(prefix) == 1 and live is not None:
            prefix = [live.info.api_id, *prefix]
        if len(prefix) >= 2 and (named := self._api(prefix[0])) is not None and named[0].protocol != "WEBSOCKET":
            return None
        if len(prefix) != 2 or not connection_id or "/" in after:
            return FORBIDDEN
        api_id, stage = prefix
        arn = (f"arn:aws:execute-api:{self.cumulo.arns.region}:{self.cumulo.arns.account}:{api_id}/{stage}/"
               f"{request.method}/@connections/{connection_id}")
        allowed = False if self._manage_iam is None else await asyncio.get_running_loop().run_in_executor(
            self.executor, self._manage_iam, request, arn, request.note == INSIDE)
        if not allowed:
            return FORBIDDEN
        if live is None or live.info.api_id != api_id or live.info.stage != stage or live.socket is None \
                or live.socket.closed:
            return GONE
        if request.method == "POST":
            if len(request.body) > MAX_MESSAGE:
                return PAYLOAD_TOO_LARGE
            text = True
            try:
                request.body.decode("utf-8")
            except UnicodeDecodeError:
                text = False
            if not live.socket.send(request.body, text):
                return GONE
            self._ws_metrics(live.info, ("MessageCount", 1.0, "Count"))
            return GatewayResponse(200, [], b"")
        if request.method == "GET":
            info = live.info
            return GatewayResponse(200, [("content-type", "application/json")], orjson.dumps({
                "connectedAt": _iso(info.connected_at_ms), "identity": info.identity(),
                "lastActiveAt": _iso(info.last_active_ms)}))
        if request.method == "DELETE":
            live.socket.close(1000, "")
            return GatewayResponse(204, [], b"")
        return FORBIDDEN


async def _connections_only(gateway: "Gateway", request: Request) -> GatewayResponse:
    """What functions reach at the gateway's port inside their network namespace: ``@connections`` only."""
    if "/@connections/" not in request.raw_path:
        return NOT_FOUND
    request.note = INSIDE        # always signed here, even under --no-auth (as the control plane's door)
    return await gateway.handle(request)


def _connection_id() -> str:
    """``L0SM9cOFvHcCIhw=``: 10 random bytes in base64, as AWS's connection ids look; without ``/`` and ``+``,
    so that an id is one path segment as it is."""
    while True:
        candidate = short_id(10)
        if "/" not in candidate and "+" not in candidate:
            return candidate


def _subprotocol(payload: bytes) -> list[tuple[str, str]]:
    """``Sec-WebSocket-Protocol`` from a $connect function's result headers, if it chose one."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    headers = doc.get("headers") if isinstance(doc, dict) else None
    if isinstance(headers, dict):
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "sec-websocket-protocol" and isinstance(value, str) \
                    and "\r" not in value and "\n" not in value:
                return [("Sec-WebSocket-Protocol", value)]
    return []


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"
PROXY_MAX_RESPONSE = 10 * 1024 * 1024     # API Gateway's response payload limit


class _Backends:
    """Idle keep-alive connections to HTTP_PROXY backends, a few per (scheme, host, port), reused by the worker
    threads (a new TCP connection per request cost more than the proxying itself, bench/gateway_integrations.py)."""

    IDLE_PER_BACKEND = 8

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int | None], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, str, int | None]) -> http.client.HTTPConnection | None:
        """An idle connection still open: one the backend closed (or wrote to) while idle is readable, and dropped."""
        while True:
            with self._lock:
                found = self._idle.get(key)
                connection = found.pop() if found else None
            if connection is None:
                return None
            sock = connection.sock
            if sock is not None and not select.select([sock], [], [], 0)[0]:
                return connection
            connection.close()

    def give(self, key: tuple[str, str, int | None], connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.IDLE_PER_BACKEND:
                idle.append(connection)
                return
        connection.close()


_BACKENDS = _Backends()
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _forward(url: str, method: str, headers: list[tuple[str, str]], body: bytes, timeout_s: float) -> GatewayResponse:
    """One request to an HTTP backend (in a worker thread); its answer, framing headers dropped (the edge frames
    the response), redirects not followed, as API Gateway relays them. A kept-alive connection is reused; one
    the backend closed while idle is replaced, and an idempotent request sent again on a fresh one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    key = (parts.scheme, parts.hostname, parts.port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    reused = _BACKENDS.take(key)
    if reused is not None:
        try:
            return _exchange(reused, key, target, method, headers, body, timeout_s)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if method not in _IDEMPOTENT:
                raise           # it may have arrived: not sent twice
    connection: http.client.HTTPConnection = (
        http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout_s, context=ssl.create_default_context())
        if parts.scheme == "https" else http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s))
    return _exchange(connection, key, target, method, headers, body, timeout_s)


def _exchange(connection: http.client.HTTPConnection, key: tuple[str, str, int | None], target: str, method: str,
              headers: list[tuple[str, str]], body: bytes, timeout_s: float) -> GatewayResponse:
    kept_alive = False
    try:
        connection.timeout = timeout_s
        if connection.sock is not None:
            connection.sock.settimeout(timeout_s)
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        answer = connection.getresponse()
        data = answer.read(PROXY_MAX_RESPONSE + 1)
        if len(data) > PROXY_MAX_RESPONSE:
            raise ValueError("the backend's response is over API Gateway's 10 MB")
        kept = [("x-amzn-Remapped-Date", v) if k.lower() == "date" else (k, v) for k, v in answer.getheaders()
                if k.lower() not in PROXY_HOP_HEADERS]      # the edge gives the answer its own Date
        kept_alive = answer.isclosed() and not answer.will_close
        return GatewayResponse(answer.status, kept, data)
    finally:
        if kept_alive:
            _BACKENDS.give(key, connection)
        else:
            connection.close()


def _sources(request: HttpRequest, match: RouteMatch, stage: Stage, context: dict[str, Any],
             authorizer: dict[str, Any] | None) -> Sources:
    """What a non-proxy integration's mappings read of one request, ``$context`` completed."""
    user_agent = next((v for k, v in request.headers if k.lower() == "user-agent"), "")
    context = {**context, "accountId": request.account_id, "domainPrefix": request.domain_name.split(".", 1)[0],
               "protocol": "HTTP/1.1", "requestTimeEpoch": request.time_epoch_ms,
               "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.time_epoch_ms / 1000)),
               "identity": {"sourceIp": request.source_ip, "userAgent": user_agent},
               "authorizer": _flat_authorizer(authorizer)}
    return Sources(request.body, request.headers, request.raw_query, match.path_parameters, context, stage.variables)


def _flat_authorizer(authorizer: dict[str, Any] | None) -> dict[str, Any]:
    """``$context.authorizer.<key>``: a Lambda authorizer's context keys, a JWT's ``claims`` as given."""
    if not authorizer:
        return {}
    flat = dict(authorizer.get("lambda") or {})
    if "jwt" in authorizer:
        flat["claims"] = authorizer["jwt"].get("claims", {})
    return {**{k: v for k, v in authorizer.items() if k not in ("lambda", "jwt")}, **flat}


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
