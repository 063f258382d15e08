"""``AWS::Serverless::Function``: ``Globals.Function`` merged in, named (``FunctionName``, or
``<stack>-<LogicalId>``), its properties read by ``cumulo.deploy.properties``; its events become
resources of other kinds, as SAM makes them: ``SQS``/``Kinesis`` event-source mappings and
``Schedule``/``ScheduleV2`` schedules (``cumulo.deploy.triggers``), ``EventBridgeRule``/``CloudWatchEvent``
rules (``cumulo.deploy.buses``), ``EventInvokeConfig``; ``Api``/``HttpApi`` events are routes the API
kind reads. With ``AutoPublishAlias`` they target the alias.

Deploying diffs each function with what exists (code hash, layers, configuration, SnapStart, reserved
concurrency, event invoke config, alias), snapshots what it will change, then deploys it (code and
configuration, concurrency, tags, a version and its alias, provisioned concurrency); undo puts the
snapshot back (a created function is deleted). Functions the template dropped are deleted after
everything else worked. Known event types this build does not wire are warnings; an unknown type is
an error.

``Ref`` is the function's name, ``Fn::GetAtt`` gives ``Arn``; the implicit role ``<LogicalId>Role``
answers ``Ref`` and ``Arn``, and with ``AutoPublishAlias`` ``<LogicalId>.Alias`` and
``<LogicalId>Alias<alias>`` are the alias's ARN (Outputs).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from cumulo.deploy.buses import RuleSpec, read_function_rules
from cumulo.deploy import lambda_resources as lr
from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, Node, Scope, resolve, to_str
from cumulo.deploy.kinds import deployment_config, invoke_config
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error
from cumulo.deploy.kinds.function_url import url_attributes
from cumulo.deploy.kinds.invoke_config import FunctionInvokeConfig
from cumulo.deploy.kinds.mapping import FunctionMapping
from cumulo.deploy.kinds.role import RoleSpec, function_role, implicit_role
from cumulo.deploy.kinds.schedule import FunctionSchedule
from cumulo.deploy.layers import has_stand_in, layers_differ, with_layer_arns
from cumulo.deploy.properties import (
    CONFIGURATION, FunctionSpec, check_globals, merge_globals, plain, read_function,
)
from cumulo.deploy.triggers import MappingSpec, ScheduleSpec, StreamMappingSpec, read_triggers
from cumulo.errors import CumuloError, InvalidParameterValueException, ResourceNotFoundException
from cumulo.functions.deployments import PREDEFINED, DeploymentConfig, config_named
from cumulo.model import limits
from cumulo.model.code import load_code
from cumulo.model.function import Arns, FunctionConfiguration, validate_function_name
from cumulo.model.layer import provided_layer
from cumulo.runtime.catalog import provide

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["FUNCTION_TYPE", "SUPPORTED_EVENT_TYPES", "KNOWN_EVENT_TYPES", "Function", "FunctionResource",
           "default_function_name"]

FUNCTION_TYPE = "AWS::Serverless::Function"
# Event sources this build can wire; later issues add theirs here.
SUPPORTED_EVENT_TYPES: frozenset[str] = frozenset({"HttpApi", "Api", "SQS", "Kinesis", "DynamoDB", "Schedule",
                                                "ScheduleV2", "EventBridgeRule", "CloudWatchEvent", "S3", "SNS"})
KNOWN_EVENT_TYPES = frozenset({
    "Api", "HttpApi", "SQS", "Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent", "Kinesis", "DynamoDB",
    "S3", "SNS", "CloudWatchLogs", "IoTRule", "AlexaSkill", "Cognito", "MSK", "MQ", "SelfManagedKafka", "DocumentDB",
})


@dataclass(frozen=True, kw_only=True)
class FunctionResource(FunctionSpec):
    """One ``AWS::Serverless::Function``, Globals merged, intrinsics resolved, values checked: its properties
    (``FunctionSpec``) and what the template makes of them."""

    logical_id: str
    line: int
    function_name: str
    implicit_role: bool = True          # no Role given: SAM creates "<LogicalId>Role"
    role_spec: RoleSpec | None = None   # that role (the role kind deploys it)
    mappings: list[MappingSpec | StreamMappingSpec] = field(default_factory=list)   # its SQS and Kinesis events
    schedules: list[ScheduleSpec] = field(default_factory=list)   # its Schedule/ScheduleV2 events
    rules: list[RuleSpec] = field(default_factory=list)   # its EventBridgeRule/CloudWatchEvent events
    metadata: Any = field(default=None, compare=False)   # the resource's Metadata (BuildMethod: cumulo.deploy.build)
    deployment_application: str = ""   # with DeploymentPreference: SAM's ServerlessDeploymentApplication
    deployment_group: str = ""          # and the function's <LogicalId>DeploymentGroup
    versions: tuple[str, ...] = ()      # logical ids of the AWS::Lambda::Version resources its alias points at
    aliases: tuple[str, ...] = ()       # logical ids of AWS::Lambda::Alias resources: its AutoPublishAlias


DEPLOYMENT_APPLICATION = "ServerlessDeploymentApplication"


def deployment_application(stack_name: str) -> str:
    """The CodeDeploy application SAM makes for a stack's gradual deployments."""
    return f"{stack_name}-{DEPLOYMENT_APPLICATION}"


