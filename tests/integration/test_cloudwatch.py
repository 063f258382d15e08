"""CloudWatch as a team uses it, with unchanged boto3 and the AWS CLI against a real ``cumulo up``:
custom metrics in and out, Lambda's own metrics in a dashboard query with metric math, an alarm on
``Errors`` whose action invokes a function, and Powertools' ``Metrics`` (Embedded Metric Format)
inside a function becoming metrics."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer
from tests.integration.test_stepfunctions import states_role

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"
ROLE = "arn:aws:iam::000000000000:role/r"
FLAKY = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("boom")
    return "ok"
"""
PAGER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps(event))
"""
POWERTOOLS = """
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
metrics = Metrics(namespace="Shop", service="orders")
@metrics.log_metrics
def handler(event, context):
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=event["n"])
    return "ok"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("cw") / "home", "--iam", "off", "--metrics-port", "0",
                     env={"CUMULO_METRICS_INTERVAL_S": "1"}, store=new_store())
    yield s
    s.close()


def zipped(files: dict[str, str], trees: dict[str, Path] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        for prefix, root in (trees or {}).items():
            for path in root.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    z.write(path, f"{prefix}/{path.relative_to(root)}")
    return buf.getvalue()


def function(server: CumuloServer, name: str, source: str, env: dict[str, str] | None = None,
             trees: dict[str, Path] | None = None) -> str:
    return server.client().create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Timeout=30,
        Code={"ZipFile": zipped({"app.py": source}, trees)},
        Environment={"Variables": env or {}})["FunctionArn"]


