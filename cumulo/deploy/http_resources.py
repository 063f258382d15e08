"""HTTP APIs written as plain CloudFormation: ``AWS::ApiGatewayV2::Api``, ``Integration``, ``Route``,
``Stage`` and ``Authorizer`` (as people write them by hand or ``cdk synth`` emits them).

They are assembled into the same configuration an ``AWS::Serverless::HttpApi`` gives (``deploy/apis.py``):

- an ``Api`` with ``ProtocolType: HTTP`` is an API (``Name``, ``Description``, ``CorsConfiguration``);
  its quick-create form (``Target``, a function, with ``RouteKey``, default ``$default``) is one route to
  it on the ``$default`` stage, as API Gateway makes it. OpenAPI ``Body`` is refused;
- an ``Api`` with ``ProtocolType: WEBSOCKET`` (``RouteSelectionExpression``, e.g. ``$request.body.action``) is
  a WebSocket API: its routes are ``$connect``, ``$disconnect``, ``$default`` and custom keys, a route with a
  ``RouteResponseSelectionExpression`` or an ``AWS::ApiGatewayV2::RouteResponse`` sends the integration's answer
  back, ``CUSTOM`` authorization (a ``REQUEST`` authorizer, identity ``route.request.header.<name>`` or
  ``route.request.querystring.<name>``) is allowed on ``$connect`` only, as on AWS;
- an ``Integration`` of type ``AWS_PROXY`` to a function (``IntegrationUri``: its ARN, or the
  ``.../functions/<arn>/invocations`` form) with ``PayloadFormatVersion`` (default 2.0) and
  ``TimeoutInMillis``; an ``AWS_PROXY`` service integration (``IntegrationSubtype`` such as
  ``SQS-SendMessage``, ``RequestParameters``, ``CredentialsArn``: ``gateway/integrations.py``); an
  ``HTTP_PROXY`` integration (``IntegrationUri`` an http(s) URL, ``IntegrationMethod``); other types
  (``MOCK``, ``HTTP``) are refused naming the route, and so is a private integration (``ConnectionType``
  ``VPC_LINK`` to a load balancer's listener or Cloud Map ARN): Cumulo has no VPC to reach it in;
- a ``Route`` (``RouteKey``, ``Target: integrations/<id>``) with ``AuthorizationType`` ``NONE``, ``JWT`` or
  ``CUSTOM`` (``AuthorizerId``, ``AuthorizationScopes``); ``AWS_IAM`` is refused;
- ``Authorizer``s of type ``JWT`` (``JwtConfiguration``, ``IdentitySource``) and ``REQUEST`` (a function:
  ``AuthorizerUri``, ``AuthorizerPayloadFormatVersion``, ``EnableSimpleResponses``,
  ``AuthorizerResultTtlInSeconds``);
- the stage: a ``Stage``'s ``StageName`` with ``StageVariables``, ``DefaultRouteSettings`` and
  ``RouteSettings`` (throttles); an API with none is served on ``$default`` with a note. ``Deployment``,
  ``RouteResponse``, ``IntegrationResponse``, ``Model``, ``ApiMapping`` and ``DomainName`` are accepted with
  a note.

``Ref`` is an API's id, an integration's, route's or authorizer's id, a stage's name; ``!GetAtt`` gives an
API's ``ApiEndpoint`` and ``ApiId``, an integration's ``IntegrationId``, a route's ``RouteId``, an
authorizer's ``AuthorizerId``. Pure: resolved property maps in, ``HttpApiConfig``s out; faults are
``IntrinsicError``s naming the resource.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cumulo.deploy.api_common import HttpApiConfig, map_of, throttle_of
from cumulo.deploy.apis import read_cors
from cumulo.deploy.integrations import integration_target
from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.rest_apis import function_of_uri
from cumulo.errors import CumuloError
from cumulo.gateway.model import (
    INTEGRATION_TIMEOUT_MS, Authorizer, Route, Throttle, check_route_selection, check_ws_route_key,
)
from cumulo.gateway.routing import parse_route_key

__all__ = ["HTTP_RAW_TYPES", "raw_http_ids", "raw_http_apis"]

API = "AWS::ApiGatewayV2::Api"
INTEGRATION = "AWS::ApiGatewayV2::Integration"
ROUTE = "AWS::ApiGatewayV2::Route"
STAGE = "AWS::ApiGatewayV2::Stage"
AUTHORIZER = "AWS::ApiGatewayV2::Authorizer"
# Accepted with a note: nothing a Lambda proxy route answers depends on them here.
ROUTE_RESPONSE = "AWS::ApiGatewayV2::RouteResponse"
NOTED = {"AWS::ApiGatewayV2::Deployment": "every change is served at once (as AutoDeploy)",
         "AWS::ApiGatewayV2::IntegrationResponse": "Lambda proxy routes answer with the function's response",
         "AWS::ApiGatewayV2::Model": "request models are not validated",
         "AWS::ApiGatewayV2::ApiMapping": "custom domains are not served: the API is at the gateway's URL",
         "AWS::ApiGatewayV2::DomainName": "custom domains are not served: the API is at the gateway's URL"}
_DEPLOYMENT = "AWS::ApiGatewayV2::Deployment"
HTTP_RAW_TYPES = (API, INTEGRATION, ROUTE, STAGE, AUTHORIZER, _DEPLOYMENT, ROUTE_RESPONSE,
                  *(t for t in NOTED if t != _DEPLOYMENT))
_API_KEYS = {"Name", "ProtocolType", "Description", "CorsConfiguration", "Target", "RouteKey", "Tags",
             "DisableExecuteApiEndpoint", "DisableSchemaValidation", "FailOnWarnings", "Version",
             "CredentialsArn", "IpAddressType", "RouteSelectionExpression", "ApiKeySelectionExpression"}


def _short(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:7]


def raw_http_ids(stack: str, logical_id: str, kind: str, api_id: str, region: str) -> dict[str, str]:
    """What ``Ref`` and ``!GetAtt`` answer for one raw resource (``api_id``: an Api's id)."""
    if kind == API:
        return {"Ref": api_id, "ApiId": api_id, "ApiEndpoint": f"https://{api_id}.execute-api.{region}.amazonaws.com"}
    if kind == STAGE:
        return {}                               # Ref is its StageName, known once read
    if kind == ROUTE_RESPONSE:
        own = _short(stack, logical_id)
        return {"Ref": own, "RouteResponseId": own}
    own = _short(stack, logical_id)
    return {"Ref": own, {INTEGRATION: "IntegrationId", ROUTE: "RouteId", AUTHORIZER: "AuthorizerId"}.get(
        kind, "Id"): own}


def raw_http_apis(stack: str, entries: list[tuple[str, str, dict[str, Any]]], api_id_for: Any,
                  region: str = "us-east-1", declared: dict[str, str] | None = None,
                  attached: dict[str, tuple[list[Route], list[Authorizer]]] | None = None) -> dict[str, HttpApiConfig]:
    """The configurations of a template's raw HTTP APIs: ``entries`` are (logical id, type, properties).
    ``declared``: the ids (to logical ids) of the template's ``AWS::Serverless::HttpApi``s, which raw
    ``Integration``s, ``Route``s and ``Authorizer``s may name as their ``ApiId`` too (people attach a service
    integration to a SAM API this way); their routes and authorizers are put in ``attached`` by logical id."""
    declared = declared or {}
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, kind, props in entries:
        by_type.setdefault(kind, []).append((logical_id, props))
    apis: dict[str, tuple[str, dict[str, Any]]] = {}          # api id -> (logical id, props)
    for logical_id, props in by_type.get(API, []):
        _check_api(logical_id, props)
        apis[api_id_for(stack, logical_id)] = (logical_id, props)

    def api_of(logical_id: str, props: dict[str, Any]) -> str:
        api_id = str(props.get("ApiId", ""))
        if api_id not in apis and api_id not in declared:
            raise IntrinsicError(f"Resource {logical_id}: ApiId must be a !Ref to an AWS::ApiGatewayV2::Api (or an "
                                 "AWS::Serverless::HttpApi) of this template")
        return api_id

    integrations = {_short(stack, lid): (api_of(lid, props), lid, props) for lid, props in by_type.get(INTEGRATION, [])}
    authorizers = {_short(stack, lid): (api_of(lid, props), _authorizer(lid, props, stack))
                   for lid, props in by_type.get(AUTHORIZER, [])}
    routes: dict[str, list[Route]] = {api_id: [] for api_id in (*apis, *declared)}
    answered = _route_responses(stack, by_type)      # routes' own ids that have a route response
    for api_id, (logical_id, props) in apis.items():
        if "Target" in props:           # quick create: one route to the function
            function = _function(str(props["Target"]))
            if function is None:
                raise IntrinsicError(f"Resource {logical_id}: Target must be a function's ARN (quick create)")
            key = str(props.get("RouteKey", "$default"))
            routes[api_id].append(_route(logical_id, key, function, "2.0", INTEGRATION_TIMEOUT_MS, {}, api_id))
    for logical_id, props in by_type.get(ROUTE, []):
        api_id = api_of(logical_id, props)
        key = str(props.get("RouteKey", ""))
        target = str(props.get("Target", ""))
        integration = integrations.get(target.removeprefix("integrations/")) if target.startswith(
            "integrations/") else None
        if integration is None or integration[0] != api_id:
            raise IntrinsicError(f"Resource {logical_id}: {key}: Target must be integrations/<an "
                                 "AWS::ApiGatewayV2::Integration of the same API> (!Sub integrations/${Integration})")
        function, version, timeout, fields = _integration(integration[1], integration[2], key)
        options = {**_authorization(logical_id, props, api_id, authorizers), **fields}
        websocket = api_id in apis and str(apis[api_id][1].get("ProtocolType", "")) == "WEBSOCKET"
        if websocket and fields:
            raise IntrinsicError(f"Resource {logical_id}: {key}: a WebSocket API's routes integrate with functions "
                                 "(AWS_PROXY to a function) only here")
        if websocket:
            version = "1.0"         # WebSocket APIs' proxy integrations have one format
            if options.get("authorization_type") == "CUSTOM" and key != "$connect":
                raise IntrinsicError(f"Resource {logical_id}: {key}: a WebSocket API authorizes on $connect only")
            options["route_response"] = bool(props.get("RouteResponseSelectionExpression")) or \
                _short(stack, logical_id) in answered
        routes[api_id].append(_route(logical_id, key, function, version, timeout, options, api_id, websocket))
    for api_id, logical in declared.items():
        used = {r.authorizer_id for r in routes[api_id]}
        if attached is not None and routes[api_id]:
            attached[logical] = (routes[api_id], [a for a_id, (owner, a) in authorizers.items()
                                                  if owner == api_id and a_id in used])
    stages = _stages(by_type, apis, api_of)
    configs = {}
    for api_id, (logical_id, props) in apis.items():
        notes = [f"{t.rsplit('::', 1)[1]} {lid} ignored: {NOTED[t]}" for t in NOTED for lid, noted in by_type.get(t, [])
                 if str(noted.get("ApiId", api_id)) == api_id]      # each API's own (DomainName has none)
        notes += [f"{key} ignored" for key in ("Tags", "DisableExecuteApiEndpoint", "FailOnWarnings") if key in props]
        names = stages.get(api_id, [])
        websocket = str(props.get("ProtocolType")) == "WEBSOCKET"
        if not names and websocket:
            raise IntrinsicError(f"Resource {logical_id}: a WebSocket API needs an AWS::ApiGatewayV2::Stage (it has "
                                 "no $default stage)")
        if not names and "Target" not in props:
            notes.append("no AWS::ApiGatewayV2::Stage deploys it: served on its $default stage")
        if len(names) > 1:
            notes.append(f"served on its stage {names[0][0]} only (also declared: "
                         f"{', '.join(n for n, _ in names[1:])})")
        stage, stage_props = names[0] if names else ("$default", {})
        used = {r.authorizer_id for r in routes[api_id]}
        default_throttle, route_throttles = _throttles(stage_props)
        configs[logical_id] = HttpApiConfig(
            logical_id, stage, {str(k): str(v) for k, v in map_of(stage_props.get("StageVariables", {}),
                                                                    "StageVariables").items()},
            read_cors(props.get("CorsConfiguration")),
            {a.name: a for a_id, (owner, a) in authorizers.items() if owner == api_id and a_id in used}, None,
            default_throttle, route_throttles, str(props.get("Description", "")),
            None if props.get("Name") is None else str(props["Name"]), tuple(notes), routes=tuple(routes[api_id]),
            protocol="WEBSOCKET" if websocket else "HTTP",
            route_selection=str(props.get("RouteSelectionExpression", "")) if websocket else "")
    return configs


def _route_responses(stack: str, by_type: dict[str, list[tuple[str, dict[str, Any]]]]) -> set[str]:
    """The routes (their ``Ref``) that an ``AWS::ApiGatewayV2::RouteResponse`` with key ``$default`` answers for."""
    answered = set()
    for logical_id, props in by_type.get(ROUTE_RESPONSE, []):
        if str(props.get("RouteResponseKey", "")) != "$default":
            raise IntrinsicError(f"Resource {logical_id}: RouteResponseKey must be $default (a Lambda proxy "
                                 "integration's answer is sent as it is)")
        answered.add(str(props.get("RouteId", "")))
    return answered


def _check_api(logical_id: str, props: dict[str, Any]) -> None:
    where = f"Resource {logical_id}"
    protocol = str(props.get("ProtocolType", ""))
    if protocol not in ("HTTP", "WEBSOCKET"):
        raise IntrinsicError(f"{where}: ProtocolType {protocol or '?'} is not supported (HTTP or WEBSOCKET)")
    if protocol == "WEBSOCKET":
        try:
            check_route_selection(str(props.get("RouteSelectionExpression", "")))
        except CumuloError as exc:
            raise IntrinsicError(f"{where}: {exc.message}") from None
        for key in ("Target", "CorsConfiguration"):
            if key in props:
                raise IntrinsicError(f"{where}: {key} applies to HTTP APIs only")
    for key in ("Body", "BodyS3Location"):
        if key in props:
            raise IntrinsicError(f"{where}: {key} (an OpenAPI definition) is not read; declare the routes as "
                                 "AWS::ApiGatewayV2::Route and Integration resources")
    extra = sorted(set(props) - _API_KEYS)
    if extra:
        raise IntrinsicError(f"{where}: unknown or unsupported property '{extra[0]}'")


def _function(uri: str) -> str | None:
    """The function (``name`` or ``name:qualifier``) a Lambda integration's URI or a function ARN names."""
    found = function_of_uri(uri)
    if found is not None:
        return found
    parts = uri.split(":")
    if uri.startswith("arn:") and len(parts) in (7, 8) and parts[5] == "function":
        return ":".join(parts[6:])
    return None


def _integration(logical_id: str, props: dict[str, Any], key: str) -> tuple[str, str, int, dict[str, Any]]:
    """(function, payload version, timeout, the route's other integration fields) of one Integration."""
    where = f"Resource {logical_id}"
    timeout = props.get("TimeoutInMillis", INTEGRATION_TIMEOUT_MS)
    try:
        timeout = int(timeout)
    except (TypeError, ValueError):
        raise IntrinsicError(f"{where}: TimeoutInMillis must be a number, got {timeout!r}") from None
    version = str(props.get("PayloadFormatVersion", "2.0"))
    function, fields = integration_target(where, key, str(props.get("IntegrationType", "")),
                                          props.get("IntegrationSubtype"), props.get("IntegrationUri"),
                                          props.get("IntegrationMethod"), props.get("RequestParameters"),
                                          props.get("CredentialsArn"), props.get("ConnectionType"))
    return function, version, timeout, fields


def _authorization(logical_id: str, props: dict[str, Any], api_id: str,
                   authorizers: dict[str, tuple[str, Authorizer]]) -> dict[str, Any]:
    where = f"Resource {logical_id}"
    kind = str(props.get("AuthorizationType", "NONE")).upper()
    options: dict[str, Any] = {"api_key_required": bool(props.get("ApiKeyRequired", False))}
    if kind == "NONE":
        return options
    if kind not in ("JWT", "CUSTOM"):
        raise IntrinsicError(f"{where}: AuthorizationType {kind} is not supported (NONE, JWT or CUSTOM)")
    found = authorizers.get(str(props.get("AuthorizerId", "")))
    if found is None or found[0] != api_id:
        raise IntrinsicError(f"{where}: AuthorizerId must be a !Ref to an AWS::ApiGatewayV2::Authorizer of the same "
                             "API")
    options.update(authorization_type=kind, authorizer_id=found[1].authorizer_id)
    if kind == "JWT":
        options["authorization_scopes"] = tuple(str(s) for s in props.get("AuthorizationScopes") or ())
    return options


def _route(logical_id: str, key: str, function: str, version: str, timeout: int, options: dict[str, Any],
           api_id: str, websocket: bool = False) -> Route:
    try:
        if websocket:
            check_ws_route_key(key)
        else:
            parse_route_key(key)
        return Route(key, function, version, timeout, route_id=_short(api_id, key), **options)
    except CumuloError as exc:
        raise IntrinsicError(f"Resource {logical_id}: {exc.message}") from None


def _authorizer(logical_id: str, props: dict[str, Any], stack: str) -> Authorizer:
    where = f"Resource {logical_id}"
    kind = str(props.get("AuthorizerType", "")).upper()
    sources = props.get("IdentitySource") or []
    sources = tuple(str(s) for s in (sources if isinstance(sources, list) else [sources]))
    name = str(props.get("Name", logical_id))
    try:
        if kind == "JWT":
            jwt = map_of(props.get("JwtConfiguration", {}), "JwtConfiguration")
            audience = jwt.get("Audience", [])
            return Authorizer(_short(stack, logical_id), name, "JWT", sources or ("$request.header.Authorization",),
                              issuer=str(jwt.get("Issuer", "")),
                              audiences=tuple(str(a) for a in (audience if isinstance(audience, list) else [audience])))
        if kind == "REQUEST":
            function = _function(str(props.get("AuthorizerUri", "")))
            if function is None:
                raise IntrinsicError(f"{where}: AuthorizerUri must invoke a function (.../functions/<arn>/invocations)")
            ttl = int(props.get("AuthorizerResultTtlInSeconds", 300 if sources else 0))
            return Authorizer(_short(stack, logical_id), name, "REQUEST", sources, function=function,
                              payload_version=str(props.get("AuthorizerPayloadFormatVersion", "2.0")),
                              simple_responses=bool(props.get("EnableSimpleResponses", False)),
                              ttl_seconds=ttl if sources else 0)
    except (CumuloError, ValueError, TypeError) as exc:
        raise IntrinsicError(f"{where}: {getattr(exc, 'message', str(exc))}") from None
    raise IntrinsicError(f"{where}: AuthorizerType {kind or '?'} is not supported (JWT or REQUEST, a Lambda "
                         "authorizer)")


def _stages(by_type: dict[str, list[tuple[str, dict[str, Any]]]], apis: dict[str, tuple[str, dict[str, Any]]],
            api_of: Any) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    stages: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, props in by_type.get(STAGE, []):
        api_id, name = api_of(logical_id, props), props.get("StageName")
        if name is None:
            raise IntrinsicError(f"Resource {logical_id}: StageName is required")
        if api_id not in apis or "Target" in apis[api_id][1]:
            continue                 # a quick-created API has its $default stage; a SAM API its StageName
        stages.setdefault(api_id, []).append((str(name), props))
    return stages


def _throttles(stage: dict[str, Any]) -> tuple[Throttle | None, dict[str, Throttle]]:
    default = throttle_of(stage.get("DefaultRouteSettings"), "DefaultRouteSettings")
    routes = {}
    for key, value in map_of(stage.get("RouteSettings", {}), "RouteSettings").items():
        throttle = throttle_of(value, f"RouteSettings.{key}")
        if throttle is not None:
            routes[str(key)] = throttle
    return default, routes

