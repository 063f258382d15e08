"""The subset of AWS's ``apigatewayv2`` API (REST-JSON, ``/v2/apis/...``) that HTTP and WebSocket APIs need.

boto3's ``apigatewayv2`` client can create an API, its Lambda proxy integrations (HTTP APIs also service
integrations by ``integrationSubtype`` with ``requestParameters`` and ``credentialsArn``, and ``HTTP_PROXY``
ones: docs/gateway.md, Integrations), routes, stages (with throttling) and authorizers (JWT and Lambda), and read and
delete them. Names on the wire are camelCase, as AWS's are. WebSocket APIs (``protocolType``
``WEBSOCKET`` with a ``routeSelectionExpression``) take the same integrations, routes (``$connect``,
``$disconnect``, ``$default``, custom keys), stages and REQUEST authorizers, plus route responses
(the integration's answer goes back to the client) and deployments (every change is live at once).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

from cumulo.api import shapes
from cumulo.api.http import Reply, Request, json_reply, match_route, route_table
from cumulo.app import Cumulo
from cumulo.gateway.model import Authorizer, HttpApi, Integration, Route, Stage, Throttle, new_api_id
from cumulo.gateway.service import BadRequestException, NotFoundException

__all__ = ["route"]

Handler = Callable[[Cumulo, Request, dict[str, str]], Reply]
_LAMBDA_URI = re.compile(r"^arn:aws:apigateway:[^:]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$")


def _function_of(uri: str) -> str:
    """IntegrationUri: a function ARN, the apigateway invocation URI around one, or a plain name."""
    m = _LAMBDA_URI.match(uri or "")
    return m.group("arn") if m else uri


def _api_doc(c: Cumulo, api: HttpApi) -> dict[str, Any]:
    endpoint = c.gateway_url
    ws = api.protocol == "WEBSOCKET"
    if ws:
        endpoint = "ws" + endpoint[4:] if endpoint.startswith("http") else endpoint
    doc: dict[str, Any] = {"apiId": api.api_id, "name": api.name, "protocolType": "WEBSOCKET" if ws else "HTTP",
                           "apiEndpoint": f"{endpoint}/{api.api_id}", "createdDate": api.created,
                           "routeSelectionExpression": api.route_selection if ws else "$request.method $request.path",
                           "description": api.description, "disableExecuteApiEndpoint": False}
    if api.cors:
        doc["corsConfiguration"] = _camel(api.cors)
    return doc


def _route_doc(r: Route) -> dict[str, Any]:
    doc: dict[str, Any] = {"routeId": r.route_id, "routeKey": r.route_key, "authorizationType": r.authorization_type,
                           "apiKeyRequired": r.api_key_required}
    if r.integration_id:
        doc["target"] = f"integrations/{r.integration_id}"
    if r.authorizer_id:
        doc["authorizerId"] = r.authorizer_id
    if r.authorization_scopes:
        doc["authorizationScopes"] = list(r.authorization_scopes)
    if r.route_response:
        doc["routeResponseSelectionExpression"] = "$default"
    return doc


def _integration_doc(c: Cumulo, i: Integration) -> dict[str, Any]:
    doc: dict[str, Any] = {"integrationId": i.integration_id, "integrationType": i.integration_type,
                           "payloadFormatVersion": i.payload_version, "timeoutInMillis": i.timeout_ms,
                           "connectionType": "INTERNET"}
    if i.integration_subtype:
        doc.update(integrationSubtype=i.integration_subtype, credentialsArn=i.credentials,
                   requestParameters=dict(i.request_parameters))
    elif i.integration_type == "HTTP_PROXY":
        doc.update(integrationUri=i.integration_uri, integrationMethod=i.integration_method)
    else:
        doc.update(integrationMethod="POST", integrationUri=c.arns.function(*_split(i.function)))
    return doc


def _split(function: str) -> tuple[str, str | None]:
    from cumulo.model.function import parse_function_ref

    return parse_function_ref(function)


def _stage_doc(s: Stage) -> dict[str, Any]:
    doc: dict[str, Any] = {"stageName": s.name, "stageVariables": dict(s.variables), "autoDeploy": True}
    if s.default_throttle:
        doc["defaultRouteSettings"] = {"throttlingRateLimit": s.default_throttle.rate,
                                       "throttlingBurstLimit": s.default_throttle.burst}
    if s.route_throttles:
        doc["routeSettings"] = {k: {"throttlingRateLimit": t.rate, "throttlingBurstLimit": t.burst}
                                for k, t in s.route_throttles.items()}
    return doc


def _authorizer_doc(a: Authorizer) -> dict[str, Any]:
    doc: dict[str, Any] = {"authorizerId": a.authorizer_id, "name": a.name, "authorizerType": a.kind,
                           "identitySource": list(a.identity_sources)}
    if a.kind == "JWT":
        doc["jwtConfiguration"] = {"issuer": a.issuer, "audience": list(a.audiences)}
        if a.jwks_uri:
            doc["jwksUri"] = a.jwks_uri
    else:
        doc.update({"authorizerUri": a.function, "authorizerPayloadFormatVersion": a.payload_version,
                    "enableSimpleResponses": a.simple_responses, "authorizerResultTtlInSeconds": a.ttl_seconds})
    return doc


def _pascal(doc: Any) -> Any:
    """A wire object (camelCase members) in CloudFormation's spelling (PascalCase), one level deep."""
    if not isinstance(doc, dict):
        return doc
    return {k[:1].upper() + k[1:]: v for k, v in doc.items()}


