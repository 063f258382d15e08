"""Paths of the States Language: JSONPath over the state input, the context object and variables.

AWS evaluates JSONPath the way Jayway JsonPath does, and that decides what a path *returns*:

- a **definite** path (only ``.name``, ``['name']`` and ``[n]`` steps) selects one value, and a
  missing member is an error (an array index past the end selects ``null``, as AWS does);
- an **indefinite** path (``*``, ``..``, ``[a,b]``, ``[i:j]``, ``[?(...)]``) selects a list of every
  match, possibly empty.

A **reference path** is a definite path without ``..``/filters/negative indices; ResultPath, the
``*Path`` number fields and ItemsPath must be one. Paths start at ``$`` (the input), ``$$`` (the
context object) or ``$name`` (a workflow variable, JSONPath states only).

We parse paths ourselves rather than take a JSONPath library: the libraries differ from Jayway on
definite/indefinite results, on filters and on missing members, which are exactly what AWS's
answers depend on; the grammar AWS accepts is small.

An indefinite path can multiply what it selects (``$..*..*``, ``$[0,0,0][0,0,0]``, a filter that
reads ``$..x`` for every element): one evaluation, filters included, visits and selects at most
``limits.MAX_PATH_NODES`` × 4 values, else ``States.DataLimitExceeded``. A filter's ``=~`` regular
expression is checked like JSONata's (``regex.compile_bounded``).
"""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping

from cumulo.stepfunctions.asl.errors import DATA_LIMIT_EXCEEDED, RESULT_PATH_MATCH_FAILURE, StatesFailure
from cumulo.stepfunctions.asl.limits import MAX_PATH_NODES
from cumulo.stepfunctions.asl.regex import compile_bounded

__all__ = ["Root", "Path", "PathSyntaxError", "NoMatch", "parse_path", "is_path", "put", "dumps"]

Json = Any


def dumps(value: Json) -> str:
    """JSON text as Step Functions writes it in causes and events: compact, unicode kept."""
    import json
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class PathSyntaxError(ValueError):
    """The text is not a JSONPath this grammar accepts."""


class NoMatch(LookupError):
    """A definite path selected nothing."""


class Root(Enum):
    INPUT = "$"
    CONTEXT = "$$"
    VARIABLE = "var"


# ---- the steps of a path -------------------------------------------------------------------

@dataclass(frozen=True)
class _Names:
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Indices:
    indices: tuple[int, ...]


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None
    step: int | None


@dataclass(frozen=True)
class _Descend:
    step: Any       # the step applied to every node below (names, indices, wildcard)


@dataclass(frozen=True)
class _Filter:
    test: Callable[[Json, Json], bool]     # (candidate, root) -> keep?
    source: str


@dataclass(frozen=True)
class _Length:
    pass


_Step = _Names | _Indices | _Wildcard | _Slice | _Descend | _Filter | _Length

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Path:
    """A parsed path. ``select`` returns the value (definite) or the list of matches."""

    source: str
    root: Root
    variable: str | None
    steps: tuple[_Step, ...]

    @property
    def definite(self) -> bool:
        return all(_single(step) for step in self.steps)

    @property
    def reference(self) -> bool:
        return all(
            (isinstance(s, _Names) and len(s.names) == 1)
            or (isinstance(s, _Indices) and len(s.indices) == 1 and s.indices[0] >= 0)
            for s in self.steps)

    def select(self, data: Json, context: Json = None, variables: Mapping[str, Json] | None = None) -> Json:
        """Apply the path. Raises ``NoMatch`` when a definite path finds nothing."""
        if self.root is Root.INPUT:
            start = data
        elif self.root is Root.CONTEXT:
            start = context
        else:
            if variables is None or self.variable is None or self.variable not in variables:
                raise NoMatch(f"The variable '{self.variable}' is not defined")
            start = variables[self.variable]
        if self.definite:
            node = start
            for step in self.steps:
                node = _definite_step(step, node, self)
            return node
        outermost = getattr(_work, "left", None) is None
        if outermost:
            _work.left, _work.path = _MAX_WORK, self.source
        try:
            nodes = [start]
            for step in self.steps:
                found: list[Json] = []
                for node in nodes:
                    _indefinite_step(step, node, start, found)
                nodes = found
            return nodes
        finally:
            if outermost:
                _work.left = None

    def normalized(self) -> str:
        """Jayway's normalized form used in AWS's messages: ``$['a']['b'][0]``."""
        head = "$" if self.root is Root.INPUT else "$$" if self.root is Root.CONTEXT else f"${self.variable}"
        parts = [head]
        for step in self.steps:
            if isinstance(step, _Names):
                parts.append("[" + ",".join(f"'{n}'" for n in step.names) + "]")
            elif isinstance(step, _Indices):
                parts.append("[" + ",".join(map(str, step.indices)) + "]")
            elif isinstance(step, _Wildcard):
                parts.append("[*]")
            elif isinstance(step, _Length):
                parts.append(".length()")
            else:
                parts.append("[...]")
        return "".join(parts)

    def __str__(self) -> str:
        return self.source


