"""The ``Condition`` element: its operators, compiled once, evaluated against a request context.

As IAM documents them (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and .../reference_policies_multi-value-conditions.html):

* operators, keys and values: every operator must hold (AND), every key of an operator must hold
  (AND), any one of a key's values may match (OR); for a negated operator (``StringNotEquals``,
  ``ArnNotLike``, ``NotIpAddress`` …) the request value must match none of them;
* a key absent from the request context: the condition is false, or true for a negated operator;
  ``…IfExists`` makes it true; ``Null`` tests presence itself;
* ``ForAnyValue:``: some request value matches (false for no values); ``ForAllValues:``: every
  request value matches (true for no values); without a qualifier a multivalued key holds when
  some value matches (a negated operator: when none does);
* key names are case-insensitive; policy variables work in the String, Arn and Bool operators;
  numbers and booleans may be written unquoted.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cumulo.iam.errors import MalformedPolicyDocument
from cumulo.iam.patterns import Glob, Lookup, Part, Var, split_variables, substitute

__all__ = ["OPERATORS", "Condition", "ContextValues", "check_syntax", "check_dates", "compile_conditions", "holds_all",
           "parse_date", "split_operator"]

# A request context: lower-case key -> its values (one for a single-valued key), or None.
ContextValues = Callable[[str], "tuple[Any, ...] | None"]

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"

# operator -> (family, negated)
OPERATORS: dict[str, tuple[str, bool]] = {
    "StringEquals": ("string", False), "StringNotEquals": ("string", True),
    "StringEqualsIgnoreCase": ("string-ignore-case", False), "StringNotEqualsIgnoreCase": ("string-ignore-case", True),
    "StringLike": ("string-like", False), "StringNotLike": ("string-like", True),
    "NumericEquals": ("numeric-eq", False), "NumericNotEquals": ("numeric-eq", True),
    "NumericLessThan": ("numeric-lt", False), "NumericLessThanEquals": ("numeric-le", False),
    "NumericGreaterThan": ("numeric-gt", False), "NumericGreaterThanEquals": ("numeric-ge", False),
    "DateEquals": ("date-eq", False), "DateNotEquals": ("date-eq", True),
    "DateLessThan": ("date-lt", False), "DateLessThanEquals": ("date-le", False),
    "DateGreaterThan": ("date-gt", False), "DateGreaterThanEquals": ("date-ge", False),
    "Bool": ("bool", False),
    "BinaryEquals": ("binary", False),
    "IpAddress": ("ip", False), "NotIpAddress": ("ip", True),
    "ArnEquals": ("arn", False), "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True), "ArnNotLike": ("arn", True),
    "Null": ("null", False),
}
_VARIABLES = {"string", "string-ignore-case", "string-like", "arn", "bool"}


def split_operator(name: str) -> tuple[str | None, str, bool] | None:
    """``ForAnyValue:StringLikeIfExists`` -> ("any", "StringLike", True); None if unknown."""
    qualifier = None
    for prefix, q in (("ForAnyValue:", "any"), ("ForAllValues:", "all")):
        if name.startswith(prefix):
            qualifier, name = q, name[len(prefix):]
            break
    if_exists = name.endswith("IfExists") and name != "IfExists"
    if if_exists:
        name = name[:-len("IfExists")]
        if name == "Null":
            return None
    if name not in OPERATORS:
        return None
    return qualifier, name, if_exists


# -- values ------------------------------------------------------------------------------------

_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[Tt](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?)?)?)?")


def parse_date(value: Any) -> float | None:
    """Seconds since the epoch of a W3C ISO 8601 date/time or of epoch seconds; None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    found = _DATE.fullmatch(text)
    if found is None:
        return None
    g = found.groupdict()
    try:
        tz = timezone.utc
        if g["tz"] and g["tz"] not in "Zz":
            sign = -1 if g["tz"][0] == "-" else 1
            digits = g["tz"][1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        moment = datetime(int(g["y"]), int(g["mo"] or 1), int(g["d"] or 1), int(g["h"] or 0), int(g["mi"] or 0),
                          int(g["s"] or 0), int((g["f"] or "0")[:6].ljust(6, "0")), tzinfo=tz)
    except (ValueError, OverflowError):
        return None
    return moment.timestamp()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    """A request value as the string IAM compares."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return None


def _policy_text(value: Any) -> str:
    """A value as the policy writes it (numbers and booleans may be unquoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "false"):
            return low == "true"
    return None


# -- one operator's test of one request value against the policy's values ----------------------

Test = Callable[[Any, Lookup], bool]   # a request value -> does it match any of the policy's values?


def _no_values(_key: str) -> str | None:
    return None


def _string_test(values: list[tuple[Part, ...]], fold: bool) -> Test:
    plain = [substitute(v, _no_values) for v in values if not any(isinstance(p, Var) for p in v)]
    static = frozenset((p.lower() if fold else p) for p in plain if p is not None)
    dynamic = [v for v in values if any(isinstance(p, Var) for p in v)]

    def test(value: Any, lookup: Lookup) -> bool:
        text = _text(value)
        if text is None:
            return False
        if fold:
            text = text.lower()
        if text in static:
            return True
        for parts in dynamic:
            wanted = substitute(parts, lookup)
            if wanted is not None and (wanted.lower() if fold else wanted) == text:
                return True
        return False
    return test


def _glob_test(globs: list[Glob]) -> Test:
    def test(value: Any, lookup: Lookup) -> bool:
        text = _text(value)
        return text is not None and any(g.matches(text, lookup) for g in globs)
    return test


def _numeric_test(values: list[float | None], compare: Callable[[float, float], bool]) -> Test:
    wanted = [v for v in values if v is not None]

    def test(value: Any, _lookup: Lookup) -> bool:
        number = _number(value)
        return number is not None and any(compare(number, w) for w in wanted)
    return test


def _date_test(values: list[float], compare: Callable[[float, float], bool]) -> Test:
    def test(value: Any, _lookup: Lookup) -> bool:
        moment = parse_date(value)
        return moment is not None and any(compare(moment, w) for w in values)
    return test


def _bool_test(values: list[tuple[Part, ...]]) -> Test:
    def test(value: Any, lookup: Lookup) -> bool:
        got = _boolean(value)
        if got is None:
            return False
        for parts in values:
            text = substitute(parts, lookup)
            if text is not None and _boolean(text) is got:
                return True
        return False
    return test


def _binary_test(values: list[Any]) -> Test:
    wanted = set()
    for v in values:
        try:
            wanted.add(base64.b64decode(_policy_text(v), validate=True))
        except (binascii.Error, ValueError):
            pass

    def test(value: Any, _lookup: Lookup) -> bool:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value) in wanted
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True) in wanted
            except (binascii.Error, ValueError):
                return False
        return False
    return test


