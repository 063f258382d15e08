"""DynamoDB's attribute values: their checks, numbers, sizes, ordering and sortable key encodings.

Pure (no I/O). An item is kept as it travels on the wire — a map of names to attribute values
(``{"S": "x"}``, ``{"N": "12.5"}``, ``{"B": "<base64>"}`` …) — with every number normalized as
DynamoDB keeps it: at most 38 significant digits, magnitude between 1E-130 and
9.9999999999999999999999999999999999999E+125, leading and trailing zeros trimmed, written without
an exponent. Numbers are ``decimal.Decimal`` in arithmetic and comparisons, never floats.

``key_bytes`` encodes a key attribute (S, N or B) so that bytewise order is DynamoDB's order
(S by UTF-8 bytes, N numerically, B by bytes): the store compares keys as blobs, so a Query's
range is a range of an index.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import re
from decimal import Decimal
from typing import Any

from cumulo.errors import CumuloError, ValidationException

__all__ = ["Item", "DynamoError", "TableNotFound", "ResourceInUseException", "ConditionalCheckFailed", "DuplicateItem",
           "TransactionCanceled", "LimitExceeded", "validate_item", "validate_value", "normalize_number",
           "number", "item_size", "value_size", "key_bytes", "compare", "equal", "type_of", "blob",
           "MAX_ITEM_BYTES", "MAX_HASH_KEY_BYTES", "MAX_RANGE_KEY_BYTES", "SCALAR_TYPES", "SET_TYPES"]

Item = dict[str, Any]

MAX_ITEM_BYTES = 400 * 1024
MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024
MAX_DEPTH = 32
SCALAR_TYPES = ("S", "N", "B")
SET_TYPES = {"SS": "S", "NS": "N", "BS": "B"}
ALL_TYPES = ("S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS")

_CONTEXT = decimal.Context(prec=200, Emax=999_999, Emin=-999_999, traps=[decimal.InvalidOperation])
_PLAIN_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}|0")      # already as DynamoDB keeps it
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")


class DynamoError(CumuloError):
    """DynamoDB's errors are all 400s (the client's) unless said otherwise."""

    status = 400
    extra: dict[str, Any] = {}


class TableNotFound(DynamoError):
    @property
    def type(self) -> str:
        return "ResourceNotFoundException"


class ResourceInUseException(DynamoError):
    pass


class LimitExceeded(DynamoError):
    @property
    def type(self) -> str:
        return "LimitExceededException"


class ConditionalCheckFailed(DynamoError):
    """``ConditionalCheckFailedException``, with the item when ReturnValuesOnConditionCheckFailure asks."""

    def __init__(self, message: str = "The conditional request failed", item: Item | None = None) -> None:
        super().__init__(message)
        self.item = item
        self.extra = {"Item": item} if item is not None else {}

    @property
    def type(self) -> str:
        return "ConditionalCheckFailedException"


class DuplicateItem(DynamoError):
    """PartiQL's INSERT of an item whose key is taken."""

    def __init__(self, message: str = "Duplicate primary key exists in table") -> None:
        super().__init__(message)

    @property
    def type(self) -> str:
        return "DuplicateItemException"


class TransactionCanceled(DynamoError):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        codes = ", ".join(r.get("Code", "None") for r in reasons)
        super().__init__(f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]")
        self.extra = {"CancellationReasons": reasons}

    @property
    def type(self) -> str:
        return "TransactionCanceledException"


def invalid(message: str) -> ValidationException:
    return ValidationException("One or more parameter values were invalid: " + message)


# -- numbers -------------------------------------------------------------------------------------
def number(text: str) -> Decimal:
    """A stored (normalized) number as a Decimal."""
    return Decimal(text)


def normalize_number(value: Any) -> str:
    """A number as DynamoDB keeps it, or its ValidationException."""
    if isinstance(value, str) and _PLAIN_INTEGER.fullmatch(value):
        return value
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        raise ValidationException("A value provided cannot be converted into a number")
    return format_number(Decimal(value))


def format_number(d: Decimal) -> str:
    if not d.is_finite():
        raise ValidationException("A value provided cannot be converted into a number")
    if d.is_zero():
        return "0"
    n = _CONTEXT.normalize(d)
    sign, digits, exponent = n.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > 38:
        raise ValidationException("Attempting to store more than 38 significant digits in a Number")
    adjusted = exponent + len(digits) - 1
    if adjusted > 125:
        raise ValidationException("Number overflow. Attempting to store a number with magnitude larger than "
                                  "supported range")
    if adjusted < -130:
        raise ValidationException("Number underflow. Attempting to store a number with magnitude smaller than "
                                  "supported range")
    return format(n, "f")


def add_numbers(a: str, b: str, subtract: bool = False) -> str:
    x, y = Decimal(a), Decimal(b)
    return format_number(_CONTEXT.subtract(x, y) if subtract else _CONTEXT.add(x, y))


# -- binary ---------------------------------------------------------------------------------------
def blob(text: str) -> bytes:
    """A B value's bytes (base64 on the wire)."""
    return base64.b64decode(text)


