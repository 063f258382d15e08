"""Route keys and route selection for HTTP APIs, as AWS documents them.

A route key is ``METHOD /path`` or ``$default``. Paths are literal segments,
``{name}`` (exactly one non-empty segment) and, as the last segment only,
``{name+}`` (one or more segments: the greedy variable). AWS picks the most
specific route ("Working with routes for HTTP APIs", *Routing API requests*):

1. a full match — a route without a greedy variable whose segments all match;
2. a route ending in a greedy variable;
3. the ``$default`` route.

Within a tier, segments are compared left to right: a literal beats ``{var}``,
which beats ``{var+}`` — so the route with the longer literal prefix wins
(``/pets/dog/{id}`` over ``/pets/{kind}/{id}``, ``/pets/{proxy+}`` over
``/{proxy+}``). For the same path, a route with the request's method beats
``ANY`` ("ANY matches all methods that you haven't defined for a resource").

Rules we chose where AWS is silent, each for a reason:

* ``match`` receives the raw, still percent-encoded path, splits it on ``/``
  and decodes each segment, so ``%2F`` inside a segment stays inside the
  parameter value. Path parameters come out decoded (AWS: "API Gateway decodes
  URL-encoded request parameters"); a malformed escape or non-UTF-8 bytes is a
  400 ``BadRequest``, because no decoded value could be delivered.
* One trailing slash is ignored when matching: ``/items/`` selects
  ``GET /items`` and a greedy value never ends in ``/``: what a user's tests
  against AWS report for HTTP APIs (Powertools issue #1552) and LocalStack's
  AWS recordings show for REST APIs. Route keys themselves may not end in
  ``/`` (except ``/``), which AWS refuses too. The event's ``rawPath`` keeps the slash — that is the payload
  builders' business, not ours.
* Two routes with the same method and the same shape but different variable
  names (``GET /a/{x}`` and ``GET /a/{y}``) are refused: they would match the
  same requests and nothing in AWS's rules orders them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from cumulo.errors import CumuloError

__all__ = [
    "RouteMatch", "RouteTable", "parse_route_key", "InvalidRouteKey", "BadRequest",
    "METHODS", "DEFAULT_ROUTE", "decode_segment",
]

DEFAULT_ROUTE = "$default"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})

# A literal segment: RFC 3986 pchar minus '%' (route keys are written decoded) and braces.
_LITERAL_RE = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@-]+$")
_VARIABLE_RE = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_ESCAPE_RE = re.compile(rb"%([0-9A-Fa-f]{2})")

# Segment kinds, in the order AWS prefers them.
_LITERAL, _VARIABLE, _GREEDY = 0, 1, 2


class InvalidRouteKey(CumuloError):
    """A route key AWS would refuse; apigatewayv2 answers ``BadRequestException``."""

    status = 400

    @property
    def type(self) -> str:
        return "BadRequestException"


class BadRequest(CumuloError):
    """A request the gateway cannot route (malformed percent-encoding); AWS answers 400."""

    status = 400

    def __init__(self, message: str = "Bad Request") -> None:
        super().__init__(message)

    @property
    def type(self) -> str:
        return "BadRequestException"


@dataclass(frozen=True)
class RouteMatch:
    route_key: str                 # "GET /items/{id}", "ANY /{proxy+}", or "$default"
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Segment:
    kind: int
    text: str                      # the literal, or the variable's name


@dataclass(frozen=True)
class _Route:
    route_key: str
    method: str
    segments: tuple[_Segment, ...]

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].kind == _GREEDY

    @property
    def shape(self) -> tuple[str, tuple[tuple[int, str], ...]]:
        """What the route matches, ignoring variable names: routes sharing one are ambiguous."""
        return self.method, tuple((s.kind, s.text if s.kind == _LITERAL else "") for s in self.segments)

    @property
    def priority(self) -> tuple[int, tuple[int, ...], int]:
        """Sort key: lower wins. Tier (full match before greedy), segment kinds, then exact method before ANY."""
        return (int(self.greedy), tuple(s.kind for s in self.segments), int(self.method == "ANY"))


def parse_route_key(route_key: str) -> tuple[str, str]:
    """``("GET", "/items/{id}")`` for a valid route key; ``("ANY", "$default")`` for ``$default``."""
    route = _compile(route_key)
    if route.route_key == DEFAULT_ROUTE:
        return "ANY", DEFAULT_ROUTE
    return route.method, route_key.split(" ", 1)[1]


def _compile(route_key: str) -> _Route:
    if not route_key:
        raise InvalidRouteKey("Route key is required")
    if route_key == DEFAULT_ROUTE:
        return _Route(DEFAULT_ROUTE, "ANY", ())
    method, sep, path = route_key.partition(" ")
    if not sep or method not in METHODS:
        raise InvalidRouteKey(
            f"Invalid route key '{route_key}': expected '$default' or '<METHOD> /<path>' "
            f"with METHOD one of {', '.join(sorted(METHODS))}")
    if not path.startswith("/"):
        raise InvalidRouteKey(f"Invalid route key '{route_key}': the path must start with '/'")
    return _Route(route_key, method, _compile_path(route_key, path))


def _compile_path(route_key: str, path: str) -> tuple[_Segment, ...]:
    if path == "/":
        return ()
    segments: list[_Segment] = []
    names: set[str] = set()
    parts = path[1:].split("/")
    for index, part in enumerate(parts):
        variable = _VARIABLE_RE.match(part)
        if variable:
            name, plus = variable.groups()
            if plus and index != len(parts) - 1:
                raise InvalidRouteKey(
                    f"Invalid route key '{route_key}': a greedy path variable must be the last path part")
            if name in names:
                raise InvalidRouteKey(f"Invalid route key '{route_key}': path variable '{name}' appears twice")
            names.add(name)
            segments.append(_Segment(_GREEDY if plus else _VARIABLE, name))
        elif _LITERAL_RE.match(part):
            segments.append(_Segment(_LITERAL, part))
        else:
            raise InvalidRouteKey(f"Invalid route key '{route_key}': One or more path parts appear to be invalid")
    return tuple(segments)


def decode_segment(raw: str) -> str:
    """Percent-decode one path segment strictly: a stray ``%`` or non-UTF-8 bytes is a ``BadRequest``.

    ``+`` stays ``+``: form encoding applies to query strings, not paths.
    """
    if "%" not in raw:
        return raw
    data = raw.encode("utf-8", "surrogateescape")
    if data.count(b"%") != len(_ESCAPE_RE.findall(data)):
        raise BadRequest()
    try:
        return _ESCAPE_RE.sub(lambda m: bytes([int(m.group(1), 16)]), data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest() from exc


def _request_segments(raw_path: str) -> tuple[str, ...]:
    """Decoded segments of a raw path; one trailing slash is not a segment (see module docstring)."""
    path = raw_path if raw_path.startswith("/") else "/" + raw_path
    parts = path[1:].split("/")
    if parts and parts[-1] == "":
        parts.pop()
    return tuple(decode_segment(p) for p in parts)


class RouteTable:
    """An API's routes, compiled once; ``match`` picks the route AWS would."""

    def __init__(self, route_keys: Iterable[str]) -> None:
        routes: list[_Route] = []
        seen: set[str] = set()
        shapes: dict[tuple[str, tuple[tuple[int, str], ...]], str] = {}
        for key in route_keys:
            route = _compile(key)
            if key in seen:
                raise InvalidRouteKey(f"Route with key '{key}' already exists")
            seen.add(key)
            if key == DEFAULT_ROUTE:
                continue
            clash = shapes.setdefault(route.shape, key)
            if clash != key:
                raise InvalidRouteKey(f"Route key '{key}' matches the same requests as existing route '{clash}'")
            routes.append(route)
        self._default = DEFAULT_ROUTE in seen
        # Fully literal routes win whenever they match at all: find them with one lookup.
        self._literal: dict[tuple[str, tuple[str, ...]], str] = {
            (r.method, tuple(s.text for s in r.segments)): r.route_key
            for r in routes if all(s.kind == _LITERAL for s in r.segments)}
        ordered = sorted(routes, key=lambda r: r.priority)
        self._full: dict[int, list[_Route]] = {}
        for route in ordered:
            if not route.greedy:
                self._full.setdefault(len(route.segments), []).append(route)
        self._greedy = [r for r in ordered if r.greedy]

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The best route for ``method`` on the raw (percent-encoded) ``path``, or None (AWS's 404)."""
        segments = _request_segments(path)
        for wanted in (method, "ANY"):
            literal = self._literal.get((wanted, segments))
            if literal is not None:
                return RouteMatch(literal, {})
        for route in (*self._full.get(len(segments), ()), *self._greedy):
            if route.method not in (method, "ANY"):
                continue
            params = _bind(route.segments, segments)
            if params is not None:
                return RouteMatch(route.route_key, params)
        return RouteMatch(DEFAULT_ROUTE, {}) if self._default else None


def _bind(template: tuple[_Segment, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    """Path parameters if ``segments`` fit ``template``, else None."""
    params: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.kind == _GREEDY:
            rest = "/".join(segments[index:])
            if not rest:
                return None
            params[part.text] = rest
            return params
        if index >= len(segments):
            return None
        value = segments[index]
        if part.kind == _LITERAL:
            if value != part.text:
                return None
        elif not value:
            return None
        else:
            params[part.text] = value
    return params if len(template) == len(segments) else None
