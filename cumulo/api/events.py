"""The EventBridge JSON protocol (``AWSEvents.<Operation>``) for boto3's ``events`` client."""

from __future__ import annotations

from typing import Any

from cumulo.api.awsjson import Service, page, register

__all__ = ["SERVICE"]


def _bus(d: dict[str, Any]) -> Any:
    return d.get("EventBusName")


def _trace(c: Any, r: Any) -> str | None:
    """The caller's trace header as the rules' deliveries carry it on: for a sampled caller,
    ``Parent`` is the EventBridge subsegment recorded under it, X-Ray's event node between the
    source and the targets (docs/traces.md)."""
    incoming = r.header("x-amzn-trace-id")
    if incoming is None:
        return None
    return c.trace_recorder.call(incoming, "EventBridge", "PutEvents", c.trace_recorder.now(),
                                 {"region": c.arns.region})


def _described(c: Any, name: Any) -> dict[str, Any]:
    bus = c.event_bus.describe_event_bus(name)
    policy = c.bus_policies.policy_text(bus["Name"])
    return {**bus, **({"Policy": policy} if policy else {})}


def _deleted(c: Any, name: Any) -> None:
    bus = c.event_bus.describe_event_bus(name)["Name"] if name not in (None, "", "default") else name
    c.event_bus.delete_event_bus(name)
    if bus:
        c.bus_policies.forget(bus)


OPERATIONS = {
    "CreateEventBus": lambda c, r, d: c.event_bus.create_event_bus(d.get("Name"), d.get("Description"), d.get("Tags")),
    "DescribeEventBus": lambda c, r, d: _described(c, d.get("Name")),
    "ListEventBuses": lambda c, r, d: page(c.event_bus.list_event_buses(d.get("NamePrefix")), "EventBuses", d),
    "DeleteEventBus": lambda c, r, d: _deleted(c, d.get("Name")),
    "PutPermission": lambda c, r, d: c.bus_policies.put_permission(
        d.get("EventBusName"), d.get("Action"), d.get("Principal"), d.get("StatementId"), d.get("Condition"),
        d.get("Policy")),
    "RemovePermission": lambda c, r, d: c.bus_policies.remove_permission(
        d.get("EventBusName"), d.get("StatementId"), d.get("RemoveAllPermissions")),
    "PutRule": lambda c, r, d: {"RuleArn": c.event_bus.put_rule(
        d.get("Name"), _bus(d), d.get("EventPattern"), d.get("ScheduleExpression"), d.get("State"),
        d.get("Description"), d.get("RoleArn"))},
    "DescribeRule": lambda c, r, d: c.event_bus.describe_rule(d.get("Name"), _bus(d)),
    "ListRules": lambda c, r, d: page(c.event_bus.list_rules(d.get("NamePrefix"), _bus(d)), "Rules", d),
    "DeleteRule": lambda c, r, d: c.event_bus.delete_rule(d.get("Name"), _bus(d), bool(d.get("Force"))),
    "EnableRule": lambda c, r, d: c.event_bus.set_rule_state(d.get("Name"), _bus(d), True),
    "DisableRule": lambda c, r, d: c.event_bus.set_rule_state(d.get("Name"), _bus(d), False),
    "PutTargets": lambda c, r, d: c.event_bus.put_targets(d.get("Rule"), _bus(d), d.get("Targets")),
    "RemoveTargets": lambda c, r, d: c.event_bus.remove_targets(d.get("Rule"), _bus(d), d.get("Ids") or []),
    "ListTargetsByRule": lambda c, r, d: page(c.event_bus.list_targets_by_rule(d.get("Rule"), _bus(d)),
                                              "Targets", d),
    "ListRuleNamesByTarget": lambda c, r, d: page(c.event_bus.list_rule_names_by_target(
        d.get("TargetArn"), _bus(d)), "RuleNames", d),
    "PutEvents": lambda c, r, d: c.event_bus.put_events(d.get("Entries"), _trace(c, r)),
    "TestEventPattern": lambda c, r, d: {"Result": c.event_bus.test_event_pattern(d.get("EventPattern"),
                                                                                  d.get("Event"))},
    "CreateArchive": lambda c, r, d: c.event_bus.create_archive(
        d.get("ArchiveName"), d.get("EventSourceArn"), d.get("EventPattern"), d.get("RetentionDays"),
        d.get("Description")),
    "DescribeArchive": lambda c, r, d: c.event_bus.describe_archive(d.get("ArchiveName")),
    "ListArchives": lambda c, r, d: page(c.event_bus.list_archives(d.get("NamePrefix")), "Archives", d),
    "DeleteArchive": lambda c, r, d: c.event_bus.delete_archive(d.get("ArchiveName")),
    "StartReplay": lambda c, r, d: c.event_bus.start_replay(
        d.get("ReplayName"), d.get("EventSourceArn"), d.get("EventStartTime"), d.get("EventEndTime"),
        d.get("Destination"), d.get("Description")),
    "DescribeReplay": lambda c, r, d: c.event_bus.describe_replay(d.get("ReplayName")),
    "ListReplays": lambda c, r, d: page(c.event_bus.list_replays(), "Replays", d),
    "CancelReplay": lambda c, r, d: c.event_bus.cancel_replay(d.get("ReplayName")),
}

def _connection(c: Any, d: dict[str, Any], update: bool) -> Any:
    return c.api_destinations.create_connection(d.get("Name"), d.get("AuthorizationType"), d.get("AuthParameters"),
                                                d.get("Description"), update)


def _destination(c: Any, d: dict[str, Any], update: bool) -> Any:
    return c.api_destinations.create_api_destination(
        d.get("Name"), d.get("ConnectionArn"), d.get("InvocationEndpoint"), d.get("HttpMethod"),
        d.get("InvocationRateLimitPerSecond"), d.get("Description"), update)


OPERATIONS.update({
    "CreateConnection": lambda c, r, d: _connection(c, d, False),
    "UpdateConnection": lambda c, r, d: _connection(c, d, True),
    "DescribeConnection": lambda c, r, d: c.api_destinations.describe_connection(d.get("Name")),
    "ListConnections": lambda c, r, d: page(c.api_destinations.list_connections(d.get("NamePrefix")),
                                            "Connections", d),
    "DeleteConnection": lambda c, r, d: c.api_destinations.delete_connection(d.get("Name")),
    "CreateApiDestination": lambda c, r, d: _destination(c, d, False),
    "UpdateApiDestination": lambda c, r, d: _destination(c, d, True),
    "DescribeApiDestination": lambda c, r, d: c.api_destinations.describe_api_destination(d.get("Name")),
    "ListApiDestinations": lambda c, r, d: page(c.api_destinations.list_api_destinations(d.get("NamePrefix")),
                                                "ApiDestinations", d),
    "DeleteApiDestination": lambda c, r, d: c.api_destinations.delete_api_destination(d.get("Name")),
})

SERVICE = Service("AWSEvents", "com.amazonaws.events", "application/x-amz-json-1.1", OPERATIONS, model="events")
register(SERVICE)
