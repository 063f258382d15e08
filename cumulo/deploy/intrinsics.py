"""CloudFormation template text and intrinsic functions, evaluated purely.

``parse`` reads YAML or JSON (with the short-form tags ``!Ref``, ``!Sub``, ...)
into plain data in CloudFormation's long form: ``!Ref X`` becomes
``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": "A.B"}``. Every
mapping is a ``Node``, a dict that remembers the line it starts on and the line
of each key, so callers can say where a fault is.

``resolve`` evaluates intrinsic functions against a ``Scope`` (parameters,
mappings, condition values, and a lookup for resource attributes), and
``evaluate_conditions`` evaluates a ``Conditions`` section. Both raise
``IntrinsicError``, which knows the line of the innermost node it came from;
``cumulo.deploy.template`` and the resource kinds (``cumulo.deploy.kinds``) add
which resource or output was being read and turn it into a ``TemplateError``.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = [
    "IntrinsicError",
    "ConditionError",
    "Node",
    "NO_VALUE",
    "Scope",
    "parse",
    "resolve",
    "evaluate_conditions",
    "is_intrinsic",
    "to_str",
]


class IntrinsicError(Exception):
    """A template fault found while reading text or evaluating a function."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class Node(dict[str, Any]):
    """A template mapping that remembers where it was written (1-based lines)."""

    def __init__(self, *args: Any, line: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


# What ``Ref: AWS::NoValue`` evaluates to: the enclosing key or list item is dropped.
NO_VALUE: Any = _NoValue()


def to_str(value: Any) -> str:
    """A scalar as CloudFormation sees it: everything is a string in the end."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise IntrinsicError(f"expected a string, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def is_intrinsic(value: Any) -> bool:
    """Whether ``value`` is one intrinsic function call (``Ref`` or ``Fn::*``)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::"))


# --- text -----------------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings, tracks lines and knows CloudFormation's tags."""


# CloudFormation reads ``AWSTemplateFormatVersion: 2010-09-09`` as a string, not a date.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Node:
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)   # puts ``<<: *anchor`` entries first; the map's own entries override them
    merged = len(node.value) - own
    out = Node(line=_line(node))
    inherited: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        if not isinstance(key_node, yaml.ScalarNode):
            raise IntrinsicError("mapping keys must be strings", _line(key_node))
        try:
            key = to_str(loader.construct_object(key_node, deep=True))
        except IntrinsicError as exc:
            raise IntrinsicError(f"mapping key: {exc.message}", _line(key_node)) from None
        if key in out and key not in inherited:
            raise IntrinsicError(f"duplicate key '{key}'", _line(key_node))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = _line(key_node)
        if index < merged:
            inherited.add(key)
        else:
            inherited.discard(key)
    return out


def _construct_tag(name: str, loader: _Loader, node: yaml.Node) -> Node:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = _construct_map(loader, node)
    key = name if name in ("Ref", "Condition") else f"Fn::{name}"
    out = Node({key: value}, line=_line(node))
    out.key_lines[key] = _line(node)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
for _name in ("Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not",
              "And", "Or", "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Length",
              "ToJsonString", "Transform"):
    _Loader.add_constructor(f"!{_name}", functools.partial(_construct_tag, _name))


