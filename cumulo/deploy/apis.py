"""HTTP APIs in SAM templates: ``AWS::Serverless::HttpApi`` resources and the routes functions' events add.

What SAM makes, and so what this makes:

- ``HttpApi`` events without ``ApiId`` add routes to the implicit
  ``ServerlessHttpApi`` (stage ``$default``, payload 2.0), configured by
  ``Globals.HttpApi``; with ``ApiId: !Ref MyApi`` they add routes to that
  ``AWS::Serverless::HttpApi``. ``Api`` events add methods to the implicit
  ``ServerlessRestApi`` (stage ``Prod``) or, with ``RestApiId``, to an
  ``AWS::Serverless::Api``: REST APIs, read by ``deploy/rest_apis.py``.
- An HttpApi's ``Auth`` declares ``Authorizers`` (``JwtConfiguration`` +
  ``IdentitySource``, or a Lambda ``FunctionArn`` with
  ``AuthorizerPayloadFormatVersion``, ``EnableSimpleResponses`` and
  ``Identity``) and a ``DefaultAuthorizer``; an event's ``Auth.Authorizer``
  (a name, or ``NONE``) and ``Auth.AuthorizationScopes`` override it per route.
  ``JwtConfiguration`` may carry ``JwksUri`` (a Cumulo extension: a key set
  location for issuers that are not reachable for OpenID discovery).
- ``CorsConfiguration`` (``true`` meaning every origin, method and header),
  ``StageName``, ``StageVariables``, ``DefaultRouteSettings`` and
  ``RouteSettings`` (throttles), and an event's own ``RouteSettings``.

Pure: plain (resolved) property maps in, ``ApiSpec``s out. Faults are
``IntrinsicError``s naming the property.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.api_common import HttpApiConfig, identity_sources, map_of, throttle_of
from cumulo.deploy.integrations import openapi_routes
from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.rest_apis import REST_API_TYPE, read_rest_api, rest_route
from cumulo.errors import CumuloError
from cumulo.gateway.model import INTEGRATION_TIMEOUT_MS, Authorizer, Route, Throttle
from cumulo.gateway.routing import parse_route_key
from cumulo.gateway.service import cors_config

__all__ = ["HTTP_API_TYPE", "REST_API_TYPE", "read_rest_api", "HttpApiConfig", "ApiSpec", "api_id_for", "read_http_api", "api_specs", "read_cors", "IMPLICIT_HTTP_API",
           "IMPLICIT_REST_API"]

HTTP_API_TYPE = "AWS::Serverless::HttpApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
IMPLICIT_REST_API = "ServerlessRestApi"
_PROPERTIES = frozenset({"DefinitionBody", "Auth", "CorsConfiguration", "DefaultRouteSettings", "RouteSettings", "StageName",
                         "StageVariables", "Description", "Name", "FailOnWarnings", "DisableExecuteApiEndpoint",
                         "Tags", "AccessLogSettings", "PropagateTags"})
_IGNORED = {"FailOnWarnings": "there are no OpenAPI warnings to fail on",
            "DisableExecuteApiEndpoint": "the gateway's endpoint is Cumulo's own",
            "Tags": "APIs are not tagged", "PropagateTags": "APIs are not tagged",
            "AccessLogSettings": "every API's access log is kept in /aws/apigateway/<api-id>"}
_UNSUPPORTED = {"DefinitionUri": "OpenAPI definitions in files are not read; inline it as DefinitionBody (or "
                                  "Fn::Transform AWS::Include) or declare routes as HttpApi events",
                "Domain": "custom domains are not served"}


def api_id_for(stack: str, logical_id: str) -> str:
    """A stable id for a stack's API, so its URLs survive re-deploys."""
    digest = hashlib.sha256(f"{stack}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:10]


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    api_id: str
    name: str
    stage: str
    stage_variables: dict[str, str]
    cors: dict[str, Any] | None
    authorizers: tuple[Authorizer, ...]
    default_throttle: Throttle | None
    route_throttles: dict[str, Throttle]
    routes: tuple[Route, ...]
    description: str = ""
    protocol: str = "HTTP"           # REST: AWS::Serverless::Api and SAM's implicit ServerlessRestApi (Api events)
    notes: tuple[str, ...] = ()      # properties accepted and ignored (shown as warnings)
    rest_cors: dict[str, str] | None = None
    binary_media_types: tuple[str, ...] = ()
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False)   # of raw AWS::ApiGateway::*
    route_selection: str = ""        # WEBSOCKET: RouteSelectionExpression
    tracing: bool = False            # REST: the stage's TracingEnabled


