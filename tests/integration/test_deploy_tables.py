"""An application from an unchanged SAM template: an HTTP API in front of a function that writes to a
table, the table's stream running a second function that writes an audit row into a SimpleTable. Served
by ``cumulo up``; read with boto3. The functions call DynamoDB with their role's credentials (the SDK's
defaults, no configuration), the roles SAM makes of their ``Policies`` (DynamoDBCrudPolicy)."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.test_gateway import Gateway
from tests.integration.test_server import CumuloServer

API = """
import json, os, boto3
table = boto3.resource("dynamodb").Table(os.environ["ORDERS"])
def handler(event, context):
    order = json.loads(event["body"])
    table.put_item(Item={"id": order["id"], "customer": order["customer"], "status": "new", "total": order["total"]})
    found = table.query(IndexName="by-customer",
                        KeyConditionExpression=boto3.dynamodb.conditions.Key("customer").eq(order["customer"]))
    return {"statusCode": 201, "body": json.dumps({"orders": found["Count"]})}
"""
AUDIT = """
import json, os, boto3
audit = boto3.client("dynamodb")
def handler(event, context):
    for r in event["Records"]:
        audit.put_item(TableName=os.environ["AUDIT"], Item={
            "id": {"S": r["dynamodb"]["Keys"]["id"]["S"] + "/" + r["eventName"]},
            "source": {"S": r["eventSourceARN"]}, "image": {"M": r["dynamodb"].get("NewImage", {})}})
"""
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: S}
        - {AttributeName: customer, AttributeType: S}
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: by-customer
          KeySchema: [{AttributeName: customer, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
  Audit:
    Type: AWS::Serverless::SimpleTable
  PlaceOrder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: api/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 10
      Environment: {Variables: {ORDERS: !Ref Orders}}
      Policies: [{DynamoDBCrudPolicy: {TableName: !Ref Orders}}]
      Events:
        Post: {Type: HttpApi, Properties: {Path: /orders, Method: POST}}
  Auditor:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: audit/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 10
      Environment: {Variables: {AUDIT: !Ref Audit}}
      Policies: [{DynamoDBCrudPolicy: {TableName: !Ref Audit}}]
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FilterCriteria:
              Filters: [{Pattern: '{"dynamodb": {"NewImage": {"customer": {"S": ["ann", "bob"]}}}}'}]
Outputs:
  OrdersArn: {Value: !GetAtt Orders.Arn}
  OrdersStream: {Value: !GetAtt Orders.StreamArn}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("shop")
    for name, source in (("api", API), ("audit", AUDIT)):
        (folder / name).mkdir()
        (folder / name / "app.py").write_text(textwrap.dedent(source))
    (folder / "template.yaml").write_text(TEMPLATE)
    server = CumuloServer(tmp_path_factory.mktemp("home") / "home", str(folder / "template.yaml"),
                          "--stack-name", "shop")
    try:
        server.wait_for_output("Stop with Ctrl-C", timeout=60)
        yield Gateway(server)
    finally:
        server.close()


def test_api_to_function_to_table_to_stream_to_function(app: Gateway) -> None:
    ddb = app.server.aws("dynamodb")
    tables = ddb.list_tables()["TableNames"]
    orders = next(t for t in tables if "-Orders-" in t)
    audit = next(t for t in tables if "-Audit-" in t)
    described = ddb.describe_table(TableName=orders)["Table"]
    assert described["GlobalSecondaryIndexes"][0]["IndexName"] == "by-customer"
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert ddb.describe_time_to_live(TableName=orders)["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    cfn = app.server.aws("cloudformation")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="shop")["Stacks"][0]["Outputs"]}
    assert outputs["OrdersStream"] == described["LatestStreamArn"] and outputs["OrdersArn"] == described["TableArn"]
    path = app.routes[("ServerlessHttpApi", "POST /orders")]
    for i, customer in enumerate(["ann", "ann", "bob", "cy"]):
        status, _, body = app.request("POST", path, json.dumps({"id": f"o{i}", "customer": customer,
                                                                "total": 10 + i}).encode())
        assert status == 201, body
    assert json.loads(body) == {"orders": 1}                 # cy's first order
    deadline = time.monotonic() + 30
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(seen) < 3:
        seen = ddb.scan(TableName=audit)["Items"]
        time.sleep(0.1)
    time.sleep(0.5)                                          # cy's order, filtered out, would be there by now
    seen = ddb.scan(TableName=audit)["Items"]
    assert sorted(i["id"]["S"] for i in seen) == ["o0/INSERT", "o1/INSERT", "o2/INSERT"]
    assert all(i["source"]["S"] == described["LatestStreamArn"] for i in seen)
    assert next(i for i in seen if i["id"]["S"] == "o2/INSERT")["image"]["M"]["total"] == {"N": "12"}
    ddb.close()
    cfn.close()


# The shape of AWS's "stock trader" sample application (SAM's quick-start template): three functions and
# a state machine whose last step writes the trade into a SimpleTable with the DynamoDB integration.
CHECKER = "import random\ndef handler(event, context):\n    return {'stock_price': event.get('force', random.randint(1, 100))}\n"
TRADER = """
import datetime, uuid
def handler(event, context):
    return {"id": str(uuid.uuid4()), "price": str(event["stock_price"]), "type": "TYPE",
            "qty": "7", "timestamp": datetime.datetime.now().isoformat()}
