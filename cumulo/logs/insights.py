"""CloudWatch Logs Insights queries, a subset: ``fields``, ``filter``, ``parse``, ``stats … by``,
``sort``, ``limit``, commands joined with ``|``. Pure: no I/O; ``compile_query`` reads a query once,
``Query.run`` evaluates it over events (dicts with ``@timestamp`` in milliseconds, ``@message``,
``@logStream``, ``@log``).

Fields of an event: its ``@`` fields, every member of a JSON message (nested ones as ``a.b``), and
for Lambda's REPORT line ``@type``, ``@requestId``, ``@duration``, ``@billedDuration``,
``@memorySize``, ``@maxMemoryUsed``, ``@initDuration`` (as Insights discovers them); ``parse`` adds
more. ``filter`` takes comparisons (``= != < <= > >=``), ``like``/``not like`` with ``/regex/`` or a
string, ``in [..]``, ``ispresent(f)``, ``and``/``or``/``not`` and parentheses. ``stats`` takes
``count(*)``, ``count(f)``, ``sum``, ``avg``, ``min``, ``max``, ``count_distinct``, with ``as`` names,
grouped ``by`` fields and ``bin(5m)``. A query that cannot be read raises ``QueryError``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

__all__ = ["Query", "QueryError", "compile_query", "format_time"]

Event = dict[str, Any]


class QueryError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<regex>/(?:[^/\\]|\\.)+/)
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<op>!=|<=|>=|=|<|>|\(|\)|,|\[|\]|\*|\+|-)
    | (?P<name>`[^`]+`|@?[A-Za-z_][A-Za-z0-9_.@$-]*)
    )""", re.VERBOSE)


@dataclass
class _Tokens:
    items: list[tuple[str, str]]
    pos: int = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        if self.pos >= len(self.items):
            return False
        k, v = self.items[self.pos]
        return (value is None or (v.lower() == value if k == "name" else v == value)) and (kind is None or k == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str] | None:
        if self.peek(value, kind):
            self.pos += 1
            return self.items[self.pos - 1]
        return None

    def need(self, value: str | None = None, kind: str | None = None) -> tuple[str, str]:
        got = self.take(value, kind)
        if got is None:
            found = self.items[self.pos][1] if self.pos < len(self.items) else "the end"
            raise QueryError(f"expected {value or kind} but found {found}")
        return got

    def done(self) -> bool:
        return self.pos >= len(self.items)


def _tokens(text: str) -> _Tokens:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"unexpected character {text[pos:].lstrip()[:1]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return _Tokens(out)


def _name(token: tuple[str, str]) -> str:
    return token[1][1:-1] if token[1].startswith("`") else token[1]


# -- fields of an event ------------------------------------------------------------------------------
_REPORT = re.compile(r"REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms\s+Billed Duration: (\d+) ms\s+"
                     r"Memory Size: (\d+) MB\s+Max Memory Used: (\d+) MB(?:\s+Init Duration: ([\d.]+) ms)?")


def discover(event: Event) -> Event:
    message = event.get("@message", "")
    if message.startswith("{"):
        try:
            doc = json.loads(message)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            _flatten(doc, "", event)
    elif message.startswith("REPORT RequestId: "):
        m = _REPORT.match(message)
        if m:
            event.update({"@type": "REPORT", "@requestId": m.group(1), "@duration": float(m.group(2)),
                          "@billedDuration": int(m.group(3)), "@memorySize": int(m.group(4)) * 1_000_000,
                          "@maxMemoryUsed": int(m.group(5)) * 1_000_000})
            if m.group(6):
                event["@initDuration"] = float(m.group(6))
    return event


def _flatten(doc: dict[str, Any], prefix: str, out: Event) -> None:
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _flatten(item, f"{name}.{i}.", out)
                else:
                    out.setdefault(f"{name}.{i}", item)
        else:
            out.setdefault(name, value)


def format_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# -- expressions -------------------------------------------------------------------------------------
Value = Callable[[Event], Any]
_UNITS = {"ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "hr": 3_600_000,
          "d": 86_400_000, "w": 604_800_000}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        n = float(v)
    except (TypeError, ValueError):
        return None
    return n if math.isfinite(n) else None


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        left: Any
        right: Any
        left, right = x, y
    else:
        left, right = str(a), str(b)
    return {"=": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
            ">": left > right, ">=": left >= right}[op]


