"""State machines through ``cumulo up`` with boto3's ``stepfunctions`` client."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer, create, unique, zip_of
from tests.integration.test_sqs import sqs_client

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

WORKER = """
class NotReady(Exception):
    pass

ATTEMPTS = {}

def handler(event, context):
    kind = event.get("kind")
    if kind == "flaky":
        ATTEMPTS[event["id"]] = ATTEMPTS.get(event["id"], 0) + 1
        if ATTEMPTS[event["id"]] < 2:
            raise NotReady("try again")
        return {"attempts": ATTEMPTS[event["id"]]}
    if kind == "fail":
        raise ValueError("bad input " + str(event.get("id")))
    if kind == "sleep":
        import time
        start = time.time()
        time.sleep(event["s"])
        return {"doubled": event.get("n", 0) * 2, "start": start, "end": time.time()}
    return {"doubled": event.get("n", 0) * 2}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("sfn") / "home", store=new_store())
    try:
        yield srv
    finally:
        srv.close()


def sfn_client(server: CumuloServer, **config: Any) -> BaseClient:
    return server.aws("stepfunctions", **config)


@pytest.fixture(scope="module")
def sfn(server: CumuloServer) -> Iterator[BaseClient]:
    client = sfn_client(server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def function(server: CumuloServer) -> str:
    lam = server.client()
    name = unique("worker")
    arn = create(lam, name, zip_of(**{"app.py": WORKER}))["FunctionArn"]
    lam.close()
    return arn


STATES_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
# what the state machines of these tests call from their tasks
TASKS = ({"Effect": "Allow", "Resource": "*", "Action": [
    "lambda:InvokeFunction", "sqs:SendMessage", "events:PutEvents", "states:StartExecution"]},)


def states_role(client: BaseClient, statements: tuple[dict[str, Any], ...] = TASKS, name: str = "") -> str:
    """The ARN of a role Step Functions may assume, allowed ``statements`` (inline), made (or made again,
    the same) through IAM's API with the endpoint and keys of ``client`` (any client of the server)."""
    creds = client._request_signer._credentials       # type: ignore[attr-defined]
    iam = boto3.session.Session().client("iam", endpoint_url=client.meta.endpoint_url, region_name="us-east-1",
                                         aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key)
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    name = name or "states-" + hashlib.sha256(document.encode()).hexdigest()[:12]
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=STATES_TRUST)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="tasks", PolicyDocument=document)
    iam.close()
    return str(arn)


def machine(sfn: BaseClient, definition: dict[str, Any], kind: str = "STANDARD", role: str = "") -> str:
    """A new state machine; its role (by default) allows what these tests' tasks call (``TASKS``)."""
    return sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition),
                                    roleArn=role or states_role(sfn), type=kind)["stateMachineArn"]


