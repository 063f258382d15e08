"""``TableItems`` (store/ports.py), held to one behaviour for every backend: items by sortable key,
index entries, expiry, and stream records committed with the item or not at all."""

from __future__ import annotations

import pytest

from cumulo.store.ports import MessageStore


def put(messages: MessageStore, pk: bytes, sk: bytes, item: str = "{}", **kw: object) -> None:
    with messages.tables.transaction() as tx:
        tx.put("t", pk, sk, item, **kw)  # type: ignore[arg-type]


def test_a_query_is_a_range_of_one_partition_in_key_order(messages: MessageStore) -> None:
    assert messages.tables.create_table("t", {"n": 1}) and not messages.tables.create_table("t", {})
    for sk in (b"\x03", b"\x01", b"\x02", b"\x04"):
        put(messages, b"p", sk, f'"{sk.hex()}"')
    put(messages, b"q", b"\x02")
    q = messages.tables.query
    assert [p for p, _ in q("t", "", b"p", None, None, True, None, 10)] == [(b"\x01",), (b"\x02",), (b"\x03",), (b"\x04",)]
    assert [p for p, _ in q("t", "", b"p", (b"\x02", False), (b"\x04", True), False, None, 10)] == [(b"\x04",), (b"\x03",)]
    assert [p for p, _ in q("t", "", b"p", None, None, True, (b"\x02",), 1)] == [(b"\x03",)]
    assert messages.tables.stats("t")[0] == 5


def test_index_entries_follow_their_item(messages: MessageStore) -> None:
    messages.tables.create_table("t", {})
    put(messages, b"p", b"1", "1", index_keys=[("g", b"x", b"b")])
    put(messages, b"p", b"2", "2", index_keys=[("g", b"x", b"a")])
    assert [raw for _, raw in messages.tables.query("t", "g", b"x", None, None, True, None, 10)] == ["2", "1"]
    put(messages, b"p", b"2", "2")                           # no longer in the index
    assert [raw for _, raw in messages.tables.query("t", "g", b"x", None, None, True, None, 10)] == ["1"]
    with messages.tables.transaction() as tx:
        assert tx.delete("t", b"p", b"1")
    assert messages.tables.query("t", "g", b"x", None, None, True, None, 10) == []


def test_a_failed_transaction_keeps_neither_item_nor_stream_record(messages: MessageStore) -> None:
    messages.tables.create_table("t", {})
    with pytest.raises(RuntimeError):
        with messages.tables.transaction() as tx:
            tx.put("t", b"p", b"", "{}")
            tx.append_record("table/t/stream/x", "k", b"r", 1)
            raise RuntimeError("boom")
    assert messages.tables.get("t", b"p", b"") is None
    assert messages.streams.read_records("table/t/stream/x", 0, 0, 10) == []
    with messages.tables.transaction() as tx:
        tx.put("t", b"p", b"", "{}")
        assert tx.append_record("table/t/stream/x", "k", b"r", 1) == 1
    assert [r[2] for r in messages.streams.read_records("table/t/stream/x", 0, 0, 10)] == [b"r"]


def test_expired_items_and_deleting_a_table(messages: MessageStore) -> None:
    messages.tables.create_table("t", {})
    put(messages, b"a", b"", "a", expires=100)
    put(messages, b"b", b"", "b", expires=300)
    put(messages, b"c", b"", "c")
    assert [r[2] for r in messages.tables.expired("t", 200, 10)] == ["a"]
    assert messages.tables.delete_table("t") and messages.tables.get("t", b"b", b"") is None
    assert messages.tables.list_tables() == []


def test_a_point_in_time_restore_reads_the_journal_on_every_backend(messages: MessageStore) -> None:
    """Point-in-time recovery's journal (a stream of records written in the items' transactions) and
    its reading by time, through the table service, on each backend."""
    from cumulo.tables.service import TableService
    from tests.unit.fakes import FakeClock

    clock = FakeClock(1_700_000_000.0)
    svc = TableService(messages.tables, messages.streams, "us-east-1", "123456789012", clock)
    svc.call("CreateTable", {"TableName": "src", "BillingMode": "PAY_PER_REQUEST",
                             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                             "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]})
    svc.call("UpdateContinuousBackups", {"TableName": "src", "PointInTimeRecoverySpecification": {
        "PointInTimeRecoveryEnabled": True}})
    for i in range(3):
        svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": f"i{i}"}, "v": {"N": "1"}}})
    clock.advance(5)
    noted = clock.now()
    clock.advance(5)
    svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": "i0"}, "v": {"N": "2"}}})
    svc.call("DeleteItem", {"TableName": "src", "Key": {"id": {"S": "i1"}}})
    svc.call("PutItem", {"TableName": "src", "Item": {"id": {"S": "new"}}})
    svc.call("RestoreTableToPointInTime", {"SourceTableName": "src", "TargetTableName": "then",
                                           "RestoreDateTime": noted})
    items = sorted(svc.call("Scan", {"TableName": "then"})["Items"], key=lambda i: i["id"]["S"])
    assert items == [{"id": {"S": f"i{i}"}, "v": {"N": "1"}} for i in range(3)]
