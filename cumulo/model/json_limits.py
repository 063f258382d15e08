"""JSON from callers, parsed within limits every later step can live with.

Python's ``json`` accepts what AWS's parsers refuse and what Cumulo's own code cannot handle:
``NaN`` and ``Infinity`` (and ``1e999``, which becomes infinity), strings with lone UTF-16
surrogates (``"\\ud800"``: no UTF-8 encoding exists, so the store cannot write them), and
nesting as deep as the body allows, which ends in ``RecursionError`` in the parser or in any
code that walks the document later. ``loads`` refuses all of these with ``JsonLimitError``, a
``ValueError``, so callers that already answer "not valid JSON" with their protocol's error
keep doing so, now with the reason.

The depth limit (``MAX_DEPTH``, objects and arrays, the top counting as 1) is lower than
Jackson's default of 1,000 on purpose: Cumulo walks documents recursively in Python (patterns,
paths, templates, copies), a few frames per level, under the interpreter's limit of 1,000.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "PAYLOAD_MAX_DEPTH", "JsonLimitError", "loads", "check", "deeper_than"]

MAX_DEPTH = 128
# Invoke payloads are the function's business, not Cumulo's: only their depth is bounded, higher,
# where the server still parses them (asynchronous events, destinations' records) with room to spare.
PAYLOAD_MAX_DEPTH = 512

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE_ESCAPE_TEXT = re.compile(r"\\u[dD][89abcdefABCDEF]|[\ud800-\udfff]")   # text may hold them raw


class JsonLimitError(ValueError):
    """A document that is JSON Cumulo will not take: too deep, a non-finite number, invalid Unicode."""


def _constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonLimitError(f"the number {text[:40]} is out of range of a double")
    return value


def loads(data: str | bytes | bytearray, what: str = "The document") -> Any:
    """``json.loads`` within the limits (see the module's doc); ``what`` names the document in
    the message of the ``JsonLimitError`` or ``ValueError`` raised."""
    try:
        doc = json.loads(data, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise JsonLimitError(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    except JsonLimitError as exc:
        raise JsonLimitError(f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:      # JSONDecodeError, UnicodeDecodeError, int() over 4,300 digits
        raise ValueError(f"{what} is not valid JSON: {exc}") from None
    if isinstance(data, str):
        brackets = data.count("[") + data.count("{")
        surrogates = _SURROGATE_ESCAPE_TEXT.search(data) is not None
    else:                                     # bytes hold them escaped only (raw ones are not UTF-8)
        brackets = data.count(b"[") + data.count(b"{")
        surrogates = _SURROGATE_ESCAPE.search(data) is not None
    if brackets > MAX_DEPTH and _too_deep(doc):
        raise JsonLimitError(f"{what} is nested more than {MAX_DEPTH} levels deep")
    if surrogates:
        _no_lone_surrogates(doc, what)
    return doc


def deeper_than(data: bytes, limit: int) -> bool:
    """Whether JSON text nests objects and arrays more than ``limit`` deep; text that is not JSON
    is not (that is for its reader to say). Cheap unless the text holds over ``limit`` brackets."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    try:
        doc = json.loads(data)
    except RecursionError:
        return True
    except ValueError:
        return False
    return _too_deep(doc, limit)


def check(doc: Any, what: str = "The document") -> Any:
    """The same limits for a document already parsed (a value taken from a larger one, or built
    by a caller of the Python API): depth and strings only; returns ``doc``."""
    if _too_deep(doc):
        raise JsonLimitError(f"{what} is nested more than {MAX_DEPTH} levels deep")
    _no_lone_surrogates(doc, what)
    return doc


def _too_deep(doc: Any, limit: int = MAX_DEPTH) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _no_lone_surrogates(doc: Any, what: str) -> None:
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            strings: Any = (value,)
        elif isinstance(value, dict):
            strings = value.keys()
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
            continue
        else:
            continue
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise JsonLimitError(f"{what} holds a lone UTF-16 surrogate ({text[exc.start]!r}), which is not "
                                     "valid Unicode") from None
