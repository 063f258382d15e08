"""An AWS SAM template (a subset), read into typed, validated resources.

``load_template`` reads a template, checks it as CloudFormation and SAM would,
and returns a ``Template`` of ``FunctionResource``s; ``resolve_outputs`` fills in
the ``Outputs`` once the deploy engine knows the attributes of what it made.
Both are pure apart from reading the template and checking that each
``CodeUri`` exists. Faults are ``TemplateError``s naming the resource (or
parameter, condition, output) and the line it is written on.

What is read:

- ``Transform: AWS::Serverless-2016-10-31`` (required), ``Parameters`` (String,
  Number, CommaDelimitedList), ``Mappings``, ``Conditions``, ``Globals.Function``
  (merged as SAM does: scalars replaced, maps merged, lists prepended; except
  ``Architectures``, which the resource's value replaces, since a function has
  one architecture), ``Resources`` and ``Outputs``.
- ``AWS::Serverless::Function`` resources, with a local ``CodeUri``,
  ``AWS::Serverless::HttpApi`` resources (read by ``cumulo.deploy.apis``, with the routes
  functions' ``HttpApi``/``Api`` events add: ``Template.apis``), and ``AWS::SQS::Queue``
  resources (``cumulo.deploy.queues``: ``Template.queues``), and ``AWS::Kinesis::Stream``
  resources (``cumulo.deploy.streams``: ``Template.streams``), ``AWS::Events::EventBus`` and
  ``AWS::Events::Rule`` resources (``cumulo.deploy.buses``: ``Template.buses``, ``Template.rules``;
  functions' ``EventBridgeRule``/``CloudWatchEvent`` events: ``FunctionResource.rules``),
  ``AWS::Serverless::StateMachine`` and ``AWS::StepFunctions::StateMachine`` resources
  (``cumulo.deploy.machines``: ``Template.machines``, their events' rules in ``MachineSpec.rules``;
  definitions checked here, so a bad one is refused before deploying). Functions' ``SQS``,
  ``Kinesis``, ``Schedule`` and ``ScheduleV2`` events, ``DeadLetterQueue`` and ``EventInvokeConfig``
  are read by ``cumulo.deploy.triggers``. ``AWS::Serverless::LayerVersion`` resources are read
  by ``cumulo.deploy.layers`` (``Template.layers``); a function's ``Layers`` may ``Ref`` them.
  A function's ``VpcConfig`` takes its outbound network away (Cumulo's VPC has no NAT gateway).
- Ignored with a note (``FunctionResource.notes``): IAM (``Role``, ``Policies``,
  ``PermissionsBoundary``, ``RolePath``, ``AssumeRolePolicyDocument``: every
  function runs as the platform's default execution role), ``Tracing``,
  ``KmsKeyArn``, ``CodeSigningConfigArn``, ``LoggingConfig``.
  Any other property is refused as unknown.
- ``Events`` are kept raw (intrinsics resolved) with their ``Type``; the deploy
  engine decides which types it wires up and calls ``check_event_types``.

Inside function properties ``Ref``/``Fn::GetAtt`` may name parameters, pseudo
parameters and the template's functions (``Ref`` is the function name, ``Arn``
its ARN), their implicit roles (``<LogicalId>Role``), its queues (``Ref`` is
the URL; ``Arn``, ``QueueName``, ``QueueUrl``), its streams (``Ref`` is the
name; ``Arn``) and its state machines (``Ref`` is the ARN; ``Arn``, ``Name``);
state machines' definitions and ``DefinitionSubstitutions`` may name the
functions. In ``Outputs`` the
deploy engine's attributes come first, so implicit SAM resources such as
``ServerlessRestApi`` resolve once it provides them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cumulo.deploy.buses import (
    BUS_TYPE, RULE_TYPE, BusSpec, RuleSpec, bus_arn, bus_attributes, bus_name_of, check_bus_name, check_rule_name,
    read_bus, read_function_rules, read_rule, rule_arn, rule_attributes, rule_name_for,
)
from cumulo.deploy.apis import HTTP_API_TYPE, ApiSpec, api_id_for, api_specs, read_http_api
from cumulo.deploy.machines import (
    MACHINE_TYPES, MachineSpec, check_machine_name, machine_arn, machine_attributes, machine_name_for, read_machine,
)
from cumulo.deploy.layers import LAYER_TYPE, LayerSpec, layer_attributes, merge_layer_globals, read_layer
from cumulo.deploy.intrinsics import (
    NO_VALUE, ConditionError, IntrinsicError, Node, Scope, evaluate_conditions, parse, resolve, to_str,
)
from cumulo.deploy.kinds.base import Entry, TemplateError, error as _error, property_error as _property_error
from cumulo.deploy.properties import FunctionSpec, check_globals, merge_globals, plain as _plain, read_function
from cumulo.deploy.queues import QUEUE_TYPE, QueueSpec, ordered, queue_attributes, queue_name_for, read_queue
from cumulo.deploy.streams import STREAM_TYPE, StreamSpec, read_stream, stream_arn, stream_attributes, stream_name_for
from cumulo.deploy.triggers import MappingSpec, ScheduleSpec, StreamMappingSpec, read_triggers
from cumulo.errors import CumuloError
from cumulo.model import limits
from cumulo.model.function import Arns, validate_function_name

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
]

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
_FUNCTION_TYPE = "AWS::Serverless::Function"
_RESOURCE_TYPES = (_FUNCTION_TYPE, HTTP_API_TYPE, QUEUE_TYPE, STREAM_TYPE, BUS_TYPE, RULE_TYPE, *MACHINE_TYPES,
                   LAYER_TYPE)
_SECTIONS = frozenset({"AWSTemplateFormatVersion", "Description", "Metadata", "Transform", "Globals",
                       "Parameters", "Mappings", "Conditions", "Resources", "Outputs"})
_RESOURCE_KEYS = frozenset({"Type", "Properties", "Condition", "DependsOn", "Metadata", "DeletionPolicy",
                            "UpdateReplacePolicy"})
_PARAMETER_KEYS = frozenset({"Type", "Default", "AllowedValues", "AllowedPattern", "Description", "NoEcho",
                             "MinLength", "MaxLength", "MinValue", "MaxValue", "ConstraintDescription"})
_OUTPUT_KEYS = frozenset({"Value", "Description", "Condition", "Export"})
# Resources SAM adds for Api/HttpApi events; Outputs of ``sam init`` templates name them.
_IMPLICIT_APIS = ("ServerlessRestApi", "ServerlessHttpApi")
_STACK_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_LOGICAL_ID_RE = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, kw_only=True)
class FunctionResource(FunctionSpec):
    """One ``AWS::Serverless::Function``, Globals merged, intrinsics resolved, values checked: its properties
    (``FunctionSpec``) and what the template makes of them."""

    logical_id: str
    line: int
    function_name: str
    implicit_role: bool = True          # no Role given: SAM would create "<LogicalId>Role"
    mappings: list[MappingSpec | StreamMappingSpec] = field(default_factory=list)   # its SQS and Kinesis events
    schedules: list[ScheduleSpec] = field(default_factory=list)   # its Schedule/ScheduleV2 events
    rules: list[RuleSpec] = field(default_factory=list)   # its EventBridgeRule/CloudWatchEvent events
    metadata: Any = field(default=None, compare=False)   # the resource's Metadata (BuildMethod: cumulo.deploy.build)


@dataclass(frozen=True)
class Template:
    stack_name: str
    functions: list[FunctionResource]
    outputs: dict[str, Any]             # raw (long-form intrinsics); see resolve_outputs
    parameters: dict[str, str | list[str]]
    path: Path
    region: str = "us-east-1"
    account_id: str = "000000000000"
    description: str = ""
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    apis: list[ApiSpec] = field(default_factory=list)   # HttpApi resources and implicit APIs, with routes
    queues: list[QueueSpec] = field(default_factory=list)   # dead-letter queues before their sources
    streams: list[StreamSpec] = field(default_factory=list)
    buses: list[BusSpec] = field(default_factory=list)
    rules: list[RuleSpec] = field(default_factory=list)   # AWS::Events::Rule resources (functions' own: fn.rules)
    machines: list[MachineSpec] = field(default_factory=list)   # state machines (their events' rules: .rules)
    layers: list[LayerSpec] = field(default_factory=list)   # AWS::Serverless::LayerVersion (cumulo.deploy.layers)

    def function(self, logical_id: str) -> FunctionResource:
        for fn in self.functions:
            if fn.logical_id == logical_id:
                return fn
        raise KeyError(logical_id)


# --- entry points ----------------------------------------------------------------------------

def load_template(path: Path, parameters: Mapping[str, str] | None = None, stack_name: str | None = None,
                  region: str = "us-east-1", account_id: str = "000000000000",
                  queue_endpoint: str = "http://localhost:9000") -> Template:
    """Read and check the SAM template at ``path``; ``stack_name`` defaults to its folder's name.

    ``queue_endpoint`` is where queue URLs (a queue's ``Ref``) point."""
    path = Path(path).absolute()
    stack = _stack_name(stack_name, path)
    doc = _read(path)
    _check_sections(doc, path)
    values = _parameters(_section(doc, "Parameters"), dict(parameters or {}))
    scope = Scope({**_pseudo_parameters(stack, region, account_id), **values}, _mappings(doc))
    scope = Scope(scope.parameters, scope.mappings, _conditions(doc, scope))
    entries = _resource_entries(doc, scope.conditions)
    queue_entries = [e for e in entries if e.type == QUEUE_TYPE]
    queue_names = _queue_names(queue_entries, scope, stack, region, account_id, queue_endpoint)
    stream_entries = [e for e in entries if e.type == STREAM_TYPE]
    stream_names = _stream_names(stream_entries, scope, stack, region, account_id)
    known = {k: v for names in queue_names.values() for k, v in queue_attributes(*names).items()}
    known.update({k: v for names in stream_names.values() for k, v in stream_attributes(*names).items()})
    bus_entries = [e for e in entries if e.type == BUS_TYPE]
    bus_names = _bus_names(bus_entries, scope, region, account_id)
    known.update({k: v for names in bus_names.values() for k, v in bus_attributes(*names).items()})
    machine_entries = [e for e in entries if e.type in MACHINE_TYPES]
    machine_names = _machine_names(machine_entries, scope, stack, region, account_id)
    known.update({k: v for names in machine_names.values() for k, v in machine_attributes(*names).items()})
    rule_entries = [e for e in entries if e.type == RULE_TYPE]
    rule_names = _rule_names(rule_entries, scope, known, stack, region, account_id)
    known.update({k: v for names in rule_names.values() for k, v in rule_attributes(*names).items()})
    layer_entries = [e for e in entries if e.type == LAYER_TYPE]
    known.update({k: v for e in layer_entries for k, v in layer_attributes(e.logical_id).items()})
    functions, scope = _functions([e for e in entries if e.type == _FUNCTION_TYPE], _globals(doc), scope, stack,
                                  path.parent, Arns(region, account_id), [e for e in entries if e.type == HTTP_API_TYPE],
                                  known)
    queues = _queues(queue_entries, queue_names, scope)
    streams = _streams(stream_entries, stream_names, scope)
    buses = _buses(bus_entries, bus_names, scope)
    rules = _rules(rule_entries, rule_names, scope)
    machines = _machines(machine_entries, machine_names, scope, path.parent, stack, region, account_id)
    layers = [_layer(e, scope, path.parent, _section(doc, "Globals").get("LayerVersion")) for e in layer_entries]
    _check_rule_names(rules + [r for m in machines for r in m.rules], functions)
    apis = _apis([e for e in entries if e.type == HTTP_API_TYPE], functions, _globals_http_api(doc, scope), scope, stack)
    description = doc.get("Description")
    template = Template(stack, functions, _outputs(doc, scope.conditions), values, path, region, account_id,
                        description if isinstance(description, str) else "", dict(scope.conditions),
                        dict(scope.mappings), apis, queues, streams, buses, rules, machines, layers)
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


def default_function_name(stack_name: str, logical_id: str) -> str:
    """``{stack}-{LogicalId}``; if over 64 characters, both parts shortened and a hash of the whole
    appended, so distinct long names stay distinct and the same inputs always give the same name."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{stack_name}-{logical_id}")
    if len(name) <= limits.FUNCTION_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    budget = limits.FUNCTION_NAME_MAX - len(digest) - 1
    stack_part, _, id_part = name.rpartition("-")
    id_part = id_part[: max(budget // 2, budget - 1 - len(stack_part))]
    return f"{stack_part[: budget - 1 - len(id_part)]}-{id_part}-{digest}"


# --- sections -----------------------------------------------------------------------------

def _stack_name(given: str | None, path: Path) -> str:
    if given is None:
        return default_stack_name(path.parent)
    if not _STACK_NAME_RE.fullmatch(given):
        raise TemplateError(f"Stack name '{given}' must match [A-Za-z][A-Za-z0-9-]* and be at most 128 characters")
    return given


def _read(path: Path) -> Node:
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
    return doc


def _section(doc: Node, name: str) -> Node:
    value = doc.get(name, Node(line=doc.line))
    if not isinstance(value, Node):
        raise _error(f"Section {name} (line {doc.line_of(name)})", "must be a map", line=doc.line_of(name))
    return value


def _check_sections(doc: Node, path: Path) -> None:
    for key in doc:
        if key not in _SECTIONS:
            raise _error(f"Template {path.name} (line {doc.line_of(key)})", f"unknown section '{key}'",
                         line=doc.line_of(key))
    version = doc.get("AWSTemplateFormatVersion", "2010-09-09")
    if version != "2010-09-09":
        line = doc.line_of("AWSTemplateFormatVersion")
        raise _error(f"AWSTemplateFormatVersion (line {line})", f"'{version}' is not '2010-09-09'", line=line)
    transform = doc.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    if transform is None or SERVERLESS_TRANSFORM not in names:
        raise _error(f"Template {path.name} (line {doc.line_of('Transform')})",
                     f"Transform: {SERVERLESS_TRANSFORM} is required (this is not a SAM template)")
    for other in names:
        if other != SERVERLESS_TRANSFORM:
            raise _error(f"Transform (line {doc.line_of('Transform')})", f"transform '{other}' is not supported")
    if not _section(doc, "Resources"):
        raise _error(f"Template {path.name}", "the Resources section is required and must not be empty")


def _pseudo_parameters(stack: str, region: str, account: str) -> dict[str, Any]:
    stack_id = uuid.uuid5(uuid.NAMESPACE_URL, f"cumulo:{region}:{account}:{stack}")
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::StackName": stack,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/{stack_id}",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


def _parameters(section: Node, given: dict[str, str]) -> dict[str, str | list[str]]:
    unknown = sorted(set(given) - set(section))
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    return {name: _parameter(name, spec, section.line_of(name), given.get(name))
            for name, spec in section.items()}


def _parameter(name: str, spec: Any, line: int, given: str | None) -> str | list[str]:
    where = f"Parameter {name} (line {line})"
    if not _LOGICAL_ID_RE.fullmatch(name):
        raise _error(where, "parameter names must be alphanumeric", line=line)
    if not isinstance(spec, Node):
        raise _error(where, "must be a map with a Type", line=line)
    extra = sorted(set(spec) - _PARAMETER_KEYS)
    if extra:
        raise _error(where, f"unknown attribute '{extra[0]}'", line=line)
    kind = spec.get("Type")
    if kind not in ("String", "Number", "CommaDelimitedList"):
        raise _error(where, f"Type '{kind}' is not supported; use String, Number or CommaDelimitedList", line=line)
    if given is None and "Default" not in spec:
        raise _error(where, "must have a value: give it a Default or pass a value for it", line=line)
    try:
        raw = to_str(spec["Default"] if given is None else given)
        return _check_parameter(spec, kind, raw)
    except IntrinsicError as exc:
        raise _error(where, exc.message, line=line) from None


def _check_parameter(spec: Node, kind: str, raw: str) -> str | list[str]:
    items = [item.strip() for item in raw.split(",")] if kind == "CommaDelimitedList" else [raw]
    allowed = spec.get("AllowedValues")
    if allowed is not None and not isinstance(allowed, list):
        raise IntrinsicError("AllowedValues must be a list")
    for item in items:
        if allowed is not None and item not in [to_str(a) for a in allowed]:
            raise IntrinsicError(f"value '{item}' is not one of AllowedValues {[to_str(a) for a in allowed]}")
        if "AllowedPattern" in spec and not re.fullmatch(to_str(spec["AllowedPattern"]), item):
            raise IntrinsicError(f"value '{item}' does not match AllowedPattern {spec['AllowedPattern']}")
    if kind == "CommaDelimitedList":
        return items
    if kind == "Number":
        try:
            number = float(raw)
        except ValueError:
            raise IntrinsicError(f"value '{raw}' must be a number") from None
        if ("MinValue" in spec and number < float(spec["MinValue"])) or (
                "MaxValue" in spec and number > float(spec["MaxValue"])):
            raise IntrinsicError(f"value {raw} is outside MinValue/MaxValue")
    elif ("MinLength" in spec and len(raw) < int(spec["MinLength"])) or (
            "MaxLength" in spec and len(raw) > int(spec["MaxLength"])):
        raise IntrinsicError(f"value '{raw}' has a length outside MinLength/MaxLength")
    return raw


def _mappings(doc: Node) -> Node:
    section = _section(doc, "Mappings")
    for name, table in section.items():
        line = section.line_of(name)
        if not isinstance(table, Node) or not all(isinstance(v, Node) for v in table.values()):
            raise _error(f"Mapping {name} (line {line})", "must be a map of maps", line=line)
    return section


def _globals(doc: Node) -> Node:
    try:
        return check_globals(_section(doc, "Globals"))
    except IntrinsicError as exc:
        raise _error(f"Globals (line {exc.line})", exc.message, line=exc.line) from None


def _conditions(doc: Node, scope: Scope) -> dict[str, bool]:
    try:
        return evaluate_conditions(_section(doc, "Conditions"), scope)
    except ConditionError as exc:
        raise _error(f"Condition {exc.condition} (line {exc.line})", exc.message, line=exc.line) from None


# --- resources ----------------------------------------------------------------------------

def _resource_entries(doc: Node, conditions: Mapping[str, bool]) -> list[Entry]:
    resources = _section(doc, "Resources")
    entries = []
    for logical_id, resource in resources.items():
        line = resources.line_of(logical_id)
        condition = _check_resource(logical_id, resource, line, resources, conditions)
        if condition is None or conditions[condition]:
            properties = resource.get("Properties", Node(line=line))
            if not isinstance(properties, Node):
                raise _error(f"Resource {logical_id} (line {line})", "Properties must be a map", logical_id, line)
            entries.append(Entry(logical_id, line, properties, resource["Type"], resource.get("Metadata")))
    return entries


def _check_resource(logical_id: str, resource: Any, line: int, resources: Node,
                    conditions: Mapping[str, bool]) -> str | None:
    """Checks one resource entry; returns the name of its Condition, if any."""
    def fail(detail: str) -> TemplateError:
        return _error(f"Resource {logical_id} (line {line})", detail, logical_id, line)

    if not _LOGICAL_ID_RE.fullmatch(logical_id):
        raise fail("logical ids must be alphanumeric (A-Za-z0-9)")
    if not isinstance(resource, Node) or "Type" not in resource:
        raise fail("must be a map with a Type")
    extra = sorted(set(resource) - _RESOURCE_KEYS)
    if extra:
        raise fail(f"unknown resource attribute '{extra[0]}'")
    if resource["Type"] not in _RESOURCE_TYPES:
        raise fail(f"resource type '{resource['Type']}' is not supported; Cumulo deploys "
                   f"{', '.join(_RESOURCE_TYPES)}")
    depends = resource.get("DependsOn", [])
    for name in depends if isinstance(depends, list) else [depends]:
        if name not in resources:
            raise fail(f"DependsOn names an unknown resource '{name}'")
    condition = resource.get("Condition")
    if condition is not None and condition not in conditions:
        raise fail(f"Condition names an unknown condition '{condition}'")
    return condition


def _functions(entries: list[Entry], globals_: Node, scope: Scope, stack: str, base: Path,
               arns: Arns, http_apis: list[Entry],
               resources: Mapping[tuple[str, str], Any]) -> tuple[list[FunctionResource], Scope]:
    """The functions, and the scope in which the template's resources resolve each other."""
    merged = [Entry(e.logical_id, e.line, merge_globals(globals_, e.properties), e.type, e.metadata) for e in entries]
    names = _function_names(merged, scope, stack)
    roles = {e.logical_id: "Role" not in e.properties for e in merged}
    known = {**_attributes(names, roles, arns), **resources}   # queues' and streams' attributes
    for api in http_apis:
        known[(api.logical_id, "Ref")] = api_id_for(stack, api.logical_id)
        known[(api.logical_id, "ApiEndpoint")] = f"https://{api_id_for(stack, api.logical_id)}.execute-api." \
                                                 f"{arns.region}.amazonaws.com"
    scope = Scope(scope.parameters, scope.mappings, scope.conditions, _load_lookup(known))
    functions = []
    for entry in merged:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        try:
            spec = read_function(entry.properties, scope, base)
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id, exc.line or entry.line) from None
        functions.append(_function_resource(entry, names[entry.logical_id], spec, stack, arns))
    return functions, scope


