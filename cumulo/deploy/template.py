"""A CloudFormation template, SAM or plain (a subset), read into typed, validated resources.

``load_template`` reads a template, checks it as CloudFormation and SAM would, and returns a
``Template`` of resources; ``resolve_outputs`` fills in the ``Outputs`` once the deploy engine knows
the attributes of what it made. Both are pure apart from reading the template and the files it names
(``CodeUri``, ``ContentUri``, ``DefinitionUri``). Faults are ``TemplateError``s naming the resource
(or parameter, condition, output) and the line it is written on.

This module reads the sections — ``Transform: AWS::Serverless-2016-10-31`` (with
``AWS::LanguageExtensions`` or not; without it the template is plain CloudFormation, whose own
``AWS::Lambda::*`` types are read by the same kinds: ``cumulo.deploy.lambda_resources``; ``AWS::Include``
snippets are put in first: ``cumulo.deploy.include``), ``Parameters`` (every type CloudFormation has, checked as it checks them;
``AWS::SSM::Parameter::Value<…>`` read from Parameter Store, and dynamic references ``{{resolve:…}}`` in
``Resources`` replaced, through ``references``: ``cumulo.deploy.references``), ``Mappings``, ``Conditions``, ``Globals`` (each
kind reads its own part), ``Resources``, ``Outputs`` — resolves intrinsics and hands each resource to
its kind (``cumulo.deploy.kinds``: one module per kind, ``KINDS`` the registry; a type no kind reads is
refused): every kind names its resources first, so properties may ``Ref``/``Fn::GetAtt`` any resource
of the template and parameters and pseudo parameters, then reads them; SAM's implicit resources (a
function's events) are resources of other kinds (``Template.all_resources``). In ``Outputs`` the
deploy engine's attributes come first, so implicit SAM resources such as ``ServerlessRestApi``
resolve once it provides them.
"""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cumulo.deploy.include import expand_includes
from cumulo.deploy.references import Lookup, ReferenceError_, resolve_references
from cumulo.deploy.intrinsics import (
    NO_VALUE, ConditionError, IntrinsicError, Node, Scope, evaluate_conditions, parse, resolve, to_str,
)
from cumulo.deploy.kinds import KINDS, ResourceKind
from cumulo.deploy.kinds.base import Attributes, Entry, Load, TemplateError, error as _error
from cumulo.deploy.kinds.function import FunctionResource, default_function_name
from cumulo.deploy.kinds.inert import INERT_TYPES, missing_reason
from cumulo.deploy.kinds.topic import sqs_subscriptions
from cumulo.model.function import Arns

__all__ = [
    "SERVERLESS_TRANSFORM",
    "TemplateError",
    "Template",
    "FunctionResource",
    "load_template",
    "resolve_outputs",
    "check_event_types",
    "default_stack_name",
    "default_function_name",
    "stack_id",
]

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
_SECTIONS = frozenset({"AWSTemplateFormatVersion", "Description", "Metadata", "Transform", "Globals",
                       "Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs"})
_RESOURCE_KEYS = frozenset({"Type", "Properties", "Condition", "DependsOn", "Metadata", "DeletionPolicy",
                            "UpdateReplacePolicy", "Description", "CreationPolicy", "UpdatePolicy", "Connectors"})
_DELETION_POLICIES = ("Delete", "Retain", "RetainExceptOnCreate", "Snapshot")
_UPDATE_REPLACE_POLICIES = ("Delete", "Retain", "Snapshot")
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
# Parameter types whose value is an id of the account's resources: AWS checks that they exist, Cumulo their shape.
_AWS_PARAMETER_TYPES: dict[str, str] = {
    "AWS::EC2::AvailabilityZone::Name": r"[a-z]{2}(-[a-z]+)+-\d[a-z]", "AWS::EC2::Image::Id": r"ami-[0-9a-f]{8,17}",
    "AWS::EC2::Instance::Id": r"i-[0-9a-f]{8,17}", "AWS::EC2::KeyPair::KeyName": r".{1,255}",
    "AWS::EC2::SecurityGroup::GroupName": r".{1,255}", "AWS::EC2::SecurityGroup::Id": r"sg-[0-9a-f]{8,17}",
    "AWS::EC2::Subnet::Id": r"subnet-[0-9a-f]{8,17}", "AWS::EC2::Volume::Id": r"vol-[0-9a-f]{8,17}",
    "AWS::EC2::VPC::Id": r"vpc-[0-9a-f]{8,17}", "AWS::Route53::HostedZone::Id": r"[A-Z0-9]{1,32}",
    "AWS::SSM::Parameter::Name": r"[a-zA-Z0-9_.\-/]{1,2048}",
}
_PLAIN_PARAMETER_TYPES = ("String", "Number", "List<Number>", "CommaDelimitedList")
_PARAMETER_KEYS = frozenset({"Type", "Default", "AllowedValues", "AllowedPattern", "Description", "NoEcho",
                             "MinLength", "MaxLength", "MinValue", "MaxValue", "ConstraintDescription"})
