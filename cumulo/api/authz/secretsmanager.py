"""Secrets Manager's operations as IAM sees them (Service Authorization Reference, "AWS Secrets
Manager"): every operation on a secret acts on the secret's ARN (``SecretId``: a name, a partial or
a full ARN; CreateSecret's ``Name``). Cumulo's ARNs end in a suffix derived from the account and the
name (``model/secrets.py``; ``arn_suffix`` here computes the same, a test holds them together), so
a name reaches the ARN a policy names. ListSecrets and GetRandomPassword act on ``*``;
BatchGetSecretValue is ``secretsmanager:BatchGetSecretValue`` on ``*`` and GetSecretValue on each
secret it names (with ``Filters`` instead: ListSecrets, and GetSecretValue on every secret).
"""

from __future__ import annotations

import hashlib
import string

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS", "secret_arn", "arn_suffix"]

_ALPHABET = string.ascii_letters + string.digits


def arn_suffix(account: str, name: str) -> str:
    digest = hashlib.sha256(f"{account}\0{name}".encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:6])


def secret_arn(secret_id: str, scope: Scope) -> str:
    """The ARN of the secret ``secret_id`` names."""
    if not secret_id:
        return "*"
    if secret_id.startswith("arn:"):
        parts = secret_id.split(":", 6)
        if len(parts) != 7:
            return secret_id
        name = parts[6]
        if len(name) > 7 and name[-7] == "-" and arn_suffix(parts[4], name[:-7]) == name[-6:]:
            return secret_id
        return f"{secret_id}-{arn_suffix(parts[4], name)}"
    return scope.arn("secretsmanager", f"secret:{secret_id}-{arn_suffix(scope.account, secret_id)}")


def on_secret(action: str, member: str = "SecretId") -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, secret_arn(text(call.doc.get(member)), scope)),)
    return mapper


def batch_get(call: Call, scope: Scope) -> tuple[Check, ...]:
    ids = call.doc.get("SecretIdList")
    first = Check("secretsmanager:BatchGetSecretValue", "*")
    if isinstance(ids, list):
        return (first,) + tuple(Check("secretsmanager:GetSecretValue", secret_arn(text(i), scope)) for i in ids)
    return (first, Check("secretsmanager:ListSecrets", "*"),
            Check("secretsmanager:GetSecretValue", scope.arn("secretsmanager", "secret:*")))


def rotate(call: Call, scope: Scope) -> tuple[Check, ...]:
    """RotateSecret, and ``lambda:InvokeFunction`` on the rotation function it names (the API
    Reference's "You also need lambda:InvokeFunction permissions on the rotation function")."""
    first = Check("secretsmanager:RotateSecret", secret_arn(text(call.doc.get("SecretId")), scope))
    function = text(call.doc.get("RotationLambdaARN"))
    return (first, Check("lambda:InvokeFunction", function)) if function else (first,)


OPERATIONS: dict[str, Mapper] = {
    "CreateSecret": on_secret("secretsmanager:CreateSecret", "Name"),
    "PutSecretValue": on_secret("secretsmanager:PutSecretValue"),
    "UpdateSecret": on_secret("secretsmanager:UpdateSecret"),
    "GetSecretValue": on_secret("secretsmanager:GetSecretValue"),
    "BatchGetSecretValue": batch_get,
    "DescribeSecret": on_secret("secretsmanager:DescribeSecret"),
    "ListSecrets": anywhere("secretsmanager:ListSecrets"),
    "ListSecretVersionIds": on_secret("secretsmanager:ListSecretVersionIds"),
    "UpdateSecretVersionStage": on_secret("secretsmanager:UpdateSecretVersionStage"),
    "DeleteSecret": on_secret("secretsmanager:DeleteSecret"),
    "RestoreSecret": on_secret("secretsmanager:RestoreSecret"),
    "GetRandomPassword": anywhere("secretsmanager:GetRandomPassword"),
    "TagResource": on_secret("secretsmanager:TagResource"),
    "UntagResource": on_secret("secretsmanager:UntagResource"),
    "RotateSecret": rotate,
    "CancelRotateSecret": on_secret("secretsmanager:CancelRotateSecret"),
    "PutResourcePolicy": on_secret("secretsmanager:PutResourcePolicy"),
    "GetResourcePolicy": on_secret("secretsmanager:GetResourcePolicy"),
    "DeleteResourcePolicy": on_secret("secretsmanager:DeleteResourcePolicy"),
    "ValidateResourcePolicy": on_secret("secretsmanager:ValidateResourcePolicy"),
}

register("secretsmanager", OPERATIONS)
