"""The part of API Gateway's mapping templates (Velocity, VTL) that REST APIs' service integrations are
written with: references and method calls, ``#set``, comments. Pure.

Served: ``$input.body``, ``$input.json('<JSONPath>')`` (JSON text), ``$input.path('<JSONPath>')`` (the value),
``$input.params('<name>')`` (path, then query string, then header) and ``$input.params().header`` …,
``$util.escapeJavaScript()``, ``$util.urlEncode()``, ``$util.urlDecode()``, ``$util.base64Encode()``,
``$util.base64Decode()``, ``$util.parseJson()``, ``$context.<name>`` (``requestId``, ``identity.sourceIp`` …),
``$stageVariables.<name>``, ``${…}``/``$!…`` forms, string and number literals as arguments, ``#set($x = …)``
(``$context.requestOverride.*`` is accepted and not applied), ``##`` and ``#* … *#`` comments. Not served, and
refused when a template is deployed (``check``): ``#if``, ``#foreach`` and the other directives. A reference
that names nothing is rendered as written, as Velocity does (``$!`` renders it empty).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Callable, Mapping
from urllib.parse import quote_plus, unquote_plus

__all__ = ["render", "check", "VtlError", "Input"]

_DIRECTIVE = re.compile(r"#(?:\{)?(if|elseif|else|end|foreach|macro|parse|include|define|evaluate|stop|break)\b")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_$@-]+)|\[(\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\*\]")
MAX_OUTPUT = 10 * 1024 * 1024


class VtlError(ValueError):
    """A template this subset cannot render."""


def check(template: str) -> None:
    """Refuse (``VtlError``) a template using a directive this subset does not render."""
    found = _DIRECTIVE.search(_strip_comments(template))
    if found:
        raise VtlError(f"the mapping template directive #{found[1]} is not supported (references, method calls and "
                       "#set are)")


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
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.i):
                self.i += len(word)
                return value
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
    return _UNSET


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


_SET = re.compile(r"#\{?set\}?\s*\(\s*\$!?\{?([A-Za-z_][A-Za-z0-9_.-]*)\}?\s*=\s*")


def render_text(text: str, scope: dict[str, Any]) -> str:
    out: list[str] = []
    p = _Parser(text, scope)
    size = 0
    while p.i < len(text):
        if text.startswith("##", p.i):
            end = text.find("\n", p.i)
            p.i = len(text) if end < 0 else end + 1
            continue
        if text.startswith("#*", p.i):
            end = text.find("*#", p.i + 2)
            p.i = len(text) if end < 0 else end + 2
            continue
        m = _SET.match(text, p.i)
        if m:
            p.i = m.end()
            value = p.expression()
            p._space()
            if not text.startswith(")", p.i):
                raise VtlError("expected ) after #set")
            p.i += 1
            if "." not in m[1]:                       # $context.requestOverride.* and the like are not applied
                scope[m[1]] = value
            if text.startswith("\n", p.i):         # a directive's line ends with it
                p.i += 1
            continue
        if text[p.i] == "$" and re.match(r"\$!?\{?[A-Za-z_]", text[p.i:p.i + 4]):
            start = p.i
            value, quiet = p.reference()
            piece = ("" if quiet else text[start:p.i]) if value is _UNSET else _text(value)
        else:
            nxt = [i for i in (text.find("$", p.i + 1), text.find("#", p.i + 1)) if i >= 0]
            end = min(nxt) if nxt else len(text)
            piece = text[p.i:end]
            p.i = end
        out.append(piece)
        size += len(piece)
        if size > MAX_OUTPUT:
            raise VtlError("the mapping template's output is over 10 MB")
    return "".join(out)


def render(template: str, body: bytes, *, path: Mapping[str, str] | None = None,
           query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
           context: Mapping[str, Any] | None = None, stage_variables: Mapping[str, str] | None = None) -> str:
    """One mapping template rendered for one request (or integration response)."""
    scope: dict[str, Any] = {"input": Input(body, path or {}, query or {}, headers or {}), "util": _UTIL,
                             "context": dict(context or {}), "stageVariables": dict(stage_variables or {})}
    return render_text(template, scope)
