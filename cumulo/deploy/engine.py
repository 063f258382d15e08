"""Deploying a SAM template: plan the difference, apply it, roll back on failure.

A deploy is a stack (named after the template's folder unless given). The engine drives the
template's resource kinds (``cumulo.deploy.kinds``) and knows none of them: kinds are planned and
applied in dependency order (each after the kinds it names in ``after``), each kind's resources in
template order; a plan lists changes by kind (``listed``). Every step leaves an undo step; if any
fails, they run last first (what was created is deleted, what was changed put back), then the error
is raised. After everything worked, what the previous deploy of the stack made and this one no longer
has is removed, in the reverse order, and the stack record (what each kind keeps, ``record``) is
written, so the next deploy of the same stack finds its own resources, updates them, leaves
unchanged ones untouched and deletes the ones the template no longer has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cumulo.deploy.build import build_functions
from cumulo.deploy.kinds import KINDS
from cumulo.deploy.kinds.api import local_api_urls
from cumulo.deploy.kinds.base import Change, Deploy, ResourceKind, undo
from cumulo.deploy.kinds.function import SUPPORTED_EVENT_TYPES
from cumulo.deploy.stacks import STACK_KEY, deleted_record, stack_record
from cumulo.deploy.references import StoreLookup
from cumulo.deploy.template import Template, load_template, resolve_outputs, stack_id
from cumulo.errors import CumuloError

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Change", "DeployResult", "deploy", "delete_stack", "plan", "local_api_urls", "SUPPORTED_EVENT_TYPES"]


@dataclass
class DeployResult:
    stack: str
    changes: list[Change]
    outputs: dict[str, Any]
    warnings: list[str]
    applied: bool
    routes: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)   # logical id -> Type, as the template says

    @property
    def changed(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def summary(self) -> list[str]:
        lines = [("" if c.kind == "function" else f"{c.kind} ") + f"{c.function} ({c.logical_id}): {c.action}"
                 + (f" — {', '.join(c.details)}" if c.details else "") for c in self.changes]
        lines += self.routes
        lines += [f"output {k} = {v}" for k, v in self.outputs.items()]
        return lines + [f"warning: {w}" for w in self.warnings]


@dataclass
class _Plan:
    changes: list[Change]                       # as a plan lists them
    of_resource: list[Change | None]            # each of template.all_resources()'s change, in that order
    warnings: list[str]


def plan(c: Cumulo, template: Template) -> tuple[list[Change], list[str]]:
    """The changes a deploy of ``template`` would make, and warnings (what was ignored, events not wired)."""
    planned = _plan(c, template)
    return planned.changes, planned.warnings


def _plan(c: Cumulo, template: Template) -> _Plan:
    resources = template.all_resources()
    listing = sorted(range(len(resources)), key=lambda i: resources[i][0].listed)    # stable: template order
    warnings = [*template.notes, *(w for i in listing for w in resources[i][0].warnings(resources[i][1]))]
    deploy = Deploy(c, _without_retained(c.store.get_stack(template.stack_name) or {}, template))
    of_resource: list[Change | None] = [None] * len(resources)
    listed: list[tuple[tuple[int, int, int], Change]] = []
    for rank, kind in enumerate(KINDS.deploy_order()):     # what a kind expects of another is known first
        for i in _indexes(resources, kind):
            of_resource[i] = change = kind.plan(resources[i][1], deploy)
            if change is not None:
                listed.append(((kind.listed, 0, i), change))
        removed = kind.removed([resources[i][1] for i in _indexes(resources, kind)], deploy)
        listed += [((kind.listed, 1, rank), change) for change in removed]
    return _Plan([change for _, change in sorted(listed, key=lambda item: item[0])], of_resource, warnings)


def delete_stack(c: Cumulo, name: str) -> bool:
    """CloudFormation's DeleteStack: every resource the stack's last deploy made is removed (but those with
    DeletionPolicy Retain), kinds in the reverse of their deploy order; the stack is kept as DELETE_COMPLETE.
    False when there is no such stack (AWS answers DeleteStack of an unknown stack with success too)."""
    previous = c.store.get_stack(name)
    stack = (previous or {}).get(STACK_KEY)
    if previous is None or (stack or {}).get("StackStatus") == "DELETE_COMPLETE":
        return False
    retained = set(previous.get(RETAIN_KEY, ()))
    state = Deploy(c, previous)
    for kind in reversed(KINDS.deploy_order()):
        if kind.record_key:
            before = previous.get(kind.record_key)
            if isinstance(before, dict):
                before = {k: v for k, v in before.items() if str(k).split(".")[0] not in retained}
            kind.remove(before, kind.record([]), state)
    c.store.put_stack(name, {STACK_KEY: deleted_record(stack)} if stack else {})
    return True


RETAIN_KEY = "retain"      # the stack record's logical ids with DeletionPolicy Retain


def _without_retained(previous: dict[str, Any], template: Template) -> dict[str, Any]:
    """The previous deploy's record without what it marked DeletionPolicy: Retain and this template dropped: such a
    resource is left as it is and forgotten by the stack, as CloudFormation leaves it (kinds keep their record by
    logical id; an event's resources by ``<LogicalId>.<Event>``)."""
    declared = {spec.logical_id for _, spec in template.all_resources() if hasattr(spec, "logical_id")}
    gone = set(previous.get(RETAIN_KEY, ())) - declared
    if not gone:
        return previous
    return {key: {k: v for k, v in value.items() if str(k).split(".")[0] not in gone}
            if isinstance(value, dict) else value for key, value in previous.items()}


def _indexes(resources: list[tuple[ResourceKind, Any]], kind: ResourceKind) -> list[int]:
    return [i for i, (k, _) in enumerate(resources) if k is kind]


def deploy(c: Cumulo, path: Path, parameters: dict[str, str] | None = None, stack_name: str | None = None,
           dry_run: bool = False, gateway_url: str | None = None, build: bool = True) -> DeployResult:
    """Deploy the template at ``path`` as ``stack_name`` (default: the template's folder name).

    ``gateway_url`` is where the template's HTTP APIs are served (default ``c.gateway_url``, set
    while a server runs): Outputs that are execute-api URLs of those APIs are given as that
    gateway's URLs (see ``local_api_urls``); with none known they are left as AWS gives them."""
    options: dict[str, Any] = {"region": c.arns.region, "account_id": c.arns.account,
                               "queue_endpoint": c.queues.endpoint,
                               "references": StoreLookup(c.parameters, c.secrets)}
    if stack_name:
        options["stack_name"] = stack_name
    template = load_template(path, parameters or {}, **options)
    if build:   # as `sam build`: dependencies installed into the code (cumulo.deploy.build)
        template = build_functions(template)
    planned = _plan(c, template)
    if dry_run:
        return DeployResult(template.stack_name, planned.changes, {}, planned.warnings, applied=False,
                            types=dict(template.types))
    resources = template.all_resources()
    previous = _without_retained(c.store.get_stack(template.stack_name) or {}, template)
    state = Deploy(c, previous)
    applied: dict[str, list[tuple[Any, Any]]] = {kind.name: [] for kind in KINDS}
    try:
        for kind in KINDS.deploy_order():
            for i in _indexes(resources, kind):
                applied[kind.name].append((resources[i][1], kind.apply(resources[i][1], planned.of_resource[i],
                                                                       state)))
    except Exception as exc:
        undo(state.undo)           # last first: what was made is deleted, what was changed put back
        if isinstance(exc, CumuloError):
            exc.message = f"Deploy of stack {template.stack_name} failed and was rolled back: {exc.message}"
            exc.args = (exc.message,)
        raise
    record: dict[str, Any] = {kind.record_key: kind.record(applied[kind.name]) for kind in KINDS if kind.record_key}
    record[RETAIN_KEY] = sorted(template.retain)
    for kind in reversed(KINDS.deploy_order()):      # what depends on others goes first
        if kind.record_key:
            kind.remove(previous.get(kind.record_key), record[kind.record_key], state)
    attributes: dict[tuple[str, str], Any] = {}
    for kind, spec in resources:
        attributes.update(kind.deployed(spec, state))
    # Outputs naming resources this build does not create (e.g. ServerlessRestApi) are left out.
    outputs = resolve_outputs(template, attributes, omit_unresolved=True)
    record[STACK_KEY] = stack_record(template, previous.get(STACK_KEY), planned.changes, attributes, outputs,
                                     [spec.api_id for spec in template.of("api")],
                                     stack_id(template.stack_name, template.region, template.account_id))
    c.store.put_stack(template.stack_name, record)
    gateway_url = gateway_url or c.gateway_url
    if gateway_url:
        for kind in KINDS:
            outputs = kind.local_outputs(outputs, template.of(kind.name), gateway_url)
    lines = [line for kind, spec in resources for line in kind.summary(spec)]
    lines += [line for step in state.committed if (line := step()) is not None]
    return DeployResult(template.stack_name, planned.changes, outputs, warnings=planned.warnings, applied=True,
                        routes=lines, types=dict(template.types))