def cli(server: CumuloServer, *args: str) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "cloudwatch", *args, "--output", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_custom_metrics_in_and_out_with_boto3_and_the_cli(server: CumuloServer) -> None:
    cw = server.aws("cloudwatch")
    now = time.time()
    dims = [{"Name": "Service", "Value": "api"}]
    cw.put_metric_data(Namespace="App", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Values": [10, 20, 30, 400], "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Value": 40, "Unit": "Milliseconds", "StorageResolution": 1}])
    cli(server, "put-metric-data", "--namespace", "App", "--metric-name", "Latency", "--value", "50",
        "--unit", "Milliseconds", "--dimensions", "Service=api")
    got = cw.get_metric_statistics(Namespace="App", MetricName="Latency", Dimensions=dims, StartTime=now - 120,
                                   EndTime=now + 120, Period=300, Statistics=["SampleCount", "Sum", "Maximum"],
                                   ExtendedStatistics=["p99"])
    (point,) = got["Datapoints"]
    assert (point["SampleCount"], point["Sum"], point["Maximum"], point["Unit"]) == (6, 550, 400, "Milliseconds")
    assert point["ExtendedStatistics"]["p99"] == 400
    listed = cli(server, "list-metrics", "--namespace", "App")["Metrics"]
    assert listed == [{"Namespace": "App", "MetricName": "Latency", "Dimensions": dims}]
    stats = cli(server, "get-metric-statistics", "--namespace", "App", "--metric-name", "Latency",
                "--dimensions", "Name=Service,Value=api", "--start-time", str(int(now - 600)),
                "--end-time", str(int(now + 600)), "--period", "3600", "--statistics", "Average")
    assert [p["Average"] for p in stats["Datapoints"]] == [pytest.approx(550 / 6)]
    with pytest.raises(ClientError) as caught:
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "Invocations", "Value": 1}])
    e = caught.value.response
    assert (e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as caught:
        cw.get_metric_statistics(Namespace="App", MetricName="Latency", StartTime=now, EndTime=now + 60,
                                 Period=61, Statistics=["Sum"])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_a_dashboard_query_of_lambdas_metrics_with_metric_math(server: CumuloServer) -> None:
    function(server, "flaky", FLAKY)
    lam = server.client()
    started = time.time()
    for i in range(10):
        lam.invoke(FunctionName="flaky", Payload=json.dumps({"fail": i < 3}))
    lam.publish_version(FunctionName="flaky")
    lam.create_alias(FunctionName="flaky", Name="live", FunctionVersion="1")
    lam.invoke(FunctionName="flaky", Qualifier="live", Payload=b"{}")

    def stat(metric: str, stat: str, **dims: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
                "Period": 60, "Stat": stat}

    result = server.aws("cloudwatch").get_metric_data(
        StartTime=started - 120, EndTime=time.time() + 60, ScanBy="TimestampAscending",
        MetricDataQueries=[
            {"Id": "inv", "MetricStat": stat("Invocations", "Sum", FunctionName="flaky"), "ReturnData": False},
            {"Id": "err", "MetricStat": stat("Errors", "Sum", FunctionName="flaky"), "ReturnData": False},
            {"Id": "rate", "Expression": "100 * err / inv", "Label": "error rate"},
            {"Id": "p99", "MetricStat": stat("Duration", "p99", FunctionName="flaky")},
            {"Id": "live", "MetricStat": stat("Invocations", "Sum", FunctionName="flaky", Resource="flaky:live")},
            {"Id": "account", "MetricStat": stat("Invocations", "Sum")},
            {"Id": "peak", "MetricStat": stat("ConcurrentExecutions", "Maximum", FunctionName="flaky")}])
    by_id = {r["Id"]: r for r in result["MetricDataResults"]}
    assert set(by_id) == {"rate", "p99", "live", "account", "peak"}
    assert sum(by_id["live"]["Values"]) == 1
    assert sum(by_id["account"]["Values"]) >= 11
    assert by_id["rate"]["Label"] == "error rate"
    # within the minutes the invocations fell in: 3 errors of 11
    errors = by_id["rate"]["Values"]
    assert errors and all(0 <= v <= 100 for v in errors) and max(errors) > 0
    assert all(v > 0 for v in by_id["p99"]["Values"]) and by_id["peak"]["Values"][0] >= 1
    assert {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": "flaky"}]} \
        in server.aws("cloudwatch").list_metrics(Namespace="AWS/Lambda", MetricName="Errors")["Metrics"]


def test_an_alarm_on_errors_invokes_a_function(server: CumuloServer) -> None:
    sqs = server.aws("sqs")
    seen = sqs.create_queue(QueueName="pages")["QueueUrl"]
    pager = function(server, "pager", PAGER, {"SEEN": seen})
    function(server, "fragile", FLAKY)
    cw = server.aws("cloudwatch")
    cw.put_metric_alarm(AlarmName="fragile-errors", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
                        Dimensions=[{"Name": "FunctionName", "Value": "fragile"}], Period=60, EvaluationPeriods=1,
                        Threshold=0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                        AlarmActions=[pager], AlarmDescription="fragile fails")
    server.client().invoke(FunctionName="fragile", Payload=json.dumps({"fail": True}))
    deadline = time.monotonic() + 30
    messages: list[Any] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=seen, WaitTimeSeconds=1).get("Messages", [])
    assert messages, "the alarm's action never invoked the function"
    event = json.loads(messages[0]["Body"])
    assert (event["source"], event["alarmData"]["alarmName"], event["alarmData"]["state"]["value"]) == (
        "aws.cloudwatch", "fragile-errors", "ALARM")
    (alarm,) = cw.describe_alarms(AlarmNames=["fragile-errors"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM" and alarm["StateReason"].startswith("Threshold Crossed")
    history = cw.describe_alarm_history(AlarmName="fragile-errors")["AlarmHistoryItems"]
    assert {"StateUpdate", "Action", "ConfigurationUpdate"} <= {h["HistoryItemType"] for h in history}
    cw.set_alarm_state(AlarmName="fragile-errors", StateValue="OK", StateReason="acknowledged")
    # (the next evaluation, each second here, may set it back to ALARM: the errors are still in this minute)
    updates = [json.loads(h["HistoryData"]) for h in cw.describe_alarm_history(
        AlarmName="fragile-errors", HistoryItemType="StateUpdate")["AlarmHistoryItems"]]
    assert {"stateValue": "OK", "stateReason": "acknowledged"} in [u["newState"] for u in updates]
    cw.delete_alarms(AlarmNames=["fragile-errors"])
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName="fragile-errors", StateValue="OK", StateReason="x")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


def test_powertools_metrics_in_a_function_become_metrics(server: CumuloServer) -> None:
    import aws_lambda_powertools
    import jmespath
    import typing_extensions

    site = Path(aws_lambda_powertools.__file__).parent.parent
    code = {"app.py": POWERTOOLS, "typing_extensions.py": Path(typing_extensions.__file__).read_text()}
    server.client().create_function(
        FunctionName="shop", Runtime="python3.11", Role=ROLE, Handler="app.handler", Timeout=30, MemorySize=256,
        Code={"ZipFile": zipped(code, {"aws_lambda_powertools": site / "aws_lambda_powertools",
                                       "jmespath": Path(jmespath.__file__).parent})})
    started = time.time()
    for n in (2, 3):
        result = server.client().invoke(FunctionName="shop", Payload=json.dumps({"n": n}))
        assert "FunctionError" not in result, result["Payload"].read()
    got = server.aws("cloudwatch").get_metric_statistics(
        Namespace="Shop", MetricName="OrdersPlaced", Dimensions=[{"Name": "service", "Value": "orders"}],
        StartTime=started - 120, EndTime=time.time() + 60, Period=300, Statistics=["Sum", "SampleCount"])
    assert [(p["Sum"], p["SampleCount"], p["Unit"]) for p in got["Datapoints"]] == [(5.0, 2.0, "Count")]


def test_queues_state_machines_the_bus_and_apis_publish_their_metrics(server: CumuloServer) -> None:
    import urllib.request

    started = time.time()
    sqs = server.aws("sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])

    sfn = server.aws("stepfunctions")
    machine = sfn.create_state_machine(name="done", roleArn=states_role(sfn), definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 20
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)

    events = server.aws("events")
    inbox = sqs.create_queue(QueueName="bus-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": inbox_arn}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "placed", "Detail": "{}"}] * 2)
    deadline = time.monotonic() + 20
    while not sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1).get("Messages") and time.monotonic() < deadline:
        pass

    function(server, "web", FLAKY)
    apigw = server.aws("apigatewayv2")
    api = apigw.create_api(Name="web", ProtocolType="HTTP")
    integration = apigw.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
        IntegrationUri="arn:aws:lambda:us-east-1:000000000000:function:web")
    apigw.create_route(ApiId=api["ApiId"], RouteKey="GET /hello", Target=f"integrations/{integration['IntegrationId']}")
    with urllib.request.urlopen(api["ApiEndpoint"] + "/hello", timeout=30) as answer:
        assert answer.status == 200
    try:
        urllib.request.urlopen(api["ApiEndpoint"] + "/nowhere", timeout=30)
    except urllib.error.HTTPError as err:
        assert err.code == 404
    server.client().invoke(FunctionName="web", InvocationType="Event", Payload=b"{}")

    cw = server.aws("cloudwatch")

    def total(namespace: str, metric: str, stat: str = "Sum", **dims: str) -> float:
        points = cw.get_metric_statistics(Namespace=namespace, MetricName=metric, StartTime=started - 120,
                                          EndTime=time.time() + 60, Period=3600, Statistics=[stat],
                                          Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()])["Datapoints"]
        return sum(p[stat] for p in points)

    assert total("AWS/SQS", "NumberOfMessagesSent", QueueName="work") == 3
    assert total("AWS/SQS", "NumberOfMessagesReceived", QueueName="work") == 2
    assert total("AWS/SQS", "NumberOfMessagesDeleted", QueueName="work") == 1
    assert total("AWS/States", "ExecutionsStarted", StateMachineArn=machine) == 1
    assert total("AWS/States", "ExecutionsSucceeded", StateMachineArn=machine) == 1
    assert total("AWS/States", "ExecutionTime", "SampleCount", StateMachineArn=machine) == 1
    assert total("AWS/Events", "MatchedEvents", RuleName="orders") == 2
    assert total("AWS/Events", "Invocations", RuleName="orders") == 2
    assert total("AWS/ApiGateway", "Count", ApiId=api["ApiId"]) == 2
    assert total("AWS/ApiGateway", "4xx", ApiId=api["ApiId"]) == 1
    assert total("AWS/ApiGateway", "Latency", "SampleCount", ApiId=api["ApiId"], Stage="$default") == 2
    # the function's answer only, for the one request that reached it (the other matched no route)
    assert total("AWS/ApiGateway", "IntegrationLatency", "SampleCount", ApiId=api["ApiId"], Stage="$default") == 1
    assert total("AWS/Lambda", "AsyncEventsReceived", FunctionName="web") == 1
    deadline = time.monotonic() + 20          # the queue's depth is sampled at each flush (1 s here)
    while total("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", QueueName="work") < 1 and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    assert total("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", QueueName="work") == 1
    # the one message left was sent at the start of this test: its age is seconds, not more
    age = total("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", QueueName="work")
    assert 0 <= age <= time.time() - started + 1
    assert cw.get_metric_statistics(Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage",
                                    StartTime=started - 120, EndTime=time.time() + 60, Period=3600,
                                    Statistics=["Maximum"], Dimensions=[{"Name": "QueueName", "Value": "work"}]
                                    )["Datapoints"][0]["Unit"] == "Seconds"


