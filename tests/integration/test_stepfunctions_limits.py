"""Hostile state machines against a real ``cumulo up``: every one fails its execution with AWS's error
(status, error, cause as boto3 shows them), the server's memory stays small, and it keeps serving.

The first test is the incident of issue 17: ``States.ArrayRange(1, 1000000000, 1)`` in a Pass state
grew the server to 24 GB until the kernel killed it, and the Standard execution, resumed at every
start-up, killed it again a second later. The last tests kill the server for real (``kill -9``) while
it evaluates one execution, twice, and check that the third start fails that execution instead of
running it again.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from cumulo import Cumulo
from cumulo.stepfunctions import service
from cumulo.stepfunctions.service import SfnError
from cumulo.stepfunctions.asl import TimerFired
from cumulo.store.sqlite_messages import SQLiteMessageStore
from tests.integration.test_server import CumuloServer, create, unique, zip_of
from tests.integration.test_stepfunctions import finished, machine

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

BIG_RESULT = """
def handler(event, context):
    return "x" * 300000
"""

SMALL = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("sfn-limits") / "home", store=new_store())
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def sfn(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.aws("stepfunctions")
    yield client
    client.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def run(sfn: BaseClient, definition: dict[str, Any], payload: Any = None, kind: str = "STANDARD",
        timeout: float = 30) -> dict[str, Any]:
    arn = machine(sfn, definition, kind)
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({} if payload is None else payload))
    return finished(sfn, started["executionArn"], timeout)


def still_serving(sfn: BaseClient) -> None:
    desc = run(sfn, SMALL)
    assert (desc["status"], json.loads(desc["output"])) == ("SUCCEEDED", {"ok": True})


def pass_state(parameters: Any) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters, "End": True}}}


def jsonata_state(expression: str) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": expression,
                                                                         "End": True}}}


def test_the_array_range_that_killed_the_server_fails_its_execution_and_the_server_keeps_serving(
        server: CumuloServer, sfn: BaseClient) -> None:
    desc = run(sfn, pass_state({"a.$": "States.ArrayRange(1, 1000000000, 1)"}))
    assert (desc["status"], desc["error"]) == ("FAILED", "States.IntrinsicFailure")
    assert "States.ArrayRange: the range has 1000000000 items, more than 1000" in desc["cause"]
    assert rss_mb(server.proc.pid) < 1024
    still_serving(sfn)


@pytest.mark.parametrize("definition, payload, error, words", [
    # 2,000 references to a 200 KB string: 400 MB of JSON if it were written
    (pass_state({"a.$": "States.Array(" + ", ".join(["$.s"] * 2000) + ")"}), {"s": "x" * 200_000},
     "States.DataLimitExceeded", "States.Array returned a result larger than"),
    (pass_state({"a.$": "States.Format('" + "{}" * 2000 + "', " + ", ".join(["$.s"] * 2000) + ")"}),
     {"s": "x" * 200_000}, "States.DataLimitExceeded", "States.Format would return 400000000 characters"),
    (pass_state({"a.$": "States.StringToJson($.s)"}), {"s": "[" * 50_000 + "]" * 50_000},
     "States.IntrinsicFailure", "nested too deeply"),
    (pass_state({f"k{i}.$": "$.s" for i in range(100)}), {"s": "x" * 200_000},
     "States.DataLimitExceeded", "payload template with 100 dynamic fields"),
    (jsonata_state("{% [1..5000000] %}"), None, "States.QueryEvaluationError", "items has more than 1000000"),
    (jsonata_state("{% $reduce([1..40], function($a, $b){$a & $a}, 'x') %}"), None,
     "States.QueryEvaluationError", "is longer than"),
    (jsonata_state("{% ($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000)) %}"), None,
     "States.QueryEvaluationError", "nested more than 500 levels"),
    (jsonata_state("{% $count($distinct([1..900000])) %}"), None, "States.QueryEvaluationError",
     "took longer than 2 seconds"),
    (jsonata_state("{% $match($pad('', 100, 'a') & '!', /(a+)+$/) %}"), None, "States.QueryEvaluationError",
     "may backtrack for too long"),
    ({"StartAt": "State_1", "States": {"State_1": {"Type": "Pass", "Result": {"Arg1": "a" * 257 * 1024},
                                                   "End": True}}}, None, "States.DataLimitExceeded",
     "The state/task 'State_1' returned a result with a size exceeding the maximum number of bytes service limit."),
])
def test_hostile_definitions_fail_with_a_states_error(server: CumuloServer, sfn: BaseClient, definition: Any,
                                                      payload: Any, error: str, words: str) -> None:
    desc = run(sfn, definition, payload)
    assert (desc["status"], desc["error"]) == ("FAILED", error), desc
    assert words in desc["cause"], desc["cause"]
    assert rss_mb(server.proc.pid) < 1024
    still_serving(sfn)


def test_a_map_gathering_more_than_256_kib_fails_before_the_end(sfn: BaseClient) -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0, "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"pad.$": "$$.Execution.Input.pad"},
                                                          "End": True}}}}}}
    desc = run(sfn, definition, {"items": list(range(2000)), "pad": "p" * 30_000})
    assert (desc["status"], desc["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert desc["cause"] == ("The state/task 'M' returned a result with a size exceeding the maximum number of bytes "
                             "service limit.")
    history = sfn.get_execution_history(executionArn=desc["executionArn"], maxResults=1000)["events"]
    assert sum(e["type"] == "MapIterationSucceeded" for e in history) < 10


def test_a_loop_over_a_large_payload_is_written_as_it_goes(server: CumuloServer, sfn: BaseClient) -> None:
    definition = {"StartAt": "Count", "States": {
        "Count": {"Type": "Pass", "Parameters": {"p.$": "$.p", "i.$": "States.MathAdd($.i, 1)"}, "Next": "More?"},
        "More?": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 150, "Next": "Count"}],
                  "Default": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"i.$": "$.i"}, "End": True}}}
    desc = run(sfn, definition, {"p": "x" * 200_000, "i": 0}, timeout=120)
    assert (desc["status"], json.loads(desc["output"])) == ("SUCCEEDED", {"i": 150})
    assert rss_mb(server.proc.pid) < 1024                       # 120 MB of events, never all at once
    events, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=desc["executionArn"], maxResults=100,
                                         **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["type"] == "PassStateEntered" for e in events) == 151
    page = sfn.get_execution_history(executionArn=desc["executionArn"], maxResults=1000)   # ~60 MB of events
    assert len(page["events"]) < 200 and page["nextToken"] == str(page["events"][-1]["id"])
    assert sum(len(json.dumps(e, default=str)) for e in page["events"]) < 24 * 1024 * 1024


def test_the_api_refuses_oversized_inputs_with_aws_errors(sfn: BaseClient) -> None:
    arn = machine(sfn, SMALL)
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=arn, input=json.dumps({"s": "x" * 262_144}))
    assert info.value.response["Error"] == {"Code": "ValidationException", "Message": (
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less "
        "than or equal to 262144")}
    exactly = json.dumps({"s": "é" * ((262_144 - 9) // 2)}, ensure_ascii=False)   # 256 KiB of UTF-8
    assert len(exactly.encode()) <= 262_144
    assert finished(sfn, sfn.start_execution(stateMachineArn=arn, input=exactly)["executionArn"])["status"] == \
        "SUCCEEDED"
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=arn, input="[" * 5000 + "]" * 5000)
    assert info.value.response["Error"]["Code"] == "InvalidExecutionInput"
    assert "nested deeper than 1000 levels" in info.value.response["Error"]["Message"]
    huge = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "x" * (1024 * 1024), "End": True}}}
    with pytest.raises(ClientError) as info:
        sfn.create_state_machine(name=unique("sm"), definition=json.dumps(huge), roleArn="arn:aws:iam::0:role/r")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "Value at 'definition' failed to satisfy constraint" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        sfn.send_task_success(taskToken="t", output=json.dumps("x" * 262_144))
    assert info.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as info:
        sfn.send_task_failure(taskToken="t", error="E", cause="c" * 32_769)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    still_serving(sfn)


def test_a_lambda_result_over_256_kib_fails_the_task_and_states_all_catches_it(server: CumuloServer,
                                                                                sfn: BaseClient) -> None:
    lam = server.client()
    function = create(lam, unique("big"), zip_of(**{"app.py": BIG_RESULT}))["FunctionArn"]
    lam.close()
    caught = run(sfn, {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": function, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
              "End": True},
        "H": {"Type": "Pass", "End": True}}})
    cause = (f"The state/task '{function}' returned a result with a size exceeding the maximum number of bytes "
             "service limit.")
    assert caught["status"] == "SUCCEEDED"
    assert json.loads(caught["output"]) == {"Error": "States.DataLimitExceeded", "Cause": cause}
    history = sfn.get_execution_history(executionArn=caught["executionArn"])["events"]
    failed = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    assert failed[0]["lambdaFunctionFailedEventDetails"] == {"error": "States.DataLimitExceeded", "cause": cause}
    uncaught = run(sfn, {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": function, "End": True}}})
    assert (uncaught["status"], uncaught["error"], uncaught["cause"]) == ("FAILED", "States.DataLimitExceeded", cause)


# ---- a poisoned execution: the server dies evaluating it --------------------------------------------------

# Forty iterations at once, each a third of a second of JSONata (far from its 2 s bound): one step of
# the engine of about ten seconds, during which the test kills the server.
POISON = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
    "Type": "Map", "Items": "{% [1..40] %}", "MaxConcurrency": 40, "End": True,
    "ItemProcessor": {"StartAt": "Work", "States": {"Work": {
        "Type": "Pass", "Output": "{% $count($map([1..15000], function($v){$v * 2})) %}", "End": True}}}}}}


def evaluating(server: CumuloServer) -> str | None:
    """The execution this server's engine is evaluating, as its record beside the store says. A record
    left by a server killed before is not this one's: the new server reads it at start-up to count the
    crash, and killing it before then would leave that crash uncounted."""
    try:
        text = (server.home / "sfn-evaluating").read_bytes().strip()
    except FileNotFoundError:
        return None
    record = json.loads(text) if text else {}
    return record["arn"] if record.get("pid") == server.proc.pid else None


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("T", "t")


def kill_while_evaluating(server: CumuloServer, arn: str, timeout: float = 90) -> None:
    """SIGKILL the server at a moment it is evaluating ``arn``: stop it, check, kill (or let it go on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if evaluating(server) == arn:
            server.proc.send_signal(signal.SIGSTOP)
            while not stopped(server.proc.pid):
                time.sleep(0.001)
            if evaluating(server) == arn:
                server.proc.send_signal(signal.SIGKILL)
                server.proc.wait(10)
                server.close()
                return
            server.proc.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError(f"the server never evaluated {arn}:\n{server.output}")


@pytest.mark.slow
def test_an_execution_that_kills_the_server_twice_is_failed_instead_of_resumed(
        tmp_path: Path, new_store: Callable[[], str]) -> None:
    home, store = tmp_path / "home", new_store()
    srv = CumuloServer(home, store=store)
    try:
        sfn = srv.aws("stepfunctions")
        poison = sfn.start_execution(stateMachineArn=machine(sfn, POISON))["executionArn"]
        waiting = sfn.start_execution(stateMachineArn=machine(sfn, {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "End": True}}}))["executionArn"]
        kill_while_evaluating(srv, poison)                        # dies during the execution's first step
        srv = CumuloServer(home, store=store)                    # forgiven once: resumed, and it dies again
        kill_while_evaluating(srv, poison)
        srv = CumuloServer(home, store=store)
        sfn = srv.aws("stepfunctions")
        desc = finished(sfn, poison, 30)
        assert (desc["status"], desc["error"]) == ("FAILED", "States.Runtime")
        assert desc["cause"].startswith("The execution could not be resumed: the server stopped 2 times while "
                                        "running it")
        history = sfn.get_execution_history(executionArn=poison)["events"]
        assert [e["type"] for e in history] == ["ExecutionStarted", "ExecutionFailed"]
        assert finished(sfn, waiting, 30)["status"] == "SUCCEEDED"    # the other execution was not blamed
        still_serving(sfn)
        time.sleep(1)
        assert finished(sfn, poison)["status"] == "FAILED"         # and it stays failed
    finally:
        srv.close()


