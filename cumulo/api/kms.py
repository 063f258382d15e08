"""The KMS JSON protocol (``TrentService.<Operation>``, JSON 1.1) for boto3's ``kms``: symmetric keys,
aliases, Encrypt/Decrypt/ReEncrypt and data keys (``kms/service.py``)."""

from __future__ import annotations

from typing import Any

from cumulo.api.authorize import grant_issuer, require_may_retire, require_no_lockout
from cumulo.api.awsjson import Service, page, register
from cumulo.api.http import Request
from cumulo.kms.grants import check_tokens
from cumulo.kms.service import KmsError

__all__ = ["SERVICE"]


def _bad_marker(message: str) -> KmsError:
    return KmsError("InvalidMarkerException", "The marker is not one this service gave.")


def _bypass(d: dict[str, Any]) -> bool:
    value = d.get("BypassPolicyLockoutSafetyCheck", False)
    if not isinstance(value, bool):
        raise KmsError("ValidationException", "BypassPolicyLockoutSafetyCheck must be a boolean.")
    return value


def create_key(c: Any, r: Request, d: dict[str, Any]) -> Any:
    """CreateKey; a ``Policy`` that would lock the caller out is refused unless
    ``BypassPolicyLockoutSafetyCheck`` (``api/authorize.py``: ``require_no_lockout``)."""
    check = None
    if d.get("Policy") is not None and not _bypass(d):
        def check(arn: str, text: str) -> None:
            require_no_lockout(c, r.principal, arn, text)
    return {"KeyMetadata": c.kms.create_key(d.get("Description"), d.get("KeyUsage"),
                                            d.get("KeySpec") or d.get("CustomerMasterKeySpec"), d.get("Tags"),
                                            d.get("Policy"), check)}


def put_key_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    """PutKeyPolicy, with the lockout safety check unless ``BypassPolicyLockoutSafetyCheck``."""
    check = None
    if not _bypass(d):
        def check(arn: str, text: str) -> None:
            require_no_lockout(c, r.principal, arn, text)
    c.kms.put_key_policy(d.get("KeyId"), d.get("Policy"), d.get("PolicyName"), check)


def get_key_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.kms.get_key_policy(d.get("KeyId"), d.get("PolicyName"))


def list_key_policies(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"PolicyNames": c.kms.list_key_policies(d.get("KeyId")), "Truncated": False}


def describe_key(c: Any, r: Request, d: dict[str, Any]) -> Any:
    check_tokens(d.get("GrantTokens"))
    return {"KeyMetadata": c.kms.describe_key(d.get("KeyId"))}


def list_keys(c: Any, r: Request, d: dict[str, Any]) -> Any:
    out = page(c.kms.list_keys(), "Keys", d, "Marker", "Limit", 1000, 100, _bad_marker)
    return {"Keys": out["Keys"], "Truncated": "Marker" in out, **({"NextMarker": out["Marker"]} if "Marker" in out else {})}


