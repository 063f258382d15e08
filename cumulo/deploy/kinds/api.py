"""``AWS::Serverless::HttpApi``, ``AWS::Serverless::Api`` (REST, ``deploy/rest_apis.py``), and the APIs SAM makes for functions' ``HttpApi`` and ``Api`` events
(``ServerlessHttpApi``, ``ServerlessRestApi``): read with their routes by ``cumulo.deploy.apis``; plain
CloudFormation's ``AWS::ApiGateway::*`` (``deploy/rest_resources.py``) and ``AWS::ApiGatewayV2::*``
(``deploy/http_resources.py``) assembled into the same configurations.

Each API is stored whole (the template is the API's one source of truth; an unchanged one is not
written), after the functions its routes and authorizers name, and deleted when the template no
longer makes it. A plan does not list APIs: a deploy prints their routes. ``Ref`` is the API id
(``ApiEndpoint`` while the template is read); Outputs that are execute-api URLs of these APIs are
given as the local gateway serves them (``local_api_urls``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from cumulo.deploy.apis import (
    HTTP_API_TYPE, IMPLICIT_HTTP_API, IMPLICIT_REST_API, REST_API_TYPE, ApiSpec, api_id_for, api_specs, read_http_api,
    read_rest_api,
)
from cumulo.deploy.intrinsics import IntrinsicError, resolve
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error
from cumulo.deploy.properties import plain
from cumulo.deploy.http_resources import HTTP_RAW_TYPES, raw_http_apis, raw_http_ids
from cumulo.deploy.rest_resources import RAW_TYPES as REST_RAW_TYPES
from cumulo.deploy.rest_resources import raw_ids, raw_rest_apis
from cumulo.errors import ResourceNotFoundException
from cumulo.gateway.model import HttpApi as HttpApiDocument
from cumulo.gateway.model import Stage
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["HttpApi", "local_api_urls"]

RAW_TYPES = (*REST_RAW_TYPES, *HTTP_RAW_TYPES)
_EXECUTE_API = re.compile(r"(?P<scheme>https?|wss?)://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?![\w-]|\.\w)")


class HttpApi(Kind):
    name = "api"
    types = (HTTP_API_TYPE, REST_API_TYPE, *RAW_TYPES)
    after = ("function",)             # routes and authorizers name functions
    listed = 90
    record_key = "apis"
    implicit_names = (IMPLICIT_REST_API, IMPLICIT_HTTP_API)

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        attributes = _names(entries, load)
        return {}, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = self._read(entries, load)
        raw = {e.logical_id for e in entries if e.type in RAW_TYPES}
        for index, spec in enumerate(specs):        # what raw resources' Ref and GetAtt answer, once
            if spec.logical_id in raw:
                specs[index] = replace(spec, attributes=_names([e for e in entries if e.type in RAW_TYPES], load))
                break
        return specs

    def _read(self, entries: list[Entry], load: Load) -> list[Any]:
        """The declared APIs and the implicit ones functions' events need, with the routes events add."""
        globals_http_api = _globals_http_api(load)
        configs = {}
        raw = []
        for entry in entries:
            if entry.type in RAW_TYPES:
                try:
                    raw.append((entry.logical_id, entry.type, plain(resolve(entry.properties, load.scope))))
                except IntrinsicError as exc:
                    raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
                continue
            try:
                props = plain(resolve(entry.properties, load.scope))
                configs[entry.logical_id] = (
                    read_rest_api(entry.logical_id, props, _globals_section(load, "Api"))
                    if entry.type == REST_API_TYPE else read_http_api(entry.logical_id, props, globals_http_api))
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
        try:
            configs.update(raw_rest_apis(load.stack, [r for r in raw if r[1] in REST_RAW_TYPES], api_id_for))
            attached: dict[str, Any] = {}
            configs.update(raw_http_apis(load.stack, [r for r in raw if r[1] in HTTP_RAW_TYPES], api_id_for,
                                         load.region, {api_id_for(load.stack, logical): logical
                                                       for logical, c in configs.items() if c.protocol == "HTTP"},
                                         attached))
            for logical, (routes, authorizers) in attached.items():    # raw resources on a SAM HttpApi
                config = configs[logical]
                configs[logical] = replace(config, routes=(*config.routes, *routes), authorizers={
                    **config.authorizers, **{a.name: a for a in authorizers}})
            return api_specs(load.stack, load.read.get("function", []), configs, globals_http_api,
                             _globals_section(load, "Api"))
        except IntrinsicError as exc:
            raise error("Template", exc.message, line=exc.line) from None

    def attributes(self, spec: ApiSpec, arns: Arns) -> Attributes:
        """``Ref`` is the API id, ``ApiEndpoint`` its execute-api URL (Outputs give it as the gateway serves it)."""
        stage: Attributes = {}
        if spec.protocol == "REST" and spec.stage != "$default":     # the stage SAM makes: <Id><Stage>Stage
            stage = {(f"{spec.logical_id}.Stage", "Ref"): spec.stage,
                     (f"{spec.logical_id}{re.sub(r'[^A-Za-z0-9]', '', spec.stage)}Stage", "Ref"): spec.stage}
        return {**stage, **spec.attributes, (spec.logical_id, "Ref"): spec.api_id,
                (spec.logical_id, "ApiEndpoint"): f"https://{spec.api_id}.execute-api.{arns.region}.amazonaws.com"}

    def deployed(self, spec: ApiSpec, deploy: Deploy) -> Attributes:
        return self.attributes(spec, deploy.c.arns)

    def apply(self, spec: ApiSpec, change: Change | None, deploy: Deploy) -> None:
        c = deploy.c
        try:
            current = c.store.get_api(spec.api_id)
        except ResourceNotFoundException:
            current = None
        deploy.undo.append(lambda: _put_back(c, spec.api_id, current))
        created = current["created"] if current else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for authorizer in spec.authorizers:
            if authorizer.kind in ("REQUEST", "TOKEN"):
                c.functions.get(authorizer.function)       # the authorizer function must exist
        stage = Stage(spec.stage, dict(spec.stage_variables), spec.default_throttle, dict(spec.route_throttles),
                      spec.tracing)
        api = HttpApiDocument(spec.api_id, spec.name, spec.routes, (stage,), created, (), spec.authorizers, spec.cors,
                              spec.description, spec.protocol, spec.rest_cors, spec.binary_media_types,
                              spec.route_selection)
        if current is None or HttpApiDocument.from_dict(current) != api:
            c.store.put_api(spec.api_id, api.to_dict())

    def record(self, applied: list[tuple[ApiSpec, Any]]) -> list[str]:
        return [spec.api_id for spec, _ in applied]

    def remove(self, previous: Any, current: list[str], deploy: Deploy) -> None:
        for api_id in previous or []:
            if api_id not in current:
                _delete(deploy, api_id)

    def summary(self, spec: ApiSpec) -> list[str]:
        """Its routes, and where the gateway serves them."""
        prefix = f"/{spec.api_id}" + ("" if spec.stage == "$default" else f"/{spec.stage}")
        if spec.protocol == "WEBSOCKET":
            return [f"api {spec.logical_id} ({spec.api_id}): WebSocket route {r.route_key} -> {r.function} at "
                    f"<gateway, ws://>{prefix}" for r in spec.routes]
        return [f"api {spec.logical_id} ({spec.api_id}): {r.route_key} -> {route_target(r)} at <gateway>{prefix}"
                + ("/..." if r.route_key == "$default" else r.route_key.split(" ", 1)[1]) for r in spec.routes]

    def local_outputs(self, outputs: dict[str, Any], specs: list[ApiSpec], gateway_url: str) -> dict[str, Any]:
        return local_api_urls(outputs, {spec.api_id for spec in specs}, gateway_url)


