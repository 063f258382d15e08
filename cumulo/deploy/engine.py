"""Deploying a SAM template: plan the difference, apply it, roll back on failure.

A deploy is a stack (named after the template's folder unless given): the
store remembers which functions it created, so the next deploy of the same
stack can update them, leave unchanged ones untouched, and delete functions
the template no longer has. Everything a deploy changes is snapshotted first;
if any step fails, the functions it created are deleted and the ones it changed
are put back (code, configuration, concurrency, aliases), then the error is
raised. Deletes of removed functions run last, after everything else worked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from cumulo.app import Cumulo
from cumulo.deploy import layers, sources
from cumulo.deploy.buses import bus_attributes, rule_attributes
from cumulo.deploy.machines import machine_attributes
from cumulo.deploy.queues import queue_attributes
from cumulo.deploy.streams import stream_attributes
from cumulo.deploy.sources import Change
from cumulo.deploy.build import build_functions
from cumulo.deploy.properties import CONFIGURATION
from cumulo.deploy.template import FunctionResource, Template, load_template, resolve_outputs
from cumulo.errors import CumuloError, InvalidParameterValueException, ResourceNotFoundException
from cumulo.deploy.apis import ApiSpec
from cumulo.gateway.model import HttpApi, Stage
from cumulo.model.code import CodePackage, load_code
from cumulo.model.function import FunctionConfiguration

__all__ = ["Change", "DeployResult", "deploy", "plan", "local_api_urls", "SUPPORTED_EVENT_TYPES"]

# Event sources this build can wire; later issues add theirs here.
SUPPORTED_EVENT_TYPES: frozenset[str] = frozenset({"HttpApi", "Api", "SQS", "Kinesis", "Schedule", "ScheduleV2",
                                                "EventBridgeRule", "CloudWatchEvent"})
KNOWN_EVENT_TYPES = frozenset({
    "Api", "HttpApi", "SQS", "Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent", "Kinesis", "DynamoDB",
    "S3", "SNS", "CloudWatchLogs", "IoTRule", "AlexaSkill", "Cognito", "MSK", "MQ", "SelfManagedKafka", "DocumentDB",
})


@dataclass
class DeployResult:
    stack: str
    changes: list[Change]
    outputs: dict[str, Any]
    warnings: list[str]
    applied: bool
    routes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def summary(self) -> list[str]:
        lines = [("" if c.kind == "function" else f"{c.kind} ") + f"{c.function} ({c.logical_id}): {c.action}"
                 + (f" — {', '.join(c.details)}" if c.details else "") for c in self.changes]
        lines += self.routes
        lines += [f"output {k} = {v}" for k, v in self.outputs.items()]
        return lines + [f"warning: {w}" for w in self.warnings]


class _Noted(Protocol):
    """A resource whose reading left notes: queues, streams, buses, state machines, rules."""

    @property
    def logical_id(self) -> str: ...
    @property
    def notes(self) -> list[str]: ...


@dataclass
class _Snapshot:
    """What a function looked like before the deploy touched it (None: it did not exist)."""

    config: FunctionConfiguration | None
    zip_bytes: bytes | None = None
    reserved: int | None = None
    aliases: dict[str, str] = field(default_factory=dict)


def _current(c: Cumulo, name: str) -> FunctionConfiguration | None:
    try:
        return c.get_function_configuration(name)
    except ResourceNotFoundException:
        return None


def _diff(c: Cumulo, fn: FunctionResource, package: CodePackage) -> Change:
    current = _current(c, fn.function_name)
    if current is None:
        return Change(fn.logical_id, fn.function_name, "create")
    details = []
    if current.code_sha256 != package.code_sha256:
        details.append("code")
    if layers.layers_differ([r.arn for r in current.layers], fn.layers):
        details.append("layers")
    details += [f for f in CONFIGURATION if getattr(current, f) != getattr(fn, f)]
    if fn.snap_start is not None and current.snap_start != fn.snap_start:
        details.append("snap start")
    if c.get_function_concurrency(fn.function_name) != fn.reserved_concurrency:
        details.append("reserved concurrency")
    if sources.invoke_config_differs(c, fn):
        details.append("event invoke config")
    if fn.auto_publish_alias:
        try:
            alias = c.get_alias(fn.function_name, fn.auto_publish_alias)
            latest_version = c.list_versions_by_function(fn.function_name)[-1]
            if details or alias.function_version != latest_version.version:
                details.append(f"alias {fn.auto_publish_alias}")
        except ResourceNotFoundException:
            details.append(f"alias {fn.auto_publish_alias}")
    return Change(fn.logical_id, fn.function_name, "update" if details else "unchanged", details)


def plan(c: Cumulo, template: Template) -> tuple[list[Change], list[str]]:
    """The changes a deploy of ``template`` would make, and warnings (events not wired)."""
    changes: list[Change] = []
    warnings: list[str] = []
    expected = layers.expected_arns(c, template)
    for fn in template.functions:
        changes.append(_diff(c, layers.with_layer_arns([fn], expected)[0], load_code(fn.code_uri)))
        warnings += [f"{fn.logical_id}: {note}" for note in fn.notes]
        for event_name, event in fn.events.items():
            kind = event.get("Type")
            if kind in SUPPORTED_EVENT_TYPES:
                continue
            if kind not in KNOWN_EVENT_TYPES:
                raise InvalidParameterValueException(
                    f"Resource {fn.logical_id} (line {fn.line}): event {event_name} has unknown type {kind!r}")
            warnings.append(f"{fn.logical_id}: event {event_name} of type {kind} is not wired: this Cumulo build "
                            f"does not serve {kind} events yet; the function is deployed and invocable directly")
    previous = c.store.get_stack(template.stack_name) or {"functions": {}}
    wanted = {fn.function_name for fn in template.functions}
    for logical_id, name in sorted(previous["functions"].items()):
        if name not in wanted and _current(c, name) is not None:
            changes.append(Change(logical_id, name, "delete"))
    noted: list[_Noted] = [*template.queues, *template.streams, *template.buses, *template.machines,
                           *sources.all_rules(template)]     # a rule's logical_id is its key
    warnings += [f"{resource.logical_id}: {note}" for resource in noted for note in resource.notes]
    return changes + sources.plan_sources(c, template, previous) + layers.plan_layers(c, template, expected), warnings


def deploy(c: Cumulo, path: Path, parameters: dict[str, str] | None = None, stack_name: str | None = None,
           dry_run: bool = False, gateway_url: str | None = None, build: bool = True) -> DeployResult:
    """Deploy the template at ``path`` as ``stack_name`` (default: the template's folder name).

    ``gateway_url`` is where the template's HTTP APIs are served (default ``c.gateway_url``, set
    while a server runs): Outputs that are execute-api URLs of those APIs are given as that
    gateway's URLs (see ``local_api_urls``); with none known they are left as AWS gives them."""
    options: dict[str, Any] = {"region": c.arns.region, "account_id": c.arns.account,
                               "queue_endpoint": c.queues.endpoint}
    if stack_name:
        options["stack_name"] = stack_name
    template = load_template(path, parameters or {}, **options)
    if build:   # as `sam build`: dependencies installed into the code (cumulo.deploy.build)
        template = build_functions(template)
    changes, warnings = plan(c, template)
    if dry_run:
        return DeployResult(template.stack_name, changes, {}, warnings, applied=False)
    snapshots: dict[str, _Snapshot] = {}
    api_snapshots: dict[str, dict[str, Any] | None] = {}
    queue_undo: sources.Undo = []
    trigger_undo: sources.Undo = []
    previous = c.store.get_stack(template.stack_name) or {}
    try:
        sources.apply_queues(c, template, queue_undo)
        sources.apply_streams(c, template, queue_undo)
        sources.apply_buses(c, template, queue_undo)
        layer_arns = layers.apply_layers(c, template, queue_undo)   # before the functions that use them
        template = replace(template, functions=layers.with_layer_arns(template.functions, layer_arns))
        for fn, change in zip(template.functions, changes):
            if change.action != "unchanged":
                snapshots[fn.function_name] = _snapshot(c, fn)
                _apply(c, fn)
        # State machines after functions (their definitions name them), before the rules that target them.
        sources.apply_machines(c, template, trigger_undo)
        triggers = sources.apply_triggers(c, template, previous, trigger_undo)
        # Rules last: their targets are the functions and queues made above.
        triggers["rules"] = sources.apply_rules(c, template, trigger_undo)
        _apply_apis(c, template, api_snapshots)
    except Exception as exc:
        # The reverse of the order things were made: triggers, functions, queues and streams.
        sources.undo(trigger_undo)
        _rollback(c, snapshots)
        sources.undo(queue_undo)
        _rollback_apis(c, api_snapshots)
        if isinstance(exc, CumuloError):
            exc.message = f"Deploy of stack {template.stack_name} failed and was rolled back: {exc.message}"
            exc.args = (exc.message,)
        raise
    kept = sources.record(template, triggers)
    sources.delete_removed(c, previous, kept, template)
    for change in changes:
        if change.action == "delete" and change.kind == "function":
            c.delete_function(change.function)
    sources.delete_removed_queues(c, previous, template)
    sources.delete_removed_streams(c, previous, template)
    sources.delete_removed_machines(c, previous, template)
    sources.delete_removed_buses(c, previous, template)
    _delete_removed_apis(c, previous, template)
    c.store.put_stack(template.stack_name, {"functions": {fn.logical_id: fn.function_name for fn in template.functions},
                                            "apis": [spec.api_id for spec in template.apis], **kept,
                                            "layers": layers.record(template, layer_arns)})
    layers.delete_replaced(c, previous, layer_arns)
    route_lines = [line for spec in template.apis for line in _route_lines(spec)]
    # Outputs naming resources this build does not create (e.g. ServerlessRestApi) are left out.
    outputs = resolve_outputs(template, _attributes(c, template, layer_arns), omit_unresolved=True)
    gateway_url = gateway_url or c.gateway_url
    if gateway_url:
        outputs = local_api_urls(outputs, {spec.api_id for spec in template.apis}, gateway_url)
    return DeployResult(template.stack_name, changes, outputs, warnings, applied=True, routes=route_lines)


