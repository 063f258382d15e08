"""The table service on a store of its own and a clock that moves when told: TTL's sweep, and what
it writes to the stream."""

from __future__ import annotations

import json
from pathlib import Path

from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.tables.service import TableService
from tests.unit.fakes import FakeClock


def test_expired_items_are_swept_as_service_deletions(tmp_path: Path) -> None:
    store = SQLiteMessageStore(tmp_path / "q.db")
    clock = FakeClock(1_700_000_000.0)
    service = TableService(store.tables, store.streams, "us-east-1", "123456789012", clock)
    service.call("CreateTable", {"TableName": "sessions", "BillingMode": "PAY_PER_REQUEST",
                                 "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                                 "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                                 "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"}})
    service.call("PutItem", {"TableName": "sessions", "Item": {"id": {"S": "old"}, "exp": {"N": "1700000100"}}})
    service.call("UpdateTimeToLive", {"TableName": "sessions",
                                      "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "exp"}})
    service.call("PutItem", {"TableName": "sessions", "Item": {"id": {"S": "new"}, "exp": {"N": "1700000500"}}})
    service.call("PutItem", {"TableName": "sessions", "Item": {"id": {"S": "never"}, "exp": {"S": "soon"}}})
    assert service.sweep() == 0
    clock.advance(200)
    assert service.sweep() == 1                      # the item written before TTL was turned on, too
    assert "Item" not in service.call("GetItem", {"TableName": "sessions", "Key": {"id": {"S": "old"}}})
    clock.advance(400)
    assert service.sweep() == 1
    assert service.call("Scan", {"TableName": "sessions"})["Count"] == 1
    arn = service.call("DescribeTable", {"TableName": "sessions"})["Table"]["LatestStreamArn"]
    label = arn.split("/stream/")[1]
    records = [json.loads(r[2]) for r in store.streams.read_records(f"table/sessions/stream/{label}", 0, 0, 10)]
    removes = [r for r in records if r["eventName"] == "REMOVE"]
    assert [r["dynamodb"]["OldImage"]["id"]["S"] for r in removes] == ["old", "new"]
    assert all(r["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"} for r in removes)
    assert all("userIdentity" not in r for r in records if r["eventName"] == "INSERT")
    store.close()
