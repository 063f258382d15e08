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
    parents, deadline = {}, time.monotonic() + 30
    while len(parents) < 2 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=seen, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            found = HEADER.fullmatch(m["Body"])
            assert found is not None
            parents[found.group(1)] = found.group(2)
    assert set(parents) == {bus_root, machine_root}
    (put,) = segments(server, bus_root)                 # the caller's PutEvents: X-Ray's EventBridge node
    assert (put["name"], put["parent_id"], put["aws"]["operation"]) == ("EventBridge", "00000000000000bb", "PutEvents")
    assert parents[bus_root] == put["id"]               # the target runs under it (PassThrough: as passed)
    assert parents[machine_root] == "00000000000000cc"  # a machine without tracing passes the header on as is


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
    docs = segments(server, root, want=3)
    assert {d["origin"] for d in docs} == {"AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function"}
    stage = by_origin(docs, "AWS::ApiGateway::Stage", "traced/$default")     # a sampled client: the stage too
    (call,) = stage["subsegments"]
    assert (call["name"], call["namespace"], stage["http"]["request"]["method"], stage["http"]["response"]["status"]) \
        == ("Lambda", "aws", "GET", 200)
    assert by_origin(docs, "AWS::Lambda", "front")["parent_id"] == call["id"]


CHAIN = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.12, Handler: index.handler, Tracing: Active, Timeout: 30}
Resources:
  Shop:
    Type: AWS::Serverless::Api
    Properties: {StageName: prod, TracingEnabled: true}
  Orders:
    Type: AWS::SQS::Queue
  Front:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: |
        import os, boto3
        def handler(event, context):
            boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody="order-7")
            return {"statusCode": 200, "body": os.environ["_X_AMZN_TRACE_ID"]}
      Environment: {Variables: {QUEUE: !Ref Orders}}
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Shop, Path: /order, Method: get}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: |
        import os, boto3
        def handler(event, context):
            boto3.client("stepfunctions").start_execution(stateMachineArn=os.environ["MACHINE"], input="{}")
      Environment: {Variables: {MACHINE: !Ref Fulfil}}
      Events:
        Orders: {Type: SQS, Properties: {Queue: !GetAtt Orders.Arn, BatchSize: 1}}
  Pack:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: |
        def handler(event, context):
            return {"packed": True}
  Fulfil:
    Type: AWS::Serverless::StateMachine
    Properties:
      Tracing: {Enabled: true}
      Definition:
        StartAt: PackIt
        States:
          PackIt:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters: {FunctionName: !Ref Pack, Payload: {}}
            End: true
Outputs:
  Api: {Value: !Ref Shop}
  Machine: {Value: !Ref Fulfil}
