"""REST APIs in SAM templates: ``AWS::Serverless::Api``, the implicit ``ServerlessRestApi``, ``Api`` events.

What SAM makes, and so what this makes (an ``HttpApiConfig`` with protocol ``REST``):

- ``StageName`` (required on a declared API; the implicit one's stage is ``Prod``), ``Variables``
  (the stage's variables), ``Name``, ``Description``; ``Globals.Api`` applies to both.
- ``Cors``: a string (``"'*'"``, the allowed origin, quoted as SAM wants it) or a map
  (``AllowOrigin``, ``AllowMethods``, ``AllowHeaders``, ``MaxAge``, ``AllowCredentials``). SAM
  adds a mock ``OPTIONS`` method to every path answering with those headers; the function's
  own responses carry whatever CORS headers it sets (a Lambda proxy response is not changed).
- ``BinaryMediaTypes`` (``~1`` is SAM's escape for ``/``): request bodies of these types reach
  functions base64-encoded.
- ``Auth``: ``Authorizers`` — Lambda ``TOKEN`` (``Identity.Header``, ``ValidationExpression``,
  ``ReauthorizeEvery``) and ``REQUEST`` (``Identity.Headers/QueryStrings/StageVariables/Context``)
  authorizers; a ``UserPoolArn`` (Cognito) is refused, since Cumulo has no user pools —,
  ``DefaultAuthorizer`` and ``ApiKeyRequired`` (the default of every method); an event's
  ``Auth.Authorizer`` (a name or ``NONE``) and ``Auth.ApiKeyRequired`` override them.
  ``AWS_IAM`` authorization is refused, as for HTTP APIs.
- ``MethodSettings``' throttles (``ResourcePath: /*``, ``HttpMethod: '*'`` for the stage; a
  path and method for one method).
- ``DefinitionBody``: an OpenAPI (2.0 or 3.0) definition whose methods are Lambda proxy
  integrations (``x-amazon-apigateway-integration`` of type ``aws_proxy`` to a function's
  ``.../functions/<arn>/invocations``) becomes those routes; a mock ``OPTIONS`` integration gives
  the CORS headers of its response parameters; an ``api_key`` security requirement marks a
  method as needing a key; ``http_proxy`` integrations forward to their ``uri`` (``{proxy}`` filled from the
  path); ``aws`` (service or non-proxy Lambda) and ``http`` (non-proxy HTTP) integrations carry their
  request parameters, ``requestTemplates``, ``passthroughBehavior`` and integration ``responses``
  (docs/gateway.md, Integrations). Other integration types are refused, naming the method.
- Everything with no local effect (caching, endpoint type, access logs, canaries,
  custom domains, gateway responses, models, resource policies, usage plans) is accepted with
  a note saying so.

Pure: plain (resolved) property maps in, configurations and routes out; faults are
``IntrinsicError``s naming the property.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from cumulo.deploy.api_common import HttpApiConfig, identity_sources, map_of, throttle_of
from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.errors import CumuloError
from cumulo.gateway.model import Authorizer, Route, Throttle, check_integration
from cumulo.gateway.routing import parse_route_key


__all__ = ["REST_API_TYPE", "read_rest_api", "rest_route", "REST_TIMEOUT_MS", "function_of_uri", "method_settings",
           "definition_routes", "binary_types", "rest_integration", "cfn_aws"]

REST_API_TYPE = "AWS::Serverless::Api"
REST_TIMEOUT_MS = 29_000          # a REST API's integration timeout (its default and, by default, its maximum)

_NOTES = {
    "CacheClusterEnabled": "responses are not cached", "CacheClusterSize": "responses are not cached",
    "EndpointConfiguration": "the API is served on the gateway's port, whatever its endpoint type",
    "MinimumCompressionSize": "responses are not compressed", "GatewayResponses": "the gateway answers its own "
    "errors as API Gateway does by default", "AccessLogSetting": "every API's access log is kept in "
    "/aws/apigateway/<api-id>", "CanarySetting": "there are no canary deployments of a stage",
    "OpenApiVersion": "no OpenAPI document is generated",
    "Domain": "custom domains are not served: the API is at the gateway's own address",
    "Models": "request models are not validated", "DisableExecuteApiEndpoint": "the gateway's endpoint is Cumulo's "
    "own", "FailOnWarnings": "there are no OpenAPI warnings to fail on", "AlwaysDeploy": "every deploy updates the "
    "API", "MergeDefinitions": "routes of the definition and of events are merged either way",
    "Tags": "APIs are not tagged", "PropagateTags": "APIs are not tagged", "Mode": "the definition replaces the "
    "API either way", "ApiKeySourceType": "API keys are read from the x-api-key header",
    "DefinitionUri": "", "Policy": "resource policies of APIs are not enforced",
}
_PROPERTIES = frozenset({"Name", "StageName", "Description", "Variables", "Cors", "BinaryMediaTypes", "Auth",
                         "MethodSettings", "DefinitionBody", "TracingEnabled", *_NOTES})
_AUTH_NOTES = {"UsagePlan": "usage plans are not made from templates (create API keys and plans with the "
                            "apigateway API)",
               "ResourcePolicy": "resource policies of APIs are not enforced",
               "InvokeRole": "authorizers and integrations are invoked without a role",
               "AddDefaultAuthorizerToCorsPreflight": "CORS preflights are answered before any authorizer",
               "AddApiKeyRequiredToCorsPreflight": "CORS preflights are answered before any API key is checked"}
# .../functions/<arn>/invocations; REST APIs' response streaming (responseTransferMode STREAM) names
# .../response-streaming-invocations, answered buffered here (as function URLs' RESPONSE_STREAM are).
_FUNCTION_URI = re.compile(r"/functions/(arn:[^/]+?:function:(?P<name>[^:/]+)(?::(?P<qualifier>[^:/]+))?)"
                           r"/(?:response-streaming-)?invocations$")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method")


def read_rest_api(logical_id: str, props: dict[str, Any], globals_api: dict[str, Any],
                  implicit: bool = False) -> HttpApiConfig:
    """A REST API's configuration: an ``AWS::Serverless::Api`` (``implicit``: SAM's ``ServerlessRestApi``)."""
    merged = {**globals_api, **props}
    notes: list[str] = []
    where = "Globals.Api." if implicit else ""
    for key in merged:
        if key not in _PROPERTIES:
            raise IntrinsicError(f"property {where}{key}: unknown or unsupported property")
        if key in _NOTES and _NOTES[key]:
            notes.append(f"{where}{key} ignored: {_NOTES[key]}")
    stage = "Prod" if implicit else merged.get("StageName")
    if stage is None:
        raise IntrinsicError("property StageName: required")
    if "DefinitionUri" in merged and "DefinitionBody" not in merged:
        raise IntrinsicError("property DefinitionUri: OpenAPI definitions in files are not read; inline it as "
                             "DefinitionBody or declare the routes as Api events")
    auth = map_of(merged.get("Auth", {}), "Auth")
    for key in auth:
        if key in _AUTH_NOTES:
            notes.append(f"Auth.{key} ignored: {_AUTH_NOTES[key]}")
        elif key not in ("Authorizers", "DefaultAuthorizer", "ApiKeyRequired"):
            raise IntrinsicError(f"property Auth.{key}: unknown or unsupported property")
    authorizers = {name: _authorizer(name, map_of(spec, f"Auth.Authorizers.{name}"))
                   for name, spec in map_of(auth.get("Authorizers", {}), "Auth.Authorizers").items()}
    default = auth.get("DefaultAuthorizer")
    if default == "AWS_IAM":
        raise IntrinsicError("property Auth.DefaultAuthorizer: IAM authorization (AWS_IAM) is not supported")
    if default is not None and default not in authorizers:
        raise IntrinsicError(f"property Auth.DefaultAuthorizer: '{default}' is not one of Auth.Authorizers")
    default_throttle, route_throttles = method_settings(merged.get("MethodSettings", []))
    config = HttpApiConfig(
        logical_id, str(stage), {str(k): str(v) for k, v in map_of(merged.get("Variables", {}), "Variables").items()},
        None, authorizers, default, default_throttle, route_throttles, str(merged.get("Description", "")),
        None if merged.get("Name") is None else str(merged["Name"]), tuple(notes), protocol="REST",
        rest_cors=_cors(merged.get("Cors")), binary_media_types=binary_types(merged.get("BinaryMediaTypes", [])),
        api_key_required=bool(auth.get("ApiKeyRequired", False)), tracing=_true(merged.get("TracingEnabled")))
    if "DefinitionBody" in merged:
        return definition_routes(config, map_of(merged["DefinitionBody"], "DefinitionBody"))
    return config


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _cors(value: Any) -> dict[str, str] | None:
    """SAM's ``Cors`` as the headers of the OPTIONS answers (values are quoted strings in SAM: ``"'*'"``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"AllowOrigin": value}
    if not isinstance(value, dict):
        raise IntrinsicError("property Cors: must be a string (the allowed origin) or a map")
    names = {"AllowOrigin": "Access-Control-Allow-Origin", "AllowMethods": "Access-Control-Allow-Methods",
             "AllowHeaders": "Access-Control-Allow-Headers", "MaxAge": "Access-Control-Max-Age"}
    headers = {}
    for key, item in value.items():
        if key == "AllowCredentials":
            if item is True or str(item).lower() == "true":
                headers["Access-Control-Allow-Credentials"] = "true"
            continue
        if key not in names:
            raise IntrinsicError(f"property Cors.{key}: unknown property")
        headers[names[key]] = _unquote(item, f"Cors.{key}")
    if "Access-Control-Allow-Origin" not in headers:
        raise IntrinsicError("property Cors.AllowOrigin: required")
    return headers


