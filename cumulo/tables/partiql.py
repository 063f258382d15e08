"""PartiQL for DynamoDB: statements parsed into small frozen trees, printed back as text, and
compiled onto the expression engine (``tables/expressions.py``), whose evaluator decides every
WHERE clause and applies every UPDATE's SET and REMOVE: there is one evaluator, not two. The trees
are the engine's own nodes (``Path``, ``Compare``, ``Between``, ``In``, ``Logic``, ``Call``,
``Arith``) with PartiQL's values (``Lit``, ``Param``, ``ListOf``, ``MapOf``, ``SetOf``) where the
engine has ``Value``s, and ``Is`` for ``IS [NOT] MISSING|NULL``; compiling puts the values in a
``Names`` and ``IS`` into the engine's functions.

Pure (no I/O). ``parse(text)`` gives a ``Select``, ``Insert``, ``Update``, ``Delete`` or ``Exists``;
every fault is a ``ValidationException`` (``Statement wasn't well formed, can't be processed: …``
for the grammar's), whatever the text (tests/unit/tables/test_partiql.py holds it to that with
generated garbage, and ``format`` to a round trip with generated statements).

Grammar (DynamoDB developer guide, "PartiQL - a SQL-compatible query language for DynamoDB":
statements, data types, functions, operators):

    statement := select | insert | update | delete | EXISTS '(' select ')'
    select    := SELECT ('*' | path, …) FROM table ['.' index] [WHERE cond] [ORDER BY path [ASC|DESC], …]
    insert    := INSERT INTO table VALUE (map | '?')
    update    := UPDATE table (SET path '=' expr [, path '=' expr …] | REMOVE path [, path …])+ WHERE cond
                 [RETURNING (ALL | MODIFIED) (OLD | NEW) '*']
    delete    := DELETE FROM table WHERE cond [RETURNING ALL OLD '*']
    cond      := or ;  or := and (OR and)* ;  and := not (AND not)* ;  not := NOT not | predicate
    predicate := '(' cond ')' | begins_with|contains|attribute_type '(' operand ',' operand ')'
               | operand (cmp operand | BETWEEN operand AND operand | IN ('[' | '(') value, … (']' | ')')
                          | IS [NOT] (MISSING | NULL))
    operand   := path | value | size '(' path ')' ;  cmp := = | <> | != | < | <= | > | >=
    expr      := term (('+' | '-') term)* ;  term := operand | list_append|set_add|set_delete '(' expr ',' expr ')'
    value     := 'string' | number | TRUE | FALSE | NULL | '?' | '[' value, … ']' | '{' 'name' ':' value, … '}'
               | '<<' value, … '>>'
    path      := name ('.' name | '[' digits ']' | '[' 'string' ']')* ;  name := identifier | "quoted"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

from cumulo.errors import ValidationException
from cumulo.tables import expressions as E
from cumulo.tables import values as V

__all__ = ["parse", "format", "Select", "Insert", "Update", "Delete", "Exists", "Lit", "Param", "condition",
           "update_of", "value_of", "conjuncts", "equality", "MAX_STATEMENT"]

MAX_STATEMENT = 8192
_MAX_DEPTH = 100
_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^']|'')*')|(?P<qid>"(?:[^"]|"")*")
    |(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|(?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<op><<|>>|<=|>=|<>|!=|[=<>()\[\]{},.:*+?-]))""", re.X)
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "BETWEEN", "IS", "MISSING", "NULL", "TRUE", "FALSE",
             "INSERT", "INTO", "VALUE", "UPDATE", "SET", "REMOVE", "DELETE", "RETURNING", "ORDER", "BY", "ASC", "DESC",
             "EXISTS", "VALUES", "JOIN", "GROUP", "LIMIT"}
_CONDITIONS = {"begins_with": 2, "contains": 2, "attribute_type": 2}
_UPDATES = {"list_append", "set_add", "set_delete"}
_COMPARE = ("=", "<>", "!=", "<", "<=", ">", ">=")
_RETURNING = {("ALL", "OLD"): "ALL_OLD", ("MODIFIED", "OLD"): "UPDATED_OLD", ("ALL", "NEW"): "ALL_NEW",
              ("MODIFIED", "NEW"): "UPDATED_NEW"}

PathElement = Union[str, int]


def _malformed(detail: str) -> ValidationException:
    return ValidationException(f"Statement wasn't well formed, can't be processed: {detail}")


