"""On-demand backups and point-in-time recovery settings (``tables/backups.py``) on a real table service
and store: a backup keeps the table as it was, restores into a new table with its indexes, and is
never a table of its own to the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo.errors import CumuloError
from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.tables.service import TableService
from cumulo.tables.values import TableNotFound
from tests.unit.fakes import FakeClock


def test_backup_restore_list_delete_and_pitr(tmp_path: Path) -> None:
    store = SQLiteMessageStore(tmp_path / "q.db")
    clock = FakeClock(1_700_000_000.0)
    svc = TableService(store.tables, store.streams, "us-east-1", "123456789012", clock)
    svc.call("CreateTable", {"TableName": "src", "BillingMode": "PAY_PER_REQUEST",
                             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                             "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                                                      {"AttributeName": "g", "AttributeType": "S"}],
                             "GlobalSecondaryIndexes": [{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                                         "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}],
                             "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}})
    for i in range(30):
        svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": f"i{i}"}, "g": {"S": "even" if i % 2 else "odd"}}})
    made = svc.call("CreateBackup", {"TableName": "src", "BackupName": "nightly"})["BackupDetails"]
    arn = made["BackupArn"]
    assert arn.startswith("arn:aws:dynamodb:us-east-1:123456789012:table/src/backup/")
    svc.call("DeleteItem", {"TableName": "src", "Key": {"id": {"S": "i0"}}})          # after the backup
    described = svc.call("DescribeBackup", {"BackupArn": arn})["BackupDescription"]
    assert described["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    assert described["SourceTableDetails"]["ItemCount"] == 30
    assert described["SourceTableFeatureDetails"]["GlobalSecondaryIndexes"][0]["IndexName"] == "by_g"
    assert svc.call("ListTables", {})["TableNames"] == ["src"]                      # a backup is no table
    with pytest.raises(TableNotFound):
        svc.call("Scan", {"TableName": "backup/" + arn.rsplit("/", 1)[1]})
    clock.advance(10)
    svc.call("CreateBackup", {"TableName": "src", "BackupName": "second"})
    listed = svc.call("ListBackups", {"TableName": "src"})["BackupSummaries"]
    assert [b["BackupName"] for b in listed] == ["nightly", "second"]
    assert [b["BackupName"] for b in svc.call("ListBackups", {"Limit": 1})["BackupSummaries"]] == ["nightly"]
    restored = svc.call("RestoreTableFromBackup", {"BackupArn": arn, "TargetTableName": "copy"})["TableDescription"]
    assert restored["RestoreSummary"]["SourceBackupArn"] == arn and "StreamSpecification" not in restored
    assert svc.call("Scan", {"TableName": "copy", "Select": "COUNT"})["Count"] == 30
    odd = svc.call("Query", {"TableName": "copy", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
                             "ExpressionAttributeValues": {":g": {"S": "odd"}}})
    assert odd["Count"] == 15                                   # its index holds the restored items
    with pytest.raises(CumuloError) as err:
        svc.call("RestoreTableFromBackup", {"BackupArn": arn, "TargetTableName": "copy"})
    assert err.value.type == "TableAlreadyExistsException"
    assert svc.call("DeleteBackup", {"BackupArn": arn})["BackupDescription"]["BackupDetails"]["BackupStatus"] == \
        "DELETED"
    with pytest.raises(CumuloError) as err:
        svc.call("DescribeBackup", {"BackupArn": arn})
    assert err.value.type == "BackupNotFoundException"
    with pytest.raises(CumuloError) as err:
        svc.call("CreateBackup", {"TableName": "nope", "BackupName": "x1x"})
    assert err.value.type == "TableNotFoundException"
    off = svc.call("DescribeContinuousBackups", {"TableName": "src"})["ContinuousBackupsDescription"]
    assert off["PointInTimeRecoveryDescription"] == {"PointInTimeRecoveryStatus": "DISABLED"}
    on = svc.call("UpdateContinuousBackups", {"TableName": "src", "PointInTimeRecoverySpecification": {
        "PointInTimeRecoveryEnabled": True}})["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert on["PointInTimeRecoveryStatus"] == "ENABLED" and on["RecoveryPeriodInDays"] == 35
    assert svc.call("DescribeContinuousBackups", {"TableName": "src"})["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    store.close()


def test_point_in_time_recovery_restores_the_table_as_it_was(tmp_path: Path) -> None:
    """The journal kept while point-in-time recovery is on gives back any second of the window:
    puts, updates, deletes (a transaction's, a batch's, TTL's) after the time are undone, the
    index follows, and the window's edges and the errors are DynamoDB's."""
    store = SQLiteMessageStore(tmp_path / "q.db")
    clock = FakeClock(1_700_000_000.0)
    svc = TableService(store.tables, store.streams, "us-east-1", "123456789012", clock)
    svc.call("CreateTable", {"TableName": "src", "BillingMode": "PAY_PER_REQUEST",
                             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                             "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                                                      {"AttributeName": "g", "AttributeType": "S"}],
                             "GlobalSecondaryIndexes": [{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                                         "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}]})
    with pytest.raises(CumuloError) as err:
        svc.call("RestoreTableToPointInTime", {"SourceTableName": "src", "TargetTableName": "t1",
                                               "UseLatestRestorableTime": True})
    assert err.value.type == "PointInTimeRecoveryUnavailableException"
    svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": "before"}, "g": {"S": "x"}}})   # before PITR
    svc.call("UpdateContinuousBackups", {"TableName": "src", "PointInTimeRecoverySpecification": {
        "PointInTimeRecoveryEnabled": True}})
    for i in range(5):
        svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": f"i{i}"}, "g": {"S": "x"}, "v": {"N": "1"}}})
    clock.advance(10)
    noted = clock.now()
    state = sorted(json.dumps(i, sort_keys=True) for i in svc.call("Scan", {"TableName": "src"})["Items"])
    clock.advance(10)
    svc.call("UpdateItem", {"TableName": "src", "Key": {"id": {"S": "i0"}}, "UpdateExpression": "SET v = v + :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}})
    svc.call("UpdateItem", {"TableName": "src", "Key": {"id": {"S": "i0"}}, "UpdateExpression": "SET g = :y",
                            "ExpressionAttributeValues": {":y": {"S": "y"}}})
    svc.call("DeleteItem", {"TableName": "src", "Key": {"id": {"S": "i1"}}})
    svc.call("DeleteItem", {"TableName": "src", "Key": {"id": {"S": "before"}}})
    svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": "after"}, "g": {"S": "x"}}})
    svc.call("BatchWriteItem", {"RequestItems": {"src": [{"DeleteRequest": {"Key": {"id": {"S": "i2"}}}},
                                                         {"PutRequest": {"Item": {"id": {"S": "i3"}}}}]}})
    svc.call("TransactWriteItems", {"TransactItems": [{"Delete": {"TableName": "src", "Key": {"id": {"S": "i4"}}}}]})
    svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": "i1"}, "g": {"S": "z"}}})        # back, changed
    window = svc.call("DescribeContinuousBackups", {"TableName": "src"})["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]
    assert window["EarliestRestorableDateTime"] == 1_700_000_000.0 and window["LatestRestorableDateTime"] == clock.now()
    restored = svc.call("RestoreTableToPointInTime", {"SourceTableName": "src", "TargetTableName": "then",
                                                      "RestoreDateTime": noted})["TableDescription"]
    assert restored["RestoreSummary"] == {"SourceTableArn": svc.arn("src"), "RestoreDateTime": noted,
                                          "RestoreInProgress": False}
    assert sorted(json.dumps(i, sort_keys=True) for i in svc.call("Scan", {"TableName": "then"})["Items"]) == state
    by_g = svc.call("Query", {"TableName": "then", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
                              "ExpressionAttributeValues": {":g": {"S": "x"}}})
    assert by_g["Count"] == 6 and svc.call("Query", {"TableName": "then", "IndexName": "by_g",
                                                     "KeyConditionExpression": "g = :g",
                                                     "ExpressionAttributeValues": {":g": {"S": "y"}}})["Count"] == 0
    latest = svc.call("RestoreTableToPointInTime", {"SourceTableArn": svc.arn("src"), "TargetTableName": "now",
                                                    "UseLatestRestorableTime": True})
    assert latest["TableDescription"]["RestoreSummary"]["RestoreDateTime"] == clock.now()
    assert svc.call("Scan", {"TableName": "now"})["Items"] == svc.call("Scan", {"TableName": "src"})["Items"]
    for when, kind in ((noted - 3600, "InvalidRestoreTimeException"), (clock.now() + 60, "InvalidRestoreTimeException")):
        with pytest.raises(CumuloError) as err:
            svc.call("RestoreTableToPointInTime", {"SourceTableName": "src", "TargetTableName": "t2",
                                                   "RestoreDateTime": when})
        assert err.value.type == kind
    with pytest.raises(CumuloError) as err:
        svc.call("RestoreTableToPointInTime", {"SourceTableName": "src", "TargetTableName": "then",
                                               "UseLatestRestorableTime": True})
    assert err.value.type == "TableAlreadyExistsException"
    with pytest.raises(CumuloError) as err:
        svc.call("RestoreTableToPointInTime", {"SourceTableName": "nope", "TargetTableName": "t3",
                                               "UseLatestRestorableTime": True})
    assert err.value.type == "TableNotFoundException"
    # the window is the recovery period: older journal records are trimmed by the sweep
    clock.advance(36 * 86400)
    svc.sweep()
    window = svc.call("DescribeContinuousBackups", {"TableName": "src"})["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]
    assert window["EarliestRestorableDateTime"] == clock.now() - 35 * 86400
    label = svc.call("DescribeTable", {"TableName": "src"})["Table"]["TableId"]
    assert store.streams.shard_bounds(f"table/src/pitr/{label}", 0)[0] == store.streams.shard_bounds(
        f"table/src/pitr/{label}", 0)[1]                       # only the newest record is kept
    store.close()