def _queue_names(entries: list[Entry], scope: Scope, stack: str, region: str, account: str,
                 endpoint: str) -> dict[str, tuple[str, str, str, str]]:
    """Each queue's (logical id, name, ARN, URL), known before any property refers to them."""
    out: dict[str, tuple[str, str, str, str]] = {}
    owners: dict[str, str] = {}
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        try:
            fifo = resolve(entry.properties.get("FifoQueue", False), scope)
            given = resolve(entry.properties.get("QueueName", NO_VALUE), scope)
        except IntrinsicError as exc:   # QueueName may use parameters, mappings and conditions only
            raise _error(where, exc.message, entry.logical_id, exc.line or entry.line) from None
        fifo = fifo is True or str(fifo).lower() == "true"
        name = queue_name_for(stack, entry.logical_id, fifo) if given is NO_VALUE else to_str(given)
        if name in owners:
            raise _error(where, f"queue name '{name}' is already used by resource {owners[name]}", entry.logical_id,
                         entry.line)
        owners[name] = entry.logical_id
        out[entry.logical_id] = (entry.logical_id, name, f"arn:aws:sqs:{region}:{account}:{name}",
                                 f"{endpoint.rstrip('/')}/{account}/{name}")
    return out


def _queues(entries: list[Entry], names: Mapping[str, tuple[str, str, str, str]], scope: Scope) -> list[QueueSpec]:
    specs = []
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        _, name, arn, url = names[entry.logical_id]
        try:
            props = _plain(resolve(entry.properties, scope))
            specs.append(read_queue(entry.logical_id, entry.line, name, arn, url, props))
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id, exc.line or entry.line) from None
    try:
        return ordered(specs)
    except IntrinsicError as exc:
        raise TemplateError(exc.message, line=exc.line) from None


