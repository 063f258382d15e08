"""The scheduler with fakes of its ports (issue 18): a clock that moves when told, documents in a
dict, a router that records what it is asked to send, leases granted or refused at will. One
``tick()`` is one look at the schedules; no thread, no waiting on real time. The end-to-end path
(a real server's scheduler firing a real function) is tests/integration/test_schedules.py."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from cumulo.model.function import Arns
from cumulo.ports import Kind
from cumulo.sources.schedules import Scheduler, Schedules

from ..fakes import FakeClock, FakeDocuments, FakeTargets

ARNS = Arns("us-east-1", "000000000000")
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:tick"
START = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()


class FakeFunctions:
    def get(self, name: str, qualifier: str | None = None) -> Any:
        return object()          # every function exists


class FakeLeases:
    def __init__(self) -> None:
        self.granted = True
        self.asked: list[int] = []

    def take_lease(self, name: str, owner: str, ttl_ms: int, now_ms: int) -> bool:
        self.asked.append(now_ms)
        return self.granted


class Setup:
    def __init__(self) -> None:
        self.clock = FakeClock(START)
        self.docs = FakeDocuments()
        self.targets = FakeTargets()
        self.leases = FakeLeases()
        self.rules: list[tuple[str, dict[str, Any]]] = []
        self.schedules = Schedules(self.docs, FakeFunctions(), ARNS, self.clock)
        self.scheduler = Scheduler(self.schedules, self.docs, self.leases, self.targets,
                                   lambda arn, event, fire_id: self.rules.append((arn, event)), ARNS, self.clock)

    def fired(self) -> list[str]:
        """The Scheduled Events' times, in the order they were sent."""
        return [json.loads(send.payload)["time"] for _, send in self.targets.sent]


@pytest.fixture
def s() -> Setup:
    return Setup()


def test_a_rate_fires_when_the_clock_reaches_it_and_not_before(s: Setup) -> None:
    s.schedules.create("every-5", "rate(5 minutes)", FUNCTION)
    s.scheduler.tick()
    s.clock.advance(299)
    s.scheduler.tick()
    assert s.targets.sent == []
    s.clock.advance(1)
    s.scheduler.tick()
    s.scheduler.tick()                                   # the next is 5 minutes on: once
    (target, send), = s.targets.sent
    assert target.kind is Kind.FUNCTION and target.arn == FUNCTION
    event = json.loads(send.payload)
    assert event["time"] == "2024-03-01T12:05:00Z" and event["detail-type"] == "Scheduled Event"
    assert s.schedules.get("every-5")["NextInvocation"] == "2024-03-01T12:10:00+00:00"


def test_missed_fires_fire_once_then_the_rate_goes_on_from_now(s: Setup) -> None:
    s.schedules.create("every-5", "rate(5 minutes)", FUNCTION, input='{"from": "schedule"}')
    s.clock.advance(27 * 60)                            # five fires missed (no server ran)
    s.scheduler.tick()
    s.scheduler.tick()
    assert [send.payload for _, send in s.targets.sent] == ['{"from": "schedule"}']
    assert s.schedules.get("every-5")["NextInvocation"] == "2024-03-01T12:30:00+00:00"
    s.clock.advance(3 * 60)
    s.scheduler.tick()
    assert len(s.targets.sent) == 2


def test_a_one_time_schedule_fires_once_and_is_disabled(s: Setup) -> None:
    s.schedules.create("once", "at(2024-03-01T13:00:00)", FUNCTION)
    s.clock.advance(3600)
    for _ in range(3):
        s.scheduler.tick()
    assert s.fired() == ["2024-03-01T13:00:00Z"]
    once = s.schedules.get("once")
    assert once["State"] == "DISABLED" and "NextInvocation" not in once


def test_disabled_schedules_do_not_fire_and_enabling_one_starts_from_now(s: Setup) -> None:
    s.schedules.create("off", "rate(1 minute)", FUNCTION, state="DISABLED")
    s.clock.advance(600)
    s.scheduler.tick()
    assert s.targets.sent == []
    s.schedules.set_state("off", True)                   # its missed time is not fired: the next is from now
    s.scheduler.tick()
    assert s.targets.sent == []
    s.clock.advance(60)
    s.scheduler.tick()
    assert s.fired() == ["2024-03-01T12:11:00Z"]


def test_only_the_lease_holder_fires_and_the_lease_is_renewed_every_renew_s(s: Setup) -> None:
    s.schedules.create("every-minute", "rate(1 minute)", FUNCTION)
    s.leases.granted = False                             # another process is the scheduler
    s.clock.advance(60)
    s.scheduler.tick()
    s.scheduler.tick()                                   # asked again on every tick while not held
    assert s.targets.sent == [] and len(s.leases.asked) == 2
    s.leases.granted = True
    s.scheduler.tick()
    assert len(s.targets.sent) == 1 and len(s.leases.asked) == 3
    s.clock.advance(Scheduler.RENEW_S - 0.5)
    s.scheduler.tick()                                   # held: not asked again before RENEW_S
    assert len(s.leases.asked) == 3
    s.clock.advance(0.5)
    s.scheduler.tick()
    assert len(s.leases.asked) == 4


def test_a_scheduled_rule_gets_the_event_through_fire_rule(s: Setup) -> None:
    rule = "arn:aws:events:us-east-1:000000000000:rule/every-five"
    s.schedules.create("rule.every-five", "rate(5 minutes)", rule)
    s.clock.advance(300)
    s.scheduler.tick()
    (arn, event), = s.rules
    assert arn == rule and event["resources"] == [rule] and s.targets.sent == []