def _operand(t: _Tokens) -> Value:
    if t.take("("):
        inner = _or(t)
        t.need(")")
        return inner
    token = t.take(kind="string")
    if token:
        text = bytes(token[1][1:-1], "utf-8").decode("unicode_escape", errors="replace")
        return lambda e: text
    token = t.take(kind="number")
    if token:
        number = float(token[1])
        return lambda e: number
    token = t.need(kind="name")
    word = _name(token)
    if t.peek("("):
        return _call(word.lower(), t)
    if word.lower() in ("true", "false"):
        flag = word.lower() == "true"
        return lambda e: flag
    return lambda e: e.get(word)


def _call(fn: str, t: _Tokens) -> Value:
    t.need("(")
    args: list[Value] = []
    if not t.peek(")"):
        args.append(_or(t))
        while t.take(","):
            args.append(_or(t))
    t.need(")")
    if fn == "ispresent" and len(args) == 1:
        a = args[0]
        return lambda e: a(e) is not None
    if fn in ("tolower", "toupper") and len(args) == 1:
        a = args[0]
        return lambda e: None if a(e) is None else (str(a(e)).lower() if fn == "tolower" else str(a(e)).upper())
    if fn == "strlen" and len(args) == 1:
        a = args[0]
        return lambda e: None if a(e) is None else len(str(a(e)))
    if fn in ("abs", "floor", "ceil") and len(args) == 1:
        a = args[0]
        op = {"abs": abs, "floor": math.floor, "ceil": math.ceil}[fn]
        return lambda e: None if _number(a(e)) is None else op(_number(a(e)))  # type: ignore[operator]
    raise QueryError(f"unknown function {fn}() in an expression")


def _comparison(t: _Tokens) -> Value:
    left = _operand(t)
    negate = bool(t.take("not"))
    if t.take("like") or t.take("=~"):
        token = t.take(kind="regex") or t.need(kind="string")
        if token[0] == "regex":
            try:
                pattern = re.compile(token[1][1:-1])
            except re.error as exc:
                raise QueryError(f"bad regular expression {token[1]}: {exc}") from None
            test: Callable[[str], bool] = lambda s: pattern.search(s) is not None  # noqa: E731
        else:
            needle = token[1][1:-1]
            test = lambda s: needle in s  # noqa: E731
        return lambda e: (left(e) is not None and test(str(left(e)))) != negate
    if t.take("in"):
        t.need("[")
        members = [_operand(t)]
        while t.take(","):
            members.append(_operand(t))
        t.need("]")
        return lambda e: (left(e) is not None and any(_compare("=", left(e), m(e)) for m in members)) != negate
    if negate:
        raise QueryError("'not' goes before like or in")
    for op in ("!=", "<=", ">=", "=", "<", ">"):
        if t.take(op):
            right = _operand(t)
            return lambda e: _compare(op, left(e), right(e))
    return left


def _not(t: _Tokens) -> Value:
    if t.take("not"):
        inner = _not(t)
        return lambda e: not _truthy(inner(e))
    return _comparison(t)


def _and(t: _Tokens) -> Value:
    parts = [_not(t)]
    while t.take("and"):
        parts.append(_not(t))
    if len(parts) == 1:
        return parts[0]
    return lambda e: all(_truthy(p(e)) for p in parts)


def _or(t: _Tokens) -> Value:
    parts = [_and(t)]
    while t.take("or"):
        parts.append(_and(t))
    if len(parts) == 1:
        return parts[0]
    return lambda e: any(_truthy(p(e)) for p in parts)


def _truthy(v: Any) -> bool:
    return v is not None and v is not False and v != 0 and v != ""


# -- commands ----------------------------------------------------------------------------------------
@dataclass
class _Stat:
    name: str
    fn: str
    arg: Value | None


@dataclass
class Query:
    text: str
    steps: list[Callable[[list[Event]], list[Event]]] = field(default_factory=list)
    shown: list[str] | None = None          # what `fields` / `stats` name, in order
    limit: int | None = None
    sorted_: bool = False

    def run(self, events: list[Event], default_limit: int = 10_000) -> tuple[list[list[dict[str, str]]], int]:
        """The rows (as GetQueryResults gives them) and how many events matched the filters."""
        rows = [discover(dict(e)) for e in events]
        matched = len(rows)
        for step in self.steps:
            rows = step(rows)
            if step.__name__ == "filter_step":
                matched = len(rows)
        if not self.sorted_ and not any(s.__name__ == "stats_step" for s in self.steps):
            rows.sort(key=lambda r: r.get("@timestamp", 0), reverse=True)   # newest first, as Insights
        rows = rows[:self.limit if self.limit is not None else default_limit]
        out = []
        for row in rows:
            names = self.shown if self.shown is not None else ["@timestamp", "@message"]
            fields_ = []
            for name in names:
                value = row.get(name)
                if value is None:
                    continue
                fields_.append({"field": name, "value": _text(name, value)})
            out.append(fields_)
        return out, matched