# -- trees -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lit:
    """A scalar written in the statement: S, N (its text as written), BOOL or NULL."""
    kind: str
    text: Any


@dataclass(frozen=True)
class Param:
    index: int             # the n-th '?' of the statement, from 0


@dataclass(frozen=True)
class ListOf:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class MapOf:
    entries: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class SetOf:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Is:
    subject: E.Path
    what: str              # MISSING or NULL
    negated: bool


@dataclass(frozen=True)
class Select:
    columns: tuple[E.Path, ...] | None        # None: *
    table: str
    index: str | None
    where: Any
    order: tuple[tuple[E.Path, bool], ...]    # (key, descending)
    params: int = 0


@dataclass(frozen=True)
class Insert:
    table: str
    item: Any                              # a MapOf or a Param
    params: int = 0


@dataclass(frozen=True)
class Update:
    table: str
    actions: tuple[tuple[str, E.Path, Any], ...]     # ("SET", path, expr) or ("REMOVE", path, None)
    where: Any
    returning: str | None                         # ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATED_NEW
    params: int = 0


@dataclass(frozen=True)
class Delete:
    table: str
    where: Any
    returning: str | None                         # ALL_OLD
    params: int = 0


@dataclass(frozen=True)
class Exists:
    select: Select
    params: int = 0


Statement = Union[Select, Insert, Update, Delete, Exists]


# -- the parser --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str              # str, qid, num, ident, op, eof
    text: str


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            raise _malformed("Unexpected token" if text[i] not in "'\"" else "Unexpected end of statement")
        kind = m.lastgroup or "op"
        out.append(_Token(kind, m.group(kind)))
        i = m.end()
    out.append(_Token("eof", ""))
    return out


