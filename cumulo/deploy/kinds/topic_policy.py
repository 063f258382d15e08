"""``AWS::SNS::TopicPolicy``: the access policy of one or more topics (their ``Policy`` attribute, as
SetTopicAttributes sets it: read by IAM evaluation when another principal publishes or a service —
a rule, a bucket, an alarm — delivers, ``app.resource_policy``). ``Topics`` are topic ARNs (``!Ref`` of
a topic), ``PolicyDocument`` the policy (an object or its JSON text), checked as IAM reads it. ``Ref``
answers ``<stack>-<LogicalId>``. A changed policy is set again; one the template drops is cleared from
the topics it covered (those that still exist): they are back to the default policy.
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

__all__ = ["TopicPolicy", "TOPIC_POLICY_TYPE"]

TOPIC_POLICY_TYPE = "AWS::SNS::TopicPolicy"


@dataclass(frozen=True)
class TopicPolicySpec:
    logical_id: str
    line: int
    topics: tuple[str, ...]    # topic ARNs
    policy: str                # the document's JSON text


class TopicPolicy(Kind):
    name = "topic policy"
    types = (TOPIC_POLICY_TYPE,)
    after = ("topic",)
    listed = 76
    record_key = "topic_policies"

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

    def attributes(self, spec: TopicPolicySpec, arns: Arns) -> Attributes:
        return {}

    def plan(self, spec: TopicPolicySpec, deploy: Deploy) -> Change:
        current = [_current(deploy, arn) for arn in spec.topics]
        if all(c == spec.policy for c in current):
            return Change(spec.logical_id, ", ".join(spec.topics), "unchanged", kind=self.name)
        action = "create" if all(c is None for c in current) else "update"
        return Change(spec.logical_id, ", ".join(spec.topics), action, kind=self.name)

    def removed(self, specs: list[TopicPolicySpec], deploy: Deploy) -> list[Change]:
        kept = {arn for spec in specs for arn in spec.topics}
        return [Change(logical_id, arn, "delete", kind=self.name)
                for logical_id, arns in sorted((deploy.before(self) or {}).items()) for arn in arns
                if arn not in kept and _current(deploy, arn)]

    def apply(self, spec: TopicPolicySpec, change: Change | None, deploy: Deploy) -> None:
        for arn in spec.topics:
            before = _current(deploy, arn)
            if before == spec.policy:
                continue
            _set(deploy, arn, spec.policy)
            deploy.undo.append(_undo(deploy, arn, before or ""))

    def record(self, applied: list[tuple[TopicPolicySpec, Any]]) -> dict[str, list[str]]:
        return {spec.logical_id: list(spec.topics) for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, list[str]], deploy: Deploy) -> None:
        kept = {arn for arns in current.values() for arn in arns}
        for arns in (previous or {}).values():
            for arn in arns:
                if arn not in kept and _current(deploy, arn):
                    _set(deploy, arn, "")

    def summary(self, spec: TopicPolicySpec) -> list[str]:
        return [f"topic policy {spec.logical_id}: on {', '.join(spec.topics)}"]


def _read(entry: Entry, props: dict[str, Any]) -> TopicPolicySpec:
    for key in props:
        if key not in ("Topics", "PolicyDocument"):
            raise error(entry.where, f"unknown property {key}", entry.logical_id, entry.properties.line_of(key))
    topics = props.get("Topics")
    if not isinstance(topics, list) or not topics:
        raise error(entry.where, "property Topics: a list of topic ARNs is required", entry.logical_id,
                    entry.properties.line_of("Topics") or entry.line)
    document = props.get("PolicyDocument")
    text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    try:
        parse_policy(text, "resource")
    except MalformedPolicyDocument as exc:
        raise error(entry.where, f"property PolicyDocument: {exc.message}", entry.logical_id,
                    entry.properties.line_of("PolicyDocument") or entry.line) from None
    return TopicPolicySpec(entry.logical_id, entry.line, tuple(to_str(t) for t in topics), text)


def _current(deploy: Deploy, arn: str) -> str | None:
    """The topic's policy as set ('' when none was), or None when the topic does not exist yet."""
    try:
        return str(deploy.c.topics.topic(arn)["Attributes"].get("Policy") or "")
    except CumuloError:
        return None


def _undo(deploy: Deploy, arn: str, policy: str) -> Callable[[], None]:
    return lambda: _set(deploy, arn, policy)


def _set(deploy: Deploy, arn: str, policy: str) -> None:
    deploy.c.topics.set_topic_attribute(arn, "Policy", policy)