_OUTPUT_KEYS = frozenset({"Value", "Description", "Condition", "Export"})
_STACK_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_LOGICAL_ID_RE = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Template:
    stack_name: str
    resources: dict[str, list[Any]]     # kind -> its resources as read (cumulo.deploy.kinds), kinds' own order
    outputs: dict[str, Any]             # raw (long-form intrinsics); see resolve_outputs
    parameters: dict[str, str | list[str]]
    path: Path
    region: str = "us-east-1"
    account_id: str = "000000000000"
    description: str = ""
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    retain: frozenset[str] = frozenset()     # logical ids with DeletionPolicy Retain (or RetainExceptOnCreate)
    no_echo: frozenset[str] = frozenset()    # parameters declared NoEcho: shown as **** (DescribeStacks)
    types: dict[str, str] = field(default_factory=dict)    # logical id -> Type, of the resources deployed
    text: str = ""                           # the template as written (GetTemplate)
    notes: tuple[str, ...] = ()              # warnings of the template itself (keys SAM's transform ignores)

    def all_resources(self) -> list[tuple[ResourceKind, Any]]:
        """Every resource with its kind: those read, then the implicit ones they make (``Registry.expand``)."""
        return KINDS.expand(self.resources)

    def of(self, kind: str) -> list[Any]:
        """Every resource of ``kind``, read and implicit (``of("rule")``: rules and the rules of events)."""
        return [spec for k, spec in self.all_resources() if k.name == kind]

    def with_resources(self, kind: str, specs: list[Any]) -> Template:
        return replace(self, resources={**self.resources, kind: list(specs)})

    # The resources of this build's kinds, as read (implicit ones: ``of``).
    @property
    def functions(self) -> list[FunctionResource]:
        return self.resources.get("function", [])

    @property
    def apis(self) -> list[Any]:
        """HttpApi resources and the implicit APIs, with their routes."""
        return self.resources.get("api", [])

    @property
    def queues(self) -> list[Any]:
        """Dead-letter queues before their sources."""
        return self.resources.get("queue", [])

    @property
    def streams(self) -> list[Any]:
        return self.resources.get("stream", [])

    @property
    def buses(self) -> list[Any]:
        return self.resources.get("event bus", [])

    @property
    def rules(self) -> list[Any]:
        """AWS::Events::Rule resources (the rules of functions' and state machines' events: ``of("rule")``)."""
        return self.resources.get("rule", [])

    @property
    def machines(self) -> list[Any]:
        return self.resources.get("state machine", [])

    @property
    def layers(self) -> list[Any]:
        return self.resources.get("layer", [])

    def function(self, logical_id: str) -> FunctionResource:
        for fn in self.functions:
            if fn.logical_id == logical_id:
                return fn
        raise KeyError(logical_id)


# --- entry points ----------------------------------------------------------------------------