def route_target(route: Any) -> str:
    """What a route integrates with, as deploys and ``cumulo apis list`` print it."""
    if route.integration_type == "HTTP_PROXY":
        return route.integration_uri
    if route.integration_type == "HTTP":
        return f"{route.integration_uri} (non-proxy)"
    if route.integration_type == "AWS":           # arn:aws:apigateway:<region>:sqs:path/... -> sqs:path/...
        return f"{route.function} (non-proxy)" if route.function else route.integration_uri.split(":", 4)[-1]
    return route.integration_subtype or route.function


def _names(entries: list[Entry], load: Load) -> Attributes:
    """What ``Ref`` and ``!GetAtt`` answer for the APIs (and raw AWS::ApiGateway::* resources) of a template."""
    attributes: Attributes = {}
    for entry in entries:
        api_id = api_id_for(load.stack, entry.logical_id)
        if entry.type in RAW_TYPES:          # AWS::ApiGateway::* and AWS::ApiGatewayV2::*
            ids = raw_ids(load.stack, entry.logical_id, entry.type, api_id) if entry.type in REST_RAW_TYPES else \
                raw_http_ids(load.stack, entry.logical_id, entry.type, api_id, load.region)
            for attribute, value in ids.items():
                attributes[(entry.logical_id, attribute)] = value
            if entry.type in ("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage"):
                try:
                    attributes[(entry.logical_id, "Ref")] = plain(resolve(entry.properties["StageName"],
                                                                          load.plain))
                except (IntrinsicError, KeyError):
                    pass
            continue
        attributes[(entry.logical_id, "Ref")] = api_id
        attributes[(entry.logical_id, "ApiEndpoint")] = f"https://{api_id}.execute-api.{load.region}.amazonaws.com"
        attributes[(entry.logical_id, "RootResourceId")] = api_id[:6]
        if entry.type == REST_API_TYPE and "StageName" in entry.properties:    # the stage SAM makes, by its names
            try:
                stage = plain(resolve(entry.properties["StageName"], load.plain))
            except IntrinsicError:
                continue
            if isinstance(stage, str):
                attributes[(f"{entry.logical_id}.Stage", "Ref")] = stage
                attributes[(f"{entry.logical_id}{re.sub(r'[^A-Za-z0-9]', '', stage)}Stage", "Ref")] = stage
    return attributes


