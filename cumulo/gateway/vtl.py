"""The part of API Gateway's mapping templates (Velocity, VTL) that REST APIs' service integrations are
written with: references and method calls, ``#set``, ``#if``/``#elseif``/``#else``, ``#foreach``, comments. Pure.

Served: ``$input.body``, ``$input.json('<JSONPath>')`` (JSON text), ``$input.path('<JSONPath>')`` (the value),
``$input.params('<name>')`` (path, then query string, then header) and ``$input.params().header`` …,
``$util.escapeJavaScript()``, ``$util.urlEncode()``, ``$util.urlDecode()``, ``$util.base64Encode()``,
``$util.base64Decode()``, ``$util.parseJson()``, ``$context.<name>`` (``requestId``, ``identity.sourceIp`` …),
``$stageVariables.<name>``, ``${…}``/``$!…`` forms, string and number literals as arguments, Java's string
methods templates use (``replaceAll``, ``replace``, ``toLowerCase``, ``trim``, ``contains``, ``split`` …) and
maps' and lists' (``keySet``, ``get``, ``size``, ``isEmpty``), ``#set($x = …)`` and ``#set($map.key = …)``
(``$context.responseOverride.status`` and ``.header.<name>`` change the method's response; ``requestOverride``
is accepted and not applied), ``#if``/``#elseif``/``#else``/``#end`` with ``== != < > <= >= && || !`` (and their word
forms), ``#foreach($x in …)`` with ``$foreach.hasNext``/``index``/``count`` and ``$velocityCount``, ``##`` and
``#* … *#`` comments. Refused when a template is deployed (``check``): ``#macro``, ``#parse``, ``#include``,
``#define``, ``#evaluate``, ``#stop``, ``#break``, and unbalanced blocks. A reference that names nothing is
rendered as written, as Velocity does (``$!`` renders it empty); output is bounded (10 MB, 100,000 iterations).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Callable, Mapping
from urllib.parse import quote_plus, unquote_plus

__all__ = ["render", "render_overriding", "check", "VtlError", "Input"]

_DIRECTIVE = re.compile(r"#(?:\{)?(macro|parse|include|define|evaluate|stop|break)\b")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_$@-]+)|\[(\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\*\]")
MAX_OUTPUT = 10 * 1024 * 1024


class VtlError(ValueError):
    """A template this subset cannot render."""


def check(template: str) -> None:
    """Refuse (``VtlError``) a template using a directive this subset does not render."""
    found = _DIRECTIVE.search(_strip_comments(template))
    if found:
        raise VtlError(f"the mapping template directive #{found[1]} is not supported (references, method calls, "
                       "#set, #if/#elseif/#else and #foreach are)")
    _parse(template)


def _strip_comments(text: str) -> str:
    text = re.sub(r"#\*.*?\*#", "", text, flags=re.S)
    return re.sub(r"##[^\n]*", "", text)


def json_path(doc: Any, path: str) -> Any:
    """A JSONPath (``$``, ``$.a.b``, ``$['a']``, ``$.a[0]``) into ``doc``; None when absent."""
    path = path.strip()
    if not path.startswith("$"):
        return None
    position = 1
    while position < len(path):
        m = _PATH_STEP.match(path, position)
        if m is None:
            return None
        position = m.end()
        if m[0] == "[*]":
            continue
        if m[2] is not None:
            doc = doc[int(m[2])] if isinstance(doc, list) and int(m[2]) < len(doc) else None
        else:
            key = next(g for g in (m[1], m[3], m[4]) if g is not None)
            doc = doc.get(key) if isinstance(doc, dict) else None
        if doc is None:
            return None
    return doc


class Input:
    """``$input``: the body (request or integration response) and the request's parameters."""

    def __init__(self, body: bytes, path: Mapping[str, str], query: Mapping[str, str],
                 headers: Mapping[str, str]) -> None:
        self._body = body
        self._path, self._query = dict(path), dict(query)
        self._headers = {k.lower(): v for k, v in headers.items()}
        self._doc: Any = _UNSET

    def _parsed(self) -> Any:
        if self._doc is _UNSET:
            try:
                self._doc = json.loads(self._body) if self._body.strip() else {}
            except (ValueError, UnicodeDecodeError, RecursionError):
                self._doc = None
        return self._doc

    @property
    def body(self) -> str:
        return self._body.decode("utf-8", "replace")

    def json(self, path: str = "$") -> str:
        found = json_path(self._parsed(), str(path))
        return json.dumps(found, separators=(",", ":"), ensure_ascii=False) if found is not None else ""

    def path(self, path: str = "$") -> Any:
        return json_path(self._parsed(), str(path))

    def params(self, name: Any = None) -> Any:
        if name is None:
            return {"path": self._path, "querystring": self._query, "header": self._headers}
        name = str(name)
        for source in (self._path, self._query):
            if name in source:
                return source[name]
        return self._headers.get(name.lower(), "")


