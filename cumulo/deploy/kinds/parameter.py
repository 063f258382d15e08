"""``AWS::SSM::Parameter``: a Parameter Store parameter (``String`` or ``StringList``, as CloudFormation
allows; ``SecureString`` is refused there too). ``Name`` (or ``CFN-<LogicalId>-<suffix>``), ``Type``,
``Value``, ``Description``, ``AllowedPattern``, ``Tier``, ``DataType``, ``Tags`` (a map); ``Policies``
is accepted with a warning. A change of value, type or description is a new version (PutParameter
with Overwrite); a parameter the template drops is deleted.

``Ref`` is the parameter's name; ``Fn::GetAtt`` gives ``Type`` and ``Value``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model import parameters as pm
from cumulo.model.function import Arns

__all__ = ["Parameter", "PARAMETER_TYPE"]

PARAMETER_TYPE = "AWS::SSM::Parameter"
_KNOWN = {"Name", "Type", "Value", "Description", "AllowedPattern", "Tier", "DataType", "Tags", "Policies"}


@dataclass(frozen=True)
class ParameterSpec:
    logical_id: str
    line: int
    name: str
    type: str
    value: str
    description: str | None = None
    allowed_pattern: str | None = None
    tier: str | None = None
    data_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _name(load: Load, entry: Entry) -> str:
    try:
        given = resolve(entry.properties.get("Name", NO_VALUE), load.plain)
    except IntrinsicError as exc:
        raise property_error(entry, exc) from None
    if given is NO_VALUE:
        suffix = hashlib.sha256(f"{load.stack}:{entry.logical_id}".encode()).hexdigest()[:12].upper()
        return f"CFN-{entry.logical_id}-{suffix}"
    try:
        return pm.check_name(to_str(given))
    except pm.ParamError as exc:
        raise error(entry.where, f"property Name: {exc.message}", entry.logical_id,
                    entry.properties.line_of("Name")) from None


class Parameter(Kind):
    name = "parameter"
    types = (PARAMETER_TYPE,)
    listed = 24
    record_key = "parameters"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {entry.logical_id: _name(load, entry) for entry in entries}
        return named, {(lid, "Ref"): name for lid, name in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                unknown = sorted(set(props) - _KNOWN)
                if unknown:
                    raise IntrinsicError(f"property {unknown[0]}: not a property of {PARAMETER_TYPE}")
                kind = to_str(props.get("Type", ""))
                if kind not in ("String", "StringList"):
                    raise IntrinsicError(f"property Type: must be String or StringList (CloudFormation does not "
                                         f"create SecureString parameters), not '{kind}'")
                if "Value" not in props:
                    raise IntrinsicError("property Value: required")
                value = props["Value"]
                value = ",".join(to_str(v) for v in value) if isinstance(value, list) else to_str(value)
                tags = props.get("Tags") or {}
                if not isinstance(tags, dict):
                    raise IntrinsicError("property Tags: must be a map of tag keys to values")
                opt = {k: to_str(props[k]) if k in props else None
                       for k in ("Description", "AllowedPattern", "Tier", "DataType")}
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            notes = ("Policies: parameter policies (expiration, notifications) do not run on Cumulo",) \
                if "Policies" in props else ()
            specs.append(ParameterSpec(entry.logical_id, entry.line, named[entry.logical_id], kind, value,
                                       opt["Description"], opt["AllowedPattern"], opt["Tier"], opt["DataType"],
                                       {str(k): to_str(v) for k, v in tags.items()}, notes))
        return specs

    def attributes(self, spec: ParameterSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.name, (spec.logical_id, "Type"): spec.type,
                (spec.logical_id, "Value"): spec.value}

    def _details(self, spec: ParameterSpec, deploy: Deploy) -> list[str] | None:
        try:
            now = deploy.c.parameters.get(spec.name)
        except CumuloError:
            return None
        meta = next((p for p in deploy.c.parameters.describe(parameter_filters=[
            {"Key": "Name", "Values": [spec.name]}]) if p["Name"] == spec.name), {})
        details = [k for k, have, want in (("Value", now["Value"], spec.value), ("Type", now["Type"], spec.type),
                                            ("Description", meta.get("Description"), spec.description))
                   if have != want and not (k == "Description" and not have and not want)]
        return details

    def plan(self, spec: ParameterSpec, deploy: Deploy) -> Change:
        details = self._details(spec, deploy)
        if details is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def apply(self, spec: ParameterSpec, change: Change | None, deploy: Deploy) -> None:
        details = self._details(spec, deploy)
        if details == []:
            return
        params = deploy.c.parameters
        creating = details is None
        before: dict[str, Any] = {} if creating else params.get(spec.name)
        tags = [{"Key": k, "Value": v} for k, v in spec.tags.items()] if creating and spec.tags else None
        params.put_parameter(spec.name, spec.value, spec.type, spec.description, None, not creating,
                             spec.allowed_pattern, tags, spec.tier, None, spec.data_type,
                             user=f"arn:aws:iam::{deploy.c.arns.account}:root")
        if creating:
            deploy.undo.append(lambda: quietly(params.delete, spec.name))
        else:       # put back what it held: a version more, with the old value
            deploy.undo.append(lambda: params.put_parameter(spec.name, before["Value"], before["Type"], overwrite=True))

    def record(self, applied: list[tuple[ParameterSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def removed(self, specs: list[ParameterSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(lid, name, "delete", kind=self.name) for lid, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted]

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.parameters.delete, name)

    def summary(self, spec: ParameterSpec) -> list[str]:
        return [f"parameter {spec.name} ({spec.logical_id}): {spec.type}"]
