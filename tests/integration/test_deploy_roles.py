"""Functions deployed from a template call the platform as the role SAM makes for them (issue 19).

An application shaped as people write them — a queue, a bus, a state machine, functions that call them
with boto3 and no credentials or endpoint in their code — is served by ``cumulo up template.yaml`` under
the default ``--iam enforce``. The SAM policy template that grants a call makes it pass; without it the
call fails with AWS's AccessDenied naming the role SAM made (``<stack>-<LogicalId>Role-<suffix>``); an
explicit ``AWS::IAM::Role`` with an inline policy works, and so does a connector; IAM's API shows the roles as SAM makes them; a
re-deploy of the same template changes nothing; deleting the stack removes its roles.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from cumulo import iam
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.machines import machine_name_for
from cumulo.deploy.queues import queue_name_for
from tests.integration.test_server import CumuloServer

STACK = "shop"
ACCOUNT = "000000000000"
HANDLER = '''
import os
import boto3


def handler(event, context):
    if "Records" in event:          # the worker: each job of its queue, an event on the bus
        events = boto3.client("events")
        for record in event["Records"]:
            events.put_events(Entries=[{"EventBusName": os.environ["BUS"], "Source": "shop.worker",
                                        "DetailType": "job done", "Detail": record["body"]}])
        return {}
    try:
        if event["do"] == "send":
            out = boto3.client("sqs").send_message(QueueUrl=event.get("url", os.environ["QUEUE_URL"]),
                                                   MessageBody=event["body"])
            return {"ok": out["MessageId"]}
        if event["do"] == "record":
            out = boto3.client("kinesis").put_record(StreamName=os.environ["STREAM"], Data=b"click",
                                                     PartitionKey="k")
            return {"ok": out["SequenceNumber"]}
        if event["do"] == "put":
            out = boto3.client("events").put_events(Entries=[
                {"EventBusName": os.environ["BUS"], "Source": "shop", "DetailType": "order", "Detail": "{}"}])
            return {"ok": out["FailedEntryCount"]}
        if event["do"] == "start":
            out = boto3.client("stepfunctions").start_execution(stateMachineArn=os.environ["MACHINE"], input="{}")
            return {"ok": out["executionArn"]}
        return {"ok": boto3.client("sts").get_caller_identity()["Arn"]}
    except Exception as exc:
        error = getattr(exc, "response", {}).get("Error", {})
        return {"code": error.get("Code"), "message": error.get("Message", repr(exc))}
'''
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: src/
    Handler: app.handler
    Runtime: python3.12
    Environment:
      Variables:
        QUEUE_URL: !Ref Orders
        BUS: !Ref Bus
        MACHINE: !Ref Fulfil
        STREAM: !Ref Clicks
Resources:
  Orders:
    Type: AWS::SQS::Queue
  Jobs:
    Type: AWS::SQS::Queue
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: shop-bus}
  Fulfil:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: Done, States: {Done: {Type: Pass, End: true}}}
  Producer:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSSendMessagePolicy: {QueueName: !GetAtt Orders.QueueName}
  Bystander:
    Type: AWS::Serverless::Function
  Publisher:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - EventBridgePutEventsPolicy: {EventBusName: !Ref Bus}
  Starter:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - StepFunctionsExecutionPolicy: {StateMachineName: !GetAtt Fulfil.Name}
  Connected:
    Type: AWS::Serverless::Function
  ConnectedToOrders:
    Type: AWS::Serverless::Connector
    Properties:
      Source: {Id: Connected}
      Destination: {Id: Orders}
      Permissions: [Write]
  Clicker:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - KinesisCrudPolicy: {StreamName: !Ref Clicks}
  Intake:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSSendMessagePolicy: {QueueName: !GetAtt Jobs.QueueName}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - EventBridgePutEventsPolicy: {EventBusName: !Ref Bus}
      Events:
        Work: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 1}}
  JobDone:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [shop.worker]}
      Targets:
        - {Id: fulfil, Arn: !Ref Fulfil, RoleArn: !GetAtt StartRole.Arn}
  StartRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: start
          PolicyDocument: {Statement: [{Effect: Allow, Action: states:StartExecution, Resource: !Ref Fulfil}]}
  Explicit:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt SenderRole.Arn
  SenderRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      ManagedPolicyArns: [arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]
      Policies:
        - PolicyName: send-orders
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Orders.Arn}
Outputs:
  ProducerRoleArn: {Value: !GetAtt ProducerRole.Arn}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("roles") / STACK
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder / "template.yaml"


@pytest.fixture(scope="module")
def server(app: Path) -> Iterator[CumuloServer]:
    s = CumuloServer(app.parent.parent / "home", str(app), timeout=120)
    yield s
    s.close()


def call(server: CumuloServer, function: str, **event: Any) -> dict[str, Any]:
    response = server.client().invoke(FunctionName=f"{STACK}-{function}", Payload=json.dumps(event).encode())
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    return dict(answer)


def session(function: str) -> str:
    """The caller a function's requests are: a session of the role SAM made, named for the function."""
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name_for(STACK, function + 'Role')}/{STACK}-{function}"