def _single(step: _Step) -> bool:
    return ((isinstance(step, _Names) and len(step.names) == 1)
            or (isinstance(step, _Indices) and len(step.indices) == 1) or isinstance(step, _Length))


def _definite_step(step: _Step, node: Json, path: Path) -> Json:
    if isinstance(step, _Names):
        name = step.names[0]
        if isinstance(node, dict) and name in node:
            return node[name]
        raise NoMatch(path.source)
    if isinstance(step, _Indices):
        if not isinstance(node, list):
            raise NoMatch(path.source)
        index = step.indices[0]
        if -len(node) <= index < len(node):
            return node[index]
        return None
    if isinstance(node, (list, dict, str)):
        return len(node)
    raise NoMatch(path.source)


# What one evaluation of an indefinite path (with the paths its filters read) may visit and select.
_MAX_WORK = 4 * MAX_PATH_NODES
_work = threading.local()


def _spend(count: int) -> None:
    left = getattr(_work, "left", None)
    if left is None:
        return
    _work.left = left - count
    if _work.left < 0:
        raise StatesFailure(DATA_LIMIT_EXCEEDED, f"The JSONPath '{_work.path}' selects or visits more than "
                                                 f"{_MAX_WORK} values")


def _indefinite_step(step: _Step, node: Json, root: Json, out: list[Json]) -> None:
    """Append what ``step`` selects from ``node`` to ``out`` (counted against the evaluation's work)."""
    before = len(out)
    if isinstance(step, _Names):
        out.extend(node[n] for n in step.names if isinstance(node, dict) and n in node)
    elif isinstance(step, _Indices):
        if isinstance(node, list):
            out.extend(node[i] for i in step.indices if -len(node) <= i < len(node))
    elif isinstance(step, _Wildcard):
        if isinstance(node, dict):
            out.extend(node.values())
        elif isinstance(node, list):
            out.extend(node)
    elif isinstance(step, _Slice):
        if isinstance(node, list):
            out.extend(node[step.start:step.end:step.step])
    elif isinstance(step, _Filter):
        children = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
        _spend(len(children))
        out.extend(child for child in children if step.test(child, root))
    elif isinstance(step, _Length):
        if isinstance(node, (list, dict, str)):
            out.append(len(node))
    else:
        for descendant in _walk(node):
            _indefinite_step(step.step, descendant, root, out)
    _spend(len(out) - before)


def _walk(node: Json) -> Any:
    """The node and everything below it, parents first (without recursion; every visit counted)."""
    stack = [node]
    while stack:
        current = stack.pop()
        _spend(1)
        yield current
        if isinstance(current, dict):
            stack.extend(reversed(list(current.values())))
        elif isinstance(current, list):
            stack.extend(reversed(current))


# ---- parsing ---------------------------------------------------------------------------------

def is_path(text: object) -> bool:
    return isinstance(text, str) and text.startswith("$")