class _Parser:
    def __init__(self, text: Any) -> None:
        if not isinstance(text, str):
            raise ValidationException("Statement must be a string")
        if not 1 <= len(text) <= MAX_STATEMENT:
            raise ValidationException(f"1 validation error detected: Value at 'statement' failed to satisfy "
                                      f"constraint: Member must have length "
                                      f"{'greater than or equal to 1' if not text else 'less than or equal to 8192'}")
        self.toks = _tokens(text)
        self.i = 0
        self.params = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.upper() == word

    def word(self, word: str) -> bool:
        if self.is_word(word):
            self.i += 1
            return True
        return False

    def expect_word(self, word: str) -> None:
        if not self.word(word):
            raise self.unexpected()

    def op(self, op: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == op:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.op(op):
            raise self.unexpected()

    def unexpected(self) -> ValidationException:
        t = self.tok
        if t.kind == "eof":
            return _malformed("Unexpected end of statement")
        if t.kind == "ident" and t.text.upper() in _KEYWORDS:
            return _malformed(f"Unexpected keyword")
        return _malformed("Unexpected token")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _malformed("Statement nesting is too deep")

    # statements
    def statement(self) -> Statement:
        st: Statement
        if self.word("SELECT"):
            st = self.select()
        elif self.word("INSERT"):
            self.expect_word("INTO")
            table = self.name()
            self.expect_word("VALUE")
            item = self.param() if self.tok.text == "?" else self.map_value() if self.tok.text == "{" else None
            if item is None:
                raise self.unexpected()
            st = Insert(table, item)
        elif self.word("UPDATE"):
            st = self.update()
        elif self.word("DELETE"):
            self.expect_word("FROM")
            table = self.name()
            self.expect_word("WHERE")
            where = self.condition()
            returning = None
            if self.word("RETURNING"):
                self.expect_word("ALL")
                self.expect_word("OLD")
                self.expect_op("*")
                returning = "ALL_OLD"
            st = Delete(table, where, returning)
        elif self.word("EXISTS"):
            self.expect_op("(")
            self.expect_word("SELECT")
            st = Exists(self.select())
            self.expect_op(")")
        else:
            raise _malformed("Expected data manipulation")
        if self.tok.kind != "eof":
            raise self.unexpected()
        return type(st)(**{**st.__dict__, "params": self.params})

    def select(self) -> Select:
        columns: tuple[E.Path, ...] | None = None
        if not self.op("*"):
            found = [self.path()]
            while self.op(","):
                found.append(self.path())
            columns = tuple(found)
        self.expect_word("FROM")
        table = self.name()
        index = self.name() if self.op(".") else None
        where = self.condition() if self.word("WHERE") else None
        order: list[tuple[E.Path, bool]] = []
        if self.word("ORDER"):
            self.expect_word("BY")
            while True:
                key = self.path()
                desc = self.word("DESC")
                if not desc:
                    self.word("ASC")
                order.append((key, desc))
                if not self.op(","):
                    break
        return Select(columns, table, index, where, tuple(order))

    def update(self) -> Update:
        table = self.name()
        actions: list[tuple[str, E.Path, Any]] = []
        while self.is_word("SET") or self.is_word("REMOVE"):
            clause = self.tok.text.upper()
            self.i += 1
            while True:
                path = self.path()
                if clause == "SET":
                    self.expect_op("=")
                    actions.append(("SET", path, self.expr()))
                else:
                    actions.append(("REMOVE", path, None))
                if not self.op(","):
                    break
        if not actions:
            raise self.unexpected()
        self.expect_word("WHERE")
        where = self.condition()
        returning = None
        if self.word("RETURNING"):
            which = "ALL" if self.word("ALL") else "MODIFIED" if self.word("MODIFIED") else None
            when = "OLD" if self.word("OLD") else "NEW" if self.word("NEW") else None
            if which is None or when is None:
                raise self.unexpected()
            self.expect_op("*")
            returning = _RETURNING[(which, when)]
        return Update(table, tuple(actions), where, returning)

    # names and paths
    def name(self) -> str:
        t = self.tok
        if t.kind == "qid":
            self.i += 1
            name = t.text[1:-1].replace('""', '"')
            if not name:
                raise _malformed("Empty quoted identifier")
            return name
        if t.kind == "ident" and t.text.upper() not in _KEYWORDS:
            self.i += 1
            return t.text
        raise self.unexpected()

    def path(self) -> E.Path:
        elements: list[PathElement] = [self.name()]
        while True:
            if self.op("."):
                elements.append(self.name())
            elif self.op("["):
                t = self.tok
                if t.kind == "num" and t.text.isdigit():
                    elements.append(int(t.text))
                elif t.kind == "str":
                    elements.append(_string(t.text))
                else:
                    raise self.unexpected()
                self.i += 1
                self.expect_op("]")
            else:
                return E.Path(tuple(elements))

    # values
    def param(self) -> Param:
        self.expect_op("?")
        self.params += 1
        return Param(self.params - 1)

    def value(self) -> Any:
        t = self.tok
        self.nest()
        try:
            if t.kind == "str":
                self.i += 1
                return Lit("S", _string(t.text))
            if t.kind == "num":
                self.i += 1
                return Lit("N", t.text)
            if t.kind == "op" and t.text == "-" and self.toks[self.i + 1].kind == "num":
                self.i += 2
                return Lit("N", "-" + self.toks[self.i - 1].text)
            if t.kind == "op" and t.text == "?":
                return self.param()
            if self.word("TRUE"):
                return Lit("BOOL", True)
            if self.word("FALSE"):
                return Lit("BOOL", False)
            if self.word("NULL"):
                return Lit("NULL", True)
            if self.op("["):
                return ListOf(self.values("]"))
            if self.op("<<"):
                return SetOf(self.values(">>"))
            if t.kind == "op" and t.text == "{":
                return self.map_value()
            raise self.unexpected()
        finally:
            self.depth -= 1

    def values(self, close: str) -> tuple[Any, ...]:
        out: list[Any] = []
        if self.op(close):
            return ()
        while True:
            out.append(self.value())
            if self.op(close):
                return tuple(out)
            self.expect_op(",")

    def map_value(self) -> MapOf:
        self.expect_op("{")
        entries: list[tuple[str, Any]] = []
        if self.op("}"):
            return MapOf(())
        while True:
            if self.tok.kind != "str":
                raise self.unexpected()
            key = _string(self.tok.text)
            self.i += 1
            self.expect_op(":")
            entries.append((key, self.value()))
            if self.op("}"):
                return MapOf(tuple(entries))
            self.expect_op(",")

    # conditions
    def condition(self) -> Any:
        self.nest()
        parts = [self.conjunction()]
        while self.word("OR"):
            parts.append(self.conjunction())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else E.Logic("OR", tuple(parts))

    def conjunction(self) -> Any:
        parts = [self.negation()]
        while self.word("AND"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else E.Logic("AND", tuple(parts))

    def negation(self) -> Any:
        if self.word("NOT"):
            self.nest()
            inner = self.negation()
            self.depth -= 1
            return E.Logic("NOT", (inner,))
        return self.predicate()

    def function(self) -> str | None:
        t = self.tok
        if t.kind == "ident" and self.toks[self.i + 1].text == "(" and self.toks[self.i + 1].kind == "op":
            return t.text.lower()
        return None

    def predicate(self) -> Any:
        if self.op("("):
            inner = self.condition()
            self.expect_op(")")
            return inner
        fn = self.function()
        if fn in _CONDITIONS:
            self.i += 2
            args = [self.operand()]
            while self.op(","):
                args.append(self.operand())
            self.expect_op(")")
            if len(args) != _CONDITIONS[fn]:
                raise ValidationException(f"Incorrect number of arguments for function: {fn}")
            return E.Call(fn, tuple(args))
        left = self.operand()
        t = self.tok
        if t.kind == "op" and t.text in _COMPARE:
            self.i += 1
            return E.Compare(t.text, left, self.operand())
        if self.word("BETWEEN"):
            low = self.operand()
            self.expect_word("AND")
            return E.Between(left, low, self.operand())
        if self.word("IN"):
            close = "]" if self.op("[") else ")" if self.op("(") else None
            if close is None:
                raise self.unexpected()
            options = self.values(close)
            if not options:
                raise self.unexpected()
            return E.In(left, options)
        if self.word("IS"):
            negated = self.word("NOT")
            what = "MISSING" if self.word("MISSING") else "NULL" if self.word("NULL") else None
            if what is None or not isinstance(left, E.Path):
                raise self.unexpected()
            return Is(left, what, negated)
        raise self.unexpected()

    def operand(self) -> Any:
        fn = self.function()
        if fn == "size":
            self.i += 2
            arg = self.path()
            self.expect_op(")")
            return E.Call("size", (arg,))
        if fn is not None:
            raise ValidationException(f"Unsupported function: {self.tok.text}")
        if self.tok.kind in ("ident", "qid") and not (self.tok.kind == "ident" and self.tok.text.upper() in
                                                      ("TRUE", "FALSE", "NULL")):
            return self.path()
        return self.value()

    def expr(self) -> Any:
        left = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-" and self.tok.text:
            op = self.tok.text
            self.i += 1
            left = E.Arith(op, left, self.term())
        return left

    def term(self) -> Any:
        fn = self.function()
        if fn in _UPDATES:
            self.i += 2
            self.nest()
            first = self.expr()
            self.expect_op(",")
            second = self.expr()
            self.expect_op(")")
            self.depth -= 1
            return E.Call(fn, (first, second))
        return self.operand()


def _string(quoted: str) -> str:
    return quoted[1:-1].replace("''", "'")


_PARSED: dict[str, Statement] = {}


def parse(text: Any) -> Statement:
    """A statement's tree (remembered by its text: the same statement is run again and again)."""
    if isinstance(text, str):
        hit = _PARSED.get(text)
        if hit is not None:
            return hit
    try:
        st = _Parser(text).statement()
    except RecursionError:
        raise _malformed("Statement nesting is too deep") from None
    if len(_PARSED) >= 2048:
        _PARSED.clear()
    _PARSED[text] = st
    return st


# -- printing ------------------------------------------------------------------------------------------
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _path(ref: E.Path) -> str:
    out = _q(str(ref.elements[0]))
    for e in ref.elements[1:]:
        out += f"[{e}]" if isinstance(e, int) else "." + _q(e)
    return out


def _show(node: Any) -> str:
    if isinstance(node, E.Path):
        return _path(node)
    if isinstance(node, Lit):
        if node.kind == "S":
            return _s(node.text)
        if node.kind == "N":
            return str(node.text)
        if node.kind == "BOOL":
            return "TRUE" if node.text else "FALSE"
        return "NULL"
    if isinstance(node, Param):
        return "?"
    if isinstance(node, ListOf):
        return "[" + ", ".join(_show(v) for v in node.items) + "]"
    if isinstance(node, SetOf):
        return "<< " + ", ".join(_show(v) for v in node.items) + " >>"
    if isinstance(node, MapOf):
        return "{" + ", ".join(f"{_s(k)}: {_show(v)}" for k, v in node.entries) + "}"
    if isinstance(node, E.Arith):
        return f"{_show(node.left)} {node.op} {_show(node.right)}"
    if isinstance(node, E.Call):
        return f"{node.name}(" + ", ".join(_show(a) for a in node.args) + ")"
    if isinstance(node, E.Compare):
        return f"{_show(node.left)} {node.op} {_show(node.right)}"
    if isinstance(node, E.Between):
        return f"{_show(node.subject)} BETWEEN {_show(node.low)} AND {_show(node.high)}"
    if isinstance(node, E.In):
        return f"{_show(node.subject)} IN [" + ", ".join(_show(o) for o in node.options) + "]"
    if isinstance(node, Is):
        return f"{_show(node.subject)} IS {'NOT ' if node.negated else ''}{node.what}"
    if isinstance(node, E.Logic):
        if node.op == "NOT":
            return f"NOT ({_show(node.parts[0])})"
        return f" {node.op} ".join(f"({_show(p)})" for p in node.parts)
    raise TypeError(node)


def _select_text(st: Select) -> str:
    cols = "*" if st.columns is None else ", ".join(_path(c) for c in st.columns)
    out = f"SELECT {cols} FROM {_q(st.table)}" + (f".{_q(st.index)}" if st.index is not None else "")
    if st.where is not None:
        out += f" WHERE {_show(st.where)}"
    if st.order:
        out += " ORDER BY " + ", ".join(_path(k) + (" DESC" if desc else " ASC") for k, desc in st.order)
    return out


def format(st: Statement) -> str:   # noqa: A001 (the module's printer, as json.dumps is json's)
    """A statement's text, which ``parse`` reads back into the same tree."""
    if isinstance(st, Select):
        return _select_text(st)
    if isinstance(st, Exists):
        return f"EXISTS ({_select_text(st.select)})"
    if isinstance(st, Insert):
        return f"INSERT INTO {_q(st.table)} VALUE {_show(st.item)}"
    if isinstance(st, Update):
        actions = " ".join(f"SET {_path(p)} = {_show(v)}" if kind == "SET" else f"REMOVE {_path(p)}"
                           for kind, p, v in st.actions)
        back = {v: k for k, v in _RETURNING.items()}
        tail = f" RETURNING {' '.join(back[st.returning])} *" if st.returning else ""
        return f"UPDATE {_q(st.table)} {actions} WHERE {_show(st.where)}{tail}"
    tail = " RETURNING ALL OLD *" if st.returning else ""
    return f"DELETE FROM {_q(st.table)} WHERE {_show(st.where)}{tail}"


# -- onto the expression engine ------------------------------------------------------------------------
def value_of(node: Any, params: list[dict[str, Any]]) -> dict[str, Any]:
    """A value node as a checked attribute value (numbers normalized as DynamoDB keeps them)."""
    if isinstance(node, Param):
        return params[node.index]
    if isinstance(node, Lit):
        if node.kind == "N":
            return {"N": V.normalize_number(node.text)}
        return V.validate_value({node.kind: node.text})
    if isinstance(node, ListOf):
        return {"L": [value_of(v, params) for v in node.items]}
    if isinstance(node, MapOf):
        return {"M": {k: value_of(v, params) for k, v in node.entries}}
    if isinstance(node, SetOf):
        members = [value_of(v, params) for v in node.items]
        kinds = {V.type_of(m) for m in members}
        if len(kinds) != 1 or next(iter(kinds)) not in V.SET_TYPES.values():
            raise ValidationException("Unsupported set: the elements of a set must all be strings, all numbers or "
                                      "all binary, and a set must not be empty")
        kind = next(iter(kinds))
        return V.validate_value({kind + "S": [m[kind] for m in members]})
    raise _malformed("Unexpected token")


class _Compiler:
    """PartiQL nodes as the expression engine's, their values registered in one ``Names``."""

    def __init__(self, params: list[dict[str, Any]], names: E.Names) -> None:
        self.params, self.names = params, names

    def value(self, av: dict[str, Any]) -> E.Value:
        key = f":p{len(self.names.values)}"
        self.names.values[key] = av
        return E.Value(key)

    def operand(self, node: Any) -> Any:
        if isinstance(node, E.Path) or (isinstance(node, E.Call) and node.name == "size"):
            return node                     # the expression engine's own
        return self.value(value_of(node, self.params))

    def condition(self, node: Any) -> Any:
        if isinstance(node, E.Logic):
            return E.Logic(node.op, tuple(self.condition(p) for p in node.parts))
        if isinstance(node, E.Compare):
            return E.Compare("<>" if node.op == "!=" else node.op, self.operand(node.left), self.operand(node.right))
        if isinstance(node, E.Between):
            return E.Between(self.operand(node.subject), self.operand(node.low), self.operand(node.high))
        if isinstance(node, E.In):
            return E.In(self.operand(node.subject), tuple(self.operand(o) for o in node.options))
        if isinstance(node, Is):
            path = node.subject
            if node.what == "MISSING":
                return E.Call("attribute_exists" if node.negated else "attribute_not_exists", (path,))
            is_null = E.Call("attribute_type", (path, self.value({"S": "NULL"})))
            return E.Logic("NOT", (is_null,)) if node.negated else is_null
        if isinstance(node, E.Call):
            if node.name in ("begins_with", "contains", "attribute_type") and not isinstance(node.args[0], E.Path):
                raise ValidationException(f"Incorrect operand type for operator or function; operator or function: "
                                          f"{node.name}")
            if node.name == "attribute_type":
                kind = value_of(node.args[1], self.params)
                if V.type_of(kind) != "S" or kind["S"] not in V.ALL_TYPES:
                    raise ValidationException(f"Invalid attribute type name found; type: {kind}, valid types: "
                                              f"{{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}")
            return E.Call(node.name, tuple(self.operand(a) for a in node.args))
        raise _malformed("Unexpected token")

    def expr(self, node: Any) -> Any:
        if isinstance(node, E.Arith):
            return E.Arith(node.op, self.expr(node.left), self.expr(node.right))
        if isinstance(node, E.Call) and node.name == "list_append":
            return E.Call("list_append", (self.expr(node.args[0]), self.expr(node.args[1])))
        if isinstance(node, E.Call) and node.name in ("set_add", "set_delete"):
            raise ValidationException(f"{node.name.upper()} can only be the whole value of a SET action on the same "
                                      f"path: SET path = {node.name.upper()}(path, <<…>>)")
        if isinstance(node, E.Call):
            raise ValidationException(f"Unsupported function in an update: {node.name}")
        return self.operand(node)


def condition(where: Any, params: list[dict[str, Any]], names: E.Names) -> Any:
    """A WHERE clause as a condition tree of the expression engine, its values added to ``names``."""
    return _Compiler(params, names).condition(where)


def update_of(st: Update, params: list[dict[str, Any]], names: E.Names) -> E.Update:
    """An UPDATE's SET and REMOVE as the expression engine's update (SET_ADD and SET_DELETE are its ADD and
    DELETE on sets)."""
    c = _Compiler(params, names)
    out = E.Update()
    for kind, ref, node in st.actions:
        path = ref
        if kind == "REMOVE":
            out.remove.append(path)
        elif isinstance(node, E.Call) and node.name in ("set_add", "set_delete") and node.args[0] == ref:
            value = value_of(node.args[1], params) if not isinstance(node.args[1], E.Path) else None
            if value is None or V.type_of(value) not in V.SET_TYPES:
                raise ValidationException(f"Incorrect operand type for operator or function; operator or function: "
                                          f"{node.name.upper()}, the second operand must be a set")
            (out.add if node.name == "set_add" else out.delete).append((path, c.value(value)))
        else:
            out.set.append((path, c.expr(node)))
    clash = E.overlap(out.paths())
    if clash is not None:
        raise ValidationException(f"Two document paths overlap with each other; must remove or rewrite one of these "
                                  f"paths; path one: {clash[0]}, path two: {clash[1]}")
    return out


def conjuncts(where: Any) -> list[Any]:
    """The parts every result must meet: a top-level AND's parts, or the condition itself."""
    if where is None:
        return []
    if isinstance(where, E.Logic) and where.op == "AND":
        out: list[Any] = []
        for p in where.parts:
            out.extend(conjuncts(p))
        return out
    return [where]


def equality(node: Any, name: str) -> Any:
    """The value node a predicate sets attribute ``name`` equal to (``name = v`` or ``v = name``), or None."""
    if isinstance(node, E.Compare) and node.op == "=":
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if isinstance(a, E.Path) and a.elements == (name,) and isinstance(b, (Lit, Param, ListOf, MapOf, SetOf)):
                return b
    return None
