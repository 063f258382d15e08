"""HTTP APIs as resources: an API, its routes (each with a Lambda proxy integration) and stages.

AWS's apigatewayv2 splits a route's target into a separate Integration resource;
here each route carries its integration directly (function, payload format,
timeout), which is what a Lambda proxy route always is. ``HttpApi`` is
immutable: changing an API stores a new value, and the gateway rebuilds its
route table from it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from cumulo.errors import CumuloError, InvalidParameterValueException, ValidationException
from cumulo.gateway.vtl import VtlError, check as check_template

__all__ = ["check_ws_route_key", "check_route_selection", "BadRequestException", "NotFoundException", "ConflictException", "HttpApi", "Route", "Stage", "Integration", "Authorizer", "Throttle", "new_api_id", "DEFAULT_STAGE", "SUBTYPE_PARAMETERS", "check_integration", "AWS_INTEGRATION_URI",
           "INTEGRATION_TIMEOUT_MS"]

DEFAULT_STAGE = "$default"
INTEGRATION_TIMEOUT_MS = 30_000          # AWS's default and maximum for HTTP APIs
_ID_ALPHABET = string.ascii_lowercase + string.digits
_STAGE_RE = re.compile(r"^(\$default|[a-zA-Z0-9_-]{1,128})$")
_NAME_RE = re.compile(r"^.{1,128}$", re.S)
_AUTHORIZATION_TYPES = ("NONE", "JWT", "CUSTOM")
# Where authorizers find identities (selection expressions of HTTP APIs).
IDENTITY_SOURCE_RE = re.compile(r"^\$(request\.header|request\.querystring|context|stageVariables)\.([A-Za-z0-9_.:-]+)$")
# ... and of WebSocket APIs' authorizers (on $connect): route.request.header.Auth, route.request.querystring.token
WS_IDENTITY_SOURCE_RE = re.compile(r"^(route\.request\.header|route\.request\.querystring|context|stageVariables)"
                                   r"\.([A-Za-z0-9_.:-]+)$")
# WebSocket route keys: $connect, $disconnect, $default, or a value the route selection expression yields
WS_ROUTE_KEY_RE = re.compile(r"^(\$connect|\$disconnect|\$default|[^$\s][^\s]{0,127})$")
# RouteSelectionExpression of WebSocket APIs: a JSON property of the message's body
ROUTE_SELECTION_RE = re.compile(r"^(\$request\.body\.([A-Za-z0-9_.-]+)|\$\{request\.body\.([A-Za-z0-9_.-]+)\})$")


class BadRequestException(CumuloError):
    """API Gateway's name for a parameter it cannot accept."""

    status = 400


class NotFoundException(CumuloError):
    status = 404


class ConflictException(CumuloError):
    status = 409


def check_identity_source(source: str) -> None:
    if isinstance(source, str) and WS_IDENTITY_SOURCE_RE.match(source):
        return
    if not isinstance(source, str) or not IDENTITY_SOURCE_RE.match(source):
        raise BadRequestException(
            f"Invalid identity source {source!r}: use $request.header.<name>, $request.querystring.<name>, "
            "$context.<name> or $stageVariables.<name> (WebSocket APIs: route.request.header.<name>, "
            "route.request.querystring.<name>)")


def check_ws_route_key(route_key: str) -> None:
    """A WebSocket API's route key: ``$connect``, ``$disconnect``, ``$default`` or a selection value."""
    if not isinstance(route_key, str) or not WS_ROUTE_KEY_RE.match(route_key):
        raise BadRequestException(f"Invalid WebSocket route key {route_key!r}: $connect, $disconnect, $default, or "
                                  "a value of the route selection expression (1-128 characters, no spaces)")


def check_route_selection(expression: str) -> None:
    if not ROUTE_SELECTION_RE.match(expression or ""):
        raise BadRequestException(f"Invalid RouteSelectionExpression {expression!r}: $request.body.<property> "
                                  "(for example $request.body.action) is supported")


