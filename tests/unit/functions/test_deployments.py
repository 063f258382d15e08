"""Gradual deployments of an alias (functions/deployments.py) on a fake clock: how weights shift for
each predefined configuration, the hooks' protocol, and rollback when a hook fails, says nothing
for an hour, or an alarm goes to ALARM."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, strategies as st

from cumulo.functions.deployments import (
    HOOK_TIMEOUT_S, PREDEFINED, DeploymentConfig, DeploymentError, Deployments, config_named,
)
from tests.unit.fakes import FakeClock, FakeDocuments


class World:
    """The alias, the hooks invoked and the alarms' states a deployment sees."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.alias: tuple[str, dict[str, float]] = ("1", {})
        self.invoked: list[tuple[str, dict[str, Any]]] = []
        self.alarms: dict[str, str] = {}
        self.deployments = Deployments(FakeDocuments(), self._set_alias, self._invoke, self.alarms.get, self.clock)

    def _set_alias(self, function: str, alias: str, version: str, weights: dict[str, float]) -> None:
        assert (function, alias) == ("fn", "live")
        self.alias = (version, dict(weights))

    def _invoke(self, function: str, payload: bytes) -> None:
        self.invoked.append((function, json.loads(payload)))

    def start(self, config: str, hooks: dict[str, str] | None = None, alarms: list[str] | None = None) -> str:
        found = config_named(config)
        assert found is not None
        return self.deployments.start("fn", "live", "1", "2", found, "app", "group", hooks, alarms)

    def after(self, seconds: float) -> tuple[str, dict[str, float]]:
        self.clock.advance(seconds)
        self.deployments.tick()
        return self.alias

    def status(self, deployment_id: str) -> str:
        return str(self.deployments.get(deployment_id)["status"])


