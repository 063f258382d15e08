"""The Secrets Manager JSON protocol (``secretsmanager.<Operation>``, JSON 1.1) for boto3's ``secretsmanager``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cumulo.api.authorize import require_decrypt
from cumulo.api.awsjson import Service, page, register
from cumulo.api.http import Request
from cumulo.model.secrets import invalid_parameter

__all__ = ["SERVICE"]


def _binary(d: dict[str, Any]) -> Any:
    raw = d.get("SecretBinary")
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise invalid_parameter("SecretBinary must be base64.") from None


def create_secret(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.create_secret(d.get("Name"), d.get("SecretString"), _binary(d), d.get("Description"),
                                   d.get("KmsKeyId"), d.get("Tags"), d.get("ClientRequestToken"))


def put_secret_value(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.put_secret_value(d.get("SecretId"), d.get("SecretString"), _binary(d), d.get("VersionStages"),
                                      d.get("ClientRequestToken"))


def update_secret(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.update_secret(d.get("SecretId"), d.get("SecretString"), _binary(d), d.get("Description"),
                                   d.get("KmsKeyId"), d.get("ClientRequestToken"))


def _read(c: Any, r: Request, secret_id: Any, version_id: Any = None, stage: Any = None) -> Any:
    """GetSecretValue's answer; a secret kept under a customer key needs ``kms:Decrypt`` on it, as on AWS."""
    found = c.secrets.get_secret_value(secret_id, version_id, stage)
    require_decrypt(c, r.principal, c.secrets.kms_key_of(found["Name"]), "secretsmanager")
    return found


def get_secret_value(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return _read(c, r, d.get("SecretId"), d.get("VersionId"), d.get("VersionStage"))


def batch_get_secret_value(c: Any, r: Request, d: dict[str, Any]) -> Any:
    ids = d.get("SecretIdList")
    if ids is not None and d.get("Filters") is not None:
        raise invalid_parameter("Either SecretIdList or Filters must be provided, not both.")
    if ids is None:
        ids = [s["ARN"] for s in c.secrets.list_secrets(d.get("Filters"))]
        out = page(ids, "ids", d, "NextToken", "MaxResults", 20, 20, invalid_parameter)
        ids = out.pop("ids")
    else:
        if not 1 <= len(ids) <= 20:
            raise invalid_parameter("SecretIdList must name 1 to 20 secrets.")
        out = {}
    values, errors = [], []
    for secret_id in ids:
        try:
            values.append(_read(c, r, secret_id))
        except Exception as err:             # each secret's error is its own entry
            code = getattr(err, "type", "InternalServiceError")
            errors.append({"SecretId": secret_id, "ErrorCode": code, "Message": getattr(err, "message", str(err))})
    return {"SecretValues": values, "Errors": errors, **out}


def describe_secret(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.describe_secret(d.get("SecretId"))


def list_secrets(c: Any, r: Request, d: dict[str, Any]) -> Any:
    found = c.secrets.list_secrets(d.get("Filters"), bool(d.get("IncludePlannedDeletion")), d.get("SortOrder"))
    return page(found, "SecretList", d, "NextToken", "MaxResults", 100, 100, invalid_parameter)


def list_secret_version_ids(c: Any, r: Request, d: dict[str, Any]) -> Any:
    found = c.secrets.list_versions(d.get("SecretId"), bool(d.get("IncludeDeprecated")))
    return {**found, **page(found["Versions"], "Versions", d, "NextToken", "MaxResults", 100, 100, invalid_parameter)}


def update_secret_version_stage(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.update_version_stage(d.get("SecretId"), d.get("VersionStage"), d.get("RemoveFromVersionId"),
                                          d.get("MoveToVersionId"))


def delete_secret(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.delete_secret(d.get("SecretId"), d.get("RecoveryWindowInDays"), d.get("ForceDeleteWithoutRecovery"))


def restore_secret(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.restore_secret(d.get("SecretId"))


def get_random_password(c: Any, r: Request, d: dict[str, Any]) -> Any:
    from cumulo.model.secrets import random_password
    return {"RandomPassword": random_password(
        d.get("PasswordLength"), d.get("ExcludeCharacters") or "", not d.get("ExcludeNumbers"),
        not d.get("ExcludeUppercase"), not d.get("ExcludeLowercase"), not d.get("ExcludePunctuation"),
        bool(d.get("IncludeSpace")), d.get("RequireEachIncludedType", True) is not False)}


def rotate_secret(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.rotate_secret(d.get("SecretId"), d.get("RotationLambdaARN"), d.get("RotationRules"),
                                   d.get("RotateImmediately"), d.get("ClientRequestToken"))


def cancel_rotate_secret(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.cancel_rotate_secret(d.get("SecretId"))


def tag_resource(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.secrets.tag(d.get("SecretId"), d.get("Tags"))


def untag_resource(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.secrets.untag(d.get("SecretId"), d.get("TagKeys"))


def put_resource_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.put_resource_policy(d.get("SecretId"), d.get("ResourcePolicy"), d.get("BlockPublicPolicy"))


def get_resource_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.get_resource_policy(d.get("SecretId"))


def delete_resource_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.delete_resource_policy(d.get("SecretId"))


def validate_resource_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.secrets.validate_resource_policy(d.get("SecretId"), d.get("ResourcePolicy"))


SERVICE = Service("secretsmanager", "secretsmanager", "application/x-amz-json-1.1", {
    "CreateSecret": create_secret, "PutSecretValue": put_secret_value, "UpdateSecret": update_secret,
    "GetSecretValue": get_secret_value, "BatchGetSecretValue": batch_get_secret_value,
    "DescribeSecret": describe_secret, "ListSecrets": list_secrets, "ListSecretVersionIds": list_secret_version_ids,
    "UpdateSecretVersionStage": update_secret_version_stage, "DeleteSecret": delete_secret,
    "RestoreSecret": restore_secret, "GetRandomPassword": get_random_password, "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "RotateSecret": rotate_secret, "CancelRotateSecret": cancel_rotate_secret,
    "PutResourcePolicy": put_resource_policy, "GetResourcePolicy": get_resource_policy,
    "DeleteResourcePolicy": delete_resource_policy, "ValidateResourcePolicy": validate_resource_policy,
}, model="secretsmanager")
register(SERVICE)