@pytest.mark.slow
def test_an_execution_whose_stored_state_cannot_be_loaded_is_failed_at_start_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    srv = CumuloServer(home)
    try:
        sfn = srv.aws("stepfunctions")
        broken = sfn.start_execution(stateMachineArn=machine(sfn, {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 600, "End": True}}}))["executionArn"]
        healthy = sfn.start_execution(stateMachineArn=machine(sfn, {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 2, "End": True}}}))["executionArn"]
        time.sleep(0.5)
        assert srv.stop() == 0
        srv.close()
        store = SQLiteMessageStore(home / "queues.db")           # what an older version wrote, unreadable now
        status, _, _, _, doc = store.executions.get_execution(broken) or ("", "", 0, None, {})
        assert status == "RUNNING" and doc["snapshot"]["frames"]
        doc["snapshot"]["frames"] = [{"from": "a format this version cannot read"}]
        store.executions.save_step(broken, "RUNNING", None, doc, [], [], [], [])
        store.close()
        srv = CumuloServer(home)
        sfn = srv.aws("stepfunctions")
        desc = finished(sfn, broken, 30)
        assert (desc["status"], desc["error"]) == ("FAILED", "States.Runtime")
        assert desc["cause"].startswith("The execution could not be resumed: TypeError")
        assert finished(sfn, healthy, 30)["status"] == "SUCCEEDED"
        still_serving(sfn)
    finally:
        srv.close()
    assert os.path.exists(home / "sfn-evaluating")


