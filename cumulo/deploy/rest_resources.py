"""REST APIs written as plain CloudFormation: ``AWS::ApiGateway::RestApi``, ``Resource``, ``Method``,
``Deployment``, ``Stage`` and ``Authorizer`` (as people write them by hand or ``cdk synth`` emits them).

They are assembled into the same configuration an ``AWS::Serverless::Api`` gives (``deploy/rest_apis.py``):

- a ``RestApi`` is an API (``Name``, ``Description``, ``BinaryMediaTypes``; a ``Body`` OpenAPI
  definition is read as ``DefinitionBody`` is); ``Ref`` its id, ``RootResourceId`` its ``/``;
- ``Resource``s build paths from ``ParentId`` and ``PathPart`` (``{id}``, ``{proxy+}``);
- a ``Method`` (``HttpMethod``, ``ANY`` included) is a route when its ``Integration`` is ``AWS_PROXY`` to
  a function's ``.../functions/<arn>/invocations``; a ``MOCK`` ``OPTIONS`` method's integration
  response headers are the API's CORS answer; ``AuthorizationType`` ``NONE`` or ``CUSTOM`` (with
  ``AuthorizerId``), ``ApiKeyRequired``; an ``HTTP_PROXY`` integration forwards to its ``Uri``
  (``IntegrationHttpMethod``; ``ConnectionType: VPC_LINK`` too: Cumulo has no VPCs, the ``Uri`` is called);
  ``MOCK`` (other methods: answered from the integration responses), ``AWS`` (service or non-proxy Lambda)
  and ``HTTP`` (non-proxy) integrations
  carry ``RequestParameters``, ``RequestTemplates``, ``PassthroughBehavior`` and ``IntegrationResponses``
  (docs/gateway.md, Integrations). ``AWS_IAM`` and Cognito authorization are refused, naming the method: its
  requests could not be answered as on AWS;
- ``Authorizer``s of type ``TOKEN`` and ``REQUEST`` (``AuthorizerUri``, ``IdentitySource``,
  ``IdentityValidationExpression``, ``AuthorizerResultTtlInSeconds``);
- the stage: a ``Stage``'s ``StageName`` (with ``Variables`` and ``MethodSettings``' throttles), else a
  ``Deployment``'s ``StageName``. An API with several stages is served on the first, with a note.

Pure: resolved property maps in, ``HttpApiConfig``s out; faults are ``IntrinsicError``s naming the
resource.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from cumulo.deploy.api_common import HttpApiConfig, map_of
from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.rest_apis import (
    REST_TIMEOUT_MS, binary_types, definition_routes, function_of_uri, method_settings, rest_integration, cfn_aws,
)
from cumulo.errors import CumuloError
from cumulo.gateway.model import Authorizer, Route
from cumulo.gateway.routing import parse_route_key

__all__ = ["RAW_TYPES", "raw_ids", "raw_rest_apis"]

REST_API = "AWS::ApiGateway::RestApi"
RESOURCE = "AWS::ApiGateway::Resource"
METHOD = "AWS::ApiGateway::Method"
DEPLOYMENT = "AWS::ApiGateway::Deployment"
STAGE = "AWS::ApiGateway::Stage"
AUTHORIZER = "AWS::ApiGateway::Authorizer"
# Accepted with a note: they change nothing a Lambda proxy method answers here.
NOTED = {"AWS::ApiGateway::Model": "request models are not validated",
         "AWS::ApiGateway::RequestValidator": "requests are not validated",
         "AWS::ApiGateway::GatewayResponse": "the gateway answers its own errors as API Gateway does by default"}
RAW_TYPES = (REST_API, RESOURCE, METHOD, DEPLOYMENT, STAGE, AUTHORIZER, *NOTED)


def _short(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]


def raw_ids(stack: str, logical_id: str, kind: str, api_id: str) -> dict[str, str]:
    """What ``Ref`` and ``!GetAtt`` answer for one raw resource (``api_id``: a RestApi's id)."""
    if kind == REST_API:
        return {"Ref": api_id, "RootResourceId": _short(api_id, "/")}
    if kind == STAGE:
        return {}                               # Ref is its StageName, known once read
    return {"Ref": _short(stack, logical_id)[: 6 if kind == AUTHORIZER else 10]}


def raw_rest_apis(stack: str, entries: list[tuple[str, str, dict[str, Any]]],
                  api_id_for: Any) -> dict[str, HttpApiConfig]:
    """The configurations of a template's raw REST APIs: ``entries`` are (logical id, type, properties)."""
    apis: dict[str, tuple[str, dict[str, Any]]] = {}          # api id -> (logical id, props)
    paths: dict[str, tuple[str, str]] = {}                    # resource id -> (api id, path)
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, kind, props in entries:
        by_type.setdefault(kind, []).append((logical_id, props))
    for logical_id, props in by_type.get(REST_API, []):
        api_id = api_id_for(stack, logical_id)
        apis[api_id] = (logical_id, props)
        paths[raw_ids(stack, logical_id, REST_API, api_id)["RootResourceId"]] = (api_id, "")
    pending = list(by_type.get(RESOURCE, []))
    while pending:                                            # parents before children, in any order
        left = []
        for logical_id, props in pending:
            parent = str(props.get("ParentId", ""))
            if parent in paths:
                api_id, base = paths[parent]
                paths[raw_ids(stack, logical_id, RESOURCE, "")["Ref"]] = (api_id, f"{base}/{props.get('PathPart', '')}")
            else:
                left.append((logical_id, props))
        if len(left) == len(pending):
            raise IntrinsicError(f"Resource {left[0][0]}: ParentId must be a resource or a RestApi's RootResourceId "
                                 "of this template")
        pending = left
    authorizers = {raw_ids(stack, lid, AUTHORIZER, "")["Ref"]: _authorizer(lid, props, stack)
                   for lid, props in by_type.get(AUTHORIZER, [])}
    routes: dict[str, list[Route]] = {api_id: [] for api_id in apis}
    cors: dict[str, dict[str, str]] = {}
    for logical_id, props in by_type.get(METHOD, []):
        where = f"Resource {logical_id}"
        resource = str(props.get("ResourceId", ""))
        if resource not in paths:
            raise IntrinsicError(f"{where}: ResourceId must be a resource or RootResourceId of this template")
        api_id, path = paths[resource]
        path = path or "/"
        verb = str(props.get("HttpMethod", "")).upper()
        integration = props.get("Integration") or {}
        if not isinstance(integration, dict):
            raise IntrinsicError(f"{where}: Integration must be a map")
        kind = str(integration.get("Type", "")).upper()
        if kind == "MOCK" and verb == "OPTIONS":
            headers = _mock_headers(integration)
            if headers:
                cors.setdefault(api_id, headers)
            continue
        function, fields = rest_integration(f"{where}: {verb} {path}", kind, integration.get("Uri"),
                                            integration.get("IntegrationHttpMethod"),
                                            integration.get("RequestParameters"), cfn_aws(integration))
        auth = str(props.get("AuthorizationType", "NONE")).upper()
        options: dict[str, Any] = {"api_key_required": bool(props.get("ApiKeyRequired", False))}
        if auth == "CUSTOM":
            authorizer = str(props.get("AuthorizerId", ""))
            if authorizer not in authorizers:
                raise IntrinsicError(f"{where}: AuthorizerId must name an AWS::ApiGateway::Authorizer of this template")
            options.update(authorization_type="CUSTOM", authorizer_id=authorizer)
        elif auth != "NONE":
            raise IntrinsicError(f"{where}: AuthorizationType {auth} is not supported (NONE or CUSTOM, a Lambda "
                                 "authorizer)")
        key = f"{verb} {path}"
        try:
            parse_route_key(key)
            routes[api_id].append(Route(key, function, "1.0", _timeout(integration), route_id=_short(api_id, key)[:7],
                                        **options, **fields))
        except CumuloError as exc:
            raise IntrinsicError(f"{where}: {exc.message}") from None
    stages = _stages(stack, by_type, apis)
    configs = {}
    for api_id, (logical_id, props) in apis.items():
        notes = [f"{t.rsplit('::', 1)[1]} {lid} ignored: {NOTED[t]}" for t in NOTED for lid, _ in by_type.get(t, [])]
        names = stages.get(api_id, [])
        if not names:
            raise IntrinsicError(f"Resource {logical_id}: no AWS::ApiGateway::Stage or Deployment with a StageName "
                                 "deploys this API")
        if len(names) > 1:
            notes.append(f"served on its stage {names[0][0]} only (also declared: "
                         f"{', '.join(n for n, _ in names[1:])})")
        stage, stage_props = names[0]
        default_throttle, route_throttles = method_settings(stage_props.get("MethodSettings", []))
        used = {r.authorizer_id for r in routes[api_id]}
        config = HttpApiConfig(
            logical_id, stage, {str(k): str(v) for k, v in map_of(stage_props.get("Variables", {}),
                                                                    "Variables").items()},
            None, {a.name: a for a_id, a in authorizers.items() if a_id in used}, None, default_throttle,
            route_throttles, str(props.get("Description", "")), None if props.get("Name") is None
            else str(props["Name"]), tuple(notes), protocol="REST", rest_cors=cors.get(api_id),
            binary_media_types=binary_types(props.get("BinaryMediaTypes") or []),
            tracing=stage_props.get("TracingEnabled") is True or str(stage_props.get("TracingEnabled")).lower() == "true")
        if props.get("Body") is not None:
            config = definition_routes(config, map_of(props["Body"], "Body"))
        if "BodyS3Location" in props:
            raise IntrinsicError(f"Resource {logical_id}: BodyS3Location is not read (inline the definition as Body)")
        configs[logical_id] = dataclasses.replace(config, routes=(*config.routes, *routes[api_id]))
    return configs


def _stages(stack: str, by_type: dict[str, list[tuple[str, dict[str, Any]]]],
            apis: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    stages: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for kind in (STAGE, DEPLOYMENT):
        for logical_id, props in by_type.get(kind, []):
            api_id, name = str(props.get("RestApiId", "")), props.get("StageName")
            if api_id not in apis:
                raise IntrinsicError(f"Resource {logical_id}: RestApiId must be a !Ref to an AWS::ApiGateway::RestApi "
                                     "of this template")
            if name is None or any(n == str(name) for n, _ in stages.get(api_id, [])):
                continue
            described = props.get("StageDescription") or {}
            stages.setdefault(api_id, []).append((str(name), props if kind == STAGE else
                                                  {"Variables": map_of(described, "StageDescription").get("Variables",
                                                                                                           {}),
                                                   "TracingEnabled": described.get("TracingEnabled")}))
    return stages


def _authorizer(logical_id: str, props: dict[str, Any], stack: str) -> Authorizer:
    where = f"Resource {logical_id}"
    kind = str(props.get("Type", "")).upper()
    if kind not in ("TOKEN", "REQUEST"):
        raise IntrinsicError(f"{where}: authorizer Type {kind or '?'} is not supported (TOKEN or REQUEST, a Lambda "
                             "authorizer; Cumulo has no Cognito user pools)")
    function = function_of_uri(str(props.get("AuthorizerUri", "")))
    if function is None:
        raise IntrinsicError(f"{where}: AuthorizerUri must invoke a function (.../functions/<arn>/invocations)")
    sources = []
    for source in str(props.get("IdentitySource", "method.request.header.Authorization" if kind == "TOKEN" else ""
                                )).split(","):
        source = source.strip()
        if not source:
            continue
        for prefix, ours in (("method.request.header.", "$request.header."),
                             ("method.request.querystring.", "$request.querystring."),
                             ("stageVariables.", "$stageVariables."), ("context.", "$context.")):
            if source.startswith(prefix):
                sources.append(ours + source[len(prefix):])
                break
        else:
            raise IntrinsicError(f"{where}: IdentitySource {source!r} is not method.request.header.<name>, "
                                 "method.request.querystring.<name>, stageVariables.<name> or context.<name>")
    ttl = props.get("AuthorizerResultTtlInSeconds", 300)
    try:
        return Authorizer(_short(stack, logical_id)[:6], str(props.get("Name", logical_id)), kind, tuple(sources),
                          function=function, payload_version="1.0", ttl_seconds=int(ttl) if sources else 0,
                          validation=str(props.get("IdentityValidationExpression", "")))
    except (CumuloError, ValueError, TypeError) as exc:
        raise IntrinsicError(f"{where}: {getattr(exc, 'message', str(exc))}") from None


def _timeout(integration: dict[str, Any]) -> int:
    value = str(integration.get("TimeoutInMillis"))
    return min(int(value), REST_TIMEOUT_MS) if value.isdigit() and int(value) >= 50 else REST_TIMEOUT_MS


def _mock_headers(integration: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for response in integration.get("IntegrationResponses") or []:
        params = response.get("ResponseParameters") if isinstance(response, dict) else None
        for name, value in (params or {}).items():
            if str(name).startswith("method.response.header.") and isinstance(value, str) and len(value) >= 2 \
                    and value[0] == value[-1] == "'":
                headers[str(name)[len("method.response.header."):]] = value[1:-1]
    return headers
