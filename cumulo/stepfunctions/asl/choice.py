"""Choice rules (JSONPath states): comparisons, type tests, And/Or/Not.

A comparison whose variable has another type than the operator's is simply false (AWS:
``NumericEquals`` on ``"42"`` does not match); a variable path that selects nothing is a
``States.Runtime`` failure, except under ``IsPresent``. ``StringMatches`` takes ``*`` as "any
run of characters", ``\\*`` a literal star and ``\\\\`` a literal backslash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Union

from cumulo.stepfunctions.asl.errors import RUNTIME, StatesFailure
from cumulo.stepfunctions.asl.paths import NoMatch, Path, PathSyntaxError, parse_path

__all__ = ["Comparison", "Not", "And", "Or", "Rule", "OPERATORS", "TYPE_TESTS", "compile_rule",
           "matches", "parse_timestamp", "string_matches"]

Json = Any
Report = Callable[[str, str], None]          # (message, location)

_NUMBER = "number"
_STRING = "string"
_BOOLEAN = "boolean"
_TIMESTAMP = "timestamp"

# operator -> (operand kind, comparison)
OPERATORS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {}
for _prefix, _kind in (("String", _STRING), ("Numeric", _NUMBER), ("Timestamp", _TIMESTAMP)):
    for _suffix, _test in (("Equals", lambda a, b: a == b), ("LessThan", lambda a, b: a < b),
                           ("GreaterThan", lambda a, b: a > b), ("LessThanEquals", lambda a, b: a <= b),
                           ("GreaterThanEquals", lambda a, b: a >= b)):
        OPERATORS[_prefix + _suffix] = (_kind, _test)
OPERATORS["BooleanEquals"] = (_BOOLEAN, lambda a, b: a == b)
OPERATORS["StringMatches"] = (_STRING, lambda a, b: string_matches(a, b))
PATH_OPERATORS = {name + "Path" for name in OPERATORS if name != "StringMatches"}
TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


@dataclass(frozen=True)
class Comparison:
    variable: Path
    operator: str                   # as written, e.g. "NumericEqualsPath", "IsNull"
    value: Json                     # a literal, or a Path for the *Path operators


@dataclass(frozen=True)
class Not:
    rule: "Rule"


@dataclass(frozen=True)
class And:
    rules: tuple["Rule", ...]


@dataclass(frozen=True)
class Or:
    rules: tuple["Rule", ...]


Rule = Union[Comparison, Not, And, Or]


# ---- compile (definition time) -------------------------------------------------------------

_ALLOWED_RULE_FIELDS = {"Variable", "And", "Or", "Not", "Next", "Comment", "Assign", *OPERATORS, *PATH_OPERATORS,
                        *TYPE_TESTS}


def compile_rule(raw: Json, location: str, report: Report, *, top: bool) -> Rule | None:
    """Check one choice rule and build it; findings go to ``report``; ``None`` when unusable."""
    if not isinstance(raw, dict):
        report("Value must be an object", location)
        return None
    for key in raw:
        if key not in _ALLOWED_RULE_FIELDS or (key in ("Next", "Assign") and not top):
            report(f"Field '{key}' is not supported", location)
    if top and "Next" not in raw:
        report("These fields are required: [Next]", location)
    combinators = [k for k in ("And", "Or", "Not") if k in raw]
    operators = [k for k in raw if k in OPERATORS or k in PATH_OPERATORS or k in TYPE_TESTS]
    if len(combinators) + len(operators) != 1:
        report("A choice rule must have exactly one comparison operator or And/Or/Not", location)
        return None
    if combinators:
        if "Variable" in raw:
            report("Field 'Variable' is not supported with And/Or/Not", location)
        name = combinators[0]
        if name == "Not":
            inner = compile_rule(raw["Not"], f"{location}/Not", report, top=False)
            return Not(inner) if inner else None
        items = raw[name]
        if not isinstance(items, list) or not items:
            report(f"Field '{name}' must be a non-empty array of rules", f"{location}/{name}")
            return None
        rules = [compile_rule(item, f"{location}/{name}[{i}]", report, top=False) for i, item in enumerate(items)]
        if any(r is None for r in rules):
            return None
        return And(tuple(r for r in rules if r)) if name == "And" else Or(tuple(r for r in rules if r))
    operator = operators[0]
    variable = _compile_path(raw.get("Variable"), "Variable", location, report, required=True)
    value = raw[operator]
    if operator in PATH_OPERATORS:
        value = _compile_path(value, operator, location, report, required=True)
    elif operator in TYPE_TESTS:
        if not isinstance(value, bool):
            report(f"The value for the field '{operator}' must be a boolean", f"{location}/{operator}")
    else:
        kind = OPERATORS[operator][0]
        if not _literal_ok(kind, value):
            report(f"The value for the field '{operator}' must be a {'valid timestamp' if kind == _TIMESTAMP else kind}",
                   f"{location}/{operator}")
            return None
        if kind == _TIMESTAMP:
            value = parse_timestamp(value)
    if variable is None or value is None and operator in PATH_OPERATORS:
        return None
    return Comparison(variable, operator, value)


def _literal_ok(kind: str, value: Json) -> bool:
    if kind == _NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _BOOLEAN:
        return isinstance(value, bool)
    if kind == _TIMESTAMP:
        return isinstance(value, str) and parse_timestamp(value) is not None
    return isinstance(value, str)


def _compile_path(value: Json, field: str, location: str, report: Report, *, required: bool) -> Path | None:
    if value is None:
        if required:
            report(f"These fields are required: [{field}]", location)
        return None
    try:
        return parse_path(value) if isinstance(value, str) else None
    except PathSyntaxError:
        pass
    report(f"The value for the field '{field}' must be a valid JSONPath", f"{location}/{field}")
    return None


# ---- evaluate (run time) -------------------------------------------------------------------

def matches(rule: Rule, data: Json, context: Json, variables: Mapping[str, Json]) -> bool:
    if isinstance(rule, Not):
        return not matches(rule.rule, data, context, variables)
    if isinstance(rule, And):
        return all(matches(r, data, context, variables) for r in rule.rules)
    if isinstance(rule, Or):
        return any(matches(r, data, context, variables) for r in rule.rules)
    try:
        value = rule.variable.select(data, context, variables)
    except NoMatch:
        if rule.operator == "IsPresent":
            return rule.value is False
        raise _invalid(rule.variable) from None
    if rule.operator in TYPE_TESTS:
        return _type_test(rule.operator, value) is rule.value
    operator, expected = rule.operator, rule.value
    if operator in PATH_OPERATORS:
        operator = operator[:-len("Path")]
        try:
            expected = expected.select(data, context, variables)
        except NoMatch:
            raise _invalid(rule.value) from None
    kind, test = OPERATORS[operator]
    left, right = _as(kind, value), _as(kind, expected)
    return left is not None and right is not None and test(left, right)


def _invalid(path: Path) -> StatesFailure:
    return StatesFailure(RUNTIME, f"Invalid path '{path.source}': The choice state's condition path references an "
                                  "invalid value.")


def _as(kind: str, value: Json) -> Any:
    """The value as the operator's kind, or None when it is not one."""
    if kind == _NUMBER:
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == _BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind == _TIMESTAMP:
        return value if isinstance(value, datetime) else parse_timestamp(value) if isinstance(value, str) else None
    return value if isinstance(value, str) else None


