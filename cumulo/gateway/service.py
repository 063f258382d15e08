"""Managing HTTP APIs: create, route, stage, delete — the control side of the gateway."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

from cumulo.errors import InvalidParameterValueException
from cumulo.gateway.model import (
    DEFAULT_STAGE, INTEGRATION_TIMEOUT_MS, Authorizer, BadRequestException, ConflictException, HttpApi, Integration,
    NotFoundException, Route, Stage, Throttle, check_ws_route_key, new_api_id,
)
from cumulo.gateway.cors import CorsConfig
from cumulo.gateway.routing import parse_route_key
from cumulo.model.function import parse_function_ref
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.store.base import Store

__all__ = ["ApiService", "BadRequestException", "NotFoundException", "ConflictException", "cors_config"]


def cors_config(doc: dict[str, Any]) -> CorsConfig:
    """apigatewayv2's CorsConfiguration document as the gateway's ``CorsConfig``."""
    if not isinstance(doc, dict):
        raise BadRequestException("CorsConfiguration must be an object")
    try:
        return CorsConfig(
            allow_origins=tuple(doc.get("AllowOrigins", ())), allow_methods=tuple(doc.get("AllowMethods", ())),
            allow_headers=tuple(doc.get("AllowHeaders", ())), expose_headers=tuple(doc.get("ExposeHeaders", ())),
            max_age=doc.get("MaxAge"), allow_credentials=bool(doc.get("AllowCredentials", False)))
    except (TypeError, ValueError) as exc:
        raise BadRequestException(f"Invalid CorsConfiguration: {exc}") from None


class ApiService:
    def __init__(self, store: Store, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._clock = clock     # createdDate

    def create_api(self, name: str, stages: list[str] | None = None, api_id: str | None = None,
                   cors: dict[str, Any] | None = None, description: str = "", protocol: str = "HTTP",
                   route_selection: str = "") -> HttpApi:
        """An HTTP API, or a WebSocket API (``protocol`` WEBSOCKET, with its ``route_selection``
        expression; it has no stage until one is created, as on AWS)."""
        if cors is not None:
            cors_config(cors)   # refuse an invalid configuration now, not at request time
        if protocol == "WEBSOCKET" and cors is not None:
            raise BadRequestException("CorsConfiguration applies to HTTP APIs only")
        if stages is None:
            stages = [] if protocol == "WEBSOCKET" else [DEFAULT_STAGE]
        api = HttpApi(api_id or new_api_id(), name, (), tuple(Stage(s) for s in stages),
                      datetime.fromtimestamp(self._clock.now(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), cors=cors,
                      description=description, protocol=protocol, route_selection=route_selection)
        self._store.put_api(api.api_id, api.to_dict())
        return api

    def update_api(self, api_id: str, name: str | None = None, cors: dict[str, Any] | None = None,
                   description: str | None = None) -> HttpApi:
        api = self.get_api(api_id)
        if cors is not None:
            cors_config(cors)
        api = dataclasses.replace(api, name=api.name if name is None else name,
                                  cors=api.cors if cors is None else (cors or None),
                                  description=api.description if description is None else description)
        self._save(api)
        return api

    def create_integration(self, api_id: str, function: str, payload_version: str = "2.0",
                           timeout_ms: int | None = None, **fields: Any) -> Integration:
        """A Lambda proxy integration to ``function``, or (``function`` '') a service or HTTP proxy integration
        described by ``fields`` (``integration_type``, ``integration_subtype``, ``request_parameters``,
        ``credentials``, ``integration_uri``, ``integration_method``)."""
        if function or not fields:
            parse_function_ref(function)
        integration = Integration(new_api_id()[:7], function, payload_version,
                                  INTEGRATION_TIMEOUT_MS if timeout_ms is None else timeout_ms, **fields)
        Route("$default", "", payload_version, integration.timeout_ms,
              **{k: v for k, v in integration.route_fields().items()
                 if k not in ("function", "payload_version", "timeout_ms")})   # same checks as a route's
        api = self.get_api(api_id)
        self._save(dataclasses.replace(api, integrations=(*api.integrations, integration)))
        return integration

    def delete_integration(self, api_id: str, integration_id: str) -> None:
        api = self.get_api(api_id)
        if any(r.integration_id == integration_id for r in api.routes):
            raise ConflictException(f"Integration {integration_id} is used by a route; delete the route first")
        kept = tuple(i for i in api.integrations if i.integration_id != integration_id)
        if len(kept) == len(api.integrations):
            raise NotFoundException(f"Unable to find Integration with id '{integration_id}'")
        self._save(dataclasses.replace(api, integrations=kept))

    def create_authorizer(self, api_id: str, authorizer: Authorizer) -> Authorizer:
        if authorizer.kind == "REQUEST":
            parse_function_ref(authorizer.function)
        api = self.get_api(api_id)
        if any(a.name == authorizer.name for a in api.authorizers):
            raise ConflictException(f"Authorizer name {authorizer.name} already exists for this API")
        self._save(dataclasses.replace(api, authorizers=(*api.authorizers, authorizer)))
        return authorizer

    def delete_authorizer(self, api_id: str, authorizer_id: str) -> None:
        api = self.get_api(api_id)
        if api.authorizer(authorizer_id) is None:
            raise NotFoundException(f"Unable to find Authorizer with id '{authorizer_id}'")
        if any(r.authorizer_id == authorizer_id for r in api.routes):
            raise ConflictException(f"Authorizer {authorizer_id} is used by a route; detach it first")
        self._save(dataclasses.replace(api, authorizers=tuple(a for a in api.authorizers
                                                               if a.authorizer_id != authorizer_id)))

    def update_route(self, api_id: str, route_id: str, **changes: Any) -> Route:
        """Change a route's key, target or authorization (apigatewayv2's UpdateRoute)."""
        api = self.get_api(api_id)
        route = next((r for r in api.routes if r.route_id == route_id), None)
        if route is None:
            raise NotFoundException(f"Unable to find Route with id '{route_id}'")
        if "route_key" in changes:
            _check_key(api, changes["route_key"])
            if any(r.route_key == changes["route_key"] and r.route_id != route_id for r in api.routes):
                raise ConflictException(f"Route with key {changes['route_key']} already exists for this API")
        integration_id = changes.pop("integration_id", None)
        if integration_id is not None:
            integration = next((i for i in api.integrations if i.integration_id == integration_id), None)
            if integration is None:
                raise NotFoundException(f"Unable to find Integration with id '{integration_id}'")
            changes.update(integration_id=integration_id, **integration.route_fields())
        authorizer_id = changes.get("authorizer_id")
        if authorizer_id and api.authorizer(authorizer_id) is None:
            raise NotFoundException(f"Unable to find Authorizer with id '{authorizer_id}'")
        updated = dataclasses.replace(route, **changes)
        self._save(dataclasses.replace(api, routes=tuple(updated if r.route_id == route_id else r
                                                          for r in api.routes)))
        return updated

    def add_route(self, api_id: str, route_key: str, integration_id: str = "", **options: Any) -> Route:
        """A route whose target is one of the API's integrations (apigatewayv2's CreateRoute)."""
        api = self.get_api(api_id)
        _check_key(api, route_key)
        integration = next((i for i in api.integrations if i.integration_id == integration_id), None)
        if integration_id and integration is None:
            raise NotFoundException(f"Unable to find Integration with id '{integration_id}'")
        authorizer_id = options.get("authorizer_id", "")
        if authorizer_id and api.authorizer(authorizer_id) is None:
            raise NotFoundException(f"Unable to find Authorizer with id '{authorizer_id}'")
        route = Route(route_key, **(integration.route_fields() if integration else {"function": ""}),
                      integration_id=integration_id, **options)
        self._save(api.with_route(route))
        return route

    def get_api(self, api_id: str) -> HttpApi:
        return HttpApi.from_dict(self._store.get_api(api_id))

    def list_apis(self) -> list[HttpApi]:
        return [HttpApi.from_dict(doc) for doc in self._store.list_apis()]

    def delete_api(self, api_id: str) -> None:
        self._store.delete_api(api_id)

    def create_route(self, api_id: str, route_key: str, function: str, payload_version: str = "2.0",
                     timeout_ms: int | None = None) -> Route:
        _check_key(self.get_api(api_id), route_key)
        parse_function_ref(function)
        route = Route(route_key, function, payload_version,
                      INTEGRATION_TIMEOUT_MS if timeout_ms is None else timeout_ms)
        self._save(self.get_api(api_id).with_route(route))
        return route

    def delete_route(self, api_id: str, route_key_or_id: str) -> None:
        api = self.get_api(api_id)
        updated = api.without_route(route_key_or_id)
        if len(updated.routes) == len(api.routes):
            raise InvalidParameterValueException(f"Route {route_key_or_id} not found on API {api_id}")
        self._save(updated)

    def put_stage(self, api_id: str, name: str, variables: dict[str, str] | None = None,
                  default_throttle: Throttle | None = None, route_throttles: dict[str, Throttle] | None = None) -> Stage:
        stage = Stage(name, dict(variables or {}), default_throttle, dict(route_throttles or {}))
        self._save(self.get_api(api_id).with_stage(stage))
        return stage

    def replace_routes(self, api_id: str, routes: list[Route]) -> HttpApi:
        api = self.get_api(api_id)
        for route in routes:
            _check_key(api, route.route_key)
        api = dataclasses.replace(api, routes=tuple(routes))
        self._save(api)
        return api

    def _save(self, api: HttpApi) -> None:
        self._store.put_api(api.api_id, api.to_dict())


def _check_key(api: HttpApi, route_key: str) -> None:
    if api.protocol == "WEBSOCKET":
        check_ws_route_key(route_key)
    else:
        parse_route_key(route_key)