def _unquote(value: Any, what: str) -> str:
    """SAM's CORS values are API Gateway literals, quoted: ``"'GET,POST'"`` is the text ``GET,POST``."""
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    if what.endswith("MaxAge") and text.isdigit():
        return text
    raise IntrinsicError(f"property {what}: must be a quoted string such as \"'{text}'\", as SAM wants it")


def binary_types(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IntrinsicError("property BinaryMediaTypes: must be a list of media types")
    return tuple(v.replace("~1", "/") for v in value)


def method_settings(value: Any) -> tuple[Throttle | None, dict[str, Throttle]]:
    if not isinstance(value, list):
        raise IntrinsicError("property MethodSettings: must be a list")
    default, routes = None, {}
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise IntrinsicError(f"property MethodSettings[{index}]: must be a map")
        throttle = throttle_of(item, f"MethodSettings[{index}]")
        if throttle is None:
            continue
        path = str(item.get("ResourcePath", "/*"))
        if path != "/*":          # "/~1orders": a separator, then the path with ~1 for each slash
            path = path[1:].replace("~1", "/") if path.startswith("/~1") else path.replace("~1", "/")
        method = str(item.get("HttpMethod", "*")).upper()
        if path == "/*" and method == "*":
            default = throttle
        else:
            key = f"{'ANY' if method == '*' else method} {path}"
            try:
                parse_route_key(key)
            except CumuloError as exc:
                raise IntrinsicError(f"property MethodSettings[{index}]: {exc.message}") from None
            routes[key] = throttle
    return default, routes


def _authorizer(name: str, spec: dict[str, Any]) -> Authorizer:
    where = f"property Auth.Authorizers.{name}"
    if "UserPoolArn" in spec:
        raise IntrinsicError(f"{where}: Cognito user pool authorizers are not supported (Cumulo has no Cognito "
                             "user pools); use a Lambda authorizer (FunctionArn)")
    if "FunctionArn" not in spec:
        raise IntrinsicError(f"{where}: needs FunctionArn (a Lambda authorizer)")
    kind = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
    identity = spec.get("Identity") or {}
    if not isinstance(identity, dict):
        raise IntrinsicError(f"{where}.Identity: must be a map")
    authorizer_id = hashlib.sha256(name.encode()).hexdigest()[:6]
    try:
        if kind == "TOKEN":
            header = str(identity.get("Header", "Authorization"))
            ttl = int(identity.get("ReauthorizeEvery", 300))
            return Authorizer(authorizer_id, name, "TOKEN", (f"$request.header.{header}",),
                              function=_function_name(str(spec["FunctionArn"])), payload_version="1.0",
                              ttl_seconds=ttl, validation=str(identity.get("ValidationExpression", "")))
        if kind == "REQUEST":
            sources = identity_sources(identity)
            ttl = int(identity.get("ReauthorizeEvery", 300)) if sources else 0
            return Authorizer(authorizer_id, name, "REQUEST", tuple(sources),
                              function=_function_name(str(spec["FunctionArn"])), payload_version="1.0",
                              ttl_seconds=ttl)
    except (CumuloError, ValueError, TypeError) as exc:
        raise IntrinsicError(f"{where}: {getattr(exc, 'message', str(exc))}") from None
    raise IntrinsicError(f"{where}.FunctionPayloadType: must be TOKEN or REQUEST, not {kind!r}")


def _function_name(arn: str) -> str:
    """A function's name (with its qualifier) from its ARN; a name stays a name."""
    if arn.startswith("arn:"):
        parts = arn.split(":")
        if len(parts) >= 7 and parts[5] == "function":
            return ":".join(parts[6:8]) if len(parts) > 7 else parts[6]
    return arn


def function_of_uri(uri: str) -> str | None:
    """The function (``name`` or ``name:qualifier``) a Lambda integration's URI invokes, or None."""
    m = _FUNCTION_URI.search(uri)
    if m is None:
        return None
    return m["name"] + (f":{m['qualifier']}" if m["qualifier"] else "")


def definition_routes(config: HttpApiConfig, body: dict[str, Any]) -> HttpApiConfig:
    """The routes of an OpenAPI definition's Lambda proxy integrations."""
    import dataclasses

    paths = body.get("paths", {})
    if not isinstance(paths, dict):
        raise IntrinsicError("property DefinitionBody.paths: must be a map")
    key_schemes = _api_key_schemes(body)
    routes: list[Route] = []
    cors = config.rest_cors
    for path, methods in paths.items():
        if not isinstance(methods, dict):
            raise IntrinsicError(f"property DefinitionBody.paths.{path}: must be a map")
        for method, operation in methods.items():
            if method.lower() not in _METHODS or not isinstance(operation, dict):
                continue
            verb = "ANY" if method.lower() == "x-amazon-apigateway-any-method" else method.upper()
            where = f"property DefinitionBody: {verb} {path}"
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                raise IntrinsicError(f"{where}: no x-amazon-apigateway-integration")
            kind = str(integration.get("type", "")).lower()
            if kind == "mock" and verb == "OPTIONS":
                cors = cors or _mock_cors(integration)
                continue
            function, fields = rest_integration(where, kind, integration.get("uri"), integration.get("httpMethod"),
                                                integration.get("requestParameters"), _openapi_aws(integration))
            needs_key = config.api_key_required or any(
                isinstance(req, dict) and set(req) & key_schemes for req in operation.get("security", []) or [])
            key = f"{verb} {path}"
            try:
                parse_route_key(key)
                routes.append(Route(key, function, "1.0", _timeout(integration), route_id=_route_id(config, key),
                                    api_key_required=needs_key, **fields))
            except CumuloError as exc:
                raise IntrinsicError(f"{where}: {exc.message}") from None
    return dataclasses.replace(config, routes=tuple(routes), rest_cors=cors)


def _openapi_aws(integration: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI ``x-amazon-apigateway-integration``'s credentials, templates and responses."""
    responses = integration.get("responses") or {}
    return {"credentials": integration.get("credentials"), "request_templates": integration.get("requestTemplates"),
            "passthrough": integration.get("passthroughBehavior"),
            "responses": [{"pattern": "" if key == "default" else str(key), "status": r.get("statusCode", 200),
                           "templates": r.get("responseTemplates") or {},
                           "headers": r.get("responseParameters") or {}}
                          for key, r in (responses.items() if isinstance(responses, dict) else ())
                          if isinstance(r, dict)]}


def cfn_aws(integration: dict[str, Any]) -> dict[str, Any]:
    """An ``AWS::ApiGateway::Method``'s ``Integration``: credentials, templates and responses."""
    responses = integration.get("IntegrationResponses") or []
    return {"credentials": integration.get("Credentials"), "request_templates": integration.get("RequestTemplates"),
            "passthrough": integration.get("PassthroughBehavior"),
            "responses": [{"pattern": str(r.get("SelectionPattern", "")), "status": r.get("StatusCode", 200),
                           "templates": r.get("ResponseTemplates") or {}, "headers": r.get("ResponseParameters") or {}}
                          for r in (responses if isinstance(responses, list) else []) if isinstance(r, dict)]}


def rest_integration(where: str, kind: str, uri: Any, method: Any, parameters: Any,
                     aws: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(function or '', the route's other integration fields) of a REST method's integration: ``aws_proxy`` to a
    function, or ``http_proxy`` to a URL whose ``{name}`` path parameters are filled from the method's
    (``integration.request.path.<name>: method.request.path.<other>`` renames them)."""
    given, kind = kind, kind.lower()
    if kind == "aws_proxy":
        function = function_of_uri(str(uri or ""))
        if function is not None:
            return function, {}
    if kind == "http_proxy":
        url = str(uri or "")
        for target, source in (parameters or {}).items() if isinstance(parameters, dict) else ():
            name, value = str(target), str(source)
            if name.startswith("integration.request.path.") and value.startswith("method.request.path."):
                url = url.replace("{" + name[len("integration.request.path."):] + "}",
                                  "{" + value[len("method.request.path."):] + "}")
        fields: dict[str, Any] = {"integration_type": "HTTP_PROXY", "integration_uri": url,
                  "integration_method": str(method or "ANY").upper()}
        try:
            check_integration("HTTP_PROXY", "", {}, url, fields["integration_method"])
        except CumuloError as exc:
            raise IntrinsicError(f"{where}: {exc.message}") from None
        return "", fields
    if kind == "mock" and aws is not None:      # answered from the integration responses (gateway/integrations.py)
        templates = aws.get("request_templates") or {}
        mapping = {"request_templates": {str(k): str(v) for k, v in map_of(templates, "requestTemplates").items()},
                   "passthrough": str(aws.get("passthrough") or "WHEN_NO_MATCH").upper(),
                   "responses": aws.get("responses") or []}
        fields = {"integration_type": "MOCK", "mapping": mapping}
        try:
            check_integration("MOCK", "", {}, "", "", mapping)
        except CumuloError as exc:
            raise IntrinsicError(f"{where}: {exc.message}") from None
        return "", fields
    if kind in ("aws", "http") and aws is not None:
        templates = aws.get("request_templates") or {}
        mapping = {"request_templates": {str(k): str(v) for k, v in map_of(templates, "requestTemplates").items()},
                   "passthrough": str(aws.get("passthrough") or "WHEN_NO_MATCH").upper(),
                   "responses": aws.get("responses") or []}
        fields = {"integration_type": kind.upper(), "integration_uri": str(uri or ""),
                  "credentials": str(aws.get("credentials") or ""), "mapping": mapping,
                  "request_parameters": {str(k): str(v) for k, v in map_of(parameters or {}, "requestParameters").items()}}
        if kind == "http":          # the backend request's method (ANY: the client's)
            fields["integration_method"] = str(method or "ANY").upper()
        try:
            check_integration(kind.upper(), "", fields["request_parameters"], fields["integration_uri"],
                              fields.get("integration_method", ""), mapping)
        except CumuloError as exc:
            raise IntrinsicError(f"{where}: {exc.message}") from None
        return (function_of_uri(fields["integration_uri"]) or "") if kind == "aws" else "", fields
    raise IntrinsicError(f"{where}: integration type {given or '?'} is not supported (Lambda proxy integrations, "
                         "type aws_proxy to a function, http_proxy, http and mock integrations and aws service "
                         "integrations are served)")


def _timeout(integration: dict[str, Any]) -> int:
    value = integration.get("timeoutInMillis")
    return min(int(value), REST_TIMEOUT_MS) if isinstance(value, (int, str)) and str(value).isdigit() \
        and int(value) >= 50 else REST_TIMEOUT_MS


def _api_key_schemes(body: dict[str, Any]) -> set[str]:
    schemes = {**(body.get("securityDefinitions") or {}), **((body.get("components") or {}).get("securitySchemes")
                                                            or {})}
    return {name for name, s in schemes.items() if isinstance(s, dict) and s.get("type") == "apiKey"
            and str(s.get("name", "")).lower() == "x-api-key"}


def _mock_cors(integration: dict[str, Any]) -> dict[str, str] | None:
    responses = integration.get("responses") or {}
    default = responses.get("default") if isinstance(responses, dict) else None
    params = default.get("responseParameters") if isinstance(default, dict) else None
    if not isinstance(params, dict):
        return None
    headers = {}
    for name, value in params.items():
        if str(name).startswith("method.response.header.") and isinstance(value, str) and len(value) >= 2 \
                and value[0] == value[-1] == "'":
            headers[str(name)[len("method.response.header."):]] = value[1:-1]
    return headers or None


def _route_id(config: HttpApiConfig, key: str) -> str:
    return hashlib.sha256(f"{config.logical_id} {key}".encode()).hexdigest()[:7]


def rest_route(props: dict[str, Any], function: str, config: HttpApiConfig) -> Route:
    """The method an ``Api`` event adds to its REST API."""
    method = str(props.get("Method", "any")).upper()
    method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
    path = props.get("Path")
    if path is None:
        raise IntrinsicError("Path is required for Api events")
    if isinstance(path, str) and len(path) > 1 and path.endswith("/") and not path.endswith("//"):
        path = path[:-1]        # API Gateway's resource: /items/ is the resource /items
    key = f"{method} {path}"
    parse_route_key(key)
    auth = props.get("Auth") or {}
    if not isinstance(auth, dict):
        raise IntrinsicError("Auth must be a map")
    options: dict[str, Any] = {"api_key_required": bool(auth.get("ApiKeyRequired", config.api_key_required))}
    name = auth.get("Authorizer", config.default_authorizer)
    if name == "AWS_IAM":
        raise IntrinsicError("Auth.Authorizer AWS_IAM: IAM authorization is not supported")
    if name not in (None, "NONE"):
        authorizer = config.authorizers.get(name)
        if authorizer is None:
            raise IntrinsicError(f"Auth.Authorizer '{name}' is not one of the API's Auth.Authorizers")
        options.update(authorization_type="CUSTOM", authorizer_id=authorizer.authorizer_id)
    return Route(key, function, "1.0", REST_TIMEOUT_MS, route_id=_route_id(config, key), **options)