def parse(text: str) -> Any:
    """Template text (YAML or JSON) to data in CloudFormation's long form."""
    if text.lstrip().startswith("{"):
        # Valid JSON has no raw tab inside a string, so every tab is indentation,
        # which YAML refuses; a space means the same to JSON.
        text = text.replace("\t", " ")
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "malformed text"
        raise IntrinsicError(f"not valid YAML or JSON: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise IntrinsicError(f"not valid YAML or JSON: {exc}") from None


# --- evaluation ----------------------------------------------------------------------------

def _no_resources(logical_id: str, attribute: str) -> Any:
    raise IntrinsicError(f"'{logical_id}' is not a parameter or pseudo parameter")


@dataclass(frozen=True)
class Scope:
    """What names mean while resolving.

    ``parameters`` holds the template's parameters and the pseudo parameters
    (``AWS::Region`` ...); ``lookup(logical_id, attribute)`` answers ``Ref``
    (attribute ``"Ref"``) and ``Fn::GetAtt`` for resources, raising
    ``IntrinsicError`` for what it does not know.
    """

    parameters: Mapping[str, Any]
    mappings: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, bool] = field(default_factory=dict)
    lookup: Callable[[str, str], Any] = _no_resources


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every intrinsic function evaluated; may be ``NO_VALUE``."""
    try:
        return _resolve(value, scope)
    except IntrinsicError as exc:
        if not exc.line and isinstance(value, Node) and value.line:
            exc.line = value.line
        raise


def _resolve(value: Any, scope: Scope) -> Any:
    if value is None:
        raise IntrinsicError("'null' values are not allowed in templates")
    if isinstance(value, dict):
        if is_intrinsic(value):
            name, args = next(iter(value.items()))
            return _call(name, args, scope)
        out = Node(line=getattr(value, "line", 0))
        for key, item in value.items():
            resolved = resolve(item, scope)
            if resolved is not NO_VALUE:
                out[key] = resolved
                out.key_lines[key] = value.line_of(key) if isinstance(value, Node) else 0
        return out
    if isinstance(value, list):
        return [r for r in (resolve(item, scope) for item in value) if r is not NO_VALUE]
    return value


def _call(name: str, args: Any, scope: Scope) -> Any:
    handler = _FUNCTIONS.get(name)
    if handler is None:
        if name in _CONDITION_ONLY:
            raise IntrinsicError(f"{name} can only be used in the Conditions section")
        if name == "Fn::ImportValue":
            raise IntrinsicError("Fn::ImportValue is not supported: Cumulo deploys each stack on its "
                                 "own and has no cross-stack exports")
        if name == "Fn::Transform":
            raise IntrinsicError("Fn::Transform is not supported but for AWS::Include: Cumulo runs no macros")
        raise IntrinsicError(f"intrinsic function {name} is not supported")
    return handler(args, scope)


def _string(value: Any, scope: Scope, what: str) -> str:
    resolved = resolve(value, scope)
    try:
        return to_str(resolved)
    except IntrinsicError:
        raise IntrinsicError(f"{what} must be a string, got {_kind(resolved)}") from None


def _args(args: Any, count: int, name: str, shape: str) -> list[Any]:
    if not isinstance(args, list) or len(args) != count:
        raise IntrinsicError(f"{name} takes {shape}")
    return args


def _ref(args: Any, scope: Scope) -> Any:
    if not isinstance(args, str):
        raise IntrinsicError(f"Ref takes a name, got {_kind(args)}")
    if args == "AWS::NoValue":
        return NO_VALUE
    if args in scope.parameters:
        return scope.parameters[args]
    if args.startswith("AWS::"):
        raise IntrinsicError(f"unknown pseudo parameter '{args}'")
    return scope.lookup(args, "Ref")


def _get_att(args: Any, scope: Scope) -> Any:
    if isinstance(args, str):
        logical_id, dot, attribute = args.partition(".")
        if not dot or not logical_id or not attribute:
            raise IntrinsicError(f"Fn::GetAtt takes 'LogicalId.Attribute', got '{args}'")
    else:
        logical_id, attribute = _args(args, 2, "Fn::GetAtt", "[LogicalId, Attribute]")
        if not isinstance(logical_id, str):
            raise IntrinsicError("Fn::GetAtt's logical id must be a string")
        attribute = _string(attribute, scope, "Fn::GetAtt's attribute")
    return scope.lookup(logical_id, attribute)


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
# SAM's references to what it generates (``!Ref MyFunction.Alias``), which its transform also resolves in Fn::Sub.
_SAM_REFERENCES = (".Alias", ".Version", ".Stage", ".Deployment", ".DomainName")


def _sub(args: Any, scope: Scope) -> str:
    if isinstance(args, list):
        text, variables = _args(args, 2, "Fn::Sub", "a string or [string, {variables}]")
        if not isinstance(variables, dict):
            raise IntrinsicError("Fn::Sub's variables must be a map")
        values = {k: _string(v, scope, f"Fn::Sub variable '{k}'") for k, v in variables.items()}
    else:
        text, values = args, {}
    if not isinstance(text, str):
        raise IntrinsicError(f"Fn::Sub's template must be a string, got {_kind(text)}")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in values:
            return values[name]
        if "." in name and not name.startswith("AWS::"):
            if name.endswith(_SAM_REFERENCES):      # SAM resolves ${Function.Alias} in Fn::Sub as !Ref Function.Alias
                try:
                    return _string(Node({"Ref": name}), scope, f"${{{name}}}")
                except IntrinsicError:
                    pass
            return _string(Node({"Fn::GetAtt": name}), scope, f"${{{name}}}")
        if not name:
            raise IntrinsicError("Fn::Sub has an empty variable '${}'")
        return _string(Node({"Ref": name}), scope, f"${{{name}}}")

    return _SUB_VAR.sub(substitute, text)


def _list(value: Any, scope: Scope, what: str) -> list[Any]:
    resolved = resolve(value, scope)
    if not isinstance(resolved, list):
        raise IntrinsicError(f"{what} must be a list, got {_kind(resolved)}")
    return resolved


def _join(args: Any, scope: Scope) -> str:
    delimiter, items = _args(args, 2, "Fn::Join", "[delimiter, [values]]")
    sep = _string(delimiter, scope, "Fn::Join's delimiter")
    parts = _list(items, scope, "Fn::Join's values")
    try:
        return sep.join(to_str(p) for p in parts)
    except IntrinsicError:
        raise IntrinsicError("Fn::Join's values must be strings") from None


def _select(args: Any, scope: Scope) -> Any:
    index, items = _args(args, 2, "Fn::Select", "[index, [values]]")
    raw = _string(index, scope, "Fn::Select's index")
    if not raw.isdigit():
        raise IntrinsicError(f"Fn::Select's index must be a non-negative integer, got '{raw}'")
    values = _list(items, scope, "Fn::Select's values")
    if int(raw) >= len(values):
        raise IntrinsicError(f"Fn::Select's index {raw} is out of range for a list of {len(values)}")
    return values[int(raw)]


def _split(args: Any, scope: Scope) -> list[str]:
    delimiter, source = _args(args, 2, "Fn::Split", "[delimiter, string]")
    sep = _string(delimiter, scope, "Fn::Split's delimiter")
    if not sep:
        raise IntrinsicError("Fn::Split's delimiter must not be empty")
    return _string(source, scope, "Fn::Split's source").split(sep)


def _if(args: Any, scope: Scope) -> Any:
    name, when_true, when_false = _args(args, 3, "Fn::If", "[condition, value_if_true, value_if_false]")
    if not isinstance(name, str) or name not in scope.conditions:
        raise IntrinsicError(f"Fn::If names an unknown condition '{name}'")
    return resolve(when_true if scope.conditions[name] else when_false, scope)


def _find_in_map(args: Any, scope: Scope) -> Any:
    """``[MapName, TopLevelKey, SecondLevelKey]``, and AWS::LanguageExtensions' fourth ``{DefaultValue: v}``,
    the answer when a key is not there."""
    if isinstance(args, list) and len(args) == 4:
        options = args[3]
        if not isinstance(options, dict) or set(options) != {"DefaultValue"}:
            raise IntrinsicError("Fn::FindInMap's fourth argument must be {DefaultValue: value}")
        try:
            return _find_in_map(args[:3], scope)
        except IntrinsicError as exc:
            if not exc.message.startswith("Fn::FindInMap: no "):
                raise
            return resolve(options["DefaultValue"], scope)
    name, top, second = (_string(a, scope, "Fn::FindInMap's key") for a in
                         _args(args, 3, "Fn::FindInMap", "[MapName, TopLevelKey, SecondLevelKey]"))
    table: Any = scope.mappings
    for key, what in ((name, "mapping"), (top, f"key in mapping {name}"), (second, f"key in {name}.{top}")):
        if not isinstance(table, dict) or key not in table:
            raise IntrinsicError(f"Fn::FindInMap: no {what} '{key}'")
        table = table[key]
    return table


def _base64(args: Any, scope: Scope) -> str:
    return base64.b64encode(_string(args, scope, "Fn::Base64's value").encode()).decode()


def _get_azs(args: Any, scope: Scope) -> list[str]:
    # One stand-in availability zone list per region, as stable as AWS's answer.
    region = _string(args, scope, "Fn::GetAZs's region") or to_str(scope.parameters["AWS::Region"])
    return [f"{region}{zone}" for zone in "abc"]


def _cidr(args: Any, scope: Scope) -> list[str]:
    """``[ipBlock, count, cidrBits]``: the first ``count`` blocks of ``cidrBits`` host bits each in ``ipBlock``, in
    order (IPv4 or IPv6), as CloudFormation carves subnets."""
    block, count, bits = _args(args, 3, "Fn::Cidr", "[ipBlock, count, cidrBits]")
    text = _string(block, scope, "Fn::Cidr's ipBlock")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise IntrinsicError(f"Fn::Cidr's ipBlock '{text}' is not a CIDR block") from None
    how_many, host_bits = (_number(v, scope, f"Fn::Cidr's {what}") for v, what in ((count, "count"), (bits, "cidrBits")))
    if not 1 <= how_many <= 256:
        raise IntrinsicError(f"Fn::Cidr's count must be 1 to 256, got {how_many}")
    prefix = network.max_prefixlen - host_bits
    if host_bits < 1 or prefix < network.prefixlen:
        raise IntrinsicError(f"Fn::Cidr's cidrBits {host_bits} does not fit in {network} "
                             f"(1 to {network.max_prefixlen - network.prefixlen})")
    if how_many > 2 ** (prefix - network.prefixlen):
        raise IntrinsicError(f"Fn::Cidr: {network} holds {2 ** (prefix - network.prefixlen)} blocks of /{prefix}, "
                             f"not {how_many}")
    subnets = network.subnets(new_prefix=prefix)
    return [str(next(subnets)) for _ in range(how_many)]


def _number(value: Any, scope: Scope, what: str) -> int:
    raw = _string(value, scope, what)
    if not re.fullmatch(r"\d+", raw):
        raise IntrinsicError(f"{what} must be a non-negative integer, got '{raw}'")
    return int(raw)


def _to_json_string(args: Any, scope: Scope) -> str:
    """A map or list, resolved, as compact JSON (AWS::LanguageExtensions)."""
    value = resolve(args, scope)
    if not isinstance(value, (dict, list)):
        raise IntrinsicError(f"Fn::ToJsonString takes a map or a list, got {_kind(value)}")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _length(args: Any, scope: Scope) -> int:
    """The number of items of a list (AWS::LanguageExtensions)."""
    return len(_list(args, scope, "Fn::Length's argument"))


_FUNCTIONS: dict[str, Callable[[Any, Scope], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": _base64,
    "Fn::GetAZs": _get_azs,
    "Fn::Cidr": _cidr,
    "Fn::ToJsonString": _to_json_string,
    "Fn::Length": _length,
}
_CONDITION_ONLY = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"})


# --- conditions ----------------------------------------------------------------------------

def evaluate_conditions(conditions: Mapping[str, Any], scope: Scope) -> dict[str, bool]:
    """Every condition's value; faults are ``ConditionError``s naming their condition."""
    done: dict[str, bool] = {}
    for name in conditions:
        _named_condition(name, conditions, scope, done, ())
    return done