# HTTP APIs' first-class service integrations (AWS_PROXY with an IntegrationSubtype): each subtype's
# request parameters, required ones first (AWS's "Integration subtype reference"). "Region" is accepted
# everywhere (there is one region here).
SUBTYPE_PARAMETERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "EventBridge-PutEvents": (("Detail", "DetailType", "Source"), ("Time", "EventBusName", "Resources", "TraceHeader")),
    "SQS-SendMessage": (("QueueUrl", "MessageBody"), ("DelaySeconds", "MessageAttributes", "MessageDeduplicationId",
                                                      "MessageGroupId", "MessageSystemAttributes")),
    "SQS-ReceiveMessage": (("QueueUrl",), ("AttributeNames", "MaxNumberOfMessages", "MessageAttributeNames",
                                           "ReceiveRequestAttemptId", "VisibilityTimeout", "WaitTimeSeconds")),
    "SQS-DeleteMessage": (("QueueUrl", "ReceiptHandle"), ()),
    "SQS-PurgeQueue": (("QueueUrl",), ()),
    "StepFunctions-StartExecution": (("StateMachineArn",), ("Name", "Input")),
    "StepFunctions-StartSyncExecution": (("StateMachineArn",), ("Name", "Input", "TraceHeader")),
    "StepFunctions-StopExecution": (("ExecutionArn",), ("Cause", "Error")),
}
_UNSERVED_SUBTYPES = ("AppConfig-GetConfiguration", "Kinesis-PutRecord")
_HTTP_METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


# REST APIs' AWS service integrations: arn:aws:apigateway:<region>:<service>:(path|action)/<rest>
# (the region is not checked: one region here; templates that forgot !Sub write ${AWS::Region} literally)
AWS_INTEGRATION_URI = re.compile(r"^arn:aws[a-z-]*:apigateway:(?:\$\{AWS::Region\}|[^:]*):(?P<service>[a-z0-9-]+):"
                                 r"(?P<kind>path|action)/(?P<rest>.+)$")
AWS_INTEGRATION_SERVICES = ("sqs", "events", "states", "dynamodb", "kinesis", "lambda")     # lambda: .../functions/<arn>/invocations
_PASSTHROUGH = ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER")


def check_integration(kind: str, subtype: str, parameters: dict[str, str], uri: str, method: str,
                      mapping: dict[str, Any] | None = None) -> None:
    """Refuse an integration API Gateway would refuse (CreateIntegration's checks), or one Cumulo cannot serve."""
    if kind not in ("AWS_PROXY", "HTTP_PROXY", "AWS", "HTTP", "MOCK"):
        raise BadRequestException(f"IntegrationType {kind!r} is not supported (AWS_PROXY, HTTP_PROXY, AWS, HTTP or "
                                  "MOCK)")
    if not isinstance(parameters, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in parameters.items()):
        raise BadRequestException("RequestParameters must map names to strings")
    if kind == "AWS":
        _check_aws(uri, parameters, mapping or {})
        return
    if kind == "MOCK":           # REST APIs' answer from the integration responses alone (no backend)
        _check_mapping(parameters, mapping or {})
        return
    if kind == "HTTP":           # REST APIs' non-proxy HTTP integration: a URL, with the AWS type's mappings
        if not uri.startswith(("http://", "https://")) or len(uri) > 2048:
            raise BadRequestException(f"Uri of an HTTP integration must be an http(s) URL, not {uri!r}")
        if method.upper() not in _HTTP_METHODS:
            raise BadRequestException(f"IntegrationHttpMethod {method!r} is not an HTTP method")
        _check_mapping(parameters, mapping or {})
        return
    if kind == "HTTP_PROXY":
        if subtype:
            raise BadRequestException("IntegrationSubtype applies to AWS_PROXY integrations only")
        if not uri.startswith(("http://", "https://")) or len(uri) > 2048:
            raise BadRequestException(f"IntegrationUri of an HTTP_PROXY integration must be an http(s) URL, not {uri!r}")
        if method.upper() not in _HTTP_METHODS:
            raise BadRequestException(f"IntegrationMethod {method!r} is not an HTTP method")
        if parameters:
            raise BadRequestException("RequestParameters of HTTP_PROXY integrations (append/overwrite/remove) are not "
                                      "supported")
        return
    if not subtype:
        if parameters:
            raise BadRequestException("RequestParameters of a Lambda proxy integration are not supported")
        return
    if subtype in _UNSERVED_SUBTYPES:
        raise BadRequestException(f"IntegrationSubtype {subtype} is not served by Cumulo")
    if subtype not in SUBTYPE_PARAMETERS:
        raise BadRequestException(f"IntegrationSubtype {subtype!r} is not valid (one of "
                                  f"{', '.join(sorted(SUBTYPE_PARAMETERS))})")
    required, optional = SUBTYPE_PARAMETERS[subtype]
    for name in required:
        if name not in parameters:
            raise BadRequestException(f"RequestParameters of {subtype} must include {name}")
    for name in parameters:
        if name not in required and name not in optional and name != "Region":
            raise BadRequestException(f"RequestParameters of {subtype} has no parameter {name!r} (it takes "
                                      f"{', '.join((*required, *optional, 'Region'))})")


