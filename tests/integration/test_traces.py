"""X-Ray traces as a team reads them, with unchanged boto3 against a real ``cumulo up``: a traced
function's segments (the service's, the function's with Initialization/Invocation/Overhead), the
trace header it sees, its own SDK calls continuing the trace into another function and through a
queue, Powertools' ``Tracer`` and the X-Ray SDK sending subsegments to the daemon's UDP port from
inside the sandbox, and the service graph."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.test_cloudwatch import ROLE, zipped
from tests.integration.test_server import CumuloServer
from tests.integration.test_stepfunctions import states_role

HEADER = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])")
ECHO = """
import os
def handler(event, context):
    return os.environ.get("_X_AMZN_TRACE_ID")
"""
CALLER = """
import json, os, boto3
def handler(event, context):
    if event.get("queue"):
        boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="hi")
    answer = boto3.client("lambda").invoke(FunctionName=event["callee"], Payload=b"{}")
    return {"mine": os.environ["_X_AMZN_TRACE_ID"], "callee": json.loads(answer["Payload"].read())}
"""
SEEN = """
import os, boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["SEEN"], MessageBody=os.environ["_X_AMZN_TRACE_ID"])
"""
POWERTOOLS = """
from aws_lambda_powertools import Tracer
tracer = Tracer(service="orders")

@tracer.capture_method
def price(n):
    tracer.put_annotation(key="order", value="o-42")
    return n * 3

@tracer.capture_lambda_handler
def handler(event, context):
    return price(event["n"])
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("xray") / "home", "--iam", "off")
    yield s
    s.close()


def create(server: CumuloServer, name: str, source: str, tracing: str = "Active", env: dict[str, str] | None = None,
           trees: dict[str, Path] | None = None, files: dict[str, str] | None = None) -> dict[str, Any]:
    return server.client().create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Timeout=30, MemorySize=256,
        Code={"ZipFile": zipped({"app.py": source, **(files or {})}, trees)},
        TracingConfig={"Mode": tracing}, Environment={"Variables": env or {}})


def traced_client(server: CumuloServer, header: str) -> Any:
    """A Lambda client whose requests carry ``X-Amzn-Trace-Id: header``, as a traced caller's do."""
    client = server.client()
    client.meta.events.register("before-sign.lambda.*", lambda request, **kw: request.headers.__setitem__(
        "X-Amzn-Trace-Id", header))
    return client