def _check_blob(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if not isinstance(value, str):
        raise ValidationException("Invalid binary value: expected a base64 string")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException("Invalid binary value: not base64") from None
    return value


# -- values ---------------------------------------------------------------------------------------
def type_of(value: Item) -> str:
    return next(iter(value))


def validate_value(value: Any, depth: int = 0) -> dict[str, Any]:
    """An attribute value checked and normalized (numbers; sets unique), or AWS's ValidationException."""
    if depth > MAX_DEPTH:
        raise ValidationException("Nesting Levels have exceeded supported limits")
    if not isinstance(value, dict) or not value:
        raise ValidationException("Supplied AttributeValue is empty, must contain exactly one of the supported "
                                  "datatypes")
    if len(value) != 1:
        raise ValidationException("Supplied AttributeValue has more than one datatypes set, must contain exactly "
                                  "one of the supported datatypes")
    kind, v = next(iter(value.items()))
    if kind not in ALL_TYPES:
        raise ValidationException("Supplied AttributeValue is empty, must contain exactly one of the supported "
                                  "datatypes")
    if kind == "S":
        if not isinstance(v, str):
            raise ValidationException("Invalid string value: expected a string")
        return {"S": v}
    if kind == "N":
        return {"N": normalize_number(v)}
    if kind == "B":
        return {"B": _check_blob(v)}
    if kind == "BOOL":
        if not isinstance(v, bool):
            raise ValidationException("Invalid BOOL value: expected true or false")
        return {"BOOL": v}
    if kind == "NULL":
        if v is not True:
            raise invalid("Null attribute value types must have the value of true")
        return {"NULL": True}
    if kind == "L":
        if not isinstance(v, list):
            raise ValidationException("Invalid L value: expected a list")
        return {"L": [validate_value(e, depth + 1) for e in v]}
    if kind == "M":
        if not isinstance(v, dict):
            raise ValidationException("Invalid M value: expected a map")
        return {"M": {str(k): validate_value(e, depth + 1) for k, e in v.items()}}
    # sets
    if not isinstance(v, list):
        raise ValidationException(f"Invalid {kind} value: expected a list")
    if not v:
        name = {"SS": "string", "NS": "number", "BS": "binary"}[kind]
        raise invalid(f"An {name} set  may not be empty")
    if kind == "SS":
        if not all(isinstance(e, str) for e in v):
            raise ValidationException("Invalid SS value: expected strings")
        members = list(v)
    elif kind == "NS":
        members = [normalize_number(e) for e in v]
    else:
        members = [_check_blob(e) for e in v]
    if len(set(members)) != len(members):
        raise invalid(f"Input collection [{', '.join(str(m) for m in v)}] contains duplicates.")
    return {kind: members}


def validate_item(item: Any) -> Item:
    if not isinstance(item, dict):
        raise ValidationException("Item must be a map of attribute names to values")
    out = {}
    for name, value in item.items():
        if not isinstance(name, str) or not name:
            raise invalid("An attribute name cannot be empty")
        out[name] = validate_value(value)
    return out


# -- sizes ----------------------------------------------------------------------------------------
def _number_size(text: str) -> int:
    digits = len(text.replace("-", "").replace(".", "").strip("0")) or 1
    return (digits + 1) // 2 + 1


def value_size(value: Item) -> int:
    """The bytes a value counts for, as DynamoDB computes item sizes."""
    kind, v = next(iter(value.items()))
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return len(blob(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(e.encode()) for e in v)
    if kind == "NS":
        return sum(_number_size(e) for e in v)
    if kind == "BS":
        return sum(len(blob(e)) for e in v)
    if kind == "L":
        return 3 + sum(value_size(e) + 1 for e in v)
    return 3 + sum(len(k.encode()) + value_size(e) + 1 for k, e in v.items())   # M


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# -- order ---------------------------------------------------------------------------------------
def key_bytes(value: Item) -> bytes:
    """A key attribute (S, N, B) as bytes whose order is DynamoDB's order of that type."""
    kind, v = next(iter(value.items()))
    if kind == "S":
        return v.encode()
    if kind == "B":
        return blob(v)
    # a stored number is normalized (no exponent, no extra zeros): its digits are read off the text
    negative = v.startswith("-")
    whole, _, fraction = v.lstrip("-").partition(".")
    if whole == "0" and not fraction:
        return b"\x01"
    if whole != "0":
        adjusted = len(whole) - 1
        digits = (whole + fraction).rstrip("0")
    else:
        significant = fraction.lstrip("0")
        adjusted = -(len(fraction) - len(significant)) - 1
        digits = significant.rstrip("0")
    body = (adjusted + 200).to_bytes(2, "big") + digits.encode()
    if not negative:
        return b"\x02" + body
    return b"\x00" + bytes(255 - b for b in body + b"\x00")


def compare(a: Item, b: Item) -> int | None:
    """-1, 0 or 1 for two scalars of one type (S, N, B); None when they cannot be compared."""
    ka, kb = type_of(a), type_of(b)
    if ka != kb or ka not in SCALAR_TYPES:
        return None
    if ka == "N":
        x: Any = Decimal(a["N"])
        y: Any = Decimal(b["N"])
    elif ka == "S":
        x, y = a["S"].encode(), b["S"].encode()
    else:
        x, y = blob(a["B"]), blob(b["B"])
    return (x > y) - (x < y)


def equal(a: Item, b: Item) -> bool:
    """Equality as DynamoDB's ``=``: same type and value (sets regardless of order)."""
    ka, kb = type_of(a), type_of(b)
    if ka != kb:
        return False
    if ka in SCALAR_TYPES:
        return compare(a, b) == 0
    if ka in SET_TYPES:
        if ka == "NS":
            return {Decimal(x) for x in a[ka]} == {Decimal(x) for x in b[kb]}
        if ka == "BS":
            return {blob(x) for x in a[ka]} == {blob(x) for x in b[kb]}
        return set(a[ka]) == set(b[kb])
    if ka == "L":
        return len(a["L"]) == len(b["L"]) and all(equal(x, y) for x, y in zip(a["L"], b["L"]))
    if ka == "M":
        return a["M"].keys() == b["M"].keys() and all(equal(a["M"][k], b["M"][k]) for k in a["M"])
    return a[ka] == b[kb]
