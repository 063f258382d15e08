"""HTTP APIs' integrations other than Lambda proxies, as templates write them: ``AWS::ApiGatewayV2::Integration``
and OpenAPI's ``x-amazon-apigateway-integration`` (an ``AWS::Serverless::HttpApi``'s ``DefinitionBody``).

- ``AWS_PROXY`` with an ``IntegrationSubtype`` (``SQS-SendMessage``, ``EventBridge-PutEvents``,
  ``StepFunctions-StartExecution`` …): ``RequestParameters`` and ``CredentialsArn`` (OpenAPI:
  ``integrationSubtype``, ``requestParameters``, ``credentials``), checked as CreateIntegration checks them;
- ``HTTP_PROXY``: ``IntegrationUri`` (``uri``) an http(s) URL, ``IntegrationMethod`` (``httpMethod``);
- ``AWS_PROXY`` to a function: its ARN or ``.../functions/<arn>/invocations``.

An OpenAPI definition's paths and methods (``x-amazon-apigateway-any-method`` is ``ANY``; the path ``$default``
is the ``$default`` route) become routes; ``x-amazon-apigateway-cors`` the API's CORS. Pure: resolved maps in,
routes out; faults are ``IntrinsicError``s naming the route.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from cumulo.deploy.api_common import HttpApiConfig, map_of
from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.rest_apis import function_of_uri
from cumulo.errors import CumuloError
from cumulo.gateway.model import INTEGRATION_TIMEOUT_MS, Route, check_integration
from cumulo.gateway.routing import parse_route_key

__all__ = ["integration_target", "openapi_routes", "function_of"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method")
_CORS_KEYS = {"alloworigins": "AllowOrigins", "allowmethods": "AllowMethods", "allowheaders": "AllowHeaders",
              "exposeheaders": "ExposeHeaders", "maxage": "MaxAge", "allowcredentials": "AllowCredentials"}


def function_of(uri: str) -> str | None:
    """The function (``name`` or ``name:qualifier``) a Lambda integration's URI or a function ARN names."""
    found = function_of_uri(uri)
    if found is not None:
        return found
    parts = uri.split(":")
    if uri.startswith("arn:") and len(parts) in (7, 8) and parts[5] == "function":
        return ":".join(parts[6:])
    return None


def integration_target(where: str, key: str, kind: str, subtype: Any, uri: Any, method: Any, parameters: Any,
                       credentials: Any, connection: Any = None) -> tuple[str, dict[str, Any]]:
    """What one HTTP API integration targets: (a function, or '' ; the route's service or HTTP proxy fields).
    Shared by ``AWS::ApiGatewayV2::Integration`` and OpenAPI's ``x-amazon-apigateway-integration``. A private
    integration (``connection`` ``VPC_LINK``) to a listener or Cloud Map ARN is refused: nothing here answers
    for it."""
    if str(connection or "INTERNET").upper() == "VPC_LINK" and not str(uri).startswith(("http://", "https://")):
        raise IntrinsicError(f"{where}: route {key}: ConnectionType VPC_LINK reaches {uri!r}, a load balancer's "
                             "listener or a Cloud Map service in a VPC, which Cumulo cannot reach (it has no VPCs): "
                             "the route would have no backend. Give the route an HTTP_PROXY integration to an "
                             "http(s) URL that answers from this machine")
    kind = kind.upper()
    if kind == "AWS_PROXY" and subtype:
        fields = {"integration_subtype": str(subtype), "credentials": "" if credentials is None else str(credentials),
                  "request_parameters": {str(k): _parameter(v) for k, v in
                                         map_of(parameters or {}, "RequestParameters").items()}}
        _check(where, key, fields)
        return "", fields
    if kind == "HTTP_PROXY":
        fields = {"integration_type": "HTTP_PROXY", "integration_uri": str(uri or ""),
                  "integration_method": str(method or "ANY").upper()}
        if parameters:
            fields["request_parameters"] = {str(k): _parameter(v) for k, v in map_of(parameters, "RequestParameters").items()}
        _check(where, key, fields)
        return "", fields
    function = function_of(str(uri or "")) if kind == "AWS_PROXY" else None
    if function is None:
        detail = f"{kind or '?'}" + (f" ({subtype})" if subtype else "")
        raise IntrinsicError(f"{where}: route {key}: integration type {detail} is not supported (Lambda proxy "
                             "integrations to a function, AWS_PROXY service integrations with an IntegrationSubtype, "
                             "and HTTP_PROXY integrations are served)")
    return function, {}


def _parameter(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _check(where: str, key: str, fields: dict[str, Any]) -> None:
    try:
        check_integration(fields.get("integration_type", "AWS_PROXY"), fields.get("integration_subtype", ""),
                          fields.get("request_parameters", {}), fields.get("integration_uri", ""),
                          fields.get("integration_method", ""))
    except CumuloError as exc:
        raise IntrinsicError(f"{where}: route {key}: {exc.message}") from None


def openapi_routes(config: HttpApiConfig, body: dict[str, Any]) -> HttpApiConfig:
    """An HTTP API's configuration with the routes (and CORS) of its OpenAPI ``DefinitionBody``."""
    paths = body.get("paths", {})
    if not isinstance(paths, dict):
        raise IntrinsicError("property DefinitionBody.paths: must be a map")
    routes: list[Route] = []
    for path, methods in paths.items():
        if not isinstance(methods, dict):
            raise IntrinsicError(f"property DefinitionBody.paths.{path}: must be a map")
        for method, operation in methods.items():
            if method.lower() not in _METHODS or not isinstance(operation, dict):
                continue
            verb = "ANY" if method.lower() == "x-amazon-apigateway-any-method" else method.upper()
            key = "$default" if path == "$default" else f"{verb} {path}"
            where = f"property DefinitionBody: {key}"
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                raise IntrinsicError(f"{where}: no x-amazon-apigateway-integration")
            function, fields = integration_target(
                where, key, str(integration.get("type", "")), integration.get("integrationSubtype"),
                integration.get("uri"), integration.get("httpMethod"), integration.get("requestParameters"),
                integration.get("credentials"), integration.get("connectionType"))
            version = str(integration.get("payloadFormatVersion", "2.0" if function else "1.0"))
            timeout = integration.get("timeoutInMillis", INTEGRATION_TIMEOUT_MS)
            try:
                parse_route_key(key)
                routes.append(Route(key, function, version, int(timeout),
                                    route_id=hashlib.sha256(f"{config.logical_id} {key}".encode()).hexdigest()[:7],
                                    **fields))
            except (CumuloError, ValueError, TypeError) as exc:
                raise IntrinsicError(f"{where}: {getattr(exc, 'message', str(exc))}") from None
    cors = config.cors
    found = body.get("x-amazon-apigateway-cors")
    if cors is None and isinstance(found, dict):
        cors = {_CORS_KEYS.get(str(k).lower(), str(k)): v for k, v in found.items()}
    return dataclasses.replace(config, routes=(*config.routes, *routes), cors=cors)
