"""Schedules fire functions with AWS's Scheduled Event, once per due time, through the durable queue."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from cumulo import Cumulo
from cumulo.errors import ValidationException

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

PRINTER = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
"""


def events_of(cumulo: Cumulo, name: str, count: int, timeout: float = 10.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    found: list[Any] = []
    while time.monotonic() < deadline:
        found = [json.loads(r.message.split("EVENT ", 1)[1]) for r in cumulo.get_logs(name) if "EVENT " in r.message]
        if len(found) >= count:
            break
        time.sleep(0.1)
    return found


def next_fire(cumulo: Cumulo, name: str) -> datetime:
    return datetime.fromisoformat(cumulo.schedules_service.get(name)["NextInvocation"])


def make_due(cumulo: Cumulo, name: str, at: datetime) -> None:
    """Move a schedule's next fire time (what the clock would otherwise do)."""
    doc = cumulo.store.get_document("schedule", name)
    assert doc is not None
    doc["next_ms"] = int(at.timestamp() * 1000)
    cumulo.store.put_document("schedule", name, doc)


def test_one_time_schedule_fires_a_scheduled_event(cumulo: Cumulo, deploy: Callable[..., str]) -> None:
    fn = deploy(PRINTER)
    when = (datetime.now(timezone.utc) + timedelta(seconds=1.5)).replace(microsecond=0)
    created = cumulo.schedules_service.create("once", f"at({when:%Y-%m-%dT%H:%M:%S})", fn)
    assert created["NextInvocation"] == when.isoformat()
    cumulo.start_workers()
    (event,) = events_of(cumulo, fn, 1)
    EventBridgeModel.model_validate(event)
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["resources"] == ["arn:aws:scheduler:us-east-1:000000000000:schedule/default/once"]
    deadline = time.monotonic() + 5
    while cumulo.schedules_service.get("once")["State"] != "DISABLED" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cumulo.schedules_service.get("once")["State"] == "DISABLED"
    assert "NextInvocation" not in cumulo.schedules_service.get("once")


def test_missed_fires_fire_once_then_follow_the_rate(cumulo: Cumulo, deploy: Callable[..., str]) -> None:
    fn = deploy(PRINTER)
    cumulo.schedules_service.create("every-minute", "rate(1 minute)", fn, input='{"from": "schedule"}')
    make_due(cumulo, "every-minute", datetime.now(timezone.utc) - timedelta(minutes=10))   # ten fires missed
    cumulo.start_workers()
    events = events_of(cumulo, fn, 1)
    # the fire is recorded (its next time is ahead) once its event is committed: any second fire of the
    # missed ones would have been committed before it
    deadline = time.monotonic() + 5
    while next_fire(cumulo, "every-minute") <= datetime.now(timezone.utc) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events_of(cumulo, fn, 2, timeout=0.5) == [{"from": "schedule"}]        # once, with the given Input
    nxt = next_fire(cumulo, "every-minute")
    assert timedelta(0) < nxt - datetime.now(timezone.utc) <= timedelta(minutes=1)
    assert events == [{"from": "schedule"}]


def test_disabled_schedules_do_not_fire(cumulo: Cumulo, deploy: Callable[..., str]) -> None:
    fn, witness = deploy(PRINTER), deploy(PRINTER)
    cumulo.schedules_service.create("off", "rate(1 minute)", fn, state="DISABLED")
    cumulo.schedules_service.create("on", "rate(1 minute)", witness)     # due with it: fired in the same tick
    for name in ("off", "on"):
        make_due(cumulo, name, datetime.now(timezone.utc) - timedelta(seconds=1))
    cumulo.start_workers()
    assert len(events_of(cumulo, witness, 1)) == 1
    assert events_of(cumulo, fn, 1, timeout=0.3) == []


def test_bad_schedules_are_refused_and_change_nothing(cumulo: Cumulo, deploy: Callable[..., str]) -> None:
    fn = deploy(PRINTER)
    for expression, options in (("cron(0 10 * * * *)", {}), ("rate(1 minutes)", {}),
                                ("cron(0 10 * * ? *)", {"timezone_name": "Nowhere/Land"}),
                                ("rate(5 minutes)", {"input": "{not json"})):
        with pytest.raises(ValidationException):
            cumulo.schedules_service.create("bad", expression, fn, **options)
    assert cumulo.schedules_service.list() == []


def test_scheduled_rule_sends_the_scheduled_event_to_its_targets(cumulo: Cumulo) -> None:
    cumulo.queues.create_queue("ticks")
    arn = cumulo.event_bus.put_rule("every-five", schedule_expression="rate(5 minutes)")
    cumulo.event_bus.put_targets("every-five", None, [{"Id": "q", "Arn": cumulo.queues.arn("ticks")}])
    make_due(cumulo, "rule.every-five", datetime.now(timezone.utc) - timedelta(seconds=1))
    cumulo.start_workers()
    got = cumulo.queues.receive_message("ticks", 1, wait_seconds=10)
    assert len(got) == 1
    event = json.loads(got[0]["Body"])
    EventBridgeModel.model_validate(event)
    assert event["detail-type"] == "Scheduled Event" and event["resources"] == [arn]
    cumulo.event_bus.put_targets("every-five", None, [{"Id": "q", "Arn": cumulo.queues.arn("ticks")}])
    cumulo.event_bus.remove_targets("every-five", None, ["q"])
    cumulo.event_bus.delete_rule("every-five")
    assert cumulo.store.get_document("schedule", "rule.every-five") is None
