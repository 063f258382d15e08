"""The JavaScript SDK's DynamoDBDocumentClient (lib-dynamodb, as AWS's Node.js runtimes offer it) inside a
function, against Cumulo's tables with the function's role: plain JavaScript values in and out, numbers
and sets marshalled by the SDK, conditions refused with DynamoDB's error name."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any, Iterator

import pytest

from cumulo.runtime import catalog, node_sdk
from tests.integration.test_function_credentials import ACCOUNT, TRUST
from tests.integration.test_server import CumuloServer

DOCUMENTS = """
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient, PutCommand, GetCommand, QueryCommand, UpdateCommand } = require("@aws-sdk/lib-dynamodb");
const docs = DynamoDBDocumentClient.from(new DynamoDBClient({}));
exports.handler = async (event) => {
  const TableName = event.table;
  await docs.send(new PutCommand({ TableName, Item: { pk: "user#1", sk: 1, name: "Ann", tags: new Set(["a", "b"]),
                                                      address: { city: "Lyon", zip: "69001" }, scores: [1, 2.5] } }));
  await docs.send(new PutCommand({ TableName, Item: { pk: "user#1", sk: 2, name: "Ann's second" } }));
  const got = await docs.send(new GetCommand({ TableName, Key: { pk: "user#1", sk: 1 } }));
  const listed = await docs.send(new QueryCommand({ TableName, KeyConditionExpression: "pk = :p AND sk > :s",
                                                    ExpressionAttributeValues: { ":p": "user#1", ":s": 0 } }));
  const updated = await docs.send(new UpdateCommand({ TableName, Key: { pk: "user#1", sk: 1 },
    UpdateExpression: "SET address.city = :c ADD visits :one", ExpressionAttributeValues: { ":c": "Paris", ":one": 1 },
    ReturnValues: "ALL_NEW" }));
  let refused = null;
  try {
    await docs.send(new PutCommand({ TableName, Item: { pk: "user#1", sk: 1 }, ConditionExpression: "attribute_not_exists(pk)" }));
  } catch (err) {
    refused = err.name;
  }
  return { got: { ...got.Item, tags: [...got.Item.tags].sort() }, count: listed.Count,
           city: updated.Attributes.address.city, visits: updated.Attributes.visits, refused };
};
"""


def _zip(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    missing = catalog.unavailable("nodejs20.x")
    if missing is not None:
        pytest.skip(f"[node] {missing}")
    installed, why = node_sdk.install()
    if installed is None:
        pytest.skip(f"[node] the AWS SDK for JavaScript cannot be installed here: {why}")
    running = CumuloServer(tmp_path_factory.mktemp("node-ddb") / "home")
    try:
        yield running
    finally:
        running.close()


def test_the_document_client_reads_and_writes_tables(server: CumuloServer) -> None:
    ddb = server.aws("dynamodb")
    ddb.create_table(TableName="people", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    iam = server.aws("iam")
    iam.create_role(RoleName="people-app", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="people-app", PolicyName="crud", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem",
                                                                             "dynamodb:Query", "dynamodb:UpdateItem"],
                                                "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/people"}]}))
    lam = server.client()
    lam.create_function(FunctionName="docs", Runtime="nodejs20.x", Role=f"arn:aws:iam::{ACCOUNT}:role/people-app",
                        Handler="index.handler", Code={"ZipFile": _zip(**{"index.js": DOCUMENTS})}, Timeout=30)
    answer = lam.invoke(FunctionName="docs", Payload=json.dumps({"table": "people"}).encode(), LogType="Tail")
    out: Any = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, (out, base64.b64decode(answer["LogResult"]).decode())
    assert out["got"] == {"pk": "user#1", "sk": 1, "name": "Ann", "tags": ["a", "b"],
                          "address": {"city": "Lyon", "zip": "69001"}, "scores": [1, 2.5]}
    assert (out["count"], out["city"], out["visits"], out["refused"]) == (2, "Paris", 1,
                                                                          "ConditionalCheckFailedException")
    stored = ddb.get_item(TableName="people", Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}})["Item"]
    assert stored["scores"] == {"L": [{"N": "1"}, {"N": "2.5"}]} and stored["tags"] == {"SS": ["a", "b"]}
