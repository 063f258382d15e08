"""What a rule's target receives: the event, a constant, a part of it, or a filled-in template.

A target sets at most one of ``Input`` (constant JSON text), ``InputPath`` (a JSONPath into
the event) and ``InputTransformer`` (``InputPathsMap`` + ``InputTemplate``); with none it gets
the whole event. ``compile_target_input`` validates that choice once, when targets are put;
``TargetInput.render`` produces the payload for each matched event. All pure: the rule's name
and ARN and the event's ingestion time are passed in.

Input transformers, as AWS documents them ("Amazon EventBridge input transformation",
``InputTransformer`` in the API reference):

* ``InputPathsMap``: up to 100 variables, names of letters, digits, ``_`` and ``-``; each value
  a JSON path (``_jsonpath.py``) of at most 256 characters. A path the event does not have
  creates no variable.
* Reserved variables, usable without a path: ``aws.events.rule-name``, ``aws.events.rule-arn``,
  ``aws.events.event.ingestion-time`` (an ISO 8601 timestamp), ``aws.events.event`` (the
  event without its ``detail``) and ``aws.events.event.json`` (the whole event).
* ``InputTemplate`` (1–8192 characters) names variables as ``<name>``; a name that is neither
  defined nor reserved is refused: "InputTemplate for target X contains invalid placeholder Y."
* A template that is a JSON object (it starts with ``{``) is JSON: a placeholder outside a
  string becomes the variable's JSON (strings quoted); a placeholder may not be an object key;
  the JSON passed on is minified. Any other template is text: variables are put in as text.
* Inside a string (between quotes) a variable is put in as text, *not escaped* ("EventBridge
  doesn't escape values extracted by Input Path"); an object or array loses its inner quotes
  ("EventBridge removes any internal quotes to ensure a valid string").
* ``Input`` must be valid JSON ("Input for target X is not a valid JSON text."), at most 8192
  characters; ``InputPath`` at most 256.

Rules we chose where AWS is silent, each for a reason:

* A variable with no value (its path is not in the event) becomes ``null`` where JSON is
  expected and nothing inside a string or a text template: the output stays valid JSON,
  which is what a target such as Lambda needs; AWS only says the variable "won't appear".
* A template starting with ``[`` is JSON as well (a JSON array is as much JSON as an object).
* An ``InputPath`` that finds nothing delivers ``null``.
* Error texts AWS's documentation does not show are written in its style (the
  "1 validation error detected" form for length and count constraints).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cumulo.errors import ValidationException
from cumulo.events._jsonpath import MISSING, JsonPath, parse_json_path
from cumulo.model import json_limits

__all__ = [
    "MAX_INPUT_PATHS",
    "PREDEFINED_VARIABLES",
    "InputTransformer",
    "TargetInput",
    "apply_input_path",
    "compile_input_transformer",
    "compile_target_input",
]

MAX_INPUT_PATHS: Final = 100
MAX_TEMPLATE_LENGTH: Final = 8192
MAX_INPUT_LENGTH: Final = 8192
MAX_PATH_LENGTH: Final = 256
MAX_KEY_LENGTH: Final = 256

RULE_NAME: Final = "aws.events.rule-name"
RULE_ARN: Final = "aws.events.rule-arn"
EVENT: Final = "aws.events.event"
EVENT_JSON: Final = "aws.events.event.json"
INGESTION_TIME: Final = "aws.events.event.ingestion-time"
PREDEFINED_VARIABLES: Final = frozenset({RULE_NAME, RULE_ARN, EVENT, EVENT_JSON, INGESTION_TIME})

_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_\-.]+)>")
_MARK: Final = "\ue000"  # stands in for a placeholder inside a string while the template is checked


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _target(target_id: str) -> str:
    return f" for target {target_id}" if target_id else ""


def _too_long(where: str, limit: int) -> ValidationException:
    return ValidationException(f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
                               f"Member must have length less than or equal to {limit}")


# --- input transformers ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Slot:
    name: str
    in_string: bool


@dataclass(frozen=True)
class InputTransformer:
    """A validated ``InputTransformer``; ``render`` fills its template for one event."""

    paths: Mapping[str, JsonPath]
    template: str
    is_json: bool
    parts: tuple[str | _Slot, ...]

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, _Slot))

    def render(self, event: Mapping[str, Any], rule_name: str, rule_arn: str,
               ingestion_time: str | datetime | None = None) -> str:
        values: dict[str, Any] = {name: path.find(event) for name, path in self.paths.items()}
        values[RULE_NAME] = rule_name
        values[RULE_ARN] = rule_arn
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name = part.name
            if name == EVENT:
                value: Any = {k: v for k, v in event.items() if k != "detail"}
            elif name == EVENT_JSON:
                value = event
            elif name == INGESTION_TIME:
                if ingestion_time is None:
                    raise ValueError(f"the template uses <{INGESTION_TIME}>: pass ingestion_time")
                value = _timestamp(ingestion_time)
            else:
                value = values[name]
            out.append(self._text(value, part.in_string))
        return "".join(out)

    def _text(self, value: Any, in_string: bool) -> str:
        if value is MISSING:
            return "null" if self.is_json and not in_string else ""
        if isinstance(value, str) and (in_string or not self.is_json):
            return value
        if in_string and isinstance(value, (dict, list)):
            return _dumps(value).replace('"', "")
        return _dumps(value)


def _timestamp(moment: str | datetime) -> str:
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def compile_input_transformer(paths_map: Mapping[str, Any] | None, template: Any, *,
                              target_id: str = "") -> InputTransformer:
    """Validate an ``InputTransformer`` as PutTargets does; raises ``ValidationException``."""
    paths = _paths_map({} if paths_map is None else paths_map, target_id)
    if not isinstance(template, str):
        raise ValidationException("1 validation error detected: Value null at 'inputTransformer.inputTemplate' "
                                  "failed to satisfy constraint: Member must not be null")
    if not template:
        raise ValidationException("1 validation error detected: Value at 'inputTransformer.inputTemplate' failed "
                                  "to satisfy constraint: Member must have length greater than or equal to 1")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise _too_long("inputTransformer.inputTemplate", MAX_TEMPLATE_LENGTH)
    is_json = template.lstrip().startswith(("{", "["))
    parts = _scan(template, is_json)
    for part in parts:
        if isinstance(part, _Slot) and part.name not in paths and part.name not in PREDEFINED_VARIABLES:
            raise ValidationException(f"InputTemplate{_target(target_id)} contains invalid placeholder {part.name}.")
    if is_json:
        _check_json_template(parts, target_id)
    return InputTransformer(paths, template, is_json, parts)


def _paths_map(paths_map: Any, target_id: str) -> dict[str, JsonPath]:
    if not isinstance(paths_map, Mapping):
        raise ValidationException(f"InputPathsMap{_target(target_id)} must be a map of names to JSON paths.")
    if len(paths_map) > MAX_INPUT_PATHS:
        raise ValidationException("1 validation error detected: Value at 'inputTransformer.inputPathsMap' failed "
                                  f"to satisfy constraint: Member must have length less than or equal to "
                                  f"{MAX_INPUT_PATHS}")
    paths: dict[str, JsonPath] = {}
    for key, text in paths_map.items():
        if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
            raise ValidationException("1 validation error detected: Value at 'inputTransformer.inputPathsMap' failed "
                                      "to satisfy constraint: Map keys must satisfy constraint: [Member must have "
                                      f"length less than or equal to {MAX_KEY_LENGTH}, Member must satisfy regular "
                                      r"expression pattern: [A-Za-z0-9\_\-]+]")
        if isinstance(text, str) and len(text) > MAX_PATH_LENGTH:
            raise _too_long("inputTransformer.inputPathsMap", MAX_PATH_LENGTH)
        path = parse_json_path(text)
        if path is None:
            raise ValidationException(f"InputPathsMap{_target(target_id)} contains an invalid JSON path for {key}: "
                                      f"{text!r}.")
        paths[key] = path
    return paths


def _scan(template: str, is_json: bool) -> tuple[str | _Slot, ...]:
    """The template as literal text and placeholders, each knowing whether it is inside a
    string; a JSON template loses its whitespace outside strings (AWS minifies it)."""
    parts: list[str | _Slot] = []
    buf: list[str] = []
    in_string = False
    i, end = 0, len(template)
    while i < end:
        ch = template[i]
        if ch == "<" and (found := _PLACEHOLDER.match(template, i)) is not None:
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(_Slot(found.group(1), in_string))
            i = found.end()
            continue
        if ch == "\\" and in_string:
            buf.append(template[i:i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        if in_string or not is_json or not ch.isspace():
            buf.append(ch)
        i += 1
    if buf:
        parts.append("".join(buf))
    return tuple(parts)


def _check_json_template(parts: tuple[str | _Slot, ...], target_id: str) -> None:
    probe = "".join(p if isinstance(p, str) else (_MARK if p.in_string else "null") for p in parts)
    try:
        document = json_limits.loads(probe, "InputTemplate")
    except ValueError:
        raise ValidationException(f"InputTemplate{_target(target_id)} is not a valid JSON text.") from None
    todo = [document]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if any(_MARK in key for key in node):
                raise ValidationException(f"InputTemplate{_target(target_id)} uses a placeholder as an object key, "
                                          "which a JSON template does not allow.")
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)


# --- InputPath and the choice between the three ----------------------------------------------

def apply_input_path(event: Mapping[str, Any], path: str) -> Any:
    """The part of ``event`` at ``path`` (``$`` is all of it); None when it has none."""
    parsed = parse_json_path(path)
    if parsed is None:
        raise ValidationException(f"InputPath {path!r} is not a valid JSON path.")
    found = parsed.find(event)
    return None if found is MISSING else found


@dataclass(frozen=True)
class TargetInput:
    """A target's validated input choice. At most one of ``input``, ``input_path`` and
    ``transformer`` is set; with none the target receives the event."""

    target_id: str = ""
    input: str | None = None
    input_path: JsonPath | None = None
    transformer: InputTransformer | None = None

    def render(self, event: Mapping[str, Any], *, rule_name: str, rule_arn: str,
               ingestion_time: str | datetime | None = None) -> str:
        """The payload for one matched event, as text (JSON except for text templates)."""
        if self.input is not None:
            return self.input
        if self.input_path is not None:
            found = self.input_path.find(event)
            return _dumps(None if found is MISSING else found)
        if self.transformer is not None:
            return self.transformer.render(event, rule_name, rule_arn, ingestion_time)
        return _dumps(event)


def compile_target_input(target: Mapping[str, Any]) -> TargetInput:
    """Validate the ``Input``/``InputPath``/``InputTransformer`` of one PutTargets entry."""
    target_id = str(target.get("Id", ""))
    given = [k for k in ("Input", "InputPath", "InputTransformer") if target.get(k) is not None]
    if len(given) > 1:
        raise ValidationException(f"Input, InputPath and InputTransformer are mutually exclusive{_target(target_id)}: "
                                  f"got {', '.join(given)}.")
    if not given:
        return TargetInput(target_id)
    kind = given[0]
    value = target[kind]
    if kind == "Input":
        if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH:
            raise _too_long("targets.member.input", MAX_INPUT_LENGTH)
        try:
            json_limits.loads(value, "Input")
        except ValueError:
            raise ValidationException(f"Input{_target(target_id)} is not a valid JSON text.") from None
        return TargetInput(target_id, input=value)
    if kind == "InputPath":
        if isinstance(value, str) and len(value) > MAX_PATH_LENGTH:
            raise _too_long("targets.member.inputPath", MAX_PATH_LENGTH)
        path = parse_json_path(value)
        if path is None:
            raise ValidationException(f"InputPath{_target(target_id)} is not a valid JSON path: {value!r}.")
        return TargetInput(target_id, input_path=path)
    if not isinstance(value, Mapping):
        raise ValidationException(f"InputTransformer{_target(target_id)} must be an object with InputTemplate.")
    transformer = compile_input_transformer(value.get("InputPathsMap"), value.get("InputTemplate"),
                                            target_id=target_id)
    return TargetInput(target_id, transformer=transformer)