def _stream_names(entries: list[Entry], scope: Scope, stack: str, region: str,
                  account: str) -> dict[str, tuple[str, str, str]]:
    """Each stream's (logical id, name, ARN), known before any property refers to them."""
    out: dict[str, tuple[str, str, str]] = {}
    owners: dict[str, str] = {}
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        try:
            given = resolve(entry.properties.get("Name", NO_VALUE), scope)   # parameters, mappings, conditions
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id, exc.line or entry.line) from None
        name = stream_name_for(stack, entry.logical_id) if given is NO_VALUE else to_str(given)
        if name in owners:
            raise _error(where, f"stream name '{name}' is already used by resource {owners[name]}", entry.logical_id,
                         entry.line)
        owners[name] = entry.logical_id
        out[entry.logical_id] = (entry.logical_id, name, stream_arn(region, account, name))
    return out


def _streams(entries: list[Entry], names: Mapping[str, tuple[str, str, str]], scope: Scope) -> list[StreamSpec]:
    specs = []
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        _, name, arn = names[entry.logical_id]
        try:
            props = _plain(resolve(entry.properties, scope))
            specs.append(read_stream(entry.logical_id, entry.line, name, arn, props))
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id, exc.line or entry.line) from None
    return specs


def _bus_names(entries: list[Entry], scope: Scope, region: str,
               account: str) -> dict[str, tuple[str, str, str]]:
    """Each bus's (logical id, name, ARN): its Name, required, from parameters, mappings and conditions."""
    out: dict[str, tuple[str, str, str]] = {}
    owners: dict[str, str] = {}
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        line = entry.properties.line_of("Name") if "Name" in entry.properties else entry.line
        try:
            given = resolve(entry.properties.get("Name", NO_VALUE), scope)
            if given is NO_VALUE:
                raise IntrinsicError("property Name is required")
            name = check_bus_name(to_str(given))
            if name == "default":
                raise IntrinsicError("property Name: the default event bus always exists; it cannot be declared")
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id, exc.line or line) from None
        if name in owners:
            raise _error(where, f"event bus name '{name}' is already used by resource {owners[name]}",
                         entry.logical_id, entry.line)
        owners[name] = entry.logical_id
        out[entry.logical_id] = (entry.logical_id, name, bus_arn(region, account, name))
    return out


