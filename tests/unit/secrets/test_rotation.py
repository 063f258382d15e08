"""Rotation on the service's clock (``secrets/service.py``, ``secrets/rotation.py``) with a rotation
function that does what AWS's template does, through the service itself: the steps in order, the
windows on a clock that moves only when told, a failing step, and missed windows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from cumulo.keyring import Keyring
from cumulo.secrets.rotation import RotationWorker
from cumulo.secrets.service import SecretService
from tests.unit.fakes import FakeClock
from tests.unit.kms.test_kms import Docs

DAY = 86_400
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:rotator"


@dataclass
class Result:
    payload: bytes = b"null"
    function_error: str | None = None


class Rotator:
    """A rotation function: the single-user template's steps, calling the service as the SDK would."""

    def __init__(self) -> None:
        self.service: SecretService
        self.calls: list[tuple[str, str]] = []
        self.fail_at: str | None = None

    def __call__(self, name: str, payload: str | bytes | None = None, *args: Any, **kwargs: Any) -> Result:
        assert name == FUNCTION
        event = json.loads(payload or "{}")
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
        self.calls.append((step, token))
        s = self.service
        assert s.describe_secret(arn)["VersionIdsToStages"][token] == ["AWSPENDING"]
        if step == self.fail_at:
            return Result(b'{"errorMessage": "refused"}', "Unhandled")
        if step == "createSecret":
            current = s.get_secret_value(arn)["SecretString"]
            s.put_secret_value(arn, current + "+", stages=["AWSPENDING"], token=token)
        elif step == "finishSecret":
            current = next(v for v, stages in s.describe_secret(arn)["VersionIdsToStages"].items()
                           if "AWSCURRENT" in stages)
            s.update_version_stage(arn, "AWSCURRENT", remove_from=current, move_to=token)
        return Result()


class AlwaysLeads:
    def take_lease(self, name: str, owner: str, ttl_ms: int, now_ms: int) -> bool:
        return True


@pytest.fixture
def setup() -> tuple[SecretService, Rotator, FakeClock, RotationWorker]:
    clock, rotator = FakeClock(start=1_700_000_000.0), Rotator()     # 2023-11-14 22:13:20 UTC
    service = SecretService(Docs(), lambda: Keyring(bytes(range(32))), "us-east-1", "123456789012", clock,  # type: ignore[arg-type]
                            rotator, lambda function, principal, source: principal == "secretsmanager.amazonaws.com")
    rotator.service = service
    service.create_secret("db", "v")
    return service, rotator, clock, RotationWorker(service, AlwaysLeads(), clock)


def test_a_scheduled_rotation_runs_the_four_steps_once_its_window_opens(setup: Any) -> None:
    service, rotator, clock, worker = setup
    service.rotate_secret("db", FUNCTION, {"AutomaticallyAfterDays": 2}, immediately=False)
    nxt = service.describe_secret("db")["NextRotationDate"]
    assert nxt == 1_700_000_000 // DAY * DAY + 2 * DAY            # two UTC days after the day it was set up
    clock.advance(nxt - clock.now() - 1)
    assert worker.tick() == 0 and rotator.calls == []
    clock.advance(1)
    assert worker.tick() == 1
    steps = [step for step, _ in rotator.calls]
    assert steps == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert len({token for _, token in rotator.calls}) == 1
    described = service.describe_secret("db")
    assert service.get_secret_value("db")["SecretString"] == "v+"
    assert described["LastRotatedDate"] == nxt and described["NextRotationDate"] == nxt + 2 * DAY
    assert sorted(described["VersionIdsToStages"].values()) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    assert worker.tick() == 0                                      # nothing more until the next window


def test_missed_windows_rotate_once(setup: Any) -> None:
    service, rotator, clock, worker = setup
    service.rotate_secret("db", FUNCTION, {"ScheduleExpression": "rate(4 hours)"}, immediately=False)
    clock.advance(10 * DAY)
    assert worker.tick() == 1 and worker.tick() == 0
    assert service.get_secret_value("db")["SecretString"] == "v+"
    assert service.describe_secret("db")["NextRotationDate"] == clock.now() + 4 * 3600


