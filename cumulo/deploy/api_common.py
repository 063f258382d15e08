"""What the HTTP API and REST API readers of SAM templates share (``deploy/apis.py``, ``deploy/rest_apis.py``):
an API's configuration before its routes are known, and the readers of maps, throttles and identity sources.
Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.errors import CumuloError
from cumulo.gateway.model import Authorizer, Route, Throttle

__all__ = ["HttpApiConfig", "map_of", "throttle_of", "identity_sources"]


@dataclass(frozen=True)
class HttpApiConfig:
    """An ``AWS::Serverless::HttpApi`` (or the implicit one), before routes are known."""

    logical_id: str
    stage: str = "$default"
    stage_variables: dict[str, str] = field(default_factory=dict)
    cors: dict[str, Any] | None = None
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    default_authorizer: str | None = None
    default_throttle: Throttle | None = None
    route_throttles: dict[str, Throttle] = field(default_factory=dict)
    description: str = ""
    name: str | None = None
    notes: tuple[str, ...] = ()
    protocol: str = "HTTP"                       # REST: AWS::Serverless::Api and SAM's ServerlessRestApi
    rest_cors: dict[str, str] | None = None      # REST: the headers of the OPTIONS answers SAM's Cors makes
    binary_media_types: tuple[str, ...] = ()     # REST
    api_key_required: bool = False               # REST: Auth.ApiKeyRequired, every method's default
    routes: tuple[Route, ...] = ()               # REST: the routes of its DefinitionBody
    route_selection: str = ""                    # WEBSOCKET: RouteSelectionExpression
    tracing: bool = False                        # REST: the stage's TracingEnabled


def map_of(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntrinsicError(f"property {what}: must be a map")
    return value


def throttle_of(value: Any, what: str) -> Throttle | None:
    if value is None:
        return None
    doc = map_of(value, what)
    if "ThrottlingRateLimit" not in doc and "ThrottlingBurstLimit" not in doc:
        return None
    try:
        return Throttle(doc.get("ThrottlingRateLimit", 10_000.0), doc.get("ThrottlingBurstLimit", 5_000))
    except CumuloError as exc:
        raise IntrinsicError(f"property {what}: {exc.message}") from None


def identity_sources(identity: dict[str, Any]) -> list[str]:
    kinds = (("Headers", "$request.header."), ("QueryStrings", "$request.querystring."),
             ("StageVariables", "$stageVariables."), ("Context", "$context."))
    sources = []
    for key, prefix in kinds:
        names = identity.get(key, [])
        if not isinstance(names, list):
            raise IntrinsicError(f"property Identity.{key}: must be a list")
        sources += [prefix + str(n) for n in names]
    return sources