def _rule_names(entries: list[Entry], scope: Scope, known: Mapping[tuple[str, str], Any], stack: str, region: str,
                account: str) -> dict[str, tuple[str, str, str, str]]:
    """Each rule's (logical id, bus, name, ARN); EventBusName may name the template's buses (``!Ref Bus``)."""
    names_scope = Scope(scope.parameters, scope.mappings, scope.conditions, _load_lookup(known))
    out: dict[str, tuple[str, str, str, str]] = {}
    owners: dict[tuple[str, str], str] = {}
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        props = entry.properties
        try:
            given = resolve(props.get("Name", NO_VALUE), scope)     # parameters, mappings, conditions
            name = rule_name_for(stack, entry.logical_id) if given is NO_VALUE else check_rule_name(to_str(given))
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id,
                         exc.line or (props.line_of("Name") if "Name" in props else entry.line)) from None
        try:
            bus_value = resolve(props.get("EventBusName", NO_VALUE), names_scope)
            bus = bus_name_of(None if bus_value is NO_VALUE else _plain(bus_value))
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id,
                         exc.line or (props.line_of("EventBusName") if "EventBusName" in props else entry.line)
                         ) from None
        if (bus, name) in owners:
            raise _error(where, f"rule name '{name}' on event bus {bus} is already used by resource "
                         f"{owners[(bus, name)]}", entry.logical_id, entry.line)
        owners[(bus, name)] = entry.logical_id
        out[entry.logical_id] = (entry.logical_id, bus, name, rule_arn(region, account, bus, name))
    return out


