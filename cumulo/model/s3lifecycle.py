"""S3 lifecycle configuration, pure: rules in boto3's shape (``Rules``), checked as S3 checks
them, and when a rule expires an object or aborts an upload.

Cumulo applies the actions that mean something for one storage class: ``Expiration`` (``Days``
or ``Date``; in a versioned bucket it puts a delete marker on the current version, and
``ExpiredObjectDeleteMarker`` removes a delete marker left alone), ``NoncurrentVersionExpiration``
(``NoncurrentDays`` after a version stopped being current, keeping ``NewerNoncurrentVersions``)
and ``AbortIncompleteMultipartUpload``. Transitions are kept as given and have nothing to act on. A rule's filter is a
key prefix, object tags and object-size bounds (``Filter.Prefix``, ``Filter.Tag``,
``ObjectSizeGreaterThan/LessThan``, or ``And`` of them with ``Tags``; the rule-level ``Prefix`` of
the older schema too).

Timing is S3's: ``Days`` counts from the object's creation (its last write) and rounds up to the
next midnight UTC; ``Date`` (midnight UTC) expires everything the rule selects from that day on.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cumulo.model.objects import S3Error

__all__ = ["check_rules", "selects", "expires_at", "abort_at", "noncurrent_expires_at", "MAX_RULES"]

MAX_RULES = 1000
DAY_MS = 86_400_000
_ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
            "AbortIncompleteMultipartUpload")


def _malformed() -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                   "published schema", 400)


def _invalid(message: str) -> S3Error:
    return S3Error("InvalidArgument", message, 400)


def _days(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value > 2_147_483_647:
        action = {"Days": "Expiration", "NoncurrentDays": "NoncurrentVersionExpiration"}.get(
            what, "AbortIncompleteMultipartUpload")
        raise _invalid(f"'{what}' for {action} action must be a positive integer")
    return value


def parse_date(text: str) -> int:
    """A rule's ``Date`` (ISO 8601, midnight UTC) as epoch ms."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid("Invalid date: the date must be in ISO 8601 format") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc)
    if (when.hour, when.minute, when.second, when.microsecond) != (0, 0, 0, 0):
        raise _invalid("'Date' must be at midnight GMT")
    return int(when.timestamp() * 1000)


def check_rules(rules: Any) -> list[dict[str, Any]]:
    """``Rules`` as PutBucketLifecycleConfiguration takes them; S3's errors for what it refuses."""
    if not isinstance(rules, list) or not rules:
        raise _malformed()
    if len(rules) > MAX_RULES:
        raise _invalid(f"Configuration contains more than {MAX_RULES} rules")
    ids: set[str] = set()
    out = []
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("Status") not in ("Enabled", "Disabled"):
            raise _malformed()
        rule_id = rule.get("ID")
        if rule_id is not None:
            if not isinstance(rule_id, str) or len(rule_id) > 255:
                raise _invalid("ID length should not exceed allowed limit of 255")
            if rule_id in ids:
                raise _invalid("Rule ID must be unique. Found same ID for more than one rule")
            ids.add(rule_id)
        if "Filter" in rule and "Prefix" in rule:
            raise _malformed()
        _check_filter(rule.get("Filter"), rule.get("Prefix"))
        if not any(rule.get(action) for action in _ACTIONS):
            raise _invalid("At least one action needs to be specified in a rule")
        expiration = rule.get("Expiration")
        if expiration is not None:
            given = [k for k in ("Days", "Date", "ExpiredObjectDeleteMarker") if k in expiration]
            if len(given) != 1 or set(expiration) - {"Days", "Date", "ExpiredObjectDeleteMarker"}:
                raise _malformed()
            if "Days" in expiration:
                _days(expiration["Days"], "Days")
            elif "Date" in expiration:
                if not isinstance(expiration["Date"], str):
                    raise _malformed()
                parse_date(expiration["Date"])
            elif not isinstance(expiration["ExpiredObjectDeleteMarker"], bool):
                raise _malformed()
        noncurrent = rule.get("NoncurrentVersionExpiration")
        if noncurrent is not None:
            if not isinstance(noncurrent, dict) or "NoncurrentDays" not in noncurrent or \
                    set(noncurrent) - {"NoncurrentDays", "NewerNoncurrentVersions"}:
                raise _malformed()
            _days(noncurrent["NoncurrentDays"], "NoncurrentDays")
            newer = noncurrent.get("NewerNoncurrentVersions")
            if newer is not None and (isinstance(newer, bool) or not isinstance(newer, int) or not 1 <= newer <= 100):
                raise _invalid("NewerNoncurrentVersions must be an integer between 1 and 100")
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort is not None:
            if not isinstance(abort, dict) or set(abort) != {"DaysAfterInitiation"}:
                raise _malformed()
            _days(abort["DaysAfterInitiation"], "DaysAfterInitiation")
            if _tagged(rule.get("Filter")):
                raise _invalid("AbortIncompleteMultipartUpload cannot be specified with Tags.")
        out.append(rule)
    return out