def finished(sfn: BaseClient, arn: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            return desc
        time.sleep(0.05)


def test_state_machine_crud_and_validation(sfn: BaseClient) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    name = unique("sm")
    role = states_role(sfn)
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:000000000000:stateMachine:{name}"
    desc = sfn.describe_state_machine(stateMachineArn=arn)
    assert desc["type"] == "STANDARD" and json.loads(desc["definition"]) == definition
    assert desc["tracingConfiguration"] == {"enabled": False}
    assert name in [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    sfn.update_state_machine(stateMachineArn=arn, tracingConfiguration={"enabled": True})   # X-Ray, alone
    assert sfn.describe_state_machine(stateMachineArn=arn)["tracingConfiguration"] == {"enabled": True}
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(
        {"StartAt": "Q", "States": {"Q": {"Type": "Succeed"}}}))
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "Q"
    with pytest.raises(ClientError) as info:
        sfn.create_state_machine(name=unique("sm"), roleArn=role, definition=json.dumps(
            {"StartAt": "Missing", "States": {"P": {"Type": "Pass", "Next": "Nowhere"}}}))
    assert info.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "MISSING_TRANSITION_TARGET" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        sfn.create_state_machine(name="bad name", definition=json.dumps(definition), roleArn=role)
    assert info.value.response["Error"]["Code"] == "InvalidName"
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as info:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert info.value.response["Error"]["Code"] == "StateMachineDoesNotExist"


def test_the_role_must_be_one_step_functions_may_assume(sfn: BaseClient) -> None:
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    iam = boto3.session.Session().client("iam", endpoint_url=sfn.meta.endpoint_url, region_name="us-east-1",
                                         aws_access_key_id=sfn._request_signer._credentials.access_key,
                                         aws_secret_access_key=sfn._request_signer._credentials.secret_key)
    for_lambda = iam.create_role(RoleName=unique("fn-role"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    regional = iam.create_role(RoleName=unique("regional"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "states.us-east-1.amazonaws.com"}}]}))[
        "Role"]["Arn"]
    iam.close()
    denied = "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to " \
             "assume the provided role."
    for role in (for_lambda, "arn:aws:iam::000000000000:role/nobody"):
        with pytest.raises(ClientError) as info:
            sfn.create_state_machine(name=unique("sm"), definition=definition, roleArn=role)
        assert (info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]) == (
            "AccessDeniedException", denied)
    with pytest.raises(ClientError) as info:
        sfn.create_state_machine(name=unique("sm"), definition=definition, roleArn="not-an-arn")
    assert info.value.response["Error"]["Code"] == "InvalidArn"
    arn = sfn.create_state_machine(name=unique("sm"), definition=definition, roleArn=regional)["stateMachineArn"]
    with pytest.raises(ClientError) as info:
        sfn.update_state_machine(stateMachineArn=arn, roleArn=for_lambda)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == regional
    sfn.update_state_machine(stateMachineArn=arn, roleArn=states_role(sfn))
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == states_role(sfn)


def test_standard_execution_with_tasks_choice_and_history(sfn: BaseClient, function: str) -> None:
    arn = machine(sfn, {"StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": function, "ResultPath": "$.result", "Next": "Big?"},
        "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.result.doubled", "NumericGreaterThan": 10,
                                                "Next": "Big"}], "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Wait"},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "End": True}}})
    started = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"n": 21}))
    again = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"n": 21}))
    assert again["executionArn"] == started["executionArn"]           # same name and input: the same execution
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"n": 1}))
    assert info.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    desc = finished(sfn, started["executionArn"])
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"n": 21, "result": {"doubled": 42}, "size": "big"}
    assert (desc["stopDate"] - desc["startDate"]).total_seconds() >= 1.0
    types = [e["type"] for e in sfn.get_execution_history(executionArn=started["executionArn"])["events"]]
    assert types[:5] == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                         "LambdaFunctionSucceeded"]
    assert types[-1] == "ExecutionSucceeded" and "ChoiceStateEntered" in types and "WaitStateExited" in types
    page = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=4)
    rest = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=100, nextToken=page["nextToken"])
    assert [e["id"] for e in page["events"] + rest["events"]] == list(range(1, len(types) + 1))
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == ["run-1"] and listed[0]["status"] == "SUCCEEDED"


