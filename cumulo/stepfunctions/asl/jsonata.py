"""QueryLanguage JSONata: ``{% expression %}`` strings, evaluated with ``$states`` and variables.

Evaluation uses the ``jsonata-python`` package (a port of the reference jsonata-js through
jsonata-java), with Step Functions' additions bound per evaluation: ``$partition``, ``$range``,
``$hash``, ``$random``, ``$uuid`` and ``$parse``; ``$now``/``$millis`` read the injected clock and
``$eval`` is refused, as in AWS. An expression that fails, or returns nothing (undefined), is a
``States.QueryEvaluationError`` naming the expression and the field, in AWS's words.

Every evaluation is bounded, so a hostile expression fails its state instead of taking the server:

- **time**: ``JSONATA_TIMEOUT_S`` per expression. The engine's entry/exit hooks check the clock at
  every step, and a watchdog thread raises into the evaluating thread (``PyThreadState_SetAsyncExc``)
  when a built-in loops without calling back (``$distinct`` of a large array). Work inside one C
  call cannot be interrupted, so the calls that could run long there are bounded before they start:
  regular expressions by ``regex.compile_bounded`` (each regex literal, at definition time),
  ``$pad``/``$join``/``$replace``/``$string`` by the size of what they would build;
- **size**: no intermediate string longer than ``MAX_JSONATA_STRING`` characters and no array or
  object of more than ``MAX_JSONATA_ITEMS`` items (``[1..1000000000]`` fails at once: the range is
  lazy and its length is known); a field's value is converted to JSON within the payload quota
  (``States.DataLimitExceeded`` past 256 KiB, even when it shares one value many times);
- **depth**: ``MAX_JSONATA_DEPTH`` nested evaluations (runaway recursion), on top of the
  interpreter's own recursion limit (jsonata-python raises it to 10,000 for the whole process).

``$range`` is Step Functions' (at most 1,000 items, counted before any is made).
"""

from __future__ import annotations

import ctypes
import hashlib
import heapq
import itertools
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import jsonata as _jsonata
from jsonata import jsonata as _engine
from jsonata import utils as _utils

from cumulo.stepfunctions.asl.errors import DATA_LIMIT_EXCEEDED, QUERY_EVALUATION_ERROR, StatesFailure
from cumulo.stepfunctions.asl.intrinsics import HASHES, Randomness
from cumulo.stepfunctions.asl.limits import MAX_ARRAY_RANGE, MAX_DEPTH, MAX_PAYLOAD, TooLarge, measure
from cumulo.stepfunctions.asl.regex import RegexTooCostly, compile_bounded

__all__ = ["Expression", "JsonataSyntaxError", "is_expression", "compile_expression", "evaluate",
           "evaluate_template", "iso_timestamp"]

Json = Any
_UNDEFINED = object()

# Ours (AWS documents no JSONata limits; these are far above what a state's 256 KiB allow).
JSONATA_TIMEOUT_S = 2.0              # one expression's evaluation
MAX_JSONATA_STRING = 4 * 1024 * 1024  # characters of one intermediate string
MAX_JSONATA_ITEMS = 1_000_000        # items of one intermediate array or object
MAX_JSONATA_DEPTH = 500              # nested evaluations (recursion)


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


def _regex_engine(pattern: str, flags: Any) -> Any:
    """Regex literals compile with their cost model (``regex``); every use checks its string."""
    try:
        return compile_bounded(pattern, ignore_case=bool(flags.case_insensitive), multiline=bool(flags.multiline))
    except ValueError as exc:
        raise _engine.jexception.JException(str(exc), 0) from None


def _parse(source: str) -> Any:
    try:
        expression = _jsonata.Jsonata(source, _regex_engine)
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
    """The value of one expression in one field; failures are States.QueryEvaluationError (or
    States.DataLimitExceeded for a value past the payload quota)."""
    null = _utils.Utils.NULL_VALUE           # a JSON null bound at the top must not read as undefined
    bindings: dict[str, Any] = {k: null if v is None else v for k, v in variables.items()}
    bindings.update(_functions(now, randomness))
    bindings.update(_GUARDED)
    bindings["states"] = {k: null if v is None else v for k, v in states.items()}
    guard = _Guard(time.monotonic() + JSONATA_TIMEOUT_S)
    bindings["__evaluate_entry"] = guard.entry
    bindings["__evaluate_exit"] = guard.exit
    limit: _Limit | None = None
    try:
        try:
            token = _WATCHDOG.arm(guard.deadline)
            try:
                raw = expression.compiled().evaluate(None, bindings)
            finally:
                _WATCHDOG.disarm(token)
        except _Limit as passed:
            limit = passed
    except StatesFailure as exc:
        raise _failure(expression, field_name, f"threw an error during evaluation. {exc.cause}") from None
    except JsonataSyntaxError as exc:
        raise _failure(expression, field_name, f"threw an error during evaluation. {exc}") from None
    except RecursionError:
        raise _failure(expression, field_name, "threw an error during evaluation: stack overflow") from None
    except RegexTooCostly as exc:
        raise _failure(expression, field_name, f"threw an error during evaluation. {exc}") from None
    except Exception as exc:
        raise _failure(expression, field_name, f"threw an error during evaluation. {_message(exc)}") from None
    if limit is not None:
        raise _failure(expression, field_name, f"threw an error during evaluation. {limit.message}")
    try:
        value = _to_json(raw, _Budget(MAX_PAYLOAD))
    except TooLarge as exc:
        raise StatesFailure(DATA_LIMIT_EXCEEDED, f"The JSONata expression '{expression.source}' specified for the "
                                                 f"field '{field_name}' returned a value {exc.reason}, more than "
                                                 f"the maximum number of bytes service limit") from None
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