def _ip_test(values: list[Any]) -> Test:
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for v in values:
        try:
            networks.append(ipaddress.ip_network(_policy_text(v).strip(), strict=False))
        except ValueError:
            pass

    def test(value: Any, _lookup: Lookup) -> bool:
        try:
            address = value if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)) \
                else ipaddress.ip_address(str(value).strip())
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in networks)
    return test


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "eq": lambda a, b: a == b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


def _test(family: str, raw: list[Any], variables: bool) -> Test:
    if family in ("string", "string-ignore-case"):
        return _string_test([split_variables(_policy_text(v), variables) for v in raw], family == "string-ignore-case")
    if family == "string-like":
        return _glob_test([Glob(_policy_text(v), variables=variables) for v in raw])
    if family == "arn":
        return _glob_test([Glob(_policy_text(v), segmented=True, variables=variables) for v in raw])
    if family.startswith("numeric-"):
        return _numeric_test([_number(v) for v in raw], _COMPARE[family.split("-")[1]])
    if family.startswith("date-"):
        dates = [parse_date(v) for v in raw]
        if any(d is None for d in dates):
            raise MalformedPolicyDocument(LEGACY)
        return _date_test([d for d in dates if d is not None], _COMPARE[family.split("-")[1]])
    if family == "bool":
        return _bool_test([split_variables(_policy_text(v), variables) for v in raw])
    if family == "binary":
        return _binary_test(raw)
    if family == "ip":
        return _ip_test(raw)
    raise AssertionError(family)


@dataclass(frozen=True, slots=True)
class Condition:
    """One operator on one key: ``holds(values, lookup)`` for the request context's values."""

    operator: str            # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str                 # lower-case
    holds: Callable[[ContextValues, Lookup], bool]


def _condition(written: str, key: str, raw: list[Any], variables: bool) -> Condition:
    split = split_operator(written)
    if split is None:
        raise MalformedPolicyDocument(SYNTAX)
    qualifier, name, if_exists = split
    family, negated = OPERATORS[name]
    low = key.lower()

    if family == "null":
        flags = [_boolean(v) for v in raw]

        def null(context: ContextValues, _lookup: Lookup) -> bool:
            found = context(low)
            absent = not found
            return any(flag is absent for flag in flags)
        return Condition(written, low, null)

    test = _test(family, raw, variables and family in _VARIABLES)

    def holds(context: ContextValues, lookup: Lookup) -> bool:
        found = context(low)
        if not found:
            if if_exists:
                return True
            if qualifier == "all":
                return True
            if qualifier == "any":
                return False
            return negated
        if qualifier == "all":
            return all(test(v, lookup) != negated for v in found)
        if qualifier == "any":
            return any(test(v, lookup) != negated for v in found)
        matched = any(test(v, lookup) for v in found)
        return matched != negated
    return Condition(written, low, holds)


def _values(value: Any) -> list[Any]:
    if isinstance(value, (str, bool, int, float)):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    raise MalformedPolicyDocument(SYNTAX)


def check_syntax(block: Any) -> None:
    """The ``Condition`` element's shape: operators IAM knows, each with keys and values."""
    if not isinstance(block, dict):
        raise MalformedPolicyDocument(SYNTAX)
    for operator, keys in block.items():
        if not isinstance(operator, str) or not isinstance(keys, dict):
            raise MalformedPolicyDocument(SYNTAX)
        if split_operator(operator) is None and keys:        # IAM lets an unknown one with no keys by
            raise MalformedPolicyDocument(SYNTAX)
        for key, value in keys.items():
            if not isinstance(key, str) or not key:
                raise MalformedPolicyDocument(SYNTAX)
            _values(value)


def check_dates(block: dict[str, dict[str, Any]]) -> None:
    """Date operators' values are dates (IAM: "The policy failed legacy parsing")."""
    for operator, keys in block.items():
        split = split_operator(operator)
        if split is None or not OPERATORS[split[1]][0].startswith("date-"):
            continue
        for value in keys.values():
            if any(parse_date(v) is None for v in _values(value)):
                raise MalformedPolicyDocument(LEGACY)


def compile_conditions(block: dict[str, dict[str, Any]], variables: bool) -> tuple[Condition, ...]:
    """A checked ``Condition`` element, compiled (``variables``: the policy language has them)."""
    out: list[Condition] = []
    for operator, keys in block.items():
        if split_operator(operator) is None:
            continue
        for key, value in keys.items():
            out.append(_condition(operator, key, _values(value), variables))
    return tuple(out)


def holds_all(conditions: Sequence[Condition], context: ContextValues, lookup: Lookup) -> bool:
    for condition in conditions:
        if not condition.holds(context, lookup):
            return False
    return True