def test_express_executions_running_at_once_are_bounded_and_standard_ones_reload_from_the_store(
        tmp_path: Path) -> None:
    with Cumulo(home=tmp_path / "home") as c:            # no engine thread: nothing ends, everything waits
        machines = c.state_machines
        express = machines.create_state_machine("x", {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 60, "End": True}}}, type_="EXPRESS")["stateMachineArn"]
        for _ in range(service.MAX_EXPRESS_RUNNING):
            machines.start_execution(express)
        with pytest.raises(SfnError) as info:
            machines.start_execution(express)
        assert info.value.code == "ExecutionLimitExceeded"
        standard = machines.create_state_machine("s", {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 60, "End": True}}})["stateMachineArn"]
        arns = [machines.start_execution(standard)["executionArn"] for _ in range(service.MAX_LOADED + 50)]
        engine = machines.engine
        for arn in arns:
            engine._handle(arn, "start")
        assert len(engine._live) == service.MAX_LOADED            # the rest are in the store only
        assert all(machines.describe_execution(arn)["status"] == "RUNNING" for arn in arns)
        engine._handle(arns[0], timer_of(machines, arns[0]))  # an evicted one reloads and goes on
        assert machines.describe_execution(arns[0])["status"] == "SUCCEEDED"


def timer_of(machines: Any, arn: str) -> TimerFired:
    """The event that ends the Wait ``arn`` is in (its timer, from the stored snapshot)."""
    snapshot = machines._executions.get_execution(arn)[4]["snapshot"]
    (frame,) = [f for f in snapshot["frames"] if f["work"]]
    (timer_id,) = frame["work"]["timers"]
    return TimerFired(timer_id)