class _Budget:
    """What a conversion to JSON may still write: ``limit`` bytes (counted as ``measure`` does)."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.left = self.limit = limit

    def spend(self, size: int, depth: int) -> None:
        self.left -= size
        if self.left < 0:
            raise TooLarge(f"larger than {self.limit} bytes")
        if depth > MAX_DEPTH:
            raise TooLarge(f"nested deeper than {MAX_DEPTH} levels", depth=True)


def _to_json(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """Engine values to plain JSON: null marker → None, undefined → _UNDEFINED, integral floats → int.
    Every value written counts against ``budget`` (a value shared many times counts each time)."""
    if value is None:
        return _UNDEFINED
    if value is _utils.Utils.NULL_VALUE:
        budget.spend(4, depth)
        return None
    if isinstance(value, bool) or isinstance(value, int):
        budget.spend(4 if isinstance(value, bool) else 1 if -10 ** 15 < value < 10 ** 15 else len(str(value)), depth)
        return value
    if isinstance(value, str):
        budget.spend(len(value) + 2, depth)
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise StatesFailure(QUERY_EVALUATION_ERROR, "A JSONata expression produced a non-finite number")
        budget.spend(1, depth)
        return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value
    if isinstance(value, dict):
        budget.spend(2 + len(value), depth + 1)
        out = {}
        for k, v in value.items():
            item = _to_json(v, budget, depth + 1)
            if item is not _UNDEFINED:
                budget.spend(len(str(k)) + 3, depth)
                out[str(k)] = item
        return out
    if isinstance(value, list):
        budget.spend(1 + len(value), depth + 1)
        items = [_to_json(v, budget, depth + 1) for v in value]
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
        numbers = range(s, e + (1 if st > 0 else -1), st)
        if len(numbers) > MAX_ARRAY_RANGE:          # counted before a single item is made
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"$range cannot produce more than {MAX_ARRAY_RANGE} items")
        return list(numbers)

    def hash_(data: Any, algorithm: Any) -> Any:
        if algorithm not in HASHES:
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"$hash algorithm must be one of {', '.join(HASHES)}")
        try:
            text = data if isinstance(data, str) else json.dumps(_to_json(data, _Budget(MAX_PAYLOAD)),
                                                                 separators=(",", ":"))
        except TooLarge as exc:
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"$hash: the data is {exc.reason}") from None
        return hashlib.new(HASHES[algorithm], text.encode()).hexdigest()

    def random_(seed: Any = None) -> Any:
        if seed is None:
            return randomness.random()
        return random.Random(seed).random()

    def parse(text: Any) -> Any:
        if not isinstance(text, str):
            raise StatesFailure(QUERY_EVALUATION_ERROR, "$parse expects a string")
        try:
            parsed = json.loads(text)
            measure(parsed, MAX_JSONATA_STRING)
            return _to_engine(parsed)
        except (ValueError, RecursionError, TooLarge):
            raise StatesFailure(QUERY_EVALUATION_ERROR, f"$parse could not parse {text[:200]!r} as JSON "
                                                        f"(invalid, or nested deeper than {MAX_DEPTH} levels)") from None

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


# ---- bounds of one evaluation ------------------------------------------------------------------

class _Limit(BaseException):
    """A bound of the evaluation was passed. A BaseException, so that the engine's own
    ``except Exception`` handlers (which wrap or swallow errors) let it through."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Timeout(_Limit):
    def __init__(self) -> None:
        super().__init__(f"The evaluation took longer than {JSONATA_TIMEOUT_S:g} seconds")


class _Guard:
    """The engine's ``__evaluate_entry``/``__evaluate_exit`` hooks for one evaluation: the clock,
    the nesting of evaluations, and the size of every intermediate value (O(1) each: a string's
    length, an array's or object's item count; a lazy range knows its length without items)."""

    __slots__ = ("deadline", "depth")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.depth = 0

    def entry(self, expr: Any, input: Any, env: Any) -> None:
        if not env.is_parallel_call:
            self.depth += 1
            if self.depth > MAX_JSONATA_DEPTH:
                raise _Limit(f"The evaluation nested more than {MAX_JSONATA_DEPTH} levels deep (runaway recursion)")
        if time.monotonic() > self.deadline:
            raise _Timeout()

    def exit(self, expr: Any, input: Any, env: Any, result: Any) -> None:
        if not env.is_parallel_call:
            self.depth -= 1
        if time.monotonic() > self.deadline:
            raise _Timeout()
        if isinstance(result, str):
            if len(result) > MAX_JSONATA_STRING:
                raise _Limit(f"A string of {len(result)} characters is longer than {MAX_JSONATA_STRING}")
        elif isinstance(result, (list, dict)) and len(result) > MAX_JSONATA_ITEMS:
            raise _Limit(f"An array or object of {len(result)} items has more than {MAX_JSONATA_ITEMS}")


