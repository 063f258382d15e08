"""The value operators of EventBridge event patterns: one leaf value of an event in, yes or no out.

Each ``compile_*`` checks an operator's argument the way EventBridge does and returns a
predicate over one *leaf* of an event: a ``str``, ``int``, ``float``, ``bool`` or ``None``
(objects and arrays never reach a predicate: the event is flattened first, see
``pattern.py``). A refused argument raises ``PatternError`` whose ``reason`` is the text
EventBridge puts after "Event pattern is not valid. Reason: "; ``pattern.compile_pattern``
turns it into ``InvalidEventPatternException`` in one place.

Facts from AWS's documentation ("Content filtering in Amazon EventBridge event patterns",
the event-ruler README that documents EventBridge's matcher) and from its answers
(shared/conformance/event_patterns*.json):

* prefix, suffix, equals-ignore-case and wildcard match strings only; numeric matches JSON
  numbers only (the string ``"300"`` is not a number), limited to -5.0e9 … +5.0e9 with six
  digits after the decimal point; exact numbers compare as numbers (``3.0e2`` is ``300``).
* anything-but matches every leaf that is *there* and is not excluded: ``null``, ``true``
  and numbers pass ``{"anything-but": {"prefix": "x"}}``; a missing field never matches.
* wildcard: ``*`` is any run of characters, ``\\*`` a literal star, ``\\\\`` a literal
  backslash, any other escape and two stars in a row are refused.
* the error texts: "prefix match pattern must be a string" (also for ``cidr``, as AWS
  says), "Null prefix/suffix not allowed", "Bad numeric range operator: >", "Consecutive
  wildcard characters at pos N" and the others the conformance file shows.

Rules we chose where AWS is silent, each for a reason:

* equals-ignore-case folds one character at a time with Unicode's simple case mapping
  (``lower(upper(c))``, keeping a character whose mapping is longer than one character):
  ``Σ``, ``σ`` and ``ς`` are one letter, ``Ä`` is ``ä``, ``İ`` is ``i``; ``ß`` is *not*
  ``SS``. This is what a per-character comparison in EventBridge's Java matcher gives;
  Python's ``casefold`` (``ß`` = ``ss``) would match strings AWS does not.
* Wildcard complexity: AWS refuses a wildcard rule whose matcher could be in too many
  states at once ("Rule is too complex - try using fewer wildcard characters or fewer
  repeating character sequences after a wildcard character"); its exact measure is not
  published. Ours adds up, over the wildcards of one field (anything-but's included), the
  largest number of positions each wildcard's automaton can be in at once for any input,
  with a limit of 100 — the complexity at which AWS's engine documents ~1,250 events/s.
  A wildcard needing more than ``_DFA_BUDGET`` automaton states to explore is refused the
  same way. Long literals are cheap; stars followed by repeating characters are not.
* Error texts AWS's samples do not show are written in the same style.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache
from typing import Any, Final

__all__ = [
    "NUMERIC_LIMIT",
    "OPERATORS",
    "WILDCARD_COMPLEXITY_LIMIT",
    "PatternError",
    "Predicate",
    "compile_affix",
    "compile_anything_but",
    "compile_cidr",
    "compile_equals_ignore_case",
    "compile_numeric",
    "compile_wildcard",
    "fold",
    "glob_match",
    "numeric_value",
    "parse_wildcard",
    "value_key",
    "wildcard_complexity",
]

Predicate = Callable[[Any], bool]

OPERATORS: Final = frozenset(
    {"prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case", "wildcard", "cidr"}
)
NUMERIC_LIMIT: Final = 5.0e9
WILDCARD_COMPLEXITY_LIMIT: Final = 100
TOO_COMPLEX: Final = ("Rule is too complex - try using fewer wildcard characters or fewer repeating character "
                      "sequences after a wildcard character")
_DFA_BUDGET: Final = 20_000
_DECIMALS: Final = 6


class PatternError(ValueError):
    """A pattern EventBridge refuses; ``reason`` is the text after "Reason: "."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- exact values ----------------------------------------------------------------------------

_TRUE: Final = ("bool", True)
_FALSE: Final = ("bool", False)
_NULL: Final = ("null",)


