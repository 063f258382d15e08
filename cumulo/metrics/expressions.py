"""Metric math (GetMetricData's ``Expression``), pure: a parser and an evaluator.

The language (CloudWatch's "Using math expressions" for the common part): numbers, metric ids
(``m1``), ``+ - * /`` with the usual precedence and unary minus, parentheses, arrays ``[m1, m2]``,
strings (``METRICS("m")``, ``FILL(m1, REPEAT)``) and the functions ``SUM AVG MIN MAX STDDEV``
(of an array: one series, point by point; of a series: one number over its points), ``RATE`` and
``DIFF`` (per second and per point changes), ``ABS CEIL FLOOR``, ``FILL(x, value | REPEAT |
LINEAR)``, ``METRICS()`` / ``METRICS("text")`` (every metric query of the request, or those whose
id contains the text) and ``PERIOD(x)``. Values are numbers, series (timestamp -> value, missing
where there is no data) or arrays of series. Anything else is ``MathError`` with CloudWatch's
wording where it has one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Union

__all__ = ["parse", "evaluate", "Series", "MathError", "Node", "ids_of", "FUNCTIONS", "MAX_LENGTH"]

MAX_LENGTH = 2048          # an expression's characters (AWS: 2,048)
MAX_DEPTH = 64


class MathError(ValueError):
    pass


@dataclass
class Series:
    label: str
    points: dict[int, float]     # epoch seconds -> value; missing timestamps have no data
    period: int = 60


Value = Union[float, Series, list[Series]]


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Str:
    text: str


@dataclass(frozen=True)
class Neg:
    operand: "Node"


@dataclass(frozen=True)
class Bin:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Array:
    items: tuple["Node", ...]


Node = Union[Num, Ref, Str, Neg, Bin, Call, Array]

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<str>\"[^\"]*\")|(?P<op>[-+*/(),\[\]]))")
FUNCTIONS = {"SUM", "AVG", "MIN", "MAX", "STDDEV", "RATE", "DIFF", "ABS", "CEIL", "FLOOR", "FILL", "METRICS",
             "PERIOD"}
_KEYWORDS = {"REPEAT", "LINEAR"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise MathError(f"Invalid syntax: unexpected character at position {pos + 1}.")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            want = f"'{value}'" if value else "more"
            raise MathError(f"Invalid syntax: expected {want} at the end of the expression." if token is None
                            else f"Invalid syntax: expected {want}, found '{token[1]}'.")
        self.i += 1
        return token

    def expr(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise MathError("The expression is nested too deeply.")
        node = self.term(depth)
        while (t := self.peek()) is not None and t[1] in ("+", "-"):
            self.i += 1
            node = Bin(t[1], node, self.term(depth))
        return node

    def term(self, depth: int) -> Node:
        node = self.unary(depth)
        while (t := self.peek()) is not None and t[1] in ("*", "/"):
            self.i += 1
            node = Bin(t[1], node, self.unary(depth))
        return node

    def unary(self, depth: int) -> Node:
        t = self.peek()
        if t is not None and t[1] == "-":
            self.i += 1
            return Neg(self.unary(depth + 1))
        if t is not None and t[1] == "+":
            self.i += 1
            return self.unary(depth + 1)
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        kind, text = self.take()
        if kind == "num":
            value = float(text)
            if not math.isfinite(value):
                raise MathError(f"The number {text[:32]} is out of range.")
            return Num(value)
        if kind == "str":
            return Str(text[1:-1])
        if kind == "id":
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                name = text.upper()
                if name not in FUNCTIONS:
                    raise MathError(f"Unrecognized function: {text}.")
                self.i += 1
                args: list[Node] = []
                if (p := self.peek()) is not None and p[1] == ")":
                    self.i += 1
                else:
                    args.append(self.expr(depth + 1))
                    while (p := self.peek()) is not None and p[1] == ",":
                        self.i += 1
                        args.append(self.expr(depth + 1))
                    self.take(")")
                return Call(name, tuple(args))
            if text.upper() in _KEYWORDS:
                return Str(text.upper())
            return Ref(text)
        if text == "(":
            node = self.expr(depth + 1)
            self.take(")")
            return node
        if text == "[":
            items = [self.expr(depth + 1)]
            while (p := self.peek()) is not None and p[1] == ",":
                self.i += 1
                items.append(self.expr(depth + 1))
            self.take("]")
            return Array(tuple(items))
        raise MathError(f"Invalid syntax: unexpected '{text}'.")


def parse(text: str) -> Node:
    if not isinstance(text, str) or not text.strip():
        raise MathError("The expression is empty.")
    if len(text) > MAX_LENGTH:
        raise MathError(f"The expression is longer than {MAX_LENGTH} characters.")
    parser = _Parser(_tokens(text))
    node = parser.expr(0)
    if parser.peek() is not None:
        raise MathError(f"Invalid syntax: unexpected '{parser.peek()[1]}'.")   # type: ignore[index]
    return node


def ids_of(node: Node) -> set[str]:
    """The metric ids an expression names (METRICS() names none: it takes what is there)."""
    if isinstance(node, Ref):
        return {node.name}
    if isinstance(node, Neg):
        return ids_of(node.operand)
    if isinstance(node, Bin):
        return ids_of(node.left) | ids_of(node.right)
    if isinstance(node, (Call, Array)):
        items = node.args if isinstance(node, Call) else node.items
        return set().union(*(ids_of(a) for a in items)) if items else set()
    return set()


# -- evaluation ----------------------------------------------------------------------------------
def _apply(op: str, a: float, b: float) -> float | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None               # CloudWatch drops a point divided by zero
    return a / b


def _binary(op: str, left: Value, right: Value) -> Value:
    if isinstance(left, list):
        return [_as_series(_binary(op, s, right), s.label) for s in left]
    if isinstance(right, list):
        return [_as_series(_binary(op, left, s), s.label) for s in right]
    if isinstance(left, Series) and isinstance(right, Series):
        points = {t: v for t in left.points.keys() & right.points.keys()
                  if (v := _apply(op, left.points[t], right.points[t])) is not None and math.isfinite(v)}
        return Series(f"{left.label} {op} {right.label}".strip(), points, left.period)
    if isinstance(left, Series):
        assert isinstance(right, float)
        return Series(left.label, {t: v for t, x in left.points.items()
                                   if (v := _apply(op, x, right)) is not None and math.isfinite(v)}, left.period)
    if isinstance(right, Series):
        assert isinstance(left, float)
        return Series(right.label, {t: v for t, x in right.points.items()
                                    if (v := _apply(op, left, x)) is not None and math.isfinite(v)}, right.period)
    result = _apply(op, float(left), float(right))
    if result is None or not math.isfinite(result):
        raise MathError("The expression divides by zero or overflows.")
    return result


def _as_series(value: Value, label: str) -> Series:
    if isinstance(value, Series):
        return value
    raise MathError("The expression must return a time series.")


def _reduce(values: list[float], name: str) -> float | None:
    if not values:
        return None
    if name == "SUM":
        return math.fsum(values)
    if name == "AVG":
        return math.fsum(values) / len(values)
    if name == "MIN":
        return min(values)
    if name == "MAX":
        return max(values)
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))      # STDDEV


def _series_list(value: Value, function: str) -> list[Series]:
    if isinstance(value, list):
        return value
    if isinstance(value, Series):
        return [value]
    raise MathError(f"{function} wants a time series or an array of time series.")


def _map(value: Value, fn: Callable[[Series], Series]) -> Value:
    if isinstance(value, list):
        return [fn(s) for s in value]
    if isinstance(value, Series):
        return fn(value)
    raise MathError("The function wants a time series or an array of time series.")


def evaluate(node: Node, metrics: dict[str, Series], grid: list[int], computed: frozenset[str] = frozenset()) -> Value:
    """The value of ``node`` given the request's queries by id (``metrics``); ``grid`` is the
    timestamps of the requested range at the expression's period (what FILL fills); ``computed``:
    the ids of expressions among them, which METRICS() leaves out (CloudWatch: math expressions are
    not included)."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Str):
        raise MathError(f"A string (\"{node.text}\") is only an argument of METRICS or FILL.")
    if isinstance(node, Ref):
        if node.name not in metrics:
            raise MathError(f"Unrecognized metric id: {node.name}.")
        return metrics[node.name]
    if isinstance(node, Neg):
        return _binary("*", -1.0, evaluate(node.operand, metrics, grid, computed))
    if isinstance(node, Bin):
        return _binary(node.op, evaluate(node.left, metrics, grid, computed), evaluate(node.right, metrics, grid, computed))
    if isinstance(node, Array):
        out: list[Series] = []
        for item in node.items:
            out.extend(_series_list(evaluate(item, metrics, grid, computed), "An array"))
        return out
    name, args = node.name, node.args
    if name == "METRICS":
        if len(args) > 1 or (args and not isinstance(args[0], Str)):
            raise MathError("METRICS takes no argument or one string.")
        text = args[0].text if args else ""    # type: ignore[union-attr]
        return [s for k, s in metrics.items() if text in k and k not in computed]
    if name == "FILL":
        if len(args) != 2:
            raise MathError("FILL takes two arguments: a time series and a value, REPEAT or LINEAR.")
        target = evaluate(args[0], metrics, grid, computed)
        how = args[1]
        if isinstance(how, Str) and how.text in ("REPEAT", "LINEAR"):
            return _map(target, lambda s: _fill_mode(s, grid, how.text))   # type: ignore[union-attr]
        given = evaluate(how, metrics, grid, computed)
        if not isinstance(given, float):
            raise MathError("FILL's second argument must be a number, REPEAT or LINEAR.")
        fill: float = given
        return _map(target, lambda s: Series(s.label, {t: s.points.get(t, fill) for t in grid}, s.period))
    if len(args) != 1:
        raise MathError(f"{name} takes one argument.")
    value = evaluate(args[0], metrics, grid, computed)
    if name in ("SUM", "AVG", "MIN", "MAX", "STDDEV"):
        if isinstance(value, list):
            times = sorted(set().union(*(s.points.keys() for s in value))) if value else []
            points = {}
            for t in times:
                r = _reduce([s.points[t] for s in value if t in s.points], name)
                if r is not None:
                    points[t] = r
            return Series(name, points, value[0].period if value else 60)
        if isinstance(value, Series):
            r = _reduce(list(value.points.values()), name)
            if r is None:
                raise MathError(f"{name} of a time series without data points.")
            return r
        return value
    if name in ("ABS", "CEIL", "FLOOR"):
        fn: Callable[[float], float] = {"ABS": abs, "CEIL": math.ceil, "FLOOR": math.floor}[name]  # type: ignore[assignment]
        if isinstance(value, float):
            return float(fn(value))
        return _map(value, lambda s: Series(s.label, {t: float(fn(v)) for t, v in s.points.items()}, s.period))
    if name == "PERIOD":
        if isinstance(value, list):
            raise MathError("PERIOD takes one time series.")
        if isinstance(value, float):
            raise MathError("PERIOD takes a time series.")
        return float(value.period)
    # RATE and DIFF
    def change(s: Series) -> Series:
        times = sorted(s.points)
        out: dict[int, float] = {}
        for a, b in zip(times, times[1:]):
            delta = s.points[b] - s.points[a]
            out[b] = delta / (b - a) if name == "RATE" else delta
        return Series(s.label, out, s.period)
    if isinstance(value, float):
        raise MathError(f"{name} takes a time series.")
    return _map(value, change)


def _fill_mode(s: Series, grid: list[int], mode: str) -> Series:
    have = sorted(s.points)
    if not have:
        return Series(s.label, {}, s.period)
    out: dict[int, float] = {}
    for t in grid:
        if t in s.points:
            out[t] = s.points[t]
            continue
        before = [x for x in have if x < t]
        after = [x for x in have if x > t]
        if mode == "REPEAT":
            if before:
                out[t] = s.points[before[-1]]
            elif after:
                out[t] = s.points[after[0]]
        elif before and after:      # LINEAR: between known points only
            a, b = before[-1], after[0]
            out[t] = s.points[a] + (s.points[b] - s.points[a]) * (t - a) / (b - a)
    return Series(s.label, out, s.period)


def is_series(value: Any) -> bool:
    return isinstance(value, Series)
