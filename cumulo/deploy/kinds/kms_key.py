"""``AWS::KMS::Key`` and ``AWS::KMS::Alias``: customer managed keys of Cumulo's KMS (``kms/service.py``)
and their aliases, so a template's secrets, parameters and functions can name a key it makes.

A key: ``Description``, ``Enabled`` (default true), ``KeyPolicy`` (an object or its JSON text; KMS's
default policy when absent), ``KeySpec`` ``SYMMETRIC_DEFAULT`` and ``KeyUsage`` ``ENCRYPT_DECRYPT``
(the only ones Cumulo's KMS makes), ``PendingWindowInDays`` (7–30, the wait when the template drops
it), ``Tags``; ``EnableKeyRotation``, ``RotationPeriodInDays``, ``MultiRegion`` and
``BypassPolicyLockoutSafetyCheck`` are accepted (rotation of key material is not done: noted). Its
id is derived from the stack and logical id, so ``Ref`` (the key id) and ``Fn::GetAtt`` ``Arn``/``KeyId``
are known before it exists; a key the template drops is scheduled for deletion, as CloudFormation
does, and one it brings back while still pending deletion is restored (CancelKeyDeletion).

An alias: ``AliasName`` (``alias/…``) and ``TargetKeyId`` (a key id or ARN); ``Ref`` is the name. A
changed target is UpdateAlias (delete and create); a dropped alias is deleted.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model.function import Arns

__all__ = ["KmsKey", "KmsAlias", "KEY_TYPE", "ALIAS_TYPE"]

KEY_TYPE = "AWS::KMS::Key"
ALIAS_TYPE = "AWS::KMS::Alias"
_KEY_PROPS = {"Description", "Enabled", "KeyPolicy", "KeySpec", "KeyUsage", "PendingWindowInDays", "Tags",
              "EnableKeyRotation", "RotationPeriodInDays", "MultiRegion", "BypassPolicyLockoutSafetyCheck", "Origin"}


def key_id(load: Load, logical_id: str) -> str:
    """The key id a template's key gets: the same for the same stack and logical id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cumulo:kms:{load.account}:{load.region}:{load.stack}/{logical_id}"))


@dataclass(frozen=True)
class KeySpec:
    logical_id: str
    line: int
    key_id: str
    arn: str
    description: str
    enabled: bool
    policy: str | None            # None: KMS's default policy
    pending_days: int
    tags: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()


