"""Lambda (REQUEST) authorizers for HTTP APIs: the event, the verdict, the cache.

From "Control access to HTTP APIs with AWS Lambda authorizers":

- The event: payload 2.0 is the route's 2.0 request event without the body, plus
  ``type: REQUEST``, ``routeArn`` and ``identitySource`` (the values, a list);
  payload 1.0 is the REST-style request event without the body, plus
  ``type``, ``methodArn``, and ``identitySource``/``authorizationToken`` (the
  values joined by commas).
- The answer: with simple responses (2.0 only) ``{"isAuthorized": bool,
  "context": {...}}``; otherwise an IAM policy ``{"principalId", "policyDocument":
  {"Statement": [{"Action": "execute-api:Invoke", "Effect", "Resource"}]},
  "context"}``, which allows the call when an ``Allow`` statement matches the
  route's ARN (``*`` and ``?`` wildcards) and no ``Deny`` does.
- REST APIs (``kind`` TOKEN or REQUEST, "Use API Gateway Lambda authorizers"
  in the REST guide): a TOKEN authorizer gets ``{"type": "TOKEN",
  "authorizationToken", "methodArn"}``, the token first checked against the
  authorizer's validation expression (no match: 401 without calling it); a
  REQUEST authorizer gets the REST proxy event without the body, plus ``type``
  and ``methodArn``. Both answer with an IAM policy. A denial is 403
  ``User is not authorized to access this resource`` (``... with an explicit
  deny`` when a Deny statement matched); an authorizer that fails with the
  error message ``Unauthorized`` is 401 ``Unauthorized``.
- Denied (HTTP APIs): 403 ``Forbidden``. An authorizer that fails, times out or answers in
  another shape: 500. Missing identity: 401, without invoking it.
- Caching: with a TTL > 0 the verdict is kept per identity-source values; a
  cached IAM policy is evaluated again for each route, so a policy scoped to one
  route does not open another.
- The integration sees the context in ``requestContext.authorizer.lambda``
  (payload 2.0) or as ``requestContext.authorizer`` itself with ``principalId``
  and ``integrationLatency`` (payload 1.0).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from cumulo.gateway._request import HttpRequest
from cumulo.gateway.payload_v1 import event_v1
from cumulo.gateway.payload_rest import event_rest
from cumulo.gateway.payload_v2 import event_v2
from cumulo.gateway.routing import RouteMatch

__all__ = ["Verdict", "MalformedAuthorizerResponse", "authorizer_event", "parse_verdict", "policy_allows",
           "route_arn", "VerdictCache", "integration_context", "rest_authorizer_event", "explicitly_denied"]

MAX_TTL_S = 3600


class MalformedAuthorizerResponse(Exception):
    """The authorizer answered in a shape API Gateway cannot use (a 500 to the client)."""


@dataclass(frozen=True)
class Verdict:
    simple_allowed: bool | None = None            # simple responses
    policy: tuple[dict[str, Any], ...] = ()       # IAM statements
    principal_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def allows(self, arn: str) -> bool:
        if self.simple_allowed is not None:
            return self.simple_allowed
        return policy_allows(self.policy, arn)


def route_arn(region: str, account: str, api_id: str, stage: str, method: str, path: str) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`` (path without its leading /)."""
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


def authorizer_event(version: str, req: HttpRequest, match: RouteMatch, stage_variables: dict[str, str] | None,
                     identity: list[str], arn: str) -> dict[str, Any]:
    if version == "2.0":
        event = event_v2(req, match, stage_variables)
        for key in ("version", "body", "isBase64Encoded"):
            event.pop(key, None)
        return {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": list(identity), **event}
    event = event_v1(req, match, stage_variables)
    for key in ("version", "body", "isBase64Encoded"):
        event.pop(key, None)
    joined = ",".join(identity)
    return {"version": "1.0", "type": "REQUEST", "methodArn": arn, "identitySource": joined,
            "authorizationToken": joined, **event}


def rest_authorizer_event(kind: str, req: HttpRequest, match: RouteMatch, stage_variables: dict[str, str] | None,
                          identity: list[str], arn: str) -> dict[str, Any]:
    """The event of a REST API's Lambda authorizer (TOKEN or REQUEST)."""
    if kind == "TOKEN":
        return {"type": "TOKEN", "authorizationToken": identity[0] if identity else "", "methodArn": arn}
    event = event_rest(req, match, stage_variables)
    for key in ("body", "isBase64Encoded"):
        event.pop(key, None)
    return {"type": "REQUEST", "methodArn": arn, **event}


def explicitly_denied(statements: tuple[dict[str, Any], ...], arn: str) -> bool:
    """Whether a Deny statement for ``execute-api:Invoke`` matches ``arn``."""
    return any(s.get("Effect") == "Deny" and _matches_any(s.get("Action"), "execute-api:Invoke")
               and _matches_any(s.get("Resource"), arn) for s in statements)


def parse_verdict(payload: bytes, simple: bool) -> Verdict:
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        raise MalformedAuthorizerResponse("the authorizer's response is not JSON (or nested too deeply)") from None
    if not isinstance(doc, dict):
        raise MalformedAuthorizerResponse("the authorizer's response is not a JSON object")
    context = doc.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise MalformedAuthorizerResponse("context must be a JSON object")
    if simple:
        allowed = doc.get("isAuthorized")
        if not isinstance(allowed, bool):
            raise MalformedAuthorizerResponse("isAuthorized must be true or false")
        return Verdict(simple_allowed=allowed, context=context)
    policy = doc.get("policyDocument")
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise MalformedAuthorizerResponse("policyDocument.Statement must be a list of statements")
    principal = doc.get("principalId")
    return Verdict(policy=tuple(statements), principal_id=None if principal is None else str(principal),
                   context=context)


def policy_allows(statements: tuple[dict[str, Any], ...], arn: str) -> bool:
    """IAM evaluation for ``execute-api:Invoke`` on one ARN: an explicit Deny wins, else any Allow."""
    allowed = False
    for statement in statements:
        if not (_matches_any(statement.get("Action"), "execute-api:Invoke")
                and _matches_any(statement.get("Resource"), arn)):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def _matches_any(patterns: Any, value: str) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        return False
    return any(isinstance(p, str) and _glob(p).match(value) for p in patterns)


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z",
                      re.IGNORECASE if pattern.startswith("execute-api:") else 0)


def integration_context(verdict: Verdict, payload_version: str, latency_ms: int) -> dict[str, Any]:
    if payload_version == "2.0":
        return {"lambda": dict(verdict.context)}
    ctx: dict[str, Any] = {k: v for k, v in verdict.context.items()}
    ctx["principalId"] = verdict.principal_id or ""
    ctx["integrationLatency"] = latency_ms
    return ctx


class VerdictCache:
    """Verdicts per (authorizer, identity values), each for its authorizer's TTL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: dict[Hashable, tuple[float, Verdict]] = {}

    def get(self, key: Hashable) -> Verdict | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            del self._entries[key]
            return None
        return hit[1]

    def put(self, key: Hashable, verdict: Verdict, ttl_s: int) -> None:
        if ttl_s <= 0:
            return
        if len(self._entries) >= self._max:
            now = self._clock()
            for k in [k for k, (until, _) in self._entries.items() if until <= now] or list(self._entries)[:1]:
                del self._entries[k]
        self._entries[key] = (self._clock() + min(ttl_s, MAX_TTL_S), verdict)
