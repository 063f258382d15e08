"""``cumulo events``: event buses, rules, targets, PutEvents, archives and replays."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from cumulo.cli._common import aws_errors as _aws_errors, open_cumulo as _open, parse_since, print_json

__all__ = ["events"]


@click.group()
def events() -> None:
    """The event bus: rules with EventBridge patterns, targets, archives and replays."""


@events.command("buses")
@click.pass_context
@_aws_errors
def events_buses(ctx: click.Context) -> None:
    """List event buses."""
    for bus in _open(ctx).event_bus.list_event_buses():
        click.echo(f"{bus['Name']}  {bus['Arn']}")


@events.command("create-bus")
@click.argument("name")
@click.pass_context
@_aws_errors
def events_create_bus(ctx: click.Context, name: str) -> None:
    """Create a custom event bus; prints its ARN."""
    click.echo(_open(ctx).event_bus.create_event_bus(name)["EventBusArn"])


@events.command("rule")
@click.argument("name")
@click.option("--pattern", default=None, help="An EventBridge event pattern (JSON).")
@click.option("--schedule", default=None, help="rate(...) or cron(...) instead of a pattern (default bus).")
@click.option("--bus", default=None, help="Event bus (default: default).")
@click.option("--target", "targets", multiple=True, metavar="ARN",
              help="A target ARN: function, queue, event bus (repeatable).")
@click.option("--disabled", is_flag=True, help="Create the rule disabled.")
@click.pass_context
@_aws_errors
def events_rule(ctx: click.Context, name: str, pattern: str | None, schedule: str | None, bus: str | None,
                targets: tuple[str, ...], disabled: bool) -> None:
    """Create or update a rule (and add targets); prints its ARN."""
    c = _open(ctx)
    arn = c.event_bus.put_rule(name, bus, pattern, schedule, "DISABLED" if disabled else None)
    if targets:
        result = c.event_bus.put_targets(name, bus, [{"Id": f"t{i}", "Arn": t} for i, t in enumerate(targets)])
        for failure in result["FailedEntries"]:
            click.echo(f"target {failure['TargetId']}: {failure['ErrorCode']}: {failure['ErrorMessage']}", err=True)
    click.echo(arn)


@events.command("rules")
@click.option("--bus", default=None, help="Event bus (default: default).")
@click.pass_context
@_aws_errors
def events_rules(ctx: click.Context, bus: str | None) -> None:
    """List rules with their targets."""
    c = _open(ctx)
    for rule in c.event_bus.list_rules(None, bus):
        what = rule.get("EventPattern") or rule.get("ScheduleExpression")
        targets = ", ".join(t["Arn"] for t in c.event_bus.list_targets_by_rule(rule["Name"], bus)) or "-"
        click.echo(f"{rule['Name']}  {rule['State']}  {what}  -> {targets}")


@events.command("delete-rule")
@click.argument("name")
@click.option("--bus", default=None)
@click.pass_context
@_aws_errors
def events_delete_rule(ctx: click.Context, name: str, bus: str | None) -> None:
    """Delete a rule and its targets."""
    c = _open(ctx)
    ids = [t["Id"] for t in c.event_bus.list_targets_by_rule(name, bus)]
    if ids:
        c.event_bus.remove_targets(name, bus, ids)
    c.event_bus.delete_rule(name, bus)


@events.command("put")
@click.argument("source")
@click.argument("detail_type")
@click.argument("detail")
@click.option("--bus", default=None)
@click.pass_context
@_aws_errors
def events_put(ctx: click.Context, source: str, detail_type: str, detail: str, bus: str | None) -> None:
    """Put one event (DETAIL is a JSON object); prints PutEvents' answer."""
    entry = {"Source": source, "DetailType": detail_type, "Detail": detail}
    if bus:
        entry["EventBusName"] = bus
    print_json(_open(ctx).event_bus.put_events([entry]))


@events.command("test")
@click.argument("pattern")
@click.argument("event")
@click.pass_context
@_aws_errors
def events_test(ctx: click.Context, pattern: str, event: str) -> None:
    """Does EVENT (a full event, JSON) match PATTERN? (TestEventPattern)"""
    click.echo("true" if _open(ctx).event_bus.test_event_pattern(pattern, event) else "false")


@events.command("archive")
@click.argument("name")
@click.option("--bus", default="default", show_default=True)
@click.option("--pattern", default=None, help="Only archive events matching this pattern.")
@click.option("--retention-days", type=int, default=0, show_default=True, help="0 keeps them forever.")
@click.pass_context
@_aws_errors
def events_archive(ctx: click.Context, name: str, bus: str, pattern: str | None, retention_days: int) -> None:
    """Archive a bus's events; prints the archive's ARN."""
    click.echo(_open(ctx).event_bus.create_archive(name, bus, pattern, retention_days)["ArchiveArn"])


@events.command("replay")
@click.argument("name")
@click.argument("archive")
@click.option("--since", default="1h", show_default=True, help="Replay events from this far back (30m, 2h, 1d, ISO).")
@click.pass_context
@_aws_errors
def events_replay(ctx: click.Context, name: str, archive: str, since: str) -> None:
    """Replay an archive's events from --since until now to the archive's bus (run by the server)."""
    c = _open(ctx)
    doc = c.event_bus.describe_archive(archive)
    start = parse_since(since) / 1000
    c.event_bus.start_replay(name, doc["ArchiveArn"], start, datetime.now(timezone.utc).timestamp(),
                             {"Arn": doc["EventSourceArn"]})
    click.echo(json.dumps(c.event_bus.describe_replay(name)))