def deployment_group(stack_name: str, logical_id: str) -> str:
    return f"{stack_name}-{logical_id}DeploymentGroup"


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


class Function(Kind):
    name = "function"
    types = (FUNCTION_TYPE, lr.FUNCTION, lr.VERSION, lr.ALIAS)
    after = ("layer", "role", "deployment config")
    listed = 10
    record_key = "functions"

    # -- reading

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        """Physical names first, so properties can refer to any function by Ref or Arn; each entry with
        Globals.Function merged in (for ``read``)."""
        try:
            globals_ = check_globals(load.globals)
        except IntrinsicError as exc:
            raise error(f"Globals (line {exc.line})", exc.message, line=exc.line) from None
        merged: list[Entry] = []
        notes: dict[str, list[str]] = {}
        for e in entries:
            if e.type == FUNCTION_TYPE:
                merged.append(replace(e, properties=merge_globals(globals_, e.properties)))
            elif e.type == lr.FUNCTION:         # plain CloudFormation: no Globals, its properties as SAM's
                try:
                    properties, notes[e.logical_id] = lr.function_properties(e.properties)
                except IntrinsicError as exc:
                    raise error(e.where, exc.message, e.logical_id, exc.line or e.line) from None
                merged.append(replace(e, properties=properties))
        names = {entry.logical_id: _explicit_name(entry, load) or default_function_name(load.stack, entry.logical_id)
                 for entry in merged}
        merged, versions = _versions_and_aliases(merged, names, [e for e in entries if e.type in (lr.VERSION, lr.ALIAS)],
                                                 load)
        named: dict[str, tuple[Entry, str, dict[str, Any]]] = {}
        owners: dict[str, str] = {}
        attributes: Attributes = {}
        for entry in merged:
            name = names[entry.logical_id]
            if name in owners:
                raise error(entry.where, f"function name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            extra = {**versions.get(entry.logical_id, {})}
            extra["notes"] = notes.get(entry.logical_id, []) + extra.get("notes", [])
            named[entry.logical_id] = (entry, name, extra)
            owners[name] = entry.logical_id
            attributes[(entry.logical_id, "Ref")] = name
            attributes[(entry.logical_id, "Arn")] = load.arns.function(name)
            if "Role" not in entry.properties:
                try:
                    attributes.update(_role(entry.logical_id, implicit_role(load, entry)[1]))
                except IntrinsicError as exc:
                    raise error(entry.where, exc.message, entry.logical_id, entry.properties.line_of("RolePath")
                                ) from None
            alias = _plain_value(entry, "AutoPublishAlias", load)
            if isinstance(alias, str):       # SAM's !Ref <Function>.Alias, anywhere in the template
                attributes[(f"{entry.logical_id}.Alias", "Ref")] = load.arns.function(name, alias)
                attributes[(f"{entry.logical_id}Alias{alias}", "Ref")] = load.arns.function(name, alias)
            if "DeploymentPreference" in entry.properties:    # what SAM makes for it (CodeDeploy's names)
                attributes[(DEPLOYMENT_APPLICATION, "Ref")] = deployment_application(load.stack)
                attributes[(f"{entry.logical_id}DeploymentGroup", "Ref")] = deployment_group(load.stack,
                                                                                           entry.logical_id)
            if "FunctionUrlConfig" in entry.properties:    # the URL SAM makes: <LogicalId>Url
                attributes.update(url_attributes(f"{entry.logical_id}Url", load.arns, name,
                                                 alias if isinstance(alias, str) else None))
            attributes.update(_version_attributes(extra, load.arns, name, alias if isinstance(alias, str) else None))
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        functions = []
        for entry, name, extra in named.values():
            try:
                spec = read_function(entry.properties, load.scope, load.base)
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
            fn = _resource(entry, name, spec, load)
            functions.append(replace(fn, notes=fn.notes + extra["notes"], versions=tuple(extra.get("versions", ())),
                                     aliases=tuple(extra.get("aliases", ()))))
        return functions

    def expand(self, fn: FunctionResource) -> Iterable[tuple[str, Any]]:
        """What SAM makes of its events and EventInvokeConfig (their targets: the alias, with AutoPublishAlias)."""
        alias = fn.auto_publish_alias
        out: list[tuple[str, Any]] = [
            ("event source mapping", FunctionMapping(f"{fn.logical_id}.{m.event}", fn.function_name, alias, m))
            for m in fn.mappings]
        out += [("schedule", FunctionSchedule(f"{fn.logical_id}.{s.event}", fn.function_name, alias, s))
                for s in fn.schedules]
        out += [("rule", rule) for rule in fn.rules]
        if fn.role_spec is not None:
            out.append(("role", fn.role_spec))
        if fn.event_invoke_config is not None:
            out.append(("event invoke config", FunctionInvokeConfig(fn.function_name, alias, fn.event_invoke_config)))
        return out

    def warnings(self, fn: FunctionResource) -> list[str]:
        """Its notes, and its events of known types this build does not wire; an unknown type is an error."""
        warnings = [f"{fn.logical_id}: {note}" for note in fn.notes]
        insights = [arn for arn in fn.layers if provided_layer(arn) == "lambda-insights"]
        if insights:
            warnings.append(f"{fn.logical_id}: layer {insights[0]} is AWS's Lambda Insights extension, which on AWS "
                            "ships the function's telemetry to CloudWatch Lambda Insights; accepted and not run: "
                            "Cumulo records the function's metrics itself")
        for event_name, event in fn.events.items():
            kind = event.get("Type")
            if kind in SUPPORTED_EVENT_TYPES:
                continue
            if kind not in KNOWN_EVENT_TYPES:
                raise InvalidParameterValueException(
                    f"Resource {fn.logical_id} (line {fn.line}): event {event_name} has unknown type {kind!r}")
            warnings.append(f"{fn.logical_id}: event {event_name} of type {kind} is not wired: this Cumulo build "
                            f"does not serve {kind} events yet; the function is deployed and invocable directly")
        return warnings

    # -- what !Ref and !GetAtt answer

    def attributes(self, fn: FunctionResource, arns: Arns) -> Attributes:
        known: Attributes = {(fn.logical_id, "Ref"): fn.function_name,
                             (fn.logical_id, "Arn"): arns.function(fn.function_name)}
        if fn.implicit_role:
            known.update(_role(fn.logical_id, fn.role))
        if fn.auto_publish_alias:
            alias_arn = arns.function(fn.function_name, fn.auto_publish_alias)
            known[(f"{fn.logical_id}.Alias", "Ref")] = alias_arn        # SAM's !Ref Function.Alias
            known[(f"{fn.logical_id}Alias{fn.auto_publish_alias}", "Ref")] = alias_arn
            known.update(_sam_version(fn.logical_id, arns, fn.function_name, None))
        known.update(_version_attributes({"versions": fn.versions, "aliases": fn.aliases}, arns, fn.function_name,
                                         fn.auto_publish_alias))
        return known

    def deployed(self, fn: FunctionResource, deploy: Deploy) -> Attributes:
        arns = deploy.c.arns
        known: Attributes = {(fn.logical_id, "Arn"): arns.function(fn.function_name),
                             (fn.logical_id, "Ref"): fn.function_name}
        if fn.implicit_role:
            known.update(_role(fn.logical_id, fn.role))
        if fn.auto_publish_alias:
            known[(f"{fn.logical_id}Alias{fn.auto_publish_alias}", "Ref")] = arns.function(
                fn.function_name, fn.auto_publish_alias)
            try:        # the version the alias points at, now that it is published
                version = deploy.c.get_alias(fn.function_name, fn.auto_publish_alias).function_version
            except ResourceNotFoundException:
                version = None
            known.update(_version_attributes({"versions": fn.versions, "aliases": fn.aliases}, arns, fn.function_name,
                                             fn.auto_publish_alias, version))
            known[(f"{fn.logical_id}.Alias", "Ref")] = arns.function(fn.function_name, fn.auto_publish_alias)
            known.update(_sam_version(fn.logical_id, arns, fn.function_name, version))
        return known

    def derives(self, fn: FunctionResource, logical_id: str) -> bool:
        """Its Role, Alias, Version... (a name starting with its logical id)."""
        return logical_id.startswith(fn.logical_id) and logical_id != fn.logical_id

    # -- deploying

    def plan(self, fn: FunctionResource, deploy: Deploy) -> Change:
        # What CreateFunction would refuse on this machine, a plan refuses too (a dry run passes no template the
        # deploy refuses): a Node.js runtime whose major is neither installed nor installable (a plan installs it).
        if (why := provide(fn.runtime)) is not None:
            raise InvalidParameterValueException(
                f"Resource {fn.logical_id} (line {fn.line}): property Runtime: {fn.runtime} cannot be used here: {why}")
        fn = _with_layer_arns(fn, deploy)       # the versions the layers' plan expects to reuse
        c = deploy.c
        deploy.planned.setdefault("functions", set()).add(fn.function_name)    # what later kinds may target
        published = [arn for arn in fn.layers if not has_stand_in(arn)]       # not the template's own layers
        if published:
            try:
                deploy.c.layers.resolve(published)      # a layer of another account, or one never published here
            except CumuloError as exc:
                raise InvalidParameterValueException(
                    f"Resource {fn.logical_id} (line {fn.line}): property Layers: {exc.message}") from None
        reserved = deploy.planned.setdefault("reserved concurrency", {})   # the template's reservations, together
        reserved[fn.function_name] = fn.reserved_concurrency
        if fn.reserved_concurrency is not None:
            try:
                c.limiter.check_reservations(reserved)
            except InvalidParameterValueException as exc:
                raise InvalidParameterValueException(
                    f"Resource {fn.logical_id} (line {fn.line}): property ReservedConcurrentExecutions: "
                    f"{exc.message}") from None
        if fn.deployment is not None:
            _deployment_config(fn, deploy)
        current = _current(c, fn.function_name)
        if current is None:
            return Change(fn.logical_id, fn.function_name, "create")
        details = []
        if current.code_sha256 != load_code(fn.code_uri).code_sha256:
            details.append("code")
        if layers_differ([r.arn for r in current.layers], fn.layers):
            details.append("layers")
        details += [f for f in CONFIGURATION if getattr(current, f) != getattr(fn, f)]
        if fn.snap_start is not None and current.snap_start != fn.snap_start:
            details.append("snap start")
        if c.get_function_concurrency(fn.function_name) != fn.reserved_concurrency:
            details.append("reserved concurrency")
        if invoke_config.differs(c, fn.function_name, fn.auto_publish_alias, fn.event_invoke_config):
            details.append("event invoke config")
        if fn.auto_publish_alias:
            try:
                alias = c.get_alias(fn.function_name, fn.auto_publish_alias)
                latest = c.list_versions_by_function(fn.function_name)[-1].version
                # (a gradual deployment still shifting the alias to the latest version is no change)
                if details or alias.function_version != latest and latest not in alias.weights:
                    details.append(f"alias {fn.auto_publish_alias}")
            except ResourceNotFoundException:
                details.append(f"alias {fn.auto_publish_alias}")
        return Change(fn.logical_id, fn.function_name, "update" if details else "unchanged", details)

    def removed(self, specs: list[FunctionResource], deploy: Deploy) -> list[Change]:
        wanted = {fn.function_name for fn in specs}
        return [Change(logical_id, name, "delete") for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and _current(deploy.c, name) is not None]

    def apply(self, fn: FunctionResource, change: Change | None, deploy: Deploy) -> None:
        if change is not None and change.action == "unchanged":
            return
        c = deploy.c
        fn = _with_layer_arns(fn, deploy)       # the versions the layers' apply published or reused
        snapshot = _snapshot(c, fn.function_name)
        deploy.undo.append(lambda: _restore(c, fn.function_name, snapshot))
        extra = {} if fn.snap_start is None else {"snap_start": fn.snap_start}
        c.deploy_function(fn.function_name, fn.code_uri, fn.handler, layers=list(fn.layers), **extra,
                          **{f: getattr(fn, f) for f in CONFIGURATION if f != "handler"})
        if fn.reserved_concurrency is None:
            c.delete_function_concurrency(fn.function_name)
        else:
            c.put_function_concurrency(fn.function_name, fn.reserved_concurrency)
        if fn.tags:
            c.tag_resource(c.arns.function(fn.function_name), fn.tags)
        if fn.auto_publish_alias:
            version = c.publish_version(fn.function_name, fn.version_description or None).version
            try:
                alias = c.get_alias(fn.function_name, fn.auto_publish_alias)
                if alias.function_version == version:
                    pass
                elif fn.deployment is not None and fn.deployment.enabled:
                    # CodeDeploy moves the alias once the whole deploy worked (functions/deployments.py)
                    if version not in alias.weights:
                        deploy.committed.append(lambda: _start_deployment(c, fn, alias.function_version, version,
                                                                          deploy))
                else:
                    c.update_alias(fn.function_name, fn.auto_publish_alias, function_version=version, weights={})
            except ResourceNotFoundException:
                c.create_alias(fn.function_name, fn.auto_publish_alias, version)
            if fn.provisioned_concurrency:
                c.put_provisioned_concurrency_config(fn.function_name, fn.auto_publish_alias,
                                                     fn.provisioned_concurrency)
        elif fn.provisioned_concurrency:
            raise InvalidParameterValueException(
                f"Resource {fn.logical_id} (line {fn.line}): ProvisionedConcurrencyConfig needs AutoPublishAlias")

    def record(self, applied: list[tuple[FunctionResource, Any]]) -> dict[str, str]:
        return {fn.logical_id: fn.function_name for fn, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for _, name in sorted((previous or {}).items()):
            if name not in wanted and _current(deploy.c, name) is not None:
                deploy.c.delete_function(name)


# --- reading ------------------------------------------------------------------------------------

def _explicit_name(entry: Entry, load: Load) -> str | None:
    if "FunctionName" not in entry.properties:
        return None
    line = entry.properties.line_of("FunctionName")
    try:
        value = resolve(entry.properties["FunctionName"], load.plain)   # parameters, mappings, conditions only
        return None if value is NO_VALUE else validate_function_name(to_str(value))
    except (IntrinsicError, CumuloError) as exc:
        raise error(entry.where, f"property FunctionName (line {line}): {exc.message}", entry.logical_id,
                    line) from None


def _versions_and_aliases(functions: list[Entry], names: dict[str, str], entries: list[Entry], load: Load,
                          ) -> tuple[list[Entry], dict[str, dict[str, list[str]]]]:
    """``AWS::Lambda::Version`` and ``AWS::Lambda::Alias`` resources as their function's ``AutoPublishAlias``
    (SAM makes exactly these two of it): each alias must point at a version of the template of the same
    function. The functions with the alias set, and each function's version and alias logical ids."""
    by_name = {name: logical_id for logical_id, name in names.items()}
    local: Attributes = {}
    for logical_id, name in names.items():
        local[(logical_id, "Ref")] = name
        local[(logical_id, "Arn")] = load.arns.function(name)
    scope = Scope(load.plain.parameters, load.plain.mappings, load.plain.conditions,
                  lambda lid, attribute: _local_lookup(local, lid, attribute))
    owner: dict[str, str] = {}       # version logical id -> function logical id
    extra: dict[str, dict[str, Any]] = {}
    added: dict[str, dict[str, Any]] = {}      # function logical id -> properties the version and alias give it
    for entry in sorted(entries, key=lambda e: e.type != lr.VERSION):     # versions first
        def value(key: str, required: bool = True) -> Any:
            if key not in entry.properties:
                if required:
                    raise error(entry.where, f"property {key} is required", entry.logical_id, entry.line)
                return None
            try:
                return resolve(entry.properties[key], scope)
            except IntrinsicError as exc:
                line = entry.properties.line_of(key)
                raise error(entry.where, f"property {key} (line {line}): {exc.message}", entry.logical_id,
                            line) from None
        name, _ = lr.qualified_name(value("FunctionName"))
        function = by_name.get(name)
        if function is None:
            raise error(entry.where, f"property FunctionName: '{name}' is not a function of this template (Cumulo "
                        "publishes versions and aliases of the template's own functions)", entry.logical_id,
                        entry.properties.line_of("FunctionName"))
        mine = extra.setdefault(function, {"versions": [], "aliases": []})
        gives = added.setdefault(function, {})
        settings = {k: entry.properties[k] for k in ("ProvisionedConcurrencyConfig",) if k in entry.properties}
        if entry.type == lr.VERSION:
            owner[entry.logical_id] = function
            mine["versions"].append(entry.logical_id)
            token = _version_token(entry.logical_id)
            local[(entry.logical_id, "Ref")] = local[(entry.logical_id, "FunctionArn")] = token
            local[(entry.logical_id, "Version")] = token
            if "Description" in entry.properties:
                gives["VersionDescription"] = entry.properties["Description"]
            gives.update(settings)
            continue
        version = value("FunctionVersion")
        pointed = next((lid for lid in owner if _version_token(lid) == version), None)
        if pointed is None or owner[pointed] != function:
            raise error(entry.where, "property FunctionVersion: Cumulo points an alias at a version the template "
                        "publishes of the same function (!GetAtt <Version>.Version); a version number or $LATEST "
                        "is not supported", entry.logical_id, entry.properties.line_of("FunctionVersion"))
        if "AutoPublishAlias" in gives:
            raise error(entry.where, f"function {function} already has alias {gives['AutoPublishAlias']}: Cumulo "
                        "publishes one alias per function of a template", entry.logical_id, entry.line)
        gives["AutoPublishAlias"] = entry.properties.get("Name")
        gives.update(settings)
        mine["aliases"].append(entry.logical_id)
        if "RoutingConfig" in entry.properties:
            mine.setdefault("notes", []).append(f"{entry.logical_id}: RoutingConfig ignored: the alias points at "
                                                "the latest version only")
    for function, mine in extra.items():
        if mine["versions"] and not mine["aliases"]:
            mine.setdefault("notes", []).append(f"{', '.join(mine['versions'])}: a version no alias points at is not "
                                                "published: Cumulo publishes versions for an AWS::Lambda::Alias")
    out = []
    for entry in functions:
        if added.get(entry.logical_id):
            properties = Node(entry.properties, line=entry.properties.line)
            properties.key_lines.update(entry.properties.key_lines)
            for key, given in added[entry.logical_id].items():
                properties[key] = given
                properties.key_lines[key] = entry.line
            entry = replace(entry, properties=properties)
        out.append(entry)
    return out, extra


def _local_lookup(known: Attributes, logical_id: str, attribute: str) -> Any:
    if (logical_id, attribute) not in known:
        raise IntrinsicError(f"'{logical_id}.{attribute}' is not a function, version or parameter of this template")
    return known[(logical_id, attribute)]


def _version_token(logical_id: str) -> str:
    """What a version's Ref and attributes are while the template is read (its number is known once published)."""
    return f"cumulo-version-of:{logical_id};"


def _version_attributes(extra: dict[str, Any], arns: Arns, name: str, alias: str | None,
                        version: str | None = None) -> Attributes:
    """``Ref``/``!GetAtt`` of a function's ``AWS::Lambda::Version`` (``Ref`` and ``FunctionArn``: the version's
    ARN, ``Version``: its number; a stand-in until published) and ``AWS::Lambda::Alias`` (``Ref`` and
    ``AliasArn``: the alias's ARN) resources."""
    known: Attributes = {}
    for logical_id in extra.get("versions", ()):
        arn = arns.function(name, version) if version else _version_token(logical_id)
        known[(logical_id, "Ref")] = known[(logical_id, "FunctionArn")] = arn
        known[(logical_id, "Version")] = version or _version_token(logical_id)
    for logical_id in extra.get("aliases", ()):
        if alias:
            known[(logical_id, "Ref")] = known[(logical_id, "AliasArn")] = arns.function(name, alias)
    return known


def _sam_version(logical_id: str, arns: Arns, name: str, version: str | None) -> Attributes:
    """SAM's ``!Ref Function.Version`` (the published version's ARN) and ``!GetAtt Function.Version.Version``
    (its number) of a function with ``AutoPublishAlias``; stand-ins until the deploy publishes it."""
    token = _version_token(f"{logical_id}.Version")
    arn = arns.function(name, version) if version else token
    number = version or token
    return {(f"{logical_id}.Version", "Ref"): arn, (f"{logical_id}.Version", "Version"): number,
            (logical_id, "Version.Version"): number, (f"{logical_id}.Version", "FunctionArn"): arn}


def _plain_value(entry: Entry, key: str, load: Load) -> Any:
    """A property's value from parameters, mappings and conditions alone (None when it needs more, or is absent)."""
    try:
        return resolve(entry.properties[key], load.plain) if key in entry.properties else None
    except IntrinsicError:
        return None


def _role(logical_id: str, role_arn: str) -> Attributes:
    """The implicit role SAM makes for a function without a Role: ``<LogicalId>Role``."""
    return {(f"{logical_id}Role", "Ref"): role_arn.rpartition("/")[2], (f"{logical_id}Role", "Arn"): role_arn}


def _resource(entry: Entry, name: str, spec: FunctionSpec, load: Load) -> FunctionResource:
    try:
        triggers = read_triggers(name, spec.events)
        # SAM targets the alias when the function has AutoPublishAlias.
        target = load.arns.function(name, spec.auto_publish_alias)
        rules = read_function_rules(load.stack, entry.logical_id, target, spec.events, load.region, load.account)
        rules = [replace(r, line=spec.event_lines.get(r.key.split(".", 1)[1], entry.line)) for r in rules]
    except IntrinsicError as exc:
        event = exc.message.split(":", 1)[0].removeprefix("event ")
        line = spec.event_lines.get(event, entry.line)
        raise error(entry.where, exc.message.replace(f"event {event}:", f"event {event} (line {line}):", 1),
                    entry.logical_id, line) from None
    role, role_notes = _execution_role(entry, spec, load)
    properties = {f.name: getattr(spec, f.name) for f in fields(FunctionSpec)}
    return FunctionResource(**{**properties, "notes": spec.notes + role_notes + triggers.notes,
                               "role": role.arn if isinstance(role, RoleSpec) else role},
                            logical_id=entry.logical_id, line=entry.line, function_name=name,
                            implicit_role=isinstance(role, RoleSpec), role_spec=role if isinstance(role, RoleSpec) else None,
                            mappings=triggers.mappings, schedules=triggers.schedules, rules=rules,
                            metadata=plain(entry.metadata),
                            deployment_application=deployment_application(load.stack) if spec.deployment else "",
                            deployment_group=deployment_group(load.stack, entry.logical_id) if spec.deployment else "")


_FOR_SAM_ROLE = ("Policies", "RolePath", "AssumeRolePolicyDocument", "PermissionsBoundary")


def _execution_role(entry: Entry, spec: FunctionSpec, load: Load) -> tuple[RoleSpec | str, list[str]]:
    """Its Role, or (none given) the role SAM makes for it (``cumulo.deploy.kinds.role``)."""
    if "Role" in entry.properties:
        return spec.role, [f"{key} ignored: the function has a Role (SAM makes no role then and changes nothing "
                           "on the one given)" for key in _FOR_SAM_ROLE if key in entry.properties]
    config = spec.event_invoke_config
    try:
        return function_role(load, entry, events=[str(e.get("Type")) for e in spec.events.values()],
                             vpc=bool(spec.vpc_config), dead_letter_arn=spec.dead_letter_arn,
                             destinations=[("OnSuccess", config.on_success), ("OnFailure", config.on_failure)]
                             if config is not None else []), []
    except IntrinsicError as exc:
        key = exc.message.removeprefix("property ").split(":")[0].split(" ")[0]
        line = exc.line or (entry.properties.line_of(key) if key in entry.properties else entry.line)
        raise error(entry.where, exc.message.replace(f"property {key}:", f"property {key} (line {line}):", 1),
                    entry.logical_id, line) from None


# --- deploying ----------------------------------------------------------------------------------

def _deployment_config(fn: FunctionResource, deploy: Deploy) -> DeploymentConfig:
    """The deployment configuration DeploymentPreference's Type names (a predefined one, or the template's
    ``AWS::CodeDeploy::DeploymentConfig``); an unknown name is refused as SAM's deploy would fail."""
    assert fn.deployment is not None
    found = config_named(fn.deployment.type, deploy.planned.get(deployment_config.PLANNED))
    if found is None:
        raise InvalidParameterValueException(
            f"Resource {fn.logical_id} (line {fn.line}): property DeploymentPreference: Type {fn.deployment.type!r} "
            f"is neither a predefined deployment configuration ({', '.join(PREDEFINED)}) nor a "
            "deployment configuration of this template")
    return found


def _start_deployment(c: Cumulo, fn: FunctionResource, current: str, target: str, deploy: Deploy) -> str:
    """Start the gradual deployment of the alias; the line the deploy's summary shows for it."""
    assert fn.deployment is not None and fn.auto_publish_alias is not None
    config = _deployment_config(fn, deploy)
    deployment_id = c.deployments.start(fn.function_name, fn.auto_publish_alias, current, target, config,
                                        fn.deployment_application, fn.deployment_group, fn.deployment.hooks,
                                        fn.deployment.alarms)
    return (f"deployment {deployment_id}: alias {fn.auto_publish_alias} of {fn.function_name}, version {current} "
            f"-> {target} ({config.name}); aws deploy get-deployment --deployment-id {deployment_id}")


def _with_layer_arns(fn: FunctionResource, deploy: Deploy) -> FunctionResource:
    """The function with each layer stand-in (in ``Layers`` and in environment variables, where
    ``!Ref``/``!Sub`` may have put one) replaced by its version ARN, where the deploy knows it."""
    if not any(has_stand_in(v) for v in [*fn.layers, *fn.environment.values()]):
        return fn
    return replace(fn, layers=[with_layer_arns(v, deploy.attributes) for v in fn.layers],
                   environment={k: with_layer_arns(v, deploy.attributes) for k, v in fn.environment.items()})


def _current(c: Cumulo, name: str) -> FunctionConfiguration | None:
    try:
        return c.get_function_configuration(name)
    except ResourceNotFoundException:
        return None


@dataclass
class _Snapshot:
    """What a function looked like before the deploy touched it (None: it did not exist)."""

    config: FunctionConfiguration | None
    zip_bytes: bytes | None = None
    reserved: int | None = None
    aliases: dict[str, str] = field(default_factory=dict)


def _snapshot(c: Cumulo, name: str) -> _Snapshot:
    config = _current(c, name)
    if config is None:
        return _Snapshot(None)
    return _Snapshot(config, c.blobs.read(config.code_hex), c.get_function_concurrency(name),
                     {a.name: a.function_version for a in c.list_aliases(name)})


def _restore(c: Cumulo, name: str, snap: _Snapshot) -> None:
    """Undo: the function as the snapshot has it (one it created, deleted)."""
    if snap.config is None:
        if _current(c, name) is not None:
            c.delete_function(name)
        return
    old = snap.config
    assert snap.zip_bytes is not None
    extra = {} if old.snap_start is None else {"snap_start": old.snap_start}
    c.deploy_function(name, snap.zip_bytes, old.handler, layers=[r.arn for r in old.layers], **extra,
                      **{f: getattr(old, f) for f in CONFIGURATION if f != "handler"})
    if snap.reserved is None:
        c.delete_function_concurrency(name)
    else:
        c.put_function_concurrency(name, snap.reserved)
    for alias in c.list_aliases(name):
        if alias.name not in snap.aliases:
            c.delete_alias(name, alias.name)
        elif alias.function_version != snap.aliases[alias.name]:
            c.update_alias(name, alias.name, function_version=snap.aliases[alias.name])