def test_a_prometheus_scrape_and_cumulo_stats(server: CumuloServer) -> None:
    import re
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    function(server, "counted", FLAKY)
    for i in range(4):
        server.client().invoke(FunctionName="counted", Payload=json.dumps({"fail": i == 0}))
    url = re.search(r"Prometheus metrics: (\S+)", server.wait_for_output("Prometheus metrics:"))
    assert url is not None, server.output
    with urllib.request.urlopen(url.group(1), timeout=30) as answer:
        text = answer.read().decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    fn = (("function_name", "counted"), ("resource", ""))
    assert samples["cumulo_aws_lambda_invocations_count", fn] == 4
    assert samples["cumulo_aws_lambda_errors_sum", fn] == 1
    assert samples["cumulo_aws_lambda_duration_count", fn] == 4
    assert samples["cumulo_aws_lambda_concurrent_executions", (("function_name", "counted"),)] >= 1
    assert samples["cumulo_lambda_estimated_cost_usd", (("function_name", "counted"),)] > 4 * 0.20 / 1e6

    time.sleep(1.5)                                     # the server flushes each second here
    done = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "stats", "--since", "1h"],
                          capture_output=True, text=True, timeout=60, env=server.cli_env)
    assert done.returncode == 0, done.stderr
    (row,) = [line.split() for line in done.stdout.splitlines() if line.startswith("counted ")]
    assert row[1:3] == ["4", "1"] and float(row[-1]) > 0
    assert "USD (on-demand, us-east-1 prices of" in done.stdout


