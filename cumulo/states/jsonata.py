"""QueryLanguage JSONata: ``{% expression %}`` strings, evaluated with ``$states`` and variables.

Evaluation uses the ``jsonata-python`` package (a port of the reference jsonata-js through
jsonata-java), with Step Functions' additions bound per evaluation: ``$partition``, ``$range``,
``$hash``, ``$random``, ``$uuid`` and ``$parse``; ``$now``/``$millis`` read the injected clock and
``$eval`` is refused, as in AWS. An expression that fails, or returns nothing (undefined), is a
``States.QueryEvaluationError`` naming the expression and the field, in AWS's words.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import jsonata as _jsonata
from jsonata import jsonata as _engine
from jsonata import utils as _utils

from cumulo.states.errors import QUERY_EVALUATION_ERROR, StatesFailure
from cumulo.states.intrinsics import HASHES, Randomness

__all__ = ["Expression", "JsonataSyntaxError", "is_expression", "compile_expression", "evaluate",
           "evaluate_template", "iso_timestamp"]

Json = Any
_UNDEFINED = object()


class JsonataSyntaxError(ValueError):
    """The expression does not parse; the message is the JSONata error without its code."""


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}") and len(value) >= 4


@dataclass
class Expression:
    """A parsed ``{% %}`` expression. The parsed form is cached on first use."""

    source: str                               # the text between the delimiters
    _compiled: Any = field(default=None, repr=False, compare=False)

    def compiled(self) -> Any:
        if self._compiled is None:
            self._compiled = _parse(self.source)
        return self._compiled


def compile_expression(text: str) -> Expression:
    """Parse ``{% expr %}`` text now (definition time); raises ``JsonataSyntaxError``."""
    source = text[2:-2].strip()
    return Expression(source, _parse(source))


def _parse(source: str) -> Any:
    try:
        expression = _jsonata.Jsonata(source)
    except Exception as exc:         # the engine raises its own JException (and sometimes others)
        raise JsonataSyntaxError(_message(exc)) from None
    expression.set_output_convert_nulls(False)
    return expression


def _message(exc: BaseException) -> str:
    code = getattr(exc, "error", None)
    text = str(exc)
    return f"{code}: {text}" if isinstance(code, str) and code else text


def iso_timestamp(seconds: float) -> str:
    """Step Functions' timestamp text: ISO 8601, milliseconds, Z."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def evaluate(expression: Expression, field_name: str, states: Mapping[str, Json], variables: Mapping[str, Json],
             now: float, randomness: Randomness) -> Json:
    """The value of one expression in one field; failures are States.QueryEvaluationError."""
    null = _utils.Utils.NULL_VALUE           # a JSON null bound at the top must not read as undefined
    bindings: dict[str, Any] = {k: null if v is None else v for k, v in variables.items()}
    bindings.update(_functions(now, randomness))
    bindings["states"] = {k: null if v is None else v for k, v in states.items()}
    try:
        raw = expression.compiled().evaluate(None, bindings)
    except StatesFailure as exc:
        raise _failure(expression, field_name, f"threw an error during evaluation. {exc.cause}") from None
    except JsonataSyntaxError as exc:
        raise _failure(expression, field_name, f"threw an error during evaluation. {exc}") from None
    except RecursionError:
        raise _failure(expression, field_name, "threw an error during evaluation: stack overflow") from None
    except Exception as exc:
        raise _failure(expression, field_name, f"threw an error during evaluation. {_message(exc)}") from None
    value = _to_json(raw)
    if value is _UNDEFINED:
        raise _failure(expression, field_name, "returned nothing (undefined).")
    return value


def evaluate_template(template: Json, field_name: str, states: Mapping[str, Json],
                      variables: Mapping[str, Json], now: float, randomness: Randomness) -> Json:
    """A JSON value whose strings may be ``{% %}`` expressions (already compiled to Expression)."""
    if isinstance(template, Expression):
        return evaluate(template, field_name, states, variables, now, randomness)
    if isinstance(template, dict):
        return {k: evaluate_template(v, f"{field_name}/{k}", states, variables, now, randomness)
                for k, v in template.items()}
    if isinstance(template, list):
        return [evaluate_template(v, f"{field_name}[{i}]", states, variables, now, randomness)
                for i, v in enumerate(template)]
    return template


