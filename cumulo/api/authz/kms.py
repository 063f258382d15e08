"""KMS's operations as IAM sees them (Service Authorization Reference, "AWS Key Management Service"):
an operation on a key acts on ``arn:…:kms:<region>:<account>:key/<id>`` (``KeyId`` as an id or a key
ARN; an alias name or alias ARN is authorized on the alias's ARN here, as the mapping cannot read
which key it names); Decrypt without ``KeyId`` on the key whose id the ciphertext carries;
CreateAlias and DeleteAlias on the alias and the key; CreateKey, ListKeys and ListAliases on ``*``.
"""

from __future__ import annotations

import base64
import binascii

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS", "key_arn"]


def key_arn(ref: str, scope: Scope) -> str:
    if ref.startswith("arn:"):
        return ref
    if not ref:
        return "*"
    if ref.startswith("alias/"):
        return scope.arn("kms", ref)
    return scope.arn("kms", f"key/{ref}")


def _blob_key(blob: str) -> str:
    """The key id a ciphertext blob of Cumulo's carries ('' for anything else): b"CK1" then 36 characters."""
    try:
        raw = base64.b64decode(blob[:64], validate=False)
    except (binascii.Error, ValueError):
        return ""
    if not raw.startswith(b"CK1") or len(raw) < 39:
        return ""
    try:
        return raw[3:39].decode("ascii")
    except UnicodeDecodeError:
        return ""


def on_key(action: str, member: str = "KeyId") -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, key_arn(text(call.doc.get(member)), scope)),)
    return mapper


def decrypt(call: Call, scope: Scope) -> tuple[Check, ...]:
    ref = text(call.doc.get("KeyId")) or _blob_key(text(call.doc.get("CiphertextBlob")))
    return (Check("kms:Decrypt", key_arn(ref, scope)),)


def re_encrypt(call: Call, scope: Scope) -> tuple[Check, ...]:
    source = text(call.doc.get("SourceKeyId")) or _blob_key(text(call.doc.get("CiphertextBlob")))
    return (Check("kms:ReEncryptFrom", key_arn(source, scope)),
            Check("kms:ReEncryptTo", key_arn(text(call.doc.get("DestinationKeyId")), scope)))


def alias(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        checks = [Check(action, key_arn(text(call.doc.get("AliasName")), scope))]
        if call.doc.get("TargetKeyId") is not None:
            checks.append(Check(action, key_arn(text(call.doc.get("TargetKeyId")), scope)))
        return tuple(checks)
    return mapper


OPERATIONS: dict[str, Mapper] = {
    "CreateKey": anywhere("kms:CreateKey"),
    "DescribeKey": on_key("kms:DescribeKey"),
    "ListKeys": anywhere("kms:ListKeys"),
    "EnableKey": on_key("kms:EnableKey"),
    "DisableKey": on_key("kms:DisableKey"),
    "ScheduleKeyDeletion": on_key("kms:ScheduleKeyDeletion"),
    "CancelKeyDeletion": on_key("kms:CancelKeyDeletion"),
    "CreateAlias": alias("kms:CreateAlias"),
    "DeleteAlias": alias("kms:DeleteAlias"),
    "ListAliases": anywhere("kms:ListAliases"),
    "Encrypt": on_key("kms:Encrypt"),
    "Decrypt": decrypt,
    "ReEncrypt": re_encrypt,
    "GenerateDataKey": on_key("kms:GenerateDataKey"),
    "GenerateDataKeyWithoutPlaintext": on_key("kms:GenerateDataKeyWithoutPlaintext"),
    "PutKeyPolicy": on_key("kms:PutKeyPolicy"),
    "GetKeyPolicy": on_key("kms:GetKeyPolicy"),
    "ListKeyPolicies": on_key("kms:ListKeyPolicies"),
}

register("kms", OPERATIONS)
