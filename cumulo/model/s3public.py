"""S3's Block Public Access and what makes a bucket policy public, pure.

A bucket's ``PublicAccessBlockConfiguration`` has four flags (boto3's names): ``BlockPublicAcls``
(writes carrying a public ACL are refused), ``IgnorePublicAcls`` (public ACLs grant nothing; Cumulo
keeps no ACLs, so nothing to ignore), ``BlockPublicPolicy`` (PutBucketPolicy of a public policy is
refused) and ``RestrictPublicBuckets`` (while the bucket's policy is public, only the owner's
account and AWS services are served: anonymous requests are not). As S3 does since April 2023, a
new bucket has all four set (``DEFAULT``); a bucket made before this existed has none.

Public, as the S3 API Reference defines it (``PublicAccessBlockConfiguration``): a policy is public
unless every statement that allows is held to something fixed — a principal without a wildcard
(not ``*``, not ``NotPrincipal``), a set of CIDRs on ``aws:SourceIp`` (an ``IpAddress`` condition;
``/0`` is everyone, so not a limit), or a fixed value (no ``*``, ``?`` or policy variable) of
``aws:SourceArn``, ``aws:SourceVpc``, ``aws:SourceVpce``, ``aws:SourceOwner``,
``aws:SourceAccount``, ``aws:PrincipalAccount``, ``aws:PrincipalOrgID``,
``s3:x-amz-server-side-encryption-aws-kms-key-id`` or ``aws:userid`` (outside the pattern
``AROLEID:*``) under an equality operator. Deny statements never make a policy public.

The functions read the policy's document (checked by IAM's grammar before it is kept).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cumulo.model.objects import S3Error

__all__ = ["FLAGS", "DEFAULT", "check_block", "is_public", "grants_everyone", "anonymous_may", "public_acl",
           "blocked_policy_message", "no_such_configuration"]

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
DEFAULT: dict[str, bool] = dict.fromkeys(FLAGS, True)

# condition keys whose fixed value keeps a statement from being public (lower-case)
_FIXING_KEYS = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner", "aws:sourceaccount",
    "aws:principalaccount", "aws:principalorgid", "s3:x-amz-server-side-encryption-aws-kms-key-id", "aws:userid",
})
_EQUALITY = frozenset({"stringequals", "stringequalsignorecase", "arnequals", "arnlike"})
_PUBLIC_CANNED = frozenset({"public-read", "public-read-write", "authenticated-read"})
_PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                  "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


def no_such_configuration(bucket: str) -> S3Error:
    return S3Error("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found",
                   404, BucketName=bucket)


def check_block(config: Any) -> dict[str, bool]:
    """A PutPublicAccessBlock configuration: the four flags (absent ones false), nothing else."""
    if not isinstance(config, dict) or any(k not in FLAGS for k in config):
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                      "published schema", 400)
    out = {}
    for flag in FLAGS:
        value = config.get(flag, False)
        if not isinstance(value, bool):
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema", 400)
        out[flag] = value
    return out


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    return [s for s in _listed(document.get("Statement", [])) if isinstance(s, dict)]


def _wild(value: Any) -> bool:
    return not isinstance(value, str) or "*" in value or "?" in value or "${" in value


def _everyone_named(statement: dict[str, Any]) -> bool:
    """Whether an Allow statement's principal takes in everyone (``*``, ``{"AWS": "*"}``, NotPrincipal)."""
    if "NotPrincipal" in statement:
        return True
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(v == "*" for values in principal.values() for v in _listed(values))
    return False


def _fixed_principal(statement: dict[str, Any]) -> bool:
    if "NotPrincipal" in statement:
        return False
    principal = statement.get("Principal")
    if not isinstance(principal, dict) or not principal:
        return False
    return all(not _wild(v) for values in principal.values() for v in _listed(values))


def _operator(written: str) -> tuple[str, bool]:
    """(the operator's family in lower case, whether it is a ``ForAnyValue:``/``IfExists`` form)."""
    name = written.lower()
    loose = name.endswith("ifexists") or name.startswith("foranyvalue:")
    name = name.split(":", 1)[-1]
    if name.endswith("ifexists"):
        name = name[:-len("ifexists")]
    return name, loose


def _narrow_cidr(value: Any) -> bool:
    try:
        return ipaddress.ip_network(str(value), strict=False).prefixlen > 0
    except ValueError:
        return False


def _held_by_condition(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for written, block in condition.items():
        if not isinstance(written, str) or not isinstance(block, dict):
            continue
        family, loose = _operator(written)
        if loose:           # a key that may be absent holds nobody to anything
            continue
        for key, values in block.items():
            key = str(key).lower()
            listed = _listed(values)
            if not listed:
                continue
            if key == "aws:sourceip" and family == "ipaddress" and all(_narrow_cidr(v) for v in listed):
                return True
            if key in _FIXING_KEYS and family in _EQUALITY and not any(_wild(v) for v in listed):
                if key == "aws:userid" and any(str(v).endswith(":*") for v in listed):
                    continue
                return True
    return False


def is_public(document: Any) -> bool:
    """Whether a bucket policy's document is public in S3's sense (the module's text)."""
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        if _fixed_principal(statement) or _held_by_condition(statement):
            continue
        return True
    return False


def grants_everyone(document: Any) -> bool:
    """Whether some Allow statement names everyone, so an anonymous request may be allowed by it
    (its actions, resources and conditions decide that request; ``iam.evaluate``)."""
    return any(s.get("Effect") == "Allow" and _everyone_named(s) for s in _statements(document))


def anonymous_may(document: Any, block: dict[str, bool] | None) -> bool:
    """Whether an unsigned request to a bucket with this policy and block is evaluated at all: some
    statement allows everyone, and ``RestrictPublicBuckets`` does not close a public policy."""
    if not grants_everyone(document):
        return False
    return not ((block or {}).get("RestrictPublicBuckets") and is_public(document))


def public_acl(headers: dict[str, str]) -> bool:
    """Whether a write's headers carry a public ACL (a public canned ``x-amz-acl``, or an
    ``x-amz-grant-*`` naming the AllUsers or AuthenticatedUsers group)."""
    if (headers.get("x-amz-acl") or "").strip().lower() in _PUBLIC_CANNED:
        return True
    return any(name.startswith("x-amz-grant-") and any(g in value for g in _PUBLIC_GROUPS)
               for name, value in headers.items())


def blocked_policy_message(caller_arn: str, bucket: str) -> str:
    """S3's AccessDenied message for a public policy refused by ``BlockPublicPolicy``."""
    return (f'User: {caller_arn} is not authorized to perform: s3:PutBucketPolicy on resource: "arn:aws:s3:::{bucket}" '
            "because public policies are prevented by the BlockPublicPolicy setting in S3 Block Public Access.")