def read_http_api(logical_id: str, props: dict[str, Any], globals_: dict[str, Any]) -> HttpApiConfig:
    """An HttpApi's (or the implicit API's) configuration; ``globals_`` is ``Globals.HttpApi``."""
    merged = {**globals_, **props}
    notes = []
    for key in merged:
        if key in _UNSUPPORTED:
            raise IntrinsicError(f"property {key}: not supported ({_UNSUPPORTED[key]})")
        if key not in _PROPERTIES:
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
        if key in _IGNORED:
            notes.append(f"{key} ignored: {_IGNORED[key]}")
    auth = map_of(merged.get("Auth", {}), "Auth")
    authorizers = {name: _authorizer(name, map_of(spec, f"Auth.Authorizers.{name}"))
                   for name, spec in map_of(auth.get("Authorizers", {}), "Auth.Authorizers").items()}
    default = auth.get("DefaultAuthorizer")
    if default is not None and default not in authorizers:
        raise IntrinsicError(f"property Auth.DefaultAuthorizer: '{default}' is not one of Auth.Authorizers")
    if auth.get("EnableIamAuthorizer"):
        raise IntrinsicError("property Auth.EnableIamAuthorizer: IAM authorization is not supported")
    stage = str(merged.get("StageName", "$default"))
    config = HttpApiConfig(
        logical_id, stage, {str(k): str(v) for k, v in map_of(merged.get("StageVariables", {}), "StageVariables").items()},
        read_cors(merged.get("CorsConfiguration")), authorizers, default,
        throttle_of(merged.get("DefaultRouteSettings"), "DefaultRouteSettings"),
        {_route_key(k): t for k, v in map_of(merged.get("RouteSettings", {}), "RouteSettings").items()
         if (t := throttle_of(v, f"RouteSettings.{k}")) is not None},
        str(merged.get("Description", "")), merged.get("Name"), tuple(notes))
    if "DefinitionBody" in props:
        return openapi_routes(config, map_of(props["DefinitionBody"], "DefinitionBody"))
    return config


def _route_key(key: str) -> str:
    try:
        parse_route_key(key)
    except CumuloError as exc:
        raise IntrinsicError(f"property RouteSettings: {exc.message}") from None
    return key


