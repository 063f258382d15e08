"""``AWS::SQS::QueuePolicy``: the resource-based policy of one or more queues (their ``Policy``
attribute, as SetQueueAttributes sets it: read by IAM evaluation when another principal or service
sends, ``api/authorize.py``). ``Queues`` are queue URLs (``!Ref`` of a queue), ``PolicyDocument`` the
policy (an object or its JSON text), checked as IAM reads it. ``Ref`` answers ``<stack>-<LogicalId>``.
A changed policy is set again; one the template drops is cleared from the queues it covered (those
that still exist), as CloudFormation deletes a QueuePolicy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.iam import parse_policy
from cumulo.iam.errors import MalformedPolicyDocument
from cumulo.model.function import Arns

__all__ = ["QueuePolicy", "QUEUE_POLICY_TYPE"]

QUEUE_POLICY_TYPE = "AWS::SQS::QueuePolicy"


@dataclass(frozen=True)
class QueuePolicySpec:
    logical_id: str
    line: int
    queues: tuple[str, ...]    # queue URLs
    policy: str                # the document's JSON text


class QueuePolicy(Kind):
    name = "queue policy"
    types = (QUEUE_POLICY_TYPE,)
    after = ("queue",)
    listed = 76
    record_key = "queue_policies"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {e.logical_id: f"{load.stack}-{e.logical_id}" for e in entries}
        return named, {(lid, "Ref"): ref for lid, ref in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            specs.append(_read(entry, props))
        return specs

    def attributes(self, spec: QueuePolicySpec, arns: Arns) -> Attributes:
        return {}

    def plan(self, spec: QueuePolicySpec, deploy: Deploy) -> Change:
        current = [_current(deploy, url) for url in spec.queues]
        if all(c == spec.policy for c in current):
            return Change(spec.logical_id, ", ".join(spec.queues), "unchanged", kind=self.name)
        action = "create" if all(c is None for c in current) else "update"
        return Change(spec.logical_id, ", ".join(spec.queues), action, kind=self.name)

    def removed(self, specs: list[QueuePolicySpec], deploy: Deploy) -> list[Change]:
        kept = {url for spec in specs for url in spec.queues}
        return [Change(logical_id, url, "delete", kind=self.name)
                for logical_id, urls in sorted((deploy.before(self) or {}).items()) for url in urls
                if url not in kept and _current(deploy, url)]

    def apply(self, spec: QueuePolicySpec, change: Change | None, deploy: Deploy) -> None:
        for url in spec.queues:
            before = _current(deploy, url)
            if before == spec.policy:
                continue
            _set(deploy, url, spec.policy)
            deploy.undo.append(_undo(deploy, url, before or ""))

    def record(self, applied: list[tuple[QueuePolicySpec, Any]]) -> dict[str, list[str]]:
        return {spec.logical_id: list(spec.queues) for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, list[str]], deploy: Deploy) -> None:
        kept = {url for urls in current.values() for url in urls}
        for urls in (previous or {}).values():
            for url in urls:
                if url not in kept and _current(deploy, url):
                    _set(deploy, url, "")

    def summary(self, spec: QueuePolicySpec) -> list[str]:
        return [f"queue policy {spec.logical_id}: on {', '.join(spec.queues)}"]


def _read(entry: Entry, props: dict[str, Any]) -> QueuePolicySpec:
    for key in props:
        if key not in ("Queues", "PolicyDocument"):
            raise error(entry.where, f"unknown property {key}", entry.logical_id, entry.properties.line_of(key))
    queues = props.get("Queues")
    if not isinstance(queues, list) or not queues:
        raise error(entry.where, "property Queues: a list of queue URLs is required", entry.logical_id,
                    entry.properties.line_of("Queues") or entry.line)
    document = props.get("PolicyDocument")
    text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    try:
        parse_policy(text, "resource")
    except MalformedPolicyDocument as exc:
        raise error(entry.where, f"property PolicyDocument: {exc.message}", entry.logical_id,
                    entry.properties.line_of("PolicyDocument") or entry.line) from None
    return QueuePolicySpec(entry.logical_id, entry.line, tuple(to_str(q) for q in queues), text)


def _current(deploy: Deploy, url: str) -> str | None:
    """The queue's policy now ('' when it has none), or None when the queue does not exist yet."""
    try:
        return deploy.c.queues.get_queue_attributes(url, ["Policy"]).get("Policy", "")
    except CumuloError:
        return None


def _undo(deploy: Deploy, url: str, policy: str) -> Callable[[], None]:
    return lambda: _set(deploy, url, policy)


def _set(deploy: Deploy, url: str, policy: str) -> None:
    deploy.c.queues.set_queue_attributes(url, {"Policy": policy})
