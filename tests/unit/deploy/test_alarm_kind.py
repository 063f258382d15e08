"""``AWS::CloudWatch::Alarm`` in a template: made with PutMetricAlarm's checks, its actions naming the
template's topic and function, updated in place, removed with the stack; a bad alarm is refused
when the template is read, so a dry run says what the deploy would."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import delete_stack, deploy
from cumulo.deploy.template import TemplateError, load_template

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: code/, Handler: app.handler, Runtime: python3.11}
  Ops:
    Type: AWS::SNS::Topic
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: orders-errors
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Ref Orders}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: "2"
      DatapointsToAlarm: 1
      Threshold: THRESHOLD
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref Ops, !GetAtt Orders.Arn]
Outputs:
  Arn: {Value: !GetAtt ErrorsAlarm.Arn}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def test_an_alarm_is_made_updated_and_removed(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path, TEMPLATE.replace("THRESHOLD", "0"))
    result = deploy(cumulo, path, stack_name="shop")
    assert ("alarm", "orders-errors", "create") in [(c.kind, c.function, c.action) for c in result.changes]
    (alarm,) = cumulo.alarms.describe_alarms({})["MetricAlarms"]
    assert (alarm["EvaluationPeriods"], alarm["Threshold"], alarm["Dimensions"]) == (
        2, 0.0, [{"Name": "FunctionName", "Value": "shop-Orders"}])
    assert alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:000000000000:shop-Ops-" + alarm["AlarmActions"][0][-12:],
                                     "arn:aws:lambda:us-east-1:000000000000:function:shop-Orders"]
    assert not deploy(cumulo, path, stack_name="shop").changed
    path = _write(tmp_path, TEMPLATE.replace("THRESHOLD", "5"))
    changes = deploy(cumulo, path, stack_name="shop").changes
    assert ("alarm", "orders-errors", "update") in [(c.kind, c.function, c.action) for c in changes]
    assert cumulo.alarms.describe_alarms({})["MetricAlarms"][0]["Threshold"] == 5.0
    delete_stack(cumulo, "shop")
    assert cumulo.alarms.describe_alarms({})["MetricAlarms"] == []


@pytest.mark.parametrize("change, match", [
    (("Statistic: Sum", "Statistic: Total"), "statistic is invalid"),
    (("ComparisonOperator: GreaterThanThreshold", "ComparisonOperator: Above"), "ComparisonOperator"),
    (("      Namespace: AWS/Lambda\n", ""), "Namespace is required"),
    (("Period: 60", "Period: 7"), "Period must be"),
])
def test_a_bad_alarm_is_refused_when_the_template_is_read(tmp_path: Path, change: tuple[str, str], match: str) -> None:
    text = TEMPLATE.replace("THRESHOLD", "0").replace(*change)
    with pytest.raises(TemplateError, match=match):
        load_template(_write(tmp_path, text))


COMPOSITE = TEMPLATE.replace("THRESHOLD", "0") .replace("Outputs:", """  ServiceDown:
    Type: AWS::CloudWatch::CompositeAlarm
    Properties:
      AlarmRule: !Sub 'ALARM("${ErrorsAlarm}") AND NOT ALARM(${Deploying})'
      AlarmActions: [!Ref Ops]
  Deploying:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: Shop
      MetricName: Deploys
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
Outputs:
  Down: {Value: !GetAtt ServiceDown.Arn}""")


def test_a_composite_alarm_is_made_after_the_alarms_its_rule_names(cumulo: Cumulo, tmp_path: Path) -> None:
    result = deploy(cumulo, _write(tmp_path, COMPOSITE), stack_name="shop")
    (down,) = cumulo.alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"]
    assert down["AlarmName"].startswith("shop-ServiceDown-") and down["AlarmRule"].startswith('ALARM("orders-errors")')
    assert result.outputs["Down"] == down["AlarmArn"]
    cumulo.alarms.set_alarm_state({"AlarmName": "orders-errors", "StateValue": "ALARM", "StateReason": "x"})
    assert cumulo.alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"][0]["StateValue"] == "ALARM"
    delete_stack(cumulo, "shop")
    assert cumulo.alarms.describe_alarms({"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}) == {
        "MetricAlarms": [], "CompositeAlarms": []}


def test_a_composite_alarms_bad_rule_is_refused_when_the_template_is_read(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path, COMPOSITE.replace("AND NOT", "AND AND"))
    with pytest.raises(TemplateError, match="property AlarmRule: The alarm rule has 'AND'"):
        load_template(path)


def test_a_composite_alarms_actions_suppressor_is_deployed(cumulo: Cumulo, tmp_path: Path) -> None:
    text = COMPOSITE.replace("      AlarmActions: [!Ref Ops]\n", "      AlarmActions: [!Ref Ops]\n"
                             "      ActionsSuppressor: !Ref Deploying\n      ActionsSuppressorWaitPeriod: '30'\n"
                             "      ActionsSuppressorExtensionPeriod: 90\n", 1)
    deploy(cumulo, _write(tmp_path, text), stack_name="shop")
    (down,) = cumulo.alarms.describe_alarms({"AlarmTypes": ["CompositeAlarm"]})["CompositeAlarms"]
    assert (down["ActionsSuppressor"].startswith("shop-Deploying-"), down["ActionsSuppressorWaitPeriod"],
            down["ActionsSuppressorExtensionPeriod"]) == (True, 30, 90)
