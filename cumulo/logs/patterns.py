"""CloudWatch Logs' filter patterns (FilterLogEvents' ``filterPattern``), compiled once, matched per event.

Pure: no I/O. Three kinds, told apart by the pattern's first character:

- **terms** (unstructured events): words and ``"quoted phrases"``, each matched as a case-sensitive
  substring; all plain terms must occur, no ``-term`` may occur, and when there are ``?terms`` at least
  one of them must occur (``?ERROR ?WARN``). ``%regex%`` is a term matched as a regular expression.
  An empty pattern (or ``""``) matches every event.
- **JSON** (``{ ... }``): selectors (``$.a.b``, ``$.list[0]``, ``$.list[*]``) compared with ``=``/``!=``
  to strings (``*`` is a wildcard; ``%regex%``) or numbers, with ``<``, ``<=``, ``>``, ``>=`` to
  numbers; ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``NOT EXISTS``; combined with ``&&``, ``||`` and
  parentheses. An event that is not a JSON object never matches.
- **space-delimited** (``[ip, user, ..., status = 4*, bytes]``): the event split at spaces (a
  ``"quoted"`` or ``[bracketed]`` run is one field, its quotes or brackets removed), one name per field,
  ``...`` for any number of fields; a field's conditions compare it as above, joined with ``&&``/``||``.

``compile_pattern`` raises ``PatternError`` (AWS answers ``InvalidParameterException``) for what it
cannot read. ``Pattern.required`` and ``Pattern.excluded`` are substrings that every matching event
must contain / must not contain: the store uses them to skip events before Python sees them.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Pattern", "PatternError", "compile_pattern", "MAX_PATTERN_LENGTH"]

MAX_PATTERN_LENGTH = 1024         # FilterLogEvents' filterPattern, at most (AWS)
_MAX_DEPTH = 32                   # nesting of parentheses in a JSON pattern
_MAX_REGEXES = 2                  # %regex% terms in one pattern (AWS's limit)
# what AWS lets a %regex% hold: letters, digits, these symbols and operators (no parentheses)
_REGEX_TEXT = re.compile(r"[A-Za-z0-9_#=@/;,:\- ^$?\[\]{}|\\*+.]+")

Match = Callable[[str], bool]


class PatternError(ValueError):
    """A filter pattern that cannot be read; ``message`` says where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Pattern:
    text: str
    kind: str                                   # "all" | "terms" | "json" | "delimited"
    match: Match
    required: tuple[str, ...] = ()              # every match contains each of these
    excluded: tuple[str, ...] = ()              # no match contains any of these


def compile_pattern(text: str | None) -> Pattern:
    text = text or ""
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"Invalid filter pattern: longer than {MAX_PATTERN_LENGTH} characters")
    stripped = text.strip()
    if not stripped or stripped == '""':
        return Pattern(text, "all", lambda message: True)
    try:
        if stripped.startswith("{"):
            return _json_pattern(text, stripped)
        if stripped.startswith("["):
            return _delimited_pattern(text, stripped)
        return _terms_pattern(text, stripped)
    except RecursionError:
        raise PatternError("Invalid filter pattern: nested too deeply") from None