def parse_path(text: str) -> Path:
    """Parse a JSONPath (``$``, ``$$`` or ``$variable`` rooted). Raises ``PathSyntaxError``."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"not a path: {text!r}")
    variable = None
    if text.startswith("$$"):
        root, i = Root.CONTEXT, 2
    else:
        match = VARIABLE_NAME.match(text, 1)
        if match:
            root, variable, i = Root.VARIABLE, match.group(), match.end()
        else:
            root, i = Root.INPUT, 1
    steps: list[_Step] = []
    while i < len(text):
        step, i = _parse_step(text, i)
        steps.append(step)
    if any(isinstance(s, _Length) for s in steps[:-1]):
        raise PathSyntaxError("length() must end the path")
    return Path(text, root, variable, tuple(steps))


def _parse_step(text: str, i: int) -> tuple[_Step, int]:
    if text.startswith("..", i):
        i += 2
        if i < len(text) and text[i] == "[":
            inner, i = _parse_bracket(text, i)
        elif i < len(text) and text[i] == "*":
            inner, i = _Wildcard(), i + 1
        else:
            name, i = _dot_name(text, i)
            inner = _Names((name,))
        if isinstance(inner, (_Filter, _Slice, _Length)):
            raise PathSyntaxError("unsupported step after '..'")
        return _Descend(inner), i
    if text[i] == ".":
        i += 1
        if i < len(text) and text[i] == "*":
            return _Wildcard(), i + 1
        name, i = _dot_name(text, i)
        if name == "length" and text.startswith("()", i):
            return _Length(), i + 2
        return _Names((name,)), i
    if text[i] == "[":
        return _parse_bracket(text, i)
    raise PathSyntaxError(f"unexpected {text[i]!r} at {i} in {text!r}")


def _dot_name(text: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(text) and text[i] not in ".[]()" and not text[i].isspace():
        i += 1
    if i == start:
        raise PathSyntaxError(f"missing name at {start} in {text!r}")
    return text[start:i], i


_INT = re.compile(r"\s*(-?\d+)\s*")


def _parse_bracket(text: str, i: int) -> tuple[_Step, int]:
    close = _matching_bracket(text, i)
    body = text[i + 1:close].strip()
    end = close + 1
    if body == "*":
        return _Wildcard(), end
    if body.startswith("?"):
        inner = body[1:].strip()
        if not (inner.startswith("(") and inner.endswith(")")):
            raise PathSyntaxError(f"bad filter {body!r}")
        return _Filter(_compile_filter(inner[1:-1]), inner), end
    if body[:1] in ("'", '"'):
        names = []
        for item in _split_top(body):
            item = item.strip()
            if len(item) < 2 or item[0] not in "'\"" or item[-1] != item[0]:
                raise PathSyntaxError(f"bad member name {item!r}")
            names.append(_unquote(item[1:-1]))
        return _Names(tuple(names)), end
    if ":" in body:
        parts = body.split(":")
        if len(parts) > 3:
            raise PathSyntaxError(f"bad slice {body!r}")
        bounds = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
        if bounds[2] == 0:
            raise PathSyntaxError("slice step cannot be 0")
        return _Slice(bounds[0], bounds[1], bounds[2]), end
    indices = []
    for item in body.split(","):
        if not _INT.fullmatch(item):
            raise PathSyntaxError(f"bad index {item!r} in {text!r}")
        indices.append(int(item))
    return _Indices(tuple(indices)), end


def _matching_bracket(text: str, i: int) -> int:
    depth, quote, j = 0, "", i
    while j < len(text):
        ch = text[j]
        if quote:
            if ch == "\\":
                j += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise PathSyntaxError(f"unclosed '[' in {text!r}")


def _split_top(body: str) -> list[str]:
    parts, quote, depth, start = [], "", 0, 0
    for j, ch in enumerate(body):
        if quote:
            if ch == quote and body[j - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:j])
            start = j + 1
    parts.append(body[start:])
    return parts


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


# ---- filter expressions: ?( @.a == 1 && $.b =~ /x/i ) ----------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<str>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
  | (?P<regex>/(?:\\.|[^/\\])*/[a-z]*)
  | (?P<op>==|!=|<=|>=|=~|&&|\|\||<|>|!|\(|\)|\[|\]|,)
  | (?P<word>\b(?:true|false|null|in|nin)\b)
  | (?P<path>[@$](?:\.\.?[^\s.\[\]()=!<>&|,]+|\.\*|\[(?:'[^']*'|"[^"]*"|[^\]])*\])*)
)""", re.VERBOSE)

_MISSING = object()


