"""EventBridge's operations as IAM sees them (Service Authorization Reference, "Amazon
EventBridge"): buses are ``event-bus/<name>``, rules ``rule/<name>`` on the default bus and
``rule/<bus>/<name>`` on another, archives ``archive/<name>``, replays ``replay/<name>``,
connections ``connection/<name>``, API destinations ``api-destination/<name>`` (the ARNs AWS gives
these two end in a UUID; a policy names them with ``/*``). ``PutEvents`` acts on every bus its
entries name, with ``events:source`` and ``events:detail-type`` as condition keys; listing
buses, rules, archives, replays, connections and destinations, ``ListRuleNamesByTarget`` and
``TestEventPattern`` have no resource (``*``)."""

from __future__ import annotations

from typing import Any

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["bus_arn", "OPERATIONS"]


def bus_arn(ref: Any, scope: Scope) -> str:
    name = text(ref) or "default"
    return name if name.startswith("arn:") else scope.arn("events", f"event-bus/{name}")


def _bus_name(ref: Any) -> str:
    name = text(ref) or "default"
    return name.rsplit("event-bus/", 1)[-1] if name.startswith("arn:") else name


def rule_arn(call: Call, scope: Scope, member: str) -> str:
    bus, name = _bus_name(call.doc.get("EventBusName")), text(call.doc.get(member)) or "*"
    return scope.arn("events", f"rule/{'' if bus == 'default' else bus + '/'}{name}")


def on_bus(action: str, member: str = "EventBusName") -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, bus_arn(call.doc.get(member), scope)),)
    return mapper


def on_rule(action: str, member: str = "Name") -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, rule_arn(call, scope, member)),)
    return mapper


def on_named(action: str, kind: str, member: str = "Name") -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, scope.arn("events", f"{kind}/{text(call.doc.get(member)) or '*'}")),)
    return mapper


def put_events(call: Call, scope: Scope) -> tuple[Check, ...]:
    """One check per bus the entries name, each with the sources and detail types sent to it."""
    by_bus: dict[str, tuple[list[str], list[str]]] = {}
    entries = call.doc.get("Entries")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        sources, types = by_bus.setdefault(bus_arn(entry.get("EventBusName"), scope), ([], []))
        if text(entry.get("Source")) and entry["Source"] not in sources:
            sources.append(entry["Source"])
        if text(entry.get("DetailType")) and entry["DetailType"] not in types:
            types.append(entry["DetailType"])
    if not by_bus:
        by_bus[bus_arn(None, scope)] = ([], [])
    return tuple(Check("events:PutEvents", arn, {k: v for k, v in (("events:source", sources),
                                                                    ("events:detail-type", types)) if v})
                 for arn, (sources, types) in by_bus.items())


def put_rule(call: Call, scope: Scope) -> tuple[Check, ...]:
    return (Check("events:PutRule", rule_arn(call, scope, "Name")),
            *((Check("iam:PassRole", call.doc["RoleArn"], {"iam:PassedToService": "events.amazonaws.com"}),)
              if text(call.doc.get("RoleArn")) else ()))


def on_source(action: str, member: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        arn = text(call.doc.get(member))
        return (Check(action, arn if arn.startswith("arn:") else "*"),)
    return mapper


OPERATIONS: dict[str, Mapper] = {
    "CreateEventBus": on_bus("events:CreateEventBus", "Name"),
    "DescribeEventBus": on_bus("events:DescribeEventBus", "Name"),
    "ListEventBuses": anywhere("events:ListEventBuses"),
    "DeleteEventBus": on_bus("events:DeleteEventBus", "Name"),
    "PutPermission": on_bus("events:PutPermission"),
    "RemovePermission": on_bus("events:RemovePermission"),
    "PutRule": put_rule,
    "DescribeRule": on_rule("events:DescribeRule"),
    "ListRules": anywhere("events:ListRules"),
    "DeleteRule": on_rule("events:DeleteRule"),
    "EnableRule": on_rule("events:EnableRule"),
    "DisableRule": on_rule("events:DisableRule"),
    "PutTargets": on_rule("events:PutTargets", "Rule"),
    "RemoveTargets": on_rule("events:RemoveTargets", "Rule"),
    "ListTargetsByRule": on_rule("events:ListTargetsByRule", "Rule"),
    "ListRuleNamesByTarget": anywhere("events:ListRuleNamesByTarget"),
    "PutEvents": put_events,
    "TestEventPattern": anywhere("events:TestEventPattern"),
    "CreateArchive": on_named("events:CreateArchive", "archive", "ArchiveName"),
    "DescribeArchive": on_named("events:DescribeArchive", "archive", "ArchiveName"),
    "ListArchives": anywhere("events:ListArchives"),
    "DeleteArchive": on_named("events:DeleteArchive", "archive", "ArchiveName"),
    "StartReplay": on_named("events:StartReplay", "replay", "ReplayName"),
    "DescribeReplay": on_named("events:DescribeReplay", "replay", "ReplayName"),
    "ListReplays": anywhere("events:ListReplays"),
    "CancelReplay": on_named("events:CancelReplay", "replay", "ReplayName"),
    "CreateConnection": on_named("events:CreateConnection", "connection"),
    "UpdateConnection": on_named("events:UpdateConnection", "connection"),
    "DescribeConnection": on_named("events:DescribeConnection", "connection"),
    "ListConnections": anywhere("events:ListConnections"),
    "DeleteConnection": on_named("events:DeleteConnection", "connection"),
    "CreateApiDestination": on_named("events:CreateApiDestination", "api-destination"),
    "UpdateApiDestination": on_named("events:UpdateApiDestination", "api-destination"),
    "DescribeApiDestination": on_named("events:DescribeApiDestination", "api-destination"),
    "ListApiDestinations": anywhere("events:ListApiDestinations"),
    "DeleteApiDestination": on_named("events:DeleteApiDestination", "api-destination"),
}

register("events", OPERATIONS)
