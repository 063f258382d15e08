"""Intrinsic functions (``States.Format('{}', $.x)`` …) of JSONPath payload templates.

``parse_intrinsic`` turns the text into a ``Call`` tree at definition time (so a bad call is an
InvalidDefinition, as in AWS); ``evaluate`` runs it against resolved paths. Arguments are string
literals in single quotes (``\\'``, ``\\{``, ``\\}``, ``\\\\`` escape), numbers, ``true``/``false``/
``null``, paths (``$.a``, ``$$.Execution.Id``, ``$var``) and nested calls, at most 10 deep (AWS's
limit). Any failure while evaluating is ``States.IntrinsicFailure`` naming the function and argument.

Bounds (``limits``): nothing is built before its size is known. States.ArrayRange counts its items
before making them (at most 1,000, AWS's limit); States.Format adds up its pieces before joining
them; Base64Encode/Base64Decode/Hash take at most 10,000 characters (AWS's limits); and every
function's result, which may hold one argument many times (``States.Array($, $, …)``), is measured
without being written: past the payload quota (256 KiB) or ``MAX_DEPTH`` levels of nesting it is
``States.DataLimitExceeded``, which ``States.ALL`` does not catch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from cumulo.stepfunctions.asl.errors import DATA_LIMIT_EXCEEDED, INTRINSIC_FAILURE, StatesFailure
from cumulo.stepfunctions.asl.limits import MAX_ARRAY_RANGE, MAX_INTRINSIC_NESTING, MAX_PAYLOAD, TooLarge, measure
from cumulo.stepfunctions.asl.paths import Path, PathSyntaxError, dumps, parse_path

__all__ = ["Call", "Literal", "IntrinsicSyntaxError", "Randomness", "parse_intrinsic", "is_intrinsic",
           "evaluate", "FUNCTIONS"]

Json = Any
UNBOUNDED = 1 << 30
MAX_STRING = 10_000           # AWS: Base64Encode/Base64Decode/Hash take up to 10,000 characters
MAX_RANGE = MAX_ARRAY_RANGE

# name -> (minimum arguments, maximum arguments)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "States.Format": (1, UNBOUNDED), "States.StringToJson": (1, 1), "States.JsonToString": (1, 1),
    "States.Array": (0, UNBOUNDED), "States.ArrayPartition": (2, 2), "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3), "States.ArrayGetItem": (2, 2), "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1), "States.Base64Encode": (1, 1), "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2), "States.JsonMerge": (3, 3), "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2), "States.StringSplit": (2, 2), "States.UUID": (0, 0),
}
HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


class IntrinsicSyntaxError(ValueError):
    """The text is not a valid intrinsic function call."""


class Randomness(Protocol):
    """Where States.UUID and States.MathRandom (unseeded) draw from; injected for determinism."""

    def random(self) -> float: ...

    def uuid(self) -> str: ...


@dataclass(frozen=True)
class Literal:
    value: Json
    template: tuple[str, ...] | None = None     # a string literal split at its unescaped "{}"


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Literal | Path | Call, ...]
    source: str


def is_intrinsic(text: object) -> bool:
    return isinstance(text, str) and text.startswith("States.")


# ---- parsing -------------------------------------------------------------------------------

_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def parse_intrinsic(text: str) -> Call:
    call, end = _parse_call(text, 0, 1)
    if text[end:].strip():
        raise IntrinsicSyntaxError(f"unexpected text after the call: {text[end:]!r}")
    return call


def _parse_call(text: str, i: int, depth: int) -> tuple[Call, int]:
    if depth > MAX_INTRINSIC_NESTING:
        raise IntrinsicSyntaxError(f"intrinsic functions are nested more than {MAX_INTRINSIC_NESTING} deep")
    match = _NAME.match(text, i)
    if not match:
        raise IntrinsicSyntaxError(f"expected States.<Function> at {i}")
    name = match.group()
    if name not in FUNCTIONS:
        raise IntrinsicSyntaxError(f"unknown intrinsic function {name}")
    i = _skip(text, match.end())
    if i >= len(text) or text[i] != "(":
        raise IntrinsicSyntaxError(f"expected '(' after {name}")
    i = _skip(text, i + 1)
    args: list[Literal | Path | Call] = []
    if i < len(text) and text[i] == ")":
        i += 1
    else:
        while True:
            arg, i = _parse_arg(text, i, depth)
            args.append(arg)
            i = _skip(text, i)
            if i < len(text) and text[i] == ",":
                i = _skip(text, i + 1)
                continue
            if i < len(text) and text[i] == ")":
                i += 1
                break
            raise IntrinsicSyntaxError(f"expected ',' or ')' at {i} in {text!r}")
    low, high = FUNCTIONS[name]
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"at least {low}" if high == UNBOUNDED else f"{low} to {high}"
        raise IntrinsicSyntaxError(f"{name} takes {expected} arguments, got {len(args)}")
    return Call(name, tuple(args), text), i


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _parse_arg(text: str, i: int, depth: int) -> tuple[Literal | Path | Call, int]:
    if i >= len(text):
        raise IntrinsicSyntaxError("missing argument")
    ch = text[i]
    if ch == "'":
        return _parse_string(text, i)
    if ch == "$":
        end = _path_end(text, i)
        try:
            return parse_path(text[i:end].strip()), end
        except PathSyntaxError as exc:
            raise IntrinsicSyntaxError(str(exc)) from exc
    if text.startswith("States.", i):
        return _parse_call(text, i, depth + 1)
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, i) and not text[i + len(word):i + len(word) + 1].isalnum():
            return Literal(value), i + len(word)
    match = _NUMBER.match(text, i)
    if match:
        token = match.group()
        number = float(token) if any(c in token for c in ".eE") else int(token)
        return Literal(number), match.end()
    raise IntrinsicSyntaxError(f"bad argument at {i} in {text!r}")


def _parse_string(text: str, i: int) -> tuple[Literal, int]:
    parts, current, j = [], [], i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            if j + 1 >= len(text) or text[j + 1] not in "'{}\\":
                raise IntrinsicSyntaxError("an open escape '\\' in a string literal")
            current.append(text[j + 1])
            j += 2
            continue
        if ch == "'":
            parts.append("".join(current))
            return Literal("{}".join(parts), tuple(parts)), j + 1
        if ch == "{" and text.startswith("{}", j):
            parts.append("".join(current))
            current = []
            j += 2
            continue
        if ch in "{}":
            raise IntrinsicSyntaxError(f"unescaped '{ch}' in a string literal")
        current.append(ch)
        j += 1
    raise IntrinsicSyntaxError("unterminated string literal")


def _path_end(text: str, i: int) -> int:
    depth, quote, j = 0, "", i
    while j < len(text):
        ch = text[j]
        if quote:
            if ch == "\\":
                j += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"" and depth:
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            if depth == 0:
                return j
            depth -= 1
        elif ch == "," and depth == 0:
            return j
        j += 1
    return j


# ---- evaluation ----------------------------------------------------------------------------

def evaluate(call: Call, resolve: Callable[[Path], Json], randomness: Randomness) -> Json:
    """Evaluate a call; ``resolve`` answers a path argument (and raises when it matches nothing)."""
    values = []
    for arg in call.args:
        if isinstance(arg, Literal):
            values.append(arg.value)
        elif isinstance(arg, Path):
            values.append(resolve(arg))
        else:
            values.append(evaluate(arg, resolve, randomness))
    function = _IMPLEMENTATIONS[call.name]
    result = function(_Args(call, values), randomness)
    try:
        measure(result, MAX_PAYLOAD)
    except TooLarge as exc:
        raise StatesFailure(DATA_LIMIT_EXCEEDED, f"{call.name} returned a result {exc.reason}, more than the "
                                                 f"maximum number of bytes service limit (in {call.source})") from None
    return result


class _Args:
    """The evaluated arguments of one call, with typed accessors that fail as AWS does."""

    def __init__(self, call: Call, values: list[Json]) -> None:
        self.call, self.values = call, values

    def fail(self, message: str) -> StatesFailure:
        return StatesFailure(INTRINSIC_FAILURE, f"{self.call.name}: {message} (in {self.call.source})")

    def _typed(self, index: int, kinds: tuple[type, ...], what: str) -> Any:
        value = self.values[index]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise self.fail(f"the argument at index {index} must be {what}, got {_kind(value)}")
        return value

    def string(self, index: int) -> str:
        value: str = self._typed(index, (str,), "a string")
        return value

    def array(self, index: int) -> list[Json]:
        value: list[Json] = self._typed(index, (list,), "an array")
        return value

    def object(self, index: int) -> dict[str, Json]:
        value: dict[str, Json] = self._typed(index, (dict,), "an object")
        return value

    def boolean(self, index: int) -> bool:
        value: bool = self._typed(index, (bool,), "a boolean")
        return value

    def integer(self, index: int) -> int:
        value = self._typed(index, (int, float), "an integer")
        if isinstance(value, float) and not value.is_integer():
            raise self.fail(f"the argument at index {index} must be an integer, got {value}")
        return int(value)


def _kind(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _key(value: Json) -> str:
    """A canonical text of a JSON value: equal values (1 and 1.0 aside from booleans) share it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(_normalise(value), sort_keys=True, separators=(",", ":"))
    return json.dumps(value)