def _machine_names(entries: list[Entry], scope: Scope, stack: str, region: str,
                   account: str) -> dict[str, tuple[str, str, str]]:
    """Each state machine's (logical id, name, ARN): its Name/StateMachineName from parameters, mappings and
    conditions, or SAM's generated ``<LogicalId>-<suffix>``."""
    out: dict[str, tuple[str, str, str]] = {}
    owners: dict[str, str] = {}
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        key = "Name" if entry.type == MACHINE_TYPES[0] else "StateMachineName"
        line = entry.properties.line_of(key) if key in entry.properties else entry.line
        try:
            given = resolve(entry.properties.get(key, NO_VALUE), scope)
            name = machine_name_for(stack, entry.logical_id) if given is NO_VALUE else \
                check_machine_name(to_str(given), key)
        except IntrinsicError as exc:
            message = exc.message.replace(f"property {key}:", f"property {key} (line {line}):", 1)
            raise _error(where, message, entry.logical_id, exc.line or line) from None
        if name in owners:
            raise _error(where, f"state machine name '{name}' is already used by resource {owners[name]}",
                         entry.logical_id, line)
        owners[name] = entry.logical_id
        out[entry.logical_id] = (entry.logical_id, name, machine_arn(region, account, name))
    return out


def _machines(entries: list[Entry], names: Mapping[str, tuple[str, str, str]], scope: Scope, base: Path,
              stack: str, region: str, account: str) -> list[MachineSpec]:
    specs = []
    for entry in entries:
        _, name, arn = names[entry.logical_id]
        events = entry.properties.get("Events")
        event_lines = {k: events.line_of(k) for k in events} if isinstance(events, Node) else {}
        try:
            props = _plain(resolve(entry.properties, scope))
            specs.append(read_machine(entry.type, entry.logical_id, entry.line, name, arn, props, base, stack,
                                      region, account, event_lines))
        except IntrinsicError as exc:
            raise _property_error(entry, exc) from None
    return specs


