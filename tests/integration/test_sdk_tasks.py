"""State machines calling services directly through ``cumulo up``: the AWS SDK integrations
(``arn:aws:states:::aws-sdk:<service>:<action>``) of every service the endpoint serves, and SNS's
optimized ``sns:publish`` (with ``.waitForTaskToken``), as the machine's role, with Step Functions'
error names for Retry and Catch. What they did is checked with unchanged boto3 clients."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
from botocore.client import BaseClient

from tests.integration.test_server import CumuloServer, unique
from tests.integration.test_stepfunctions import states_role

EVERYTHING = ({"Effect": "Allow", "Action": ["sqs:*", "s3:*", "sns:*", "states:*", "secretsmanager:*", "ssm:*",
                                              "events:*", "lambda:*", "dynamodb:*"], "Resource": "*"},)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("sdk-tasks") / "home")
    try:
        yield srv
    finally:
        srv.close()


def _run(sfn: BaseClient, definition: dict[str, Any], payload: Any, role: str) -> dict[str, Any]:
    machine = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition), roleArn=role)
    started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(payload))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = sfn.describe_execution(executionArn=started["executionArn"])
        if done["status"] != "RUNNING":
            return done
        time.sleep(0.05)
    raise AssertionError("the execution did not end")


def _task(resource: str, parameters: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": parameters, **more}


def test_sdk_tasks_reach_queues_buckets_topics_secrets_parameters_and_machines(server: CumuloServer) -> None:
    sqs, s3, sns, sfn = server.aws("sqs"), server.aws("s3"), server.aws("sns"), server.aws("stepfunctions")
    secrets, ssm = server.aws("secretsmanager"), server.aws("ssm")
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    bucket = unique("bucket").lower()
    s3.create_bucket(Bucket=bucket)
    secrets.create_secret(Name=unique("db"), SecretString='{"password": "hunter2"}')
    secret = secrets.list_secrets()["SecretList"][-1]["Name"]
    ssm.put_parameter(Name="/app/flag", Value="on", Type="String", Overwrite=True)
    definition = {"StartAt": "Send", "States": {
        "Send": _task("aws-sdk:sqs:sendMessage", {"QueueUrl": queue, "MessageBody.$": "$.text"},
                      ResultPath="$.sent", Next="Put"),
        "Put": _task("aws-sdk:s3:putObject", {"Bucket": bucket, "Key": "in/a.txt", "Body.$": "$.text",
                                                "ContentType": "text/plain"}, ResultPath="$.put", Next="Get"),
        "Get": _task("aws-sdk:s3:getObject", {"Bucket": bucket, "Key": "in/a.txt"},
                     ResultSelector={"body.$": "$.Body", "type.$": "$.ContentType"}, ResultPath="$.got", Next="List"),
        "List": _task("aws-sdk:s3:listObjectsV2", {"Bucket": bucket, "Prefix": "in/"},
                      ResultSelector={"keys.$": "$.Contents[*].Key"}, ResultPath="$.listed", Next="Secret"),
        "Secret": _task("aws-sdk:secretsmanager:getSecretValue", {"SecretId": secret},
                        ResultSelector={"value.$": "States.StringToJson($.SecretString)"}, ResultPath="$.secret",
                        Next="Flag"),
        "Flag": _task("aws-sdk:ssm:getParameter", {"Name": "/app/flag"},
                      ResultSelector={"value.$": "$.Parameter.Value"}, ResultPath="$.flag", End=True)}}
    done = _run(sfn, definition, {"text": "hello from a state machine"}, states_role(sfn, EVERYTHING))
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    out = json.loads(done["output"])
    assert out["sent"]["MessageId"] and out["sent"]["MD5OfMessageBody"]
    assert out["got"] == {"body": "hello from a state machine", "type": "text/plain"}
    assert out["listed"] == {"keys": ["in/a.txt"]}
    assert out["secret"] == {"value": {"password": "hunter2"}}
    assert out["flag"] == {"value": "on"}
    # what the tasks did, as the services' own clients see it
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["hello from a state machine"]
    assert s3.get_object(Bucket=bucket, Key="in/a.txt")["Body"].read() == b"hello from a state machine"
    for client in (sqs, s3, sns, sfn, secrets, ssm):
        client.close()


def test_sdk_errors_have_step_functions_names_for_catch(server: CumuloServer) -> None:
    s3, sfn = server.aws("s3"), server.aws("stepfunctions")
    bucket = unique("errs").lower()
    s3.create_bucket(Bucket=bucket)
    definition = {"StartAt": "Get", "States": {
        "Get": _task("aws-sdk:s3:getObject", {"Bucket": bucket, "Key": "missing"}, Catch=[
            {"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.error", "Next": "Missing"}], End=True),
        "Missing": {"Type": "Pass", "End": True}}}
    done = _run(sfn, definition, {}, states_role(sfn, EVERYTHING))
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["error"]["Error"] == "S3.NoSuchKeyException"
    queue = _run(sfn, {"StartAt": "Send", "States": {"Send": _task(
        "aws-sdk:sqs:sendMessage", {"QueueUrl": f"{server.endpoint}/000000000000/nope", "MessageBody": "x"},
        End=True)}}, {}, states_role(sfn, EVERYTHING))
    assert (queue["status"], queue["error"]) == ("FAILED", "Sqs.QueueDoesNotExistException")
    unknown = _run(sfn, {"StartAt": "X", "States": {"X": _task("aws-sdk:s3:frobnicate", {}, End=True)}}, {},
                   states_role(sfn, EVERYTHING))
    assert (unknown["status"], unknown["error"]) == ("FAILED", "States.Runtime")
    s3.close()
    sfn.close()


def test_the_role_decides_sdk_tasks(server: CumuloServer) -> None:
    sqs, sfn = server.aws("sqs"), server.aws("stepfunctions")
    queue = sqs.create_queue(QueueName=unique("guarded"))["QueueUrl"]
    definition = {"StartAt": "Send", "States": {"Send": _task(
        "aws-sdk:sqs:sendMessage", {"QueueUrl": queue, "MessageBody": "x"}, End=True)}}
    reader = states_role(sfn, ({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"},))
    denied = _run(sfn, definition, {}, reader)
    assert (denied["status"], denied["error"]) == ("FAILED", "Sqs.SqsException")
    assert "is not authorized to perform: sqs:SendMessage" in denied["cause"]
    allowed = _run(sfn, definition, {}, states_role(sfn, (
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]},)))
    assert allowed["status"] == "SUCCEEDED", allowed
    sqs.close()
    sfn.close()


def test_sns_publish_optimized_and_with_a_task_token(server: CumuloServer) -> None:
    sqs, sns, sfn = server.aws("sqs"), server.aws("sns"), server.aws("stepfunctions")
    queue = sqs.create_queue(QueueName=unique("inbox"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=unique("orders"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    role = states_role(sfn, EVERYTHING)
    done = _run(sfn, {"StartAt": "Notify", "States": {"Notify": _task(
        "sns:publish", {"TopicArn": topic, "Message.$": "$.order", "Subject": "order"}, End=True)}},
        {"order": "#1"}, role)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["MessageId"]
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in got] == ["#1"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=got[0]["ReceiptHandle"])
    # the callback pattern: publish the token, wait until someone sends it back
    machine = sfn.create_state_machine(name=unique("sm"), roleArn=role, definition=json.dumps({
        "StartAt": "Ask", "States": {"Ask": _task("sns:publish.waitForTaskToken", {
            "TopicArn": topic, "Message": {"token.$": "$$.Task.Token"}}, End=True)}}))
    started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    token = json.loads(got[0]["Body"])["token"]
    assert sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING"
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    final = sfn.describe_execution(executionArn=started["executionArn"])
    assert (final["status"], json.loads(final["output"])) == ("SUCCEEDED", {"approved": True})
    denied = _run(sfn, {"StartAt": "Notify", "States": {"Notify": _task(
        "sns:publish", {"TopicArn": topic, "Message": "x"}, End=True)}}, {},
        states_role(sfn, ({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},)))
    assert (denied["status"], denied["error"]) == ("FAILED", "SNS.AmazonSNSException")
    for client in (sqs, sns, sfn):
        client.close()