def value_key(value: Any) -> Hashable:
    """A hashable key equal for equal JSON values: strings as themselves, numbers by value
    (``300`` and ``300.0`` share a key), and ``true``/``1`` kept apart (Python says they are equal)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return _TRUE if value else _FALSE
    if value is None:
        return _NULL
    if kind is int or kind is float:
        try:
            return ("num", float(value))
        except OverflowError:  # an integer beyond a double: compare it exactly
            return ("num", value)
    return ("other", id(value))  # objects and arrays are never leaves


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _show(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


# --- case folding ----------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    upper = ch.upper()
    if len(upper) != 1:
        upper = ch
    lower = upper.lower()
    return lower if len(lower) == 1 else lower[0]  # only U+0130 lowers to two characters: "i" + a dot


def fold(text: str) -> str:
    """``text`` with each character case-folded on its own (length-preserving)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


# --- prefix, suffix, equals-ignore-case ------------------------------------------------------

def compile_affix(kind: str, arg: Any) -> tuple[str | None, Predicate | None]:
    """``prefix``/``suffix``: a plain string (returned first, so an index can use it) or
    ``{"equals-ignore-case": str}`` (returned as a predicate)."""
    if isinstance(arg, str):
        if kind == "prefix":
            return arg, None
        return None, _suffix(arg)
    if isinstance(arg, dict) and len(arg) == 1 and "equals-ignore-case" in arg:
        inner = arg["equals-ignore-case"]
        if not isinstance(inner, str):
            raise PatternError("equals-ignore-case match pattern must be a string")
        folded = fold(inner)
        if kind == "prefix":
            return None, lambda v: type(v) is str and fold(v).startswith(folded)
        return None, lambda v: type(v) is str and fold(v).endswith(folded)
    raise PatternError(f"{kind} match pattern must be a string")


def _suffix(suffix: str) -> Predicate:
    return lambda v: type(v) is str and v.endswith(suffix)


def compile_equals_ignore_case(arg: Any) -> Predicate:
    if not isinstance(arg, str):
        raise PatternError("equals-ignore-case match pattern must be a string")
    folded = fold(arg)
    return lambda v: type(v) is str and fold(v) == folded


# --- wildcard --------------------------------------------------------------------------------

def parse_wildcard(text: str) -> tuple[str, ...]:
    """The literal pieces between the stars of a wildcard value (one more than there are stars)."""
    pieces: list[str] = []
    buf: list[str] = []
    i, after_star = 0, False
    while i < len(text):
        ch = text[i]
        if ch == "*":
            if after_star:
                raise PatternError(f"Consecutive wildcard characters at pos {i}")
            pieces.append("".join(buf))
            buf, after_star = [], True
            i += 1
            continue
        after_star = False
        if ch == "\\":
            escaped = text[i + 1] if i + 1 < len(text) else ""
            if escaped not in ("*", "\\"):
                raise PatternError(f"Invalid escape character at pos {i}")
            buf.append(escaped)
            i += 2
            continue
        buf.append(ch)
        i += 1
    pieces.append("".join(buf))
    return tuple(pieces)