def test_throttles_and_asynchronous_events_are_counted(server: CumuloServer) -> None:
    started = time.time()
    lam = server.client()
    function(server, "choked", FLAKY)
    lam.put_function_concurrency(FunctionName="choked", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="choked", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    function(server, "later", FLAKY)
    lam.invoke(FunctionName="later", InvocationType="Event", Payload=b"{}")
    cw = server.aws("cloudwatch")

    def total(metric: str, stat: str, name: str) -> float:
        return sum(p[stat] for p in cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=started - 120, EndTime=time.time() + 60, Period=3600, Statistics=[stat])["Datapoints"])

    assert total("Throttles", "Sum", "choked") == 1
    deadline = time.monotonic() + 20
    while total("Invocations", "Sum", "later") < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert total("AsyncEventsReceived", "Sum", "later") == 1
    assert total("AsyncEventAge", "SampleCount", "later") == 1 and total("Invocations", "Sum", "later") == 1


def test_composite_alarms_through_boto3(server: CumuloServer) -> None:
    cw = server.aws("cloudwatch")
    for name in ("api-errors", "api-deploying"):
        cw.put_metric_alarm(AlarmName=name, Namespace="Shop", MetricName="Errors", Statistic="Sum", Period=60,
                            EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
    cw.put_composite_alarm(AlarmName="api-down", AlarmRule='ALARM("api-errors") AND NOT ALARM(api-deploying)',
                           AlarmDescription="page someone")
    assert cw.describe_alarms(AlarmNames=["api-down"])["CompositeAlarms"] == []
    (down,) = cw.describe_alarms(AlarmNames=["api-down"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert (down["StateValue"], down["AlarmArn"]) == ("OK", "arn:aws:cloudwatch:us-east-1:000000000000:alarm:api-down")
    cw.set_alarm_state(AlarmName="api-errors", StateValue="ALARM", StateReason="5xx")
    (down,) = cw.describe_alarms(AlarmNames=["api-down"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert down["StateValue"] == "ALARM" and "api-errors transitioned to ALARM" in down["StateReason"]
    with pytest.raises(ClientError) as caught:
        cw.put_composite_alarm(AlarmName="broken", AlarmRule="ALARM(api-errors) AND OR OK(x)")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_grafana_dashboard_asks_only_for_what_a_scrape_has(server: CumuloServer) -> None:
    import re
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "examples" / "grafana" /
                            "cumulo-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(next(v for v in dashboard["templating"]["list"] if v["name"] == "function")["query"]["query"])
    lam = server.client()
    function(server, "graphed", FLAKY)
    lam.invoke(FunctionName="graphed", Payload=json.dumps({"fail": True}))
    lam.put_function_concurrency(FunctionName="graphed", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError):
        lam.invoke(FunctionName="graphed", Payload=b"{}")          # a throttle
    lam.delete_function_concurrency(FunctionName="graphed")
    sqs = server.aws("sqs")
    sqs.send_message(QueueUrl=sqs.create_queue(QueueName="graphed-work")["QueueUrl"], MessageBody="x")
    url = re.search(r"Prometheus metrics: (\S+)", server.wait_for_output("Prometheus metrics:")).group(1)
    deadline = time.monotonic() + 30
    while True:                                       # queue depths are sampled on the server's flush
        with urllib.request.urlopen(url, timeout=30) as answer:
            families = list(text_string_to_metric_families(answer.read().decode()))
        labels = {s.name: set(s.labels) for f in families for s in f.samples}
        if "cumulo_aws_sqs_approximate_number_of_messages_visible" in labels or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for expr in exprs:
        assert expr.count("(") == expr.count(")"), expr
        for name in re.findall(r"\bcumulo_[a-z0-9_]+", expr):
            assert name in labels, (name, sorted(labels))
        for label in re.findall(r"by \(([a-z_]+)\)", expr) + re.findall(r"([a-z_]+)=~", expr):
            assert any(label in found for name, found in labels.items() if name in expr), (label, expr)


def test_unreserved_concurrency_leaves_out_functions_with_a_reservation(tmp_path: Path, make_code: Any) -> None:
    from cumulo import Cumulo

    with Cumulo(home=tmp_path / "home") as c:
        c.create_function("reserved", make_code(app="def handler(e, c):\n    return 1\n"), "app.handler")
        c.put_function_concurrency("reserved", 5)
        c.invoke("reserved", b"{}")
        now = time.time()

        def peak() -> float | None:
            points = c.metrics.get_metric_statistics({
                "Namespace": "AWS/Lambda", "MetricName": "UnreservedConcurrentExecutions", "StartTime": now - 120,
                "EndTime": now + 120, "Period": 60, "Statistics": ["Maximum"]})["Datapoints"]
            return max((p["Maximum"] for p in points), default=None)

        assert peak() == 0                     # it ran in its own pool
        c.create_function("shared", make_code(app="def handler(e, c):\n    return 1\n"), "app.handler")
        c.invoke("shared", b"{}")
        assert peak() == 1


SLOW = """
import time
def handler(event, context):
    time.sleep(event.get("s", 0))
    return "ok"
"""


def test_provisioned_concurrency_metrics_per_alias(server: CumuloServer) -> None:
    """An alias with one provisioned environment: two invocations at once are one provisioned and
    one spillover, published by function and by Resource with the environments in use and their
    share of the target, as Lambda publishes them."""
    from concurrent.futures import ThreadPoolExecutor

    lam = server.client()
    function(server, "warmed", SLOW)
    lam.publish_version(FunctionName="warmed")
    lam.create_alias(FunctionName="warmed", Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName="warmed", Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    deadline = time.monotonic() + 60
    while lam.get_provisioned_concurrency_config(FunctionName="warmed", Qualifier="live")["Status"] != "READY":
        assert time.monotonic() < deadline, "provisioned concurrency never became ready"
        time.sleep(0.2)
    started = time.time()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: lam.invoke(FunctionName="warmed", Qualifier="live",
                                                      Payload=b'{"s": 2}'), range(2)))
    assert all(a["StatusCode"] == 200 and "FunctionError" not in a for a in answers)
    lam.invoke(FunctionName="warmed", Qualifier="live", Payload=b"{}")      # alone: provisioned
    lam.invoke(FunctionName="warmed", Payload=b"{}")                         # $LATEST has none: no such metric
    cw = server.aws("cloudwatch")

    def total(metric: str, stat: str, **dims: str) -> float | None:
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=started - 120, EndTime=time.time() + 60, Period=3600, Statistics=[stat])["Datapoints"]
        return sum(p[stat] for p in points) if stat == "Sum" else max((p[stat] for p in points), default=None)

    live = {"FunctionName": "warmed", "Resource": "warmed:live"}
    assert total("ProvisionedConcurrencyInvocations", "Sum", **live) == 2
    assert total("ProvisionedConcurrencySpilloverInvocations", "Sum", **live) == 1
    assert total("ProvisionedConcurrencyInvocations", "Sum", FunctionName="warmed") == 2
    assert total("ProvisionedConcurrentExecutions", "Maximum", **live) == 1
    assert total("ProvisionedConcurrentExecutions", "Maximum") == 1            # the account's
    assert total("ProvisionedConcurrencyUtilization", "Maximum", **live) == 1.0
    assert total("Invocations", "Sum", FunctionName="warmed") == 4
