"""On-demand backups and point-in-time recovery settings (``tables/backups.py``) on a real table service
and store: a backup keeps the table as it was, restores into a new table with its indexes, and is
never a table of its own to the API."""

from __future__ import annotations

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
