"""Managing HTTP APIs: create, route, stage, delete — the control side of the gateway."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from cumulo.errors import InvalidParameterValueException
from cumulo.gateway.model import DEFAULT_STAGE, INTEGRATION_TIMEOUT_MS, HttpApi, Route, Stage, new_api_id
from cumulo.gateway.routing import parse_route_key
from cumulo.model.function import parse_function_ref
from cumulo.store.base import Store

__all__ = ["ApiService"]


class ApiService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create_api(self, name: str, stages: list[str] | None = None, api_id: str | None = None) -> HttpApi:
        api = HttpApi(api_id or new_api_id(), name, (), tuple(Stage(s) for s in (stages or [DEFAULT_STAGE])),
                      datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self._store.put_api(api.api_id, api.to_dict())
        return api

    def get_api(self, api_id: str) -> HttpApi:
        return HttpApi.from_dict(self._store.get_api(api_id))

    def list_apis(self) -> list[HttpApi]:
        return [HttpApi.from_dict(doc) for doc in self._store.list_apis()]

    def delete_api(self, api_id: str) -> None:
        self._store.delete_api(api_id)

    def create_route(self, api_id: str, route_key: str, function: str, payload_version: str = "2.0",
                     timeout_ms: int | None = None) -> Route:
        parse_route_key(route_key)
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

    def put_stage(self, api_id: str, name: str, variables: dict[str, str] | None = None) -> Stage:
        stage = Stage(name, dict(variables or {}))
        self._save(self.get_api(api_id).with_stage(stage))
        return stage

    def replace_routes(self, api_id: str, routes: list[Route]) -> HttpApi:
        for route in routes:
            parse_route_key(route.route_key)
        api = dataclasses.replace(self.get_api(api_id), routes=tuple(routes))
        self._save(api)
        return api

    def _save(self, api: HttpApi) -> None:
        self._store.put_api(api.api_id, api.to_dict())
