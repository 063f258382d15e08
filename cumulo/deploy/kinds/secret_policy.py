"""``AWS::SecretsManager::ResourcePolicy``: a secret's resource policy, as PutResourcePolicy keeps it
(``secrets/service.py``). ``SecretId`` is the secret (``!Ref`` of one: its ARN), ``ResourcePolicy``
the policy (an object, or its JSON text), ``BlockPublicPolicy`` refuses a public one. Dropped from
the template, the secret's policy is deleted. ``Ref`` is the secret's ARN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, quietly
from cumulo.deploy.kinds.secret_attachment import SecretAttachment
from cumulo.errors import CumuloError
from cumulo.model.function import Arns

__all__ = ["SecretPolicy", "SECRET_POLICY_TYPE"]

SECRET_POLICY_TYPE = "AWS::SecretsManager::ResourcePolicy"
_KNOWN = {"SecretId", "ResourcePolicy", "BlockPublicPolicy"}


@dataclass(frozen=True)
class SecretPolicySpec:
    logical_id: str
    line: int
    secret: str
    policy: str           # the policy's JSON text
    block_public: bool


class SecretPolicy(SecretAttachment):
    name = "secret policy"
    types = (SECRET_POLICY_TYPE,)
    after = ("secret",)
    listed = 78
    record_key = "secret_policies"

    def attributes(self, spec: SecretPolicySpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.secret, (spec.logical_id, "Id"): spec.secret}

    def plan(self, spec: SecretPolicySpec, deploy: Deploy) -> Change:
        current = _current(deploy, spec.secret)
        if current is None:
            return Change(spec.logical_id, spec.secret, "create", kind=self.name)
        same = json.loads(current) == json.loads(spec.policy)
        return Change(spec.logical_id, spec.secret, "unchanged" if same else "update",
                      [] if same else ["ResourcePolicy"], self.name)

    def apply(self, spec: SecretPolicySpec, change: Change | None, deploy: Deploy) -> None:
        before = _current(deploy, spec.secret)
        if before is not None and json.loads(before) == json.loads(spec.policy):
            return
        secrets = deploy.c.secrets
        secrets.put_resource_policy(spec.secret, spec.policy, spec.block_public)
        if before is None:
            deploy.undo.append(lambda: quietly(secrets.delete_resource_policy, spec.secret))
        else:
            deploy.undo.append(lambda: quietly(secrets.put_resource_policy, spec.secret, before))

    def parse(self, entry: Entry, props: dict[str, Any]) -> SecretPolicySpec:
        return _read(entry, props)

    def detach(self, deploy: Deploy, secret: str) -> None:
        deploy.c.secrets.delete_resource_policy(secret)

    def summary(self, spec: SecretPolicySpec) -> list[str]:
        return [f"resource policy of {spec.secret} ({spec.logical_id})"]


def _read(entry: Entry, props: dict[str, Any]) -> SecretPolicySpec:
    unknown = sorted(set(props) - _KNOWN)
    if unknown:
        raise IntrinsicError(f"property {unknown[0]}: not a property of {SECRET_POLICY_TYPE}")
    for key in ("SecretId", "ResourcePolicy"):
        if key not in props:
            raise IntrinsicError(f"property {key}: required")
    policy = props["ResourcePolicy"]
    if isinstance(policy, str):
        try:
            json.loads(policy)
        except ValueError:
            raise IntrinsicError("property ResourcePolicy: not a JSON policy") from None
    elif isinstance(policy, dict):
        policy = json.dumps(policy)
    else:
        raise IntrinsicError("property ResourcePolicy: must be a policy document")
    block = to_str(props.get("BlockPublicPolicy", "false")).lower() == "true"
    return SecretPolicySpec(entry.logical_id, entry.line, to_str(props["SecretId"]), policy, block)


def _current(deploy: Deploy, secret: str) -> str | None:
    try:
        return deploy.c.secrets.get_resource_policy(secret).get("ResourcePolicy")  # type: ignore[no-any-return]
    except CumuloError:
        return None