def _normalise(value: Json) -> Json:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _format(args: _Args, _: Randomness) -> Json:
    call = args.call
    first = call.args[0]
    if isinstance(first, Literal) and first.template is not None:
        pieces = list(first.template)
    else:
        pieces = args.string(0).split("{}")
    if len(pieces) - 1 != len(args.values) - 1:
        raise args.fail(f"the template has {len(pieces) - 1} placeholders for {len(args.values) - 1} arguments")
    out = [pieces[0]]
    for index, value in enumerate(args.values[1:], start=1):
        if isinstance(value, (dict, list)):
            raise args.fail(f"the argument at index {index} must be a string, number, boolean or null, got "
                            f"{_kind(value)}")
    for value, piece in zip(args.values[1:], pieces[1:], strict=True):
        out.append(value if isinstance(value, str) else dumps(value))
        out.append(piece)
    size = sum(map(len, out))           # one argument may fill many placeholders: count before joining
    if size > MAX_PAYLOAD:
        raise StatesFailure(DATA_LIMIT_EXCEEDED, f"{call.name} would return {size} characters, more than the "
                                                 f"maximum number of bytes service limit (in {call.source})")
    return "".join(out)


def _json_to_string(args: _Args) -> Json:
    try:
        measure(args.values[0], MAX_PAYLOAD)
    except TooLarge as exc:
        raise StatesFailure(DATA_LIMIT_EXCEEDED, f"{args.call.name}: the argument is {exc.reason} "
                                                 f"(in {args.call.source})") from None
    return dumps(args.values[0])