def _type_test(operator: str, value: Json) -> bool:
    if operator == "IsNull":
        return value is None
    if operator == "IsPresent":
        return True
    if operator == "IsNumeric":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if operator == "IsString":
        return isinstance(value, str)
    if operator == "IsBoolean":
        return isinstance(value, bool)
    return isinstance(value, str) and parse_timestamp(value) is not None


_TIMESTAMP_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 timestamp with an uppercase ``T`` and ``Z`` (or an offset), as ASL requires."""
    match = _TIMESTAMP_RE.fullmatch(text)
    if not match:
        return None
    fraction = match.group(7) or ""
    zone = match.group(8)
    iso = text[:19] + (fraction[:7] if fraction else "") + ("+00:00" if zone == "Z" else zone)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def string_matches(value: str, pattern: str) -> bool:
    """StringMatches: ``*`` is any run of characters (``\\*`` a star, ``\\\\`` a backslash). Matched
    without a regular expression: a regex of ``.*`` pieces backtracks for hours on a long input
    (``*a*a*a*a*b`` over 3,000 characters); taking each literal piece at its leftmost place is exact
    for star-only patterns and costs a few ``str.find`` scans."""
    pieces, current, i = [], [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            current.append(pattern[i + 1])
            i += 2
            continue
        if ch == "*":
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    pieces.append("".join(current))
    if len(pieces) == 1:
        return value == pieces[0]
    first, middle, last = pieces[0], pieces[1:-1], pieces[-1]
    end = len(value) - len(last)
    if end < len(first) or not value.startswith(first) or not value.endswith(last):
        return False
    position = len(first)
    for piece in middle:
        found = value.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True
