"""``AWS::CodeDeploy::DeploymentConfig`` with ``ComputePlatform: Lambda``: a custom way of shifting an
alias's traffic, which a function's ``DeploymentPreference.Type`` names (``!Ref``), as SAM allows.
``TrafficRoutingConfig`` is ``AllAtOnce``, ``TimeBasedCanary`` (``CanaryPercentage``, then the rest
after ``CanaryInterval`` minutes) or ``TimeBasedLinear`` (``LinearPercentage`` more every
``LinearInterval`` minutes). Nothing is stored of it but the stack's record: each deployment keeps
the configuration it started with (functions/deployments.py).

``Ref`` is its name (``DeploymentConfigName``, or ``<stack>-<LogicalId>-<suffix>``: deploy/names.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error
from cumulo.deploy.names import stable_name
from cumulo.deploy.properties import plain
from cumulo.functions.deployments import PREDEFINED, DeploymentConfig as Config
from cumulo.model.function import Arns

__all__ = ["DeploymentConfigKind", "DEPLOYMENT_CONFIG_TYPE", "PLANNED"]

DEPLOYMENT_CONFIG_TYPE = "AWS::CodeDeploy::DeploymentConfig"
PLANNED = "deployment configs"          # Deploy.planned's key: name -> Config, for the function kind
_KNOWN = frozenset({"DeploymentConfigName", "ComputePlatform", "TrafficRoutingConfig", "MinimumHealthyHosts",
                    "ZonalConfig"})
_TYPES = {"TimeBasedCanary": ("CanaryPercentage", "CanaryInterval"),
          "TimeBasedLinear": ("LinearPercentage", "LinearInterval")}


@dataclass(frozen=True)
class DeploymentConfigSpec:
    logical_id: str
    line: int
    config: Config


class DeploymentConfigKind(Kind):
    name = "deployment config"
    types = (DEPLOYMENT_CONFIG_TYPE,)
    listed = 15
    record_key = "deployment_configs"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {entry.logical_id: _name(entry, load) for entry in entries}
        return named, {(logical_id, "Ref"): name for logical_id, name in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(DeploymentConfigSpec(entry.logical_id, entry.line, _read(named[entry.logical_id], props)))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def attributes(self, spec: DeploymentConfigSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.config.name}

    def plan(self, spec: DeploymentConfigSpec, deploy: Deploy) -> Change:
        deploy.planned.setdefault(PLANNED, {})[spec.config.name] = spec.config
        before = (deploy.before(self) or {}).get(spec.logical_id)
        action = "create" if before is None else "unchanged" if before == spec.config.to_doc() else "update"
        return Change(spec.logical_id, spec.config.name, action, kind=self.name)

    def removed(self, specs: list[DeploymentConfigSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.logical_id for spec in specs}
        return [Change(logical_id, doc["name"], "delete", kind=self.name)
                for logical_id, doc in sorted((deploy.before(self) or {}).items()) if logical_id not in wanted]

    def apply(self, spec: DeploymentConfigSpec, change: Change | None, deploy: Deploy) -> None:
        deploy.planned.setdefault(PLANNED, {})[spec.config.name] = spec.config   # for the functions' deployments

    def record(self, applied: list[tuple[DeploymentConfigSpec, Any]]) -> dict[str, Any]:
        return {spec.logical_id: spec.config.to_doc() for spec, _ in applied}

    def remove(self, previous: Any, current: Any, deploy: Deploy) -> None:
        """Nothing is kept of a configuration but the record (deployments keep their own copy)."""

    def summary(self, spec: DeploymentConfigSpec) -> list[str]:
        c = spec.config
        how = {"AllAtOnce": "all traffic at once",
               "TimeBasedCanary": f"{c.percentage}% of traffic, the rest after {c.interval_min} minutes",
               "TimeBasedLinear": f"{c.percentage}% more traffic every {c.interval_min} minutes"}[c.type]
        return [f"deployment config {c.name} ({spec.logical_id}): {how}"]


def _name(entry: Entry, load: Load) -> str:
    line = entry.properties.line_of("DeploymentConfigName")
    try:
        given = resolve(entry.properties.get("DeploymentConfigName", NO_VALUE), load.plain)
    except IntrinsicError as exc:
        raise error(entry.where, f"property DeploymentConfigName (line {line}): {exc.message}", entry.logical_id,
                    exc.line or line) from None
    if given is NO_VALUE:
        return stable_name(load.stack, entry.logical_id, 100)
    name = to_str(given)
    if not 1 <= len(name) <= 100 or name.startswith("CodeDeployDefault.") or name in PREDEFINED:
        raise error(entry.where, f"property DeploymentConfigName (line {line}): '{name[:120]}' must be 1 to 100 "
                    "characters and not a predefined configuration's name", entry.logical_id, line)
    return name


def _minutes_and_share(section: Any, percentage: str, interval: str) -> tuple[int, int]:
    if not isinstance(section, dict) or set(section) != {percentage, interval}:
        raise IntrinsicError(f"must be a map of {percentage} and {interval}")
    values = []
    for key, low, high in ((percentage, 1, 99), (interval, 1, 2880)):
        text = to_str(section[key])
        if not text.isdigit() or not low <= int(text) <= high:
            raise IntrinsicError(f"{key} must be an integer from {low} to {high}, got {text[:32]}")
        values.append(int(text))
    return values[0], values[1]


def _read(name: str, props: dict[str, Any]) -> Config:
    unknown = sorted(set(props) - _KNOWN)
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}'")
    platform = props.get("ComputePlatform", "Server")
    if platform != "Lambda":
        raise IntrinsicError(f"property ComputePlatform: {to_str(platform)} deployments are not Cumulo's: only "
                             "Lambda (an alias's traffic) is deployed here")
    if "MinimumHealthyHosts" in props:
        raise IntrinsicError("property MinimumHealthyHosts: is for EC2/On-premises deployments, not Lambda")
    routing = props.get("TrafficRoutingConfig")
    if not isinstance(routing, dict) or routing.get("Type") not in ("AllAtOnce", *_TYPES):
        raise IntrinsicError("property TrafficRoutingConfig: Type must be AllAtOnce, TimeBasedCanary or "
                             "TimeBasedLinear")
    kind = routing["Type"]
    extra = sorted(set(routing) - {"Type", kind})
    if extra:
        raise IntrinsicError(f"property TrafficRoutingConfig: unexpected key '{extra[0]}' for Type {kind}")
    if kind == "AllAtOnce":
        return Config(name, kind)
    try:
        share, minutes = _minutes_and_share(routing.get(kind), *_TYPES[kind])
    except IntrinsicError as exc:
        raise IntrinsicError(f"property TrafficRoutingConfig.{kind}: {exc.message}") from None
    return Config(name, kind, share, minutes)