def glob_match(pieces: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` matches the wildcard made of ``pieces``: the first is a prefix, the
    last a suffix, the ones between appear in order (leftmost-first is enough for ``*``)."""
    if len(pieces) == 1:
        return text == pieces[0]
    first, last = pieces[0], pieces[-1]
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    pos = len(first)
    for piece in pieces[1:-1]:
        found = text.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


_STAR: Final = ""  # tokens that are not characters
_END: Final = "end"
_OTHER: Final = "other"


def wildcard_complexity(wildcards: Sequence[tuple[str, ...]], budget: int = _DFA_BUDGET) -> int:
    """How many positions the wildcards of one field can occupy at once, added up.

    Each wildcard's automaton has one position per literal character and per star; a star
    stays where it is on any character and may also be skipped. Exploring the reachable sets
    of positions (the subset construction), only the characters some position waits for lead
    anywhere new; every other character behaves alike. The field's complexity is the sum of
    each wildcard's largest set — an upper bound for the wildcards taken together, whose exact
    value would need the product of their automata (seconds for a handful of wildcards).
    More than ``budget`` sets for one wildcard counts as too complex.
    """
    total = 0
    for pieces in wildcards:
        total += _glob_complexity(pieces, budget)
        if total > WILDCARD_COMPLEXITY_LIMIT:
            break
    return total


def _glob_complexity(pieces: tuple[str, ...], budget: int) -> int:
    tokens: list[str] = []
    for n, piece in enumerate(pieces):
        if n:
            tokens.append(_STAR)
        tokens.extend(piece)
    tokens.append(_END)  # the accepting position: waits for nothing

    def close(positions: set[int]) -> frozenset[int]:
        todo = list(positions)
        while todo:
            p = todo.pop()
            if tokens[p] == _STAR and p + 1 not in positions:
                positions.add(p + 1)
                todo.append(p + 1)
        return frozenset(positions)

    start = close({0})
    seen = {start}
    todo = [start]
    worst = len(start)
    while todo:
        state = todo.pop()
        stars = {p for p in state if tokens[p] == _STAR}
        waiting = {tokens[p] for p in state if tokens[p] not in (_STAR, _END)}
        for symbol in (*waiting, _OTHER):
            nxt = stars | {p + 1 for p in state if tokens[p] == symbol}
            if not nxt:
                continue
            target = close(nxt)
            if target not in seen:
                if len(seen) >= budget:
                    return budget
                seen.add(target)
                todo.append(target)
                worst = max(worst, len(target))
                if worst > WILDCARD_COMPLEXITY_LIMIT:
                    return worst
    return worst


def compile_wildcard(arg: Any) -> tuple[tuple[str, ...], Predicate]:
    if not isinstance(arg, str):
        raise PatternError("wildcard match pattern must be a string")
    pieces = parse_wildcard(arg)
    if len(pieces) == 1:
        literal = pieces[0]
        return pieces, lambda v: v == literal and type(v) is str
    return pieces, lambda v: type(v) is str and glob_match(pieces, v)


# --- numeric ---------------------------------------------------------------------------------

_LOWER: Final = frozenset({">", ">="})
_UPPER: Final = frozenset({"<", "<="})


def compile_numeric(arg: Any) -> tuple[Predicate, tuple[float, float]]:
    """``[op, n]`` or a range ``[lower-op, n, upper-op, m]`` (either order): a predicate, and
    the closed interval around what it accepts (for an index), compared after rounding."""
    if not isinstance(arg, list):
        raise PatternError("Value of numeric must be an array.")
    if not arg:
        raise PatternError("Empty arrays are not allowed")
    if len(arg) > 4:
        raise PatternError("Too many elements in numeric expression")
    equal: float | None = None
    low: tuple[float, bool] | None = None  # (bound, inclusive)
    high: tuple[float, bool] | None = None
    for i in range(0, len(arg), 2):
        op = arg[i]
        if not isinstance(op, str) or op not in _LOWER | _UPPER | {"="}:
            raise PatternError(f"Unrecognized numeric range operator: {_show(op)}")
        if i + 1 >= len(arg) or not _is_number(arg[i + 1]):
            raise PatternError(f"Value of {op} must be numeric")
        number = arg[i + 1]
        if not -NUMERIC_LIMIT <= number <= NUMERIC_LIMIT:
            raise PatternError(f"Value of {op} must be between -5.0E9 and 5.0E9 inclusive")
        number = round(number, _DECIMALS)
        if i and (op == "=" or equal is not None or (op in _LOWER and low) or (op in _UPPER and high)):
            raise PatternError(f"Bad numeric range operator: {op}")
        if op == "=":
            equal = number
        elif op in _LOWER:
            low = (number, op == ">=")
        else:
            high = (number, op == "<=")
    if low is not None and high is not None and low[0] >= high[0]:
        raise PatternError("Bottom must be less than top")
    if equal is not None:
        interval = (equal, equal)
    else:
        interval = (-math.inf if low is None else low[0], math.inf if high is None else high[0])
    return _numeric_predicate(equal, low, high), interval


def numeric_value(value: Any) -> float | None:
    """A leaf as numeric operators see it (rounded), or None if they never match it."""
    kind = type(value)
    if (kind is not int and kind is not float) or not -NUMERIC_LIMIT <= value <= NUMERIC_LIMIT:
        return None
    return value if kind is int else round(value, _DECIMALS)  # type: ignore[no-any-return]


def _numeric_predicate(equal: float | None, low: tuple[float, bool] | None,
                       high: tuple[float, bool] | None) -> Predicate:
    def test(v: Any) -> bool:
        kind = type(v)
        if (kind is not int and kind is not float) or not -NUMERIC_LIMIT <= v <= NUMERIC_LIMIT:
            return False  # also NaN, which compares false with everything
        x = v if kind is int else round(v, _DECIMALS)
        if equal is not None:
            return bool(x == equal)
        if low is not None and not (x >= low[0] if low[1] else x > low[0]):
            return False
        return high is None or bool(x <= high[0] if high[1] else x < high[0])

    return test


# --- cidr ------------------------------------------------------------------------------------

def compile_cidr(arg: Any) -> Predicate:
    if not isinstance(arg, str):
        raise PatternError("prefix match pattern must be a string")  # sic: AWS's text for cidr too
    try:
        network = ipaddress.ip_network(arg, strict=False)
    except ValueError:
        raise PatternError(f"Invalid CIDR: {arg}") from None

    def test(v: Any) -> bool:
        if type(v) is not str:
            return False
        try:
            address = ipaddress.ip_address(v)
        except ValueError:
            return False
        return address.version == network.version and address in network

    return test


# --- anything-but ----------------------------------------------------------------------------

_ANYTHING_BUT_VALUE: Final = "Value of anything-but must be an array or single string/number value."


def compile_anything_but(arg: Any) -> tuple[Predicate, tuple[tuple[str, ...], ...]]:
    """A predicate, and the wildcards it contains (for the complexity check)."""
    if isinstance(arg, str) or _is_number(arg):
        excluded = value_key(arg)
        return (lambda v: value_key(v) != excluded), ()
    if isinstance(arg, list):
        return _anything_but_values(arg), ()
    if not isinstance(arg, dict) or len(arg) != 1:
        raise PatternError(_ANYTHING_BUT_VALUE)
    (kind, inner), = arg.items()
    if kind in ("prefix", "suffix"):
        affixes = _strings(inner, "prefix/suffix match pattern must be a string", dict_reason=_ANYTHING_BUT_VALUE)
        if any(a == "" for a in affixes):
            raise PatternError("Null prefix/suffix not allowed")
        if kind == "prefix":
            return (lambda v: type(v) is not str or not v.startswith(affixes)), ()
        return (lambda v: type(v) is not str or not v.endswith(affixes)), ()
    if kind == "equals-ignore-case":
        reason = "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
        folded = frozenset(fold(s) for s in _strings(inner, reason, dict_reason=reason))
        return (lambda v: type(v) is not str or fold(v) not in folded), ()
    if kind == "wildcard":
        reason = "wildcard match pattern must be a string"
        globs = tuple(parse_wildcard(s) for s in _strings(inner, reason, dict_reason=reason))
        return (lambda v: type(v) is not str or not any(glob_match(g, v) for g in globs)), globs
    raise PatternError(f"Unsupported anything-but pattern: {kind}")


def _strings(arg: Any, reason: str, *, dict_reason: str) -> tuple[str, ...]:
    """One string or a non-empty list of strings."""
    if isinstance(arg, str):
        return (arg,)
    if isinstance(arg, list):
        if not arg:
            raise PatternError("Empty arrays are not allowed")
        if all(isinstance(s, str) for s in arg):
            return tuple(arg)
        raise PatternError(reason)
    raise PatternError(dict_reason if isinstance(arg, dict) else reason)


def _anything_but_values(values: list[Any]) -> Predicate:
    if not values:
        raise PatternError("Empty arrays are not allowed")
    if not all(isinstance(v, str) or _is_number(v) for v in values):
        raise PatternError("Inside anything but list, start|null|boolean is not supported.")
    if any(isinstance(v, str) for v in values) and any(_is_number(v) for v in values):
        raise PatternError("Inside anything but list, strings and numbers cannot be mixed.")
    excluded = frozenset(value_key(v) for v in values)
    return lambda v: value_key(v) not in excluded