def _layer(entry: Entry, scope: Scope, base: Path, globals_: Any) -> LayerSpec:
    try:
        properties = merge_layer_globals(globals_, entry.properties)
    except IntrinsicError as exc:
        raise _error(f"Globals (line {exc.line})", exc.message, line=exc.line) from None
    try:
        return read_layer(entry.logical_id, entry.line, properties, scope, base, entry.metadata)
    except IntrinsicError as exc:
        raise _property_error(entry, exc) from None


def _buses(entries: list[Entry], names: Mapping[str, tuple[str, str, str]], scope: Scope) -> list[BusSpec]:
    specs = []
    for entry in entries:
        _, name, arn = names[entry.logical_id]
        try:
            specs.append(read_bus(entry.logical_id, entry.line, name, arn, _plain(resolve(entry.properties, scope))))
        except IntrinsicError as exc:
            raise _property_error(entry, exc) from None
    return specs


def _rules(entries: list[Entry], names: Mapping[str, tuple[str, str, str, str]], scope: Scope) -> list[RuleSpec]:
    specs = []
    for entry in entries:
        _, bus, name, arn = names[entry.logical_id]
        try:
            props = _plain(resolve(entry.properties, scope))
            specs.append(read_rule(entry.logical_id, entry.line, name, bus, arn, props))
        except IntrinsicError as exc:
            raise _property_error(entry, exc) from None
    return specs