def test_every_task_is_the_roles_call_and_a_missing_allow_fails_it_with_aws_error(
        sfn: BaseClient, server: CumuloServer, function: str) -> None:
    sqs = sqs_client(server)
    queue = sqs.create_queue(QueueName=unique("sent"))["QueueUrl"]
    child = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    role_name = unique("bare")
    role = states_role(sfn, (), name=role_name)                     # trusted by Step Functions, allowed nothing
    tasks = {
        "Plain": ({"Resource": function, "Parameters": {"n": 1}}, "Lambda.AWSLambdaException",
                  "lambda:InvokeFunction", function),
        "Invoke": ({"Resource": "arn:aws:states:::lambda:invoke", "Parameters": {
            "FunctionName": function, "Qualifier": "$LATEST", "Payload": {"n": 2}}},
            "Lambda.AWSLambdaException", "lambda:InvokeFunction", function + ":$LATEST"),
        "Send": ({"Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {
            "QueueUrl": queue, "MessageBody": "hi"}}, "SQS.AmazonSQSException", "sqs:SendMessage",
            f"arn:aws:sqs:us-east-1:000000000000:{queue.rsplit('/', 1)[1]}"),
        "Put": ({"Resource": "arn:aws:states:::events:putEvents", "Parameters": {"Entries": [
            {"Source": "shop", "DetailType": "t", "Detail": {}}]}}, "EventBridge.AmazonEventBridgeException",
            "events:PutEvents", "arn:aws:events:us-east-1:000000000000:event-bus/default"),
        "Start": ({"Resource": "arn:aws:states:::states:startExecution.sync:2", "Parameters": {
            "StateMachineArn": child}}, "StepFunctions.AWSStepFunctionsException", "states:StartExecution", child),
    }
    names = list(tasks)
    states: dict[str, Any] = {}
    for i, (name, (task, error, _, _)) in enumerate(tasks.items()):
        after = names[i + 1] if i + 1 < len(names) else "Done"
        states[name] = {"Type": "Task", **task, "ResultPath": f"$.{name}", "Next": after,
                        "Retry": [{"ErrorEquals": [error], "MaxAttempts": 1, "IntervalSeconds": 1}],
                        "Catch": [{"ErrorEquals": [error], "ResultPath": f"$.{name}", "Next": after}]}
    states["Done"] = {"Type": "Succeed"}
    arn = machine(sfn, {"StartAt": names[0], "States": states}, role=role)
    run = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    desc = finished(sfn, run, timeout=30)
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    for name, (_, error, action, resource) in tasks.items():
        assert output[name]["Error"] == error, (name, output[name])
        assert output[name]["Cause"].startswith(
            f"User: arn:aws:sts::000000000000:assumed-role/{role_name}/states is not authorized to perform: "
            f"{action} on resource: {resource} because no identity-based policy allows the {action} action "
            "(Service: "), (name, output[name])
    history = sfn.get_execution_history(executionArn=run, maxResults=1000)["events"]
    assert sum(e["type"] == "TaskFailed" for e in history) == 2 * 4      # retried once, then caught
    assert sum(e["type"] == "LambdaFunctionFailed" for e in history) == 2
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
    assert sfn.list_executions(stateMachineArn=child)["executions"] == []

    # the same machine, once its role allows what it calls: every task succeeds
    states_role(sfn, TASKS, name=role_name)
    run = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    desc = finished(sfn, run, timeout=30)
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["Plain"] == {"doubled": 2} and output["Invoke"]["Payload"] == {"doubled": 4}
    assert "MessageId" in output["Send"] and output["Put"]["FailedEntryCount"] == 0
    assert output["Start"]["Status"] == "SUCCEEDED"
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]["Body"] == "hi"
    sqs.close()


def test_a_running_execution_keeps_the_role_it_started_with(sfn: BaseClient, function: str) -> None:
    """AWS: UpdateStateMachine reaches executions started after it; one running goes on with the role
    (and definition) it started with. Here the role is changed to one allowed nothing while the
    execution waits before its task: the task still runs as the role it started with."""
    arn = machine(sfn, {"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": function, "Parameters": {"n": 5}, "End": True}}})
    running = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    sfn.update_state_machine(stateMachineArn=arn, roleArn=states_role(sfn, (), name=unique("bare")))
    desc = finished(sfn, running, timeout=30)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"doubled": 10}
    later = finished(sfn, sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"], timeout=30)
    assert later["status"] == "FAILED" and later["error"] == "Lambda.AWSLambdaException", later


def test_retry_then_catch_with_the_functions_error_type(sfn: BaseClient, function: str) -> None:
    arn = machine(sfn, {"StartAt": "Flaky", "States": {
        "Flaky": {"Type": "Task", "Resource": function, "Retry": [{"ErrorEquals": ["NotReady"], "IntervalSeconds": 1,
                                                                  "MaxAttempts": 2}], "Next": "Fail"},
        "Fail": {"Type": "Task", "Resource": function, "Parameters": {"kind": "fail", "id": 7},
                 "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Handled"}], "End": True},
        "Handled": {"Type": "Pass", "End": True}}})
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"kind": "flaky", "id": unique("x")}))
    desc = finished(sfn, run["executionArn"])
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["error"]["Error"] == "ValueError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "bad input 7"
    types = [e["type"] for e in sfn.get_execution_history(executionArn=run["executionArn"])["events"]]
    assert types.count("LambdaFunctionFailed") == 2                 # one retried failure, one caught