def _tokens(source: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(source):
        if source[i:].strip() == "":
            break
        match = _TOKEN.match(source, i)
        if not match or match.end() == i:
            raise PathSyntaxError(f"bad filter expression {source!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        i = match.end()
    return out


def _compile_filter(source: str) -> Callable[[Json, Json], bool]:
    tokens = _tokens(source)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(value: str | None = None) -> tuple[str, str]:
        nonlocal pos
        token = peek()
        if token is None or (value is not None and token[1] != value):
            raise PathSyntaxError(f"bad filter expression {source!r}")
        pos += 1
        return token

    def disjunction() -> Callable[[Json, Json], bool]:
        terms = [conjunction()]
        while peek() == ("op", "||"):
            take()
            terms.append(conjunction())
        return terms[0] if len(terms) == 1 else (lambda c, r: any(t(c, r) for t in terms))

    def conjunction() -> Callable[[Json, Json], bool]:
        terms = [negation()]
        while peek() == ("op", "&&"):
            take()
            terms.append(negation())
        return terms[0] if len(terms) == 1 else (lambda c, r: all(t(c, r) for t in terms))

    def negation() -> Callable[[Json, Json], bool]:
        if peek() == ("op", "!"):
            take()
            inner = negation()
            return lambda c, r: not inner(c, r)
        if peek() == ("op", "("):
            take()
            inner = disjunction()
            take(")")
            return inner
        return comparison()

    def comparison() -> Callable[[Json, Json], bool]:
        left = operand()
        token = peek()
        if token and (token[0] == "op" and token[1] in ("==", "!=", "<", "<=", ">", ">=", "=~")
                      or token[0] == "word" and token[1] in ("in", "nin")):
            op = take()[1]
            if op == "=~":
                kind, text = take()
                if kind != "regex":
                    raise PathSyntaxError("=~ needs a /regex/")
                body, flags = text[1:text.rindex("/")], text[text.rindex("/") + 1:]
                try:
                    pattern = compile_bounded(body, ignore_case="i" in flags)
                except ValueError as exc:
                    raise PathSyntaxError(str(exc)) from None
                return lambda c, r: isinstance(v := left(c, r), str) and pattern.search(v) is not None
            right = operand()
            return lambda c, r: _compare(op, left(c, r), right(c, r))
        return lambda c, r: left(c, r) is not _MISSING

    def operand() -> Callable[[Json, Json], Json]:
        kind, text = take()
        if kind == "num":
            number = float(text) if any(ch in text for ch in ".eE") else int(text)
            return lambda c, r: number
        if kind == "str":
            literal = _unquote(text[1:-1])
            return lambda c, r: literal
        if kind == "word" and text in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[text]
            return lambda c, r: constant
        if kind == "op" and text == "[":
            items = []
            while peek() != ("op", "]"):
                items.append(operand())
                if peek() == ("op", ","):
                    take()
            take("]")
            return lambda c, r: [item(c, r) for item in items]
        if kind == "path":
            inner = parse_path("$" + text[1:])
            relative = text.startswith("@")

            def value(c: Json, r: Json) -> Json:
                try:
                    return inner.select(c if relative else r)
                except NoMatch:
                    return _MISSING
            return value
        raise PathSyntaxError(f"bad filter operand {text!r}")

    test = disjunction()
    if pos != len(tokens):
        raise PathSyntaxError(f"bad filter expression {source!r}")
    return test


def _compare(op: str, left: Json, right: Json) -> bool:
    if left is _MISSING or right is _MISSING:
        return op == "!=" and (left is _MISSING) != (right is _MISSING)
    if op in ("in", "nin"):
        inside = isinstance(right, list) and any(_same(left, item) for item in right)
        return inside if op == "in" else not inside
    if op == "==":
        return _same(left, right)
    if op == "!=":
        return not _same(left, right)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if not numbers and not (isinstance(left, str) and isinstance(right, str)):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _same(left: Json, right: Json) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return bool(left == right)


# ---- ResultPath: writing into a document ------------------------------------------------------

def put(document: Json, path: Path, value: Json) -> Json:
    """A copy of ``document`` with ``value`` at the reference ``path``, creating missing objects.
    Raises ``StatesFailure(States.ResultPathMatchFailure)`` when a step meets a non-container."""
    if not path.steps:
        return value
    root = copy.copy(document) if isinstance(document, (dict, list)) else document
    node = root
    for depth, step in enumerate(path.steps):
        last = depth == len(path.steps) - 1
        if isinstance(step, _Names) and isinstance(node, dict):
            key: Any = step.names[0]
            if last:
                node[key] = value
                break
            child = node.get(key)
            child = {} if key not in node else copy.copy(child) if isinstance(child, (dict, list)) else child
        elif isinstance(step, _Indices) and isinstance(node, list) and 0 <= step.indices[0] < len(node):
            key = step.indices[0]
            if last:
                node[key] = value
                break
            child = node[key]
            child = copy.copy(child) if isinstance(child, (dict, list)) else child
        else:
            where = step.names[0] if isinstance(step, _Names) else step.indices[0] if isinstance(step, _Indices) else "?"
            raise StatesFailure(RESULT_PATH_MATCH_FAILURE,
                                f"Unable to apply step \"{where}\" to input {dumps(document)}")
        if not isinstance(child, (dict, list)):
            nxt = path.steps[depth + 1]
            where = nxt.names[0] if isinstance(nxt, _Names) else nxt.indices[0] if isinstance(nxt, _Indices) else "?"
            raise StatesFailure(RESULT_PATH_MATCH_FAILURE,
                                f"Unable to apply step \"{where}\" to input {dumps(document)}")
        node[key] = child
        node = child
    return root
