"""Request bodies checked against the services' models before any operation sees them.

AWS's front ends refuse a member of the wrong type (a list where a string goes, a string where
an integer goes, a number out of range of a Java ``int``) and a missing required member before
the service runs; so does Cumulo, here, from the same models: ``_shapes.py`` holds the input
shapes of every operation Cumulo serves (types, required members and wire names only), taken
from botocore's models by ``python -m cumulo.api.shapes_gen`` (a dev dependency; rerun it when a
protocol module serves a new operation).

``check`` answers the problems it finds; each protocol module turns them into its own error
(``Problems.raise_for``): REST-JSON Lambda's ``InvalidRequestContentException`` /
``ValidationException``, the JSON protocols' ``SerializationException`` / ``ValidationException``
(SQS: ``MissingParameter``), API Gateway's ``BadRequestException``. A member that is ``null``
counts as absent, as in AWS's deserializers; unknown members are left to the operation.
Integer members given as integral floats (``5.0``) are turned into integers in place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from cumulo.api._shapes import SHAPES
from cumulo.api.http import Reply, Request
from cumulo.errors import CumuloError
from cumulo.model import json_limits

__all__ = ["Problems", "Errors", "check", "parse_body", "guarded", "CheckedRequest", "INT_RANGE", "LONG_RANGE"]

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
_EXPECTED = {"string": "a string", "integer": "an integer", "long": "an integer", "boolean": "a boolean",
             "double": "a number", "float": "a number", "timestamp": "a timestamp (number or string)",
             "blob": "a base64 string", "structure": "an object", "map": "an object", "list": "a list"}


@dataclass
class Problems:
    """What a body breaks: ``types`` (cannot be deserialized: wrong type, out of range) and
    ``missing`` (required members absent), each as ``(member path, message)``."""

    types: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.types or self.missing)

    def type_message(self) -> str:
        path, message = self.types[0]
        return f"{message} at '{_lower_path(path)}'" if path else message

    def missing_message(self) -> str:
        """AWS's wording for constraint violations ("1 validation error detected: …")."""
        n = len(self.missing)
        parts = "; ".join(f"Value null at '{_lower_path(p)}' failed to satisfy constraint: Member must not be null"
                          for p in self.missing)
        return f"{n} validation error{'s' if n > 1 else ''} detected: {parts}"

    def raise_for(self, type_error: Callable[[str], CumuloError],
                  missing_error: Callable[[Problems], CumuloError]) -> None:
        if self.types:
            raise type_error(self.type_message())
        if self.missing:
            raise missing_error(self)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"[:60]
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _lower_path(path: str) -> str:
    """A member path as AWS's messages spell it: ``Entries.1.member.Id`` -> ``entries.1.member.id``."""
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))


def check(service: str, operation: str, doc: dict[str, Any]) -> Problems:
    """The problems of ``doc``, the JSON body of ``operation`` of ``service`` (botocore's names:
    ``lambda``, ``sqs`` …; ``CreateFunction`` …). Operations without a model pass."""
    problems = Problems()
    model = SHAPES.get(service)
    if model is None or operation not in model["ops"]:
        return problems
    shape = model["ops"][operation]
    if shape is not None:
        _check(model["shapes"], shape, doc, "", problems, 0)
        if not problems.types:
            _fix_integral_floats(model["shapes"], shape, doc)
    return problems


def _check(shapes: dict[str, tuple[Any, ...]], name: str, value: Any, path: str, problems: Problems,
           depth: int) -> None:
    spec = shapes[name]
    kind = spec[0]
    if kind == "structure":
        if not isinstance(value, dict):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))
            return
        members, required = spec[1], spec[2]
        for member in required:
            if value.get(member) is None:
                problems.missing.append(f"{path}.{member}" if path else member)
        for member, shape in members.items():
            item = value.get(member)
            if item is not None:
                _check(shapes, shape, item, f"{path}.{member}" if path else member, problems, depth + 1)
    elif kind == "list":
        if not isinstance(value, list):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))
            return
        for i, item in enumerate(value, 1):
            if item is not None:
                _check(shapes, spec[1], item, f"{path}.{i}.member", problems, depth + 1)
            if len(problems.types) > 10:
                return
    elif kind == "map":
        if not isinstance(value, dict):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))
            return
        for key, item in value.items():
            if item is not None:
                _check(shapes, spec[2], item, f"{path}.{key}", problems, depth + 1)
            if len(problems.types) > 10:
                return
    elif kind in ("integer", "long"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)          # 5.0: an integer (``check`` replaces it once the body passes)
        if not isinstance(value, int) or isinstance(value, bool):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))
            return
        low, high = INT_RANGE if kind == "integer" else LONG_RANGE
        if not low <= value <= high:
            java = "int" if kind == "integer" else "long"
            problems.types.append((path, f"Numeric value ({value}) out of range of {java} ({low} - {high})"))
    elif kind in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))
    elif kind == "timestamp":
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))
    elif kind in ("string", "blob"):
        if not isinstance(value, str):
            problems.types.append((path, f"Expected {_EXPECTED[kind]}, found {_kind(value)}"))