@pytest.mark.parametrize("step", ["createSecret", "setSecret", "testSecret", "finishSecret"])
def test_a_failed_step_stops_the_rotation_and_the_next_window_reattempts_it(setup: Any, step: str) -> None:
    service, rotator, clock, worker = setup
    before = service.get_secret_value("db")
    service.rotate_secret("db", FUNCTION, {"AutomaticallyAfterDays": 1}, immediately=False)
    rotator.fail_at = step
    clock.advance(DAY + 3600)
    assert worker.tick() == 0
    steps = [s for s, _ in rotator.calls]
    assert steps == ["createSecret", "setSecret", "testSecret", "finishSecret"][:steps.index(step) + 1]
    assert service.get_secret_value("db") == before                 # AWSCURRENT did not move
    described = service.describe_secret("db")
    assert "LastRotatedDate" not in described
    assert described["NextRotationDate"] > clock.now()             # not invoked again at every look
    assert worker.tick() == 0 and len(rotator.calls) == len(steps)
    token = rotator.calls[0][1]
    rotator.fail_at, rotator.calls = None, []
    clock.advance(DAY)
    assert worker.tick() == 1
    assert {t for _, t in rotator.calls} == {token}                 # the same version, reattempted
    assert service.get_secret_value("db")["VersionId"] == token


def test_cancel_stops_the_schedule(setup: Any) -> None:
    service, rotator, clock, worker = setup
    service.rotate_secret("db", FUNCTION, {"AutomaticallyAfterDays": 1}, immediately=False)
    service.cancel_rotate_secret("db")
    clock.advance(5 * DAY)
    assert worker.tick() == 0 and rotator.calls == []
    described = service.describe_secret("db")
    assert described["RotationEnabled"] is False and "NextRotationDate" not in described


@pytest.mark.parametrize("how", ["put", "update"])
def test_a_value_put_by_hand_resets_an_automatically_after_days_clock(setup: Any, how: str) -> None:
    """AWS: "Manually updating the secret value by calling PutSecretValue or UpdateSecret is considered a
    valid rotation" for AutomaticallyAfterDays: the next window counts from the manual change."""
    service, rotator, clock, worker = setup
    service.rotate_secret("db", FUNCTION, {"AutomaticallyAfterDays": 3}, immediately=False)
    first = service.describe_secret("db")["NextRotationDate"]
    clock.advance(2 * DAY)
    if how == "put":
        service.put_secret_value("db", "by-hand")
    else:
        service.update_secret("db", "by-hand")
    described = service.describe_secret("db")
    assert described["LastRotatedDate"] == clock.now()
    assert described["NextRotationDate"] == clock.now() // DAY * DAY + 3 * DAY > first
    clock.advance(first - clock.now() + 1)
    assert worker.tick() == 0 and rotator.calls == []              # the old window no longer opens
    clock.advance(described["NextRotationDate"] - clock.now())
    assert worker.tick() == 1
    assert service.get_secret_value("db")["SecretString"] == "by-hand+"


def test_a_value_put_by_hand_keeps_a_schedule_expression_and_pending_puts_are_no_rotation(setup: Any) -> None:
    service, rotator, clock, worker = setup
    service.rotate_secret("db", FUNCTION, {"ScheduleExpression": "rate(2 days)"}, immediately=False)
    first = service.describe_secret("db")["NextRotationDate"]
    clock.advance(DAY)
    service.put_secret_value("db", "by-hand")
    described = service.describe_secret("db")
    assert described["NextRotationDate"] == first and "LastRotatedDate" not in described
    service.rotate_secret("db", FUNCTION, {"AutomaticallyAfterDays": 3}, immediately=False)
    service.put_secret_value("db", "staged", stages=["AWSPENDING"])  # not AWSCURRENT: not a rotation
    assert "LastRotatedDate" not in service.describe_secret("db")
