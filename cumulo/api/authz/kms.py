"""KMS's operations as IAM sees them (Service Authorization Reference, "AWS Key Management Service"):
an operation on a key acts on ``arn:…:kms:<region>:<account>:key/<id>`` (``KeyId`` as an id or a key
ARN; an alias name or alias ARN is authorized on the alias's ARN here, as the mapping cannot read
which key it names); Decrypt without ``KeyId`` on the key whose id the ciphertext carries;
CreateAlias and DeleteAlias on the alias and the key; CreateKey, ListKeys and ListAliases on ``*``.
A request's encryption context is given as ``kms:EncryptionContext:<key>`` (and
``kms:EncryptionContextKeys``), which key policies and grants' constraints read; CreateGrant carries
``kms:GranteePrincipal``, ``kms:RetiringPrincipal`` and ``kms:GrantOperations``. RetireGrant acts
on the key its grant token (or ``KeyId``) names, the grant's id carried as ``cumulo:grant-id``: the
grant decides (its retiring principal or a grantee it allows may retire it without any policy);
ListRetirableGrants acts on ``*``.
"""

from __future__ import annotations

import base64
import binascii

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS", "key_arn", "ENCRYPTION_CONTEXT", "GRANT_ID", "encryption_context_of"]

ENCRYPTION_CONTEXT = "kms:EncryptionContext:"


def _context_keys(context: object) -> dict[str, object]:
    """A request's encryption context as IAM's condition keys."""
    if not isinstance(context, dict) or not context:
        return {}
    pairs = {k: v for k, v in context.items() if isinstance(k, str) and isinstance(v, str)}
    return {**{ENCRYPTION_CONTEXT + k: v for k, v in pairs.items()}, "kms:EncryptionContextKeys": sorted(pairs)}


def encryption_context_of(condition_keys: dict[str, object]) -> dict[str, str]:
    """The encryption context a check's condition keys carry (what ``_context_keys`` made)."""
    return {k[len(ENCRYPTION_CONTEXT):]: str(v) for k, v in condition_keys.items() if k.startswith(ENCRYPTION_CONTEXT)}


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


def on_key(action: str, member: str = "KeyId", context: str = "") -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        keys = _context_keys(call.doc.get(context)) if context else {}
        return (Check(action, key_arn(text(call.doc.get(member)), scope), keys),)
    return mapper


def decrypt(call: Call, scope: Scope) -> tuple[Check, ...]:
    ref = text(call.doc.get("KeyId")) or _blob_key(text(call.doc.get("CiphertextBlob")))
    return (Check("kms:Decrypt", key_arn(ref, scope), _context_keys(call.doc.get("EncryptionContext"))),)


def re_encrypt(call: Call, scope: Scope) -> tuple[Check, ...]:
    source = text(call.doc.get("SourceKeyId")) or _blob_key(text(call.doc.get("CiphertextBlob")))
    return (Check("kms:ReEncryptFrom", key_arn(source, scope), _context_keys(call.doc.get("SourceEncryptionContext"))),
            Check("kms:ReEncryptTo", key_arn(text(call.doc.get("DestinationKeyId")), scope),
                  _context_keys(call.doc.get("DestinationEncryptionContext"))))


def create_grant(call: Call, scope: Scope) -> tuple[Check, ...]:
    keys: dict[str, object] = {"kms:GranteePrincipal": text(call.doc.get("GranteePrincipal"))}
    if call.doc.get("RetiringPrincipal") is not None:
        keys["kms:RetiringPrincipal"] = text(call.doc.get("RetiringPrincipal"))
    operations = call.doc.get("Operations")
    if isinstance(operations, list):
        keys["kms:GrantOperations"] = [text(o) for o in operations]
    keys["kms:GrantIsForAWSResource"] = "false"
    return (Check("kms:CreateGrant", key_arn(text(call.doc.get("KeyId")), scope), keys),)


GRANT_ID = "cumulo:grant-id"      # the grant a RetireGrant names (Cumulo's own key: no policy reads it)


def _token_parts(token: str) -> tuple[str, str]:
    """The key id and grant id a grant token of Cumulo's carries (``kms/grants.py``), or ('', '')."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return "", ""
    if not raw.startswith(b"CG1") or len(raw) != 3 + 36 + 64 + 16:
        return "", ""
    try:
        return raw[3:39].decode("ascii"), raw[39:103].decode("ascii")
    except UnicodeDecodeError:
        return "", ""


def retire_grant(call: Call, scope: Scope) -> tuple[Check, ...]:
    """``kms:RetireGrant`` on the key the grant token (or ``KeyId``) names; the grant itself decides who
    may (its retiring principal, or a grantee it allows: ``Authorizer._granted``, and ``api/kms.py``)."""
    key, grant = _token_parts(text(call.doc.get("GrantToken")))
    key = key or text(call.doc.get("KeyId"))
    grant = grant or text(call.doc.get("GrantId"))
    return (Check("kms:RetireGrant", key_arn(key, scope), {GRANT_ID: grant} if grant else {}),)


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
    "Encrypt": on_key("kms:Encrypt", context="EncryptionContext"),
    "Decrypt": decrypt,
    "ReEncrypt": re_encrypt,
    "GenerateDataKey": on_key("kms:GenerateDataKey", context="EncryptionContext"),
    "GenerateDataKeyWithoutPlaintext": on_key("kms:GenerateDataKeyWithoutPlaintext", context="EncryptionContext"),
    "CreateGrant": create_grant,
    "ListGrants": on_key("kms:ListGrants"),
    "ListRetirableGrants": anywhere("kms:ListRetirableGrants"),
    "RevokeGrant": on_key("kms:RevokeGrant"),
    "RetireGrant": retire_grant,
    "PutKeyPolicy": on_key("kms:PutKeyPolicy"),
    "GetKeyPolicy": on_key("kms:GetKeyPolicy"),
    "ListKeyPolicies": on_key("kms:ListKeyPolicies"),
}

register("kms", OPERATIONS)