def test_the_policy_template_grants_and_without_it_aws_denies_naming_the_role(server: CumuloServer) -> None:
    assert call(server, "Producer", do="send", body="order 1")["ok"]
    queue = queue_name_for(STACK, "Orders")
    sqs = server.aws("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])] == ["order 1"]

    denied = call(server, "Bystander", do="send", body="order 2")
    assert denied == {"code": "AccessDenied", "message": (
        f"User: {session('Bystander')} is not authorized to perform: sqs:SendMessage on resource: "
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue} because no identity-based policy allows the sqs:SendMessage action")}
    assert role_name_for(STACK, "BystanderRole").startswith(f"{STACK}-BystanderRole-")
    assert call(server, "Producer", do="who") == {"ok": session("Producer")}


def test_event_bridge_and_step_functions_as_their_templates_grant(server: CumuloServer) -> None:
    assert call(server, "Publisher", do="put") == {"ok": 0}
    machine = machine_name_for(STACK, "Fulfil")
    assert call(server, "Starter", do="start")["ok"].startswith(
        f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:")
    for function, action, resource in [
            ("Publisher", "states:StartExecution", f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{machine}"),
            ("Starter", "events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/shop-bus")]:
        denied = call(server, function, do="start" if action.startswith("states") else "put")
        assert denied == {"code": "AccessDeniedException", "message": (
            f"User: {session(function)} is not authorized to perform: {action} on resource: {resource} because no "
            f"identity-based policy allows the {action} action")}


def test_a_stream_as_its_template_grants(server: CumuloServer) -> None:
    assert call(server, "Clicker", do="record")["ok"]
    denied = call(server, "Bystander", do="record")
    assert denied["code"] == "AccessDeniedException" and denied["message"].startswith(
        f"User: {session('Bystander')} is not authorized to perform: kinesis:PutRecord on resource: ")


def test_the_whole_chain_queue_function_bus_rule_state_machine(server: CumuloServer) -> None:
    """Intake sends a job; Worker (its SQS event) puts an event on the bus with its role; the rule starts the
    state machine with it."""
    url = server.aws("sqs").get_queue_url(QueueName=queue_name_for(STACK, "Jobs"))["QueueUrl"]
    assert call(server, "Intake", do="send", url=url, body='{"job": 7}')["ok"]
    assert call(server, "Bystander", do="send", url=url, body='{"job": 8}')["code"] == "AccessDenied"
    sfn = server.aws("stepfunctions")
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{machine_name_for(STACK, 'Fulfil')}"
    deadline, inputs = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]
        if any(i.get("source") == "shop.worker" for i in inputs):
            break
        time.sleep(0.2)
    assert [i["detail"] for i in inputs if i.get("source") == "shop.worker"] == [{"job": 7}]


def test_a_connector_grants_what_sam_generates_for_it(server: CumuloServer) -> None:
    assert call(server, "Connected", do="send", body="order 4")["ok"]
    assert call(server, "Connected", do="put")["code"] == "AccessDeniedException"
    iam_api = server.aws("iam")
    (attached,) = [p for p in iam_api.list_attached_role_policies(
        RoleName=role_name_for(STACK, "ConnectedRole"))["AttachedPolicies"] if p["PolicyName"].startswith(STACK)]
    assert attached["PolicyName"].startswith(f"{STACK}-ConnectedToOrdersPolicy-")
    version = iam_api.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId="v1")["PolicyVersion"]
    assert version["Document"]["Statement"] == [{
        "Effect": "Allow", "Action": ["sqs:DeleteMessage", "sqs:SendMessage", "sqs:ChangeMessageVisibility",
                                      "sqs:PurgeQueue"],
        "Resource": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue_name_for(STACK, 'Orders')}"]}]


def test_an_explicit_role_with_an_inline_policy(server: CumuloServer) -> None:
    assert call(server, "Explicit", do="send", body="order 3")["ok"]
    role = role_name_for(STACK, "SenderRole")
    assert call(server, "Explicit", do="who") == {"ok": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{STACK}-Explicit"}
    assert call(server, "Explicit", do="put")["code"] == "AccessDeniedException"
    iam_api = server.aws("iam")
    assert iam_api.list_role_policies(RoleName=role)["PolicyNames"] == ["send-orders"]
    assert [p["PolicyName"] for p in iam_api.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == [
        "AWSLambdaBasicExecutionRole"]


def test_iam_shows_the_roles_sam_makes(server: CumuloServer) -> None:
    iam_api = server.aws("iam")
    producer = iam_api.get_role(RoleName=role_name_for(STACK, "ProducerRole"))["Role"]
    assert producer["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}]
    assert [p["PolicyName"] for p in iam_api.list_attached_role_policies(
        RoleName=producer["RoleName"])["AttachedPolicies"]] == ["AWSLambdaBasicExecutionRole"]
    assert iam_api.list_role_policies(RoleName=producer["RoleName"])["PolicyNames"] == ["ProducerRolePolicy0"]
    document = iam_api.get_role_policy(RoleName=producer["RoleName"], PolicyName="ProducerRolePolicy0")["PolicyDocument"]
    assert document == iam.expand_policy_template("SQSSendMessagePolicy", {"QueueName": queue_name_for(STACK, "Orders")},
                                                  region="us-east-1", account_id=ACCOUNT)
    assert server.client().get_function(FunctionName=f"{STACK}-Producer")["Configuration"]["Role"] == producer["Arn"]
    machine_role = iam_api.get_role(RoleName=role_name_for(STACK, "FulfilRole"))["Role"]
    assert machine_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": ["states.amazonaws.com"]}
    machine_arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{machine_name_for(STACK, 'Fulfil')}"
    assert server.aws("stepfunctions").describe_state_machine(stateMachineArn=machine_arn)["roleArn"] == \
        machine_role["Arn"]
    outputs = server.aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    assert {o["OutputKey"]: o["OutputValue"] for o in outputs} == {"ProducerRoleArn": producer["Arn"]}


def test_a_redeploy_changes_nothing_and_deleting_the_stack_removes_the_roles(server: CumuloServer, app: Path) -> None:
    again = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "deploy", str(app)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"Stack {STACK}: no changes"), again.stdout
    assert f"role {role_name_for(STACK, 'ProducerRole')} (ProducerRole): unchanged" in again.stdout
    iam_api = server.aws("iam")
    ours = {role_name_for(STACK, f"{lid}Role")
            for lid in ("Producer", "Bystander", "Publisher", "Starter", "Connected", "Clicker", "Intake", "Worker",
                        "Fulfil")}
    ours |= {role_name_for(STACK, "SenderRole"), role_name_for(STACK, "StartRole")}
    assert ours <= {r["RoleName"] for r in iam_api.list_roles()["Roles"]}

    server.aws("cloudformation").delete_stack(StackName=STACK)
    deadline = time.monotonic() + 10
    while ours & {r["RoleName"] for r in iam_api.list_roles()["Roles"]} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ours & {r["RoleName"] for r in iam_api.list_roles()["Roles"]}
    assert iam_api.list_policies(Scope="Local")["Policies"] == []           # the connector's policy too
