"""EventBridge event patterns: parse and validate once, then match events fast.

``compile_pattern`` turns a pattern (JSON text or an already-parsed dict) into a ``Pattern``
or raises ``InvalidEventPatternException`` with EventBridge's message; ``Pattern.matches``
answers for one event. Matching works on a flattened event (``flatten``): every leaf value
keyed by its dotted path, which is how EventBridge's matcher sees events — so a pattern
``{"detail": {"state.status": [...]}}`` and an event ``{"detail": {"state": {"status": …}}}``
meet (the conformance cases ``dot_joining_*``). Flatten an event once to test it against
many patterns (``Pattern.matches_flat``, ``RuleIndex``).

The language, as AWS documents it and as its answers in shared/conformance show:

* A pattern is an object; its fields are ANDed. A field's value is an object (nested fields)
  or an array of alternatives (ORed) — exact values (string, number, ``true``/``false``,
  ``null``) and one-key operator objects (see ``_operators.py``). Anything else, an empty
  array and an empty object are refused.
* A field matches when *any* leaf at its path satisfies an alternative; an array in the
  event is a set of leaves, nested arrays too; an empty array has no leaves. Objects are not
  leaves: ``exists`` and every operator look at leaves only ("Exists matching only works on
  leaf nodes"), so ``{"exists": false}`` matches a field holding an object.
* ``null`` matches JSON null only, ``""`` the empty string only; ``"5"`` is not ``5``.
* ``$or`` — a list of two or more objects — ORs whole sub-patterns at any level. As in
  EventBridge's matcher, a ``$or`` that is not such a list, or whose objects use an operator
  name as a field name, is an ordinary field named ``$or``.
* Array consistency: fields matched inside objects in *different elements of the same
  array* do not combine: ``{"e": {"first": ["Anna"], "last": ["Doe"]}}`` does not match
  ``{"e": [{"first": "Anna", "last": "Smith"}, {"first": "John", "last": "Doe"}]}``
  (event-ruler's ``rulesForJSONEvent``, the array-consistent matching EventBridge documents).
* A key given twice in the JSON text: the last one counts (AWS's note; ``json`` does that).
* Length: 2048 characters by default, raisable to 4096 by a service-quota increase — the
  ``max_length`` argument.

Rules we chose where AWS is silent, each for a reason:

* ``{"exists": false}`` asks whether the path has no leaf anywhere in the event; array
  consistency does not apply to absence (there is no element to be consistent with).
* ``$or`` is expanded into alternatives (the way EventBridge's matcher adds one rule per
  combination); more than ``MAX_COMBINATIONS`` of them are refused, which bounds both the
  compile and the per-event cost of one rule.
* Objects may nest ``MAX_DEPTH`` levels at most: that keeps recursion bounded at 4096
  characters too (AWS states no depth limit for patterns).
* Exact numbers compare by value as doubles; numeric operators round to six decimals, the
  precision AWS documents for them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Final

from cumulo.errors import CumuloError
from cumulo.events._operators import (
    OPERATORS,
    TOO_COMPLEX,
    WILDCARD_COMPLEXITY_LIMIT,
    PatternError,
    Predicate,
    compile_affix,
    compile_anything_but,
    compile_cidr,
    compile_equals_ignore_case,
    compile_numeric,
    compile_wildcard,
    value_key,
    wildcard_complexity,
)

__all__ = [
    "MAX_COMBINATIONS",
    "MAX_DEPTH",
    "MAX_PATTERN_LENGTH",
    "MAX_PATTERN_LENGTH_RAISED",
    "Branch",
    "FieldTest",
    "FlatEvent",
    "InvalidEventPatternException",
    "Pattern",
    "branch_matches",
    "compile_pattern",
    "flatten",
]

MAX_PATTERN_LENGTH: Final = 2048
MAX_PATTERN_LENGTH_RAISED: Final = 4096
MAX_COMBINATIONS: Final = 1000
MAX_DEPTH: Final = 100

Membership = tuple[tuple[int, int], ...]  # (array id, element index) for each enclosing array element


class InvalidEventPatternException(CumuloError):
    """EventBridge's answer to a pattern it refuses (PutRule, TestEventPattern): HTTP 400."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")
        self.reason = reason

    @property
    def code(self) -> str:
        """The AWS error code, ``InvalidEventPatternException``."""
        return self.type