_EXECUTE_API = re.compile(r"https?://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?![\w-]|\.\w)")


def local_api_urls(outputs: dict[str, Any], api_ids: set[str], gateway_url: str) -> dict[str, Any]:
    """``outputs`` with each execute-api URL of one of ``api_ids``
    (``https://{api-id}.execute-api.{region}.amazonaws.com/{stage}/{path}``) given as the local
    gateway serves it (``{gateway_url}/{api-id}/{stage}/{path}``). Other values are left alone:
    an API this deploy did not make is not served here."""
    def local(m: re.Match[str]) -> str:
        return f"{gateway_url}/{m['api']}" if m["api"] in api_ids else m[0]

    return {k: _EXECUTE_API.sub(local, v) if isinstance(v, str) else v for k, v in outputs.items()}


def _snapshot(c: Cumulo, fn: FunctionResource) -> _Snapshot:
    config = _current(c, fn.function_name)
    if config is None:
        return _Snapshot(None)
    return _Snapshot(config, c.blobs.read(config.code_hex), c.get_function_concurrency(fn.function_name),
                     {a.name: a.function_version for a in c.list_aliases(fn.function_name)})


def _apply(c: Cumulo, fn: FunctionResource) -> None:
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
        version = c.publish_version(fn.function_name).version
        try:
            if c.get_alias(fn.function_name, fn.auto_publish_alias).function_version != version:
                c.update_alias(fn.function_name, fn.auto_publish_alias, function_version=version)
        except ResourceNotFoundException:
            c.create_alias(fn.function_name, fn.auto_publish_alias, version)
        if fn.provisioned_concurrency:
            c.put_provisioned_concurrency_config(fn.function_name, fn.auto_publish_alias, fn.provisioned_concurrency)
    elif fn.provisioned_concurrency:
        raise InvalidParameterValueException(
            f"Resource {fn.logical_id} (line {fn.line}): ProvisionedConcurrencyConfig needs AutoPublishAlias")


