"""DynamoDB's legacy conditional parameters (``tables/legacy.py``) on a real table service and store:
each one gives what its expression counterpart gives (DynamoDB developer guide, "Legacy conditional
parameters"), generated filters included."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.errors import ValidationException
from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.tables.service import TableService
from cumulo.tables.values import ConditionalCheckFailed

T = "legacy"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TableService]:
    store = SQLiteMessageStore(tmp_path_factory.mktemp("legacy") / "q.db")
    svc = TableService(store.tables, store.streams, "us-east-1", "123456789012")
    svc.call("CreateTable", {"TableName": T, "BillingMode": "PAY_PER_REQUEST",
                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "N"}]})
    for pk in ("a", "b"):
        for n in range(8):
            item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"N": str(n)}, "n": {"N": str(n % 4)},
                                    "s": {"S": "xyz"[n % 3] * (n % 3 + 1)}}
            if n % 2:
                item["tags"] = {"SS": ["t" + str(n % 3), "all"]}
            svc.call("PutItem", {"TableName": T, "Item": item})
    yield svc
    store.close()


def keys(answer: dict[str, Any]) -> list[tuple[str, int]]:
    return [(i["pk"]["S"], int(i["sk"]["N"])) for i in answer["Items"]]


VALS = {"n": [{"N": str(i)} for i in range(4)], "s": [{"S": v} for v in ("x", "yy", "zzz", "y", "")],
        "tags": [{"S": "t1"}, {"S": "all"}, {"S": "t0"}]}
ATTR = st.sampled_from(sorted(VALS))


@st.composite
def legacy_condition(draw: Any) -> tuple[str, dict[str, Any], str]:
    """A (name, legacy Condition, equivalent expression text with :v<i> values) triple."""
    name = draw(ATTR)
    op = draw(st.sampled_from(["EQ", "NE", "LE", "LT", "GE", "GT", "NOT_NULL", "NULL", "CONTAINS", "NOT_CONTAINS",
                               "BEGINS_WITH", "IN", "BETWEEN"]))
    pick = st.sampled_from(VALS[name])
    if op in ("NOT_NULL", "NULL"):
        values: list[Any] = []
    elif op == "IN":
        values = draw(st.lists(pick, min_size=1, max_size=3))
    elif op == "BETWEEN":
        values = draw(st.lists(pick, min_size=2, max_size=2))      # upside down: refused by both
    else:
        values = [draw(pick)]
    if op in ("BEGINS_WITH",) and "N" in values[0]:
        op = "EQ"
    return name, {"ComparisonOperator": op, "AttributeValueList": values}, op


EXPRESSION = {"EQ": "#a = :v0", "NE": "#a <> :v0", "LE": "#a <= :v0", "LT": "#a < :v0", "GE": "#a >= :v0",
              "GT": "#a > :v0", "NOT_NULL": "attribute_exists(#a)", "NULL": "attribute_not_exists(#a)",
              "CONTAINS": "contains(#a, :v0)", "NOT_CONTAINS": "attribute_exists(#a) AND NOT contains(#a, :v0)",
              "BEGINS_WITH": "begins_with(#a, :v0)", "BETWEEN": "#a BETWEEN :v0 AND :v1"}


@given(legacy_condition())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_scan_filter_selects_what_its_filter_expression_selects(service: TableService,
                                                                  case: tuple[str, dict[str, Any], str]) -> None:
    name, condition, op = case
    values = condition["AttributeValueList"]
    text = f"#a IN ({', '.join(f':v{i}' for i in range(len(values)))})" if op == "IN" else EXPRESSION[op]
    request: dict[str, Any] = {"TableName": T, "FilterExpression": text, "ExpressionAttributeNames": {"#a": name}}
    if values:
        request["ExpressionAttributeValues"] = {f":v{i}": v for i, v in enumerate(values)}
    try:
        expected = sorted(keys(service.call("Scan", request)))
    except ValidationException:
        with pytest.raises(ValidationException):
            service.call("Scan", {"TableName": T, "ScanFilter": {name: condition}})
        return
    assert sorted(keys(service.call("Scan", {"TableName": T, "ScanFilter": {name: condition}}))) == expected


def test_query_with_key_conditions_query_filter_and_attributes_to_get(service: TableService) -> None:
    out = service.call("Query", {"TableName": T, "KeyConditions": {
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "6"}]}},
        "QueryFilter": {"n": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "2"}]},
                        "tags": {"ComparisonOperator": "NOT_NULL"}}, "ConditionalOperator": "OR",
        "AttributesToGet": ["sk"], "ScanIndexForward": False})
    assert out["Items"] == [{"sk": {"N": str(n)}} for n in (6, 5, 3, 2)]
    with pytest.raises(ValidationException, match="Query condition missed key schema element: pk"):
        service.call("Query", {"TableName": T, "KeyConditions": {
            "sk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}}})
    with pytest.raises(ValidationException, match="Invalid number of argument\\(s\\) for the EQ ComparisonOperator"):
        service.call("Query", {"TableName": T, "KeyConditions": {"pk": {"ComparisonOperator": "EQ"}}})
    with pytest.raises(ValidationException, match="QueryFilter can only contain non-primary key attributes"):
        service.call("Query", {"TableName": T, "KeyConditions": {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}},
            "QueryFilter": {"sk": {"ComparisonOperator": "NOT_NULL"}}})
    with pytest.raises(ValidationException, match="Can not use both expression and non-expression parameters"):
        service.call("Query", {"TableName": T, "KeyConditionExpression": "pk = :p", "QueryFilter": {
            "n": {"ComparisonOperator": "NULL"}}, "ExpressionAttributeValues": {":p": {"S": "a"}}})


def test_expected_and_attribute_updates(service: TableService) -> None:
    key = {"pk": {"S": "w"}, "sk": {"N": "1"}}
    service.call("PutItem", {"TableName": T, "Item": {**key, "v": {"N": "1"}},
                             "Expected": {"pk": {"Exists": False}}})
    with pytest.raises(ConditionalCheckFailed):
        service.call("PutItem", {"TableName": T, "Item": key, "Expected": {"pk": {"Exists": False}}})
    with pytest.raises(ConditionalCheckFailed):
        service.call("UpdateItem", {"TableName": T, "Key": key, "Expected": {
            "v": {"Value": {"N": "2"}}, "gone": {"ComparisonOperator": "NOT_NULL"}}, "ConditionalOperator": "OR",
            "AttributeUpdates": {"v": {"Action": "PUT", "Value": {"N": "9"}}}})
    out = service.call("UpdateItem", {"TableName": T, "Key": key, "Expected": {"v": {"Value": {"N": "1"}}},
                                      "AttributeUpdates": {"v": {"Action": "ADD", "Value": {"N": "5"}},
                                                           "s": {"Action": "ADD", "Value": {"SS": ["p", "q"]}},
                                                           "l": {"Action": "ADD", "Value": {"L": [{"N": "1"}]}},
                                                           "name": {"Value": {"S": "x"}}},
                                      "ReturnValues": "ALL_NEW"})["Attributes"]
    assert out == {**key, "v": {"N": "6"}, "s": {"SS": ["p", "q"]}, "l": {"L": [{"N": "1"}]}, "name": {"S": "x"}}
    out = service.call("UpdateItem", {"TableName": T, "Key": key, "AttributeUpdates": {
        "s": {"Action": "DELETE", "Value": {"SS": ["p"]}}, "name": {"Action": "DELETE"},
        "l": {"Action": "ADD", "Value": {"L": [{"N": "2"}]}}}, "ReturnValues": "ALL_NEW"})["Attributes"]
    assert out == {**key, "v": {"N": "6"}, "s": {"SS": ["q"]}, "l": {"L": [{"N": "1"}, {"N": "2"}]}}
    with pytest.raises(ValidationException, match="This attribute is part of the key"):
        service.call("UpdateItem", {"TableName": T, "Key": key, "AttributeUpdates": {
            "sk": {"Action": "PUT", "Value": {"N": "3"}}}})
    with pytest.raises(ValidationException, match="Non-expression parameters: \\{Expected\\}"):
        service.call("DeleteItem", {"TableName": T, "Key": key, "Expected": {"v": {"Exists": False}},
                                    "ConditionExpression": "attribute_exists(v)"})
    with pytest.raises(ConditionalCheckFailed):
        service.call("DeleteItem", {"TableName": T, "Key": key, "Expected": {"v": {
            "ComparisonOperator": "GT", "AttributeValueList": [{"N": "6"}]}}})
    service.call("DeleteItem", {"TableName": T, "Key": key, "Expected": {"v": {
        "ComparisonOperator": "LE", "AttributeValueList": [{"N": "6"}]}}})
    assert "Item" not in service.call("GetItem", {"TableName": T, "Key": key})