def enable_key(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.kms.enable(d.get("KeyId"))


def disable_key(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.kms.disable(d.get("KeyId"))


def schedule_key_deletion(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.kms.schedule_deletion(d.get("KeyId"), d.get("PendingWindowInDays"))


def cancel_key_deletion(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"KeyId": c.kms.cancel_deletion(d.get("KeyId"))}


def create_alias(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.kms.create_alias(d.get("AliasName"), d.get("TargetKeyId"))


def delete_alias(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.kms.delete_alias(d.get("AliasName"))


def list_aliases(c: Any, r: Request, d: dict[str, Any]) -> Any:
    out = page(c.kms.list_aliases(d.get("KeyId")), "Aliases", d, "Marker", "Limit", 100, 50, _bad_marker)
    return {"Aliases": out["Aliases"], "Truncated": "Marker" in out,
            **({"NextMarker": out["Marker"]} if "Marker" in out else {})}


def encrypt(c: Any, r: Request, d: dict[str, Any]) -> Any:
    check_tokens(d.get("GrantTokens"))
    return c.kms.encrypt(d.get("KeyId"), d.get("Plaintext"), d.get("EncryptionContext"))


def decrypt(c: Any, r: Request, d: dict[str, Any]) -> Any:
    check_tokens(d.get("GrantTokens"))
    return c.kms.decrypt(d.get("CiphertextBlob"), d.get("EncryptionContext"), d.get("KeyId"))


def re_encrypt(c: Any, r: Request, d: dict[str, Any]) -> Any:
    check_tokens(d.get("GrantTokens"))
    return c.kms.re_encrypt(d.get("CiphertextBlob"), d.get("DestinationKeyId"), d.get("SourceEncryptionContext"),
                            d.get("DestinationEncryptionContext"), d.get("SourceKeyId"))


def generate_data_key(c: Any, r: Request, d: dict[str, Any]) -> Any:
    check_tokens(d.get("GrantTokens"))
    return c.kms.generate_data_key(d.get("KeyId"), d.get("KeySpec"), d.get("NumberOfBytes"),
                                   d.get("EncryptionContext"))


def generate_data_key_without_plaintext(c: Any, r: Request, d: dict[str, Any]) -> Any:
    check_tokens(d.get("GrantTokens"))
    return c.kms.generate_data_key(d.get("KeyId"), d.get("KeySpec"), d.get("NumberOfBytes"),
                                   d.get("EncryptionContext"), plaintext=False)


def _grant_page(grants: list[Any], d: dict[str, Any]) -> dict[str, Any]:
    out = page(grants, "Grants", d, "Marker", "Limit", 100, 50, _bad_marker)
    return {"Grants": out["Grants"], "Truncated": "Marker" in out,
            **({"NextMarker": out["Marker"]} if "Marker" in out else {})}


def create_grant(c: Any, r: Request, d: dict[str, Any]) -> Any:
    """CreateGrant; a caller whose CreateGrant comes from a grant gives no more than that grant."""
    return c.kms.create_grant(d.get("KeyId"), d.get("GranteePrincipal"), d.get("Operations"),
                              d.get("RetiringPrincipal"), d.get("Constraints"), d.get("Name"), d.get("GrantTokens"),
                              grant_issuer(c, r.principal, d.get("KeyId")))


def list_grants(c: Any, r: Request, d: dict[str, Any]) -> Any:
    check_tokens(d.get("GrantTokens"))
    return _grant_page(c.kms.list_grants(d.get("KeyId"), d.get("GrantId"), d.get("GranteePrincipal")), d)


def list_retirable_grants(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return _grant_page(c.kms.list_retirable_grants(d.get("RetiringPrincipal")), d)


def retire_grant(c: Any, r: Request, d: dict[str, Any]) -> Any:
    """RetireGrant, by its token or by key and id; who may is the grant's to say (``require_may_retire``)."""
    key, grant = c.kms.find_grant(d.get("GrantToken"), d.get("KeyId"), d.get("GrantId"))
    require_may_retire(c, r.principal, grant)
    c.kms.remove_grant(key["KeyId"], grant["GrantId"])


def revoke_grant(c: Any, r: Request, d: dict[str, Any]) -> Any:
    if not isinstance(d.get("GrantId"), str) or not d["GrantId"]:
        raise KmsError("ValidationException", "GrantId is required.")
    key, grant = c.kms.find_grant(None, d.get("KeyId"), d.get("GrantId"))
    c.kms.remove_grant(key["KeyId"], grant["GrantId"])


SERVICE = Service("TrentService", "com.amazonaws.kms", "application/x-amz-json-1.1", {
    "CreateKey": create_key, "DescribeKey": describe_key, "ListKeys": list_keys, "EnableKey": enable_key,
    "DisableKey": disable_key, "ScheduleKeyDeletion": schedule_key_deletion, "CancelKeyDeletion": cancel_key_deletion,
    "CreateAlias": create_alias, "DeleteAlias": delete_alias, "ListAliases": list_aliases, "Encrypt": encrypt,
    "Decrypt": decrypt, "ReEncrypt": re_encrypt, "GenerateDataKey": generate_data_key,
    "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
    "PutKeyPolicy": put_key_policy, "GetKeyPolicy": get_key_policy, "ListKeyPolicies": list_key_policies,
    "CreateGrant": create_grant, "ListGrants": list_grants, "ListRetirableGrants": list_retirable_grants,
    "RetireGrant": retire_grant, "RevokeGrant": revoke_grant,
}, model="kms")
register(SERVICE)