_UNSET = object()


def _escape_js(value: Any) -> str:
    text = "" if value is None else (value if isinstance(value, str) else json.dumps(value))
    return json.dumps(text, ensure_ascii=False)[1:-1].replace("'", "\\'")


_UTIL: dict[str, Callable[..., Any]] = {
    "escapeJavaScript": _escape_js,
    "urlEncode": lambda v: quote_plus("" if v is None else str(v), safe="*").replace("~", "%7E"),   # Java's URLEncoder
    "urlDecode": lambda v: unquote_plus("" if v is None else str(v)),
    "base64Encode": lambda v: base64.b64encode(str(v or "").encode()).decode(),
    "base64Decode": lambda v: base64.b64decode(str(v or "").encode() + b"==").decode("utf-8", "replace"),
    "parseJson": lambda v: json.loads(str(v)),
}


class _Parser:
    def __init__(self, text: str, scope: dict[str, Any]) -> None:
        self.text, self.scope, self.i = text, scope, 0

    # -- expressions: literals and references
    def _space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def expression(self) -> Any:
        self._space()
        c = self.text[self.i:self.i + 1]
        if c in ("'", '"'):
            end = self.text.find(c, self.i + 1)
            if end < 0:
                raise VtlError("unterminated string")
            value = self.text[self.i + 1:end]
            self.i = end + 1
            return self.interpolate(value) if c == '"' else value
        m = re.compile(r"-?\d+(?:\.\d+)?").match(self.text, self.i)
        if m:
            self.i = m.end()
            return float(m[0]) if "." in m[0] else int(m[0])
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.i):
                self.i += len(word)
                return literal
        if c == "$":
            found, _ = self.reference()
            return found
        raise VtlError(f"cannot read an expression at {self.text[self.i:self.i + 20]!r}")

    def interpolate(self, text: str) -> str:
        return render_text(text, self.scope)

    def reference(self) -> tuple[Any, bool]:
        """At a ``$``: the value of the reference (``_UNSET`` when it names nothing) and whether it was quiet."""
        self.i += 1
        quiet = self.text.startswith("!", self.i)
        if quiet:
            self.i += 1
        braced = self.text.startswith("{", self.i)
        if braced:
            self.i += 1
        m = _IDENT.match(self.text, self.i)
        if m is None:
            raise VtlError("not a reference")
        self.i = m.end()
        value: Any = self.scope.get(m[0], _UNSET)
        while self.i < len(self.text):
            if self.text[self.i] == "." and (m := _IDENT.match(self.text, self.i + 1)):
                name = m[0]
                self.i = m.end()
                if self.text.startswith("(", self.i):
                    args = self._arguments()
                    value = _call(value, name, args)
                else:
                    value = _member(value, name)
            elif self.text[self.i] == "[":
                self.i += 1
                key = self.expression()
                self._space()
                if not self.text.startswith("]", self.i):
                    raise VtlError("expected ]")
                self.i += 1
                value = _member(value, key)
            else:
                break
        if braced:
            if not self.text.startswith("}", self.i):
                raise VtlError("expected }")
            self.i += 1
        return value, quiet

    def _arguments(self) -> list[Any]:
        self.i += 1
        args: list[Any] = []
        self._space()
        if self.text.startswith(")", self.i):
            self.i += 1
            return args
        while True:
            args.append(self.expression())
            self._space()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            if self.text.startswith(")", self.i):
                self.i += 1
                return args
            raise VtlError("expected , or ) in a call")


def _member(value: Any, name: Any) -> Any:
    if value is _UNSET or value is None:
        return _UNSET
    if isinstance(value, Input):
        if name == "body":
            return value.body
        return _UNSET
    if isinstance(value, Mapping):
        return value.get(name, _UNSET) if not isinstance(name, int) else _UNSET
    if isinstance(value, list) and isinstance(name, int):
        return value[name] if -len(value) <= name < len(value) else _UNSET
    if name == "size" and isinstance(value, (list, str)):
        return len(value)
    return _UNSET


