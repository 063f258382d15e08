"""``AWS::SecretsManager::RotationSchedule``: a secret's rotation, as RotateSecret configures it
(``secrets/service.py``). ``SecretId`` is the secret (``!Ref`` of one: its ARN), ``RotationLambdaARN``
the rotation function (whose policy must let ``secretsmanager.amazonaws.com`` invoke it: an
``AWS::Lambda::Permission``), ``RotationRules`` the schedule (``AutomaticallyAfterDays`` or
``ScheduleExpression``, ``Duration``); ``RotateImmediatelyOnUpdate`` (default true) rotates once the
rotation is set or changed. A deploy by a process that serves no API (``cumulo deploy`` beside
``cumulo up``) leaves that first rotation to the server's worker, which starts it within a second.
``HostedRotationLambda`` (AWS's own rotation functions) is refused: write the function and name it.
Dropped from the template, the secret's rotation is cancelled. ``Ref`` is the secret's ARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, quietly
from cumulo.deploy.kinds.secret_attachment import SecretAttachment
from cumulo.errors import CumuloError
from cumulo.model import secrets as sm
from cumulo.model.function import Arns

__all__ = ["RotationSchedule", "ROTATION_SCHEDULE_TYPE"]

ROTATION_SCHEDULE_TYPE = "AWS::SecretsManager::RotationSchedule"
_KNOWN = {"SecretId", "RotationLambdaARN", "RotationRules", "RotateImmediatelyOnUpdate", "HostedRotationLambda"}


@dataclass(frozen=True)
class RotationSpec:
    logical_id: str
    line: int
    secret: str                    # the secret's ARN or name, as the template gives it
    function: str
    rules: tuple[tuple[str, Any], ...]
    immediately: bool

    @property
    def rules_doc(self) -> dict[str, Any]:
        return dict(self.rules)


class RotationSchedule(SecretAttachment):
    name = "rotation schedule"
    types = (ROTATION_SCHEDULE_TYPE,)
    after = ("secret", "function", "permission")
    listed = 77
    record_key = "rotation_schedules"

    def attributes(self, spec: RotationSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.secret}

    def plan(self, spec: RotationSpec, deploy: Deploy) -> Change:
        current = _current(deploy, spec.secret)
        if current is None or not current.get("RotationEnabled"):
            return Change(spec.logical_id, spec.secret, "create", kind=self.name)
        details = [key for key, same in (
            ("RotationLambdaARN", current.get("RotationLambdaARN") == spec.function),
            ("RotationRules", _kept_rules(current) == spec.rules_doc)) if not same]
        return Change(spec.logical_id, spec.secret, "update" if details else "unchanged", details, self.name)

    def apply(self, spec: RotationSpec, change: Change | None, deploy: Deploy) -> None:
        if self.plan(spec, deploy).action == "unchanged":
            return
        secrets = deploy.c.secrets
        secrets.rotate_secret(spec.secret, spec.function, spec.rules_doc, spec.immediately,
                              run_here=bool(deploy.c.endpoint_url))
        deploy.undo.append(lambda: quietly(secrets.cancel_rotate_secret, spec.secret))

    def parse(self, entry: Entry, props: dict[str, Any]) -> RotationSpec:
        return _read(entry, props)

    def detach(self, deploy: Deploy, secret: str) -> None:
        deploy.c.secrets.cancel_rotate_secret(secret)

    def summary(self, spec: RotationSpec) -> list[str]:
        return [f"rotation of {spec.secret} ({spec.logical_id}): {spec.function}, {spec.rules_doc}"]


def _read(entry: Entry, props: dict[str, Any]) -> RotationSpec:
    unknown = sorted(set(props) - _KNOWN)
    if unknown:
        raise IntrinsicError(f"property {unknown[0]}: not a property of {ROTATION_SCHEDULE_TYPE}")
    if "HostedRotationLambda" in props:
        raise IntrinsicError("property HostedRotationLambda: Cumulo does not make AWS's hosted rotation functions; "
                             "write the rotation function and give its RotationLambdaARN")
    for key in ("SecretId", "RotationLambdaARN", "RotationRules"):
        if key not in props:
            raise IntrinsicError(f"property {key}: required")
    rules = props["RotationRules"]
    if isinstance(rules, dict) and "AutomaticallyAfterDays" in rules:
        try:
            rules = {**rules, "AutomaticallyAfterDays": int(to_str(rules["AutomaticallyAfterDays"]))}
        except ValueError:
            raise IntrinsicError("property RotationRules.AutomaticallyAfterDays: must be a number") from None
    try:
        checked = sm.check_rotation_rules(rules)
    except sm.SecretsError as exc:
        raise IntrinsicError(f"property RotationRules: {exc.message}") from None
    immediately = to_str(props.get("RotateImmediatelyOnUpdate", "true")).lower() != "false"
    return RotationSpec(entry.logical_id, entry.line, to_str(props["SecretId"]), to_str(props["RotationLambdaARN"]),
                        tuple(sorted(checked.items())), immediately)


def _current(deploy: Deploy, secret: str) -> dict[str, Any] | None:
    try:
        return deploy.c.secrets.describe_secret(secret)  # type: ignore[no-any-return]
    except CumuloError:
        return None


def _kept_rules(described: dict[str, Any]) -> dict[str, Any]:
    """The rules as given: DescribeSecret adds AutomaticallyAfterDays to a rate in days."""
    rules = dict(described.get("RotationRules") or {})
    if "ScheduleExpression" in rules:
        rules.pop("AutomaticallyAfterDays", None)
    return rules