def load_template(path: Path, parameters: Mapping[str, str] | None = None, stack_name: str | None = None,
                  region: str = "us-east-1", account_id: str = "000000000000",
                  queue_endpoint: str = "http://localhost:9000", references: Lookup | None = None) -> Template:
    """Read and check the SAM template at ``path``; ``stack_name`` defaults to its folder's name.

    ``queue_endpoint`` is where queue URLs (a queue's ``Ref``) point; ``references`` reads Parameter Store
    and Secrets Manager for SSM parameter types and dynamic references (without it they are refused)."""
    path = Path(path).absolute()
    stack = _stack_name(stack_name, path)
    text, doc = _read(path)
    sam = _check_sections(doc, path)
    values = _parameters(_section(doc, "Parameters"), dict(parameters or {}), references)
    try:
        resolve_references(_section(doc, "Resources"), references)
    except ReferenceError_ as exc:
        raise TemplateError(f"Resources: {exc}") from None
    scope = Scope({**_pseudo_parameters(stack, region, account_id), **values}, _mappings(doc))
    scope = Scope(scope.parameters, scope.mappings, _conditions(doc, scope))
    entries = _resource_entries(doc, scope.conditions, sam)
    load = Load(stack, region, account_id, path.parent, _section(doc, "Globals"), queue_endpoint, scope, scope)
    resources = _read_resources(entries, load)
    description = doc.get("Description")
    declared = _section(doc, "Resources")
    retain = frozenset(lid for lid, r in declared.items()
                       if isinstance(r, dict) and r.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"))
    params = _section(doc, "Parameters")
    no_echo = frozenset(name for name, spec in params.items() if str(spec.get("NoEcho", "")).lower() == "true")
    template = Template(stack, resources, _outputs(doc, scope.conditions), values, path, region, account_id,
                        description if isinstance(description, str) else "", dict(scope.conditions),
                        dict(scope.mappings), retain, no_echo, {e.logical_id: e.type for e in entries}, text,
                        _ignored_attributes(doc, sam))
    _resolve(template, _dry_run_lookup(template))   # refuse unresolvable Outputs now, not after deploying
    return template


def resolve_outputs(template: Template, attributes: Mapping[tuple[str, str], Any] | None = None, *,
                    omit_unresolved: bool = False) -> dict[str, str]:
    """The template's ``Outputs`` (name -> value), given what the deploy engine knows.

    ``attributes`` maps ``(logical_id, attribute)`` to a value; ``Ref`` is looked
    up as attribute ``"Ref"`` (``("ServerlessRestApi", "Ref")`` -> the API id).
    Functions' ``Ref``/``Arn`` and implicit roles' ``Arn``/``Ref`` need not be
    given. An output naming an implicit SAM resource (``ServerlessRestApi``,
    ``<Function>Alias<name>``...) that ``attributes`` lacks is an error, or left
    out with ``omit_unresolved``.
    """
    known = {**_builtin_attributes(template), **(attributes or {})}
    return _resolve(template, _output_lookup(template, known), omit_unresolved)


def check_event_types(template: Template, supported: Collection[str]) -> None:
    """Refuse any function event whose ``Type`` is not in ``supported``."""
    for fn in template.functions:
        for name, event in fn.events.items():
            if event["Type"] not in supported:
                raise TemplateError(
                    f"Resource {fn.logical_id} (line {fn.line}): event {name} (line {fn.event_lines.get(name)}) "
                    f"has Type '{event['Type']}', which Cumulo does not support; supported event types: "
                    f"{', '.join(sorted(supported)) or 'none'}",
                    logical_id=fn.logical_id, line=fn.event_lines.get(name, fn.line))


def default_stack_name(folder: Path) -> str:
    """A CloudFormation stack name from a folder name: ``[A-Za-z][A-Za-z0-9-]*``, at most 128."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", folder.name).strip("-")
    if not name or not name[0].isalpha():
        name = f"stack-{name}".rstrip("-")
    return name[:128]


# --- sections -----------------------------------------------------------------------------

def _stack_name(given: str | None, path: Path) -> str:
    if given is None:
        return default_stack_name(path.parent)
    if not _STACK_NAME_RE.fullmatch(given):
        raise TemplateError(f"Stack name '{given}' must match [A-Za-z][A-Za-z0-9-]* and be at most 128 characters")
    return given


def _read(path: Path) -> tuple[str, Node]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"Template {path}: cannot be read: {exc}") from None
    try:
        doc = parse(text)
    except IntrinsicError as exc:
        raise _error(f"Template {path.name} (line {exc.line})", exc.message, line=exc.line) from None
    if not isinstance(doc, Node):
        raise TemplateError(f"Template {path.name}: must be a map of sections, got {type(doc).__name__}")
    try:
        doc = expand_includes(doc, path.parent)      # AWS::Include runs before every other transform
    except IntrinsicError as exc:
        raise _error(f"Template {path.name} (line {exc.line})", exc.message, line=exc.line) from None
    return text, doc


def _section(doc: Node, name: str) -> Node:
    value = doc.get(name)
    if value is None:       # absent, or written with nothing under it (``Parameters:``): SAM reads it as empty
        return Node(line=doc.line_of(name))
    if not isinstance(value, Node):
        raise _error(f"Section {name} (line {doc.line_of(name)})", "must be a map", line=doc.line_of(name))
    return value


def _check_sections(doc: Node, path: Path) -> bool:
    """Checks the sections; whether the template is a SAM one (``Transform: AWS::Serverless-2016-10-31``).
    Without that transform it is plain CloudFormation: no ``Globals``, no ``AWS::Serverless::*`` types."""
    for key in doc:
        if key not in _SECTIONS:
            raise _error(f"Template {path.name} (line {doc.line_of(key)})", f"unknown section '{key}'",
                         line=doc.line_of(key))
    version = doc.get("AWSTemplateFormatVersion", "2010-09-09")
    if version != "2010-09-09":
        line = doc.line_of("AWSTemplateFormatVersion")
        raise _error(f"AWSTemplateFormatVersion (line {line})", f"'{version}' is not '2010-09-09'", line=line)
    transform = doc.get("Transform")
    names = [] if transform is None else transform if isinstance(transform, list) else [transform]
    for other in names:
        if other not in (SERVERLESS_TRANSFORM, LANGUAGE_EXTENSIONS):
            raise _error(f"Transform (line {doc.line_of('Transform')})", f"transform '{other}' is not supported")
    sam = SERVERLESS_TRANSFORM in names
    if not sam and "Globals" in doc:
        line = doc.line_of("Globals")
        raise _error(f"Template {path.name} (line {line})", f"the Globals section needs Transform: "
                     f"{SERVERLESS_TRANSFORM} (it is SAM's)", line=line)
    if not _section(doc, "Resources"):
        raise _error(f"Template {path.name}", "the Resources section is required and must not be empty")
    return sam


def stack_id(stack: str, region: str, account: str) -> str:
    """``AWS::StackId``: the same for the same stack name on every deploy."""
    return f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"cumulo:{region}:{account}:{stack}"))


def _pseudo_parameters(stack: str, region: str, account: str) -> dict[str, Any]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::StackName": stack,
        "AWS::StackId": stack_id(stack, region, account),
        "AWS::Partition": partition(region),
        "AWS::URLSuffix": "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


def partition(region: str) -> str:
    """The partition a region is in, as ``AWS::Partition`` answers."""
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _parameters(section: Node, given: dict[str, str], references: Lookup | None = None) -> dict[str, str | list[str]]:
    unknown = sorted(set(given) - set(section))
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    for name, spec in section.items():
        _check_declaration(name, spec, section.line_of(name))
    missing = [name for name, spec in section.items() if name not in given and "Default" not in spec]
    if missing:     # CloudFormation names every one at once
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values: give each a Default or pass "
                            "--parameter NAME=VALUE", line=section.line_of(missing[0]))
    return {name: _parameter(name, spec, section.line_of(name), given.get(name), references)
            for name, spec in section.items()}


def _check_declaration(name: str, spec: Any, line: int) -> None:
    where = f"Parameter {name} (line {line})"
    if not _LOGICAL_ID_RE.fullmatch(name):
        raise _error(where, "parameter names must be alphanumeric", line=line)
    if not isinstance(spec, Node):
        raise _error(where, "must be a map with a Type", line=line)
    extra = sorted(set(spec) - _PARAMETER_KEYS)
    if extra:
        raise _error(where, f"unknown attribute '{extra[0]}'", line=line)
    kind = _ssm_value_type(spec.get("Type"))
    if kind is None:
        raise _error(where, f"Type '{spec.get('Type')}' is not a Systems Manager parameter type: "
                     "AWS::SSM::Parameter::Value<String>, <List<String>>, <CommaDelimitedList> or <an AWS-specific "
                     "type>", line=line)
    if _element_type(kind) is None:
        raise _error(where, f"Type '{kind}' is not a CloudFormation parameter type; use String, Number, "
                     "List<Number>, CommaDelimitedList or an AWS-specific type (AWS::EC2::VPC::Id, "
                     "List<AWS::EC2::Subnet::Id>...)", line=line)


def _element_type(kind: Any) -> str | None:
    """A parameter type's element type (``List<X>``: ``X``), or None for a type CloudFormation does not have."""
    if not isinstance(kind, str):
        return None
    if kind in _PLAIN_PARAMETER_TYPES or kind in _AWS_PARAMETER_TYPES:
        return kind
    if kind.startswith("List<") and kind.endswith(">") and kind[5:-1] in _AWS_PARAMETER_TYPES:
        return kind[5:-1]
    return None


_SSM_VALUE = re.compile(r"AWS::SSM::Parameter::Value<(.+)>")


def _ssm_value_type(kind: Any) -> Any:
    """The type of the value an ``AWS::SSM::Parameter::Value<T>`` parameter holds (``T``; ``List<String>`` reads
    as ``CommaDelimitedList``), None when ``T`` is not one; any other type as it is."""
    if not isinstance(kind, str):
        return kind
    found = _SSM_VALUE.fullmatch(kind)
    if found is None:
        return kind
    inner = found.group(1)
    if inner in ("String", "CommaDelimitedList"):
        return inner
    if inner == "List<String>":
        return "CommaDelimitedList"
    return inner if inner in _AWS_PARAMETER_TYPES or (inner.startswith("List<") and inner[5:-1] in
                                                        _AWS_PARAMETER_TYPES) else None


def _parameter(name: str, spec: Node, line: int, given: str | None,
               references: Lookup | None = None) -> str | list[str]:
    where = f"Parameter {name} (line {line})"
    try:
        raw = to_str(spec["Default"] if given is None else given)
        kind = str(spec["Type"])
        if _SSM_VALUE.fullmatch(kind):      # the value is a Parameter Store parameter's, read at deploy
            if references is None:
                raise IntrinsicError(f"Type '{kind}' reads parameter '{raw}' from Parameter Store, which only a "
                                     "deploy to a store can do")
            try:
                raw = references.parameter(raw, False)
            except ReferenceError_ as exc:
                raise IntrinsicError(str(exc)) from None
            return _check_parameter(Node({"Type": kind}, line=spec.line), str(_ssm_value_type(kind)), raw)
        return _check_parameter(spec, kind, raw)
    except IntrinsicError as exc:
        raise _error(where, exc.message, line=line) from None


def _check_parameter(spec: Node, kind: str, raw: str) -> str | list[str]:
    """The value as ``Ref`` gives it (a list for list types), checked as CloudFormation checks it: each item of a
    list against AllowedValues and AllowedPattern, a Number's range, a String's length (ConstraintDescription,
    when given, is the message)."""
    listed = kind == "CommaDelimitedList" or kind.startswith("List<")
    items = [item.strip() for item in raw.split(",")] if listed else [raw]
    element = _element_type(kind) or kind
    allowed = spec.get("AllowedValues")
    if allowed is not None and not isinstance(allowed, list):
        raise IntrinsicError("AllowedValues must be a list")
    pattern = _pattern(spec["AllowedPattern"]) if "AllowedPattern" in spec else None

    def fail(default: str) -> IntrinsicError:
        constraint = spec.get("ConstraintDescription")
        return IntrinsicError(f"{default}" + (f" ({to_str(constraint)})" if isinstance(constraint, str) else ""))

    for item in items:
        if allowed is not None and item not in [to_str(a) for a in allowed]:
            raise fail(f"value '{item}' is not one of AllowedValues {[to_str(a) for a in allowed]}")
        if pattern is not None and not pattern.fullmatch(item):
            raise fail(f"value '{item}' does not match AllowedPattern {spec['AllowedPattern']}")
        if element in ("Number", "List<Number>"):
            _check_number(spec, item, fail)
        elif element in _AWS_PARAMETER_TYPES and not re.fullmatch(_AWS_PARAMETER_TYPES[element], item):
            raise fail(f"value '{item}' is not a valid {element}")
    if listed:
        return items
    if kind == "String" and (("MinLength" in spec and len(raw) < _integer_attribute(spec, "MinLength")) or (
            "MaxLength" in spec and len(raw) > _integer_attribute(spec, "MaxLength"))):
        raise fail(f"value '{raw}' has a length outside MinLength/MaxLength")
    return raw


def _check_number(spec: Node, raw: str, fail: Callable[[str], IntrinsicError]) -> None:
    try:
        number = float(raw)
    except ValueError:
        raise fail(f"value '{raw}' must be a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise fail(f"value '{raw}' must be a number")
    for key, outside in (("MinValue", lambda limit: number < limit), ("MaxValue", lambda limit: number > limit)):
        if key in spec:
            try:
                limit = float(to_str(spec[key]))
            except ValueError:
                raise IntrinsicError(f"{key} must be a number") from None
            if outside(limit):
                raise fail(f"value {raw} is outside MinValue/MaxValue")


def _integer_attribute(spec: Node, key: str) -> int:
    text = to_str(spec[key])
    if not text.isdigit():
        raise IntrinsicError(f"{key} must be a non-negative integer, got '{text}'")
    return int(text)


# Java's POSIX classes (CloudFormation's AllowedPattern is a Java regular expression), as Python sets.
_JAVA_CLASSES = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7F", "Alpha": "a-zA-Z", "Digit": "0-9", "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~", "Print": " -~", "Blank": " \\t", "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0B\\f\\r", "L": "^\\W\\d_", "IsAlphabetic": "^\\W\\d_",
    "N": "\\d", "IsDigit": "\\d",
}


def _pattern(value: Any) -> re.Pattern[str]:
    """An AllowedPattern (a Java regular expression) as a Python one: Java's ``\\p{Alnum}``-style classes become
    sets; what Python cannot read is an error naming the pattern."""
    text = to_str(value)
    out, inside, i = [], False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            match = re.match(r"\\([pP])\{(\w+)\}", text[i:])
            if match and match.group(2) in _JAVA_CLASSES:
                members = _JAVA_CLASSES[match.group(2)]
                negated = match.group(1) == "P"
                if members.startswith("^") and inside:      # letters inside a set: Latin and beyond
                    out.append("a-zA-Z\\u00c0-\\uffff")
                elif members.startswith("^"):
                    out.append(("[" + members + "]") if not negated else "[\\W\\d_]")
                elif inside and not negated:
                    out.append(members)
                else:
                    out.append(("[^" if negated else "[") + members + "]")
                i += len(match.group(0))
                continue
            out.append(text[i:i + 2])
            i += 2
            continue
        if char == "[" and not inside:
            inside = True
        elif char == "]" and inside and not (out and out[-1] == "["):
            inside = False
        out.append(char)
        i += 1
    try:
        with warnings.catch_warnings():     # Python's "possible nested set" is about its future, not Java's present
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile("".join(out))
    except re.error as exc:
        raise IntrinsicError(f"AllowedPattern {text} is not a regular expression Cumulo can read: {exc}") from None


def _mappings(doc: Node) -> Node:
    section = _section(doc, "Mappings")
    for name, table in section.items():
        line = section.line_of(name)
        if not isinstance(table, Node) or not all(isinstance(v, Node) for v in table.values()):
            raise _error(f"Mapping {name} (line {line})", "must be a map of maps", line=line)
    return section


def _conditions(doc: Node, scope: Scope) -> dict[str, bool]:
    try:
        return evaluate_conditions(_section(doc, "Conditions"), scope)
    except ConditionError as exc:
        raise _error(f"Condition {exc.condition} (line {exc.line})", exc.message, line=exc.line) from None


# --- resources ----------------------------------------------------------------------------

def _resource_entries(doc: Node, conditions: Mapping[str, bool], sam: bool = True) -> list[Entry]:
    resources = _section(doc, "Resources")
    known = set(resources) | (sam_generated_ids(resources) if sam else set())
    entries = []
    for logical_id, resource in resources.items():
        line = resources.line_of(logical_id)
        condition = _check_resource(logical_id, resource, line, known, conditions, sam)
        if condition is None or conditions[condition]:
            properties = resource.get("Properties")
            properties = Node(line=line) if properties is None else properties     # ``Properties:`` with nothing
            if not isinstance(properties, Node):
                raise _error(f"Resource {logical_id} (line {line})", "Properties must be a map", logical_id, line)
            entries.append(Entry(logical_id, line, properties, resource["Type"], resource.get("Metadata")))
            entries += _embedded_connectors(logical_id, resource, line)
            entries += sqs_subscriptions(logical_id, resource, line)      # SNS events' SqsSubscription
    return entries


def _embedded_connectors(logical_id: str, resource: Node, line: int) -> list[Entry]:
    """SAM's embedded connectors (the resource attribute ``Connectors``): each an ``AWS::Serverless::Connector``
    named ``<LogicalId><ConnectorName>`` whose Source is the resource."""
    connectors = resource.get("Connectors")
    if connectors is None:
        return []
    where = f"Resource {logical_id} (line {line})"
    if not isinstance(connectors, Node):
        raise _error(where, "Connectors must be a map of connector names to {Properties}", logical_id, line)
    out = []
    for name, connector in connectors.items():
        at = connectors.line_of(name)
        if not isinstance(connector, Node) or set(connector) - {"Properties"} or \
                not isinstance(connector.get("Properties"), Node):
            raise _error(where, f"connector {name} (line {at}): must be a map with Properties", logical_id, at)
        properties = connector["Properties"]
        if "Source" in properties:
            raise _error(where, f"connector {name} (line {at}): 'Source' shouldn't be defined in embedded connectors",
                         logical_id, at)
        embedded = Node(line=properties.line)
        embedded.update(properties)
        embedded.key_lines.update(properties.key_lines)
        embedded["Source"] = {"Id": logical_id}
        out.append(Entry(f"{logical_id}{name}", at, embedded, "AWS::Serverless::Connector"))
    return out


def sam_generated_ids(resources: Node) -> set[str]:
    """The logical ids of resources SAM's transform makes, which the template's ``DependsOn`` may name (a
    function's ``<Id>Role`` and ``<Id>Alias<alias>``, an API's ``<Id><Stage>Stage``, the implicit APIs): the
    deploy orders its kinds itself, so such a name needs only to be one SAM would make."""
    def alphanumeric(value: Any) -> str | None:
        return re.sub(r"[^A-Za-z0-9]", "", value) if isinstance(value, str) else None

    ids: set[str] = set()
    for logical_id, resource in resources.items():
        if not isinstance(resource, Node):
            continue
        props = resource.get("Properties")
        props = props if isinstance(props, Node) else Node()
        kind = resource.get("Type")
        if kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine") and "Role" not in props:
            ids.add(f"{logical_id}Role")
        if kind == "AWS::Serverless::Function":
            if (alias := alphanumeric(props.get("AutoPublishAlias"))) is not None:
                ids.add(f"{logical_id}Alias{alias}")
            if "FunctionUrlConfig" in props:
                ids.add(f"{logical_id}Url")
            events = props.get("Events")
            for event in events.values() if isinstance(events, Node) else ():
                if isinstance(event, Node) and event.get("Type") == "Api":
                    ids |= {"ServerlessRestApi", "ServerlessRestApiProdStage"}
                elif isinstance(event, Node) and event.get("Type") == "HttpApi":
                    ids |= {"ServerlessHttpApi", "ServerlessHttpApiApiGatewayDefaultStage"}
        elif kind == "AWS::Serverless::Api" and (stage := alphanumeric(props.get("StageName"))) is not None:
            ids.add(f"{logical_id}{stage}Stage")
        elif kind == "AWS::Serverless::HttpApi":
            stage = alphanumeric(props.get("StageName"))
            ids.add(f"{logical_id}{stage}Stage" if stage and stage != "default" else
                    f"{logical_id}ApiGatewayDefaultStage")
    return ids


def _check_resource(logical_id: str, resource: Any, line: int, resources: Collection[str],
                    conditions: Mapping[str, bool], sam: bool = True) -> str | None:
    """Checks one resource entry (``resources``: the logical ids it may depend on); returns the name of its
    Condition, if any."""
    def fail(detail: str) -> TemplateError:
        return _error(f"Resource {logical_id} (line {line})", detail, logical_id, line)

    if logical_id.startswith("Fn::ForEach::"):
        raise fail("Fn::ForEach (AWS::LanguageExtensions) is not supported: write the resources out")
    if not _LOGICAL_ID_RE.fullmatch(logical_id):
        raise fail("logical ids must be alphanumeric (A-Za-z0-9)")
    if not isinstance(resource, Node) or "Type" not in resource:
        raise fail("must be a map with a Type")
    extra = sorted(set(resource) - _RESOURCE_KEYS)
    if extra and not (sam and _sam_type(resource) and "Properties" in resource):   # SAM drops them (_ignored_attributes)
        raise fail(f"unknown resource attribute '{extra[0]}'")
    if KINDS.of_type(resource["Type"]) is None:
        raise fail(_unsupported(resource["Type"]))
    if not sam and str(resource["Type"]).startswith("AWS::Serverless::"):
        raise fail(f"type {resource['Type']} needs Transform: {SERVERLESS_TRANSFORM} (SAM makes it into "
                   "CloudFormation resources)")
    if not sam and "Connectors" in resource:
        raise fail(f"the Connectors attribute needs Transform: {SERVERLESS_TRANSFORM}")
    depends = resource.get("DependsOn", [])
    for name in depends if isinstance(depends, list) else [depends]:
        if name not in resources:
            raise fail(f"DependsOn names an unknown resource '{name}'")
    condition = resource.get("Condition")
    if condition is not None and condition not in conditions:
        raise fail(f"Condition names an unknown condition '{condition}'")
    for key, allowed in (("DeletionPolicy", _DELETION_POLICIES), ("UpdateReplacePolicy", _UPDATE_REPLACE_POLICIES)):
        if key in resource and resource[key] not in allowed:
            raise fail(f"{key} '{resource[key]}' is not one of {', '.join(allowed)}")
    if "Description" in resource and not isinstance(resource["Description"], str):
        raise fail("Description must be a string")
    return condition


def _sam_type(resource: Node) -> bool:
    return str(resource.get("Type")).startswith("AWS::Serverless::")


def _ignored_attributes(doc: Node, sam: bool) -> tuple[str, ...]:
    """Warnings for keys beside Type and Properties of SAM resources that are no resource attribute (such as
    ``OpenApiVersion`` written a level too high): SAM's transform reads only the attributes it knows, so the
    deploy on AWS ignores them (on a CloudFormation resource they are an error: ``_check_resource``, and so are
    they beside no Properties: ``Propertys`` is a typo, not an attribute to ignore)."""
    if not sam:
        return ()
    resources = _section(doc, "Resources")
    return tuple(f"Resource {logical_id} (line {resources.line_of(logical_id)}): '{key}' is not a resource "
                 "attribute (a property belongs under Properties); ignored, as SAM's transform ignores it"
                 for logical_id, resource in resources.items()
                 if isinstance(resource, Node) and _sam_type(resource) and "Properties" in resource
                 for key in sorted(set(resource) - _RESOURCE_KEYS))


def _unsupported(type_: Any) -> str:
    reason = missing_reason(str(type_))
    if reason is not None:
        return f"resource type '{type_}' is not supported: {reason}"
    deployed = [t for t in KINDS.types if t not in INERT_TYPES]
    return (f"resource type '{type_}' is not supported; Cumulo deploys {', '.join(deployed)}, and accepts with a "
            "warning types that mean nothing on one machine (CloudWatch dashboards, log "
            "filters, X-Ray, VPC networking...)")


def _read_resources(entries: list[Entry], load: Load) -> dict[str, list[Any]]:
    """Each kind's resources, read: every kind names its own first (registration order, each seeing the
    names before it), so properties may name any resource; then every kind reads its own (seeing what the
    kinds before it read); then each kind checks all of its own, declared and implicit."""
    by_kind = {kind.name: [e for e in entries if e.type in kind.types] for kind in KINDS}
    declared = {e.logical_id: kind for kind, mine in by_kind.items() for e in mine}
    known: Attributes = {}
    load.scope = Scope(load.plain.parameters, load.plain.mappings, load.plain.conditions, _load_lookup(known))
    named: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        named[kind.name], attributes = kind.names(by_kind[kind.name], load)
        # A name SAM derives (a function's <LogicalId>Role) that a resource of the template has is that resource's.
        known.update({key: value for key, value in attributes.items() if declared.get(key[0], kind.name) == kind.name})
    for kind in KINDS:
        load.read[kind.name] = kind.read(by_kind[kind.name], named[kind.name], load)
    everything = KINDS.expand(load.read)
    for kind in KINDS:
        kind.check([spec for k, spec in everything if k is kind], load)
    return load.read


def _builtin_attributes(template: Template) -> Attributes:
    arns = Arns(template.region, template.account_id)
    known: Attributes = {}
    for kind, spec in template.all_resources():
        known.update(kind.attributes(spec, arns))
    return known


def _describe(logical_id: str, attribute: str) -> str:
    return f"Ref {logical_id}" if attribute == "Ref" else f"Fn::GetAtt {logical_id}.{attribute}"


def _is_implicit(logical_id: str) -> bool:
    """Whether ``logical_id`` is a name SAM gives a resource it makes (``ServerlessRestApi``...)."""
    return logical_id.startswith(tuple(name for kind in KINDS for name in kind.implicit_names))


def _load_lookup(known: Mapping[tuple[str, str], Any]) -> Callable[[str, str], Any]:
    def lookup(logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in known:
            return known[(logical_id, attribute)]
        if _is_implicit(logical_id):
            raise IntrinsicError(f"{_describe(logical_id, attribute)}: {logical_id} is created by SAM at deploy "
                                 "time; Cumulo resolves it in Outputs only")
        raise _unknown(logical_id, attribute, known)
    return lookup


class _Unprovided(IntrinsicError):
    """An implicit resource's attribute the deploy engine did not give."""


def _output_lookup(template: Template, known: Mapping[tuple[str, str], Any]) -> Callable[[str, str], Any]:
    def lookup(logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in known:
            return known[(logical_id, attribute)]
        if _is_implicit(logical_id) or _derived(template, logical_id):
            raise _Unprovided(f"{_describe(logical_id, attribute)}: {logical_id} is a resource SAM creates "
                                 f"implicitly and the deploy engine gave no value for ({logical_id!r}, "
                                 f"{attribute!r})")
        raise _unknown(logical_id, attribute, known)
    return lookup


def _derived(template: Template, logical_id: str) -> bool:
    """Whether a name looks like a resource SAM derives from one of the template's (a function's Role, Alias...)."""
    return any(kind.derives(spec, logical_id) for kind, spec in template.all_resources())


def _unknown(logical_id: str, attribute: str, known: Mapping[tuple[str, str], Any]) -> IntrinsicError:
    if any(lid == logical_id for lid, _ in known):
        return IntrinsicError(f"{_describe(logical_id, attribute)}: resource {logical_id} has no attribute "
                              f"'{attribute}'")
    return IntrinsicError(f"{_describe(logical_id, attribute)}: '{logical_id}' is not a parameter or a "
                          "resource of this template")


# --- outputs ------------------------------------------------------------------------------

def _outputs(doc: Node, conditions: Mapping[str, bool]) -> Node:
    section = _section(doc, "Outputs")
    for key, output in section.items():
        line = section.line_of(key)
        where = f"Output {key} (line {line})"
        if not _LOGICAL_ID_RE.fullmatch(key):
            raise _error(where, "output names must be alphanumeric", line=line)
        if not isinstance(output, Node) or "Value" not in output:
            raise _error(where, "must be a map with a Value", line=line)
        extra = sorted(set(output) - _OUTPUT_KEYS)
        if extra:
            raise _error(where, f"unknown attribute '{extra[0]}'", line=line)
        if "Condition" in output and output["Condition"] not in conditions:
            raise _error(where, f"Condition names an unknown condition '{output['Condition']}'", line=line)
    return section


def _dry_run_lookup(template: Template) -> Callable[[str, str], Any]:
    known = _builtin_attributes(template)

    def lookup(logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in known or _is_implicit(logical_id) or _derived(template, logical_id):
            return known.get((logical_id, attribute), f"<{logical_id}.{attribute}>")
        raise _unknown(logical_id, attribute, known)
    return lookup


def _resolve(template: Template, lookup: Callable[[str, str], Any], omit_unresolved: bool = False,
             ) -> dict[str, str]:
    pseudo = _pseudo_parameters(template.stack_name, template.region, template.account_id)
    scope = Scope({**pseudo, **template.parameters}, template.mappings, template.conditions, lookup)
    section = template.outputs
    resolved = {}
    for key, output in section.items():
        if "Condition" in output and not template.conditions[output["Condition"]]:
            continue
        line = section.line_of(key) if isinstance(section, Node) else None
        try:
            resolved[key] = _output_string(output["Value"], scope, "Value")
        except IntrinsicError as exc:
            if omit_unresolved and isinstance(exc, _Unprovided):
                continue
            raise _error(f"Output {key} (line {line})", exc.message, line=exc.line or line) from None
    return resolved


def _output_string(value: Any, scope: Scope, what: str) -> str:
    resolved = resolve(value, scope)
    if isinstance(resolved, (list, dict)) or resolved is NO_VALUE:
        kind = "AWS::NoValue" if resolved is NO_VALUE else type(resolved).__name__
        raise IntrinsicError(f"{what} must resolve to a string, got {kind}")
    return to_str(resolved)