def local_api_urls(outputs: dict[str, Any], api_ids: set[str], gateway_url: str) -> dict[str, Any]:
    """``outputs`` with each execute-api URL of one of ``api_ids``
    (``https://{api-id}.execute-api.{region}.amazonaws.com/{stage}/{path}``) given as the local
    gateway serves it (``{gateway_url}/{api-id}/{stage}/{path}``; a WebSocket API's ``wss://`` URL as
    ``ws://`` at the gateway). Other values are left alone:
    an API this deploy did not make is not served here."""
    def local(m: re.Match[str]) -> str:
        if m["api"] not in api_ids:
            return m[0]
        base = "ws" + gateway_url[4:] if m["scheme"].startswith("ws") and gateway_url.startswith("http") else gateway_url
        return f"{base}/{m['api']}"

    return {k: _EXECUTE_API.sub(local, v) if isinstance(v, str) else v for k, v in outputs.items()}


def _globals_http_api(load: Load) -> dict[str, Any]:
    return _globals_section(load, "HttpApi")


def _globals_section(load: Load, name: str) -> dict[str, Any]:
    section = load.globals.get(name)
    if section is None:
        return {}
    try:
        value = plain(resolve(section, load.scope))
    except IntrinsicError as exc:
        raise error(f"Globals.{name} (line {exc.line})", exc.message, line=exc.line) from None
    if not isinstance(value, dict):
        raise error(f"Globals.{name}", "must be a map")
    return value


def _put_back(c: Cumulo, api_id: str, doc: dict[str, Any] | None) -> None:
    """Undo: the API as it was (None: it did not exist)."""
    if doc is None:
        try:
            c.apis.delete_api(api_id)
        except ResourceNotFoundException:
            pass
    else:
        c.store.put_api(api_id, doc)


def _delete(deploy: Deploy, api_id: str) -> None:
    try:
        deploy.c.apis.delete_api(api_id)
    except ResourceNotFoundException:
        pass
