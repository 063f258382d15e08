"""Tables through ``cumulo up``: boto3's ``dynamodb`` client and ``Table`` resource (with
``boto3.dynamodb.conditions``), ``dynamodbstreams``, and the AWS CLI, unchanged, against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_async import drain
from tests.integration.test_server import CumuloServer, unique
from tests.integration.test_stepfunctions import states_role

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("dynamodb") / "home", store=new_store())
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def ddb(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.aws("dynamodb")
    yield client
    client.close()


@pytest.fixture(scope="module")
def resource(server: CumuloServer) -> Any:
    return boto3.session.Session().resource("dynamodb", endpoint_url=server.endpoint, region_name="us-east-1",
                                            aws_access_key_id=server.key_id, aws_secret_access_key=server.secret)


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def orders_table(ddb: BaseClient, **extra: Any) -> str:
    name = unique("orders")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                                {"AttributeName": "order", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                                           {"AttributeName": "order", "AttributeType": "N"},
                                           *extra.pop("defs", [])], **extra)
    return name


def test_tables_are_created_described_listed_and_deleted_as_aws_reports_them(ddb: BaseClient) -> None:
    name = unique("tbl")
    made = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
                            Tags=[{"Key": "team", "Value": "a"}])["TableDescription"]
    assert made["TableStatus"] == "CREATING"
    assert made["TableArn"] == f"arn:aws:dynamodb:us-east-1:{made['TableArn'].split(':')[4]}:table/{name}"
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE" and table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert name in ddb.list_tables()["TableNames"]
    assert ddb.list_tags_of_resource(ResourceArn=made["TableArn"])["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as err:
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    assert code(err) == ("ResourceInUseException", f"Table already exists: {name}")
    assert ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    with pytest.raises(ClientError) as err:
        ddb.describe_table(TableName=name)
    assert code(err) == ("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")
    with pytest.raises(ClientError) as err:
        ddb.create_table(TableName=unique("t"), KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                               {"AttributeName": "other", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    assert code(err) == ("ValidationException", "One or more parameter values were invalid: Number of attributes in "
                         "KeySchema does not exactly match number of attributes defined in AttributeDefinitions")


def test_items_with_the_resource_conditions_updates_and_return_values(ddb: BaseClient, resource: Any) -> None:
    table = resource.Table(orders_table(ddb))
    table.put_item(Item={"customer": "ann", "order": 1, "amt": Decimal("19.99"), "tags": {"new"},
                         "parts": [{"sku": "a", "n": 2}], "paid": False, "note": None, "blob": b"\x00\x01"})
    got = table.get_item(Key={"customer": "ann", "order": 1})["Item"]
    assert got == {"customer": "ann", "order": 1, "amt": Decimal("19.99"), "tags": {"new"},
                   "parts": [{"sku": "a", "n": 2}], "paid": False, "note": None, "blob": got["blob"]}
    assert bytes(got["blob"].value) == b"\x00\x01"
    assert table.get_item(Key={"customer": "ann", "order": 1}, ProjectionExpression="parts[0].sku, #t",
                          ExpressionAttributeNames={"#t": "amt"})["Item"] == {
        "parts": [{"sku": "a"}], "amt": Decimal("19.99")}
    new = table.update_item(
        Key={"customer": "ann", "order": 1},
        UpdateExpression="SET amt = amt + :d, visits = if_not_exists(visits, :zero) + :one, "
                         "parts = list_append(parts, :more) REMOVE note ADD tags :t",
        ConditionExpression=Attr("paid").eq(False) & Attr("amt").between(Decimal(10), Decimal(20)),
        ExpressionAttributeValues={":d": Decimal("0.01"), ":zero": 0, ":one": 1, ":more": [{"sku": "b"}],
                                   ":t": {"vip"}}, ReturnValues="UPDATED_NEW")["Attributes"]
    assert new == {"amt": Decimal("20"), "visits": 1, "parts": [{"sku": "a", "n": 2}, {"sku": "b"}],
                   "tags": {"new", "vip"}}
    with pytest.raises(ClientError) as err:
        table.put_item(Item={"customer": "ann", "order": 1}, ConditionExpression=Attr("customer").not_exists(),
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert code(err) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert err.value.response["Item"]["visits"] == {"N": "1"}
    old = table.delete_item(Key={"customer": "ann", "order": 1}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["amt"] == Decimal("20")
    assert "Item" not in table.get_item(Key={"customer": "ann", "order": 1})


def test_numbers_keep_38_digits_and_bad_items_get_dynamodbs_errors(ddb: BaseClient, resource: Any) -> None:
    name = orders_table(ddb)
    big = "12345678901234567890.123456789012345678"
    ddb.put_item(TableName=name, Item={"customer": {"S": "n"}, "order": {"N": "1"}, "x": {"N": big}})
    ddb.update_item(TableName=name, Key={"customer": {"S": "n"}, "order": {"N": "1"}},
                    UpdateExpression="SET x = x + :tiny", ExpressionAttributeValues={":tiny": {"N": "0.000000000000000002"}})
    got = ddb.get_item(TableName=name, Key={"customer": {"S": "n"}, "order": {"N": "1"}})["Item"]
    assert got["x"] == {"N": "12345678901234567890.12345678901234568"}
    cases = [
        ({"customer": {"S": "n"}, "order": {"S": "1"}},
         "One or more parameter values were invalid: Type mismatch for key order expected: N actual: S"),
        ({"customer": {"S": "n"}}, "One or more parameter values were invalid: Missing the key order in the item"),
        ({"customer": {"S": "n"}, "order": {"N": "1" * 39}},
         "Attempting to store more than 38 significant digits in a Number"),
        ({"customer": {"S": "n"}, "order": {"N": "1"}, "big": {"S": "x" * 410_000}},
         "Item size has exceeded the maximum allowed size"),
        ({"customer": {"S": ""}, "order": {"N": "1"}}, "One or more parameter values are not valid. The "
         "AttributeValue for a key attribute cannot contain an empty string value. Key: customer"),
    ]
    for item, message in cases:
        with pytest.raises(ClientError) as err:
            ddb.put_item(TableName=name, Item=item)
        assert code(err) == ("ValidationException", message)
    with pytest.raises(ClientError) as err:
        ddb.get_item(TableName=name, Key={"customer": {"S": "n"}})
    assert code(err) == ("ValidationException", "The provided key element does not match the schema")
    with pytest.raises(ClientError) as err:
        ddb.update_item(TableName=name, Key={"customer": {"S": "n"}, "order": {"N": "1"}},
                        UpdateExpression="SET size = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    assert code(err) == ("ValidationException", "Invalid UpdateExpression: Attribute name is a reserved keyword; "
                         "reserved keyword: size")
    with pytest.raises(ClientError) as err:
        ddb.get_item(TableName="missing-table", Key={"customer": {"S": "n"}, "order": {"N": "1"}})
    assert code(err)[0] == "ResourceNotFoundException"


def test_query_pages_and_filters_on_the_table_and_its_indexes(ddb: BaseClient, resource: Any) -> None:
    name = orders_table(
        ddb, defs=[{"AttributeName": "status", "AttributeType": "S"}, {"AttributeName": "placed", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-status", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                               {"AttributeName": "placed", "KeyType": "RANGE"}]}],
        LocalSecondaryIndexes=[{"IndexName": "by-placed", "Projection": {"ProjectionType": "ALL"},
                                "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"},
                                              {"AttributeName": "placed", "KeyType": "RANGE"}]}])
    table = resource.Table(name)
    with table.batch_writer() as batch:
        for i in range(30):
            item = {"customer": "bob" if i % 3 else "cy", "order": i, "placed": f"2024-01-{i:02d}", "amount": i * 10}
            if i % 2 == 0:
                item["status"] = "open"
            batch.put_item(Item=item)
    got = table.query(KeyConditionExpression=Key("customer").eq("bob") & Key("order").between(4, 11),
                      ScanIndexForward=False)["Items"]
    assert [i["order"] for i in got] == [11, 10, 8, 7, 5, 4]
    pages, start = [], None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        page = table.query(KeyConditionExpression=Key("customer").eq("bob"), Limit=7,
                           FilterExpression=Attr("amount").gte(100), **kwargs)
        pages.append([i["order"] for i in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert [o for p in pages for o in p] == [o for o in range(10, 30) if o % 3]
    assert table.query(KeyConditionExpression=Key("customer").eq("bob"), Select="COUNT")["Count"] == 20
    by_status = table.query(IndexName="by-status", KeyConditionExpression=Key("status").eq("open") &
                            Key("placed").begins_with("2024-01-1"))["Items"]
    assert [i["order"] for i in by_status] == [10, 12, 14, 16, 18]
    assert set(by_status[0]) == {"customer", "order", "status", "placed"}          # KEYS_ONLY
    by_placed = table.query(IndexName="by-placed", KeyConditionExpression=Key("customer").eq("cy") &
                            Key("placed").gt("2024-01-20"))["Items"]
    assert [i["order"] for i in by_placed] == [21, 24, 27] and by_placed[0]["amount"] == 210
    with pytest.raises(ClientError) as err:
        table.query(KeyConditionExpression=Key("order").eq(1))
    assert code(err) == ("ValidationException", "Query condition missed key schema element: customer")
    with pytest.raises(ClientError) as err:
        table.query(IndexName="nope", KeyConditionExpression=Key("customer").eq("x"))
    assert code(err) == ("ValidationException", "The table does not have the specified index: nope")
    seen = []
    for segment in range(3):
        seen += [i["order"] for i in table.scan(Segment=segment, TotalSegments=3)["Items"]]
    assert sorted(seen) == list(range(30))
    assert table.scan(FilterExpression=Attr("status").exists() & Attr("amount").lt(50))["Count"] == 3


def test_a_gsi_added_later_holds_the_items_already_there(ddb: BaseClient, resource: Any) -> None:
    name = orders_table(ddb)
    table = resource.Table(name)
    table.put_item(Item={"customer": "d", "order": 1, "email": "d@x"})
    table.put_item(Item={"customer": "e", "order": 1})
    ddb.update_table(TableName=name, AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by-email", "Projection": {
                         "ProjectionType": "ALL"}, "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}]}}])
    assert table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("d@x"))["Items"][0]["customer"] == "d"
    assert table.scan(IndexName="by-email")["Count"] == 1                # sparse


def test_batches_and_their_limits(ddb: BaseClient) -> None:
    name = orders_table(ddb)
    puts = [{"PutRequest": {"Item": {"customer": {"S": "f"}, "order": {"N": str(i)}}}} for i in range(25)]
    assert ddb.batch_write_item(RequestItems={name: puts})["UnprocessedItems"] == {}
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [{"customer": {"S": "f"}, "order": {"N": str(i)}}
                                                           for i in range(0, 30, 3)]}})
    assert sorted(int(i["order"]["N"]) for i in got["Responses"][name]) == list(range(0, 25, 3))
    assert got["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as err:
        ddb.batch_write_item(RequestItems={name: puts + puts[:1]})
    assert code(err) == ("ValidationException", "Too many items requested for the BatchWriteItem call")
    with pytest.raises(ClientError) as err:
        ddb.batch_get_item(RequestItems={name: {"Keys": [{"customer": {"S": "f"}, "order": {"N": str(i)}}
                                                         for i in range(101)]}})
    assert code(err)[0] == "ValidationException"
    with pytest.raises(ClientError) as err:
        ddb.batch_write_item(RequestItems={name: puts[:2] + puts[:1]})
    assert code(err) == ("ValidationException", "Provided list of item keys contains duplicates")


def test_transactions_are_all_or_nothing(ddb: BaseClient) -> None:
    name = orders_table(ddb)
    key = {"customer": {"S": "g"}, "order": {"N": "1"}}
    ddb.put_item(TableName=name, Item={**key, "stock": {"N": "1"}})
    take = {"Update": {"TableName": name, "Key": key, "UpdateExpression": "SET stock = stock - :one",
                       "ConditionExpression": "stock >= :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    record = {"Put": {"TableName": name, "Item": {"customer": {"S": "g"}, "order": {"N": "2"}}}}
    ddb.transact_write_items(TransactItems=[take, record], ClientRequestToken="tok-1")
    ddb.transact_write_items(TransactItems=[take, record], ClientRequestToken="tok-1")     # idempotent: once
    assert ddb.get_item(TableName=name, Key=key)["Item"]["stock"] == {"N": "0"}
    other = {"Put": {"TableName": name, "Item": {"customer": {"S": "g"}, "order": {"N": "3"}}}}
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[other, take])
    assert code(err)[0] == "TransactionCanceledException"
    assert err.value.response["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}]
    assert "Item" not in ddb.get_item(TableName=name, Key={"customer": {"S": "g"}, "order": {"N": "3"}})
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[record] * 101)
    assert code(err)[0] == "ValidationException"
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[record, record])
    assert code(err) == ("ValidationException", "Transaction request cannot include multiple operations on one item")
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": key}},
                                                {"Get": {"TableName": name, "Key": {**key, "order": {"N": "9"}}}}])
    assert got["Responses"] == [{"Item": {**key, "stock": {"N": "0"}}}, {}]


def test_partiql_statements_with_the_client_and_the_resource(ddb: BaseClient, resource: Any) -> None:
    name = orders_table(ddb)
    client = resource.meta.client                  # the resource's own client: its values are Python values
    for n in range(1, 8):
        client.execute_statement(Statement=f'INSERT INTO "{name}" VALUE {{\'customer\': ?, \'order\': ?, '
                                           f"'amt': ?, 'tags': <<'a', 'b'>>, 'ship': {{'city': 'Oslo', 'legs': [1, 2]}}}}",
                                 Parameters=["ann" if n < 5 else "bob", n, Decimal(n) * Decimal("1.5")])
    with pytest.raises(ClientError) as err:
        ddb.execute_statement(Statement=f"INSERT INTO \"{name}\" VALUE {{'customer': 'ann', 'order': 1}}")
    assert code(err) == ("DuplicateItemException", "Duplicate primary key exists in table")
    got = client.execute_statement(Statement=f'SELECT "order", amt FROM "{name}" WHERE customer = ? AND "order" '
                                             f"BETWEEN 2 AND 3 AND ship.city = 'Oslo' AND contains(tags, 'b')",
                                   Parameters=["ann"])["Items"]
    assert got == [{"order": 2, "amt": Decimal("3")}, {"order": 3, "amt": Decimal("4.5")}]
    pages, token = [], None
    while True:
        page = ddb.execute_statement(Statement=f'SELECT * FROM "{name}" WHERE customer IN [\'bob\', \'ann\'] '
                                               f'ORDER BY "order" DESC', Limit=2, **({"NextToken": token} if token
                                                                                   else {}))
        pages.append([(i["customer"]["S"], int(i["order"]["N"])) for i in page["Items"]])
        token = page.get("NextToken")
        if token is None:
            break
    assert [x for p in pages for x in p] == [("bob", 7), ("bob", 6), ("bob", 5), ("ann", 4), ("ann", 3), ("ann", 2),
                                             ("ann", 1)]
    assert all(len(p) <= 2 for p in pages)
    scanned, token = [], None                      # no partition key: a scan, paged all the same
    for _ in range(10):
        page = ddb.execute_statement(Statement=f'SELECT * FROM "{name}" WHERE size(ship.legs) = 2 AND amt > 3',
                                     Limit=3, **({"NextToken": token} if token else {}))
        scanned += [int(i["order"]["N"]) for i in page["Items"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert sorted(scanned) == [3, 4, 5, 6, 7]
    new = client.execute_statement(Statement=f'UPDATE "{name}" SET amt = amt + 1 SET ship.city = \'Bergen\' '
                                              f"REMOVE tags WHERE customer = 'ann' AND \"order\" = 1 "
                                              f"RETURNING ALL NEW *")["Items"]
    assert new == [{"customer": "ann", "order": 1, "amt": Decimal("2.5"), "ship": {"city": "Bergen", "legs": [1, 2]}}]
    assert resource.Table(name).get_item(Key={"customer": "ann", "order": 1})["Item"]["ship"]["city"] == "Bergen"
    with pytest.raises(ClientError) as err:
        ddb.execute_statement(Statement=f"UPDATE \"{name}\" SET amt = 0 WHERE customer = 'ann' AND \"order\" = 1 "
                                        f"AND amt > 100", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert code(err) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert err.value.response["Item"]["amt"] == {"N": "2.5"}
    for statement, message in [
        (f"UPDATE \"{name}\" SET amt = 0 WHERE customer = 'ann'",
         "Where clause does not contain a mandatory equality on all key attributes"),
        (f"SELECT * FROM \"{name}\" WHERE", "Statement wasn't well formed, can't be processed: Unexpected end of "
                                               "statement"),
        (f"DELETE \"{name}\" WHERE customer = 'ann'", "Statement wasn't well formed, can't be processed: Unexpected "
                                                       "token"),
        ("UPSERT INTO t VALUE {'a': 1}", "Statement wasn't well formed, can't be processed: Expected data manipulation"),
    ]:
        with pytest.raises(ClientError) as err:
            ddb.execute_statement(Statement=statement)
        assert code(err) == ("ValidationException", message)
    with pytest.raises(ClientError) as err:
        ddb.execute_statement(Statement='SELECT * FROM "no-such-table"')
    assert code(err)[0] == "ResourceNotFoundException"
    assert ddb.execute_statement(Statement=f"DELETE FROM \"{name}\" WHERE customer = 'ann' AND \"order\" = 1 "
                                           f"RETURNING ALL OLD *")["Items"][0]["amt"] == {"N": "2.5"}


def test_partiql_batches_and_transactions(ddb: BaseClient) -> None:
    name = orders_table(ddb)
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": f"INSERT INTO \"{name}\" VALUE {{'customer': 'c', 'order': {n}}}"} for n in (1, 2, 1)]
        + [{"Statement": f"INSERT INTO \"{name}\" VALUE {{'customer': ?, 'order': 3}}", "Parameters": [{"N": "1"}]}]
    )["Responses"]
    assert out[:2] == [{"TableName": name}, {"TableName": name}]
    assert out[2]["Error"]["Code"] == "DuplicateItem"
    assert out[3]["Error"]["Code"] == "ValidationError"
    reads = ddb.batch_execute_statement(Statements=[
        {"Statement": f"SELECT * FROM \"{name}\" WHERE customer = 'c' AND \"order\" = {n}"} for n in (2, 9)])
    assert reads["Responses"] == [{"TableName": name, "Item": {"customer": {"S": "c"}, "order": {"N": "2"}}},
                                  {"TableName": name}]
    with pytest.raises(ClientError) as err:
        ddb.batch_execute_statement(Statements=[{"Statement": f'SELECT * FROM "{name}"'}] * 26)
    assert code(err)[0] == "ValidationException"
    ddb.execute_statement(Statement=f"INSERT INTO \"{name}\" VALUE {{'customer': 'c', 'order': 4}}")
    with pytest.raises(ClientError) as err:
        ddb.execute_transaction(TransactStatements=[
            {"Statement": f"UPDATE \"{name}\" SET paid = TRUE WHERE customer = 'c' AND \"order\" = 1"},
            {"Statement": f"EXISTS(SELECT * FROM \"{name}\" WHERE customer = 'c' AND \"order\" = 2 AND paid = TRUE)"},
            {"Statement": f"INSERT INTO \"{name}\" VALUE {{'customer': 'c', 'order': 4}}"}])
    assert code(err)[0] == "TransactionCanceledException"
    assert [r["Code"] for r in err.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed",
                                                                              "DuplicateItem"]
    one = {"customer": {"S": "c"}, "order": {"N": "1"}}
    assert "paid" not in ddb.get_item(TableName=name, Key=one)["Item"]        # all or nothing
    token = unique("partiql-token")
    for _ in range(2):               # the same token again: done once (its INSERT would fail now), answered again
        ddb.execute_transaction(ClientRequestToken=token, TransactStatements=[
            {"Statement": f"UPDATE \"{name}\" SET paid = TRUE WHERE customer = 'c' AND \"order\" = 1"},
            {"Statement": f"INSERT INTO \"{name}\" VALUE {{'customer': 'c', 'order': 5}}"},
            {"Statement": f"DELETE FROM \"{name}\" WHERE customer = 'c' AND \"order\" = 2"}])
    assert ddb.get_item(TableName=name, Key=one)["Item"]["paid"] == {"BOOL": True}
    got = ddb.execute_transaction(TransactStatements=[
        {"Statement": f"SELECT paid FROM \"{name}\" WHERE customer = 'c' AND \"order\" = {n}"} for n in (1, 2)])
    assert got["Responses"] == [{"Item": {"paid": {"BOOL": True}}}, {}]
    with pytest.raises(ClientError) as err:
        ddb.execute_transaction(TransactStatements=[{"Statement": f'SELECT * FROM "{name}"'}] * 101)
    assert code(err)[0] == "ValidationException"


def test_legacy_parameters_with_the_client_and_the_resource(ddb: BaseClient, resource: Any) -> None:
    table = resource.Table(orders_table(ddb))
    for n in range(1, 6):
        table.put_item(Item={"customer": "ann", "order": n, "amt": n * 10}, Expected={"order": {"Exists": False}})
    with pytest.raises(ClientError) as err:
        table.put_item(Item={"customer": "ann", "order": 1}, Expected={"order": {"Exists": False}})
    assert code(err) == ("ConditionalCheckFailedException", "The conditional request failed")
    got = table.query(KeyConditions={"customer": {"AttributeValueList": ["ann"], "ComparisonOperator": "EQ"},
                                     "order": {"AttributeValueList": [2], "ComparisonOperator": "GT"}},
                      QueryFilter={"amt": {"AttributeValueList": [40], "ComparisonOperator": "LE"}},
                      AttributesToGet=["order"])
    assert got["Items"] == [{"order": 3}, {"order": 4}] and got["ScannedCount"] == 3
    scanned = table.scan(ScanFilter={"amt": {"AttributeValueList": [20, 50], "ComparisonOperator": "IN"},
                                     "order": {"AttributeValueList": [5], "ComparisonOperator": "EQ"}},
                         ConditionalOperator="OR")["Items"]
    assert sorted(i["order"] for i in scanned) == [2, 5]
    new = ddb.update_item(TableName=table.name, Key={"customer": {"S": "ann"}, "order": {"N": "1"}},
                          AttributeUpdates={"amt": {"Action": "ADD", "Value": {"N": "5"}},
                                            "tags": {"Action": "PUT", "Value": {"SS": ["a"]}}},
                          Expected={"amt": {"ComparisonOperator": "BETWEEN",
                                            "AttributeValueList": [{"N": "0"}, {"N": "10"}]}},
                          ReturnValues="UPDATED_NEW")["Attributes"]
    assert new == {"amt": {"N": "15"}, "tags": {"SS": ["a"]}}
    with pytest.raises(ClientError) as err:
        ddb.query(TableName=table.name, KeyConditionExpression="customer = :c", ExpressionAttributeValues={
            ":c": {"S": "ann"}}, QueryFilter={"amt": {"ComparisonOperator": "NULL"}})
    assert code(err) == ("ValidationException", "Can not use both expression and non-expression parameters in the same "
                         "request: Non-expression parameters: {QueryFilter} Expression parameters: "
                         "{KeyConditionExpression}")
    with pytest.raises(ClientError) as err:
        ddb.scan(TableName=table.name, ScanFilter={"amt": {"ComparisonOperator": "EQ", "AttributeValueList": []}})
    assert code(err) == ("ValidationException", "One or more parameter values were invalid: Invalid number of "
                         "argument(s) for the EQ ComparisonOperator")


def test_backups_restore_and_point_in_time_recovery_settings(ddb: BaseClient, resource: Any) -> None:
    table = resource.Table(orders_table(ddb))
    with table.batch_writer() as batch:
        for n in range(40):
            batch.put_item(Item={"customer": f"c{n % 4}", "order": n, "amt": Decimal(n)})
    arn = ddb.create_backup(TableName=table.name, BackupName="before-migration")["BackupDetails"]["BackupArn"]
    table.delete_item(Key={"customer": "c0", "order": 0})
    assert ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    assert arn in [b["BackupArn"] for b in ddb.list_backups(TableName=table.name)["BackupSummaries"]]
    target = unique("restored")
    ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn)
    ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 0.1})
    assert resource.Table(target).get_item(Key={"customer": "c0", "order": 0})["Item"]["amt"] == 0
    assert resource.Table(target).query(KeyConditionExpression=Key("customer").eq("c1"))["Count"] == 10
    with pytest.raises(ClientError) as err:
        ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn)
    assert code(err) == ("TableAlreadyExistsException", f"Table already exists: {target}")
    ddb.delete_backup(BackupArn=arn)
    with pytest.raises(ClientError) as err:
        ddb.describe_backup(BackupArn=arn)
    assert code(err)[0] == "BackupNotFoundException"
    pitr = ddb.update_continuous_backups(TableName=table.name, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert ddb.describe_continuous_backups(TableName=table.name)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    with pytest.raises(ClientError) as err:
        ddb.describe_continuous_backups(TableName=unique("missing"))
    assert code(err)[0] == "TableNotFoundException"


def test_a_table_is_restored_to_a_point_in_time(ddb: BaseClient, resource: Any) -> None:
    """Write, note the time, write more, restore to the noted time: the restored table is the table as it was."""
    name = orders_table(ddb)
    table = resource.Table(name)
    with pytest.raises(ClientError) as err:
        ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=unique("t"),
                                           UseLatestRestorableTime=True)
    assert code(err)[0] == "PointInTimeRecoveryUnavailableException"
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    with table.batch_writer() as batch:
        for n in range(20):
            batch.put_item(Item={"customer": f"c{n % 2}", "order": n, "amt": Decimal(n)})
    time.sleep(0.05)
    noted = datetime.now(timezone.utc)
    then = sorted(table.scan()["Items"], key=lambda i: (i["customer"], i["order"]))
    time.sleep(0.05)
    table.update_item(Key={"customer": "c0", "order": 0}, UpdateExpression="SET amt = amt + :one",
                      ExpressionAttributeValues={":one": 1})
    table.delete_item(Key={"customer": "c1", "order": 1})
    table.put_item(Item={"customer": "c9", "order": 99})
    window = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]
    assert window["EarliestRestorableDateTime"] <= noted <= window["LatestRestorableDateTime"]
    target = unique("then")
    made = ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=target, RestoreDateTime=noted)
    assert made["TableDescription"]["RestoreSummary"]["SourceTableArn"].endswith(f":table/{name}")
    ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 0.1})
    assert sorted(resource.Table(target).scan()["Items"], key=lambda i: (i["customer"], i["order"])) == then
    latest = unique("latest")
    ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=latest, UseLatestRestorableTime=True)
    assert resource.Table(latest).get_item(Key={"customer": "c0", "order": 0})["Item"]["amt"] == 1
    assert "Item" not in resource.Table(latest).get_item(Key={"customer": "c1", "order": 1})
    with pytest.raises(ClientError) as err:
        ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=unique("t"),
                                           RestoreDateTime=datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert code(err)[0] == "InvalidRestoreTimeException"


def test_ttl_is_described_and_streams_read_through_dynamodbstreams(server: CumuloServer, ddb: BaseClient) -> None:
    name = orders_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    assert ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})[
        "TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    key = {"customer": {"S": "h"}, "order": {"N": "1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"S": "one"}})
    ddb.put_item(TableName=name, Item={**key, "v": {"S": "one"}})        # no change: no record
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "two"}})
    ddb.delete_item(TableName=name, Key=key)
    streams = server.aws("dynamodbstreams")
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    assert streams.list_streams(TableName=name)["Streams"][0]["StreamArn"] == arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=it)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"S": "one"} and records[1]["dynamodb"]["NewImage"]["v"] == {"S": "two"}
    assert records[0]["dynamodb"]["Keys"] == key and records[0]["eventSource"] == "aws:dynamodb"
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs)
    streams.close()


def test_the_aws_cli_speaks_to_it(server: CumuloServer, ddb: BaseClient, tmp_path: Path) -> None:
    name = orders_table(ddb)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}

    def aws(*args: str) -> Any:
        out = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "dynamodb", *args], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None

    aws("put-item", "--table-name", name, "--item", '{"customer": {"S": "cli"}, "order": {"N": "1"}}')
    got = aws("query", "--table-name", name, "--key-condition-expression", "customer = :c",
              "--expression-attribute-values", '{":c": {"S": "cli"}}')
    assert got["Count"] == 1 and got["Items"][0]["order"] == {"N": "1"}


# A stream's function: writes every record it is given into an audit table (boto3 inside the
# function, against the same server), and fails on an item whose "poison" attribute is true.
AUDITOR = """
import json, os, boto3
ddb = boto3.client("dynamodb", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"])
def handler(event, context):
    for r in event["Records"]:
        new = r["dynamodb"].get("NewImage", {})
        if new.get("poison") == {"BOOL": True}:
            raise RuntimeError("poison item")
        ddb.put_item(TableName=os.environ["AUDIT"], Item={
            "seq": {"S": r["dynamodb"]["SequenceNumber"]}, "record": {"S": json.dumps(r)}})
"""


def test_a_table_change_runs_a_function_through_its_stream(server: CumuloServer, ddb: BaseClient) -> None:
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

    from tests.integration.test_server import create, zip_of
    from tests.integration.test_sqs import sqs_client

    name = orders_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    audit = unique("audit")
    ddb.create_table(TableName=audit, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "seq", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "seq", "AttributeType": "S"}])
    stream_arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    lam, sqs = server.client(), sqs_client(server)
    failures = sqs.create_queue(QueueName=unique("ddbfail"))["QueueUrl"]
    failures_arn = sqs.get_queue_attributes(QueueUrl=failures, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = unique("auditor")
    create(lam, fn, zip_of(**{"app.py": AUDITOR}), Environment={"Variables": {
        "ENDPOINT": server.endpoint, "KEY": server.key_id, "SECRET": server.secret, "AUDIT": audit}})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=10,
        MaximumRetryAttempts=1, BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    assert mapping["EventSourceArn"] == stream_arn and mapping["StartingPosition"] == "TRIM_HORIZON"
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(EventSourceArn=stream_arn + "x", FunctionName=fn,
                                        StartingPosition="LATEST")
    assert code(err)[0] == "ResourceNotFoundException"
    key = {"customer": {"S": "s"}, "order": {"N": "1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = v + :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    ddb.put_item(TableName=name, Item={"customer": {"S": "s"}, "order": {"N": "2"}, "poison": {"BOOL": True}})
    ddb.delete_item(TableName=name, Key=key)
    deadline = time.monotonic() + 30
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(items) < 3:
        items = ddb.scan(TableName=audit)["Items"]
        time.sleep(0.1)
    records = [json.loads(i["record"]["S"]) for i in sorted(items, key=lambda i: i["seq"]["S"])]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"} and records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert all(r["eventSourceARN"] == stream_arn and r["eventSource"] == "aws:dynamodb" for r in records)
    DynamoDBStreamModel.model_validate({"Records": records})
    failed = json.loads(drain(sqs, failures, 1, 30)[0]["Body"])
    info = failed["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream_arn
    assert failed["requestContext"]["condition"] == "RetryAttemptsExhausted"
    lam.close()
    sqs.close()


TABLES = ({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},)


def _run(sfn: BaseClient, definition: dict[str, Any], payload: dict[str, Any], role: str | None = None) -> dict[str, Any]:
    machine = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition),
                                       roleArn=role or states_role(sfn, TABLES))
    started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(payload))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = sfn.describe_execution(executionArn=started["executionArn"])
        if done["status"] != "RUNNING":
            return done
        time.sleep(0.05)
    raise AssertionError("the execution did not end")


def test_state_machines_call_dynamodb_directly_with_its_error_names(server: CumuloServer, ddb: BaseClient) -> None:
    name = orders_table(ddb)
    sfn = server.aws("stepfunctions")
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Parameters": {
            "TableName": name, "Item": {"customer": {"S.$": "$.who"}, "order": {"N": "1"}, "qty": {"N.$": "$.qty"}},
            "ConditionExpression": "attribute_not_exists(customer)"},
            "ResultPath": "$.put", "Next": "Get",
            "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "ResultPath": "$.error",
                       "Next": "Duplicate"}]},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem", "Parameters": {
            "TableName": name, "Key": {"customer": {"S.$": "$.who"}, "order": {"N": "1"}}},
            "ResultSelector": {"qty.$": "$.Item.qty.N"}, "End": True},
        "Duplicate": {"Type": "Pass", "Result": "duplicate", "End": True}}}
    first = _run(sfn, definition, {"who": "sfn", "qty": "3"})
    assert first["status"] == "SUCCEEDED", first
    assert json.loads(first["output"]) == {"qty": "3"}
    again = _run(sfn, definition, {"who": "sfn", "qty": "4"})
    assert again["status"] == "SUCCEEDED" and json.loads(again["output"]) == "duplicate"
    missing = _run(sfn, {"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
        "Parameters": {"TableName": "no-such-table", "Key": {"customer": {"S": "x"}, "order": {"N": "1"}}},
        "End": True}}}, {})
    assert (missing["status"], missing["error"]) == ("FAILED", "DynamoDb.ResourceNotFoundException")
    # a machine with a role of its own calls as that role: one allowed to read only cannot write
    iam = server.aws("iam")
    role = iam.create_role(RoleName=unique("reader"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}))
    denied = _run(sfn, definition, {"who": "role", "qty": "1"}, role=role)
    assert (denied["status"], denied["error"]) == ("FAILED", "DynamoDB.AmazonDynamoDBException")
    assert "is not authorized to perform: dynamodb:PutItem" in denied["cause"]
    assert "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: AccessDeniedException;" in denied["cause"]
    sfn.close()
    iam.close()


BODY_AUDITOR = """
import os, boto3
ddb = boto3.client("dynamodb", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"])
def handler(event, context):
    for r in event["Records"]:
        ddb.put_item(TableName=os.environ["AUDIT"], Item={"seq": {"S": r["body"]}})
"""


def test_mapping_filter_criteria_pass_only_matching_records(server: CumuloServer, ddb: BaseClient) -> None:
    from tests.integration.test_server import create, zip_of
    from tests.integration.test_sqs import sqs_client

    lam, sqs = server.client(), sqs_client(server)
    audit = unique("faudit")
    ddb.create_table(TableName=audit, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "seq", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "seq", "AttributeType": "S"}])
    env = {"Variables": {"ENDPOINT": server.endpoint, "KEY": server.key_id, "SECRET": server.secret, "AUDIT": audit}}
    # a table's stream: only INSERTs of big orders
    name = orders_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    stream_fn = unique("fstream")
    create(lam, stream_fn, zip_of(**{"app.py": AUDITOR}), Environment=env)
    lam.create_event_source_mapping(
        EventSourceArn=ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"], FunctionName=stream_fn,
        StartingPosition="TRIM_HORIZON", FilterCriteria={"Filters": [{"Pattern": json.dumps(
            {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"size": {"S": ["big"]}}}})}]})
    for i, total in enumerate([50, 150, 250]):
        ddb.put_item(TableName=name, Item={"customer": {"S": "f"}, "order": {"N": str(i)}, "total": {"N": str(total)},
                                           "size": {"S": "big" if total > 100 else "small"}})
    ddb.update_item(TableName=name, Key={"customer": {"S": "f"}, "order": {"N": "2"}}, UpdateExpression="SET #t = :t", ExpressionAttributeNames={"#t": "total"},
                    ExpressionAttributeValues={":t": {"N": "999"}})
    # a queue: only JSON bodies of type "order"
    queue = sqs.create_queue(QueueName=unique("fq"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_fn = unique("fqueue")
    create(lam, queue_fn, zip_of(**{"app.py": BODY_AUDITOR}), Environment=env)
    lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=queue_fn, FilterCriteria={
        "Filters": [{"Pattern": json.dumps({"body": {"type": ["order"]}})}]})
    for body in ['{"type": "order", "n": 1}', '{"type": "refund"}', "not json", '{"type": "order", "n": 2}']:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=stream_fn, FilterCriteria={
            "Filters": [{"Pattern": '{"body": ["unclosed"'}]})
    assert code(err)[0] == "InvalidParameterValueException"
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline and len(seen) < 4:
        seen = sorted(i["seq"]["S"] for i in ddb.scan(TableName=audit)["Items"])
        time.sleep(0.1)
    time.sleep(1.0)            # anything filtered in by mistake would arrive by now
    items = ddb.scan(TableName=audit)["Items"]
    bodies = sorted(i["seq"]["S"] for i in items if i["seq"]["S"].startswith("{"))
    records = [json.loads(i["record"]["S"]) for i in items if "record" in i]
    assert bodies == ['{"type": "order", "n": 1}', '{"type": "order", "n": 2}']
    assert sorted(r["dynamodb"]["NewImage"]["total"]["N"] for r in records) == ["150", "250"]
    assert {r["eventName"] for r in records} == {"INSERT"}
    assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"            # filtered out: deleted
    lam.close()
    sqs.close()
