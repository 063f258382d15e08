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


def test_what_the_differential_suite_found(tmp_path: Path) -> None:
    """Three answers the comparison with moto showed wrong (tests/integration/test_dynamodb_differential.py)."""
    import pytest
    from cumulo.errors import ValidationException
    from cumulo.tables.values import TransactionCanceled
    store = SQLiteMessageStore(tmp_path / "q.db")
    service = TableService(store.tables, store.streams, "us-east-1", "123456789012", FakeClock(1_700_000_000.0))
    service.call("CreateTable", {"TableName": "things", "BillingMode": "PAY_PER_REQUEST",
                                 "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                               {"AttributeName": "sk", "KeyType": "RANGE"}],
                                 "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                          {"AttributeName": "sk", "AttributeType": "S"}]})
    key = {"pk": {"S": "a"}, "sk": {"S": "x"}}
    service.call("PutItem", {"TableName": "things", "Item": {**key, "s": {"S": "text"}}})
    # REMOVE or DELETE of x.y / x[0] where x is absent or not a map (a list) is refused, as DynamoDB refuses it
    for update in ("REMOVE m.s", "REMOVE l[0]", "REMOVE s.t", "DELETE m.k :set"):
        with pytest.raises(ValidationException, match="document path provided in the update expression is invalid"):
            service.call("UpdateItem", {"TableName": "things", "Key": key, "UpdateExpression": update,
                                        **({"ExpressionAttributeValues": {":set": {"SS": ["p"]}}}
                                           if ":set" in update else {})})
    service.call("UpdateItem", {"TableName": "things", "Key": key, "UpdateExpression": "REMOVE gone"})  # top level
    # in a transaction, an update its item cannot take cancels it with the reason ValidationError
    with pytest.raises(TransactionCanceled) as cancelled:
        service.call("TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": "things", "Item": {"pk": {"S": "b"}, "sk": {"S": "x"}}}},
            {"Update": {"TableName": "things", "Key": key, "UpdateExpression": "REMOVE m.s"}}]})
    assert [r["Code"] for r in cancelled.value.extra["CancellationReasons"]] == ["None", "ValidationError"]
    assert "Item" not in service.call("GetItem", {"TableName": "things", "Key": {"pk": {"S": "b"}, "sk": {"S": "x"}}})
    # a key condition's empty string is refused, as for any key attribute's value
    with pytest.raises(ValidationException, match="cannot contain an empty string value. Key: sk"):
        service.call("Query", {"TableName": "things", "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                               "ExpressionAttributeValues": {":p": {"S": "a"}, ":s": {"S": ""}}})
    store.close()


def test_a_global_index_filters_what_it_holds_and_index_keys_are_checked_first(tmp_path: Path) -> None:
    """Found by the differential suite's longer runs: a filter on a global index with a KEYS_ONLY or
    INCLUDE projection sees only the projected attributes; an item whose index key is invalid is
    refused before its condition is evaluated."""
    import pytest
    from cumulo.errors import ValidationException
    store = SQLiteMessageStore(tmp_path / "q.db")
    service = TableService(store.tables, store.streams, "us-east-1", "123456789012", FakeClock(1_700_000_000.0))
    service.call("CreateTable", {"TableName": "things", "BillingMode": "PAY_PER_REQUEST",
                                 "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                                 "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                          {"AttributeName": "g", "AttributeType": "S"}],
                                 "GlobalSecondaryIndexes": [{"IndexName": "gsi", "KeySchema": [
                                     {"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["n"]}}]})
    service.call("PutItem", {"TableName": "things", "Item": {"pk": {"S": "a"}, "g": {"S": "u"}, "n": {"N": "1"},
                                                        "secret": {"N": "1"}}})
    for filter_text, count in (("secret = :one", 0), ("n = :one", 1)):
        got = service.call("Scan", {"TableName": "things", "IndexName": "gsi", "FilterExpression": filter_text,
                                    "ExpressionAttributeValues": {":one": {"N": "1"}}})
        assert got["Count"] == count
    assert service.call("Scan", {"TableName": "things", "FilterExpression": "secret = :one",
                                 "ExpressionAttributeValues": {":one": {"N": "1"}}})["Count"] == 1
    for call in ({"Item": {"pk": {"S": "b"}, "g": {"S": ""}}, "ConditionExpression": "attribute_exists(pk)"},):
        with pytest.raises(ValidationException, match="secondary index key"):
            service.call("PutItem", {"TableName": "things", **call})
    store.close()


def test_an_index_key_attribute_is_checked_even_where_the_item_is_not_in_the_index(tmp_path: Path) -> None:
    """BatchWriteItem's reference: 'If you specify any attributes that are part of an index key, then the
    data types for those attributes must match' — also for an item the (sparse) index will not hold."""
    import pytest
    from cumulo.errors import ValidationException
    store = SQLiteMessageStore(tmp_path / "q.db")
    service = TableService(store.tables, store.streams, "us-east-1", "123456789012", FakeClock(1_700_000_000.0))
    service.call("CreateTable", {"TableName": "things", "BillingMode": "PAY_PER_REQUEST",
                                 "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                                 "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                          {"AttributeName": "g", "AttributeType": "S"},
                                                          {"AttributeName": "r", "AttributeType": "N"}],
                                 "GlobalSecondaryIndexes": [{"IndexName": "gsi", "KeySchema": [
                                     {"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
                                     "Projection": {"ProjectionType": "ALL"}}]})
    with pytest.raises(ValidationException, match="^ValidationException: One or more parameter values are not valid. A value specified"):
        service.call("BatchWriteItem", {"RequestItems": {"things": [
            {"PutRequest": {"Item": {"pk": {"S": "a"}, "g": {"S": ""}}}}]}})
    with pytest.raises(ValidationException, match="Type mismatch for Index Key r"):
        service.call("PutItem", {"TableName": "things", "Item": {"pk": {"S": "a"}, "r": {"S": "1"}}})
    service.call("PutItem", {"TableName": "things", "Item": {"pk": {"S": "a"}, "g": {"S": "u"}}})  # sparse, fine
    assert service.call("Scan", {"TableName": "things", "IndexName": "gsi"})["Count"] == 0
    from cumulo.tables.values import TransactionCanceled     # an update that makes an index key of a wrong type
    with pytest.raises(TransactionCanceled) as cancelled:
        service.call("TransactWriteItems", {"TransactItems": [{"Update": {
            "TableName": "things", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET g = :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}}}}]})
    assert cancelled.value.extra["CancellationReasons"][0]["Code"] == "ValidationError"
    store.close()
