"""Resource types with no local meaning are accepted with one warning per type; a log group sets its
retention; types whose absence would make the application wrong are refused with the reason."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.template import TemplateError, load_template, resolve_outputs
from cumulo.store.base import LogRecord

HEAD = "Transform: AWS::Serverless-2016-10-31\nResources:\n"
# An order service as people write it: a function with its log group, an alarm on its errors, a key.
MONITORED = """\
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          KEY_ARN: !GetAtt DataKey.Arn
          LOG_GROUP: !Ref OrdersLogs
  OrdersLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${Orders}
      RetentionInDays: 7
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: orders-errors
      MetricName: Errors
      Namespace: AWS/Lambda
      Dimensions: [{Name: FunctionName, Value: !Ref Orders}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  ThrottlesAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: Throttles
      Namespace: AWS/Lambda
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  DataKey:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}, Action: "kms:*",
                     Resource: "*"}]
Outputs:
  Alarm: {Value: !GetAtt ErrorsAlarm.Arn}
  Key: {Value: !Ref DataKey}
  Logs: {Value: !GetAtt OrdersLogs.Arn}
"""


def _template(tmp_path: Path, resources: str) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    path = tmp_path / "template.yaml"
    path.write_text(HEAD + resources)
    return path


def test_inert_types_answer_ref_and_get_att(tmp_path: Path) -> None:
    template = load_template(_template(tmp_path, MONITORED), stack_name="shop", account_id="111122223333")
    outputs = resolve_outputs(template)
    assert outputs["Alarm"] == "arn:aws:cloudwatch:us-east-1:111122223333:alarm:orders-errors"
    assert outputs["Logs"] == "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/shop-Orders:*"
    key_id = outputs["Key"]
    assert len(key_id) == 36 and key_id.count("-") == 4
    env = template.functions[0].environment
    assert env == {"KEY_ARN": f"arn:aws:kms:us-east-1:111122223333:key/{key_id}", "LOG_GROUP": "/aws/lambda/shop-Orders"}
    again = load_template(_template(tmp_path, MONITORED), stack_name="shop", account_id="111122223333")
    assert resolve_outputs(again)["Key"] == key_id       # the same on every load


def test_one_warning_per_type_says_what_aws_does_and_what_cumulo_does(cumulo: Cumulo, tmp_path: Path) -> None:
    result = deploy(cumulo, _template(tmp_path, MONITORED), stack_name="shop", dry_run=True)
    assert not [w for w in result.warnings if "AWS::CloudWatch::Alarm" in w]      # alarms are made (docs/metrics.md)
    assert not [w for w in result.warnings if "AWS::KMS::Key" in w]      # keys are made (kms/)
    key_id = next(c.function for c in result.changes if c.kind == "kms key")
    assert [(c.kind, c.function, c.action) for c in result.changes] == [
        ("function", "shop-Orders", "create"), ("role", role_name_for("shop", "OrdersRole"), "create"),
        ("kms key", key_id, "create"),
        ("log group", "/aws/lambda/shop-Orders", "create"), ("alarm", "orders-errors", "create"),
        ("alarm", "shop-ThrottlesAlarm-" + hashlib.sha256(b"shop:ThrottlesAlarm").hexdigest()[:12].upper(),
         "create")]


def test_a_reference_inside_an_inert_resource_is_still_checked(tmp_path: Path) -> None:
    broken = MONITORED.replace("Value: !Ref Orders}", "Value: !Ref Ghost}")
    with pytest.raises(TemplateError, match=r"Resource ErrorsAlarm \(line 18\): property Dimensions \(line 24\): Ref Ghost: 'Ghost' is not a "
                                            r"parameter or a resource"):
        load_template(_template(tmp_path, broken))


@pytest.mark.parametrize(("resource", "match"), [
    ("  T:\n    Type: AWS::DynamoDB::GlobalTable\n", r"'AWS::DynamoDB::GlobalTable' is not supported: Cumulo serves "
                                                     r"DynamoDB tables \(AWS::DynamoDB::Table\) but not this type"),
    ("  T:\n    Type: AWS::SNS::PlatformApplication\n", r"Cumulo serves topics and subscriptions"),
    ("  T:\n    Type: Custom::Seed\n    Properties: {ServiceToken: x}\n", r"custom resources .* are not run"),
    ("  T:\n    Type: AWS::CloudFormation::Stack\n", r"nested stacks"),
])
def test_a_type_the_application_needs_is_refused_with_its_reason(tmp_path: Path, resource: str, match: str) -> None:
    with pytest.raises(TemplateError, match=match):
        load_template(_template(tmp_path, resource))


@pytest.mark.parametrize(("properties", "match"), [
    ("RetentionInDays: 8", r"property RetentionInDays \(line 6\): 8 is not one of CloudWatch Logs' retention values"),
    ("LogGroupName: 'bad name'", r"property LogGroupName \(line 6\): 'bad name' must be 1 to 512"),
    ("Colour: red", r"unknown property 'Colour'"),
])
def test_log_group_faults(tmp_path: Path, properties: str, match: str) -> None:
    with pytest.raises(TemplateError, match=match):
        load_template(_template(tmp_path, f"  G:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      {properties}\n"))


def _log(function: str, age_days: float, message: str) -> LogRecord:
    return LogRecord(function, "$LATEST", "stream", None, int((time.time() - age_days * 86_400) * 1000), message)


def test_a_log_groups_retention_prunes_its_function_log(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _template(tmp_path, MONITORED)
    deploy(cumulo, path, stack_name="shop")
    cumulo.store.append_logs([_log("shop-Orders", 8, "last week"), _log("shop-Orders", 6, "this week"),
                              _log("other", 29, "no declared group: kept 30 days"), _log("other", 31, "older")])
    # the CloudWatch Logs API sees the template's group, with its retention
    [described] = cumulo.log_groups.describe_groups(prefix="/aws/lambda/shop-")
    assert (described["logGroupName"], described["retentionInDays"]) == ("/aws/lambda/shop-Orders", 7)
    housekeeper = cumulo.housekeeper()
    assert housekeeper.sweep() == 2
    assert [r.message for r in cumulo.store.query_logs("shop-Orders")] == ["this week"]
    assert [r.message for r in cumulo.store.query_logs("other")] == ["no declared group: kept 30 days"]

    path.write_text(path.read_text().replace("RetentionInDays: 7", "RetentionInDays: 5"))
    result = deploy(cumulo, path, stack_name="shop")
    assert [(c.function, c.action, c.details) for c in result.changes if c.kind == "log group"] == [
        ("/aws/lambda/shop-Orders", "update", ["retentionInDays"])]
    assert housekeeper.sweep() == 1
    assert cumulo.store.query_logs("shop-Orders") == []
    assert deploy(cumulo, path, stack_name="shop").changed is False

    # Dropped from the template: the group goes, and its events with it (as DeleteLogGroup does).
    cumulo.store.append_logs([_log("shop-Orders", 0, "today")])
    lean = MONITORED.split("  OrdersLogs:")[0].replace("          LOG_GROUP: !Ref OrdersLogs\n", "").replace(
        "          KEY_ARN: !GetAtt DataKey.Arn\n", "").replace("      Environment:\n        Variables:\n", "")
    path.write_text(HEAD + lean)
    result = deploy(cumulo, path, stack_name="shop")
    assert [(c.function, c.action) for c in result.changes if c.kind == "log group"] == [
        ("/aws/lambda/shop-Orders", "delete")]
    assert cumulo.store.query_logs("shop-Orders") == []
    assert cumulo.store.list_documents("log-group") == []
