"""A policy attached to resources by a template: ``AWS::SQS::QueuePolicy`` (``queue_policy.py``) and
``AWS::SNS::TopicPolicy`` (``topic_policy.py``) are the same resource but for what they attach to.
``<Targets>`` names the resources (queue URLs, topic ARNs), ``PolicyDocument`` is the policy (an
object or its JSON text), checked as IAM reads it; ``Ref`` answers ``<stack>-<LogicalId>``. A changed
policy is set again; one the template drops is cleared from the resources it covered (those that
still exist), as CloudFormation deletes it. A subclass says where the policy is read and set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error
from cumulo.deploy.properties import plain
from cumulo.iam import parse_policy
from cumulo.iam.errors import MalformedPolicyDocument
from cumulo.model.function import Arns

__all__ = ["AttachedPolicy", "AttachedPolicySpec"]


@dataclass(frozen=True)
class AttachedPolicySpec:
    logical_id: str
    line: int
    targets: tuple[str, ...]   # what the policy is attached to (queue URLs, topic ARNs)
    policy: str                # the document's JSON text


class AttachedPolicy(Kind):
    """The kind, but for ``targets_property`` (``Queues``), ``described`` (``a list of queue URLs``)
    and the two hooks ``current`` and ``set``."""

    targets_property = ""
    described = ""

    def current(self, deploy: Deploy, target: str) -> str | None:
        """The target's policy now ('' when it has none), or None when the target does not exist yet."""
        raise NotImplementedError

    def set(self, deploy: Deploy, target: str, policy: str) -> None:
        raise NotImplementedError

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
            specs.append(self._read(entry, props))
        return specs

    def attributes(self, spec: AttachedPolicySpec, arns: Arns) -> Attributes:
        return {}

    def plan(self, spec: AttachedPolicySpec, deploy: Deploy) -> Change:
        current = [self.current(deploy, target) for target in spec.targets]
        if all(c == spec.policy for c in current):
            return Change(spec.logical_id, ", ".join(spec.targets), "unchanged", kind=self.name)
        action = "create" if all(c is None for c in current) else "update"
        return Change(spec.logical_id, ", ".join(spec.targets), action, kind=self.name)

    def removed(self, specs: list[AttachedPolicySpec], deploy: Deploy) -> list[Change]:
        kept = {target for spec in specs for target in spec.targets}
        return [Change(logical_id, target, "delete", kind=self.name)
                for logical_id, targets in sorted((deploy.before(self) or {}).items()) for target in targets
                if target not in kept and self.current(deploy, target)]

    def apply(self, spec: AttachedPolicySpec, change: Change | None, deploy: Deploy) -> None:
        for target in spec.targets:
            before = self.current(deploy, target)
            if before == spec.policy:
                continue
            self.set(deploy, target, spec.policy)
            deploy.undo.append(self._undo(deploy, target, before or ""))

    def _undo(self, deploy: Deploy, target: str, policy: str) -> Callable[[], None]:
        return lambda: self.set(deploy, target, policy)

    def record(self, applied: list[tuple[AttachedPolicySpec, Any]]) -> dict[str, list[str]]:
        return {spec.logical_id: list(spec.targets) for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, list[str]], deploy: Deploy) -> None:
        kept = {target for targets in current.values() for target in targets}
        for targets in (previous or {}).values():
            for target in targets:
                if target not in kept and self.current(deploy, target):
                    self.set(deploy, target, "")

    def summary(self, spec: AttachedPolicySpec) -> list[str]:
        return [f"{self.name} {spec.logical_id}: on {', '.join(spec.targets)}"]

    def _read(self, entry: Entry, props: dict[str, Any]) -> AttachedPolicySpec:
        for key in props:
            if key not in (self.targets_property, "PolicyDocument"):
                raise error(entry.where, f"unknown property {key}", entry.logical_id, entry.properties.line_of(key))
        targets = props.get(self.targets_property)
        if not isinstance(targets, list) or not targets:
            raise error(entry.where, f"property {self.targets_property}: {self.described} is required",
                        entry.logical_id, entry.properties.line_of(self.targets_property) or entry.line)
        document = props.get("PolicyDocument")
        text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
        try:
            parse_policy(text, "resource")
        except MalformedPolicyDocument as exc:
            raise error(entry.where, f"property PolicyDocument: {exc.message}", entry.logical_id,
                        entry.properties.line_of("PolicyDocument") or entry.line) from None
        return AttachedPolicySpec(entry.logical_id, entry.line, tuple(to_str(t) for t in targets), text)