# -- the lexer, shared ------------------------------------------------------------------------------
@dataclass
class _Lexer:
    text: str
    pos: int = 0
    regexes: int = 0

    def error(self, what: str) -> PatternError:
        return PatternError(f"Invalid filter pattern: {what} at character {self.pos + 1}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.take(token):
            raise self.error(f"expected '{token}'")

    def quoted(self) -> str:
        """A ``"..."`` string (the lexer at its opening quote); ``\\"`` and ``\\\\`` escape."""
        assert self.text[self.pos] == '"'
        out, i = [], self.pos + 1
        while i < len(self.text):
            c = self.text[i]
            if c == "\\" and i + 1 < len(self.text) and self.text[i + 1] in '"\\':
                out.append(self.text[i + 1])
                i += 2
            elif c == '"':
                self.pos = i + 1
                return "".join(out)
            else:
                out.append(c)
                i += 1
        raise self.error("unterminated quoted string")

    def regex(self) -> re.Pattern[str]:
        """A ``%...%`` regular expression (the lexer at its opening ``%``)."""
        end = self.text.find("%", self.pos + 1)
        if end < 0:
            raise self.error("unterminated %regex%")
        body = self.text[self.pos + 1:end]
        self.regexes += 1
        if not body or self.regexes > _MAX_REGEXES:
            raise self.error("empty %regex%" if not body else f"more than {_MAX_REGEXES} regular expressions")
        if not _REGEX_TEXT.fullmatch(body):
            raise self.error("a %regex% holds only letters, digits, _#=@/;,:- and the operators ^$?[]{}|\\*+. "
                             "(no parentheses)")
        try:
            with warnings.catch_warnings():     # '[' inside a set is a literal '[', today as in
                warnings.simplefilter("ignore", FutureWarning)   # CloudWatch: Python only warns of a future change
                compiled = re.compile(body)
        except (re.error, OverflowError, RecursionError) as exc:
            raise self.error(f"bad regular expression ({exc})") from None
        self.pos = end + 1
        return compiled

    def word(self, stop: str) -> str:
        """A bare word: up to whitespace or one of ``stop``."""
        self.skip()
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace() and self.text[self.pos] not in stop:
            self.pos += 1
        return self.text[start:self.pos]


# -- terms --------------------------------------------------------------------------------------------
def _terms_pattern(text: str, stripped: str) -> Pattern:
    lexer = _Lexer(stripped)
    plain: list[Match] = []
    excluded: list[Match] = []
    either: list[Match] = []
    required: list[str] = []
    absent: list[str] = []
    while not lexer.at_end():
        sign = ""
        if lexer.text[lexer.pos] in "-?" and lexer.pos + 1 < len(lexer.text) \
                and not lexer.text[lexer.pos + 1].isspace():
            sign = lexer.text[lexer.pos]
            lexer.pos += 1
        c = lexer.text[lexer.pos]
        literal: str | None = None
        if c == '"':
            literal = lexer.quoted()
            if lexer.pos < len(lexer.text) and not lexer.text[lexer.pos].isspace():
                raise lexer.error("a quoted term must be followed by a space")
            term: Match = _contains(literal)
        elif c == "%":
            term = _searches(lexer.regex())
        else:
            literal = lexer.word('"')
            if lexer.pos < len(lexer.text) and lexer.text[lexer.pos] == '"':
                raise lexer.error("a quote inside a term (quote the whole term)")
            term = _contains(literal)
        if sign == "-":
            excluded.append(term)
            if literal:
                absent.append(literal)
        elif sign == "?":
            either.append(term)
        else:
            plain.append(term)
            if literal:
                required.append(literal)

    def match(message: str) -> bool:
        return (all(t(message) for t in plain) and not any(t(message) for t in excluded)
                and (not either or any(t(message) for t in either)))

    return Pattern(text, "terms", match, tuple(r for r in required if r), tuple(a for a in absent if a))


def _contains(literal: str) -> Match:
    return lambda message: literal in message


def _searches(compiled: re.Pattern[str]) -> Match:
    return lambda message: compiled.search(message) is not None


# -- values compared (JSON and space-delimited) --------------------------------------------------------
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_COMPARE_OPS = ("!=", "<=", ">=", "=", "<", ">")


@dataclass(frozen=True)
class _Value:
    number: float | None = None
    text: str | None = None              # a string (may hold * wildcards)
    regex: re.Pattern[str] | None = None
    literal: str | None = None           # a substring every matching event contains (for the store)


def _read_value(lexer: _Lexer, stop: str) -> _Value:
    lexer.skip()
    if lexer.pos >= len(lexer.text):
        raise lexer.error("expected a value")
    c = lexer.text[lexer.pos]
    if c == '"':
        text = lexer.quoted()
        return _Value(text=text, literal=_safe_literal(text))
    if c == "%":
        return _Value(regex=lexer.regex())
    word = lexer.word(stop + "&|()")
    if not word:
        raise lexer.error("expected a value")
    if _NUMBER.fullmatch(word):
        return _Value(number=float(word), text=word)
    return _Value(text=word, literal=_safe_literal(word))


def _safe_literal(text: str) -> str | None:
    """The longest run between wildcards, when it is written the same in any JSON (plain ASCII)."""
    longest = max(text.split("*"), key=len)
    return longest if longest and re.fullmatch(r"[A-Za-z0-9 _.:@-]+", longest) else None


def _wildcard(text: str) -> Match:
    if "*" not in text:
        return lambda s: s == text
    compiled = re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)
    return lambda s: compiled.fullmatch(s) is not None