def test_callback_with_task_token_over_a_queue(sfn: BaseClient, server: CumuloServer) -> None:
    sqs = sqs_client(server)
    url = sqs.create_queue(QueueName=unique("tokens"))["QueueUrl"]
    arn = machine(sfn, {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
        "HeartbeatSeconds": 60, "End": True}}})
    ok = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 1}))
    bad = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 2}))
    tokens: dict[int, str] = {}
    deadline = time.monotonic() + 10
    while len(tokens) < 2 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(m["Body"])
            tokens[body["order"]] = body["token"]
    sfn.send_task_heartbeat(taskToken=tokens[1])
    sfn.send_task_success(taskToken=tokens[1], output=json.dumps({"approved": True}))
    sfn.send_task_failure(taskToken=tokens[2], error="Rejected", cause="no stock")
    assert json.loads(finished(sfn, ok["executionArn"])["output"]) == {"approved": True}
    failed = finished(sfn, bad["executionArn"])
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Rejected", "no stock")
    with pytest.raises(ClientError) as info:
        sfn.send_task_success(taskToken=tokens[1], output="{}")      # already used
    assert info.value.response["Error"]["Code"] == "TaskDoesNotExist"
    sqs.close()


def test_stop_a_waiting_execution(sfn: BaseClient) -> None:
    arn = machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}})
    run = sfn.start_execution(stateMachineArn=arn)
    time.sleep(0.3)
    sfn.stop_execution(executionArn=run["executionArn"], error="Manual", cause="operator")
    desc = finished(sfn, run["executionArn"])
    assert (desc["status"], desc["error"], desc["cause"]) == ("ABORTED", "Manual", "operator")


def _most_at_once(intervals: list[dict[str, float]]) -> int:
    """The most intervals (start, end) open at one moment."""
    edges = sorted([(i["start"], 1) for i in intervals] + [(i["end"], -1) for i in intervals])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_map_and_parallel_run_tasks_concurrently(sfn: BaseClient, function: str) -> None:
    """Each task sleeps 1 s and says when it ran: a Map with MaxConcurrency 4 runs 3 or 4 of its 8
    iterations at once (never more), and the Parallel state's other branch runs beside them."""
    sleep = {"Type": "Task", "Resource": function, "End": True}
    arn = machine(sfn, {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4, "End": True,
            "ItemProcessor": {"StartAt": "D", "States": {"D": sleep}}}}},
        {"StartAt": "Side", "States": {"Side": {**sleep, "Parameters": {"kind": "sleep", "s": 1.0, "n": -1}}}}]}}})
    items = [{"kind": "sleep", "s": 1.0, "n": i} for i in range(8)]
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": items}))
    desc = finished(sfn, run["executionArn"], timeout=60)
    assert desc["status"] == "SUCCEEDED", desc
    iterations, side = json.loads(desc["output"])
    assert [i["doubled"] for i in iterations] == [2 * i for i in range(8)] and side["doubled"] == -2
    assert 3 <= _most_at_once(iterations) <= 4, iterations
    assert any(side["start"] < i["end"] and i["start"] < side["end"] for i in iterations), (side, iterations)


