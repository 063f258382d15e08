"""Generated operation sequences against the table service and a plain model of a table, side by side.

The model is what DynamoDB's documentation says, written the obvious way: a dict of items by
(partition key, sort key), a Query is the items of one partition whose sort key is in range, in
numeric order (or reversed), paged by Limit with LastEvaluatedKey; conditional writes check
attribute_exists/attribute_not_exists; ADD adds numbers; a GSI holds the items that carry its key.
Thousands of steps per run (Hypothesis' stateful testing); any disagreement is a failure, shrunk to
the shortest sequence that shows it.
"""

from __future__ import annotations

from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.tables.service import TableService
from cumulo.tables.values import ConditionalCheckFailed

partitions = st.sampled_from(["a", "b", "é", "", "zz"])         # "" is refused as a key: both sides must agree
sort_keys = st.one_of(st.integers(-50, 50), st.decimals(-10, 10, places=2, allow_nan=False, allow_infinity=False),
                      st.sampled_from([Decimal("1e-5"), Decimal("-1e-5"), Decimal("123456789012345678901234567890")]))
groups = st.one_of(st.none(), st.sampled_from(["red", "blue"]))


def n(value: Decimal | int) -> str:
    """A number as DynamoDB writes it (the model's own spelling, with enough precision for 38 digits)."""
    return format(Context(prec=100).normalize(Decimal(value)), "f") if Decimal(value) != 0 else "0"


class TableModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, Decimal], dict[str, Any]] = {}

    @initialize()
    def open(self) -> None:
        import tempfile
        self.folder = tempfile.mkdtemp()
        self.store = SQLiteMessageStore(Path(self.folder) / "q.db")
        self.service = TableService(self.store.tables, self.store.streams, "us-east-1", "123456789012")
        self.service.call("CreateTable", {
            "TableName": "model", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"},
                                     {"AttributeName": "g", "AttributeType": "S"}],
            "GlobalSecondaryIndexes": [{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                      {"AttributeName": "sk", "KeyType": "RANGE"}]}]})

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()

    def _key(self, pk: str, sk: Decimal | int) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"N": n(sk)}}

    @rule(pk=partitions, sk=sort_keys, g=groups, v=st.integers(0, 9), only_new=st.booleans())
    def put(self, pk: str, sk: Decimal | int, g: str | None, v: int, only_new: bool) -> None:
        item = {**self._key(pk, sk), "v": {"N": str(v)}}
        if g is not None:
            item["g"] = {"S": g}
        request: dict[str, Any] = {"TableName": "model", "Item": item}
        if only_new:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        key = (pk, Decimal(sk))
        if pk == "":
            with pytest.raises(Exception, match="cannot contain an empty string"):
                self.service.call("PutItem", request)
            return
        if only_new and key in self.items:
            with pytest.raises(ConditionalCheckFailed):
                self.service.call("PutItem", request)
            return
        self.service.call("PutItem", request)
        self.items[key] = item

    @rule(pk=partitions, sk=sort_keys, by=st.integers(-3, 3))
    def add(self, pk: str, sk: Decimal | int, by: int) -> None:
        if pk == "":
            return
        got = self.service.call("UpdateItem", {"TableName": "model", "Key": self._key(pk, sk),
                                               "UpdateExpression": "ADD v :by", "ReturnValues": "ALL_NEW",
                                               "ExpressionAttributeValues": {":by": {"N": str(by)}}})
        key = (pk, Decimal(sk))
        current = self.items.get(key, self._key(pk, sk))
        total = Context(prec=100).add(Decimal(current.get("v", {"N": "0"})["N"]), by)
        self.items[key] = {**current, "v": {"N": n(total)}}
        assert got["Attributes"] == self.items[key]

    @rule(pk=partitions, sk=sort_keys)
    def delete(self, pk: str, sk: Decimal | int) -> None:
        if pk == "":
            return
        got = self.service.call("DeleteItem", {"TableName": "model", "Key": self._key(pk, sk),
                                               "ReturnValues": "ALL_OLD"})
        assert got.get("Attributes") == self.items.pop((pk, Decimal(sk)), None)

    @rule(pk=partitions, sk=sort_keys)
    def get(self, pk: str, sk: Decimal | int) -> None:
        if pk == "":
            return
        got = self.service.call("GetItem", {"TableName": "model", "Key": self._key(pk, sk)})
        assert got.get("Item") == self.items.get((pk, Decimal(sk)))

    @rule(pk=partitions, low=sort_keys, high=sort_keys, forward=st.booleans(), limit=st.integers(1, 4))
    def query(self, pk: str, low: Decimal | int, high: Decimal | int, forward: bool, limit: int) -> None:
        if pk == "":
            return
        lo, hi = sorted((Decimal(low), Decimal(high)))
        expected = sorted((k[1], item) for k, item in self.items.items() if k[0] == pk and lo <= k[1] <= hi)
        expected_items = [item for _, item in (expected if forward else expected[::-1])]
        pages: list[dict[str, Any]] = []
        start = None
        for _ in range(100):
            request: dict[str, Any] = {
                "TableName": "model", "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {":p": {"S": pk}, ":lo": {"N": n(lo)}, ":hi": {"N": n(hi)}},
                "ScanIndexForward": forward, "Limit": limit}
            if start:
                request["ExclusiveStartKey"] = start
            got = self.service.call("Query", request)
            pages += got["Items"]
            start = got.get("LastEvaluatedKey")
            if not start:
                break
        assert pages == expected_items

    @rule(g=st.sampled_from(["red", "blue"]))
    def query_index(self, g: str) -> None:
        got = self.service.call("Query", {"TableName": "model", "IndexName": "by-g",
                                          "KeyConditionExpression": "g = :g",
                                          "ExpressionAttributeValues": {":g": {"S": g}}})
        expected = sorted(((k[1], k[0]), item) for k, item in self.items.items() if item.get("g") == {"S": g})
        assert got["Items"] == [item for _, item in expected]      # by sort key, then the table's key

    @invariant()
    def counted(self) -> None:
        if hasattr(self, "service"):
            assert self.service.call("Scan", {"TableName": "model", "Select": "COUNT"})["Count"] == len(self.items)


TableModel.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None,
                                        suppress_health_check=list(HealthCheck))
test_the_table_service_agrees_with_a_plain_model = TableModel.TestCase