def _rollback(c: Cumulo, snapshots: dict[str, _Snapshot]) -> None:
    for name, snap in reversed(list(snapshots.items())):
        try:
            if snap.config is None:
                if _current(c, name) is not None:
                    c.delete_function(name)
                continue
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
        except CumuloError:
            continue   # best effort: restore everything we can


def _apply_apis(c: Cumulo, template: Template, snapshots: dict[str, dict[str, Any] | None]) -> None:
    """Each API of the template, stored whole: the template is the API's one source of truth."""
    for spec in template.apis:
        try:
            snapshots[spec.api_id] = current = c.store.get_api(spec.api_id)
        except ResourceNotFoundException:
            snapshots[spec.api_id] = current = None
        created = current["created"] if current else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for authorizer in spec.authorizers:
            if authorizer.kind == "REQUEST":
                c.functions.get(authorizer.function)       # the authorizer function must exist
        stage = Stage(spec.stage, dict(spec.stage_variables), spec.default_throttle, dict(spec.route_throttles))
        api = HttpApi(spec.api_id, spec.name, spec.routes, (stage,), created, (), spec.authorizers, spec.cors,
                      spec.description, spec.protocol)
        if current is None or HttpApi.from_dict(current) != api:
            c.store.put_api(spec.api_id, api.to_dict())