def test_canary_shifts_ten_percent_then_the_rest_after_five_minutes() -> None:
    w = World()
    d = w.start("Canary10Percent5Minutes")
    assert w.alias == ("1", {"2": 0.1})
    assert w.after(299) == ("1", {"2": 0.1}) and w.status(d) == "InProgress"
    assert w.after(1) == ("2", {})
    assert w.status(d) == "Succeeded"
    info = w.deployments.get(d)
    assert info["deploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert info["completeTime"] - info["createTime"] == 300


def test_linear_adds_ten_percent_every_minute() -> None:
    w = World()
    d = w.start("Linear10PercentEvery1Minute")
    seen = [w.alias[1]["2"]]
    for _ in range(8):
        seen.append(w.after(60)[1]["2"])
    assert seen == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert w.after(60) == ("2", {}) and w.status(d) == "Succeeded"


def test_all_at_once_with_hooks_waits_for_each_hook() -> None:
    w = World()
    d = w.start("AllAtOnce", {"BeforeAllowTraffic": "pre", "AfterAllowTraffic": "post"})
    assert w.alias == ("1", {}) and [f for f, _ in w.invoked] == ["pre"]
    event = w.invoked[0][1]
    assert set(event) == {"DeploymentId", "LifecycleEventHookExecutionId"} and event["DeploymentId"] == d
    assert w.after(600) == ("1", {})          # no traffic moves while the hook has not answered
    w.deployments.put_hook_status(d, event["LifecycleEventHookExecutionId"], "Succeeded")
    assert w.alias == ("2", {}) and [f for f, _ in w.invoked] == ["pre", "post"]
    assert w.status(d) == "InProgress"
    post = w.invoked[1][1]["LifecycleEventHookExecutionId"]
    assert post != event["LifecycleEventHookExecutionId"]
    w.deployments.put_hook_status(d, post, "Succeeded")
    assert w.status(d) == "Succeeded"


def test_a_failed_pre_traffic_hook_moves_no_traffic() -> None:
    w = World()
    d = w.start("Canary10Percent5Minutes", {"BeforeAllowTraffic": "pre"})
    w.deployments.put_hook_status(d, w.invoked[0][1]["LifecycleEventHookExecutionId"], "Failed")
    assert w.alias == ("1", {})
    info = w.deployments.get(d)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert w.after(600) == ("1", {})


def test_a_failed_post_traffic_hook_puts_the_alias_back() -> None:
    w = World()
    d = w.start("Linear10PercentEvery2Minutes", {"AfterAllowTraffic": "post"})
    assert w.after(20 * 60) == ("2", {})
    execution = w.invoked[0][1]["LifecycleEventHookExecutionId"]
    w.deployments.put_hook_status(d, execution, "Failed")
    assert w.alias == ("1", {}) and w.status(d) == "Failed"
    with pytest.raises(DeploymentError) as again:          # its verdict was given
        w.deployments.put_hook_status(d, execution, "Succeeded")
    assert again.value.type == "LifecycleEventAlreadyCompletedException"


def test_an_alarm_in_alarm_rolls_back_mid_shift() -> None:
    w = World()
    w.alarms.update({"errors": "OK", "latency": "INSUFFICIENT_DATA"})
    d = w.start("Linear10PercentEvery1Minute", alarms=["errors", "latency"])
    assert w.after(180)[1] == {"2": pytest.approx(0.4)}
    w.alarms["errors"] = "ALARM"
    assert w.after(1) == ("1", {})
    info = w.deployments.get(d)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "errors" in info["errorInformation"]["message"] and "latency" not in info["errorInformation"]["message"]


def test_a_hook_that_never_answers_fails_the_deployment_after_an_hour() -> None:
    w = World()
    d = w.start("AllAtOnce", {"BeforeAllowTraffic": "pre"})
    w.after(HOOK_TIMEOUT_S - 1)
    assert w.status(d) == "InProgress"
    w.after(1)
    assert w.status(d) == "Failed" and w.alias == ("1", {})


def test_a_newer_deployment_of_the_alias_stops_the_older() -> None:
    w = World()
    first = w.start("Canary10Percent30Minutes")
    second = w.start("AllAtOnce")
    assert w.status(first) == "Stopped" and w.status(second) == "Succeeded" and w.alias == ("2", {})


def test_hook_status_errors_are_codedeploys() -> None:
    w = World()
    d = w.start("AllAtOnce", {"BeforeAllowTraffic": "pre"})
    execution = w.invoked[0][1]["LifecycleEventHookExecutionId"]
    for args, code in (((d, execution, "Skipped"), "InvalidLifecycleEventHookExecutionStatusException"),
                       ((d, "nope", "Succeeded"), "InvalidLifecycleEventHookExecutionIdException"),
                       ((d, None, "Succeeded"), "InvalidLifecycleEventHookExecutionIdException"),
                       (("d-AAAAAAAAA", execution, "Succeeded"), "DeploymentDoesNotExistException"),
                       (("d-bad", execution, "Succeeded"), "InvalidDeploymentIdException")):
        with pytest.raises(DeploymentError) as caught:
            w.deployments.put_hook_status(*args)
        assert caught.value.type == code
    assert w.status(d) == "InProgress"


def test_a_deployment_in_progress_is_moved_on_by_another_instance() -> None:
    """Deployments are documents: a server's ticker moves on what a `cumulo deploy` beside it started."""
    w = World()
    d = w.start("Canary10Percent5Minutes")
    other = Deployments(w.deployments._store, w.deployments._set_alias, w.deployments._invoke_hook,
                        w.alarms.get, w.clock)
    w.clock.advance(300)
    other.tick()
    assert w.alias == ("2", {}) and w.status(d) == "Succeeded"


def test_the_predefined_configurations_are_codedeploys() -> None:
    assert {c.name for c in PREDEFINED.values()} == {
        "CodeDeployDefault.LambdaAllAtOnce", *(f"CodeDeployDefault.LambdaCanary10Percent{m}Minutes" for m in (5, 10, 15, 30)),
        "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
        *(f"CodeDeployDefault.LambdaLinear10PercentEvery{m}Minutes" for m in (2, 3, 10))}
    assert config_named("CodeDeployDefault.LambdaLinear10PercentEvery3Minutes") == PREDEFINED[
        "Linear10PercentEvery3Minutes"]
    assert config_named("Canary50Percent1Minute") is None


configs = st.one_of(
    st.sampled_from(sorted(PREDEFINED.values(), key=lambda c: c.name)),
    st.builds(lambda p, i: DeploymentConfig("c", "TimeBasedCanary", p, i), st.integers(1, 99), st.integers(1, 2880)),
    st.builds(lambda p, i: DeploymentConfig("l", "TimeBasedLinear", p, i), st.integers(1, 99), st.integers(1, 2880)))


@given(configs, st.lists(st.floats(0, 10 ** 7, allow_nan=False), min_size=2, max_size=10))
def test_weights_only_grow_and_reach_all_traffic(config: DeploymentConfig, moments: list[float]) -> None:
    shares = [config.weight(t) for t in sorted(moments)]
    assert shares == sorted(shares) and all(0 < s <= 1 for s in shares)
    if config.type == "AllAtOnce":
        assert shares[0] == 1.0
        return
    assert config.weight(0) == config.percentage / 100
    steps = 1 if config.type == "TimeBasedCanary" else math.ceil(100 / config.percentage) - 1
    assert config.weight(steps * config.interval_min * 60) == 1.0
    assert config.weight(steps * config.interval_min * 60 - 0.5) < 1.0