def _text(name: str, value: Any) -> str:
    if name == "@timestamp" or (name.startswith("bin(") and isinstance(value, int)):
        return format_time(int(value))
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compile_query(text: str) -> Query:
    if not isinstance(text, str) or not text.strip():
        raise QueryError("The query is empty.")
    if len(text) > 10_000:
        raise QueryError("A query is at most 10,000 characters.")
    query = Query(text)
    try:
        for command in _split_commands(text):
            _command(query, command.strip())
    except RecursionError:
        raise QueryError("The query is nested too deeply.") from None
    return query


def _split_commands(text: str) -> list[str]:
    """The query split at | outside strings and regular expressions."""
    out, start, quote = [], 0, ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'/`":
            quote = c
        elif c == "|":
            out.append(text[start:i])
            start = i + 1
        i += 1
    if quote:
        raise QueryError("unterminated string or regular expression")
    out.append(text[start:])
    return [c for c in out if c.strip()]


def _command(query: Query, command: str) -> None:
    word, _, rest = command.partition(" ")
    word = word.lower()
    if word == "fields" or word == "display":
        t = _tokens(rest)
        names: list[str] = []
        computed: list[tuple[str, Value]] = []
        while True:
            start = t.pos
            value = _or(t)
            if t.take("as"):
                alias = _name(t.need(kind="name"))
                computed.append((alias, value))
                names.append(alias)
            else:
                if t.pos != start + 1 or t.items[start][0] != "name":
                    raise QueryError("fields names fields (or expressions with 'as')")
                names.append(_name(t.items[start]))
            if not t.take(","):
                break
        if not t.done():
            raise QueryError(f"unexpected {t.items[t.pos][1]} in fields")
        if computed:
            def compute(rows: list[Event]) -> list[Event]:
                for row in rows:
                    for alias, fn in computed:
                        row[alias] = fn(row)
                return rows
            query.steps.append(compute)
        query.shown = names if word == "display" or query.shown is None else query.shown + names
    elif word == "filter":
        t = _tokens(rest)
        predicate = _or(t)
        if not t.done():
            raise QueryError(f"unexpected {t.items[t.pos][1]} in filter")

        def filter_step(rows: list[Event]) -> list[Event]:
            return [r for r in rows if _truthy(predicate(r))]
        query.steps.append(filter_step)
    elif word == "parse":
        query.steps.append(_parse(rest))
    elif word == "stats":
        query.steps.append(_stats(query, rest))
    elif word == "sort":
        t = _tokens(rest)
        keys: list[tuple[str, bool]] = []
        while True:
            name = _name(t.need(kind="name"))
            descending = True if t.take("desc") else (False if t.take("asc") else False)
            keys.append((name, descending))
            if not t.take(","):
                break
        if not t.done():
            raise QueryError("sort takes fields, each with asc or desc")

        def sort_step(rows: list[Event]) -> list[Event]:
            for name, descending in reversed(keys):
                present = [r for r in rows if r.get(name) is not None]
                absent = [r for r in rows if r.get(name) is None]
                present.sort(key=lambda r: (_number(r[name]) is None, _number(r[name]) or 0, str(r[name])),
                             reverse=descending)
                rows = present + absent
            return rows
        query.steps.append(sort_step)
        query.sorted_ = True
    elif word == "limit":
        if not rest.strip().isdigit() or not 1 <= int(rest) <= 10_000:
            raise QueryError("limit takes a number from 1 to 10000")
        query.limit = int(rest)
    elif word == "dedup":
        t = _tokens(rest)
        names = [_name(t.need(kind="name"))]
        while t.take(","):
            names.append(_name(t.need(kind="name")))

        def dedup(rows: list[Event]) -> list[Event]:
            seen: set[tuple[str, ...]] = set()
            out = []
            for r in rows:
                key = tuple(str(r.get(n)) for n in names)
                if key not in seen:
                    seen.add(key)
                    out.append(r)
            return out
        query.steps.append(dedup)
    else:
        raise QueryError(f"unknown command '{word}' (fields, filter, parse, stats, sort, limit, dedup, display)")