# --- flattened events ------------------------------------------------------------------------

class FlatEvent:
    """An event's leaves by dotted path. ``members`` is kept only for paths with a leaf inside
    an object or array that is an element of an array, aligned with ``values[path]``."""

    __slots__ = ("members", "values")

    def __init__(self) -> None:
        self.values: dict[str, list[Any]] = {}
        self.members: dict[str, list[Membership]] = {}


def flatten(event: Mapping[str, Any]) -> FlatEvent:
    """The leaves of ``event`` by path (``detail.state``); arrays add their elements' leaves."""
    flat = FlatEvent()
    values, members = flat.values, flat.members
    next_array = 0

    def member_leaf(path: str, value: Any, member: Membership) -> None:
        found = values.get(path)
        if found is None:
            values[path] = [value]
            members[path] = [member]
            return
        found.append(value)
        aligned = members.get(path)
        if aligned is not None:
            aligned.append(member)
        else:
            members[path] = [()] * (len(found) - 1) + [member]

    def walk(node: Mapping[str, Any], prefix: str, member: Membership) -> None:
        for key, value in node.items():
            path = prefix + key
            if isinstance(value, dict):
                walk(value, path + ".", member)
            elif isinstance(value, (list, tuple)):
                walk_array(value, path, member)
            elif member:
                member_leaf(path, value, member)
            else:
                found = values.get(path)
                if found is None:
                    values[path] = [value]
                else:
                    found.append(value)
                    aligned = members.get(path)
                    if aligned is not None:
                        aligned.append(())

    def walk_array(array: list[Any] | tuple[Any, ...], path: str, member: Membership) -> None:
        nonlocal next_array
        number = next_array
        next_array += 1
        for index, element in enumerate(array):
            # Only containers can hold two fields; a scalar element needs no membership.
            if isinstance(element, dict):
                walk(element, path + ".", member + ((number, index),))
            elif isinstance(element, (list, tuple)):
                walk_array(element, path, member + ((number, index),))
            elif member:
                member_leaf(path, element, member)
            else:
                found = values.get(path)
                if found is None:
                    values[path] = [element]
                else:
                    found.append(element)
                    aligned = members.get(path)
                    if aligned is not None:
                        aligned.append(())

    walk(event, "", ())
    return flat


# --- compiled patterns -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FieldTest:
    """One field of one alternative: its path and the ORed tests a leaf there may pass.

    ``exact`` holds ``value_key``s, ``prefixes`` plain case-sensitive prefixes (both kept
    apart so an index can use them), ``tests`` everything else; ``absent_ok`` is set by
    ``{"exists": false}``; ``ranges`` are the intervals of the numeric tests (for an index).
    """

    path: str
    exact: frozenset[Any]
    prefixes: tuple[str, ...]
    tests: tuple[Predicate, ...]
    absent_ok: bool
    ranges: tuple[tuple[float, float], ...] = ()  # around each numeric test, in order
    any_leaf: Callable[[list[Any]], bool] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "any_leaf", _any_leaf_test(self))

    def test(self, value: Any) -> bool:
        if type(value) is str:
            if value in self.exact or (self.prefixes and value.startswith(self.prefixes)):
                return True
        elif self.exact and value_key(value) in self.exact:
            return True
        for test in self.tests:
            if test(value):
                return True
        return False

    @property
    def exact_only(self) -> bool:
        """Whether only exact values pass (no operator, no absence)."""
        return bool(self.exact) and not self.prefixes and not self.tests and not self.absent_ok

    @property
    def prefix_only(self) -> bool:
        return bool(self.prefixes) and not self.exact and not self.tests and not self.absent_ok

    @property
    def numeric_only(self) -> bool:
        """Whether only numeric tests pass (their ``ranges`` cover everything that does)."""
        return (bool(self.ranges) and len(self.ranges) == len(self.tests) and not self.exact
                and not self.prefixes and not self.absent_ok)


