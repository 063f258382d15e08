"""Payload templates of JSONPath states: ``Parameters``, ``ResultSelector``, ``ItemSelector``, ``Assign``.

A key ending in ``.$`` takes its value from a path (``$.a``, ``$$.Map.Item.Value``, ``$var``) or an
intrinsic function call, and loses the suffix; every other value is literal. Objects nested in
objects and arrays are templates too. A path that selects nothing fails the state with
``States.Runtime`` and AWS's message naming the path and the field.

Each ``.$`` field may place a whole input (256 KiB) in the result, so a template with many of them
could build gigabytes of JSON from references: past ``_SAFE_FIELDS`` such fields the result is
measured (``limits.measure``) and refused past the payload quota with ``States.DataLimitExceeded``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cumulo.stepfunctions.asl.errors import DATA_LIMIT_EXCEEDED, RUNTIME, StatesFailure
from cumulo.stepfunctions.asl.intrinsics import Call, IntrinsicSyntaxError, Randomness, evaluate, is_intrinsic, parse_intrinsic
from cumulo.stepfunctions.asl.limits import MAX_PAYLOAD, TooLarge, measure
from cumulo.stepfunctions.asl.paths import NoMatch, Path, PathSyntaxError, dumps, is_path, parse_path

__all__ = ["Template", "compile_template", "compile_selector", "evaluate_template", "select"]

Json = Any
Report = Callable[[str, str], None]
# Up to this many ``.$`` fields a result is at most that many inputs: written out only once it is
# checked against the quota anyway (the state's output, a task's parameters).
_SAFE_FIELDS = 16


@dataclass(frozen=True)
class _Dynamic:
    key: str                      # the field as written, with ".$"
    selector: Path | Call


@dataclass(frozen=True)
class Template:
    """A compiled template: ``node`` mirrors the JSON with ``_Dynamic`` leaves."""

    node: Json
    dynamic: int = 0              # how many ``.$`` fields


def compile_selector(value: Json, key: str, location: str, report: Report) -> Path | Call | None:
    """A path or intrinsic call, as allowed after a ``.$`` key (also ErrorPath/CausePath)."""
    if isinstance(value, str):
        try:
            if is_intrinsic(value):
                return parse_intrinsic(value)
            if is_path(value):
                return parse_path(value)
        except (PathSyntaxError, IntrinsicSyntaxError):
            pass
    report(f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call", location)
    return None


def compile_template(raw: Json, location: str, report: Report) -> Template:
    node = _compile(raw, location, report)
    return Template(node, _count(node))


def _count(node: Json) -> int:
    if isinstance(node, _Dynamic):
        return 1
    if isinstance(node, dict):
        return sum(_count(v) for v in node.values())
    if isinstance(node, list):
        return sum(_count(v) for v in node)
    return 0


def _compile(raw: Json, location: str, report: Report) -> Json:
    if isinstance(raw, dict):
        out: dict[str, Json] = {}
        for key, value in raw.items():
            if key.endswith(".$"):
                selector = compile_selector(value, key, location, report)
                out[key[:-2]] = _Dynamic(key, selector) if selector is not None else None
            else:
                out[key] = _compile(value, f"{location}/{key}", report)
        return out
    if isinstance(raw, list):
        return [_compile(item, f"{location}[{i}]", report) for i, item in enumerate(raw)]
    return raw


def evaluate_template(template: Template, data: Json, context: Json, variables: Mapping[str, Json],
                      randomness: Randomness) -> Json:
    result = _evaluate(template.node, data, context, variables, randomness)
    if template.dynamic > _SAFE_FIELDS:
        try:
            measure(result, MAX_PAYLOAD)
        except TooLarge as exc:
            raise StatesFailure(DATA_LIMIT_EXCEEDED, f"The payload template with {template.dynamic} dynamic fields "
                                                     f"built a value {exc.reason}, more than the maximum number "
                                                     "of bytes service limit") from None
    return result


def _evaluate(node: Json, data: Json, context: Json, variables: Mapping[str, Json], randomness: Randomness) -> Json:
    if isinstance(node, _Dynamic):
        return select(node.selector, node.key, data, context, variables, randomness)
    if isinstance(node, dict):
        return {k: _evaluate(v, data, context, variables, randomness) for k, v in node.items()}
    if isinstance(node, list):
        return [_evaluate(v, data, context, variables, randomness) for v in node]
    return node


def select(selector: Path | Call, key: str, data: Json, context: Json, variables: Mapping[str, Json],
           randomness: Randomness) -> Json:
    """The value of one ``.$`` field: a path's selection or an intrinsic's result."""
    def resolve(path: Path) -> Json:
        try:
            return path.select(data, context, variables)
        except NoMatch:
            source = context if path.root.name == "CONTEXT" else data
            raise StatesFailure(RUNTIME, f"The JSONPath '{path.source}' specified for the field '{key}' could not be "
                                         f"found in the input '{dumps(source)}'") from None
    if isinstance(selector, Path):
        return resolve(selector)
    return evaluate(selector, resolve, randomness)
