"""CloudFormation's stack API as applications' own tests use it: boto3's ``cloudformation`` client and
``aws cloudformation`` against a real ``cumulo up`` that deployed a template, reading outputs (local URLs
that answer), parameters, resources, the template and events; deleting the stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from cumulo.deploy.kinds.role import role_name_for
from tests.integration.test_server import CumuloServer

AWS = Path(sys.executable).parent / "aws"

# An orders service as people write it: an HTTP API in front of a function, its log group with a
# retention, an alarm on its errors, a queue, a secret parameter, outputs an integration test reads.
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: orders service
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  ApiToken: {Type: String, NoEcho: true, Default: s3cret}
Resources:
  OrdersApi:
    Type: AWS::Serverless::HttpApi
  OrdersFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables: {STAGE: !Ref Stage, QUEUE_URL: !Ref OrdersQueue}
      Events:
        List: {Type: HttpApi, Properties: {ApiId: !Ref OrdersApi, Path: /orders, Method: GET}}
  OrdersLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${OrdersFunction}
      RetentionInDays: 14
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: Errors
      Namespace: AWS/Lambda
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  OrdersQueue:
    Type: AWS::SQS::Queue
Outputs:
  ApiUrl:
    Description: where the orders are listed
    Value: !Sub https://${OrdersApi}.execute-api.${AWS::Region}.amazonaws.com/orders
  FunctionArn:
    Value: !GetAtt OrdersFunction.Arn
  QueueUrl:
    Value: !Ref OrdersQueue
"""
APP = "import os\ndef handler(event, context):\n    return {'stage': os.environ['STAGE'], 'orders': []}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    app = tmp_path_factory.mktemp("orders")
    (app / "src").mkdir()
    (app / "src" / "app.py").write_text(APP)
    (app / "template.yaml").write_text(TEMPLATE)
    s = CumuloServer(tmp_path_factory.mktemp("cfn") / "home", str(app / "template.yaml"), "--stack-name", "orders",
                     "--parameter", "Stage=prod")
    s.wait_for_output("OrdersFunction", timeout=60)
    yield s
    s.close()


@pytest.fixture(scope="module")
def cfn(server: CumuloServer) -> BaseClient:
    return server.aws("cloudformation")


def test_describe_stacks_gives_outputs_with_local_urls_parameters_and_status(server: CumuloServer,
                                                                            cfn: BaseClient) -> None:
    (stack,) = cfn.describe_stacks(StackName="orders")["Stacks"]
    assert stack["StackName"] == "orders" and stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"].startswith("arn:aws:cloudformation:us-east-1:000000000000:stack/orders/")
    assert stack["Description"] == "orders service"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {"Stage": "prod",
                                                                                    "ApiToken": "****"}
    outputs = {o["OutputKey"]: o for o in stack["Outputs"]}
    url = outputs["ApiUrl"]["OutputValue"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/orders")
    assert outputs["ApiUrl"]["Description"] == "where the orders are listed"
    with urllib.request.urlopen(url, timeout=30) as answer:              # the URL answers, as on AWS
        assert json.loads(answer.read()) == {"stage": "prod", "orders": []}
    assert outputs["FunctionArn"]["OutputValue"] == "arn:aws:lambda:us-east-1:000000000000:function:orders-OrdersFunction"
    assert outputs["QueueUrl"]["OutputValue"].endswith("/000000000000/orders-OrdersQueue-" +
                                                       outputs["QueueUrl"]["OutputValue"].rsplit("-", 1)[1])
    by_id = cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
    assert by_id["StackName"] == "orders"
    assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["orders"]


def test_the_aws_cli_prints_the_outputs(server: CumuloServer) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}
    proc = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "cloudformation", "describe-stacks",
                           "--stack-name", "orders", "--query", "Stacks[0].Outputs", "--output", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    outputs = {o["OutputKey"]: o["OutputValue"] for o in json.loads(proc.stdout)}
    assert set(outputs) == {"ApiUrl", "FunctionArn", "QueueUrl"}
    assert outputs["ApiUrl"].startswith("http://127.0.0.1:")


def test_resources_template_and_events(cfn: BaseClient) -> None:
    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName="orders")["StackResources"]}
    assert {k: r["ResourceType"] for k, r in resources.items()} == {
        "OrdersApi": "AWS::ApiGatewayV2::Api", "OrdersFunction": "AWS::Lambda::Function",     # as SAM transforms them
        "OrdersLogs": "AWS::Logs::LogGroup", "ErrorsAlarm": "AWS::CloudWatch::Alarm", "OrdersQueue": "AWS::SQS::Queue",
        "OrdersFunctionRole": "AWS::IAM::Role"}                                              # the role SAM makes
    assert resources["OrdersFunction"]["PhysicalResourceId"] == "orders-OrdersFunction"
    assert resources["OrdersFunctionRole"]["PhysicalResourceId"] == role_name_for("orders", "OrdersFunctionRole")
    assert resources["OrdersLogs"]["PhysicalResourceId"] == "/aws/lambda/orders-OrdersFunction"
    assert {r["ResourceStatus"] for r in resources.values()} == {"CREATE_COMPLETE"}
    summaries = cfn.list_stack_resources(StackName="orders")["StackResourceSummaries"]
    assert sorted(s["LogicalResourceId"] for s in summaries) == sorted(resources)
    detail = cfn.describe_stack_resource(StackName="orders", LogicalResourceId="OrdersQueue")["StackResourceDetail"]
    assert detail["PhysicalResourceId"] == resources["OrdersQueue"]["PhysicalResourceId"]
    assert cfn.get_template(StackName="orders")["TemplateBody"] == TEMPLATE
    events = cfn.describe_stack_events(StackName="orders")["StackEvents"]
    assert (events[0]["LogicalResourceId"], events[0]["ResourceStatus"]) == ("orders", "CREATE_COMPLETE")
    assert (events[-1]["LogicalResourceId"], events[-1]["ResourceStatus"]) == ("orders", "CREATE_IN_PROGRESS")
    assert {e["LogicalResourceId"] for e in events} >= set(resources)


def _error(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    e = caught.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_errors_are_cloudformations(cfn: BaseClient) -> None:
    assert _error(lambda: cfn.describe_stacks(StackName="nope")) == (
        "ValidationError", "Stack with id nope does not exist", 400)
    code, message, status = _error(lambda: cfn.create_stack(StackName="x", TemplateBody="{}"))
    assert (code, status) == ("ValidationError", 400), message          # a template with no Resources
    code, message, status = _error(lambda: cfn.detect_stack_drift(StackName="orders"))
    assert (code, status) == ("InvalidAction", 400) and "DetectStackDrift" in message
    assert _error(lambda: cfn.list_stacks(StackStatusFilter=["NOPE"]))[0] == "ValidationError"


def test_delete_stack_removes_its_resources_and_keeps_it_as_deleted(server: CumuloServer, cfn: BaseClient) -> None:
    lam = server.client()
    assert "orders-OrdersFunction" in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    cfn.delete_stack(StackName="orders")
    assert "orders-OrdersFunction" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert server.aws("sqs").list_queues().get("QueueUrls", []) == []
    assert _error(lambda: cfn.describe_stacks(StackName="orders"))[1] == "Stack with id orders does not exist"
    (summary,) = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert summary["StackName"] == "orders" and "DeletionTime" in summary
    assert cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []
    cfn.delete_stack(StackName="orders")         # deleting again is not an error, as on AWS
