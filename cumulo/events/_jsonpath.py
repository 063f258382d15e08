"""The JSONPath subset EventBridge evaluates in ``InputPath`` and ``InputPathsMap``.

AWS: "EventBridge does not support all JSON Path syntax … Supported syntax includes: dot
notation (for example, ``$.detail``), dashes, underscores, alphanumeric characters, array
indices, wildcards (``*``), forward slashes." So a path is ``$`` followed by steps:
``.name`` (a name runs to the next ``.`` or ``[``), ``[N]``, ``.*`` / ``[*]``, and — for
``InputPath``, whose documentation allows bracket notation — ``['name']`` / ``["name"]``.

A path without a wildcard finds one value or nothing; with one it finds the list of
everything it reaches (JSONPath's usual answer; an empty list when nothing is there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MISSING", "JsonPath", "parse_json_path"]

MISSING: Final = object()

_NAME = re.compile(r"[^.\[\]\s]+")
_INDEX = re.compile(r"\[(\d+)\]")
_QUOTED = re.compile(r"""\[(?:'([^']*)'|"([^"]*)")\]""")
_WILD: Final = ("*",)


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[str | int | tuple[str], ...]  # a name, an index, or _WILD

    @property
    def definite(self) -> bool:
        return _WILD not in self.steps

    def find(self, document: Any) -> Any:
        """The value at the path, ``MISSING`` if there is none (a list for a wildcard path)."""
        if self.definite:
            node = document
            for step in self.steps:
                node = _step(node, step)
                if node is MISSING:
                    return MISSING
            return node
        nodes = [document]
        for step in self.steps:
            nxt: list[Any] = []
            for node in nodes:
                if step == _WILD:
                    if isinstance(node, dict):
                        nxt.extend(node.values())
                    elif isinstance(node, list):
                        nxt.extend(node)
                else:
                    found = _step(node, step)
                    if found is not MISSING:
                        nxt.append(found)
            nodes = nxt
        return nodes


def _step(node: Any, step: str | int | tuple[str]) -> Any:
    if isinstance(step, int):
        if isinstance(node, list) and step < len(node):
            return node[step]
        return MISSING
    if isinstance(node, dict) and step in node:
        return node[step]
    return MISSING


def parse_json_path(text: Any) -> JsonPath | None:
    """The parsed path, or None if ``text`` is not one."""
    if not isinstance(text, str) or not text.startswith("$"):
        return None
    steps: list[str | int | tuple[str]] = []
    i = 1
    while i < len(text):
        if text.startswith(".*", i):
            steps.append(_WILD)
            i += 2
        elif text.startswith("[*]", i):
            steps.append(_WILD)
            i += 3
        elif text[i] == ".":
            name = _NAME.match(text, i + 1)
            if name is None:
                return None
            steps.append(name.group())
            i = name.end()
        elif (index := _INDEX.match(text, i)) is not None:
            steps.append(int(index.group(1)))
            i = index.end()
        elif (quoted := _QUOTED.match(text, i)) is not None:
            steps.append(quoted.group(1) if quoted.group(1) is not None else quoted.group(2))
            i = quoted.end()
        else:
            return None
    return JsonPath(text, tuple(steps))