def read_cors(value: Any) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    if value is True:
        value = {"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]}
    doc = map_of(value, "CorsConfiguration")
    try:
        cors_config(doc)
    except CumuloError as exc:
        raise IntrinsicError(f"property CorsConfiguration: {exc.message}") from None
    return doc


def _authorizer(name: str, spec: dict[str, Any]) -> Authorizer:
    where = f"property Auth.Authorizers.{name}"
    authorizer_id = hashlib.sha256(name.encode()).hexdigest()[:6]
    try:
        if "JwtConfiguration" in spec:
            jwt = {k[:1].upper() + k[1:]: v for k, v in map_of(spec["JwtConfiguration"], where).items()}
            audience = jwt.get("Audience", [])
            source = spec.get("IdentitySource", "$request.header.Authorization")
            return Authorizer(authorizer_id, name, "JWT", (str(source),), issuer=str(jwt.get("Issuer", "")),
                              audiences=tuple(audience if isinstance(audience, list) else [audience]),
                              jwks_uri=str(jwt.get("JwksUri", "")))
        if "FunctionArn" in spec:
            identity = map_of(spec.get("Identity", {}), f"{where}.Identity")
            sources = identity_sources(identity)
            ttl = identity.get("ReauthorizeEvery", 300 if sources else 0)
            return Authorizer(authorizer_id, name, "REQUEST", tuple(sources), function=str(spec["FunctionArn"]),
                              payload_version=str(spec.get("AuthorizerPayloadFormatVersion", "")),
                              simple_responses=bool(spec.get("EnableSimpleResponses", False)),
                              ttl_seconds=int(ttl) if sources else 0)
    except CumuloError as exc:
        raise IntrinsicError(f"{where}: {exc.message}") from None
    raise IntrinsicError(f"{where}: needs JwtConfiguration (JWT) or FunctionArn (Lambda)")


def read_rest_globals(globals_api: dict[str, Any]) -> HttpApiConfig:
    """The implicit REST API (``ServerlessRestApi``, stage ``Prod``) with ``Globals.Api``."""
    return read_rest_api(IMPLICIT_REST_API, {}, globals_api, implicit=True)


def api_specs(stack: str, functions: list[Any], http_apis: dict[str, HttpApiConfig],
              globals_http_api: dict[str, Any], globals_api: dict[str, Any] | None = None) -> list[ApiSpec]:
    """Every API the template makes: declared HttpApis, and the implicit APIs its events need."""
    configs = dict(http_apis)
    routes: dict[str, list[Route]] = {logical: [] for logical in configs}
    throttles: dict[str, dict[str, Throttle]] = {logical: {} for logical in configs}
    for fn in functions:
        for name, event in fn.events.items():
            kind = event.get("Type")
            if kind not in ("HttpApi", "Api"):
                continue
            props = event.get("Properties") or {}
            where = f"Resource {fn.logical_id}: event {name}"
            logical = _target_api(kind, props, configs, stack, where)
            if logical not in configs:
                configs[logical] = (read_http_api(logical, {}, globals_http_api) if kind == "HttpApi"
                                    else read_rest_globals(globals_api or {}))
                routes[logical], throttles[logical] = [], {}
            try:
                if configs[logical].protocol == "REST":
                    route, throttle = rest_route(props, fn.function_name, configs[logical]), None
                else:
                    route, throttle = _route(kind, props, fn.function_name, configs[logical])
            except (IntrinsicError, CumuloError) as exc:
                raise IntrinsicError(f"{where}: {exc.message}") from None
            routes[logical].append(route)
            if throttle is not None:
                throttles[logical][route.route_key] = throttle
    specs = []
    for logical, config in configs.items():
        # A method the API's own definition (DefinitionBody, raw resources) integrates keeps that integration: SAM
        # leaves a given definition as written, an event on it only adds the function's permission.
        declared = {r.route_key for r in config.routes}
        routes[logical] = [*config.routes, *(r for r in routes[logical] if r.route_key not in declared)]
        keys = [r.route_key for r in routes[logical]]
        duplicate = next((k for k in keys if keys.count(k) > 1), None)
        if duplicate:
            raise IntrinsicError(f"Resource {logical}: route {duplicate} is declared by more than one event")
        specs.append(ApiSpec(logical, api_id_for(stack, logical), config.name or f"{stack}-{logical}", config.stage,
                             config.stage_variables, config.cors, tuple(config.authorizers.values()),
                             config.default_throttle,
                             {**config.route_throttles, **throttles[logical]},
                             tuple(routes[logical]), config.description, config.protocol, tuple(config.notes),
                             config.rest_cors, config.binary_media_types, route_selection=config.route_selection,
                             tracing=config.tracing))
    return specs


def _target_api(kind: str, props: dict[str, Any], configs: dict[str, HttpApiConfig], stack: str, where: str) -> str:
    api_ref = props.get("RestApiId" if kind == "Api" else "ApiId")
    if api_ref is None:
        return IMPLICIT_REST_API if kind == "Api" else IMPLICIT_HTTP_API
    wanted = "REST" if kind == "Api" else "HTTP"
    for logical, config in configs.items():
        if api_ref in (logical, api_id_for(stack, logical)) and config.protocol == wanted:
            return logical
    if kind == "Api":
        raise IntrinsicError(f"{where}: RestApiId must be a !Ref to an AWS::Serverless::Api of this template")
    raise IntrinsicError(f"{where}: ApiId must be a !Ref to an AWS::Serverless::HttpApi of this template")


def _route(kind: str, props: dict[str, Any], function: str, config: HttpApiConfig) -> tuple[Route, Throttle | None]:
    """The route an event adds, and the throttle its own RouteSettings give it."""
    method = str(props.get("Method", "any")).upper()
    method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
    path = props.get("Path")
    if path is None and kind == "Api":
        raise IntrinsicError("Path is required for Api events")
    route_key = "$default" if path is None else f"{method} {path}"
    parse_route_key(route_key)
    version = str(props.get("PayloadFormatVersion", "2.0" if kind == "HttpApi" else "1.0"))
    timeout = props.get("TimeoutInMillis")
    auth = props.get("Auth") or {}
    if not isinstance(auth, dict):
        raise IntrinsicError("Auth must be a map")
    options: dict[str, Any] = {"api_key_required": bool(auth.get("ApiKeyRequired", False))}
    if kind == "HttpApi":
        name = auth.get("Authorizer", config.default_authorizer)
        if name not in (None, "NONE"):
            authorizer = config.authorizers.get(name)
            if authorizer is None:
                raise IntrinsicError(f"Auth.Authorizer '{name}' is not one of the API's Auth.Authorizers")
            options.update(authorization_type="JWT" if authorizer.kind == "JWT" else "CUSTOM",
                           authorizer_id=authorizer.authorizer_id)
            if authorizer.kind == "JWT":
                options["authorization_scopes"] = tuple(auth.get("AuthorizationScopes", ()))
    route_id = hashlib.sha256(f"{config.logical_id} {route_key}".encode()).hexdigest()[:7]   # stable across deploys
    route = Route(route_key, function, version, int(timeout) if timeout else INTEGRATION_TIMEOUT_MS,
                  route_id=route_id, **options)
    return route, throttle_of(props.get("RouteSettings"), "RouteSettings")