def test_nested_execution_sync_and_express(sfn: BaseClient, function: str, server: CumuloServer) -> None:
    child = machine(sfn, {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": function, "End": True}}})
    parent = machine(sfn, {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Input": {"n.$": "$.n"}}, "OutputPath": "$.Output", "End": True}}})
    run = sfn.start_execution(stateMachineArn=parent, input=json.dumps({"n": 4}))
    assert json.loads(finished(sfn, run["executionArn"])["output"]) == {"doubled": 8}
    express = machine(sfn, {"StartAt": "I", "States": {"I": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload.$": "$"}, "OutputPath": "$.Payload", "End": True}}},
        kind="EXPRESS")
    # boto3 sends StartSyncExecution to "sync-<host>": clients of a local endpoint turn that off
    sync = sfn_client(server, inject_host_prefix=False)
    result = sync.start_sync_execution(stateMachineArn=express, input=json.dumps({"n": 3}))
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"doubled": 6}
    with pytest.raises(ClientError) as info:
        sync.start_sync_execution(stateMachineArn=child, input="{}")
    assert info.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=child, input="{not json")
    assert info.value.response["Error"]["Code"] == "InvalidExecutionInput"


def test_event_bus_rule_starts_an_execution(sfn: BaseClient, server: CumuloServer) -> None:
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.detail", "End": True}}})
    events = server.aws("events")
    rule = unique("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["orders"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "sm", "Arn": arn}])
    events.put_events(Entries=[{"Source": "orders", "DetailType": "new", "Detail": json.dumps({"id": 9})}])
    deadline = time.monotonic() + 10
    runs: list[dict[str, Any]] = []
    while not runs and time.monotonic() < deadline:
        runs = sfn.list_executions(stateMachineArn=arn)["executions"]
        time.sleep(0.1)
    assert json.loads(finished(sfn, runs[0]["executionArn"])["output"]) == {"id": 9}
    events.close()


def cumulo_cli(home: Path, *args: str, store: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60,
                          env={**os.environ, **({"CUMULO_STORE": store} if store else {})})


def test_cli_start_wait_exits_1_with_error_and_cause_when_the_execution_fails(server: CumuloServer, function: str,
                                                                              tmp_path: Path) -> None:
    failing = tmp_path / "failing.asl.json"
    failing.write_text(json.dumps({"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": function, "Parameters": {"kind": "fail", "id": 7}, "End": True}}}))
    passing = tmp_path / "passing.asl.json"
    passing.write_text(json.dumps({"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": function, "End": True}}}))
    names = {kind: unique(kind) for kind in ("failing", "passing", "express")}
    for kind, definition in (("failing", failing), ("passing", passing)):
        assert cumulo_cli(server.home, "states", "create", names[kind], str(definition),
                          store=server.store).returncode == 0
    assert cumulo_cli(server.home, "states", "create", names["express"], str(failing), "--express",
                      store=server.store).returncode == 0

    failed = cumulo_cli(server.home, "states", "start", names["failing"], "--wait", store=server.store)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    desc = json.loads(failed.stdout)                                   # describe-execution's document, as before
    assert desc["status"] == "FAILED" and desc["error"] == "ValueError"
    assert "FAILED" in failed.stderr and "error: ValueError" in failed.stderr
    assert "cause: " in failed.stderr and "bad input 7" in failed.stderr
    express = cumulo_cli(server.home, "states", "start", names["express"], store=server.store)
    assert express.returncode == 1 and "error: ValueError" in express.stderr, express.stdout + express.stderr
    succeeded = cumulo_cli(server.home, "states", "start", names["passing"], "--input", '{"n": 2}', "--wait",
                           store=server.store)
    assert succeeded.returncode == 0, succeeded.stderr
    assert json.loads(json.loads(succeeded.stdout)["output"]) == {"doubled": 4} and succeeded.stderr == ""


def test_cli_start_wait_without_a_server_says_so_instead_of_waiting(tmp_path: Path) -> None:
    definition = tmp_path / "pass.asl.json"
    definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    home = tmp_path / "home"
    assert cumulo_cli(home, "states", "create", "p", str(definition)).returncode == 0
    proc = cumulo_cli(home, "states", "start", "p", "--wait")
    assert proc.returncode == 2 and "no `cumulo up` is serving" in proc.stderr, proc.stderr
    assert cumulo_cli(home, "states", "executions", "p").stdout == ""      # nothing was started


def test_list_executions_pages_continue_where_they_ended_while_executions_start(sfn: BaseClient) -> None:
    """ListExecutions' token names the position of the page's last execution, not a count: an
    execution started between two pages (newest first, so at the front) neither repeats nor hides one."""
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for i in range(5):
        sfn.start_execution(stateMachineArn=arn, name=f"run-{i}")
    everything = [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]
    assert sorted(everything) == [f"run-{i}" for i in range(5)]
    first = sfn.list_executions(stateMachineArn=arn, maxResults=2)
    assert [e["name"] for e in first["executions"]] == everything[:2]
    sfn.start_execution(stateMachineArn=arn, name="late")
    rest: list[str] = []
    token = first["nextToken"]
    while token:
        page = sfn.list_executions(stateMachineArn=arn, maxResults=2, nextToken=token)
        rest += [e["name"] for e in page["executions"]]
        token = page.get("nextToken")
    assert rest == everything[2:]
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]][0] == "late"
    with pytest.raises(ClientError) as info:
        sfn.list_executions(stateMachineArn=arn, nextToken="not-a-token")
    assert info.value.response["Error"]["Code"] == "InvalidToken"