def _parse(rest: str) -> Callable[[list[Event]], list[Event]]:
    t = _tokens(rest)
    source = "@message"
    if t.peek(kind="name"):
        source = _name(t.need(kind="name"))
    token = t.take(kind="regex") or t.need(kind="string")
    if token[0] == "regex":
        body = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", token[1][1:-1])
        try:
            pattern = re.compile(body)
        except re.error as exc:
            raise QueryError(f"bad regular expression in parse: {exc}") from None
        names = list(pattern.groupindex)
        if not names:
            raise QueryError("parse with a regular expression names its fields: (?<name>...)")
        if t.take("as"):
            raise QueryError("parse with a regular expression takes no 'as'")
    else:
        glob = token[1][1:-1]
        pieces = glob.split("*")
        pattern = re.compile("(.*?)".join(re.escape(p) for p in pieces[:-1]) + ("(.*)" if len(pieces) > 1 else "")
                             + re.escape(pieces[-1]), re.DOTALL)
        t.need("as")
        names = [_name(t.need(kind="name"))]
        while t.take(","):
            names.append(_name(t.need(kind="name")))
        if len(names) != len(pieces) - 1:
            raise QueryError(f"parse's pattern has {len(pieces) - 1} * but names {len(names)} fields")
        by_position = names
    if not t.done():
        raise QueryError(f"unexpected {t.items[t.pos][1]} in parse")

    def parse_step(rows: list[Event]) -> list[Event]:
        for r in rows:
            m = pattern.search(str(r.get(source, "")))
            if not m:
                continue
            if token[0] == "regex":
                r.update({k: v for k, v in m.groupdict().items() if v is not None})
            else:
                r.update(dict(zip(by_position, m.groups())))
        return rows
    return parse_step


def _bin(width: int) -> Value:
    return lambda e: int(e.get("@timestamp", 0)) // width * width


_AGGREGATES = {"count", "sum", "avg", "min", "max", "count_distinct"}


def _stats(query: Query, rest: str) -> Callable[[list[Event]], list[Event]]:
    t = _tokens(rest)
    stats: list[_Stat] = []
    while True:
        first = t.pos
        fn = _name(t.need(kind="name")).lower()
        if fn not in _AGGREGATES:
            raise QueryError(f"unknown statistic {fn}() ({', '.join(sorted(_AGGREGATES))})")
        t.need("(")
        arg: Value | None = None
        if t.take("*") is None and not t.peek(")"):
            arg = _or(t)
        t.need(")")
        if arg is None and fn != "count":
            raise QueryError(f"{fn}() takes a field")
        label = "".join(v for _, v in t.items[first:t.pos])      # as Insights names it: avg(@duration)
        if t.take("as"):
            label = _name(t.need(kind="name"))
        stats.append(_Stat(label, fn, arg))
        if not t.take(","):
            break
    groups: list[tuple[str, Value]] = []
    if t.take("by"):
        while True:
            start = t.pos
            value: Value
            if t.peek("bin") and t.items[t.pos + 1:t.pos + 2] == [("op", "(")]:
                t.need(kind="name")
                t.need("(")
                amount = t.need(kind="number")[1]
                unit = _name(t.need(kind="name")) if t.peek(kind="name") else "ms"
                t.need(")")
                if unit not in _UNITS or float(amount) <= 0:
                    raise QueryError(f"bin() takes a period such as 5m (units: {', '.join(_UNITS)})")
                width = max(int(float(amount) * _UNITS[unit]), 1)
                value = _bin(width)
                label = f"bin({amount}{unit})"
            else:
                value = _or(t)
                label = _name(t.items[start]) if t.pos == start + 1 else "".join(v for _, v in t.items[start:t.pos])
            if t.take("as"):
                label = _name(t.need(kind="name"))
            groups.append((label, value))
            if not t.take(","):
                break
    if not t.done():
        raise QueryError(f"unexpected {t.items[t.pos][1]} in stats")
    query.shown = [g for g, _ in groups] + [s.name for s in stats]
    binned = {g for g, _ in groups if g.startswith("bin(")}

    def stats_step(rows: list[Event]) -> list[Event]:
        buckets: dict[tuple[Any, ...], list[Event]] = {}
        for r in rows:
            key = tuple(fn(r) for _, fn in groups)
            buckets.setdefault(key, []).append(r)
        out = []
        for key, members in buckets.items():
            row: Event = dict(zip((g for g, _ in groups), key))
            for s in stats:
                row[s.name] = _aggregate(s, members)
            out.append(row)
        out.sort(key=lambda r: tuple((0, r[g], "") if g in binned else (1, 0, str(r.get(g))) for g, _ in groups))
        return out
    return stats_step


def _aggregate(s: _Stat, rows: list[Event]) -> Any:
    if s.arg is None:
        return len(rows)
    values = [s.arg(r) for r in rows]
    present = [v for v in values if v is not None]
    if s.fn == "count":
        return len(present)
    if s.fn == "count_distinct":
        return len({json.dumps(v, sort_keys=True, default=str) for v in present})
    numbers = [n for n in (_number(v) for v in present) if n is not None]
    if not numbers:
        return None
    if s.fn == "sum":
        return sum(numbers)
    if s.fn == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if s.fn == "min" else max(numbers)
