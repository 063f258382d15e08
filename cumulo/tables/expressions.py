"""DynamoDB's expression language: condition, filter, key-condition, update and projection
expressions, parsed into trees and evaluated against items.

Pure (no I/O). ``parse_condition``, ``parse_update``, ``parse_projection`` and ``key_condition``
take the expression's text and an ``Names`` (ExpressionAttributeNames, recording which names
and values an expression used, so the request can refuse the unused ones as DynamoDB does).
Every fault is a ``ValidationException`` worded as DynamoDB words it ("Invalid
UpdateExpression: Syntax error; token: …"); nothing else escapes, whatever the text
(tests/unit/tables/test_expressions.py holds it to that with generated garbage).

Grammar (DynamoDB developer guide, "Condition and filter expressions", "Update expressions"):

    condition  := or ;  or := and (OR and)* ;  and := not (AND not)* ;  not := NOT not | primary
    primary    := '(' condition ')' | function '(' operand (',' operand)* ')'
                | operand (comparator operand | BETWEEN operand AND operand | IN '(' operand, … ')')
    operand    := path | ':value' | size '(' path ')'
    path       := name ('.' name | '[' digits ']')* ;  name := identifier | '#name'
    update     := (SET action, … | REMOVE path, … | ADD path :v, … | DELETE path :v, …)+
    action     := path '=' value ;  value := term (('+' | '-') term)?
    term       := operand | if_not_exists '(' path ',' value ')' | list_append '(' value ',' value ')'
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

from cumulo.errors import ValidationException
from cumulo.tables import values as V
from cumulo.tables.reserved import RESERVED

__all__ = ["Names", "Path", "parse_condition", "parse_update", "parse_projection", "key_condition", "evaluate",
           "apply_update", "project", "resolve", "KeyCondition", "Update", "overlap"]

PathElement = Union[str, int]

_TOKEN = re.compile(r"\s*(?:(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<int>[0-9]+)|(?P<op><>|<=|>=|[=<>(),.\[\]+-]))")
_FUNCTIONS = {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"}
_UPDATE_FUNCTIONS = {"if_not_exists", "list_append"}
_TYPES = ("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M")
_MAX_EXPRESSION = 4096


class Names:
    """ExpressionAttributeNames and ExpressionAttributeValues of one request, and which of them its
    expressions used."""

    def __init__(self, names: Any, values: Any) -> None:
        if names is not None and not isinstance(names, dict):
            raise ValidationException("ExpressionAttributeNames must be a map")
        if values is not None and not isinstance(values, dict):
            raise ValidationException("ExpressionAttributeValues must be a map")
        if names == {}:
            raise ValidationException("ExpressionAttributeNames must not be empty")
        if values == {}:
            raise ValidationException("ExpressionAttributeValues must not be empty")
        self.names: dict[str, str] = names or {}
        self.values: dict[str, Any] = {}
        for key, value in (values or {}).items():
            if not isinstance(key, str) or not key.startswith(":"):
                raise ValidationException(f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"')
            try:
                self.values[key] = V.validate_value(value)
            except ValidationException as err:
                raise ValidationException(f"ExpressionAttributeValues contains invalid value: {err.message} for key "
                                          f"{key}") from None
        for key in self.names:
            if not isinstance(key, str) or not key.startswith("#"):
                raise ValidationException(f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"')
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    def check_all_used(self) -> None:
        if len(self.used_names) == len(self.names) and len(self.used_values) == len(self.values):
            return                      # every one used (used ones are always defined ones)
        unused = sorted(set(self.names) - self.used_names)
        if unused:
            raise ValidationException(f"Value provided in ExpressionAttributeNames unused in expressions: keys: "
                                      f"{{{', '.join(unused)}}}")
        unused = sorted(set(self.values) - self.used_values)
        if unused:
            raise ValidationException(f"Value provided in ExpressionAttributeValues unused in expressions: keys: "
                                      f"{{{', '.join(unused)}}}")


# -- trees -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Path:
    elements: tuple[PathElement, ...]

    def __str__(self) -> str:
        return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else e for e in self.elements) + "]"


@dataclass(frozen=True)
class Value:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Arith:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Between:
    subject: Any
    low: Any
    high: Any


@dataclass(frozen=True)
class In:
    subject: Any
    options: tuple[Any, ...]


@dataclass(frozen=True)
class Logic:
    op: str                # AND, OR, NOT
    parts: tuple[Any, ...]


@dataclass
class Update:
    set: list[tuple[Path, Any]] = field(default_factory=list)
    remove: list[Path] = field(default_factory=list)
    add: list[tuple[Path, Value]] = field(default_factory=list)
    delete: list[tuple[Path, Value]] = field(default_factory=list)

    def paths(self) -> list[Path]:
        return [p for p, _ in self.set] + self.remove + [p for p, _ in self.add] + [p for p, _ in self.delete]


@dataclass(frozen=True)
class KeyCondition:
    hash_value: dict[str, Any]
    range_op: str | None = None             # =, <, <=, >, >=, BETWEEN, begins_with
    range_values: tuple[dict[str, Any], ...] = ()


# -- tokens and the parser -------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str        # name, value, ident, int, op, eof
    text: str
    start: int
    end: int


def _tokens(text: str, what: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            bad = text[start]
            raise ValidationException(f'Invalid {what}: Syntax error; token: "{bad}", near: '
                                      f'"{text[max(start - 1, 0):start + 2].strip()}"')
        kind = m.lastgroup or "op"
        out.append(Token(kind, m.group(kind), m.start(kind), m.end()))
        pos = m.end()
    out.append(Token("eof", "<EOF>", len(text), len(text)))
    return out


class _Parser:
    def __init__(self, text: Any, what: str, names: Names) -> None:
        if not isinstance(text, str):
            raise ValidationException(f"Invalid {what}: The expression must be a string")
        if not text.strip():
            raise ValidationException(f"Invalid {what}: The expression can not be empty;")
        if len(text.encode()) > _MAX_EXPRESSION:
            raise ValidationException(f"Invalid {what}: Expression size has exceeded the maximum allowed size; "
                                      f"expression size: {len(text.encode())}")
        self.text, self.what, self.names = text, what, names
        self.tokens = _tokens(text, what)
        self.i = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, n: int = 1) -> Token:
        return self.tokens[min(self.i + n, len(self.tokens) - 1)]

    def error(self, token: Token | None = None) -> ValidationException:
        t = token or self.tok
        k = self.tokens.index(t)
        lo = self.tokens[max(k - 1, 0)].start
        hi = self.tokens[min(k + 1, len(self.tokens) - 1)].end
        near = self.text[lo:hi].strip() if t.kind != "eof" else self.text[lo:].strip()
        return ValidationException(f'Invalid {self.what}: Syntax error; token: "{t.text}", near: "{near}"')

    def fail(self, message: str) -> ValidationException:
        return ValidationException(f"Invalid {self.what}: {message}")

    def keyword(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.upper() == word

    def accept_op(self, op: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == op:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            raise self.error()

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.error()
        self.i += 1

    def done(self) -> None:
        if self.tok.kind != "eof":
            raise self.error()

    def nest(self) -> None:
        self.depth += 1
        if self.depth > 100:
            raise self.fail("The expression has too many nested levels")

    # paths and operands
    def name(self) -> str:
        t = self.tok
        if t.kind == "name":
            if t.text not in self.names.names:
                raise self.fail(f"An expression attribute name used in the document path is not defined; "
                                f"attribute name: {t.text}")
            self.names.used_names.add(t.text)
            self.i += 1
            return str(self.names.names[t.text])
        if t.kind == "ident":
            if t.text.upper() in RESERVED:
                raise self.fail(f"Attribute name is a reserved keyword; reserved keyword: {t.text}")
            self.i += 1
            return t.text
        raise self.error()

    def path(self) -> Path:
        elements: list[PathElement] = [self.name()]
        while True:
            if self.accept_op("."):
                elements.append(self.name())
            elif self.tok.kind == "op" and self.tok.text == "[":
                self.i += 1
                if self.tok.kind != "int":
                    raise self.error()
                index = int(self.tok.text) if len(self.tok.text) < 10 else 1 << 31
                self.i += 1
                self.expect_op("]")
                elements.append(index)
            else:
                return Path(tuple(elements))

    def value(self) -> Value:
        t = self.tok
        if t.kind != "value":
            raise self.error()
        if t.text not in self.names.values:
            raise self.fail(f"An expression attribute value used in expression is not defined; attribute value: "
                            f"{t.text}")
        self.names.used_values.add(t.text)
        self.i += 1
        return Value(t.text)

    def operand(self, update: bool = False) -> Any:
        t = self.tok
        if t.kind == "value":
            return self.value()
        if t.kind == "ident" and self.peek().kind == "op" and self.peek().text == "(":
            return self.call(update, as_operand=True)
        if t.kind in ("ident", "name"):
            return self.path()
        raise self.error()

    def call(self, update: bool, as_operand: bool) -> Call:
        fname = self.tok.text
        if fname not in _FUNCTIONS | _UPDATE_FUNCTIONS:
            raise self.fail(f"Invalid function name; function: {fname}")
        allowed = ({"size"} if not update else _UPDATE_FUNCTIONS) if as_operand else _FUNCTIONS - {"size"}
        if fname not in allowed:
            raise self.fail(f"The function is not allowed to be used this way in an expression; function: {fname}")
        self.i += 2
        self.nest()
        args = [self.update_value() if update else self.operand()]
        while self.accept_op(","):
            args.append(self.update_value() if update else self.operand())
        self.expect_op(")")
        self.depth -= 1
        arity = {"attribute_exists": 1, "attribute_not_exists": 1, "size": 1, "attribute_type": 2,
                 "begins_with": 2, "contains": 2, "if_not_exists": 2, "list_append": 2}[fname]
        if len(args) != arity:
            raise self.fail(f"Incorrect number of operands for operator or function; operator or function: "
                            f"{fname}, number of operands: {len(args)}")
        if fname in ("attribute_exists", "attribute_not_exists", "size", "if_not_exists") and \
                not isinstance(args[0], Path):
            raise self.fail(f"Operator or function requires a document path; operator or function: {fname}")
        if fname == "attribute_type":
            if not isinstance(args[0], Path) or not isinstance(args[1], Value):
                raise self.fail("Incorrect operand type for operator or function; operator or function: "
                                "attribute_type")
            kind = self.names.values[args[1].name]
            if V.type_of(kind) != "S" or kind["S"] not in _TYPES:
                raise self.fail(f"Invalid attribute type name found; type: {kind.get('S', V.type_of(kind))}, "
                                "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}")
        if fname == "begins_with":
            for a in args:
                if isinstance(a, Value) and V.type_of(self.names.values[a.name]) not in ("S", "B"):
                    raise self.fail(f"Incorrect operand type for operator or function; operator or function: "
                                    f"begins_with, operand type: {V.type_of(self.names.values[a.name])}")
        return Call(fname, tuple(args))

    # conditions
    def condition(self) -> Any:
        self.nest()
        parts = [self.conjunction()]
        while self.keyword("OR"):
            self.i += 1
            parts.append(self.conjunction())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else Logic("OR", tuple(parts))

    def conjunction(self) -> Any:
        parts = [self.negation()]
        while self.keyword("AND"):
            self.i += 1
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Logic("AND", tuple(parts))

    def negation(self) -> Any:
        if self.keyword("NOT"):
            self.i += 1
            self.nest()
            inner = self.negation()
            self.depth -= 1
            return Logic("NOT", (inner,))
        return self.primary()

    def primary(self) -> Any:
        t = self.tok
        if t.kind == "op" and t.text == "(":
            self.i += 1
            inner = self.condition()
            self.expect_op(")")
            return inner
        if t.kind == "ident" and self.peek().kind == "op" and self.peek().text == "(" and t.text != "size":
            return self.call(update=False, as_operand=False)
        left = self.operand()
        t = self.tok
        if t.kind == "op" and t.text in ("=", "<>", "<", "<=", ">", ">="):
            self.i += 1
            return Compare(t.text, left, self.operand())
        if self.keyword("BETWEEN"):
            self.i += 1
            low = self.operand()
            self.expect_keyword("AND")
            return Between(left, low, self.operand())
        if self.keyword("IN"):
            self.i += 1
            self.expect_op("(")
            options = [self.operand()]
            while self.accept_op(","):
                options.append(self.operand())
            self.expect_op(")")
            if len(options) > 100:
                raise self.fail("The IN operator has too many operands; maximum: 100")
            return In(left, tuple(options))
        raise self.error()

    # updates
    def update_value(self) -> Any:
        left = self.term()
        if self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.tok.text
            self.i += 1
            return Arith(op, left, self.term())
        return left

    def term(self) -> Any:
        return self.operand(update=True)


_CACHE: dict[tuple[Any, ...], tuple[Any, frozenset[str], frozenset[str]]] = {}
_CACHE_MAX = 2048


def _cached(kind: str, text: Any, names: Names, parse: Any) -> Any:
    """A parse remembered by its text and what it can depend on: the names' meanings and the values'
    names and types (an attribute_type's type name is read from its value: those are not kept)."""
    if not isinstance(text, str) or "attribute_type" in text:
        return parse()
    key = (kind, text, tuple(sorted(names.names.items())),
           tuple(sorted((k, next(iter(v))) for k, v in names.values.items())))
    hit = _CACHE.get(key)
    if hit is not None:
        names.used_names |= hit[1]
        names.used_values |= hit[2]
        return hit[0]
    before_names, before_values = set(names.used_names), set(names.used_values)
    tree = parse()
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = (tree, frozenset(names.used_names - before_names), frozenset(names.used_values - before_values))
    return tree


def parse_condition(text: Any, names: Names, what: str = "ConditionExpression") -> Any:
    def parse() -> Any:
        p = _Parser(text, what, names)
        tree = p.condition()
        p.done()
        return tree
    return _cached(what, text, names, parse)


_CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")


def parse_update(text: Any, names: Names) -> Update:
    return _cached("UpdateExpression", text, names, lambda: _parse_update(text, names))  # type: ignore[no-any-return]


def _parse_update(text: Any, names: Names) -> Update:
    p = _Parser(text, "UpdateExpression", names)
    out = Update()
    seen: set[str] = set()
    if p.tok.kind == "eof":
        raise p.error()
    while p.tok.kind != "eof":
        clause = p.tok.text.upper() if p.tok.kind == "ident" else ""
        if clause not in _CLAUSES:
            raise p.error()
        if clause in seen:
            raise p.fail(f'The "{clause}" section can only be used once in an update expression;')
        seen.add(clause)
        p.i += 1
        while True:
            path = p.path()
            if clause == "SET":
                p.expect_op("=")
                out.set.append((path, p.update_value()))
            elif clause == "REMOVE":
                out.remove.append(path)
            else:
                (out.add if clause == "ADD" else out.delete).append((path, p.value()))
            if not p.accept_op(","):
                break
    _no_overlap(p, out.paths())
    return out


def overlap(paths: list[Path]) -> tuple[Path, Path] | None:
    """The first two paths of which one is the other or inside it, or None."""
    for i, a in enumerate(paths):
        for b in paths[i + 1:]:
            n = min(len(a.elements), len(b.elements))
            if a.elements[:n] == b.elements[:n]:
                return a, b
    return None


def _no_overlap(p: _Parser, paths: list[Path]) -> None:
    clash = overlap(paths)
    if clash is not None:
        raise p.fail(f"Two document paths overlap with each other; must remove or rewrite one of these "
                     f"paths; path one: {clash[0]}, path two: {clash[1]}")


def parse_projection(text: Any, names: Names) -> list[Path]:
    return _cached("ProjectionExpression", text, names, lambda: _parse_projection(text, names))  # type: ignore[no-any-return]


def _parse_projection(text: Any, names: Names) -> list[Path]:
    p = _Parser(text, "ProjectionExpression", names)
    paths = [p.path()]
    while p.accept_op(","):
        paths.append(p.path())
    p.done()
    _no_overlap(p, paths)
    return paths


def key_condition(text: Any, names: Names, hash_key: str, range_key: str | None) -> KeyCondition:
    """A KeyConditionExpression checked against the key schema it queries."""
    tree = parse_condition(text, names, "KeyConditionExpression")
    parts = list(tree.parts) if isinstance(tree, Logic) and tree.op == "AND" else [tree]

    def bad(message: str) -> ValidationException:
        return ValidationException(message)

    def key_of(node: Any) -> str:
        subject = node.args[0] if isinstance(node, Call) else node.subject if isinstance(node, Between) else node.left
        if not isinstance(subject, Path) or len(subject.elements) != 1:
            raise bad("Query key condition not supported")
        return str(subject.elements[0])

    def value_of(node: Any) -> dict[str, Any]:
        if not isinstance(node, Value):
            raise bad("Query key condition not supported")
        return names.values[node.name]

    if isinstance(tree, Logic) and tree.op in ("OR", "NOT"):
        raise bad(f"Invalid operator used in KeyConditionExpression: {tree.op}")
    found: dict[str, Any] = {}
    for node in parts:
        if isinstance(node, Logic):
            raise bad(f"Invalid operator used in KeyConditionExpression: {node.op}")
        if isinstance(node, In):
            raise bad("Invalid operator used in KeyConditionExpression: IN")
        if isinstance(node, Compare) and node.op == "<>":
            raise bad("Unsupported operator on KeyConditionExpression: operator: <>")
        if isinstance(node, Call) and node.name != "begins_with":
            raise bad(f"Invalid operator used in KeyConditionExpression: {node.name}")
        if isinstance(node, Compare) and isinstance(node.left, Value) and isinstance(node.right, Path):
            node = Compare({"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(node.op, node.op), node.right, node.left)
        key = key_of(node)
        if key in found:
            raise bad("KeyConditionExpressions must only contain one condition per key")
        found[key] = node
    if hash_key not in found:
        raise bad(f"Query condition missed key schema element: {hash_key}")
    h = found.pop(hash_key)
    if not isinstance(h, Compare) or h.op != "=":
        raise bad("Query key condition not supported")
    result = KeyCondition(value_of(h.right))
    if found:
        if range_key is None or set(found) != {range_key}:
            raise bad(f"Query condition missed key schema element: {range_key or next(iter(found))}")
        r = found[range_key]
        if isinstance(r, Between):
            return KeyCondition(result.hash_value, "BETWEEN", (value_of(r.low), value_of(r.high)))
        if isinstance(r, Call):
            return KeyCondition(result.hash_value, "begins_with", (value_of(r.args[1]),))
        return KeyCondition(result.hash_value, r.op, (value_of(r.right),))
    return result


# -- evaluation ------------------------------------------------------------------------------------
def resolve(path: Path, item: V.Item) -> dict[str, Any] | None:
    """The value at a document path, or None."""
    current: Any = item
    for k, e in enumerate(path.elements):
        if k == 0:
            current = current.get(e) if isinstance(e, str) else None
        elif isinstance(e, int):
            if current is None or V.type_of(current) != "L" or e >= len(current["L"]):
                return None
            current = current["L"][e]
        else:
            if current is None or V.type_of(current) != "M":
                return None
            current = current["M"].get(e)
        if current is None:
            return None
    return current


def _operand(node: Any, item: V.Item, names: Names) -> dict[str, Any] | None:
    if isinstance(node, Value):
        return names.values[node.name]
    if isinstance(node, Path):
        return resolve(node, item)
    if isinstance(node, Call) and node.name == "size":
        v = resolve(node.args[0], item)
        if v is None:
            return None
        kind, raw = next(iter(v.items()))
        if kind == "S":
            n = len(raw)
        elif kind == "B":
            n = len(V.blob(raw))
        elif kind in ("SS", "NS", "BS", "L", "M"):
            n = len(raw)
        else:
            raise ValidationException(f"Invalid ConditionExpression: Incorrect operand type for operator or "
                                      f"function; operator or function: size, operand type: {kind}")
        return {"N": str(n)}
    raise ValidationException("Invalid ConditionExpression: unsupported operand")


def evaluate(tree: Any, item: V.Item, names: Names) -> bool:
    """Whether ``item`` ({} when there is none) meets a condition."""
    if isinstance(tree, Logic):
        if tree.op == "AND":
            return all(evaluate(p, item, names) for p in tree.parts)
        if tree.op == "OR":
            return any(evaluate(p, item, names) for p in tree.parts)
        return not evaluate(tree.parts[0], item, names)
    if isinstance(tree, Compare):
        a, b = _operand(tree.left, item, names), _operand(tree.right, item, names)
        if tree.op == "<>":
            return a is None or b is None or not V.equal(a, b)
        if a is None or b is None:
            return False
        if tree.op == "=":
            return V.equal(a, b)
        c = V.compare(a, b)
        if c is None:
            return False
        return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[tree.op]
    if isinstance(tree, Between):
        x, lo, hi = (_operand(n, item, names) for n in (tree.subject, tree.low, tree.high))
        if lo is not None and hi is not None and V.compare(lo, hi) is not None and V.compare(lo, hi) > 0:  # type: ignore[operator]
            raise ValidationException(f"Invalid ConditionExpression: The BETWEEN operator requires upper bound to be "
                                      f"greater than or equal to lower bound; lower bound operand: AttributeValue: "
                                      f"{_show(lo)}, upper bound operand: AttributeValue: {_show(hi)}")
        if x is None or lo is None or hi is None:
            return False
        c1, c2 = V.compare(lo, x), V.compare(x, hi)
        return c1 is not None and c2 is not None and c1 <= 0 and c2 <= 0
    if isinstance(tree, In):
        x = _operand(tree.subject, item, names)
        return x is not None and any(o is not None and V.equal(x, o)
                                     for o in (_operand(n, item, names) for n in tree.options))
    if isinstance(tree, Call):
        return _function(tree, item, names)
    raise ValidationException("Invalid ConditionExpression: unsupported condition")


def _function(call: Call, item: V.Item, names: Names) -> bool:
    if call.name == "attribute_exists":
        return resolve(call.args[0], item) is not None
    if call.name == "attribute_not_exists":
        return resolve(call.args[0], item) is None
    if call.name == "attribute_type":
        v = resolve(call.args[0], item)
        return v is not None and V.type_of(v) == names.values[call.args[1].name]["S"]
    a, b = _operand(call.args[0], item, names), _operand(call.args[1], item, names)
    if a is None or b is None:
        return False
    ka, kb = V.type_of(a), V.type_of(b)
    if call.name == "begins_with":
        if ka != kb or ka not in ("S", "B"):
            return False
        return a["S"].startswith(b["S"]) if ka == "S" else V.blob(a["B"]).startswith(V.blob(b["B"]))
    # contains
    if ka == "S" and kb == "S":
        return b["S"] in a["S"]
    if ka == "B" and kb == "B":
        return V.blob(b["B"]) in V.blob(a["B"])
    if ka in V.SET_TYPES and V.SET_TYPES[ka] == kb:
        return any(V.equal({kb: m}, b) for m in a[ka])
    if ka == "L":
        return any(V.equal(e, b) for e in a["L"])
    return False


def _show(v: dict[str, Any]) -> str:
    kind, raw = next(iter(v.items()))
    return f"{{{kind}:{raw}}}"


# -- updates -----------------------------------------------------------------------------------------
def _value(node: Any, item: V.Item, names: Names) -> dict[str, Any]:
    if isinstance(node, Value):
        return names.values[node.name]
    if isinstance(node, Path):
        v = resolve(node, item)
        if v is None:
            raise ValidationException("The provided expression refers to an attribute that does not exist in the item")
        return v
    if isinstance(node, Arith):
        a, b = _value(node.left, item, names), _value(node.right, item, names)
        for x in (a, b):
            if V.type_of(x) != "N":
                raise ValidationException(f"An operand in the update expression has an incorrect data type")
        return {"N": V.add_numbers(a["N"], b["N"], subtract=node.op == "-")}
    if isinstance(node, Call) and node.name == "if_not_exists":
        existing = resolve(node.args[0], item)
        return existing if existing is not None else _value(node.args[1], item, names)
    if isinstance(node, Call) and node.name == "list_append":
        a, b = _value(node.args[0], item, names), _value(node.args[1], item, names)
        for x in (a, b):
            if V.type_of(x) != "L":
                raise ValidationException(f"Invalid UpdateExpression: Incorrect operand type for operator or function; "
                                          f"operator or function: list_append, operand type: {V.type_of(x)}")
        return {"L": a["L"] + b["L"]}
    raise ValidationException("Invalid UpdateExpression: unsupported operand")


def _parent(item: V.Item, path: Path) -> Any:
    """The container a path's last element lives in (the item, a map's dict, a list), or None."""
    if len(path.elements) == 1:
        return item
    holder = resolve(Path(path.elements[:-1]), item)
    if holder is None:
        return None
    kind = V.type_of(holder)
    last = path.elements[-1]
    if kind == "M" and isinstance(last, str):
        return holder["M"]
    if kind == "L" and isinstance(last, int):
        return holder["L"]
    return None


def _invalid_path() -> ValidationException:
    return ValidationException("The document path provided in the update expression is invalid for update")


def apply_update(update: Update, item: V.Item, names: Names) -> V.Item:
    """The item after the update (``item`` itself is left alone)."""
    old = item
    new = copy.deepcopy(item)
    for path, node in update.set:
        value = copy.deepcopy(_value(node, old, names))
        holder, last = _parent(new, path), path.elements[-1]
        if holder is None:
            raise _invalid_path()
        if isinstance(holder, list):
            assert isinstance(last, int)
            if last < len(holder):
                holder[last] = value
            else:
                holder.append(value)
        else:
            holder[last] = value
    for path in sorted(update.remove, key=lambda p: [(-e if isinstance(e, int) else 0) for e in p.elements]):
        holder, last = _parent(new, path), path.elements[-1]
        if holder is None:          # x.y or x[0] where x is not a map (a list): refused, as DynamoDB refuses it
            raise _invalid_path()
        if isinstance(holder, list):
            if isinstance(last, int) and last < len(holder):
                del holder[last]
        elif isinstance(holder, dict):
            holder.pop(last, None)
    for path, v in update.add:
        operand = names.values[v.name]
        kind = V.type_of(operand)
        holder, last = _parent(new, path), path.elements[-1]
        if holder is None or isinstance(holder, list) and not isinstance(last, int):
            raise _invalid_path()
        current = resolve(path, new)
        if kind not in ("N", "SS", "NS", "BS"):
            raise ValidationException(f"Invalid UpdateExpression: Incorrect operand type for operator or function; "
                                      f"operator: ADD, operand type: {_TYPE_NAMES.get(kind, kind)}")
        if current is None:
            result = copy.deepcopy(operand)
        elif V.type_of(current) != kind:
            raise ValidationException("An operand in the update expression has an incorrect data type")
        elif kind == "N":
            result = {"N": V.add_numbers(current["N"], operand["N"])}
        else:
            result = {kind: current[kind] + [m for m in operand[kind] if not _in_set(kind, m, current[kind])]}
        _store(holder, last, result)
    for path, v in update.delete:
        operand = names.values[v.name]
        kind = V.type_of(operand)
        if kind not in V.SET_TYPES:
            raise ValidationException(f"Invalid UpdateExpression: Incorrect operand type for operator or function; "
                                      f"operator: DELETE, operand type: {_TYPE_NAMES.get(kind, kind)}")
        holder, last = _parent(new, path), path.elements[-1]
        if holder is None:
            raise _invalid_path()
        current = resolve(path, new)
        if current is None:
            continue
        if V.type_of(current) != kind:
            raise ValidationException("An operand in the update expression has an incorrect data type")
        left = [m for m in current[kind] if not _in_set(kind, m, operand[kind])]
        if left:
            _store(holder, last, {kind: left})
        elif isinstance(holder, list):
            del holder[last]          # type: ignore[arg-type]
        else:
            holder.pop(last, None)
    return new


_TYPE_NAMES = {"S": "STRING", "B": "BINARY", "BOOL": "BOOLEAN", "NULL": "NULL", "L": "LIST", "M": "MAP",
               "N": "NUMBER", "SS": "SET", "NS": "SET", "BS": "SET"}


def _in_set(kind: str, member: str, members: list[str]) -> bool:
    if kind == "NS":
        d = Decimal(member)
        return any(Decimal(m) == d for m in members)
    return member in members


def _store(holder: Any, last: PathElement, value: dict[str, Any]) -> None:
    if isinstance(holder, list):
        assert isinstance(last, int)
        if last < len(holder):
            holder[last] = value
        else:
            holder.append(value)
    else:
        holder[last] = value


# -- projections ---------------------------------------------------------------------------------------
def project(item: V.Item, paths: list[Path]) -> V.Item:
    """The parts of an item that a ProjectionExpression names (lists keep their order, compacted)."""
    out: V.Item = {}
    for path in paths:
        value = resolve(path, item)
        if value is None:
            continue
        _graft(out, item, path.elements, value)
    return {name: _compact(value) for name, value in out.items()}


def _graft(out: V.Item, source: V.Item, elements: tuple[PathElement, ...], value: dict[str, Any]) -> None:
    first = elements[0]
    if len(elements) == 1:
        out[str(first)] = copy.deepcopy(value)
        return
    node = out.setdefault(str(first), _empty_like(source[str(first)]))
    src = source[str(first)]
    for e in elements[1:-1]:
        if isinstance(e, int):
            src = src["L"][e]
            node = node["L"].setdefault(e, _empty_like(src))
        else:
            src = src["M"][e]
            node = node["M"].setdefault(e, _empty_like(src))
    last = elements[-1]
    (node["L"] if isinstance(last, int) else node["M"])[last] = copy.deepcopy(value)


def _empty_like(v: dict[str, Any]) -> dict[str, Any]:
    return {"L": {}} if V.type_of(v) == "L" else {"M": {}}


def _compact(v: Any) -> Any:
    if isinstance(v, dict) and "L" in v and isinstance(v["L"], dict):
        return {"L": [_compact(v["L"][k]) for k in sorted(v["L"])]}
    if isinstance(v, dict) and "M" in v:
        return {"M": {k: _compact(e) for k, e in v["M"].items()}}
    return v