def _check_rule_names(rules: list[RuleSpec], functions: list[FunctionResource]) -> None:
    owners: dict[tuple[str, str], str] = {}
    for rule in rules + [r for fn in functions for r in fn.rules]:
        owner = owners.setdefault((rule.bus, rule.name), rule.key)
        if owner != rule.key:
            raise TemplateError(f"Rule {rule.key} (line {rule.line}): rule name '{rule.name}' on event bus {rule.bus} "
                                f"is already used by {owner}", logical_id=rule.key.split(".")[0], line=rule.line)


def _globals_http_api(doc: Node, scope: Scope) -> dict[str, Any]:
    section = _section(doc, "Globals").get("HttpApi")
    if section is None:
        return {}
    try:
        value = _plain(resolve(section, scope))
    except IntrinsicError as exc:
        raise _error(f"Globals.HttpApi (line {exc.line})", exc.message, line=exc.line) from None
    if not isinstance(value, dict):
        raise _error("Globals.HttpApi", "must be a map")
    return value


def _apis(entries: list[Entry], functions: list[FunctionResource], globals_http_api: dict[str, Any], scope: Scope,
          stack: str) -> list[ApiSpec]:
    configs = {}
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        try:
            props = _plain(resolve(entry.properties, scope))
            configs[entry.logical_id] = read_http_api(entry.logical_id, props, globals_http_api)
        except IntrinsicError as exc:
            raise _error(where, exc.message, entry.logical_id, exc.line or entry.line) from None
    try:
        return api_specs(stack, functions, configs, globals_http_api)
    except IntrinsicError as exc:
        raise _error("Template", exc.message, line=exc.line) from None