def _fix_integral_floats(shapes: dict[str, tuple[Any, ...]], name: str, doc: dict[str, Any]) -> None:
    """Replace integral floats (``5.0``) of integer members by integers, in place."""
    _fix(shapes, name, doc)


def _fix(shapes: dict[str, tuple[Any, ...]], name: str, value: Any) -> None:
    spec = shapes[name]
    kind = spec[0]
    if kind == "structure" and isinstance(value, dict):
        for member, shape in spec[1].items():
            item = value.get(member)
            if isinstance(item, float) and item.is_integer() and shapes[shape][0] in ("integer", "long"):
                value[member] = int(item)
            elif isinstance(item, (dict, list)):
                _fix(shapes, shape, item)
    elif kind == "list" and isinstance(value, list):
        item_kind = shapes[spec[1]][0]
        for i, item in enumerate(value):
            if isinstance(item, float) and item.is_integer() and item_kind in ("integer", "long"):
                value[i] = int(item)
            elif isinstance(item, (dict, list)):
                _fix(shapes, spec[1], item)
    elif kind == "map" and isinstance(value, dict):
        item_kind = shapes[spec[2]][0]
        for key, item in value.items():
            if isinstance(item, float) and item.is_integer() and item_kind in ("integer", "long"):
                value[key] = int(item)
            elif isinstance(item, (dict, list)):
                _fix(shapes, spec[2], item)


# -- REST-JSON operations: the body parsed and checked before the operation runs ------------------------------
@dataclass(frozen=True)
class Errors:
    """How one protocol reports a body it cannot take: ``body`` (not JSON, or JSON beyond
    ``json_limits``), ``type`` (a member of the wrong type) and ``missing`` (required members)."""

    body: Callable[[str], CumuloError]
    type: Callable[[str], CumuloError]
    missing: Callable[[Problems], CumuloError]


def parse_body(body: bytes, errors: Errors, what: str = "The request body") -> dict[str, Any]:
    """A request's JSON object within ``json_limits`` (an empty body is ``{}``)."""
    if not body.strip():
        return {}
    try:
        doc = json_limits.loads(body, what)
    except ValueError as exc:
        raise errors.body(str(exc)) from None
    if not isinstance(doc, dict):
        raise errors.body(f"{what} must be a JSON object")
    return doc


@dataclass(frozen=True)
class CheckedRequest(Request):
    """A request whose JSON body was parsed and checked: ``json()`` answers that document."""

    doc: Any = None

    def json(self) -> dict[str, Any]:
        return self.doc if self.doc is not None else {}


Handler = Callable[[Any, Request, dict[str, str]], Reply]


def guarded(service: str, operation: str, handler: Handler, errors: Errors, raw_body: bool = False) -> Handler:
    """``handler`` behind the body's checks: parsed within ``json_limits``, then ``check``ed
    against ``operation``'s model. ``raw_body``: the body is the operation's payload (Invoke),
    not a document; it is left alone, as are bodies of operations that have none (GET, DELETE).
    The handler returned names its operation: ``operation`` is (service, operation), what
    authorization (``api/authz``) maps to IAM's actions."""
    model = SHAPES.get(service, {}).get("ops", {})
    if raw_body or (operation in model and model[operation] is None):    # no JSON body to read
        def passed(c: Any, request: Request, params: dict[str, str]) -> Reply:
            return handler(c, request, params)

        passed.__name__ = getattr(handler, "__name__", operation)
        passed.__wrapped__ = handler      # type: ignore[attr-defined]
        passed.operation = (service, operation)      # type: ignore[attr-defined]
        return passed

    def run(c: Any, request: Request, params: dict[str, str]) -> Reply:
        doc = parse_body(request.body, errors)
        check(service, operation, doc).raise_for(errors.type, errors.missing)
        fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request) if f.init}
        fields["doc"] = doc
        return handler(c, CheckedRequest(**fields), params)

    run.__name__ = getattr(handler, "__name__", operation)
    run.__wrapped__ = handler      # type: ignore[attr-defined]
    run.operation = (service, operation)      # type: ignore[attr-defined]
    return run