def _tagged(filt: Any) -> bool:
    return isinstance(filt, dict) and ("Tag" in filt or bool((filt.get("And") or {}).get("Tags")))


def _check_filter(filt: Any, prefix: Any) -> None:
    if prefix is not None and not isinstance(prefix, str):
        raise _malformed()
    if filt is None:
        return
    if not isinstance(filt, dict) or len(filt) > 1:
        raise _malformed()
    inner = filt.get("And", filt)
    if not isinstance(inner, dict) or set(inner) - {"Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "Tags",
                                                    "Tag"}:
        raise _malformed()
    for tag in _tags_of(filt):
        if not isinstance(tag, dict) or set(tag) != {"Key", "Value"} or not isinstance(tag["Key"], str) or \
                not isinstance(tag["Value"], str):
            raise _malformed()
    if "Prefix" in inner and not isinstance(inner["Prefix"], str):
        raise _malformed()
    for bound in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        value = inner.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise _malformed()
    low, high = inner.get("ObjectSizeGreaterThan"), inner.get("ObjectSizeLessThan")
    if low is not None and high is not None and low >= high:
        raise _invalid("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")


def prefix_of(rule: dict[str, Any]) -> str:
    filt = rule.get("Filter")
    if isinstance(filt, dict):
        return str(filt.get("And", filt).get("Prefix", ""))
    return str(rule.get("Prefix", ""))


def _tags_of(filt: Any) -> list[Any]:
    if not isinstance(filt, dict):
        return []
    if "Tag" in filt:
        return [filt["Tag"]]
    tags = (filt.get("And") or {}).get("Tags") if isinstance(filt.get("And"), dict) else None
    return list(tags) if isinstance(tags, list) else []


def selects(rule: dict[str, Any], key: str, size: int, tags: dict[str, str] | None = None) -> bool:
    """Whether an enabled ``rule``'s filter takes the object ``key`` of ``size`` bytes and ``tags``."""
    if rule.get("Status") != "Enabled" or not key.startswith(prefix_of(rule)):
        return False
    filt = rule.get("Filter")
    if any((tags or {}).get(t["Key"]) != t["Value"] for t in _tags_of(filt)):
        return False
    inner = filt.get("And", filt) if isinstance(filt, dict) else {}
    low, high = inner.get("ObjectSizeGreaterThan"), inner.get("ObjectSizeLessThan")
    return (low is None or size > low) and (high is None or size < high)


def _next_midnight(ms: int) -> int:
    return -(-ms // DAY_MS) * DAY_MS


def expires_at(rule: dict[str, Any], created_ms: int) -> int | None:
    """When the rule's ``Expiration`` removes an object created at ``created_ms``; None: never."""
    expiration = rule.get("Expiration") or {}
    if "Days" in expiration:
        return _next_midnight(created_ms + expiration["Days"] * DAY_MS)
    if "Date" in expiration:
        return parse_date(expiration["Date"])
    return None


def abort_at(rule: dict[str, Any], initiated_ms: int) -> int | None:
    """When the rule aborts a multipart upload initiated at ``initiated_ms``; None: never."""
    abort = rule.get("AbortIncompleteMultipartUpload")
    if not abort:
        return None
    return _next_midnight(initiated_ms + abort["DaysAfterInitiation"] * DAY_MS)


def noncurrent_expires_at(rule: dict[str, Any], since_ms: int) -> int | None:
    """When the rule's ``NoncurrentVersionExpiration`` removes a version that stopped being current
    at ``since_ms``; None: never."""
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if not noncurrent:
        return None
    return _next_midnight(since_ms + noncurrent["NoncurrentDays"] * DAY_MS)