class _Watchdog:
    """Raises ``_Timeout`` in a thread whose evaluation passed its deadline without reaching a hook.

    ``arm`` before evaluating, ``disarm`` after (in ``finally``). A token fires at most once, and
    ``disarm`` clears an exception that was set but not yet delivered, so nothing is ever raised
    outside the evaluation that asked for it (a raise delivered inside ``disarm`` itself is still
    inside the caller's ``except _Limit``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, int]] = {}        # token -> (deadline, thread ident)
        self._heap: list[tuple[float, int]] = []
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = (deadline, threading.get_ident())
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cumulo-jsonata-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
            return token

    def disarm(self, token: int) -> None:
        with self._cond:
            if self._armed.pop(token, None) is None:          # it fired: drop the exception if still pending
                _set_async_exc(threading.get_ident(), None)

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait + 0.01)
                    continue
                heapq.heappop(self._heap)
                _, ident = self._armed.pop(token)
                _set_async_exc(ident, _Timeout)


_SetAsyncExc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_SetAsyncExc.argtypes = [ctypes.c_ulong, ctypes.py_object]
_SetAsyncExc.restype = ctypes.c_int


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    _SetAsyncExc(ident, ctypes.py_object() if exc is None else ctypes.py_object(exc))


_WATCHDOG = _Watchdog()


class _Checked(_engine.Jsonata.JFunction):
    """A built-in function with a check of its arguments first (same signature and behaviour)."""

    def __init__(self, native: Any, check: Callable[[list[Any]], None]) -> None:
        self.function = None
        self.signature = native.signature
        self.function_name = native.function_name
        self._native, self._check = native, check

    def call(self, input: Any, args: Any) -> Any:
        self._check(list(args) if args else [])
        return self._native.call(input, args)

    def validate(self, args: Any, context: Any) -> Any:
        return self._native.validate(args, context)

    def get_number_of_args(self) -> int:
        return int(self._native.get_number_of_args())


def _arg(args: list[Any], index: int) -> Any:
    return args[index] if index < len(args) else None


def _too_long(what: str, size: int) -> _Limit:
    return _Limit(f"{what} would build a string of {size} characters, longer than {MAX_JSONATA_STRING}")


def _check_pad(args: list[Any]) -> None:
    width = _arg(args, 1)
    if isinstance(width, (int, float)) and not isinstance(width, bool) and math.isfinite(width) \
            and abs(width) > MAX_JSONATA_STRING:
        raise _too_long("$pad", int(abs(width)))


def _check_join(args: list[Any]) -> None:
    strings, separator = _arg(args, 0), _arg(args, 1)
    if not isinstance(strings, list):
        return
    size = sum(len(s) for s in strings if isinstance(s, str))
    if isinstance(separator, str) and strings:
        size += len(separator) * (len(strings) - 1)
    if size > MAX_JSONATA_STRING:
        raise _too_long("$join", size)


def _check_replace(args: list[Any]) -> None:
    """A string pattern replaced by a string: every match makes the same text, so the result's
    length is known before any is made (regex patterns count their output as they go)."""
    string, pattern, replacement, limit = (_arg(args, i) for i in range(4))
    if not (isinstance(string, str) and isinstance(pattern, str) and pattern and isinstance(replacement, str)):
        return
    count = string.count(pattern)
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 0:
        count = min(count, int(limit))
    each = len(replacement) + replacement.count("$") * len(pattern)
    size = len(string) + count * max(each - len(pattern), 0)
    if size > MAX_JSONATA_STRING:
        raise _too_long("$replace", size)


def _check_string(args: list[Any]) -> None:
    value, prettify = _arg(args, 0), _arg(args, 1)
    if value is None or isinstance(value, str):
        return
    limit = MAX_JSONATA_STRING // (8 if prettify else 1)          # indentation multiplies the text
    try:
        measure(value, limit, depth_limit=MAX_DEPTH if not prettify else 64)
    except TooLarge as exc:
        raise _Limit(f"$string of a value {exc.reason}") from None


def _checked(name: str, check: Callable[[list[Any]], None]) -> _Checked:
    return _Checked(_engine.Jsonata.static_frame.lookup(name), check)


_GUARDED: dict[str, Any] = {name: _checked(name, check) for name, check in (
    ("pad", _check_pad), ("join", _check_join), ("replace", _check_replace), ("string", _check_string))}
