"""RedriveExecution through ``cumulo up`` with boto3's unchanged ``stepfunctions`` client: a failed
execution whose cause is fixed continues from the failed state and succeeds."""

from __future__ import annotations

import json
import time
from typing import Callable, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer, create, unique, zip_of
from tests.integration.test_stepfunctions import finished, machine

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

FLAKY = """
import os

def handler(event, context):
    if os.environ.get("FIXED") != "1":
        raise RuntimeError("not fixed yet")
    return {"done": event}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("redrive") / "home", store=new_store())
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def sfn(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.aws("stepfunctions")
    yield client
    client.close()


def _history(sfn: BaseClient, arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def test_a_failed_execution_is_redriven_from_the_failed_state_once_its_cause_is_fixed(
        server: CumuloServer, sfn: BaseClient) -> None:
    lam = server.client()
    name = unique("flaky")
    function = create(lam, name, zip_of(**{"app.py": FLAKY}))["FunctionArn"]
    arn = machine(sfn, {"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": "ready", "ResultPath": "$.prepared", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": function, "Parameters": {"in.$": "$", "redrives.$":
                                                                      "$$.Execution.RedriveCount"}, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 7}))["executionArn"]
    failed = finished(sfn, execution)
    assert failed["status"] == "FAILED" and failed["error"] == "RuntimeError"
    assert failed["redriveStatus"] == "REDRIVABLE" and failed["redriveCount"] == 0
    assert "redriveDate" not in failed
    before = _history(sfn, execution)

    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"FIXED": "1"}})
    deadline = time.monotonic() + 20
    while lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus") not in ("Successful", None):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    answer = sfn.redrive_execution(executionArn=execution, clientToken="fix-1")
    assert answer["redriveDate"].timestamp() >= failed["stopDate"].timestamp()
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"done": {"in": {"n": 7, "prepared": "ready"}, "redrives": 1}}
    assert done["redriveCount"] == 1 and done["redriveDate"] == answer["redriveDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    # The same client token again: the first redrive's answer, nothing run again.
    assert sfn.redrive_execution(executionArn=execution, clientToken="fix-1")["redriveDate"] == answer["redriveDate"]

    events = _history(sfn, execution)
    assert events[:len(before)] == before                       # the first attempt's history is kept
    redriven = events[len(before)]
    assert redriven["type"] == "ExecutionRedriven" and redriven["id"] == len(before) + 1
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [e["type"] for e in events].count("PassStateEntered") == 1      # Prepare is not run again
    assert events[len(before) + 1]["type"] == "TaskStateEntered"
    assert events[-1]["type"] == "ExecutionSucceeded"

    listed = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [(e["executionArn"], e["redriveCount"]) for e in listed] == [(execution, 1)]
    assert sfn.list_executions(stateMachineArn=arn, redriveFilter="NOT_REDRIVEN")["executions"] == []
    assert "redriveCount" in sfn.list_executions(stateMachineArn=arn)["executions"][0]

    with pytest.raises(ClientError) as err:
        sfn.redrive_execution(executionArn=execution)
    assert err.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert "SUCCEEDED" in err.value.response["Error"]["Message"]
    lam.close()


def test_redrive_refuses_what_cannot_be_redriven(sfn: BaseClient) -> None:
    arn = machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    running = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    with pytest.raises(ClientError) as err:
        sfn.redrive_execution(executionArn=running)
    assert err.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert sfn.describe_execution(executionArn=running)["redriveStatusReason"] == \
        "Execution is RUNNING and cannot be redriven"
    sfn.stop_execution(executionArn=running, error="Stopped")
    assert finished(sfn, running)["status"] == "ABORTED"
    assert sfn.describe_execution(executionArn=running)["redriveStatus"] == "REDRIVABLE"
    sfn.redrive_execution(executionArn=running)               # an aborted one continues in its Wait state
    assert sfn.describe_execution(executionArn=running)["status"] == "RUNNING"
    history = _history(sfn, running)
    assert [e["type"] for e in history][-2:] == ["ExecutionRedriven", "WaitStateEntered"]
    sfn.stop_execution(executionArn=running)

    missing = running.rsplit(":", 1)[0] + ":" + unique("none")
    for target, code in ((missing, "ExecutionDoesNotExist"), ("not-an-arn", "InvalidArn")):
        with pytest.raises(ClientError) as err:
            sfn.redrive_execution(executionArn=target)
        assert err.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError) as err:
        sfn.list_executions(stateMachineArn=arn, redriveFilter="SOMETIMES")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        sfn.redrive_execution(executionArn=running, clientToken="x" * 65)
    assert err.value.response["Error"]["Code"] == "ValidationException"


PICKY = """
import os

def handler(event, context):
    if event == 2 and os.environ.get("FIXED") != "1":
        raise RuntimeError("cannot do 2 yet")
    return event * 10
"""


def test_a_redriven_map_state_runs_only_the_iterations_that_failed(server: CumuloServer, sfn: BaseClient) -> None:
    lam = server.client()
    name = unique("picky")
    function = create(lam, name, zip_of(**{"app.py": PICKY}))["FunctionArn"]
    arn = machine(sfn, {"StartAt": "Each", "States": {"Each": {"Type": "Map", "End": True, "MaxConcurrency": 1, "ItemProcessor": {
        "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": function, "End": True}}}}}})
    execution = sfn.start_execution(stateMachineArn=arn, input="[1, 2, 3]")["executionArn"]
    assert finished(sfn, execution)["status"] == "FAILED"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"FIXED": "1"}})
    before = len(_history(sfn, execution))
    sfn.redrive_execution(executionArn=execution)
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == [10, 20, 30]
    after = _history(sfn, execution)[before:]
    started = [e["mapIterationStartedEventDetails"]["index"] for e in after if e["type"] == "MapIterationStarted"]
    assert after[0]["type"] == "ExecutionRedriven" and started == [1, 2]    # item 1's result is kept
    lam.close()


def test_cumulo_states_redrive(server: CumuloServer, sfn: BaseClient) -> None:
    from tests.integration.test_stepfunctions import cumulo_cli

    lam = server.client()
    name = unique("flaky")
    function = create(lam, name, zip_of(**{"app.py": FLAKY}))["FunctionArn"]
    arn = machine(sfn, {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": function, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert finished(sfn, execution)["status"] == "FAILED"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"FIXED": "1"}})
    done = cumulo_cli(server.home, "states", "redrive", execution, store=server.store)
    assert done.returncode == 0 and done.stdout.strip().endswith("Z") and done.stderr == "", done.stderr
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    again = cumulo_cli(server.home, "states", "redrive", execution, store=server.store)
    assert again.returncode != 0 and "ExecutionNotRedrivable" in again.stderr
    lam.close()