def compile_template(value: Json, location: str, report: Callable[[str, str], None]) -> Json:
    """Replace every ``{% %}`` string of a JSON value by its parsed Expression; report syntax errors."""
    if is_expression(value):
        try:
            return compile_expression(value)
        except JsonataSyntaxError as exc:
            report(f"The JSONata expression '{value[2:-2].strip()}' is not valid: {exc}", location)
            return None
    if isinstance(value, dict):
        return {k: compile_template(v, f"{location}/{k}", report) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_template(v, f"{location}[{i}]", report) for i, v in enumerate(value)]
    return value


def _failure(expression: Expression, field_name: str, tail: str) -> StatesFailure:
    return StatesFailure(QUERY_EVALUATION_ERROR,
                         f"The JSONata expression '{expression.source}' specified for the field '{field_name}' {tail}")


def _to_json(value: Any) -> Any:
    """Engine values to plain JSON: null marker → None, undefined → _UNDEFINED, integral floats → int."""
    if value is None:
        return _UNDEFINED
    if value is _utils.Utils.NULL_VALUE:
        return None
    if isinstance(value, bool) or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise StatesFailure(QUERY_EVALUATION_ERROR, "A JSONata expression produced a non-finite number")
        return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            item = _to_json(v)
            if item is not _UNDEFINED:
                out[str(k)] = item
        return out
    if isinstance(value, list):
        items = [_to_json(v) for v in value]
        items = [i for i in items if i is not _UNDEFINED]
        if getattr(value, "sequence", False) and not getattr(value, "keep_singleton", False) and len(items) == 1 \
                and not getattr(value, "outer_wrapper", False):
            return items[0]
        return items
    raise StatesFailure(QUERY_EVALUATION_ERROR, "A JSONata expression returned a function, which is not JSON")


def _lambda(fn: Callable[..., Any]) -> Any:
    return _engine.Jsonata.JLambda(fn)


def _functions(now: float, randomness: Randomness) -> dict[str, Any]:
    def partition(array: Any, size: Any) -> Any:
        if not isinstance(array, list) or not isinstance(size, (int, float)) or size <= 0 or size != int(size):
            raise StatesFailure(QUERY_EVALUATION_ERROR, "$partition expects an array and a positive integer")
        n = int(size)
        return [list(array[i:i + n]) for i in range(0, len(array), n)]

    def range_(start: Any, end: Any, step: Any) -> Any:
        if not all(isinstance(v, (int, float)) and v == int(v) for v in (start, end, step)) or step == 0:
            raise StatesFailure(QUERY_EVALUATION_ERROR, "$range expects integers and a non-zero step")
        s, e, st = int(start), int(end), int(step)
        values = list(range(s, e + (1 if st > 0 else -1), st))
        if len(values) > 1000:
            raise StatesFailure(QUERY_EVALUATION_ERROR, "$range cannot produce more than 1000 items")
        return values

    def hash_(data: Any, algorithm: Any) -> Any:
        if algorithm not in HASHES:
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"$hash algorithm must be one of {', '.join(HASHES)}")
        text = data if isinstance(data, str) else json.dumps(_to_json(data), separators=(",", ":"))
        return hashlib.new(HASHES[algorithm], text.encode()).hexdigest()

    def random_(seed: Any = None) -> Any:
        if seed is None:
            return randomness.random()
        return random.Random(seed).random()

    def parse(text: Any) -> Any:
        if not isinstance(text, str):
            raise StatesFailure(QUERY_EVALUATION_ERROR, "$parse expects a string")
        try:
            return _to_engine(json.loads(text))
        except ValueError:
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"$parse could not parse {text!r} as JSON") from None

    def refuse(*_: Any) -> Any:
        raise StatesFailure(QUERY_EVALUATION_ERROR, "T1006: Attempted to invoke a non-function")

    stamp = iso_timestamp(now)
    return {"partition": _lambda(partition), "range": _lambda(range_), "hash": _lambda(hash_),
            "random": _lambda(random_), "uuid": _lambda(lambda: randomness.uuid()), "parse": _lambda(parse),
            "now": _lambda(lambda *_: stamp), "millis": _lambda(lambda: int(now * 1000)), "eval": _lambda(refuse)}


def _to_engine(value: Json) -> Any:
    """JSON from $parse into the engine: a JSON null must stay null, not undefined."""
    if value is None:
        return _utils.Utils.NULL_VALUE
    if isinstance(value, dict):
        return {k: _to_engine(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_engine(v) for v in value]
    return value
