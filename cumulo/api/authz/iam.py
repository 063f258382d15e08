"""IAM's and STS's operations as IAM sees them (Service Authorization Reference, "AWS Identity and
Access Management", "AWS Security Token Service").

Role operations act on ``role/<RoleName>``; the request names no path except CreateRole's, so a
policy naming a role by its path (``role/app/*``) matches CreateRole only (a known gap). Policy
operations act on the policy's ARN (``PolicyArn``; ``policy<Path><PolicyName>`` for CreatePolicy).
AttachRolePolicy/DetachRolePolicy act on the role, with ``iam:PolicyARN`` as their condition key.
STS: GetCallerIdentity needs no permission (AWS: always allowed); AssumeRole is decided where it
runs, against the role's trust policy and the caller's own policies (``identity/service.py``);
GetSessionToken is refused to sessions there.
"""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS", "STS_OPERATIONS"]


def _global(scope: Scope, resource: str) -> str:
    return f"arn:{scope.partition}:iam::{scope.account}:{resource}"


def on_role(action: str, with_path: bool = False) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        path = text(call.doc.get("Path")) or "/" if with_path else "/"
        name = text(call.doc.get("RoleName")) or "*"
        context = {"iam:PolicyARN": text(call.doc.get("PolicyArn"))} if call.doc.get("PolicyArn") else {}
        return (Check(action, _global(scope, f"role{path}{name}"), context),)
    return mapper


def on_policy(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        arn = text(call.doc.get("PolicyArn"))
        if not arn.startswith("arn:"):
            path = text(call.doc.get("Path")) or "/"
            arn = _global(scope, f"policy{path}{text(call.doc.get('PolicyName')) or '*'}")
        return (Check(action, arn),)
    return mapper


def _nothing(call: Call, scope: Scope) -> tuple[Check, ...]:
    return ()


OPERATIONS: dict[str, Mapper] = {
    "CreateRole": on_role("iam:CreateRole", with_path=True),
    "GetRole": on_role("iam:GetRole"),
    "ListRoles": anywhere("iam:ListRoles"),
    "DeleteRole": on_role("iam:DeleteRole"),
    "UpdateRole": on_role("iam:UpdateRole"),
    "UpdateAssumeRolePolicy": on_role("iam:UpdateAssumeRolePolicy"),
    "PutRolePolicy": on_role("iam:PutRolePolicy"),
    "GetRolePolicy": on_role("iam:GetRolePolicy"),
    "ListRolePolicies": on_role("iam:ListRolePolicies"),
    "DeleteRolePolicy": on_role("iam:DeleteRolePolicy"),
    "AttachRolePolicy": on_role("iam:AttachRolePolicy"),
    "DetachRolePolicy": on_role("iam:DetachRolePolicy"),
    "ListAttachedRolePolicies": on_role("iam:ListAttachedRolePolicies"),
    "CreatePolicy": on_policy("iam:CreatePolicy"),
    "GetPolicy": on_policy("iam:GetPolicy"),
    "ListPolicies": anywhere("iam:ListPolicies"),
    "DeletePolicy": on_policy("iam:DeletePolicy"),
    "CreatePolicyVersion": on_policy("iam:CreatePolicyVersion"),
    "GetPolicyVersion": on_policy("iam:GetPolicyVersion"),
    "ListPolicyVersions": on_policy("iam:ListPolicyVersions"),
    "DeletePolicyVersion": on_policy("iam:DeletePolicyVersion"),
    "SetDefaultPolicyVersion": on_policy("iam:SetDefaultPolicyVersion"),
}

STS_OPERATIONS: dict[str, Mapper] = {
    "GetCallerIdentity": _nothing,
    "AssumeRole": _nothing,
    "GetSessionToken": _nothing,
}

register("iam", OPERATIONS)
register("sts", STS_OPERATIONS)