def _check_aws(uri: str, parameters: dict[str, str], mapping: dict[str, Any]) -> None:
    m = AWS_INTEGRATION_URI.match(uri)
    if m is None:
        raise BadRequestException(f"Uri of an AWS integration must be arn:aws:apigateway:<region>:<service>:path/... or "
                                  f":action/..., not {uri!r}")
    if m["service"] not in AWS_INTEGRATION_SERVICES:
        raise BadRequestException(f"AWS integrations with {m['service']} are not served by Cumulo (sqs, events, "
                                  "states, dynamodb, kinesis and lambda are)")
    if m["service"] not in ("sqs", "lambda") and m["kind"] != "action":
        raise BadRequestException(f"An AWS integration with {m['service']} names its action (:{m['service']}:action/"
                                  f"<Action>), not a path: {uri!r}")
    if m["service"] == "lambda" and not re.match(r"^[^/]+/functions/arn:[^/]+:function:[^/]+/invocations$",
                                                 m["rest"]):
        raise BadRequestException(f"A Lambda (non-proxy) integration's Uri must end in .../functions/<function ARN>/"
                                  f"invocations, not {uri!r}")
    _check_mapping(parameters, mapping)


def _check_mapping(parameters: dict[str, str], mapping: dict[str, Any]) -> None:
    """A non-proxy integration's (AWS or HTTP) request parameters, templates and integration responses."""
    for target, source in parameters.items():
        if not re.match(r"^integration\.request\.(header|querystring|path)\.[^.\s]+$", target):
            raise BadRequestException(f"RequestParameters key {target!r} must be integration.request.(header|"
                                      "querystring|path).<name>")
        if not (re.match(r"^'.*'$", source, re.S) or re.match(
                r"^(method\.request\.(header|querystring|path|multivalueheader|multivaluequerystring)\.[^\s]+|"
                r"context\.[A-Za-z0-9_.]+|stageVariables\.[A-Za-z0-9_]+)$", source)):
            raise BadRequestException(f"RequestParameters value {source!r} must be a 'quoted' static value, "
                                      "method.request.<where>.<name>, context.<name> or stageVariables.<name>")
    passthrough = str(mapping.get("passthrough", "WHEN_NO_MATCH")).upper()
    if passthrough not in _PASSTHROUGH:
        raise BadRequestException(f"PassthroughBehavior must be one of {', '.join(_PASSTHROUGH)}")
    templates = [*mapping.get("request_templates", {}).values()] + [
        t for r in mapping.get("responses", []) for t in r.get("templates", {}).values()]
    for template in templates:
        if not isinstance(template, str):
            raise BadRequestException("Mapping templates must be strings")
        try:
            check_template(template)
        except VtlError as exc:
            raise BadRequestException(str(exc)) from None
    for response in mapping.get("responses", []):
        try:
            re.compile(str(response.get("pattern", "")))
        except re.error:
            raise BadRequestException(f"SelectionPattern {response.get('pattern')!r} is not a regular expression") \
                from None


def new_api_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class Route:
    route_key: str                     # "GET /items/{id}", "ANY /{proxy+}", "$default"
    function: str                      # function name, optionally "name:qualifier"
    payload_version: str = "2.0"
    timeout_ms: int = INTEGRATION_TIMEOUT_MS
    route_id: str = field(default_factory=new_api_id)
    integration_id: str = ""
    authorization_type: str = "NONE"   # NONE | JWT | CUSTOM
    authorizer_id: str = ""
    authorization_scopes: tuple[str, ...] = ()
    api_key_required: bool = False
    route_response: bool = False       # WebSocket: the integration's answer is sent back to the client
    # What the route integrates with besides a function (docs/gateway.md, Integrations):
    # AWS_PROXY with a subtype is a service action (SQS-SendMessage, ...); HTTP_PROXY forwards to a URL.
    integration_type: str = "AWS_PROXY"
    integration_subtype: str = ""
    request_parameters: dict[str, str] = field(default_factory=dict)
    credentials: str = ""              # the role API Gateway assumes to call the service (CredentialsArn)
    integration_uri: str = ""          # HTTP_PROXY: the backend's URL, {name} filled from path parameters
    integration_method: str = ""       # HTTP_PROXY: the backend request's method (ANY: the client's)
    # AWS (REST APIs' service integrations): requestTemplates, passthroughBehavior and the integration responses
    mapping: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_integration(self.integration_type, self.integration_subtype, self.request_parameters,
                          self.integration_uri, self.integration_method, self.mapping)
        if self.payload_version not in ("1.0", "2.0"):
            raise ValidationException(f"PayloadFormatVersion must be 1.0 or 2.0, not {self.payload_version!r}")
        if not 50 <= self.timeout_ms <= INTEGRATION_TIMEOUT_MS:
            raise ValidationException(f"TimeoutInMillis must be between 50 and {INTEGRATION_TIMEOUT_MS}")
        if self.authorization_type not in _AUTHORIZATION_TYPES:
            raise BadRequestException(f"AuthorizationType must be NONE, JWT or CUSTOM, not {self.authorization_type!r}"
                                      + (" (IAM authorization is not supported)" if self.authorization_type == "AWS_IAM"
                                         else ""))
        if self.authorization_type != "NONE" and not self.authorizer_id:
            raise BadRequestException(f"AuthorizationType {self.authorization_type} needs an AuthorizerId")
        if self.authorization_scopes and self.authorization_type != "JWT":
            raise BadRequestException("AuthorizationScopes apply to JWT authorizers only")