"""
STOCK_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  StockTradingStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Check Stock Value
        States:
          Check Stock Value:
            Type: Task
            Resource: ${StockCheckerFunctionArn}
            Retry: [{ErrorEquals: [States.TaskFailed], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 1.5}]
            Next: Buy or Sell?
          Buy or Sell?:
            Type: Choice
            Choices: [{Variable: $.stock_price, NumericLessThanEquals: 50, Next: Buy Stock}]
            Default: Sell Stock
          Sell Stock:
            Type: Task
            Resource: ${StockSellerFunctionArn}
            Next: Record Transaction
          Buy Stock:
            Type: Task
            Resource: ${StockBuyerFunctionArn}
            Next: Record Transaction
          Record Transaction:
            Type: Task
            Resource: ${DDBPutItem}
            Parameters:
              TableName: ${DDBTable}
              Item:
                Id: {S.$: $.id}
                Type: {S.$: $.type}
                Price: {N.$: $.price}
                Quantity: {N.$: $.qty}
                Timestamp: {S.$: $.timestamp}
            Retry: [{ErrorEquals: [States.TaskFailed], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 1.5}]
            End: true
      DefinitionSubstitutions:
        StockCheckerFunctionArn: !GetAtt StockCheckerFunction.Arn
        StockSellerFunctionArn: !GetAtt StockSellerFunction.Arn
        StockBuyerFunctionArn: !GetAtt StockBuyerFunction.Arn
        DDBPutItem: !Sub arn:${AWS::Partition}:states:::dynamodb:putItem
        DDBTable: !Ref TransactionTable
      Policies:
        - LambdaInvokePolicy: {FunctionName: !Ref StockCheckerFunction}
        - LambdaInvokePolicy: {FunctionName: !Ref StockSellerFunction}
        - LambdaInvokePolicy: {FunctionName: !Ref StockBuyerFunction}
        - DynamoDBWritePolicy: {TableName: !Ref TransactionTable}
  StockCheckerFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: checker/, Handler: app.handler, Runtime: python3.11}
  StockSellerFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: seller/, Handler: app.handler, Runtime: python3.11}
  StockBuyerFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: buyer/, Handler: app.handler, Runtime: python3.11}
  TransactionTable:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: Id, Type: String}
      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
Outputs:
  StockTradingStateMachineArn: {Value: !Ref StockTradingStateMachine}
  TransactionTableName: {Value: !Ref TransactionTable}
"""


def test_the_stock_trader_sample_runs_unchanged(tmp_path: Path) -> None:
    app = tmp_path / "stock"
    for name, code in (("checker", CHECKER), ("seller", TRADER.replace("TYPE", "sell")),
                       ("buyer", TRADER.replace("TYPE", "buy"))):
        (app / name).mkdir(parents=True)
        (app / name / "app.py").write_text(code)
    (app / "template.yaml").write_text(STOCK_TEMPLATE)
    server = CumuloServer(tmp_path / "home", str(app / "template.yaml"), "--stack-name", "stock")
    try:
        server.wait_for_output("Stop with Ctrl-C", timeout=60)
        cfn, sfn, ddb = server.aws("cloudformation"), server.aws("stepfunctions"), server.aws("dynamodb")
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cfn.describe_stacks(StackName="stock")["Stacks"][0]["Outputs"]}
        machine, table = outputs["StockTradingStateMachineArn"], outputs["TransactionTableName"]
        types = []
        for force in (10, 90):
            arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"force": force}))["executionArn"]
            deadline = time.monotonic() + 30
            while (done := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING" and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            assert done["status"] == "SUCCEEDED", done
            assert "SdkHttpMetadata" in json.loads(done["output"])
            types.append("buy" if force <= 50 else "sell")
        items = ddb.scan(TableName=table)["Items"]
        assert sorted(i["Type"]["S"] for i in items) == sorted(types)
        assert {i["Price"]["N"] for i in items} == {"10", "90"} and all(i["Quantity"] == {"N": "7"} for i in items)
        for client in (cfn, sfn, ddb):
            client.close()
    finally:
        server.close()
