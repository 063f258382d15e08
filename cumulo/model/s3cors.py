"""S3's CORS configuration, pure: the rules (boto3's shape, ``CORSRules``), checked as S3 checks
them, and their evaluation for a preflight (``OPTIONS``) or an actual request with an ``Origin``.

A rule matches when the request's origin matches one of its ``AllowedOrigins`` (each may hold one
``*``, standing for any characters), its method (or the preflight's
``Access-Control-Request-Method``) is one of its ``AllowedMethods``, and every header a preflight
names in ``Access-Control-Request-Headers`` matches one of its ``AllowedHeaders`` (case-insensitive,
one ``*`` each). The first rule that matches answers; S3's answer headers are built here.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.model.objects import S3Error

__all__ = ["check_rules", "match", "answer_headers", "preflight", "METHODS", "MAX_RULES"]

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _invalid(message: str) -> S3Error:
    return S3Error("InvalidRequest", message, 400)


def check_rules(rules: Any) -> list[dict[str, Any]]:
    """``CORSRules`` as PutBucketCors takes them; S3's errors for what it refuses."""
    if not isinstance(rules, list) or not rules:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                      "published schema", 400)
    if len(rules) > MAX_RULES:
        raise _invalid(f"The number of CORS rules should not exceed allowed limit of {MAX_RULES} rules.")
    out = []
    for rule in rules:
        if not isinstance(rule, dict) or not rule.get("AllowedMethods") or not rule.get("AllowedOrigins"):
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema", 400)
        for method in rule["AllowedMethods"]:
            if method not in METHODS:
                raise _invalid(f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")
        for origin in rule["AllowedOrigins"]:
            if not isinstance(origin, str) or origin.count("*") > 1:
                raise _invalid(f'AllowedOrigin "{origin}" can not have more than one wildcard.')
        for header in rule.get("AllowedHeaders", []):
            if not isinstance(header, str) or header.count("*") > 1:
                raise _invalid(f'AllowedHeader "{header}" can not have more than one wildcard.')
        for header in rule.get("ExposeHeaders", []):
            if not isinstance(header, str) or "*" in header or not _TOKEN.fullmatch(header):
                raise _invalid(f'ExposeHeader "{header}" contains wildcard. We currently do not support wildcard '
                               "for ExposeHeader.")
        age = rule.get("MaxAgeSeconds")
        if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema", 400)
        if rule.get("ID") is not None and (not isinstance(rule["ID"], str) or len(rule["ID"]) > 255):
            raise _invalid("The ID of a CORS rule must be at most 255 characters.")
        out.append({k: rule[k] for k in ("ID", "AllowedHeaders", "AllowedMethods", "AllowedOrigins", "ExposeHeaders",
                                         "MaxAgeSeconds") if rule.get(k) not in (None, [])})
    return out


def _wild(pattern: str, value: str, fold: bool) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def match(rules: list[dict[str, Any]], origin: str, method: str,
          request_headers: list[str] = ()) -> dict[str, Any] | None:   # type: ignore[assignment]
    """The first rule allowing ``origin`` to ``method`` with ``request_headers``; None if none does."""
    for rule in rules:
        if method not in rule["AllowedMethods"]:
            continue
        if not any(_wild(o, origin, False) for o in rule["AllowedOrigins"]):
            continue
        allowed = rule.get("AllowedHeaders", [])
        if all(any(_wild(a, h, True) for a in allowed) for h in request_headers):
            return rule
    return None


def answer_headers(rule: dict[str, Any], origin: str, preflight_headers: list[str] | None = None) -> list[tuple[str, str]]:
    """The ``Access-Control-*`` headers S3 answers with for a matched rule (``preflight_headers``:
    the preflight's requested headers, echoed when allowed)."""
    wildcard = "*" in rule["AllowedOrigins"]
    out = [("Access-Control-Allow-Origin", "*" if wildcard else origin),
           ("Access-Control-Allow-Methods", ", ".join(rule["AllowedMethods"]))]
    if preflight_headers:
        out.append(("Access-Control-Allow-Headers", ", ".join(h.lower() for h in preflight_headers)))
    if rule.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        out.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
    if not wildcard:
        out.append(("Access-Control-Allow-Credentials", "true"))
    out.append(("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"))
    return out


def preflight(rules: list[dict[str, Any]] | None, origin: str | None, method: str | None,
              requested: str | None) -> list[tuple[str, str]]:
    """A preflight's answer headers; S3's 403 (``AccessForbidden``) when it is not allowed, 400 when
    it is not a preflight."""
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.", 400)
    if not method:
        raise S3Error("BadRequest", "Invalid Access-Control-Request-Method: null", 400)
    if not rules:
        raise S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", 403)
    headers = [h.strip() for h in (requested or "").split(",") if h.strip()]
    rule = match(rules, origin, method, headers)
    if rule is None:
        raise S3Error("AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the "
                      "evalution of Origin, request method / Access-Control-Request-Method or "
                      "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.", 403)
    return answer_headers(rule, origin, headers)