def _camel(doc: dict[str, Any]) -> dict[str, Any]:
    return {k[:1].lower() + k[1:]: v for k, v in doc.items()}


def _throttle(settings: dict[str, Any] | None) -> Throttle | None:
    """A route's throttle from RouteSettings; a missing half takes the account's default."""
    settings = _pascal(settings)
    if not settings or ("ThrottlingRateLimit" not in settings and "ThrottlingBurstLimit" not in settings):
        return None
    try:
        return Throttle(float(settings.get("ThrottlingRateLimit", 10_000)),
                        int(settings.get("ThrottlingBurstLimit", 5_000)))
    except (TypeError, ValueError):
        raise BadRequestException("ThrottlingRateLimit and ThrottlingBurstLimit must be numbers") from None


def _items(items: list[dict[str, Any]]) -> Reply:
    return json_reply({"items": items})


def _api(c: Cumulo, p: dict[str, str]) -> HttpApi:
    try:
        return c.apis.get_api(p["api"])
    except Exception:
        raise NotFoundException(f"Invalid API identifier specified {c.arns.account}:{p['api']}") from None


# -- operations ----------------------------------------------------------------
def create_api(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    doc = request.json()
    protocol = doc.get("protocolType", "HTTP")
    if protocol not in ("HTTP", "WEBSOCKET"):
        raise BadRequestException("protocolType must be HTTP or WEBSOCKET")
    if not doc.get("name"):
        raise BadRequestException("name is required")
    if protocol == "WEBSOCKET" and doc.get("target"):
        raise BadRequestException("Quick create (target) applies to HTTP APIs only")
    api = c.apis.create_api(doc["name"], cors=_pascal(doc.get("corsConfiguration")), description=doc.get("description", ""),
                            protocol=protocol, route_selection=doc.get("routeSelectionExpression", "")
                            if protocol == "WEBSOCKET" else "")
    if doc.get("target"):   # quick create: one integration, a $default route, the $default stage
        integration = c.apis.create_integration(api.api_id, _function_of(doc["target"]))
        c.apis.add_route(api.api_id, doc.get("routeKey", "$default"), integration.integration_id)
    return json_reply(_api_doc(c, c.apis.get_api(api.api_id)), 201)


def get_api(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(_api_doc(c, _api(c, p)))


def get_apis(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    return _items([_api_doc(c, a) for a in c.apis.list_apis()])


def update_api(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    _api(c, p)
    api = c.apis.update_api(p["api"], doc.get("name"), _pascal(doc.get("corsConfiguration")),
                            doc.get("description"))
    return json_reply(_api_doc(c, api))


def delete_api(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    _api(c, p)
    c.apis.delete_api(p["api"])
    return Reply(204)


def create_integration(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    _api(c, p)
    kind, subtype = doc.get("integrationType"), doc.get("integrationSubtype")
    if kind not in ("AWS_PROXY", "HTTP_PROXY"):
        raise BadRequestException("integrationType must be AWS_PROXY (a function, or a service with an "
                                  "integrationSubtype) or HTTP_PROXY")
    ws = _api(c, p).protocol == "WEBSOCKET"
    if ws and doc.get("payloadFormatVersion", "1.0") != "1.0":
        raise BadRequestException("WebSocket APIs' integrations use payloadFormatVersion 1.0")
    fields: dict[str, Any] = {}
    if kind == "HTTP_PROXY" or subtype:
        if ws:
            raise BadRequestException("WebSocket APIs' integrations here are Lambda proxy integrations")
        parameters = doc.get("requestParameters") or {}
        if not isinstance(parameters, dict):
            raise BadRequestException("requestParameters must be a map")
        fields = {"integration_type": kind, "integration_subtype": str(subtype or ""),
                  "request_parameters": {str(k): str(v) for k, v in parameters.items()},
                  "credentials": str(doc.get("credentialsArn") or ""),
                  "integration_uri": str(doc.get("integrationUri") or "") if kind == "HTTP_PROXY" else "",
                  "integration_method": str(doc.get("integrationMethod") or "ANY") if kind == "HTTP_PROXY" else ""}
    integration = c.apis.create_integration(p["api"], "" if fields else _function_of(doc.get("integrationUri", "")),
                                            doc.get("payloadFormatVersion", "1.0" if ws or fields else "2.0"),
                                            doc.get("timeoutInMillis"), **fields)
    return json_reply(_integration_doc(c, integration), 201)


def get_integrations(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _items([_integration_doc(c, i) for i in _api(c, p).integrations])


def delete_integration(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    _api(c, p)
    c.apis.delete_integration(p["api"], p["id"])
    return Reply(204)


def create_route(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    _api(c, p)
    target = doc.get("target", "")
    if target and not target.startswith("integrations/"):
        raise BadRequestException("target must be integrations/{integrationId}")
    route = c.apis.add_route(
        p["api"], doc.get("routeKey", ""), target.removeprefix("integrations/"),
        authorization_type=doc.get("authorizationType", "NONE"), authorizer_id=doc.get("authorizerId", ""),
        authorization_scopes=tuple(doc.get("authorizationScopes", ())),
        api_key_required=bool(doc.get("apiKeyRequired", False)),
        route_response=bool(doc.get("routeResponseSelectionExpression")))
    return json_reply(_route_doc(route), 201)


def create_route_response(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    """A WebSocket route's response (key ``$default``): the integration's answer is sent to the client."""
    doc = request.json()
    if _api(c, p).protocol != "WEBSOCKET":
        raise BadRequestException("Route responses apply to WebSocket APIs")
    if doc.get("routeResponseKey") != "$default":
        raise BadRequestException("routeResponseKey must be $default (Lambda proxy integrations answer as they are)")
    c.apis.update_route(p["api"], p["id"], route_response=True)
    return json_reply({"routeResponseId": p["id"][:6], "routeResponseKey": "$default"}, 201)


def get_route_responses(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    route = next((r for r in _api(c, p).routes if r.route_id == p["id"]), None)
    if route is None:
        raise NotFoundException(f"Unable to find Route with id '{p['id']}'")
    return _items([{"routeResponseId": p["id"][:6], "routeResponseKey": "$default"}] if route.route_response else [])


def create_deployment(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    """Every change is served at once (as AutoDeploy): a deployment is only a receipt."""
    api = _api(c, p)
    return json_reply({"deploymentId": new_api_id()[:6], "deploymentStatus": "DEPLOYED", "autoDeployed": False,
                       "createdDate": api.created, "description": request.json().get("description", "")}, 201)


def update_route(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    _api(c, p)
    changes: dict[str, Any] = {}
    for wire, field, convert in _ROUTE_FIELDS:
        if wire in doc:
            changes[field] = convert(doc[wire])
    if "target" in doc:
        target = doc["target"] or ""
        if not target.startswith("integrations/"):
            raise BadRequestException("target must be integrations/{integrationId}")
        changes["integration_id"] = target.removeprefix("integrations/")
    return json_reply(_route_doc(c.apis.update_route(p["api"], p["id"], **changes)))


_ROUTE_FIELDS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("routeKey", "route_key", str), ("authorizationType", "authorization_type", str),
    ("authorizerId", "authorizer_id", lambda v: v or ""),
    ("authorizationScopes", "authorization_scopes", lambda v: tuple(v or ())),
    ("apiKeyRequired", "api_key_required", bool),
    ("routeResponseSelectionExpression", "route_response", bool),
]


def get_routes(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _items([_route_doc(r) for r in _api(c, p).routes])


def get_route(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    route = next((r for r in _api(c, p).routes if r.route_id == p["id"]), None)
    if route is None:
        raise NotFoundException(f"Unable to find Route with id '{p['id']}'")
    return json_reply(_route_doc(route))


def delete_route(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    _api(c, p)
    c.apis.delete_route(p["api"], p["id"])
    return Reply(204)


def create_stage(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    _api(c, p)
    routes = {k: t for k, v in (doc.get("routeSettings") or {}).items() if (t := _throttle(v)) is not None}
    stage = c.apis.put_stage(p["api"], doc.get("stageName", ""), doc.get("stageVariables"),
                             _throttle(doc.get("defaultRouteSettings")), routes)
    return json_reply(_stage_doc(stage), 201)


def _stage(c: Cumulo, p: dict[str, str]) -> Stage:
    stage = _api(c, p).stage(p["id"])
    if stage is None:
        raise NotFoundException(f"Unable to find Stage with name '{p['id']}'")
    return stage


def get_stage(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(_stage_doc(_stage(c, p)))


def update_stage(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    stage = _stage(c, p)
    default = _throttle(doc["defaultRouteSettings"]) if "defaultRouteSettings" in doc else stage.default_throttle
    routes = stage.route_throttles
    if "routeSettings" in doc:
        routes = {k: t for k, v in (doc.get("routeSettings") or {}).items() if (t := _throttle(v)) is not None}
    variables = doc["stageVariables"] if "stageVariables" in doc else stage.variables
    return json_reply(_stage_doc(c.apis.put_stage(p["api"], stage.name, variables, default, routes)))


def get_stages(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _items([_stage_doc(s) for s in _api(c, p).stages])


def delete_stage(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    api = _api(c, p)
    kept = tuple(s for s in api.stages if s.name != p["id"])
    if len(kept) == len(api.stages):
        raise NotFoundException(f"Unable to find Stage with name '{p['id']}'")
    c.store.put_api(api.api_id, dataclasses.replace(api, stages=kept).to_dict())
    return Reply(204)


def create_authorizer(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    _api(c, p)
    jwt_config = _pascal(doc.get("jwtConfiguration")) or {}
    kind = doc.get("authorizerType", "")
    sources = doc.get("identitySource")
    if sources is None:
        sources = ["$request.header.Authorization"] if kind == "JWT" else []
    ttl = doc.get("authorizerResultTtlInSeconds", 0)
    if not isinstance(sources, list) or not isinstance(ttl, int):
        raise BadRequestException("identitySource must be a list and authorizerResultTtlInSeconds an integer")
    authorizer = Authorizer(
        new_api_id()[:6], doc.get("name", ""), kind, tuple(sources),
        issuer=jwt_config.get("Issuer", ""), audiences=tuple(jwt_config.get("Audience", ())),
        jwks_uri=jwt_config.get("JwksUri", "") or doc.get("jwksUri", ""),
        function=_function_of(doc.get("authorizerUri", "")),
        payload_version=doc.get("authorizerPayloadFormatVersion", "2.0"),
        simple_responses=bool(doc.get("enableSimpleResponses", False)),
        ttl_seconds=ttl)
    return json_reply(_authorizer_doc(c.apis.create_authorizer(p["api"], authorizer)), 201)


def get_authorizers(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _items([_authorizer_doc(a) for a in _api(c, p).authorizers])


def get_authorizer(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    authorizer = _api(c, p).authorizer(p["id"])
    if authorizer is None:
        raise NotFoundException(f"Unable to find Authorizer with id '{p['id']}'")
    return json_reply(_authorizer_doc(authorizer))


def delete_authorizer(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    _api(c, p)
    c.apis.delete_authorizer(p["api"], p["id"])
    return Reply(204)


_API = "/v2/apis/(?P<api>[^/]+)"
ERRORS = shapes.Errors(body=BadRequestException, type=BadRequestException,
                       missing=lambda problems: BadRequestException(problems.missing_message()))


def _op(operation: str, handler: Handler) -> Handler:
    """``handler`` with its body parsed within limits and checked against the operation's model."""
    return shapes.guarded('apigatewayv2', operation, handler, ERRORS)


_ROUTES = route_table([
        ("POST", "/v2/apis", _op('CreateApi', create_api)),
        ("GET", "/v2/apis", _op('GetApis', get_apis)),
        ("GET", _API, _op('GetApi', get_api)),
        ("PATCH", _API, _op('UpdateApi', update_api)),
        ("DELETE", _API, _op('DeleteApi', delete_api)),
        ("POST", f"{_API}/integrations", _op('CreateIntegration', create_integration)),
        ("GET", f"{_API}/integrations", _op('GetIntegrations', get_integrations)),
        ("DELETE", f"{_API}/integrations/(?P<id>[^/]+)", _op('DeleteIntegration', delete_integration)),
        ("POST", f"{_API}/routes", _op('CreateRoute', create_route)),
        ("GET", f"{_API}/routes", _op('GetRoutes', get_routes)),
        ("GET", f"{_API}/routes/(?P<id>[^/]+)", _op('GetRoute', get_route)),
        ("PATCH", f"{_API}/routes/(?P<id>[^/]+)", _op('UpdateRoute', update_route)),
        ("DELETE", f"{_API}/routes/(?P<id>[^/]+)", _op('DeleteRoute', delete_route)),
        ("POST", f"{_API}/routes/(?P<id>[^/]+)/routeresponses", _op('CreateRouteResponse', create_route_response)),
        ("GET", f"{_API}/routes/(?P<id>[^/]+)/routeresponses", _op('GetRouteResponses', get_route_responses)),
        ("POST", f"{_API}/deployments", _op('CreateDeployment', create_deployment)),
        ("POST", f"{_API}/stages", _op('CreateStage', create_stage)),
        ("GET", f"{_API}/stages", _op('GetStages', get_stages)),
        ("GET", f"{_API}/stages/(?P<id>[^/]+)", _op('GetStage', get_stage)),
        ("PATCH", f"{_API}/stages/(?P<id>[^/]+)", _op('UpdateStage', update_stage)),
        ("DELETE", f"{_API}/stages/(?P<id>[^/]+)", _op('DeleteStage', delete_stage)),
        ("POST", f"{_API}/authorizers", _op('CreateAuthorizer', create_authorizer)),
        ("GET", f"{_API}/authorizers", _op('GetAuthorizers', get_authorizers)),
        ("GET", f"{_API}/authorizers/(?P<id>[^/]+)", _op('GetAuthorizer', get_authorizer)),
        ("DELETE", f"{_API}/authorizers/(?P<id>[^/]+)", _op('DeleteAuthorizer', delete_authorizer)),
])


def route(request: Request) -> tuple[Handler, dict[str, str]] | None:
    return match_route(_ROUTES, request)