def _any_leaf_test(field: FieldTest) -> Callable[[list[Any]], bool]:
    """Whether any of a path's leaves passes ``field``: specialised, as it runs for every
    candidate rule of every event."""
    exact, tests = field.exact, field.tests
    if field.prefixes or (exact and tests) or len(tests) > 1:
        test = field.test
        return lambda leaves: any(map(test, leaves))
    if exact:
        def any_exact(leaves: list[Any]) -> bool:
            for v in leaves:
                if (v if type(v) is str else value_key(v)) in exact:
                    return True
            return False
        return any_exact
    if tests:
        return lambda leaves: any(map(tests[0], leaves))
    return _no_leaf  # only {"exists": false}: any leaf at all fails it


def _no_leaf(leaves: list[Any]) -> bool:
    return False


Branch = tuple[FieldTest, ...]  # ANDed fields; a pattern ORs its branches


@dataclass(frozen=True, eq=False)
class Pattern:
    """A compiled event pattern. ``source`` is its JSON text; ``branches`` its ``$or``
    alternatives, each a conjunction of fields."""

    source: str
    branches: tuple[Branch, ...]

    def matches(self, event: Mapping[str, Any]) -> bool:
        return self.matches_flat(flatten(event))

    def matches_flat(self, flat: FlatEvent) -> bool:
        for branch in self.branches:
            if branch_matches(branch, flat):
                return True
        return False

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(f.path for b in self.branches for f in b)


def branch_matches(branch: Branch, flat: FlatEvent) -> bool:
    values, members = flat.values, flat.members
    nested: list[list[Membership]] | None = None
    for field in branch:
        leaves = values.get(field.path)
        if leaves is None:
            if field.absent_ok:
                continue
            return False
        aligned = members.get(field.path)
        if aligned is None:
            if not field.any_leaf(leaves):
                return False
            continue
        found = [m for v, m in zip(leaves, aligned) if field.test(v)]
        if not found:
            return False
        if () not in found:  # a leaf outside any array element agrees with every choice
            if nested is None:
                nested = []
            nested.append(found)
    return nested is None or len(nested) < 2 or _consistent(nested)


def _consistent(choices: list[list[Membership]]) -> bool:
    """Whether one leaf per field can be picked with no two in different elements of one array."""
    choices.sort(key=len)

    def pick(i: int, bound: dict[int, int]) -> bool:
        if i == len(choices):
            return True
        for member in choices[i]:
            if all(bound.get(array, index) == index for array, index in member) and pick(i + 1, {**bound, **dict(member)}):
                return True
        return False

    return pick(0, {})


# --- compiling -------------------------------------------------------------------------------

def compile_pattern(pattern: str | Mapping[str, Any], *, max_length: int = MAX_PATTERN_LENGTH) -> Pattern:
    """Validate ``pattern`` as EventBridge does; raises ``InvalidEventPatternException``."""
    try:
        source, document = _load(pattern, max_length)
        if not isinstance(document, dict):
            raise PatternError("Filter is not an object")
        branches = _object(document, "", 1)
    except PatternError as exc:
        raise InvalidEventPatternException(exc.reason) from None
    except RecursionError:
        raise InvalidEventPatternException(f"Event pattern is nested more than {MAX_DEPTH} levels deep") from None
    return Pattern(source, tuple(branches))