@dataclass(frozen=True)
class Throttle:
    """A steady rate (requests per second) and a burst (the bucket's size)."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not 0 <= self.rate < 1e12:
            raise BadRequestException("ThrottlingRateLimit must be a number >= 0")
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 0:
            raise BadRequestException("ThrottlingBurstLimit must be an integer >= 0")


@dataclass(frozen=True)
class Integration:
    """A Lambda proxy integration (apigatewayv2 keeps it apart from routes)."""

    integration_id: str
    function: str
    payload_version: str = "2.0"
    timeout_ms: int = INTEGRATION_TIMEOUT_MS
    integration_type: str = "AWS_PROXY"        # as Route's: a subtype's service action, or HTTP_PROXY
    integration_subtype: str = ""
    request_parameters: dict[str, str] = field(default_factory=dict)
    credentials: str = ""
    integration_uri: str = ""
    integration_method: str = ""

    def route_fields(self) -> dict[str, Any]:
        """What a route targeting this integration carries of it."""
        return {"function": self.function, "payload_version": self.payload_version, "timeout_ms": self.timeout_ms,
                "integration_type": self.integration_type, "integration_subtype": self.integration_subtype,
                "request_parameters": dict(self.request_parameters), "credentials": self.credentials,
                "integration_uri": self.integration_uri, "integration_method": self.integration_method}


@dataclass(frozen=True)
class Authorizer:
    authorizer_id: str
    name: str
    kind: str                                  # JWT | REQUEST
    identity_sources: tuple[str, ...] = ("$request.header.Authorization",)
    issuer: str = ""                           # JWT
    audiences: tuple[str, ...] = ()            # JWT
    jwks_uri: str = ""                         # JWT: http(s):// or file://
    function: str = ""                         # REQUEST (Lambda authorizer)
    payload_version: str = "2.0"
    simple_responses: bool = False
    ttl_seconds: int = 0
    validation: str = ""                       # TOKEN (REST APIs): a regular expression the token must match

    def __post_init__(self) -> None:
        if self.kind not in ("JWT", "REQUEST", "TOKEN"):
            raise BadRequestException("AuthorizerType must be JWT, REQUEST or TOKEN")
        if not 1 <= len(self.name) <= 128:
            raise BadRequestException("Authorizer name must be 1-128 characters")
        for source in self.identity_sources:
            check_identity_source(source)
        if self.kind == "JWT":
            if not self.issuer or not self.audiences:
                raise BadRequestException("A JWT authorizer needs JwtConfiguration with an Issuer and an Audience")
            if len(self.identity_sources) != 1:
                raise BadRequestException("A JWT authorizer takes exactly one identity source")
            if self.jwks_uri and not self.jwks_uri.startswith(("https://", "http://", "file://")):
                raise BadRequestException("JwksUri must be an https://, http:// or file:// URL")
        else:
            if not self.function:
                raise BadRequestException(f"A {self.kind} authorizer needs an AuthorizerUri naming a function")
            if self.kind == "TOKEN" and (len(self.identity_sources) != 1
                                         or not self.identity_sources[0].startswith("$request.header.")):
                raise BadRequestException("A TOKEN authorizer takes exactly one header as its identity source")
            if self.validation:
                try:
                    re.compile(self.validation)
                except re.error:
                    raise BadRequestException(f"IdentityValidationExpression {self.validation!r} is not a valid "
                                              "regular expression") from None
            if self.payload_version not in ("1.0", "2.0"):
                raise BadRequestException("AuthorizerPayloadFormatVersion must be 1.0 or 2.0")
            if self.simple_responses and self.payload_version != "2.0":
                raise BadRequestException("EnableSimpleResponses needs AuthorizerPayloadFormatVersion 2.0")
            if isinstance(self.ttl_seconds, bool) or not isinstance(self.ttl_seconds, int) \
                    or not 0 <= self.ttl_seconds <= 3600:
                raise BadRequestException("AuthorizerResultTtlInSeconds must be between 0 and 3600")
            if self.ttl_seconds and not self.identity_sources:
                raise BadRequestException("Caching (AuthorizerResultTtlInSeconds > 0) needs an identity source")


@dataclass(frozen=True)
class Stage:
    name: str = DEFAULT_STAGE
    variables: dict[str, str] = field(default_factory=dict)
    default_throttle: Throttle | None = None
    route_throttles: dict[str, Throttle] = field(default_factory=dict)   # route key -> throttle
    tracing: bool = False           # REST: the stage's TracingEnabled (X-Ray segments, docs/traces.md)

    def __post_init__(self) -> None:
        if not _STAGE_RE.match(self.name):
            raise ValidationException(f"Stage name {self.name!r} must be $default or 1-128 of [a-zA-Z0-9_-]")


@dataclass(frozen=True)
class HttpApi:
    api_id: str
    name: str
    routes: tuple[Route, ...] = ()
    stages: tuple[Stage, ...] = (Stage(),)
    created: str = ""
    integrations: tuple[Integration, ...] = ()
    authorizers: tuple[Authorizer, ...] = ()
    cors: dict[str, Any] | None = None         # apigatewayv2 CorsConfiguration, as given
    description: str = ""
    protocol: str = "HTTP"                     # HTTP (v2) | REST (v1: SAM's Api events), which answer misses differently
    rest_cors: dict[str, str] | None = None    # REST: the headers SAM's Cors gives every path's OPTIONS answer
    binary_media_types: tuple[str, ...] = ()   # REST: bodies of these types reach functions base64-encoded
    route_selection: str = ""                  # WEBSOCKET: RouteSelectionExpression ($request.body.action)

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValidationException("API name must be 1-128 characters")
        if self.protocol not in ("HTTP", "REST", "WEBSOCKET"):
            raise ValidationException(f"API protocol must be HTTP, REST or WEBSOCKET, not {self.protocol!r}")
        if self.protocol == "WEBSOCKET":
            check_route_selection(self.route_selection)
        if self.protocol == "HTTP" and (self.rest_cors is not None or self.binary_media_types):
            raise ValidationException("rest_cors and binary_media_types apply to REST APIs only")

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def with_route(self, route: Route) -> "HttpApi":
        if any(r.route_key == route.route_key for r in self.routes):
            raise InvalidParameterValueException(f"Route with key {route.route_key} already exists for this API")
        return dataclasses.replace(self, routes=(*self.routes, route))

    def without_route(self, route_key_or_id: str) -> "HttpApi":
        kept = tuple(r for r in self.routes if route_key_or_id not in (r.route_key, r.route_id))
        return dataclasses.replace(self, routes=kept)

    def with_stage(self, stage: Stage) -> "HttpApi":
        others = tuple(s for s in self.stages if s.name != stage.name)
        return dataclasses.replace(self, stages=(*others, stage))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def authorizer(self, authorizer_id: str) -> Authorizer | None:
        return next((a for a in self.authorizers if a.authorizer_id == authorizer_id), None)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "HttpApi":
        def stage(d: dict[str, Any]) -> Stage:
            default = d.get("default_throttle")
            return Stage(d["name"], d.get("variables", {}), Throttle(**default) if default else None,
                         {k: Throttle(**v) for k, v in d.get("route_throttles", {}).items()},
                         bool(d.get("tracing", False)))

        def route(d: dict[str, Any]) -> Route:
            return Route(**{**d, "authorization_scopes": tuple(d.get("authorization_scopes", ())),
                            "mapping": dict(d.get("mapping") or {}),
                            "request_parameters": dict(d.get("request_parameters") or {})})

        def authorizer(d: dict[str, Any]) -> Authorizer:
            return Authorizer(**{**d, "identity_sources": tuple(d["identity_sources"]),
                                 "audiences": tuple(d.get("audiences", ()))})

        return cls(doc["api_id"], doc["name"], tuple(route(r) for r in doc["routes"]),
                   tuple(stage(s) for s in doc["stages"]), doc.get("created", ""),
                   tuple(Integration(**i) for i in doc.get("integrations", [])),
                   tuple(authorizer(a) for a in doc.get("authorizers", [])), doc.get("cors"),
                   doc.get("description", ""), doc.get("protocol", "HTTP"), doc.get("rest_cors"),
                   tuple(doc.get("binary_media_types", ())), doc.get("route_selection", ""))