def segments(server: CumuloServer, root: str, want: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The trace's segment documents, once at least ``want`` are kept."""
    xray = server.aws("xray")
    deadline = time.monotonic() + timeout
    while True:
        traces = xray.batch_get_traces(TraceIds=[root])["Traces"]
        docs = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
        if len(docs) >= want or time.monotonic() > deadline:
            return docs
        time.sleep(0.2)


def by_origin(docs: list[dict[str, Any]], origin: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d.get("origin") == origin and d["name"] == name]
    assert len(found) == 1, docs
    return found[0]


def walk(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield doc
    for sub in doc.get("subsegments", []):
        yield from walk(sub)


def test_a_traced_function_records_lambdas_segments_under_the_callers_trace(server: CumuloServer) -> None:
    config = create(server, "echo", ECHO)
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert server.client().get_function_configuration(FunctionName="echo")["TracingConfig"] == {"Mode": "Active"}
    root, caller = f"1-{int(time.time()):08x}-{'ab' * 12}", "1234567890abcdef"
    seen = json.loads(traced_client(server, f"Root={root};Parent={caller};Sampled=1").invoke(
        FunctionName="echo")["Payload"].read())
    m = HEADER.fullmatch(seen)
    assert m is not None, seen
    assert m.group(1) == root and m.group(3) == "1"

    docs = segments(server, root, want=2)
    service = by_origin(docs, "AWS::Lambda", "echo")
    function = by_origin(docs, "AWS::Lambda::Function", "echo")
    assert service["parent_id"] == caller                      # under the caller's segment
    assert function["parent_id"] == service["id"]
    assert function["id"] == m.group(2)                        # the function's Parent: its own segment
    phases = [s["name"] for s in function["subsegments"]]
    # a cold start: Init, or Restore where it was forked from a snapshot (SnapStart, Cumulo's default)
    assert phases in (["Initialization", "Invocation", "Overhead"], ["Restore", "Invocation", "Overhead"])
    assert service["start_time"] <= function["start_time"] <= function["end_time"] <= service["end_time"]

    summaries = server.aws("xray").get_trace_summaries(StartTime=time.time() - 300, EndTime=time.time() + 60)
    summary = next(s for s in summaries["TraceSummaries"] if s["Id"] == root)
    assert {(s["Name"], s["Type"]) for s in summary["ServiceIds"]} == {("echo", "AWS::Lambda"),
                                                                     ("echo", "AWS::Lambda::Function")}
    assert summary["HasFault"] is False and summary["Duration"] >= 0


def test_unsampled_and_pass_through_invocations_keep_the_callers_root_and_record_nothing(server: CumuloServer) -> None:
    create(server, "quiet", ECHO, tracing="PassThrough")
    root = f"1-{int(time.time()):08x}-{'cd' * 12}"
    for name, sampled in (("quiet", "1"), ("echo", "0")):
        seen = json.loads(traced_client(server, f"Root={root};Parent=00000000000000aa;Sampled={sampled}").invoke(
            FunctionName=name)["Payload"].read())
        m = HEADER.fullmatch(seen)
        assert m is not None and m.group(1) == root and m.group(3) == sampled, seen
    time.sleep(1.5)     # past the recorder's flush
    assert server.aws("xray").batch_get_traces(TraceIds=[root])["Traces"] == []
    untraced = json.loads(server.client().invoke(FunctionName="quiet")["Payload"].read())
    assert HEADER.fullmatch(untraced).group(3) == "0"     # type: ignore[union-attr]


def test_a_functions_sdk_calls_carry_its_trace_to_the_next_function_and_through_a_queue(server: CumuloServer) -> None:
    sqs = server.aws("sqs")
    work = sqs.create_queue(QueueName="traced-work")["QueueUrl"]
    seen = sqs.create_queue(QueueName="traced-seen")["QueueUrl"]
    create(server, "caller", CALLER)
    create(server, "consumer", SEEN, env={"SEEN": seen})
    work_arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    server.client().create_event_source_mapping(EventSourceArn=work_arn, FunctionName="consumer", BatchSize=1)
    root = f"1-{int(time.time()):08x}-{'ef' * 12}"
    out = json.loads(traced_client(server, f"Root={root};Sampled=1").invoke(
        FunctionName="caller", Payload=json.dumps({"callee": "echo", "queue": work}))["Payload"].read())
    mine, callee = HEADER.fullmatch(out["mine"]), HEADER.fullmatch(out["callee"])
    assert mine is not None and callee is not None
    assert mine.group(1) == callee.group(1) == root          # botocore sent X-Amzn-Trace-Id: the same trace

    deadline, got = time.monotonic() + 30, []
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=seen, WaitTimeSeconds=1).get("Messages", [])
    assert got, "the queue's consumer did not run"
    assert HEADER.fullmatch(got[0]["Body"]).group(1) == root    # type: ignore[union-attr]

    docs = segments(server, root, want=6)
    caller_fn = by_origin(docs, "AWS::Lambda::Function", "caller")
    assert by_origin(docs, "AWS::Lambda", "echo")["parent_id"] == caller_fn["id"]
    assert {d["name"] for d in docs} == {"caller", "echo", "consumer"}

    graph = server.aws("xray").get_service_graph(StartTime=time.time() - 300, EndTime=time.time() + 60)["Services"]
    refs = {(s["Name"], s["Type"]): s for s in graph}
    edges = {refs[("caller", "AWS::Lambda::Function")]["ReferenceId"]: 0}
    targets = {e["ReferenceId"] for e in refs[("caller", "AWS::Lambda::Function")]["Edges"]}
    assert refs[("echo", "AWS::Lambda")]["ReferenceId"] in targets, (graph, edges)


def with_header(client: Any, header: str) -> Any:
    client.meta.events.register("before-sign.*.*", lambda request, **kw: request.headers.__setitem__(
        "X-Amzn-Trace-Id", header))
    return client


def test_the_bus_and_state_machine_tasks_carry_the_callers_trace_to_functions(server: CumuloServer) -> None:
    sqs = server.aws("sqs")
    seen = sqs.create_queue(QueueName="witnessed")["QueueUrl"]
    arn = create(server, "witness", SEEN, tracing="PassThrough", env={"SEEN": seen})["FunctionArn"]
    events = server.aws("events")
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "w", "Arn": arn}])
    sfn = server.aws("stepfunctions")
    machine = sfn.create_state_machine(name="witnessing", roleArn=states_role(sfn), definition=json.dumps(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                          "Parameters": {"FunctionName": "witness", "Payload": {}}, "End": True}}}
    ))["stateMachineArn"]
    bus_root = f"1-{int(time.time()):08x}-{'56' * 12}"
    machine_root = f"1-{int(time.time()):08x}-{'78' * 12}"
    with_header(server.aws("events"), f"Root={bus_root};Parent=00000000000000bb;Sampled=1").put_events(
        Entries=[{"Source": "shop", "DetailType": "order", "Detail": "{}"}])
    with_header(server.aws("stepfunctions"), f"Root={machine_root};Parent=00000000000000cc;Sampled=1").start_execution(
        stateMachineArn=machine)
    roots, deadline = set(), time.monotonic() + 30
    while len(roots) < 2 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=seen, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            roots.add(HEADER.fullmatch(m["Body"]).group(1))     # type: ignore[union-attr]
    assert roots == {bus_root, machine_root}


