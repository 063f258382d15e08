"""The subset of AWS's ``apigateway`` API (REST-JSON) for API keys and usage plans.

boto3's ``apigateway`` client can create, read, enable/disable and delete API
keys; create, read, update and delete usage plans (stages, throttle, quota);
subscribe keys to plans; and read usage per key and day (GetUsage). Which
routes need a key is the route's ``apiKeyRequired`` (apigatewayv2) or the
template's ``Auth.ApiKeyRequired``. Names on the wire are camelCase.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from cumulo.api import shapes
from cumulo.api.http import Reply, Request, json_reply, match_route, route_table
from cumulo.app import Cumulo
from cumulo.gateway.model import BadRequestException, Throttle
from cumulo.gateway.usage import ApiKey, Quota, UsagePlan

__all__ = ["route"]

Handler = Callable[[Cumulo, Request, dict[str, str]], Reply]


def _key_doc(key: ApiKey, include_value: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": key.key_id, "name": key.name, "enabled": key.enabled, "description": key.description,
                           "createdDate": key.created, "lastUpdatedDate": key.created, "stageKeys": []}
    if include_value:
        doc["value"] = key.value
    return doc


def _plan_doc(plan: UsagePlan) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": plan.plan_id, "name": plan.name, "description": plan.description,
                           "apiStages": [{"apiId": a, "stage": s} for a, s in plan.api_stages]}
    if plan.throttle:
        doc["throttle"] = {"rateLimit": plan.throttle.rate, "burstLimit": plan.throttle.burst}
    if plan.quota:
        doc["quota"] = {"limit": plan.quota.limit, "period": plan.quota.period, "offset": plan.quota.offset}
    return doc


def _throttle(doc: Any) -> Throttle | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise BadRequestException("throttle must be an object")
    return Throttle(doc.get("rateLimit", 10_000.0), doc.get("burstLimit", 5_000))


def _quota(doc: Any) -> Quota | None:
    if doc is None:
        return None
    if not isinstance(doc, dict) or "limit" not in doc or "period" not in doc:
        raise BadRequestException("quota needs a limit and a period")
    return Quota(doc["limit"], doc["period"], doc.get("offset", 0))


def _stages(items: Any) -> list[tuple[str, str]]:
    if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("apiId") and i.get("stage") for i in items):
        raise BadRequestException("apiStages must be a list of {apiId, stage}")
    return [(i["apiId"], i["stage"]) for i in items]


def _patches(request: Request) -> list[dict[str, Any]]:
    """The body's patchOperations (their types were checked against the model: a list of objects)."""
    return [op for op in request.json().get("patchOperations") or [] if op is not None]


def _number(path: str, value: Any, kind: type) -> Any:
    """A patch operation's value (a string on the wire) as a number of ``kind``, in range."""
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise BadRequestException(f"Invalid patch value for {path}: {str(value)[:64]!r} is not a number") from None
    if not 0 <= number < 2**31 or number != number:
        raise BadRequestException(f"Invalid patch value for {path}: {str(value)[:64]!r} is out of range")
    return number


def _flag(request: Request, name: str) -> bool:
    return request.query().get(name, ["false"])[-1].lower() == "true"


def _day(request: Request, name: str) -> date:
    raw = request.query().get(name, [""])[-1]
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequestException(f"{name} must be a date (YYYY-MM-DD)") from None


