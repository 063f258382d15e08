"""Metric alarms (metrics/alarms.py): evaluation over EvaluationPeriods with DatapointsToAlarm and
TreatMissingData, state changes with their history, and actions sent through the target router."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, strategies as st

from cumulo.metrics.alarms import Alarms, evaluate_state
from cumulo.metrics.service import CloudWatchError, MetricsService
from cumulo.observe.metrics import MetricRecorder
from cumulo.store.sqlite_messages.metrics import SQLiteMetricData
from tests.unit.fakes import FakeClock, FakeDocuments, FakeTargets

T0 = 1_700_000_000.0 - 1_700_000_000.0 % 3600
TOPIC = "arn:aws:sns:us-east-1:000000000000:ops"
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:pager"


@pytest.mark.parametrize("values, to_alarm, treat, current, expected", [
    ([5.0, 5.0, 5.0], 3, "missing", "OK", "ALARM"),
    ([5.0, 0.0, 5.0], 3, "missing", "OK", "OK"),
    ([5.0, 0.0, 5.0], 2, "missing", "OK", "ALARM"),           # 2 of 3
    ([None, None, None], 1, "missing", "OK", "INSUFFICIENT_DATA"),
    ([None, None, None], 1, "ignore", "ALARM", "ALARM"),
    ([None, None, None], 1, "notBreaching", "ALARM", "OK"),
    ([None, None, 5.0], 3, "breaching", "OK", "ALARM"),
    ([None, None, 0.0], 1, "missing", "ALARM", "OK"),
])
def test_evaluation(values: list[float | None], to_alarm: int, treat: str, current: str, expected: str) -> None:
    assert evaluate_state(values, 1.0, "GreaterThanThreshold", to_alarm, treat, current)[0] == expected


@given(st.lists(st.none() | st.floats(-10, 10), min_size=1, max_size=10), st.data())
def test_alarm_exactly_when_enough_periods_breach(values: list[float | None], data: st.DataObject) -> None:
    m = data.draw(st.integers(1, len(values)))
    treat = data.draw(st.sampled_from(["missing", "ignore", "breaching", "notBreaching"]))
    state, _ = evaluate_state(values, 0.0, "GreaterThanOrEqualToThreshold", m, treat, "OK")
    breaching = sum(1 for v in values if (v is None and treat == "breaching") or (v is not None and v >= 0))
    assert (state == "ALARM") == (breaching >= m)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Alarms, MetricsService, FakeClock, FakeTargets]]:
    clock = FakeClock(T0)
    data = SQLiteMetricData(tmp_path / "m.db")
    metrics = MetricsService(data, MetricRecorder(clock.now), clock)
    targets = FakeTargets()
    yield Alarms(FakeDocuments(), metrics, targets, "us-east-1", "000000000000", clock), metrics, clock, targets
    data.close()


def alarm(**extra: Any) -> dict[str, Any]:
    return {"AlarmName": "errors", "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum",
            "Dimensions": [{"Name": "FunctionName", "Value": "f"}], "Period": 60, "EvaluationPeriods": 2,
            "DatapointsToAlarm": 1, "Threshold": 0.0, "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [TOPIC, FUNCTION], "OKActions": [TOPIC], **extra}


def test_an_alarm_on_errors_fires_its_actions_and_comes_back(world: Any) -> None:
    alarms, metrics, clock, targets = world
    alarms.put_metric_alarm(alarm(TreatMissingData="notBreaching"))
    (a,) = alarms.describe_alarms({})["MetricAlarms"]
    assert (a["StateValue"], a["AlarmArn"]) == ("INSUFFICIENT_DATA",
                                               "arn:aws:cloudwatch:us-east-1:000000000000:alarm:errors")
    metrics.recorder.invocation("f", None, 3.0, error=False)
    assert alarms.evaluate() == 1 and targets.sent[0][0].arn == TOPIC      # INSUFFICIENT_DATA -> OK
    targets.sent.clear()
    metrics.recorder.invocation("f", None, 3.0, error=True)
    assert alarms.evaluate() == 1
    assert alarms.describe_alarms({"StateValue": "ALARM"})["MetricAlarms"][0]["AlarmName"] == "errors"
    (topic, note), (fn, event) = targets.sent
    assert (topic.arn, fn.arn, event.invocation_type) == (TOPIC, FUNCTION, "Event")
    message = json.loads(note.payload)
    assert (message["NewStateValue"], message["OldStateValue"], message["Trigger"]["MetricName"]) == (
        "ALARM", "OK", "Errors")
    assert note.subject == 'ALARM: "errors" in us-east-1'
    lam = json.loads(event.payload)
    assert (lam["source"], lam["alarmData"]["state"]["value"], lam["alarmData"]["previousState"]["value"]) == (
        "aws.cloudwatch", "ALARM", "OK")
    assert alarms.evaluate() == 0                         # no change, no action
    clock.advance(180)                                    # two quiet minutes: not breaching
    assert alarms.evaluate() == 1 and alarms.describe_alarms({})["MetricAlarms"][0]["StateValue"] == "OK"
    kinds = [h["HistoryItemType"] for h in alarms.describe_alarm_history({"AlarmName": "errors"})["AlarmHistoryItems"]]
    assert kinds.count("StateUpdate") == 3 and kinds.count("Action") == 4 and kinds[-1] == "ConfigurationUpdate"


def test_set_alarm_state_runs_actions_and_delete_removes(world: Any) -> None:
    alarms, _, _, targets = world
    alarms.put_metric_alarm(alarm())
    alarms.set_alarm_state({"AlarmName": "errors", "StateValue": "ALARM", "StateReason": "testing"})
    assert [t.arn for t, _ in targets.sent] == [TOPIC, FUNCTION]
    assert alarms.describe_alarms({"AlarmNames": ["errors"]})["MetricAlarms"][0]["StateReason"] == "testing"
    alarms.delete_alarms({"AlarmNames": ["errors"]})
    assert alarms.describe_alarms({})["MetricAlarms"] == []
    with pytest.raises(CloudWatchError) as caught:
        alarms.set_alarm_state({"AlarmName": "errors", "StateValue": "OK", "StateReason": "x"})
    assert caught.value.code == "ResourceNotFound"


@pytest.mark.parametrize("change, code", [
    ({"EvaluationPeriods": 0}, "InvalidParameterValue"),
    ({"DatapointsToAlarm": 3}, "InvalidParameterValue"),
    ({"ComparisonOperator": "Bigger"}, "InvalidParameterValue"),
    ({"TreatMissingData": "maybe"}, "InvalidParameterValue"),
    ({"Statistic": None}, "InvalidParameterCombination"),
    ({"Period": 7}, "InvalidParameterValue"),
    ({"AlarmActions": ["not-an-arn"]}, "InvalidParameterValue"),
    ({"Threshold": None}, "MissingParameter"),
])
def test_put_metric_alarm_refuses_what_cloudwatch_refuses(world: Any, change: dict[str, Any], code: str) -> None:
    alarms = world[0]
    doc = {k: v for k, v in {**alarm(), **change}.items() if v is not None}
    with pytest.raises(CloudWatchError) as caught:
        alarms.put_metric_alarm(doc)
    assert caught.value.code == code


def composite(**extra: Any) -> dict[str, Any]:
    return {"AlarmName": "service-down", "AlarmRule": 'ALARM(errors) AND NOT ALARM("deploying")',
            "AlarmActions": [TOPIC], **extra}


def test_a_composite_alarm_follows_the_alarms_it_names(world: Any) -> None:
    alarms, metrics, clock, targets = world
    alarms.put_metric_alarm(alarm(AlarmActions=[], OKActions=[]))
    alarms.put_metric_alarm(alarm(AlarmName="deploying", AlarmActions=[], OKActions=[]))
    alarms.set_alarm_state({"AlarmName": "deploying", "StateValue": "OK", "StateReason": "quiet"})
    alarms.put_composite_alarm(composite())
    assert alarms.describe_alarms({})["CompositeAlarms"] == []          # as CloudWatch: only if asked for
    (c,) = alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"]
    assert (c["StateValue"], c["AlarmRule"]) == ("OK", composite()["AlarmRule"])
    alarms.set_alarm_state({"AlarmName": "errors", "StateValue": "ALARM", "StateReason": "down"})
    (c,) = alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"]
    assert c["StateValue"] == "ALARM"
    assert c["StateReason"].startswith("arn:aws:cloudwatch:us-east-1:000000000000:alarm:errors transitioned to ALARM")
    (topic, note), = targets.sent
    message = json.loads(note.payload)
    assert (topic.arn, message["NewStateValue"], message["AlarmRule"]) == (TOPIC, "ALARM", composite()["AlarmRule"])
    alarms.set_alarm_state({"AlarmName": "deploying", "StateValue": "ALARM", "StateReason": "rolling out"})
    assert alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"][0]["StateValue"] == "OK"
    history = alarms.describe_alarm_history({"AlarmName": "service-down"})["AlarmHistoryItems"]
    assert {h["AlarmType"] for h in history} == {"CompositeAlarm"}
    both = alarms.describe_alarms({"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    assert (len(both["MetricAlarms"]), len(both["CompositeAlarms"])) == (2, 1)


def test_composite_alarms_refuse_missing_alarms_cycles_and_bad_rules(world: Any) -> None:
    alarms, *_ = world
    alarms.put_metric_alarm(alarm())
    for rule, words in (("ALARM(nope)", "do not exist"), ("ALARM(errors) AND", "ends too early"),
                        ("ALARM(service-down)", "cycle")):
        with pytest.raises(CloudWatchError, match=words) as caught:
            alarms.put_composite_alarm(composite(AlarmRule=rule))
        assert caught.value.type == "ValidationError"
    alarms.put_composite_alarm(composite(AlarmName="a", AlarmRule="ALARM(errors)"))
    alarms.put_composite_alarm(composite(AlarmName="b", AlarmRule="ALARM(a)"))
    with pytest.raises(CloudWatchError, match="cycle"):
        alarms.put_composite_alarm(composite(AlarmName="a", AlarmRule="ALARM(b)"))     # a -> b -> a
    with pytest.raises(CloudWatchError, match="metric alarm"):
        alarms.put_composite_alarm(composite(AlarmName="errors", AlarmRule="TRUE"))
    alarms.put_composite_alarm(composite(AlarmName="c", AlarmRule="ALARM(arn:aws:cloudwatch:us-east-1:000000000000:alarm:b)"))
    alarms.set_alarm_state({"AlarmName": "errors", "StateValue": "ALARM", "StateReason": "x"})
    states = {a["AlarmName"]: a["StateValue"] for a in
              alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"]}
    assert states == {"a": "ALARM", "b": "ALARM", "c": "ALARM"}        # through two composites, by ARN


def test_composite_rules_are_parsed_once_per_text(world: Any) -> None:
    from cumulo.metrics import alarms as module
    alarms, *_ = world
    alarms.put_metric_alarm(alarm(AlarmActions=[], OKActions=[]))
    rule = "ALARM(errors) OR ALARM(errors-parse-once)"
    alarms.put_metric_alarm(alarm(AlarmName="errors-parse-once", AlarmActions=[], OKActions=[]))
    alarms.put_composite_alarm(composite(AlarmRule=rule))
    module._rule.cache_clear()
    for state in ("ALARM", "OK", "ALARM", "OK"):
        alarms.set_alarm_state({"AlarmName": "errors", "StateValue": state, "StateReason": "x"})
        alarms.evaluate()
    info = module._rule.cache_info()
    assert (info.misses, info.hits > 4) == (1, True)


def suppressed(**extra: Any) -> dict[str, Any]:
    return composite(AlarmRule="ALARM(errors)", ActionsSuppressor="maintenance", OKActions=[TOPIC], **extra)


@pytest.fixture
def suppression(world: Any) -> Any:
    alarms, metrics, clock, targets = world
    alarms.put_metric_alarm(alarm(AlarmActions=[], OKActions=[], TreatMissingData="ignore"))
    alarms.put_metric_alarm(alarm(AlarmName="maintenance", AlarmActions=[], OKActions=[], TreatMissingData="ignore"))
    for name in ("errors", "maintenance"):
        alarms.set_alarm_state({"AlarmName": name, "StateValue": "OK", "StateReason": "quiet"})
    return world


def _set(alarms: Alarms, name: str, state: str) -> None:
    alarms.set_alarm_state({"AlarmName": name, "StateValue": state, "StateReason": "test"})


def _composite(alarms: Alarms) -> dict[str, Any]:
    (c,) = alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"]
    return c


def test_a_suppressor_in_alarm_suppresses_and_its_extension_period_follows(suppression: Any) -> None:
    alarms, _, clock, targets = suppression
    alarms.put_composite_alarm(suppressed(ActionsSuppressorWaitPeriod=120, ActionsSuppressorExtensionPeriod=180))
    c = _composite(alarms)
    assert (c["ActionsSuppressor"], c["ActionsSuppressorWaitPeriod"], c["ActionsSuppressorExtensionPeriod"]) == (
        "maintenance", 120, 180)
    targets.sent.clear()                                      # INSUFFICIENT_DATA -> OK at creation
    _set(alarms, "maintenance", "ALARM")
    _set(alarms, "errors", "ALARM")
    c = _composite(alarms)
    assert (c["StateValue"], c["ActionsSuppressedBy"], targets.sent) == ("ALARM", "Alarm", [])
    assert "pending" not in c and "left_alarm_at" not in c
    clock.advance(600)
    alarms.evaluate()
    assert targets.sent == []                                 # as long as the suppressor is in ALARM
    _set(alarms, "maintenance", "OK")
    assert _composite(alarms)["ActionsSuppressedBy"] == "ExtensionPeriod" and targets.sent == []
    clock.advance(179)
    alarms.evaluate()
    assert targets.sent == []
    clock.advance(1)
    alarms.evaluate()
    (topic, note), = targets.sent                             # still in ALARM when the extension ends
    assert (topic.arn, json.loads(note.payload)["NewStateValue"]) == (TOPIC, "ALARM")
    assert "ActionsSuppressedBy" not in _composite(alarms)
    alarms.evaluate()
    assert len(targets.sent) == 1                             # once


def test_the_wait_period_runs_actions_unless_the_suppressor_comes(suppression: Any) -> None:
    alarms, _, clock, targets = suppression
    alarms.put_composite_alarm(suppressed(ActionsSuppressorWaitPeriod=60, ActionsSuppressorExtensionPeriod=60))
    targets.sent.clear()
    _set(alarms, "errors", "ALARM")
    assert (_composite(alarms)["ActionsSuppressedBy"], targets.sent) == ("WaitPeriod", [])
    clock.advance(60)
    alarms.evaluate()
    assert [t.arn for t, _ in targets.sent] == [TOPIC]        # the suppressor never came: actions run
    targets.sent.clear()
    _set(alarms, "errors", "OK")                              # OK actions: no wait period
    assert [t.arn for t, _ in targets.sent] == [TOPIC]
    targets.sent.clear()
    _set(alarms, "errors", "ALARM")                           # waits again ...
    clock.advance(30)
    _set(alarms, "maintenance", "ALARM")                      # ... and the suppressor came within it
    assert _composite(alarms)["ActionsSuppressedBy"] == "Alarm"
    clock.advance(3600)
    alarms.evaluate()
    assert targets.sent == []
    _set(alarms, "errors", "OK")                              # the composite left ALARM: OK's actions suppressed
    _set(alarms, "maintenance", "OK")
    clock.advance(120)
    alarms.evaluate()
    (_, note), = targets.sent                                 # OK's, after the extension; ALARM's never ran
    assert json.loads(note.payload)["NewStateValue"] == "OK"
    assert "ActionsSuppressedBy" not in _composite(alarms)


def test_action_suppression_is_checked(suppression: Any) -> None:
    alarms, *_ = suppression
    for change, words in (({"ActionsSuppressor": "nope"}, "does not exist"),
                          ({"ActionsSuppressor": "service-down"}, "does not exist or is the alarm itself"),
                          ({"ActionsSuppressorWaitPeriod": -1}, "whole number"),
                          ({"ActionsSuppressorExtensionPeriod": "60"}, "whole number")):
        with pytest.raises(CloudWatchError, match=words):
            alarms.put_composite_alarm({**suppressed(), **change})
    alarms.put_composite_alarm(composite(AlarmRule="ALARM(errors)", ActionsSuppressorWaitPeriod=5))
    assert "ActionsSuppressorWaitPeriod" not in _composite(alarms)     # means nothing without a suppressor
