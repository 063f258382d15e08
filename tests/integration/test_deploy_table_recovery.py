"""A template's PointInTimeRecoverySpecification turns point-in-time recovery on (with its period),
a re-deploy without it turns it off, and the plan says so."""

from __future__ import annotations

from pathlib import Path

from cumulo import Cumulo
from cumulo.deploy.engine import deploy

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders-pitr
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
{pitr}  Simple:
    Type: AWS::Serverless::SimpleTable
    Properties:
      TableName: simple-pitr
{simple}"""


def _write(folder: Path, pitr: str, simple: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "template.yaml"
    path.write_text(TEMPLATE.replace("{pitr}", pitr).replace("{simple}", simple))
    return path


def _status(cumulo: Cumulo, table: str) -> dict[str, object]:
    return cumulo.tables.call("DescribeContinuousBackups", {"TableName": table})[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]


def test_templates_turn_point_in_time_recovery_on_and_off(cumulo: Cumulo, tmp_path: Path) -> None:
    on = ("      PointInTimeRecoverySpecification:\n        PointInTimeRecoveryEnabled: true\n"
          "        RecoveryPeriodInDays: 7\n")
    simple_on = "      PointInTimeRecoverySpecification:\n        PointInTimeRecoveryEnabled: true\n"
    result = deploy(cumulo, _write(tmp_path / "app", on, simple_on))
    assert not any("PointInTimeRecovery" in w for w in result.warnings)       # no longer "ignored"
    assert _status(cumulo, "orders-pitr")["PointInTimeRecoveryStatus"] == "ENABLED"
    assert _status(cumulo, "orders-pitr")["RecoveryPeriodInDays"] == 7
    assert _status(cumulo, "simple-pitr")["RecoveryPeriodInDays"] == 35
    cumulo.tables.call("PutItem", {"TableName": "orders-pitr", "Item": {"id": {"S": "a"}}})
    restored = cumulo.tables.call("RestoreTableToPointInTime", {"SourceTableName": "orders-pitr",
                                                               "TargetTableName": "orders-copy",
                                                               "UseLatestRestorableTime": True})
    assert restored["TableDescription"]["TableName"] == "orders-copy"
    assert cumulo.tables.call("Scan", {"TableName": "orders-copy"})["Count"] == 1
    again = deploy(cumulo, _write(tmp_path / "app", "", simple_on))          # the property dropped
    assert _status(cumulo, "orders-pitr") == {"PointInTimeRecoveryStatus": "DISABLED"}
    assert _status(cumulo, "simple-pitr")["PointInTimeRecoveryStatus"] == "ENABLED"
    change = next(c for c in again.changes if c.logical_id == "Orders")
    assert (change.action, change.details) == ("update", ["point-in-time recovery"])
    assert next(c for c in again.changes if c.logical_id == "Simple").action == "unchanged"