class ConditionError(IntrinsicError):
    """A fault inside the ``Conditions`` section, attributed to the condition it is in."""

    def __init__(self, message: str, line: int | None, condition: str) -> None:
        super().__init__(message, line)
        self.condition = condition


def _named_condition(name: Any, conditions: Mapping[str, Any], scope: Scope,
                     done: dict[str, bool], chain: tuple[str, ...]) -> bool:
    if not isinstance(name, str) or name not in conditions:
        raise IntrinsicError(f"unknown condition '{name}'")
    if name in done:
        return done[name]
    line = conditions.line_of(name) if isinstance(conditions, Node) else None
    if name in chain:
        raise ConditionError(f"depends on itself: {' -> '.join((*chain, name))}", line, name)
    try:
        value = _condition(conditions[name], conditions, scope, done, (*chain, name))
    except ConditionError:
        raise
    except IntrinsicError as exc:
        raise ConditionError(exc.message, exc.line or line, name) from None
    done[name] = value
    return value


def _condition(expr: Any, conditions: Mapping[str, Any], scope: Scope,
               done: dict[str, bool], chain: tuple[str, ...]) -> bool:
    line = expr.line if isinstance(expr, Node) else None
    if not isinstance(expr, dict) or len(expr) != 1:
        raise IntrinsicError("a condition must be one of Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition", line)
    (name, args), = expr.items()

    def sub(item: Any) -> bool:
        return _condition(item, conditions, scope, done, chain)

    if name == "Condition":
        return _named_condition(args, conditions, scope, done, chain)
    if name == "Fn::Equals":
        left, right = _args(args, 2, "Fn::Equals", "[value, value]")
        return bool(_canonical(resolve(left, scope)) == _canonical(resolve(right, scope)))
    if name == "Fn::Not":
        return not sub(_args(args, 1, "Fn::Not", "[condition]")[0])
    if name in ("Fn::And", "Fn::Or"):
        if not isinstance(args, list) or not 2 <= len(args) <= 10:
            raise IntrinsicError(f"{name} takes a list of 2 to 10 conditions", line)
        results = [sub(item) for item in args]
        return all(results) if name == "Fn::And" else any(results)
    raise IntrinsicError(f"{name} is not a condition function", line)


def _canonical(value: Any) -> Any:
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return to_str(value)