def _call(value: Any, name: str, args: list[Any]) -> Any:
    if value is _UNSET:
        return _UNSET
    if isinstance(value, Input) and name in ("json", "path", "params"):
        return getattr(value, name)(*args[:1])
    if value is _UTIL and name in _UTIL:
        try:
            return _UTIL[name](*(a if a is not _UNSET else None for a in args[:1]))
        except (ValueError, TypeError, UnicodeError) as exc:
            raise VtlError(f"$util.{name}: {exc}") from None
    if name in ("size", "length") and isinstance(value, (list, str, dict)):
        return len(value)
    if name == "toString":
        return _text(value)
    if isinstance(value, Mapping):
        if name == "keySet":
            return list(value)
        if name == "get" and args:
            return value.get(args[0], _UNSET)
        if name == "containsKey" and args:
            return args[0] in value
        if name == "isEmpty":
            return not value
        return _UNSET
    if isinstance(value, list):
        if name == "get" and args and isinstance(args[0], int):
            return _member(value, args[0])
        if name == "isEmpty":
            return not value
        if name == "contains" and args:
            return args[0] in value
        return _UNSET
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = _text(value)
    if not isinstance(value, str):
        return _UNSET
    text_args = [_text(a) if a is not _UNSET else "" for a in args]
    try:
        if name == "replaceAll" and len(args) == 2:
            return re.sub(text_args[0], re.sub(r"\$(\d)", r"\\\1", text_args[1]), value)
        if name == "replaceFirst" and len(args) == 2:
            return re.sub(text_args[0], re.sub(r"\$(\d)", r"\\\1", text_args[1]), value, count=1)
        if name == "matches" and args:
            return re.fullmatch(text_args[0], value) is not None
        if name == "split" and args:
            return re.split(text_args[0], value)
    except re.error as exc:
        raise VtlError(f".{name}(): {exc}") from None
    simple: dict[str, Callable[[], Any]] = {
        "replace": lambda: value.replace(text_args[0], text_args[1]) if len(args) == 2 else _UNSET,
        "toLowerCase": value.lower, "toUpperCase": value.upper, "trim": value.strip,
        "isEmpty": lambda: not value,
        "contains": lambda: bool(args) and text_args[0] in value,
        "startsWith": lambda: bool(args) and value.startswith(text_args[0]),
        "endsWith": lambda: bool(args) and value.endswith(text_args[0]),
        "equals": lambda: bool(args) and value == text_args[0],
        "indexOf": lambda: value.find(text_args[0]) if args else _UNSET,
        "substring": lambda: value[args[0]:args[1] if len(args) > 1 else None]
        if args and all(isinstance(a, int) for a in args) else _UNSET,
    }
    return simple[name]() if name in simple else _UNSET


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Input):
        return value.body
    # Velocity renders maps and lists in Java's form ({a=1}); JSON is what templates that do this want.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_DIRECTIVE_AT = re.compile(r"#(?:\{(set|if|elseif|else|end|foreach)\}|(set|if|elseif|else|end|foreach)(?![A-Za-z0-9_]))")
_FOREACH = re.compile(r"\s*\$!?\{?([A-Za-z_][A-Za-z0-9_]*)\}?\s+in\s+", re.S)
_SET_TARGET = re.compile(r"\s*\$!?\{?([A-Za-z_][A-Za-z0-9_.-]*)\}?\s*=\s*", re.S)
MAX_ITERATIONS = 100_000


def _parenthesised(text: str, i: int) -> tuple[str, int]:
    """At ``(`` (after spaces): its contents, quotes respected, and the index after ``)``."""
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text) or text[i] != "(":
        raise VtlError("a directive needs (...)")
    depth, j, quote = 0, i, ""
    while j < len(text):
        c = text[j]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    raise VtlError("unbalanced parentheses in a directive")