def _delete_removed_apis(c: Cumulo, previous: dict[str, Any], template: Template) -> None:
    wanted = {spec.api_id for spec in template.apis}
    for api_id in previous.get("apis", []):
        if api_id not in wanted:
            try:
                c.apis.delete_api(api_id)
            except ResourceNotFoundException:
                pass


def _route_lines(spec: ApiSpec) -> list[str]:
    prefix = f"/{spec.api_id}" + ("" if spec.stage == "$default" else f"/{spec.stage}")
    return [f"api {spec.logical_id} ({spec.api_id}): {r.route_key} -> {r.function} at <gateway>{prefix}"
            + ("/..." if r.route_key == "$default" else r.route_key.split(" ", 1)[1]) for r in spec.routes]


def _rollback_apis(c: Cumulo, snapshots: dict[str, dict[str, Any] | None]) -> None:
    for api_id, doc in snapshots.items():
        if doc is None:
            try:
                c.apis.delete_api(api_id)
            except ResourceNotFoundException:
                pass
        else:
            c.store.put_api(api_id, doc)


def _attributes(c: Cumulo, template: Template, layer_arns: dict[str, str | None]) -> dict[tuple[str, str], Any]:
    attributes: dict[tuple[str, str], Any] = {}
    for spec in template.apis:
        attributes[(spec.logical_id, "Ref")] = spec.api_id
    for queue in template.queues:
        attributes.update(queue_attributes(queue.logical_id, queue.name, queue.arn, c.queues.url(queue.name)))
    for stream in template.streams:
        attributes.update(stream_attributes(stream.logical_id, stream.name, c.streams.arn(stream.name)))
    for bus in template.buses:
        attributes.update(bus_attributes(bus.logical_id, bus.name, c.event_bus.bus_arn(bus.name)))
    for rule in template.rules:
        attributes.update(rule_attributes(rule.logical_id, rule.bus, rule.name,
                                          c.event_bus.rule_arn(rule.bus, rule.name)))
    for machine in template.machines:
        attributes.update(machine_attributes(machine.logical_id, machine.name, machine.arn))
    attributes.update({(k, "Ref"): v for k, v in layer_arns.items() if v})
    for fn in template.functions:
        attributes[(fn.logical_id, "Arn")] = c.arns.function(fn.function_name)
        attributes[(fn.logical_id, "Ref")] = fn.function_name
        attributes[(f"{fn.logical_id}Role", "Arn")] = c.arns.default_role()
        if fn.auto_publish_alias:
            attributes[(f"{fn.logical_id}Alias{fn.auto_publish_alias}", "Ref")] = c.arns.function(
                fn.function_name, fn.auto_publish_alias)
    return attributes