def _string_to_json(args: _Args, _: Randomness) -> Json:
    text = args.string(0).strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise args.fail(f"the argument is not valid JSON: {text}") from None
    except RecursionError:
        raise args.fail("the argument is JSON nested too deeply") from None


def _array_partition(args: _Args, _: Randomness) -> Json:
    items, size = args.array(0), args.integer(1)
    if size <= 0:
        raise args.fail("the chunk size must be a positive integer")
    return [items[i:i + size] for i in range(0, len(items), size)]


def _array_range(args: _Args, _: Randomness) -> Json:
    start, end, step = args.integer(0), args.integer(1), args.integer(2)
    if step == 0:
        raise args.fail("the step must not be 0")
    numbers = range(start, end + (1 if step > 0 else -1), step)
    if len(numbers) > MAX_RANGE:                  # counted before a single item is made
        raise args.fail(f"the range has {len(numbers)} items, more than {MAX_RANGE}")
    return list(numbers)


def _array_get_item(args: _Args, _: Randomness) -> Json:
    items, index = args.array(0), args.integer(1)
    if not 0 <= index < len(items):
        raise args.fail(f"the index {index} is out of bounds for an array of {len(items)} items")
    return items[index]


def _array_unique(args: _Args, _: Randomness) -> Json:
    seen: set[str] = set()
    out = []
    for item in args.array(0):
        key = _key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _base64_encode(args: _Args, _: Randomness) -> Json:
    text = args.string(0)
    if len(text) > MAX_STRING:
        raise args.fail(f"the input is longer than {MAX_STRING} characters")
    return base64.b64encode(text.encode()).decode()


def _base64_decode(args: _Args, _: Randomness) -> Json:
    text = args.string(0)
    if len(text) > MAX_STRING:
        raise args.fail(f"the input is longer than {MAX_STRING} characters")
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise args.fail("the input is not valid base64") from None


def _hash(args: _Args, _: Randomness) -> Json:
    data, algorithm = args.values[0], args.string(1)
    if algorithm not in HASHES:
        raise args.fail(f"the algorithm must be one of {', '.join(HASHES)}, got {algorithm}")
    if not isinstance(data, str):
        try:
            measure(data, MAX_STRING)
        except TooLarge:
            raise args.fail(f"the input is longer than {MAX_STRING} characters") from None
    text = data if isinstance(data, str) else dumps(data)
    if len(text) > MAX_STRING:
        raise args.fail(f"the input is longer than {MAX_STRING} characters")
    return hashlib.new(HASHES[algorithm], text.encode()).hexdigest()


def _json_merge(args: _Args, _: Randomness) -> Json:
    left, right, deep = args.object(0), args.object(1), args.boolean(2)
    if deep:
        raise args.fail("only the shallow merge mode is supported: the third argument must be false")
    return {**left, **right}


def _math_random(args: _Args, randomness: Randomness) -> Json:
    start, end = args.integer(0), args.integer(1)
    if start >= end:
        raise args.fail("the start must be less than the end")
    if len(args.values) == 3:
        return random.Random(args.integer(2)).randrange(start, end)
    return start + int(randomness.random() * (end - start))


def _math_add(args: _Args, _: Randomness) -> Json:
    return args.integer(0) + args.integer(1)


def _string_split(args: _Args, _: Randomness) -> Json:
    text, delimiters = args.string(0), args.string(1)
    if not delimiters:
        return [text] if text else []
    return [token for token in re.split("[" + re.escape(delimiters) + "]", text) if token]


_IMPLEMENTATIONS: dict[str, Callable[[_Args, Randomness], Json]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": lambda a, _: _json_to_string(a),
    "States.Array": lambda a, _: list(a.values),
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": lambda a, _: any(_key(v) == _key(a.values[1]) for v in a.array(0)),
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": lambda a, _: len(a.array(0)),
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": lambda _, r: r.uuid(),
}