class KmsKey(Kind):
    name = "kms key"
    types = (KEY_TYPE,)
    listed = 22
    record_key = "kms_keys"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {e.logical_id: key_id(load, e.logical_id) for e in entries}
        attributes: Attributes = {}
        for lid, kid in named.items():
            arn = f"arn:aws:kms:{load.region}:{load.account}:key/{kid}"
            attributes.update({(lid, "Ref"): kid, (lid, "Arn"): arn, (lid, "KeyId"): kid})
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(_read_key(entry, props, named[entry.logical_id], load))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def attributes(self, spec: KeySpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.key_id, (spec.logical_id, "Arn"): spec.arn,
                (spec.logical_id, "KeyId"): spec.key_id}

    def _details(self, spec: KeySpec, deploy: Deploy) -> list[str] | None:
        try:
            now = deploy.c.kms.describe_key(spec.key_id)
        except CumuloError:
            return None
        details = []
        if now.get("KeyState") == "PendingDeletion":
            details.append("KeyState")
        elif bool(now.get("Enabled")) != spec.enabled:
            details.append("Enabled")
        if (now.get("Description") or "") != spec.description:
            details.append("Description")
        if spec.policy is not None and deploy.c.kms.get_key_policy(spec.key_id)["Policy"] != spec.policy:
            details.append("KeyPolicy")
        return details

    def plan(self, spec: KeySpec, deploy: Deploy) -> Change:
        details = self._details(spec, deploy)
        if details is None:
            return Change(spec.logical_id, spec.key_id, "create", kind=self.name)
        return Change(spec.logical_id, spec.key_id, "update" if details else "unchanged", details, self.name)

    def apply(self, spec: KeySpec, change: Change | None, deploy: Deploy) -> None:
        kms = deploy.c.kms
        details = self._details(spec, deploy)
        if details is None:
            kms.create_key(spec.description, tags=[{"TagKey": k, "TagValue": v} for k, v in spec.tags],
                           policy=spec.policy, key_id=spec.key_id)
            deploy.undo.append(lambda: quietly(kms.schedule_deletion, spec.key_id, 7))
        else:
            if "KeyState" in details:      # brought back while pending deletion
                kms.cancel_deletion(spec.key_id)
            if "Description" in details:
                kms.update_description(spec.key_id, spec.description)
            if "KeyPolicy" in details and spec.policy is not None:
                kms.put_key_policy(spec.key_id, spec.policy)
        state = kms.describe_key(spec.key_id)
        if bool(state.get("Enabled")) != spec.enabled:
            (kms.enable if spec.enabled else kms.disable)(spec.key_id)

    def record(self, applied: list[tuple[KeySpec, Any]]) -> dict[str, list[Any]]:
        return {spec.logical_id: [spec.key_id, spec.pending_days] for spec, _ in applied}

    def removed(self, specs: list[KeySpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.key_id for spec in specs}
        return [Change(lid, held[0], "delete", kind=self.name)
                for lid, held in sorted((deploy.before(self) or {}).items()) if held[0] not in wanted]

    def remove(self, previous: Any, current: dict[str, list[Any]], deploy: Deploy) -> None:
        wanted = {held[0] for held in current.values()}
        for kid, days in (previous or {}).values():
            if kid not in wanted:
                quietly(deploy.c.kms.schedule_deletion, kid, days)

    def summary(self, spec: KeySpec) -> list[str]:
        return [f"kms key {spec.key_id} ({spec.logical_id})"] + [f"  note: {n}" for n in spec.notes]


def _read_key(entry: Entry, props: dict[str, Any], kid: str, load: Load) -> KeySpec:
    unknown = sorted(set(props) - _KEY_PROPS)
    if unknown:
        raise IntrinsicError(f"property {unknown[0]}: not a property of {KEY_TYPE}")
    for prop, only in (("KeySpec", "SYMMETRIC_DEFAULT"), ("KeyUsage", "ENCRYPT_DECRYPT"), ("Origin", "AWS_KMS")):
        if prop in props and to_str(props[prop]) != only:
            raise IntrinsicError(f"property {prop}: Cumulo's KMS makes {only} keys only, not {to_str(props[prop])}")
    policy = props.get("KeyPolicy")
    text = None if policy is None else policy if isinstance(policy, str) else json.dumps(policy, separators=(",", ":"))
    days = props.get("PendingWindowInDays", 30)
    if isinstance(days, str) and days.isdigit():
        days = int(days)
    if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 30:
        raise IntrinsicError("property PendingWindowInDays: must be an integer from 7 to 30")
    enabled = props.get("Enabled", True)
    if isinstance(enabled, str):
        enabled = enabled.lower() == "true"
    tags = props.get("Tags") or []
    if not isinstance(tags, list) or any(not isinstance(t, dict) or "Key" not in t or "Value" not in t for t in tags):
        raise IntrinsicError("property Tags: a list of {Key, Value}")
    notes: tuple[str, ...] = ()
    if str(props.get("EnableKeyRotation", "false")).lower() == "true":
        notes = ("EnableKeyRotation: Cumulo does not rotate a key's material (the key works as on AWS otherwise)",)
    return KeySpec(entry.logical_id, entry.line, kid, f"arn:aws:kms:{load.region}:{load.account}:key/{kid}",
                   to_str(props.get("Description", "")), bool(enabled), text, days,
                   tuple((to_str(t["Key"]), to_str(t["Value"])) for t in tags), notes)


@dataclass(frozen=True)
class AliasSpec:
    logical_id: str
    line: int
    name: str
    target: str


class KmsAlias(Kind):
    name = "kms alias"
    types = (ALIAS_TYPE,)
    after = ("kms key",)
    listed = 22
    record_key = "kms_aliases"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, Any] = {}
        for entry in entries:
            try:
                named[entry.logical_id] = to_str(resolve(entry.properties.get("AliasName"), load.plain))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return named, {(lid, "Ref"): name for lid, name in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                unknown = sorted(set(props) - {"AliasName", "TargetKeyId"})
                if unknown:
                    raise IntrinsicError(f"property {unknown[0]}: not a property of {ALIAS_TYPE}")
                name = named[entry.logical_id]
                if not name.startswith("alias/") or name.startswith("alias/aws/"):
                    raise IntrinsicError(f"property AliasName: {name} must begin with alias/ (and not alias/aws/)")
                if "TargetKeyId" not in props:
                    raise IntrinsicError("property TargetKeyId: required")
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            target = to_str(props["TargetKeyId"])
            specs.append(AliasSpec(entry.logical_id, entry.line, name, target.rsplit("/", 1)[-1]))
        return specs

    def attributes(self, spec: AliasSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.name}

    def _target(self, spec: AliasSpec, deploy: Deploy) -> str | None:
        return next((a["TargetKeyId"] for a in deploy.c.kms.list_aliases() if a["AliasName"] == spec.name), None)

    def plan(self, spec: AliasSpec, deploy: Deploy) -> Change:
        now = self._target(spec, deploy)
        action = "create" if now is None else "unchanged" if now == spec.target else "update"
        return Change(spec.logical_id, spec.name, action, kind=self.name)

    def apply(self, spec: AliasSpec, change: Change | None, deploy: Deploy) -> None:
        kms = deploy.c.kms
        now = self._target(spec, deploy)
        if now == spec.target:
            return
        if now is not None:
            kms.delete_alias(spec.name)
        kms.create_alias(spec.name, spec.target)
        deploy.undo.append(lambda: _put_back(kms, spec.name, now))

    def record(self, applied: list[tuple[AliasSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def removed(self, specs: list[AliasSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(lid, name, "delete", kind=self.name)
                for lid, name in sorted((deploy.before(self) or {}).items()) if name not in wanted]

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.kms.delete_alias, name)

    def summary(self, spec: AliasSpec) -> list[str]:
        return [f"kms alias {spec.name} ({spec.logical_id}) -> {spec.target}"]


def _put_back(kms: Any, name: str, target: str | None) -> None:
    quietly(kms.delete_alias, name)
    if target is not None:
        quietly(kms.create_alias, name, target)
