"""What IAM accepts as names, paths and descriptions, checked as its API model says, and its ids.

Messages are AWS's: "1 validation error detected: Value 'a b' at 'roleName' failed to satisfy
constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+".
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime, timezone
from typing import Any

from cumulo.identity.errors import IamValidationError

__all__ = ["check_name", "check_path", "check_text", "check_int", "new_id", "timestamp", "NAME_PATTERN"]

NAME_PATTERN = r"[\w+=,.@-]+"
PATH_PATTERN = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
_NAME = re.compile(NAME_PATTERN, re.ASCII)
_PATH = re.compile(r"/|/[\u0021-\u007E]+/")
_ID_ALPHABET = string.ascii_uppercase + string.digits


def _problem(value: Any, member: str, constraint: str) -> IamValidationError:
    return IamValidationError(f"1 validation error detected: Value '{str(value)[:256]}' at '{member}' failed to "
                              f"satisfy constraint: {constraint}")


def check_name(value: Any, member: str, max_length: int) -> str:
    if not isinstance(value, str) or not value:
        raise _problem(value, member, "Member must not be null" if value is None else
                       "Member must have length greater than or equal to 1")
    if len(value) > max_length:
        raise _problem(value, member, f"Member must have length less than or equal to {max_length}")
    if not _NAME.fullmatch(value):
        raise _problem(value, member, f"Member must satisfy regular expression pattern: {NAME_PATTERN}")
    return value


def check_path(value: Any, member: str = "path", max_length: int = 512) -> str:
    if value is None:
        return "/"
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise _problem(value, member, f"Member must have length less than or equal to {max_length}")
    if not _PATH.fullmatch(value):
        raise _problem(value, member, f"Member must satisfy regular expression pattern: {PATH_PATTERN}")
    return value


def check_text(value: Any, member: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise _problem(value, member, f"Member must have length less than or equal to {max_length}")
    return value


def check_int(value: Any, member: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _problem(value, member, "Member must be a number") from None
    if number < low:
        raise _problem(value, member, f"Member must have value greater than or equal to {low}")
    if number > high:
        raise _problem(value, member, f"Member must have value less than or equal to {high}")
    return number


def new_id(prefix: str) -> str:
    """An IAM unique id: ``AROA`` (roles), ``ANPA`` (policies) + 17 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def timestamp(now: float) -> str:
    """ISO 8601 in UTC, as IAM's XML carries dates (``2024-01-01T12:00:00Z``)."""
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