def _function_resource(entry: Entry, name: str, spec: FunctionSpec, stack: str, arns: Arns) -> FunctionResource:
    where = f"Resource {entry.logical_id} (line {entry.line})"
    try:
        triggers = read_triggers(name, spec.events)
        # SAM targets the alias when the function has AutoPublishAlias.
        target = arns.function(name, spec.auto_publish_alias)
        rules = read_function_rules(stack, entry.logical_id, target, spec.events, arns.region, arns.account)
        rules = [replace(r, line=spec.event_lines.get(r.key.split(".", 1)[1], entry.line)) for r in rules]
    except IntrinsicError as exc:
        event = exc.message.split(":", 1)[0].removeprefix("event ")
        line = spec.event_lines.get(event, entry.line)
        raise _error(where, exc.message.replace(f"event {event}:", f"event {event} (line {line}):", 1),
                     entry.logical_id, line) from None
    properties = {f.name: getattr(spec, f.name) for f in fields(FunctionSpec)}
    return FunctionResource(**{**properties, "notes": spec.notes + triggers.notes}, logical_id=entry.logical_id,
                            line=entry.line, function_name=name, implicit_role="Role" not in entry.properties,
                            mappings=triggers.mappings, schedules=triggers.schedules, rules=rules,
                            metadata=_plain(entry.metadata))


def _function_names(entries: list[Entry], scope: Scope, stack: str) -> dict[str, str]:
    """Physical names first, so properties can refer to any function by Ref or Arn."""
    names: dict[str, str] = {}
    owners: dict[str, str] = {}
    for entry in entries:
        where = f"Resource {entry.logical_id} (line {entry.line})"
        name = _explicit_name(entry, scope, where) or default_function_name(stack, entry.logical_id)
        if name in owners:
            raise _error(where, f"function name '{name}' is already used by resource {owners[name]}",
                         entry.logical_id, entry.line)
        names[entry.logical_id] = name
        owners[name] = entry.logical_id
    return names


def _explicit_name(entry: Entry, scope: Scope, where: str) -> str | None:
    if "FunctionName" not in entry.properties:
        return None
    line = entry.properties.line_of("FunctionName")
    try:
        value = resolve(entry.properties["FunctionName"], scope)   # parameters, mappings, conditions only
        return None if value is NO_VALUE else validate_function_name(to_str(value))
    except (IntrinsicError, CumuloError) as exc:
        raise _error(where, f"property FunctionName (line {line}): {exc.message}", entry.logical_id,
                     line) from None


def _attributes(names: Mapping[str, str], implicit_roles: Mapping[str, bool],
                arns: Arns) -> dict[tuple[str, str], Any]:
    known: dict[tuple[str, str], Any] = {}
    for logical_id, name in names.items():
        known[(logical_id, "Ref")] = name
        known[(logical_id, "Arn")] = arns.function(name)
        if implicit_roles[logical_id]:
            role_arn = arns.default_role()
            known[(f"{logical_id}Role", "Ref")] = role_arn.rpartition("/")[2]
            known[(f"{logical_id}Role", "Arn")] = role_arn
    return known


def _builtin_attributes(template: Template) -> dict[tuple[str, str], Any]:
    arns = Arns(template.region, template.account_id)
    fns = template.functions
    known = _attributes({f.logical_id: f.function_name for f in fns}, {f.logical_id: f.implicit_role for f in fns},
                        arns)
    for fn in fns:
        if fn.auto_publish_alias:
            alias_arn = arns.function(fn.function_name, fn.auto_publish_alias)
            known[(f"{fn.logical_id}.Alias", "Ref")] = alias_arn        # SAM's !Ref Function.Alias
            known[(f"{fn.logical_id}Alias{fn.auto_publish_alias}", "Ref")] = alias_arn
    for queue in template.queues:
        known.update(queue_attributes(queue.logical_id, queue.name, queue.arn, queue.url))
    for stream in template.streams:
        known.update(stream_attributes(stream.logical_id, stream.name, stream.arn))
    for bus in template.buses:
        known.update(bus_attributes(bus.logical_id, bus.name, bus.arn))
    for rule in template.rules:
        known.update(rule_attributes(rule.logical_id, rule.bus, rule.name, rule.arn))
    for machine in template.machines:
        known.update(machine_attributes(machine.logical_id, machine.name, machine.arn))
    for layer in template.layers:
        known.update(layer_attributes(layer.logical_id))
    return known


def _describe(logical_id: str, attribute: str) -> str:
    return f"Ref {logical_id}" if attribute == "Ref" else f"Fn::GetAtt {logical_id}.{attribute}"


def _is_implicit(logical_id: str) -> bool:
    return logical_id.startswith(_IMPLICIT_APIS)


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
    """Whether a name looks like a resource SAM derives from a function (its Role, Alias, Version...)."""
    return any(logical_id.startswith(fn.logical_id) and logical_id != fn.logical_id for fn in template.functions)


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