"""


def test_api_function_queue_function_state_machine_is_one_trace_with_its_edges(server: CumuloServer) -> None:
    """The chain a team reads on X-Ray's map: a REST stage with TracingEnabled starts the trace, the
    function behind it sends to a queue (SQS: a subsegment of the caller), the queue's function
    starts a traced state machine, whose task invokes a third function."""
    from tests.integration.test_gateway import Gateway

    cfn = server.aws("cloudformation")
    cfn.create_stack(StackName="chain", TemplateBody=CHAIN, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cfn.get_waiter("stack_create_complete").wait(StackName="chain", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="chain")["Stacks"][0]["Outputs"]}
    described = server.aws("stepfunctions").describe_state_machine(stateMachineArn=outputs["Machine"])
    assert described["tracingConfiguration"] == {"enabled": True}
    gateway = Gateway(server)
    for _ in range(10):      # no header from the client: the stage samples (X-Ray's rule: the first each second)
        status, _, body = gateway.request("GET", f"/{outputs['Api']}/prod/order")
        assert status == 200, body
        m = HEADER.fullmatch(body.decode())
        assert m is not None, body
        if m.group(3) == "1":
            break
        time.sleep(1.1)
    root = m.group(1)

    deadline = time.monotonic() + 60
    while True:
        docs = segments(server, root, want=8)
        origins = sorted(d.get("origin", "") for d in docs)
        if "AWS::StepFunctions::StateMachine" in origins and origins.count("AWS::Lambda") == 3 \
                or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert origins == ["AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda", "AWS::Lambda",
                       "AWS::Lambda::Function", "AWS::Lambda::Function", "AWS::Lambda::Function",
                       "AWS::StepFunctions::StateMachine"], docs

    def one(origin: str, prefix: str) -> dict[str, Any]:
        (found,) = [d for d in docs if d.get("origin") == origin and d["name"].startswith(prefix)]
        return found

    stage = one("AWS::ApiGateway::Stage", "")
    assert stage["name"].endswith("/prod") and "parent_id" not in stage      # the trace's entry
    assert stage["http"]["request"]["method"] == "GET" and stage["http"]["response"]["status"] == 200
    front, front_fn = one("AWS::Lambda", "chain-Front"), one("AWS::Lambda::Function", "chain-Front")
    worker, worker_fn = one("AWS::Lambda", "chain-Worker"), one("AWS::Lambda::Function", "chain-Worker")
    pack = one("AWS::Lambda", "chain-Pack")
    machine = one("AWS::StepFunctions::StateMachine", "")
    assert front["parent_id"] == next(s["id"] for s in stage["subsegments"] if s["name"] == "Lambda")
    sqs_call = next(s for s in walk(front_fn) if s.get("name") == "SQS")
    assert (sqs_call["namespace"], sqs_call["aws"]["operation"]) == ("aws", "SendMessage")
    assert worker["parent_id"] == sqs_call["id"]                    # the message's AWSTraceHeader
    assert machine["parent_id"] == worker_fn["id"]                  # the worker's StartExecution
    (state,) = machine["subsegments"]
    (task_call,) = state["subsegments"]
    assert (state["name"], task_call["name"]) == ("PackIt", "Lambda")
    assert pack["parent_id"] == task_call["id"]

    xray = server.aws("xray")
    summary = next(s for s in xray.get_trace_summaries(StartTime=time.time() - 600, EndTime=time.time() + 60)[
        "TraceSummaries"] if s["Id"] == root)
    assert summary["EntryPoint"]["Type"] == "AWS::ApiGateway::Stage"
    assert summary["Http"]["HttpMethod"] == "GET" and summary["Http"]["HttpStatus"] == 200
    assert {t for t in (s["Type"] for s in summary["ServiceIds"])} == {
        "AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"}

    graph = xray.get_service_graph(StartTime=time.time() - 600, EndTime=time.time() + 60)["Services"]
    names = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in graph}
    edges = {(names[s["ReferenceId"]], names[e["ReferenceId"]]) for s in graph for e in s["Edges"]}
    fn = {key: next(n for n in names.values() if n[0].startswith(f"chain-{key}") and n[1] == kind)
          for key, kind in (("Front", "AWS::Lambda"), ("Worker", "AWS::Lambda"), ("Pack", "AWS::Lambda"))}
    stage_node = (stage["name"], "AWS::ApiGateway::Stage")
    machine_node = (machine["name"], "AWS::StepFunctions::StateMachine")
    front_node, worker_node = (front_fn["name"], "AWS::Lambda::Function"), (worker_fn["name"], "AWS::Lambda::Function")
    wanted = {(stage_node, fn["Front"]), (fn["Front"], front_node), (front_node, ("SQS", "AWS::SQS")),
              (("SQS", "AWS::SQS"), fn["Worker"]), (fn["Worker"], worker_node), (worker_node, machine_node),
              (machine_node, fn["Pack"])}
    assert wanted <= edges, sorted(edges)
    assert not any(a == stage_node and b == ("Lambda", "AWS::Lambda") for a, b in edges)   # no inferred twin


def test_a_topic_carries_the_publishers_trace_to_its_queues_and_functions(server: CumuloServer) -> None:
    sqs, sns = server.aws("sqs"), server.aws("sns")
    inbox = sqs.create_queue(QueueName="topic-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    seen = sqs.create_queue(QueueName="topic-witnessed")["QueueUrl"]
    fn = create(server, "subscriber", SEEN, env={"SEEN": seen})["FunctionArn"]
    topic = sns.create_topic(Name="traced-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn)
    root, caller = f"1-{int(time.time()):08x}-{'5e' * 12}", "00000000000000ee"
    with_header(sns, f"Root={root};Parent={caller};Sampled=1").publish(TopicArn=topic, Message="hello")

    deadline, got = time.monotonic() + 30, []
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1,
                                  MessageSystemAttributeNames=["AWSTraceHeader"]).get("Messages", [])
    assert got, "the queue got nothing"
    queued = HEADER.fullmatch(got[0]["Attributes"]["AWSTraceHeader"])
    assert queued is not None and queued.group(1) == root and queued.group(3) == "1"
    got = []
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=seen, WaitTimeSeconds=1).get("Messages", [])
    assert got, "the function did not run"
    invoked = HEADER.fullmatch(got[0]["Body"])
    assert invoked is not None and invoked.group(1) == root

    docs = segments(server, root, want=3)
    service = by_origin(docs, "AWS::Lambda", "subscriber")
    (publish,) = [d for d in docs if d.get("name") == "SNS"]        # the publisher's call, a subsegment of it
    assert (publish["parent_id"], publish["aws"]["operation"], publish["namespace"]) == (caller, "Publish", "aws")
    assert service["parent_id"] == publish["id"] == queued.group(2)