def _comparison(op: str, value: _Value, lexer: _Lexer) -> Callable[[Any], bool]:
    """What a field's value (a JSON value, or a delimited field's text) must satisfy."""
    if op in ("<", "<=", ">", ">="):
        if value.number is None:
            raise lexer.error(f"'{op}' compares with a number")
        bound = value.number
        compare: Callable[[float], bool] = {
            "<": lambda x: x < bound, "<=": lambda x: x <= bound,
            ">": lambda x: x > bound, ">=": lambda x: x >= bound}[op]
        return lambda v: (n := _as_number(v)) is not None and compare(n)
    positive: Callable[[Any], bool]
    if value.regex is not None:
        search = value.regex.search
        positive = lambda v: isinstance(v, str) and search(v) is not None  # noqa: E731
    elif value.number is not None:
        number = value.number
        positive = lambda v: _as_number(v) == number  # noqa: E731
    else:
        assert value.text is not None
        same = _wildcard(value.text)
        positive = lambda v: v is not None and not isinstance(v, (dict, list)) and same(_as_text(v))  # noqa: E731
    if op == "=":
        return positive
    return lambda v: v is not _MISSING and not positive(v)


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and _NUMBER.fullmatch(v.strip()):
        try:
            n = float(v)
        except (ValueError, OverflowError):
            return None
        return n if math.isfinite(n) else None
    return None


def _as_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else json.dumps(v)


class _Missing:
    pass


_MISSING: Any = _Missing()


# -- JSON ----------------------------------------------------------------------------------------------
@dataclass
class _Node:
    test: Callable[[Any], bool]
    required: tuple[str, ...] = field(default=())


_SELECTOR_NAME = re.compile(r"[A-Za-z0-9_@\-$]+")


def _json_pattern(text: str, stripped: str) -> Pattern:
    lexer = _Lexer(stripped)
    lexer.expect("{")
    node = _json_or(lexer, 0)
    lexer.expect("}")
    if not lexer.at_end():
        raise lexer.error("text after '}'")
    test = node.test

    def match(message: str) -> bool:
        if "{" not in message:
            return False
        try:
            doc = json.loads(message)
        except (ValueError, RecursionError):
            return False
        return isinstance(doc, dict) and test(doc)

    return Pattern(text, "json", match, node.required)


def _json_or(lexer: _Lexer, depth: int) -> _Node:
    nodes = [_json_and(lexer, depth)]
    while lexer.take("||"):
        nodes.append(_json_and(lexer, depth))
    if len(nodes) == 1:
        return nodes[0]
    tests = [n.test for n in nodes]
    common = set(nodes[0].required).intersection(*(n.required for n in nodes[1:]))
    return _Node(lambda doc: any(t(doc) for t in tests), tuple(sorted(common)))


def _json_and(lexer: _Lexer, depth: int) -> _Node:
    nodes = [_json_unary(lexer, depth)]
    while lexer.take("&&"):
        nodes.append(_json_unary(lexer, depth))
    if len(nodes) == 1:
        return nodes[0]
    tests = [n.test for n in nodes]
    return _Node(lambda doc: all(t(doc) for t in tests), tuple(r for n in nodes for r in n.required))


def _json_unary(lexer: _Lexer, depth: int) -> _Node:
    if lexer.take("("):
        if depth >= _MAX_DEPTH:
            raise lexer.error("parentheses nested too deeply")
        node = _json_or(lexer, depth + 1)
        lexer.expect(")")
        return node
    path = _selector(lexer)
    lexer.skip()
    rest = lexer.text[lexer.pos:]
    keyword = re.match(r"(IS\s+NULL|IS\s+TRUE|IS\s+FALSE|NOT\s+EXISTS|EXISTS)\b", rest, re.IGNORECASE)
    if keyword:
        lexer.pos += keyword.end()
        word = " ".join(keyword.group(1).upper().split())
        check: Callable[[Any], bool] = {
            "IS NULL": lambda v: v is None, "IS TRUE": lambda v: v is True, "IS FALSE": lambda v: v is False,
            "NOT EXISTS": lambda v: v is _MISSING, "EXISTS": lambda v: v is not _MISSING}[word]
        return _Node(_on_path(path, check, absent_counts=word == "NOT EXISTS"))
    op = next((o for o in _COMPARE_OPS if lexer.take(o)), None)
    if op is None:
        raise lexer.error("expected a comparison (=, !=, <, <=, >, >=, IS, NOT EXISTS)")
    value = _read_value(lexer, "}")
    required = (value.literal,) if op == "=" and value.literal else ()
    return _Node(_on_path(path, _comparison(op, value, lexer)), required)


