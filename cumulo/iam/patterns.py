"""Wildcards and policy variables, compiled once when a policy is parsed.

IAM's two wildcards are ``*`` (any run of characters) and ``?`` (any one character); nothing else
is special (no ``[...]`` classes, unlike ``fnmatch``). Three matchers use them:

* action names: case-insensitive, one wildcard space (``s3:Get*``);
* ARNs (``Resource``/``NotResource`` and the ``Arn*`` condition operators): case-sensitive, and
  "each of the six colon-delimited components of the ARN is checked separately" — a wildcard in
  the partition, service, region or account segment stops at a colon, one in the resource segment
  (everything after the fifth colon) spans colons and slashes alike; an ARN pattern with fewer
  segments is completed with ``*`` segments;
* ``StringLike``/``StringNotLike``: case-sensitive, one wildcard space.

Policy variables (policy language ``2012-10-17`` only): ``${key}`` takes the request context's
single value of ``key`` (names are case-insensitive), ``${key, 'default'}`` a default when the key
is absent, and ``${*}``, ``${?}``, ``${$}`` stand for the literal characters. A substituted value
is always literal text (its ``*`` matches only ``*``). A variable with no value makes the pattern
match nothing. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Var", "Lookup", "split_variables", "Glob", "substitute", "has_wildcards"]

# The request context's single value of a (lower-case) key, or None when it has none.
Lookup = Callable[[str], "str | None"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Var:
    """``${key}`` or ``${key, 'default'}``; ``key`` is lower-case."""

    key: str
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Literal:
    """Text that is never a wildcard: ``${*}``, ``${?}``, ``${$}``."""

    text: str


Part = str | Var | Literal


def split_variables(text: str, variables: bool = True) -> tuple[Part, ...]:
    """``text`` as raw text (where ``*``/``?`` are wildcards), literals and variables."""
    if not variables or "${" not in text:
        return (text,)
    parts: list[Part] = []
    at = 0
    for found in _VARIABLE.finditer(text):
        body = found.group(1)
        if body in _SPECIAL:
            part: Part = Literal(_SPECIAL[body])
        else:
            shape = _VARIABLE_BODY.fullmatch(body)
            if shape is None:
                continue                                   # not a variable: stays as text
            part = Var(shape.group(1).lower(), shape.group(2))
        if found.start() > at:
            parts.append(text[at:found.start()])
        parts.append(part)
        at = found.end()
    if at < len(text):
        parts.append(text[at:])
    return tuple(parts)


def has_wildcards(parts: tuple[Part, ...]) -> bool:
    return any(isinstance(p, str) and ("*" in p or "?" in p) for p in parts)


def substitute(parts: tuple[Part, ...], lookup: Lookup) -> str | None:
    """The text with its variables replaced (``None`` when one has no value); no wildcards."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Literal):
            out.append(part.text)
        else:
            value = lookup(part.key)
            if value is None:
                value = part.default
                if value is None:
                    return None
            out.append(value)
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(source: str) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL)


def _glob_source(parts: tuple[Part, ...], segmented: bool) -> list[str | Var]:
    """Regular-expression source per part; variables stay for the request to fill."""
    out: list[str | Var] = []
    colons = 0
    for part in parts:
        if isinstance(part, Var):
            out.append(part)
            continue
        if isinstance(part, Literal):
            out.append(re.escape(part.text))
            continue
        chunk = []
        for ch in part:
            in_resource = not segmented or colons >= 5
            if ch == "*":
                chunk.append(".*" if in_resource else "[^:]*")
            elif ch == "?":
                chunk.append("." if in_resource else "[^:]")
            else:
                if ch == ":":
                    colons += 1
                chunk.append(re.escape(ch))
        out.append("".join(chunk))
    if segmented and colons < 5:
        out.append("".join(":[^:]*" if i < 4 else ":.*" for i in range(colons, 5)))
    return out


class Glob:
    """One wildcard pattern: ``matches(value, lookup)`` is a full match of ``value``.

    ``segmented`` makes it an ARN pattern (wildcards stop at colons before the resource segment);
    ``lower`` folds the pattern to lower case (its caller folds the value). A pattern without
    variables is one compiled expression; with variables, the expression is built for each
    request's values (and compiled once per distinct expression).
    """

    __slots__ = ("text", "everything", "static", "source")

    def __init__(self, text: str, *, segmented: bool = False, lower: bool = False, variables: bool = True) -> None:
        self.text = text
        pattern = text.lower() if lower else text
        self.everything = pattern == "*"
        parts = split_variables(pattern, variables)
        source = _glob_source(parts, segmented)
        self.source: tuple[str | Var, ...] = tuple(source)
        self.static: re.Pattern[str] | None = None
        if all(isinstance(s, str) for s in source):
            self.static = re.compile("".join(s for s in source if isinstance(s, str)), re.DOTALL)

    @property
    def variable(self) -> bool:
        return self.static is None

    def regex(self, lookup: Lookup) -> str | None:
        """This pattern's expression for the request's values (``None``: a variable has none)."""
        out = []
        for s in self.source:
            if isinstance(s, str):
                out.append(s)
                continue
            value = lookup(s.key)
            if value is None:
                value = s.default
                if value is None:
                    return None
            out.append(re.escape(value))
        return "".join(out)

    def matches(self, value: str, lookup: Lookup) -> bool:
        if self.everything:
            return True
        if self.static is not None:
            return self.static.fullmatch(value) is not None
        source = self.regex(lookup)
        return source is not None and _compile(source).fullmatch(value) is not None

    def __repr__(self) -> str:
        return f"Glob({self.text!r})"


def combine(globs: list[Glob]) -> re.Pattern[str] | None:
    """One expression matching what any of these static patterns matches (None for none)."""
    sources = ["".join(s for s in g.source if isinstance(s, str)) for g in globs if g.static is not None]
    if not sources:
        return None
    return re.compile("|".join(f"(?:{s})" for s in sources), re.DOTALL)