def _parse(text: str) -> list[Any]:
    """The template as nodes: text, ``("set", src)``, ``("if", [(cond, nodes)…], else nodes)``,
    ``("foreach", var, src, nodes)``."""
    stack: list[tuple[Any, list[Any]]] = [(None, [])]
    i, start = 0, 0

    def flush(end: int) -> None:
        if end > start:
            stack[-1][1].append(text[start:end])

    while i < len(text):
        j = text.find("#", i)
        if j < 0:
            break
        if text.startswith("##", j):
            flush(j)
            end = text.find("\n", j)
            i = start = len(text) if end < 0 else end + 1
            continue
        if text.startswith("#*", j):
            flush(j)
            end = text.find("*#", j + 2)
            i = start = len(text) if end < 0 else end + 2
            continue
        m = _DIRECTIVE_AT.match(text, j)
        if m is None:
            i = j + 1
            continue
        flush(j)
        name, i = m[1] or m[2], m.end()
        if name in ("set", "if", "elseif", "foreach"):
            inner, i = _parenthesised(text, i)
        if name == "set":
            stack[-1][1].append(("set", inner))
        elif name == "if":
            node: list[Any] = ["if", [(inner, [])], None]
            stack[-1][1].append(node)
            stack.append((node, node[1][0][1]))
        elif name == "foreach":
            fm = _FOREACH.match(inner)
            if fm is None:
                raise VtlError("#foreach needs ($item in <expression>)")
            node = ["foreach", fm[1], inner[fm.end():], []]
            stack[-1][1].append(node)
            stack.append((node, node[3]))
        elif name in ("elseif", "else"):
            owner = stack[-1][0]
            if not isinstance(owner, list) or owner[0] != "if" or owner[2] is not None:
                raise VtlError(f"#{name} without #if")
            stack.pop()
            if name == "elseif":
                owner[1].append((inner, []))
                stack.append((owner, owner[1][-1][1]))
            else:
                otherwise: list[Any] = []
                owner[2] = otherwise
                stack.append((owner, otherwise))
        else:            # end
            if len(stack) == 1:
                raise VtlError("#end without #if or #foreach")
            stack.pop()
        if name != "if" and name != "foreach" and text.startswith("\n", i):
            i += 1               # a directive's line ends with it
        elif name in ("if", "foreach", "else", "elseif") and text.startswith("\n", i):
            i += 1
        start = i
    flush(len(text))
    if len(stack) != 1:
        raise VtlError("#if or #foreach without #end")
    return stack[0][1]


def _truthy(value: Any) -> bool:
    return not (value is _UNSET or value is None or value is False)


class _Condition(_Parser):
    """``#if`` conditions: operands, ``== != < > <= >=``, ``! && ||`` (and ``not and or``), parentheses."""

    def condition(self) -> Any:
        value = self._and()
        while True:
            self._space()
            if self.text.startswith("||", self.i) or re.match(r"or\b", self.text[self.i:]):
                self.i += 2
                right = self._and()
                value = _truthy(value) or _truthy(right)
            else:
                return value

    def _and(self) -> Any:
        value = self._not()
        while True:
            self._space()
            if self.text.startswith("&&", self.i) or re.match(r"and\b", self.text[self.i:]):
                self.i += 2 if self.text.startswith("&&", self.i) else 3
                right = self._not()
                value = _truthy(value) and _truthy(right)
            else:
                return value

    def _not(self) -> Any:
        self._space()
        if self.text.startswith("!", self.i) and not self.text.startswith("!=", self.i):
            self.i += 1
            return not _truthy(self._not())
        if re.match(r"not\b", self.text[self.i:]):
            self.i += 3
            return not _truthy(self._not())
        return self._comparison()

    def _comparison(self) -> Any:
        left = self._operand()
        self._space()
        m = re.compile(r"==|!=|<=|>=|<|>|eq\b|ne\b|lt\b|gt\b|le\b|ge\b").match(self.text, self.i)
        if m is None:
            return left
        self.i = m.end()
        right = self._operand()
        op = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}.get(m[0], m[0])
        left, right = (None if left is _UNSET else left), (None if right is _UNSET else right)
        if op in ("==", "!="):
            same = left == right if type(left) is type(right) or None in (left, right) else str(left) == str(right)
            return same if op == "==" else not same
        try:
            return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]  # type: ignore[operator]
        except TypeError:
            return False

    def _operand(self) -> Any:
        self._space()
        if self.text.startswith("(", self.i):
            self.i += 1
            value = self.condition()
            self._space()
            if not self.text.startswith(")", self.i):
                raise VtlError("expected ) in a condition")
            self.i += 1
            return value
        return self.expression()