def test_powertools_tracer_inside_a_function_sends_its_subsegments_to_the_daemon(server: CumuloServer) -> None:
    import aws_lambda_powertools
    import aws_xray_sdk
    import jmespath
    import typing_extensions
    import wrapt

    trees = {"aws_lambda_powertools": Path(aws_lambda_powertools.__file__).parent,
             "aws_xray_sdk": Path(aws_xray_sdk.__file__).parent, "jmespath": Path(jmespath.__file__).parent,
             "wrapt": Path(wrapt.__file__).parent}
    create(server, "priced", POWERTOOLS, trees=trees,
           files={"typing_extensions.py": Path(typing_extensions.__file__).read_text()})
    root = f"1-{int(time.time()):08x}-{'12' * 12}"
    result = traced_client(server, f"Root={root};Sampled=1").invoke(FunctionName="priced", Payload=b'{"n": 4}')
    assert "FunctionError" not in result, result["Payload"].read()
    assert json.loads(result["Payload"].read()) == 12

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        docs = segments(server, root, want=2)
        names = {d.get("name") for doc in docs for d in walk(doc)}
        if "## app.price" in names:
            break
        time.sleep(0.2)
    function = by_origin(docs, "AWS::Lambda::Function", "priced")
    names = [d["name"] for d in walk(function)]
    handler = next(d for d in walk(function) if d["name"] == "## handler")
    assert [d["name"] for d in handler["subsegments"]] == ["## app.price"], names   # Tracer's, nested
    summaries = server.aws("xray").get_trace_summaries(StartTime=time.time() - 300, EndTime=time.time() + 60,
                                                       FilterExpression='annotation.order = "o-42"')
    assert [s["Id"] for s in summaries["TraceSummaries"]] == [root]


def test_put_trace_segments_answers_bad_documents_and_keeps_good_ones(server: CumuloServer) -> None:
    xray = server.aws("xray")
    root, now = f"1-{int(time.time()):08x}-{'34' * 12}", time.time()
    good = {"trace_id": root, "id": "0123456789abcdef", "name": "shop", "start_time": now - 1, "end_time": now,
            "http": {"request": {"method": "GET", "url": "http://shop/"}, "response": {"status": 200}}}
    answer = xray.put_trace_segments(TraceSegmentDocuments=[
        json.dumps(good), json.dumps({**good, "id": "nothex"}), json.dumps({**good, "id": "fedcba9876543210",
                                                                             "end_time": now - 5}), "not json"])
    assert [u.get("Id") for u in answer["UnprocessedTraceSegments"]] == ["nothex", "fedcba9876543210", ""]
    kept = segments(server, root)
    assert [d["name"] for d in kept] == ["shop"]
    summary = next(s for s in xray.get_trace_summaries(StartTime=now - 60, EndTime=now + 60)["TraceSummaries"]
                   if s["Id"] == root)
    assert summary["Http"] == {"HttpURL": "http://shop/", "HttpMethod": "GET", "HttpStatus": 200}
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.get_trace_summaries(StartTime=now, EndTime=now + 60, FilterExpression="responsetime > 5")


def test_an_asynchronous_invocation_runs_under_its_callers_trace(server: CumuloServer) -> None:
    sqs = server.aws("sqs")
    seen = sqs.create_queue(QueueName="async-witnessed")["QueueUrl"]
    create(server, "later", SEEN, tracing="PassThrough", env={"SEEN": seen})
    root = f"1-{int(time.time()):08x}-{'9b' * 12}"
    answer = traced_client(server, f"Root={root};Parent=00000000000000dd;Sampled=1").invoke(
        FunctionName="later", InvocationType="Event", Payload=b"{}")
    assert answer["StatusCode"] == 202
    deadline, got = time.monotonic() + 30, []
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=seen, WaitTimeSeconds=1).get("Messages", [])
    assert got, "the event did not run"
    m = HEADER.fullmatch(got[0]["Body"])
    assert m is not None and m.group(1) == root and m.group(2) == "00000000000000dd"   # PassThrough: as sent


def test_an_http_apis_client_header_is_the_invocations_trace(server: CumuloServer) -> None:
    from tests.integration.test_gateway import Gateway

    create(server, "front", ECHO)
    apigw = server.aws("apigatewayv2")
    api = apigw.create_api(Name="traced", ProtocolType="HTTP")
    integration = apigw.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
        IntegrationUri="arn:aws:lambda:us-east-1:000000000000:function:front")
    apigw.create_route(ApiId=api["ApiId"], RouteKey="GET /t", Target=f"integrations/{integration['IntegrationId']}")
    root = f"1-{int(time.time()):08x}-{'4c' * 12}"
    status, _, body = Gateway(server).request("GET", f"/{api['ApiId']}/t",
                                              headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=1"})
    assert status == 200, body
    m = HEADER.fullmatch(body.decode())
    assert m is not None and m.group(1) == root
    assert {d["origin"] for d in segments(server, root, want=2)} == {"AWS::Lambda", "AWS::Lambda::Function"}
