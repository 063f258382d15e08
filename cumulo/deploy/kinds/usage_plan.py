"""``AWS::ApiGateway::ApiKey``, ``AWS::ApiGateway::UsagePlan`` and ``AWS::ApiGateway::UsagePlanKey``: a REST
API's keys and usage plans, made in the gateway's usage plans (``gateway/usage.py``), which the gateway
enforces on methods that require a key.

- ``ApiKey``: ``Name`` (else ``<stack>-<LogicalId>-<suffix>``), ``Value`` (else 40 random characters),
  ``Enabled`` (CloudFormation's default: false), ``Description``; ``StageKeys``, ``CustomerId``,
  ``GenerateDistinctId`` and ``Tags`` are accepted with a note. ``Ref`` and ``APIKeyId``: the key's id.
- ``UsagePlan``: ``UsagePlanName``, ``Description``, ``ApiStages`` (``ApiId``, ``Stage``; a stage's
  per-method ``Throttle`` is noted and not applied), ``Throttle`` (``RateLimit``, ``BurstLimit``), ``Quota``
  (``Limit``, ``Period``). ``Ref`` and ``Id``: the plan's id.
- ``UsagePlanKey``: ``KeyId``, ``KeyType`` (``API_KEY``), ``UsagePlanId``. ``Ref``: the key's id.

A key's and a plan's ids are derived from stack and logical id, so ``Ref`` answers before the deploy and a
redeploy finds what the last one made. An API stage of the template must be one the template's API has
(checked when planning); another must exist.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import (
    Attributes, Change, Deploy, Entry, Kind, Load, TemplateError, property_error, quietly,
)
from cumulo.deploy.names import stable_name
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.gateway.model import HttpApi as HttpApiDocument
from cumulo.gateway.model import Throttle
from cumulo.gateway.usage import Quota
from cumulo.model.function import Arns

__all__ = ["UsagePlans", "API_KEY_TYPE", "USAGE_PLAN_TYPE", "USAGE_PLAN_KEY_TYPE"]

API_KEY_TYPE = "AWS::ApiGateway::ApiKey"
USAGE_PLAN_TYPE = "AWS::ApiGateway::UsagePlan"
USAGE_PLAN_KEY_TYPE = "AWS::ApiGateway::UsagePlanKey"
_KEY_PROPS = {"Name", "Value", "Enabled", "Description", "StageKeys", "CustomerId", "GenerateDistinctId", "Tags"}
_KEY_NOTED = {"StageKeys": "the key is tied to APIs by usage plans (UsagePlanKey), not by stage keys",
              "CustomerId": "no AWS Marketplace customer is recorded", "GenerateDistinctId": "ids are always distinct",
              "Tags": "API keys carry no tags on Cumulo"}
_PLAN_PROPS = {"UsagePlanName", "Description", "ApiStages", "Throttle", "Quota", "Tags"}
_PLAN_KEY_PROPS = {"KeyId", "KeyType", "UsagePlanId"}


@dataclass(frozen=True)
class ApiKeySpec:
    logical_id: str
    line: int
    key_id: str
    name: str
    value: str | None
    enabled: bool
    description: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanSpec:
    logical_id: str
    line: int
    plan_id: str
    name: str
    api_stages: tuple[tuple[str, str], ...]
    throttle: Throttle | None
    quota: Quota | None
    description: str
    notes: tuple[str, ...] = ()
    external: tuple[tuple[str, str], ...] = ()      # stages of APIs the template does not make


@dataclass(frozen=True)
class PlanKeySpec:
    logical_id: str
    line: int
    plan_id: str
    key_id: str


def _stable_id(stack: str, logical_id: str, length: int) -> str:
    digest = hashlib.sha256(f"usage-plans/{stack}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:length]


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise IntrinsicError(f"property {what}: must be a boolean, got {value!r}")


def _map(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntrinsicError(f"property {what}: must be a map")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise IntrinsicError(f"property {what}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")
    return value


def _number(value: Any, what: str) -> float:
    try:
        return float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        raise IntrinsicError(f"property {what}: must be a number, got {value!r}") from None


def _integer(value: Any, what: str) -> int:
    number = _number(value, what)
    if number != int(number):
        raise IntrinsicError(f"property {what}: must be an integer, got {value!r}")
    return int(number)


def _checked(make: Any, what: str) -> Any:
    try:
        return make()
    except CumuloError as exc:
        raise IntrinsicError(f"property {what}: {exc.message}") from None


class UsagePlans(Kind):
    name = "usage plan"
    types = (API_KEY_TYPE, USAGE_PLAN_TYPE, USAGE_PLAN_KEY_TYPE)
    after = ("api",)            # a plan's stages are the APIs'
    listed = 92
    record_key = "usage plans"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, str] = {}
        attributes: Attributes = {}
        for entry in entries:
            if entry.type == API_KEY_TYPE:
                named[entry.logical_id] = key_id = _stable_id(load.stack, entry.logical_id, 10)
                attributes[(entry.logical_id, "Ref")] = attributes[(entry.logical_id, "APIKeyId")] = key_id
            elif entry.type == USAGE_PLAN_TYPE:
                named[entry.logical_id] = plan_id = _stable_id(load.stack, entry.logical_id, 6)
                attributes[(entry.logical_id, "Ref")] = attributes[(entry.logical_id, "Id")] = plan_id
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        keys, plans, links = [], [], []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                if entry.type == API_KEY_TYPE:
                    keys.append(self._key(entry, props, named[entry.logical_id], load))
                elif entry.type == USAGE_PLAN_TYPE:
                    plans.append(self._plan(entry, props, named[entry.logical_id], load))
                else:
                    links.append(self._link(entry, props))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return [*keys, *plans, *links]

    def _key(self, entry: Entry, props: dict[str, Any], key_id: str, load: Load) -> ApiKeySpec:
        unknown = sorted(set(props) - _KEY_PROPS)
        if unknown:
            raise IntrinsicError(f"property {unknown[0]}: not a property of {API_KEY_TYPE}")
        name = to_str(props["Name"]) if "Name" in props else stable_name(load.stack, entry.logical_id, 1024)
        value = to_str(props["Value"]) if "Value" in props else None
        if value is not None and not (20 <= len(value) <= 128 and value.isascii() and value.isprintable()):
            raise IntrinsicError("property Value: API Key value should be at least 20 characters (printable "
                                 "ASCII, at most 128)")
        notes = tuple(f"{k} ignored: {why}" for k, why in _KEY_NOTED.items() if k in props)
        return ApiKeySpec(entry.logical_id, entry.line, key_id, name, value,
                          _bool(props.get("Enabled", False), "Enabled"), to_str(props.get("Description", "")), notes)

    def _plan(self, entry: Entry, props: dict[str, Any], plan_id: str, load: Load) -> PlanSpec:
        unknown = sorted(set(props) - _PLAN_PROPS)
        if unknown:
            raise IntrinsicError(f"property {unknown[0]}: not a property of {USAGE_PLAN_TYPE}")
        stages, notes = [], []
        apis = {api.api_id: api.stage for api in load.read.get("api", [])}     # the template's (read before)
        given = props.get("ApiStages", [])
        if not isinstance(given, list):
            raise IntrinsicError("property ApiStages: must be a list of ApiId and Stage")
        for n, item in enumerate(given):
            stage = _map(item, f"ApiStages[{n}]", {"ApiId", "Stage", "Throttle"})
            if "ApiId" not in stage or "Stage" not in stage:
                raise IntrinsicError(f"property ApiStages[{n}]: needs ApiId and Stage")
            api_id, name = to_str(stage["ApiId"]), to_str(stage["Stage"])
            if api_id in apis and apis[api_id] != name:
                raise IntrinsicError(f"property ApiStages[{n}]: Invalid stage identifier specified: {api_id}/{name} "
                                     f"(the API's stage is {apis[api_id]})")
            stages.append((api_id, name))
            if stage.get("Throttle"):
                notes.append(f"ApiStages[{n}].Throttle ignored: a plan's limits apply to every method of its stages")
        throttle = None
        if props.get("Throttle") is not None:
            doc = _map(props["Throttle"], "Throttle", {"RateLimit", "BurstLimit"})
            throttle = _checked(lambda: Throttle(_number(doc.get("RateLimit", 10_000), "Throttle.RateLimit"),
                                                 _integer(doc.get("BurstLimit", 5_000), "Throttle.BurstLimit")),
                                "Throttle")
        quota = None
        if props.get("Quota") is not None:
            doc = _map(props["Quota"], "Quota", {"Limit", "Period", "Offset"})
            if "Limit" not in doc or "Period" not in doc:
                raise IntrinsicError("property Quota: needs Limit and Period (DAY, WEEK or MONTH)")
            quota = _checked(lambda: Quota(_integer(doc["Limit"], "Quota.Limit"), to_str(doc["Period"]),
                                           _integer(doc.get("Offset", 0), "Quota.Offset")), "Quota")
        if "Tags" in props:
            notes.append("Tags ignored: usage plans carry no tags on Cumulo")
        name = to_str(props["UsagePlanName"]) if "UsagePlanName" in props else \
            stable_name(load.stack, entry.logical_id, 255)
        return PlanSpec(entry.logical_id, entry.line, plan_id, name, tuple(stages), throttle, quota,
                        to_str(props.get("Description", "")), tuple(notes),
                        tuple(stage for stage in stages if stage[0] not in apis))

    def _link(self, entry: Entry, props: dict[str, Any]) -> PlanKeySpec:
        unknown = sorted(set(props) - _PLAN_KEY_PROPS)
        if unknown:
            raise IntrinsicError(f"property {unknown[0]}: not a property of {USAGE_PLAN_KEY_TYPE}")
        for key in sorted(_PLAN_KEY_PROPS - set(props)):
            raise IntrinsicError(f"property {key}: required")
        if to_str(props["KeyType"]) != "API_KEY":
            raise IntrinsicError(f"property KeyType: must be API_KEY, not '{props['KeyType']}'")
        return PlanKeySpec(entry.logical_id, entry.line, to_str(props["UsagePlanId"]), to_str(props["KeyId"]))

    def attributes(self, spec: Any, arns: Arns) -> Attributes:
        if isinstance(spec, ApiKeySpec):
            return {(spec.logical_id, "Ref"): spec.key_id, (spec.logical_id, "APIKeyId"): spec.key_id}
        if isinstance(spec, PlanSpec):
            return {(spec.logical_id, "Ref"): spec.plan_id, (spec.logical_id, "Id"): spec.plan_id}
        return {(spec.logical_id, "Ref"): spec.key_id}

    def plan(self, spec: Any, deploy: Deploy) -> Change:
        plans = deploy.c.usage_plans
        if isinstance(spec, ApiKeySpec):
            current = _quiet(plans.get_key, spec.key_id)
            details = [] if current is None else [k for k, have, want in (
                ("Name", current.name, spec.name), ("Enabled", current.enabled, spec.enabled),
                ("Description", current.description, spec.description),
                ("Value", current.value, spec.value or current.value)) if have != want]
            return _change(spec.logical_id, spec.key_id, current is None, details, self.name)
        if isinstance(spec, PlanSpec):
            for api_id, stage in spec.external:
                _existing_stage(deploy, spec, api_id, stage)
            current = _quiet(plans.get_plan, spec.plan_id)
            details = [] if current is None else [k for k, have, want in (
                ("UsagePlanName", current.name, spec.name), ("ApiStages", current.api_stages, spec.api_stages),
                ("Throttle", current.throttle, spec.throttle), ("Quota", current.quota, spec.quota),
                ("Description", current.description, spec.description)) if have != want]
            return _change(spec.logical_id, spec.plan_id, current is None, details, self.name)
        plan = _quiet(plans.get_plan, spec.plan_id)
        linked = plan is not None and spec.key_id in plan.key_ids
        return _change(spec.logical_id, f"{spec.plan_id}:{spec.key_id}", not linked, [], self.name)

    def apply(self, spec: Any, change: Change | None, deploy: Deploy) -> Any:
        plans = deploy.c.usage_plans
        if isinstance(spec, ApiKeySpec):
            current = _quiet(plans.get_key, spec.key_id)
            if current is None:
                plans.create_key(spec.name, spec.value, spec.enabled, spec.description, key_id=spec.key_id)
                deploy.undo.append(lambda: quietly(plans.delete_key, spec.key_id))
            elif spec.value is not None and spec.value != current.value:
                raise TemplateError(f"Resource {spec.logical_id} (line {spec.line}): property Value: a key's value "
                                    "cannot change (CloudFormation replaces the key: give it another logical id)",
                                    logical_id=spec.logical_id, line=spec.line)
            else:
                plans.update_key(spec.key_id, name=spec.name, enabled=spec.enabled, description=spec.description)
                deploy.undo.append(lambda: plans.update_key(spec.key_id, name=current.name, enabled=current.enabled,
                                                            description=current.description))
            return spec.key_id
        if isinstance(spec, PlanSpec):
            current = _quiet(plans.get_plan, spec.plan_id)
            if current is None:
                plans.create_plan(spec.name, list(spec.api_stages), spec.throttle, spec.quota, spec.description,
                                  plan_id=spec.plan_id)
                deploy.undo.append(lambda: quietly(plans.delete_plan, spec.plan_id))
            else:
                plans.update_plan(spec.plan_id, name=spec.name, api_stages=spec.api_stages, throttle=spec.throttle,
                                  quota=spec.quota, description=spec.description)
                deploy.undo.append(lambda: plans.update_plan(
                    spec.plan_id, name=current.name, api_stages=current.api_stages, throttle=current.throttle,
                    quota=current.quota, description=current.description))
            return spec.plan_id
        plan = plans.get_plan(spec.plan_id)
        if spec.key_id not in plan.key_ids:
            plans.add_plan_key(spec.plan_id, spec.key_id)
            deploy.undo.append(lambda: quietly(plans.remove_plan_key, spec.plan_id, spec.key_id))
        return f"{spec.plan_id}:{spec.key_id}"

    def record(self, applied: list[tuple[Any, Any]]) -> dict[str, list[str]]:
        """What the stack made: ``keys``, ``plans`` and ``links`` (``plan:key``)."""
        out: dict[str, list[str]] = {"keys": [], "plans": [], "links": []}
        for spec, made in applied:
            out["keys" if isinstance(spec, ApiKeySpec) else "plans" if isinstance(spec, PlanSpec) else "links"].append(
                made)
        return out

    def remove(self, previous: Any, current: dict[str, list[str]], deploy: Deploy) -> None:
        plans = deploy.c.usage_plans
        previous = previous or {}
        for link in set(previous.get("links", ())) - set(current["links"]):
            plan_id, _, key_id = link.partition(":")
            quietly(plans.remove_plan_key, plan_id, key_id)
        for plan_id in set(previous.get("plans", ())) - set(current["plans"]):
            quietly(plans.delete_plan, plan_id)
        for key_id in set(previous.get("keys", ())) - set(current["keys"]):
            quietly(plans.delete_key, key_id)

    def summary(self, spec: Any) -> list[str]:
        if isinstance(spec, ApiKeySpec):
            return [f"API key {spec.logical_id} ({spec.key_id})"]
        if isinstance(spec, PlanSpec):
            return [f"usage plan {spec.name} ({spec.plan_id}) on " + ", ".join(f"{a}/{s}" for a, s in spec.api_stages)]
        return []


def _quiet(get: Any, *args: Any) -> Any:
    try:
        return get(*args)
    except CumuloError:
        return None


def _change(logical_id: str, physical: str, create: bool, details: list[str], kind: str) -> Change:
    return Change(logical_id, physical, "create" if create else "update" if details else "unchanged", details, kind)


def _existing_stage(deploy: Deploy, spec: PlanSpec, api_id: str, stage: str) -> None:
    """A stage of an API the template does not make must exist, as CreateUsagePlan checks it."""
    try:
        api = HttpApiDocument.from_dict(deploy.c.store.get_api(api_id))
    except CumuloError:
        api = None
    if api is None or api.stage(stage) is None:
        what = f"Invalid API identifier specified {api_id}" if api is None else \
            f"Invalid stage identifier specified: {api_id}/{stage}"
        raise TemplateError(f"Resource {spec.logical_id} (line {spec.line}): property ApiStages: {what}",
                            logical_id=spec.logical_id, line=spec.line)