# -- API keys -------------------------------------------------------------------------------
def create_api_key(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    doc = request.json()
    if not isinstance(doc.get("name"), str):
        raise BadRequestException("name is required")
    key = c.usage_plans.create_key(doc["name"], doc.get("value"), bool(doc.get("enabled", False)),
                                   doc.get("description", ""))
    return json_reply(_key_doc(key, True), 201)


def get_api_keys(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    values = _flag(request, "includeValues")
    name = request.query().get("name", [None])[-1]
    keys = [k for k in c.usage_plans.list_keys() if name is None or k.name.startswith(name)]
    return json_reply({"item": [_key_doc(k, values) for k in keys]})


def get_api_key(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(_key_doc(c.usage_plans.get_key(p["key"]), _flag(request, "includeValue")))


def update_api_key(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    changes: dict[str, Any] = {}
    for op in _patches(request):
        path, value = op.get("path"), op.get("value")
        if op.get("op") != "replace" or path not in ("/enabled", "/name", "/description"):
            raise BadRequestException(f"Invalid patch operation {op.get('op')} {path}")
        if not isinstance(value, str):
            raise BadRequestException(f"Invalid patch value for {path}: a string is required")
        changes[path[1:]] = value.lower() == "true" if path == "/enabled" else value
    return json_reply(_key_doc(c.usage_plans.update_key(p["key"], **changes), False))


def delete_api_key(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.usage_plans.delete_key(p["key"])
    return Reply(202)


# -- usage plans ------------------------------------------------------------------------------
def create_usage_plan(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    doc = request.json()
    plan = c.usage_plans.create_plan(doc.get("name", ""), _stages(doc.get("apiStages", [])),
                                     _throttle(doc.get("throttle")), _quota(doc.get("quota")),
                                     doc.get("description", ""))
    return json_reply(_plan_doc(plan), 201)


def get_usage_plans(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    key_id = request.query().get("keyId", [None])[-1]
    plans = [p for p in c.usage_plans.list_plans() if key_id is None or key_id in p.key_ids]
    return json_reply({"item": [_plan_doc(p) for p in plans]})


def get_usage_plan(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(_plan_doc(c.usage_plans.get_plan(p["plan"])))


def update_usage_plan(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    plan = c.usage_plans.get_plan(p["plan"])
    stages = list(plan.api_stages)
    changes: dict[str, Any] = {}
    for op in _patches(request):
        kind, path, value = op.get("op"), op.get("path", ""), op.get("value")
        if path == "/apiStages" and kind in ("add", "remove") and isinstance(value, str) and ":" in value:
            api_id, _, stage_name = value.partition(":")
            stage = (api_id, stage_name)
            stages = [*stages, stage] if kind == "add" else [s for s in stages if s != stage]
        elif kind == "replace" and path in ("/name", "/description"):
            changes[path[1:]] = value
        elif kind == "replace" and path in ("/throttle/rateLimit", "/throttle/burstLimit"):
            current = changes.get("throttle", plan.throttle) or Throttle(10_000.0, 5_000)
            changes["throttle"] = (Throttle(_number(path, value, float), current.burst) if path.endswith("rateLimit")
                                   else Throttle(current.rate, _number(path, value, int)))
        elif kind == "replace" and path in ("/quota/limit", "/quota/period"):
            current_q = changes.get("quota", plan.quota) or Quota(0)
            changes["quota"] = (Quota(_number(path, value, int), current_q.period) if path.endswith("limit")
                                else Quota(current_q.limit, str(value)))
        elif kind == "remove" and path in ("/throttle", "/quota"):
            changes[path[1:]] = None
        else:
            raise BadRequestException(f"Invalid patch operation {kind} {path}")
    updated = c.usage_plans.update_plan(plan.plan_id, api_stages=tuple(stages), **changes)
    return json_reply(_plan_doc(updated))


def delete_usage_plan(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.usage_plans.delete_plan(p["plan"])
    return Reply(202)


def create_usage_plan_key(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    if doc.get("keyType", "API_KEY") != "API_KEY":
        raise BadRequestException("keyType must be API_KEY")
    key = c.usage_plans.add_plan_key(p["plan"], str(doc.get("keyId", "")))
    return json_reply({"id": key.key_id, "type": "API_KEY", "name": key.name, "value": key.value}, 201)


def get_usage_plan_keys(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    plan = c.usage_plans.get_plan(p["plan"])
    keys = [c.usage_plans.get_key(k) for k in plan.key_ids]
    return json_reply({"item": [{"id": k.key_id, "type": "API_KEY", "name": k.name, "value": k.value} for k in keys]})


def delete_usage_plan_key(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.usage_plans.remove_plan_key(p["plan"], p["key"])
    return Reply(202)


def get_usage(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    first, last = _day(request, "startDate"), _day(request, "endDate")
    key_id = request.query().get("keyId", [None])[-1]
    items = c.usage_plans.usage(p["plan"], first, last, key_id)
    return json_reply({"usagePlanId": p["plan"], "startDate": first.isoformat(), "endDate": last.isoformat(),
                       "values": items})


ERRORS = shapes.Errors(body=BadRequestException, type=BadRequestException,
                       missing=lambda problems: BadRequestException(problems.missing_message()))


def _op(operation: str, handler: Handler) -> Handler:
    """``handler`` with its body parsed within limits and checked against the operation's model."""
    return shapes.guarded('apigateway', operation, handler, ERRORS)


_ROUTES = route_table([
        ("POST", "/apikeys", _op('CreateApiKey', create_api_key)),
        ("GET", "/apikeys", _op('GetApiKeys', get_api_keys)),
        ("GET", "/apikeys/(?P<key>[^/]+)", _op('GetApiKey', get_api_key)),
        ("PATCH", "/apikeys/(?P<key>[^/]+)", _op('UpdateApiKey', update_api_key)),
        ("DELETE", "/apikeys/(?P<key>[^/]+)", _op('DeleteApiKey', delete_api_key)),
        ("POST", "/usageplans", _op('CreateUsagePlan', create_usage_plan)),
        ("GET", "/usageplans", _op('GetUsagePlans', get_usage_plans)),
        ("GET", "/usageplans/(?P<plan>[^/]+)", _op('GetUsagePlan', get_usage_plan)),
        ("PATCH", "/usageplans/(?P<plan>[^/]+)", _op('UpdateUsagePlan', update_usage_plan)),
        ("DELETE", "/usageplans/(?P<plan>[^/]+)", _op('DeleteUsagePlan', delete_usage_plan)),
        ("POST", "/usageplans/(?P<plan>[^/]+)/keys", _op('CreateUsagePlanKey', create_usage_plan_key)),
        ("GET", "/usageplans/(?P<plan>[^/]+)/keys", _op('GetUsagePlanKeys', get_usage_plan_keys)),
        ("DELETE", "/usageplans/(?P<plan>[^/]+)/keys/(?P<key>[^/]+)", _op('DeleteUsagePlanKey', delete_usage_plan_key)),
        ("GET", "/usageplans/(?P<plan>[^/]+)/usage", _op('GetUsage', get_usage)),
])


def route(request: Request) -> tuple[Handler, dict[str, str]] | None:
    return match_route(_ROUTES, request)
