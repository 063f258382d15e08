"""The bounds that keep one execution from taking the server down, and ``measure``, which checks them.

Every value an execution holds is hostile: a definition can copy one input into a payload a
hundred thousand times (``States.Array($, $, …)`` holds references, the JSON text would not), a
JSONata expression can double a string in a loop, an input can be nested a million levels deep.
So nothing is serialised before it is measured, and measuring never costs more than the limit:

- ``measure(value, limit)`` walks a value without recursion and stops as soon as its JSON size
  passes ``limit`` or its nesting passes ``MAX_DEPTH``; a value shared many times counts every
  time it would be written. The count is a lower bound of the compact JSON text (each character
  one byte, no escapes), so it never refuses a value that fits, and what it accepts is at most a
  few times the limit once escaped (``\\u0000`` is six bytes for one character).
- The exact check of AWS's quota (UTF-8 bytes of the JSON text) then runs on text that is
  bounded.

Limits that are AWS's carry their source; the others are ours, chosen so that legitimate
machines never meet them (see docs/stepfunctions.md).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_PAYLOAD", "MAX_DEPTH", "MAX_ARRAY_RANGE", "MAX_INTRINSIC_NESTING", "MAX_INLINE_CONCURRENCY",
           "MAX_VARIABLES", "MAX_DEFINITION", "MAX_PATH_NODES", "TooLarge", "measure", "utf8_size"]

# AWS quota "Maximum input or output size for a task, state, or execution": 256 KiB of data as a
# UTF-8 encoded string (states, task parameters and results, execution input, SendTaskSuccess).
MAX_PAYLOAD = 256 * 1024
# AWS, intrinsic functions: "The newly generated array can't contain more than 1000 items"
# (States.ArrayRange; JSONata's $range in Step Functions has the same limit).
MAX_ARRAY_RANGE = 1000
# AWS, intrinsic functions: "You can nest up to 10 intrinsic functions within a field".
MAX_INTRINSIC_NESTING = 10
# AWS, Inline Map: "the Map state supports up to 40 concurrent iterations" (MaxConcurrency 0 and
# anything above 40 run 40 at a time).
MAX_INLINE_CONCURRENCY = 40
# AWS, workflow variables: "The total size of all stored variables cannot exceed 10MiB per
# execution" (a single variable, and one Assign field together, at most 256 KiB).
MAX_VARIABLES = 10 * 1024 * 1024
# AWS quota "Maximum size of a state machine definition": 1 MB (the API's 1,048,576 characters).
MAX_DEFINITION = 1024 * 1024
# Ours: JSON nested deeper than this is refused wherever it enters (execution input, task results,
# StringToJson, JSONata). Jackson, which AWS's Java services parse JSON with, refuses documents
# nested deeper than 1,000 levels by default (StreamReadConstraints); we keep the same bound.
MAX_DEPTH = 1000
# Ours: an indefinite JSONPath (``..``, ``*``, ``[0,0,0]``, filters) selects at most this many
# values in all its steps. A 256 KiB input has at most ~130,000 values, so only a path that
# multiplies them (``$..*..*``, repeated indices) reaches it.
MAX_PATH_NODES = 262_144


class TooLarge(Exception):
    """A value passed a bound while being measured; ``reason`` says which, in words for a cause."""

    def __init__(self, reason: str, depth: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.depth = depth


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (a lone surrogate, which JSON allows, counts three)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def measure(value: Any, limit: int, depth_limit: int = MAX_DEPTH) -> int:
    """The JSON size of ``value`` (a lower bound of its compact text); raises ``TooLarge`` as soon as
    it passes ``limit`` bytes or ``depth_limit`` levels of nesting. Never recurses; the work done is
    at most proportional to ``limit``."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        kind = type(node)
        if kind is str:
            total += len(node) + 2
        elif kind is int:
            total += _int_size(node)
        elif kind is float:
            total += len(repr(node))
        elif kind is bool or node is None:
            total += 4
        elif kind is dict or kind is list or isinstance(node, (dict, list, tuple)):
            if depth >= depth_limit:
                raise TooLarge(f"nested deeper than {depth_limit} levels", depth=True)
            if isinstance(node, dict):
                total += 1 + 2 * len(node)                 # braces, commas, colons
                for key, child in node.items():
                    total += len(key) + 2 if isinstance(key, str) else 4
                    push((child, depth + 1))
                    if total + len(stack) > limit:
                        break
            else:
                total += 1 + len(node)                     # brackets and commas
                for child in node:
                    push((child, depth + 1))
                    if total + len(stack) > limit:         # each will count at least one byte
                        break
        elif isinstance(node, str):
            total += len(node) + 2
        elif isinstance(node, bool):
            total += 4
        elif isinstance(node, int):
            total += _int_size(node)
        else:
            total += 4                                    # floats of a subclass, foreign scalars
        if total + len(stack) > limit:                     # what is still stacked counts a byte or more
            raise TooLarge(f"larger than {limit} bytes")
    return total


def _int_size(number: int) -> int:
    bits = number.bit_length()
    # digits >= floor((bits - 1) * log10(2)) + 1, computed without converting a huge int to text
    return (1 if number >= 0 else 2) + ((bits - 1) * 30103 // 100000 if bits > 1 else 0)