def _evaluate(src: str, scope: dict[str, Any], condition: bool = False) -> Any:
    p = _Condition(src, scope)
    value = p.condition() if condition else p.expression()
    p._space()
    if p.i != len(src):
        raise VtlError(f"cannot read {src[p.i:p.i + 20]!r}")
    return value


class _Budget:
    def __init__(self) -> None:
        self.size = 0
        self.iterations = 0


def _run(nodes: list[Any], scope: dict[str, Any], out: list[str], budget: _Budget) -> None:
    for node in nodes:
        if isinstance(node, str):
            piece = _references(node, scope)
            budget.size += len(piece)
            if budget.size > MAX_OUTPUT:
                raise VtlError("the mapping template's output is over 10 MB")
            out.append(piece)
        elif node[0] == "set":
            m = _SET_TARGET.match(node[1])
            if m is None:
                raise VtlError("#set needs ($name = <expression>)")
            value = _evaluate(node[1][m.end():], scope)
            root, *steps = m[1].split(".")
            if not steps:
                scope[root] = value
            else:                                 # $map.key = …, $context.responseOverride.status = …
                owner = scope.get(root)
                for step in steps[:-1]:
                    owner = owner.get(step) if isinstance(owner, dict) else None
                if isinstance(owner, dict):
                    owner[steps[-1]] = None if value is _UNSET else value
        elif node[0] == "if":
            for cond, body in node[1]:
                if _truthy(_evaluate(cond, scope, condition=True)):
                    _run(body, scope, out, budget)
                    break
            else:
                if node[2] is not None:
                    _run(node[2], scope, out, budget)
        else:                                     # foreach
            items = _evaluate(node[2], scope)
            if isinstance(items, Mapping):
                items = list(items.values())
            elif not isinstance(items, list):
                items = []
            saved = scope.get(node[1], _UNSET), scope.get("foreach", _UNSET), scope.get("velocityCount", _UNSET)
            for index, item in enumerate(items):
                budget.iterations += 1
                if budget.iterations > MAX_ITERATIONS:
                    raise VtlError("the mapping template loops too long")
                scope[node[1]] = item
                scope["foreach"] = {"index": index, "count": index + 1, "hasNext": index + 1 < len(items),
                                    "first": index == 0, "last": index + 1 == len(items)}
                scope["velocityCount"] = index + 1
                _run(node[3], scope, out, budget)
            for key, value in zip((node[1], "foreach", "velocityCount"), saved):
                if value is _UNSET:
                    scope.pop(key, None)
                else:
                    scope[key] = value


def _references(text: str, scope: dict[str, Any]) -> str:
    """Text with its references replaced (no directives left in it)."""
    out: list[str] = []
    p = _Parser(text, scope)
    while p.i < len(text):
        if text[p.i] == "$" and re.match(r"\$!?\{?[A-Za-z_]", text[p.i:p.i + 4]):
            start = p.i
            try:
                value, quiet = p.reference()
            except VtlError:
                p.i = start + 1
                out.append("$")
                continue
            out.append(("" if quiet else text[start:p.i]) if value is _UNSET else _text(value))
        else:
            end = text.find("$", p.i + 1)
            end = len(text) if end < 0 else end
            out.append(text[p.i:end])
            p.i = end
    return "".join(out)


def render_text(text: str, scope: dict[str, Any]) -> str:
    out: list[str] = []
    _run(_parse(text), scope, out, _Budget())
    return "".join(out)


def render(template: str, body: bytes, *, path: Mapping[str, str] | None = None,
           query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
           context: Mapping[str, Any] | None = None, stage_variables: Mapping[str, str] | None = None) -> str:
    """One mapping template rendered for one request (or integration response)."""
    return render_overriding(template, body, path=path, query=query, headers=headers, context=context,
                             stage_variables=stage_variables)[0]


def render_overriding(template: str, body: bytes, *, path: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                      context: Mapping[str, Any] | None = None,
                      stage_variables: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """The rendered text and what it set in ``$context.responseOverride`` (``status``, ``header``)."""
    override: dict[str, Any] = {"header": {}}
    ctx = {**dict(context or {}), "responseOverride": override, "requestOverride": {"header": {}, "querystring": {},
                                                                                     "path": {}}}
    scope: dict[str, Any] = {"input": Input(body, path or {}, query or {}, headers or {}), "util": _UTIL,
                             "context": ctx, "stageVariables": dict(stage_variables or {})}
    return render_text(template, scope), override