def _load(pattern: str | Mapping[str, Any], max_length: int) -> tuple[str, Any]:
    if isinstance(pattern, str):
        source = pattern
        if len(source) > max_length:
            raise PatternError(f"Event pattern is longer than {max_length} characters")
        try:
            return source, json.loads(source, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise PatternError(f"Filter is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(pattern, Mapping):
        raise PatternError("Filter is not an object")
    try:
        source = json.dumps(pattern, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PatternError(f"Filter is not valid JSON: {exc}") from None
    if len(source) > max_length:
        raise PatternError(f"Event pattern is longer than {max_length} characters")
    return source, json.loads(source)  # what the text says: tuples are arrays, keys are strings


def _no_constant(name: str) -> Any:
    raise PatternError(f"Filter is not valid JSON: {name} is not a JSON value")


def _is_or(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 2
            and all(isinstance(alt, dict) and not (alt.keys() & OPERATORS) for alt in value))


def _object(obj: dict[str, Any], prefix: str, depth: int) -> list[Branch]:
    if not obj:
        raise PatternError("Empty objects are not allowed")
    if depth > MAX_DEPTH:
        raise PatternError(f"Event pattern is nested more than {MAX_DEPTH} levels deep")
    parts: list[list[Branch]] = []
    for key, value in obj.items():
        if key == "$or" and _is_or(value):
            parts.append([b for alt in value for b in _object(alt, prefix, depth + 1)])
            continue
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            parts.append(_object(value, path, depth + 1))
        elif isinstance(value, list):
            parts.append([(_field(path, value),)])
        else:
            raise PatternError(f'"{key}" must be an object or an array')
    branches: list[Branch] = [()]
    for alternatives in parts:
        branches = [b + a for b in branches for a in alternatives]
        if len(branches) > MAX_COMBINATIONS:
            raise PatternError(f"Event pattern has more than {MAX_COMBINATIONS} $or combinations")
    return branches


def _field(path: str, alternatives: list[Any]) -> FieldTest:
    if not alternatives:
        raise PatternError("Empty arrays are not allowed")
    exact: set[Any] = set()
    prefixes: list[str] = []
    tests: list[Predicate] = []
    ranges: list[tuple[float, float]] = []
    wildcards: list[tuple[str, ...]] = []
    absent_ok = False
    for alt in alternatives:
        if isinstance(alt, dict):
            absent_ok |= _operator(alt, prefixes, tests, ranges, wildcards)
        elif isinstance(alt, (list, tuple)):
            raise PatternError("Match value must be String, number, true, false, or null")
        else:
            exact.add(value_key(alt))
    if wildcards and wildcard_complexity(wildcards) > WILDCARD_COMPLEXITY_LIMIT:
        raise PatternError(TOO_COMPLEX)
    return FieldTest(path, frozenset(exact), tuple(dict.fromkeys(prefixes)), tuple(tests), absent_ok, tuple(ranges))


def _operator(alt: dict[str, Any], prefixes: list[str], tests: list[Predicate],
              ranges: list[tuple[float, float]], wildcards: list[tuple[str, ...]]) -> bool:
    """Add one operator's test; True for ``{"exists": false}``."""
    if not alt:
        raise PatternError("Empty objects are not allowed")
    if len(alt) > 1:
        raise PatternError(f"Only one match type allowed in an object, got: {', '.join(alt)}")
    (kind, arg), = alt.items()
    if kind in ("prefix", "suffix"):
        plain, test = compile_affix(kind, arg)
        if plain is not None:
            prefixes.append(plain)
        if test is not None:
            tests.append(test)
    elif kind == "exists":
        if not isinstance(arg, bool):
            raise PatternError("exists match pattern must be either true or false.")
        if not arg:
            return True
        tests.append(_any_leaf)
    elif kind == "equals-ignore-case":
        tests.append(compile_equals_ignore_case(arg))
    elif kind == "wildcard":
        pieces, test = compile_wildcard(arg)
        wildcards.append(pieces)
        tests.append(test)
    elif kind == "numeric":
        test, interval = compile_numeric(arg)
        tests.append(test)
        ranges.append(interval)
    elif kind == "cidr":
        tests.append(compile_cidr(arg))
    elif kind == "anything-but":
        test, globs = compile_anything_but(arg)
        wildcards.extend(globs)
        tests.append(test)
    else:
        raise PatternError(f"Unrecognized match type {kind}")
    return False


def _any_leaf(value: Any) -> bool:
    return True
