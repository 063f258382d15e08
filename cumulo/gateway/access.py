"""Who may call a route: throttles, API keys and usage plans, then the route's authorizer.

The gateway asks ``AccessControl.admit`` once a request has matched a route and
before it builds the integration's event. In API Gateway's order: the stage's
throttle for the route (and the account's), then the API key (routes with
``apiKeyRequired``: the key, its usage plan's throttle and quota), then the
authorizer (JWT or Lambda). Refusals are ``GatewayResponse``s; an admitted
request gets the ``requestContext.authorizer`` document its integration sees.

Everything runs on the gateway's event loop except what blocks — fetching
JWKS keys, and cold starts of a Lambda authorizer — which goes to the worker threads.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from cumulo.errors import CumuloError
from cumulo.gateway._request import HttpRequest
from cumulo.gateway.identity import identity_values
from cumulo.gateway.jwt_auth import AuthFailure, JwksCache, bearer_token, jwt_context, token_kid, verify_jwt
from cumulo.gateway.lambda_auth import (
    MalformedAuthorizerResponse, Verdict, VerdictCache, authorizer_event, explicitly_denied, integration_context,
    parse_verdict, rest_authorizer_event, route_arn,
)
from cumulo.gateway.model import Authorizer, HttpApi, Route, Stage
from cumulo.gateway.responses import INTERNAL_ERROR, GatewayResponse, message
from cumulo.gateway.routing import RouteMatch
from cumulo.gateway.throttle import ACCOUNT_LIMIT, Throttles, retry_after
from cumulo.gateway.usage import ApiKey, UsageMeter, UsagePlan, UsagePlanService
from cumulo.store.base import Store

__all__ = ["AccessControl", "Admission", "AUTHORIZER_TIMEOUT_S"]

AUTHORIZER_TIMEOUT_S = 10.0
Invoke = Callable[[str, bytes], Awaitable[Any]]      # (function, payload) -> InvocationResult


FORBIDDEN = message(403, "Forbidden")


def throttled(wait: float, text: str = "Too Many Requests") -> GatewayResponse:
    return message(429, text, [("retry-after", retry_after(wait))])


@dataclass(frozen=True)
class Admission:
    refused: GatewayResponse | None = None
    authorizer: dict[str, Any] | None = None     # requestContext.authorizer for the integration


class AccessControl:
    def __init__(self, store: Store, executor: Executor, invoke: Invoke, region: str, account: str,
                 clock: Callable[[], float] = time.monotonic, jwks: JwksCache | None = None) -> None:
        self._store = store
        self._plans = UsagePlanService(store)
        self.meter = UsageMeter(store)
        self._executor = executor
        self._invoke = invoke
        self._region, self._account = region, account
        self.throttles = Throttles(clock)
        self._jwks = jwks or JwksCache()
        self._verdicts = VerdictCache(clock)
        self._generation = -1
        self._keys: dict[str, ApiKey] = {}
        self._key_plans: dict[str, list[UsagePlan]] = {}

    def close(self) -> None:
        self.meter.close()

    async def admit(self, api: HttpApi, stage: Stage, route: Route, req: HttpRequest, match: RouteMatch,
                    context: dict[str, Any]) -> Admission:
        refused = self._throttle(api, stage, route)
        if refused is None and route.api_key_required:
            refused = self._api_key(api, stage, req)
        if refused is not None:
            return Admission(refused)
        if route.authorization_type == "NONE" or not route.authorizer_id:
            return Admission()
        authorizer = api.authorizer(route.authorizer_id)
        if authorizer is None:
            return Admission(INTERNAL_ERROR)
        try:
            if authorizer.kind == "JWT":
                return Admission(authorizer=await self._jwt(authorizer, route, req, stage, context))
            return Admission(authorizer=await self._lambda(authorizer, route, api, stage, req, match, context))
        except AuthFailure as failure:
            return Admission(failure.response)

    # -- throttles ------------------------------------------------------------------
    @property
    def verdicts(self) -> VerdictCache:
        """Lambda authorizers' cached verdicts (WebSocket APIs' $connect keeps its own keys here too)."""
        return self._verdicts

    def throttle(self, api: HttpApi, stage: Stage, route: Route) -> GatewayResponse | None:
        """The account's and the stage route's token buckets (a WebSocket message's only admission)."""
        return self._throttle(api, stage, route)

    def _throttle(self, api: HttpApi, stage: Stage, route: Route) -> GatewayResponse | None:
        wait = self.throttles.take("account", ACCOUNT_LIMIT)
        if wait is not None:
            return throttled(wait)
        limit = stage.route_throttles.get(route.route_key) or stage.default_throttle
        if limit is not None:
            wait = self.throttles.take((api.api_id, stage.name, route.route_key), limit)
            if wait is not None:
                return throttled(wait)
        return None

    # -- API keys and usage plans ---------------------------------------------------------
    def _refresh_keys(self) -> None:
        if self._store.generation == self._generation:
            return
        self._generation = self._store.generation
        self._keys = {k.value: k for k in self._plans.list_keys() if k.enabled}
        self._key_plans = {}
        for plan in self._plans.list_plans():
            for key_id in plan.key_ids:
                self._key_plans.setdefault(key_id, []).append(plan)

    def _api_key(self, api: HttpApi, stage: Stage, req: HttpRequest) -> GatewayResponse | None:
        value = req.header("x-api-key")
        if not value:
            return FORBIDDEN
        self._refresh_keys()
        key = self._keys.get(value)
        if key is None:
            return FORBIDDEN
        plan = next((p for p in self._key_plans.get(key.key_id, ()) if p.covers(api.api_id, stage.name)), None)
        if plan is None:
            return FORBIDDEN
        if plan.throttle is not None:
            wait = self.throttles.take(("plan", plan.plan_id, key.key_id), plan.throttle)
            if wait is not None:
                return throttled(wait)
        if not self.meter.consume(plan, key.key_id):
            return throttled(float("inf"), "Limit Exceeded")
        return None

    # -- JWT authorizers ------------------------------------------------------------------
    async def _jwt(self, authorizer: Authorizer, route: Route, req: HttpRequest, stage: Stage,
                   context: dict[str, Any]) -> dict[str, Any]:
        values = identity_values(authorizer.identity_sources, req, stage.variables, context)
        if not values:
            raise AuthFailure(401, "Unauthorized")
        token = bearer_token(values[0])
        kid = token_kid(token)
        key = self._jwks.cached(authorizer, kid)
        if key is None:
            loop = asyncio.get_running_loop()
            key = await loop.run_in_executor(self._executor, self._jwks.load, authorizer, kid)
        claims = verify_jwt(token, key, authorizer, route.authorization_scopes)
        doc = jwt_context(claims)
        return doc if route.payload_version == "2.0" else doc["jwt"]

    # -- Lambda authorizers ---------------------------------------------------------------
    async def _lambda(self, authorizer: Authorizer, route: Route, api: HttpApi, stage: Stage, req: HttpRequest,
                      match: RouteMatch, context: dict[str, Any]) -> dict[str, Any]:
        values = identity_values(authorizer.identity_sources, req, stage.variables, context)
        if values is None:
            raise AuthFailure(401, "Unauthorized")
        if authorizer.validation and not re.fullmatch(authorizer.validation, values[0]):
            raise AuthFailure(401, "Unauthorized")
        arn = route_arn(self._region, self._account, api.api_id, stage.name, req.method, req.raw_path)
        cache_key = (api.api_id, authorizer.authorizer_id, tuple(values))
        started = time.monotonic()
        verdict = self._verdicts.get(cache_key) if values and authorizer.ttl_seconds > 0 else None
        if verdict is None:
            verdict = await self._call_authorizer(authorizer, api, req, match, stage, values, arn)
            if values:
                self._verdicts.put(cache_key, verdict, authorizer.ttl_seconds)
        if not verdict.allows(arn):
            if api.protocol != "REST":
                raise AuthFailure(403, "Forbidden")
            raise _RestDenied(403, "User is not authorized to access this resource"
                              + (" with an explicit deny" if explicitly_denied(verdict.policy, arn) else ""))
        latency = int((time.monotonic() - started) * 1000)
        return integration_context(verdict, route.payload_version, latency)

    async def _call_authorizer(self, authorizer: Authorizer, api: HttpApi, req: HttpRequest, match: RouteMatch,
                               stage: Stage, values: list[str], arn: str) -> Verdict:
        if api.protocol == "REST":
            event = rest_authorizer_event(authorizer.kind, req, match, stage.variables or None, values, arn)
        else:
            event = authorizer_event(authorizer.payload_version, req, match, stage.variables or None, values, arn)
        call = asyncio.ensure_future(self._invoke(authorizer.function, json.dumps(event).encode()))
        call.add_done_callback(discard_result)     # after a timeout nobody awaits it
        try:
            result = await asyncio.wait_for(asyncio.shield(call), AUTHORIZER_TIMEOUT_S)
        except (asyncio.TimeoutError, CumuloError):
            raise AuthFailure(500, "Internal Server Error") from None
        if result.function_error:
            if api.protocol == "REST" and _error_message(result.payload) == "Unauthorized":
                raise AuthFailure(401, "Unauthorized")       # REST authorizers refuse a token this way
            raise AuthFailure(500, "Internal Server Error")
        try:
            return parse_verdict(result.payload, authorizer.simple_responses and authorizer.payload_version == "2.0")
        except MalformedAuthorizerResponse:
            raise AuthFailure(500, "Internal Server Error") from None


class _RestDenied(AuthFailure):
    """A REST API's refusal by its Lambda authorizer: ``{"Message": ...}``, capitalised as API Gateway sends it."""

    @property
    def response(self) -> GatewayResponse:
        return GatewayResponse(403, [("content-type", "application/json"),
                                     ("x-amzn-ErrorType", "AccessDeniedException")],
                               json.dumps({"Message": self.message}).encode())


def _error_message(payload: bytes) -> str | None:
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return doc.get("errorMessage") if isinstance(doc, dict) else None


def discard_result(task: "asyncio.Future[Any]") -> None:
    """A done-callback for work nobody awaits any more: its error is not news."""
    if not task.cancelled():
        task.exception()