def _selector(lexer: _Lexer) -> list[str | int | None]:
    """``$.a.b[0][*]`` as steps: a key, an index, None for every element."""
    lexer.skip()
    if not lexer.take("$"):
        raise lexer.error("a JSON selector starts with '$'")
    steps: list[str | int | None] = []
    while lexer.pos < len(lexer.text):
        c = lexer.text[lexer.pos]
        if c == ".":
            lexer.pos += 1
            m = _SELECTOR_NAME.match(lexer.text, lexer.pos)
            if not m:
                raise lexer.error("expected a field name after '.'")
            steps.append(m.group())
            lexer.pos = m.end()
        elif c == "[":
            m = re.compile(r"\[\s*(\d{1,9}|\*)\s*\]").match(lexer.text, lexer.pos)
            if not m:
                raise lexer.error("expected [index] or [*]")
            steps.append(None if m.group(1) == "*" else int(m.group(1)))
            lexer.pos = m.end()
        else:
            break
    if not steps:
        raise lexer.error("a JSON selector names a field ($.name)")
    return steps


def _on_path(path: list[str | int | None], check: Callable[[Any], bool],
             absent_counts: bool = False) -> Callable[[Any], bool]:
    def values(node: Any, steps: list[str | int | None]) -> list[Any]:
        if not steps:
            return [node]
        step, rest = steps[0], steps[1:]
        if isinstance(step, str):
            return values(node[step], rest) if isinstance(node, dict) and step in node else [_MISSING]
        if not isinstance(node, list):
            return [_MISSING]
        if step is None:
            found = [v for item in node for v in values(item, rest)]
            return found or [_MISSING]
        return values(node[step], rest) if step < len(node) else [_MISSING]

    if absent_counts:   # NOT EXISTS: no value at all along the path
        return lambda doc: all(v is _MISSING for v in values(doc, path))
    return lambda doc: any(v is not _MISSING and check(v) for v in values(doc, path))


# -- space-delimited ------------------------------------------------------------------------------------
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


@dataclass(frozen=True)
class _Field:
    name: str | None                     # None: "..." (any number of fields)
    test: Callable[[Any], bool] | None = None


def _delimited_pattern(text: str, stripped: str) -> Pattern:
    lexer = _Lexer(stripped)
    lexer.expect("[")
    fields: list[_Field] = []
    required: list[str] = []
    if not lexer.take("]"):
        while True:
            fields.append(_delimited_field(lexer, required))
            if lexer.take("]"):
                break
            lexer.expect(",")
    if not lexer.at_end():
        raise lexer.error("text after ']'")
    names = [f.name for f in fields if f.name]
    if len(names) != len(set(names)):
        raise PatternError("Invalid filter pattern: a field name is used twice")

    def match(message: str) -> bool:
        return _fields_match(fields, _split(message))

    return Pattern(text, "delimited", match, tuple(required))


def _delimited_field(lexer: _Lexer, required: list[str]) -> _Field:
    if lexer.take("..."):
        return _Field(None)
    lexer.skip()
    m = _FIELD_NAME.match(lexer.text, lexer.pos)
    if not m:
        raise lexer.error("expected a field name or '...'")
    name = m.group()
    lexer.pos = m.end()
    if lexer.peek(",") or lexer.peek("]"):
        return _Field(name)
    groups: list[list[Callable[[Any], bool]]] = [[]]       # OR of ANDs
    literals: list[str] = []
    first = True
    while True:
        if not first:
            lexer.skip()
            m = _FIELD_NAME.match(lexer.text, lexer.pos)
            if not m or m.group() != name:
                raise lexer.error(f"each condition of field '{name}' names it (name op value)")
            lexer.pos = m.end()
        op = next((o for o in _COMPARE_OPS if lexer.take(o)), None)
        if op is None:
            raise lexer.error(f"expected a comparison for field '{name}'")
        value = _read_value(lexer, ",]")
        groups[-1].append(_comparison(op, value, lexer))
        if op == "=" and value.literal:
            literals.append(value.literal)
        first = False
        if lexer.take("&&"):
            continue
        if lexer.take("||"):
            groups.append([])
            continue
        break
    if len(groups) == 1:
        required.extend(literals)
    return _Field(name, lambda v: any(all(t(v) for t in group) for group in groups))


_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|([^ \t]+)')


def _split(message: str) -> list[str]:
    """The event's fields: runs between spaces; a "quoted" or [bracketed] run is one field."""
    return [a or b or c for a, b, c in _FIELD.findall(message)]


def _fields_match(fields: list[_Field], values: list[str]) -> bool:
    """Fields against values, ``...`` taking any number of them: the set of positions each field may
    start at, field by field (without ``...``: one to one)."""
    if all(f.name is not None for f in fields):
        return len(fields) == len(values) and all(f.test is None or f.test(v) for f, v in zip(fields, values))
    at = {0}
    for f in fields:
        if not at:
            return False
        if f.name is None:
            at = set(range(min(at), len(values) + 1))
        else:
            test = f.test
            at = {i + 1 for i in at if i < len(values) and (test is None or test(values[i]))}
    return len(values) in at
