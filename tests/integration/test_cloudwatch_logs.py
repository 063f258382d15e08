"""CloudWatch Logs as its users meet it: unchanged boto3 ``logs`` and the AWS CLI against a real
``cumulo up``: a function's log group and streams as Lambda names them, reading with GetLogEvents'
tokens, FilterLogEvents with filter patterns, events shipped with PutLogEvents and AWS's limits on
them, retention policies, tags, and AWS's errors; ``aws logs tail`` (AWS CLI v2) with and without
``--follow``."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.awscli_v2 import aws_v2
from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"          # the AWS CLI v1 of the dev extra
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/logs-test"
CHATTY = '''
import json
def handler(event, context):
    print(json.dumps({"level": event["level"], "latency": event["latency"], "msg": "served"}))
    print(f"10.0.0.{event['latency'] % 250} GET /items {event['status']} {event['latency']}")
    if event["level"] == "ERROR":
        print("ERROR something failed")
    return "ok"
'''


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("logs") / "home", store=new_store())
    yield s
    s.close()


@pytest.fixture(scope="module")
def chatty(server: CumuloServer) -> str:
    """A function invoked 6 times: 3 INFO, 3 ERROR lines; statuses 200/404/500."""
    client = server.client()
    client.create_function(FunctionName="chatty", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": _zip(CHATTY)})
    for i, (level, status) in enumerate([("INFO", 200), ("ERROR", 500), ("INFO", 404), ("ERROR", 500),
                                         ("INFO", 200), ("ERROR", 404)]):
        payload = json.dumps({"level": level, "latency": 100 * (i + 1), "status": status})
        assert client.invoke(FunctionName="chatty", Payload=payload)["StatusCode"] == 200
    return "/aws/lambda/chatty"


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    e = caught.value.response["Error"]
    return e["Code"], e["Message"]


def messages(response: dict[str, Any]) -> list[str]:
    return [e["message"].rstrip("\n") for e in response["events"]]


def test_a_function_has_its_log_group_and_lambda_named_streams(server: CumuloServer, chatty: str) -> None:
    logs = server.aws("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    group = next(g for g in groups if g["logGroupName"] == chatty)
    assert group["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{chatty}:*"
    assert group["retentionInDays"] == 30            # the default for groups nobody configured (docs/logs.md)
    streams = logs.describe_log_streams(logGroupName=chatty, orderBy="LastEventTime", descending=True)["logStreams"]
    assert streams
    for stream in streams:
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", stream["logStreamName"])
        assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"]
    everything = []
    for stream in streams:
        everything += messages(logs.get_log_events(logGroupName=chatty, logStreamName=stream["logStreamName"],
                                                   startFromHead=True))
    assert sum(m.startswith("START RequestId: ") for m in everything) == 6
    assert sum(m.startswith("REPORT RequestId: ") for m in everything) == 6


def test_get_log_events_pages_forward_and_backward_with_its_tokens(server: CumuloServer, chatty: str) -> None:
    logs = server.aws("logs")
    names = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=chatty)["logStreams"]]
    stream, whole = max(((name, messages(logs.get_log_events(logGroupName=chatty, logStreamName=name,
                                                              startFromHead=True))) for name in names),
                        key=lambda found: len(found[1]))
    assert len(whole) >= 6
    # forward, two at a time, until the token comes back unchanged (how SDKs know they reached the end)
    seen: list[str] = []
    kwargs: dict[str, Any] = {"startFromHead": True, "limit": 2}
    for _ in range(100):
        page = logs.get_log_events(logGroupName=chatty, logStreamName=stream, **kwargs)
        seen += messages(page)
        if kwargs.get("nextToken") == page["nextForwardToken"]:
            break
        kwargs = {"nextToken": page["nextForwardToken"], "limit": 2}
    assert seen == whole
    # without startFromHead: the newest events, then backward
    last = logs.get_log_events(logGroupName=chatty, logStreamName=stream, limit=3)
    assert messages(last) == whole[-3:]
    before = logs.get_log_events(logGroupName=chatty, logStreamName=stream, limit=3,
                                 nextToken=last["nextBackwardToken"])
    assert messages(before) == whole[-6:-3]


@pytest.mark.parametrize("pattern, expected", [
    ("ERROR", 3 + 3),                                   # the JSON lines with "ERROR" and the plain ones
    ('"something failed"', 3),
    ("ERROR -level", 3),
    ("?something ?GET", 3 + 6),
    ('{ $.level = "ERROR" }', 3),
    ("{ $.latency >= 300 && $.level = INFO }", 2),
    ('{ ($.latency < 200) || ($.level = "ERR*" && $.latency > 500) }', 2),
    ("[ip, method = GET, path, status = 5*, latency]", 2),
    ("[ip, method = GET, ..., status != 200 && status != 404, latency > 150]", 2),
    ("[..., latency > 550]", 1),
])
def test_filter_log_events_with_filter_patterns(server: CumuloServer, chatty: str, pattern: str, expected: int) -> None:
    logs = server.aws("logs")
    found = [e for p in logs.get_paginator("filter_log_events").paginate(logGroupName=chatty, filterPattern=pattern)
             for e in p["events"]]
    assert len(found) == expected, [e["message"] for e in found]
    assert all(e["eventId"] and e["logStreamName"] for e in found)


def test_filter_log_events_pages_through_every_match_in_time_order(server: CumuloServer, chatty: str) -> None:
    logs = server.aws("logs")
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=chatty, filterPattern="RequestId",
                                                                  PaginationConfig={"PageSize": 4}))
    events = [e for p in pages for e in p["events"]]
    assert len(pages) >= 4 and len(events) == 18          # START, END, REPORT for each of 6
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert len({e["eventId"] for e in events}) == 18


def test_a_bad_filter_pattern_is_refused_as_aws_refuses_it(server: CumuloServer, chatty: str) -> None:
    logs = server.aws("logs")
    for bad in ['{ $.level = ', '"unclosed', "[a, b = ", "{ $.latency > high }"]:
        with pytest.raises(ClientError) as caught:
            logs.filter_log_events(logGroupName=chatty, filterPattern=bad)
        assert error(caught)[0] == "InvalidParameterException"
        assert "filter pattern" in error(caught)[1]


def test_events_shipped_by_others_with_aws_limits(server: CumuloServer) -> None:
    logs = server.aws("logs")
    logs.create_log_group(logGroupName="/shipped/app", tags={"team": "core"})
    with pytest.raises(ClientError) as caught:
        logs.create_log_group(logGroupName="/shipped/app")
    assert error(caught)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as caught:
        logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1",
                            logEvents=[{"timestamp": int(time.time() * 1000), "message": "x"}])
    assert error(caught) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    logs.create_log_stream(logGroupName="/shipped/app", logStreamName="web-1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1",
                        logEvents=[{"timestamp": now - 2000 + i, "message": f"line {i}"} for i in range(1000)])
    got = logs.get_log_events(logGroupName="/shipped/app", logStreamName="web-1", startFromHead=True, limit=10)
    assert messages(got) == [f"line {i}" for i in range(10)]
    # AWS's limits: order, span, count, bytes
    with pytest.raises(ClientError) as caught:
        logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1",
                            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert error(caught)[0] == "InvalidParameterException" and "chronological" in error(caught)[1]
    with pytest.raises(ClientError) as caught:
        logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1",
                            logEvents=[{"timestamp": now - 25 * 3_600_000, "message": "a"},
                                       {"timestamp": now, "message": "b"}])
    assert error(caught)[0] == "InvalidParameterException" and "24 hours" in error(caught)[1]
    with pytest.raises(ClientError) as caught:
        logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1",
                            logEvents=[{"timestamp": now, "message": "x"}] * 10_001)
    assert error(caught)[0] == "InvalidParameterException"
    big = "y" * (1_048_576 // 4)
    with pytest.raises(ClientError) as caught:
        logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1",
                            logEvents=[{"timestamp": now, "message": big}] * 4)
    assert error(caught)[0] == "InvalidParameterException" and "1048576" in error(caught)[1]
    # too old and too new: accepted call, the events rejected and said so
    answer = logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1", logEvents=[
        {"timestamp": now - 15 * 86_400_000, "message": "old"}, {"timestamp": now - 15 * 86_400_000, "message": "old"}])
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    answer = logs.put_log_events(logGroupName="/shipped/app", logStreamName="web-1", logEvents=[
        {"timestamp": now, "message": "fine"}, {"timestamp": now + 3 * 3_600_000, "message": "future"}])
    assert answer["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert messages(logs.filter_log_events(logGroupName="/shipped/app", filterPattern="?old ?fine ?future")) == ["fine"]
    # tags, retention, deletion
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/shipped/app"
    logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "core", "env": "dev"}
    described = logs.describe_log_groups(logGroupNamePrefix="/shipped/")["logGroups"]
    assert [g["logGroupName"] for g in described] == ["/shipped/app"] and "retentionInDays" not in described[0]
    logs.put_retention_policy(logGroupName="/shipped/app", retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix="/shipped/")["logGroups"][0]["retentionInDays"] == 7
    with pytest.raises(ClientError) as caught:
        logs.put_retention_policy(logGroupName="/shipped/app", retentionInDays=8)
    assert error(caught)[0] == "InvalidParameterException"
    logs.delete_retention_policy(logGroupName="/shipped/app")
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/shipped/")["logGroups"][0]
    logs.delete_log_group(logGroupName="/shipped/app")
    assert logs.describe_log_groups(logGroupNamePrefix="/shipped/")["logGroups"] == []
    with pytest.raises(ClientError) as caught:
        logs.get_log_events(logGroupName="/shipped/app", logStreamName="web-1")
    assert error(caught) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_describe_log_streams_orders_filters_and_pages(server: CumuloServer) -> None:
    """DescribeLogStreams (read from a row kept per stream, not from the lines) by name and by last
    event, either way, by prefix, in pages of two followed with nextToken; the streams' times move
    as events arrive; a deleted stream is gone; GetLogEvents reads one stream among others."""
    logs = server.aws("logs")
    group = "/shipped/streams"
    logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    rank = {"api-3": 1, "api-1": 2, "worker-2": 3, "api-2": 4, "worker-1": 5}   # last events in this order
    for name, k in rank.items():
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=[
            {"timestamp": now - 60_000 + 1000 * k, "message": f"{name} first"},
            {"timestamp": now - 30_000 + 1000 * k, "message": f"{name} last"}])
    logs.create_log_stream(logGroupName=group, logStreamName="api-0")         # no events yet

    def listed(**kwargs: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for _ in range(20):
            page = logs.describe_log_streams(logGroupName=group, limit=2, **kwargs)
            assert len(page["logStreams"]) <= 2
            found += page["logStreams"]
            if "nextToken" not in page:
                return found
            kwargs["nextToken"] = page["nextToken"]
        raise AssertionError("DescribeLogStreams kept answering a nextToken")

    def names(streams: list[dict[str, Any]]) -> list[str]:
        return [s["logStreamName"] for s in streams if s["logStreamName"] != "api-0"]

    by_name = listed()
    assert [s["logStreamName"] for s in by_name] == ["api-0", "api-1", "api-2", "api-3", "worker-1", "worker-2"]
    assert [s["logStreamName"] for s in listed(orderBy="LogStreamName", descending=True)] == \
        ["worker-2", "worker-1", "api-3", "api-2", "api-1", "api-0"]
    assert names(listed(orderBy="LastEventTime")) == ["api-3", "api-1", "worker-2", "api-2", "worker-1"]
    assert names(listed(orderBy="LastEventTime", descending=True)) == ["worker-1", "api-2", "worker-2", "api-1", "api-3"]
    assert [s["logStreamName"] for s in listed(logStreamNamePrefix="api-")] == ["api-0", "api-1", "api-2", "api-3"]
    assert [s["logStreamName"] for s in listed(logStreamNamePrefix="worker-", descending=True)] == \
        ["worker-2", "worker-1"]
    assert listed(logStreamNamePrefix="nothing-") == []
    api1 = next(s for s in by_name if s["logStreamName"] == "api-1")
    assert (api1["firstEventTimestamp"], api1["lastEventTimestamp"]) == (now - 58_000, now - 28_000)
    assert api1["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:log-stream:api-1"
    assert "firstEventTimestamp" not in next(s for s in by_name if s["logStreamName"] == "api-0")

    logs.put_log_events(logGroupName=group, logStreamName="api-3", logEvents=[{"timestamp": now, "message": "api-3 again"}])
    assert names(listed(orderBy="LastEventTime", descending=True))[0] == "api-3"
    assert messages(logs.get_log_events(logGroupName=group, logStreamName="api-3", startFromHead=True)) == \
        ["api-3 first", "api-3 last", "api-3 again"]
    assert messages(logs.get_log_events(logGroupName=group, logStreamName="api-1", limit=1)) == ["api-1 last"]
    logs.delete_log_stream(logGroupName=group, logStreamName="api-2")
    assert "api-2" not in names(listed())
    with pytest.raises(ClientError) as caught:
        logs.get_log_events(logGroupName=group, logStreamName="api-2")
    assert error(caught) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    logs.delete_log_group(logGroupName=group)


def test_logs_insights_queries_a_function_log(server: CumuloServer, chatty: str) -> None:
    logs = server.aws("logs")
    now = int(time.time())
    query_id = logs.start_query(logGroupName=chatty, startTime=now - 3600, endTime=now + 60, queryString=(
        'filter @type = "REPORT" | stats count(*) as invocations, max(@maxMemoryUsed) as mem by bin(1h)'))["queryId"]
    answer = logs.get_query_results(queryId=query_id)
    assert answer["status"] == "Complete"
    [row] = answer["results"]
    fields = {f["field"]: f["value"] for f in row}
    assert fields["invocations"] == "6" and int(fields["mem"]) > 0
    assert answer["statistics"]["recordsMatched"] == 6.0
    query_id = logs.start_query(logGroupNames=[chatty], startTime=now - 3600, endTime=now + 60, queryString=(
        'fields latency | filter level = "ERROR" and latency > 200 | sort latency desc | limit 1'))["queryId"]
    assert logs.get_query_results(queryId=query_id)["results"] == [[{"field": "latency", "value": "600"}]]
    with pytest.raises(ClientError) as caught:
        logs.start_query(logGroupName=chatty, startTime=now - 60, endTime=now, queryString="stats bogus(x)")
    assert error(caught)[0] == "MalformedQueryException"
    with pytest.raises(ClientError) as caught:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert error(caught)[0] == "ResourceNotFoundException"


# -- the AWS CLI ----------------------------------------------------------------------------------------
def cli_env(server: CumuloServer) -> dict[str, str]:
    return {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": server.key_id,
            "AWS_SECRET_ACCESS_KEY": server.secret, "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


@pytest.fixture(scope="module")
def aws2() -> Path:
    binary, why = aws_v2()
    if binary is None:
        pytest.skip(f"[awscli-v2] AWS CLI v2 is not available: {why}")
    return binary


def test_aws_cli_v1_filters_and_reads_a_function_log(server: CumuloServer, chatty: str) -> None:
    out = subprocess.run([str(AWS), "logs", "filter-log-events", "--log-group-name", chatty, "--filter-pattern",
                          '{ $.level = "ERROR" }', "--output", "json"], env=cli_env(server), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [json.loads(e["message"])["level"] for e in json.loads(out.stdout)["events"]] == ["ERROR"] * 3


def test_aws_logs_tail_prints_the_matching_lines(server: CumuloServer, chatty: str, aws2: Path) -> None:
    out = subprocess.run([str(aws2), "logs", "tail", chatty, "--since", "1h", "--filter-pattern", "ERROR -level",
                          "--format", "short"], env=cli_env(server), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3 and all(line.endswith("ERROR something failed") for line in lines), out.stdout
    detailed = subprocess.run([str(aws2), "logs", "tail", chatty, "--since", "1h", "--filter-pattern", '"START RequestId"'],
                              env=cli_env(server), capture_output=True, text=True, timeout=60)
    assert detailed.returncode == 0, detailed.stderr
    assert len(detailed.stdout.splitlines()) == 6
    assert all(re.search(r" \d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32} START RequestId: ", line)
               for line in detailed.stdout.splitlines())


def test_aws_logs_tail_follow_shows_new_matching_lines_as_they_come(server: CumuloServer, aws2: Path) -> None:
    client = server.client()
    client.create_function(FunctionName="followed", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": _zip(CHATTY)})
    group = "/aws/lambda/followed"

    def invoke(level: str, latency: int) -> None:
        payload = json.dumps({"level": level, "latency": latency, "status": 200})
        assert client.invoke(FunctionName="followed", Payload=payload)["StatusCode"] == 200

    invoke("INFO", 1)                  # the group exists once the function has written a line
    tail = subprocess.Popen([str(aws2), "logs", "tail", group, "--follow", "--format", "short",
                             "--filter-pattern", '{ $.level = "ERROR" }'], env=cli_env(server),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout or []], daemon=True).start()
    try:
        def next_line(timeout: float = 30.0) -> dict[str, Any]:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"aws logs tail --follow printed nothing in {timeout} s; "
                                     f"it said: {tail.stderr.read() if tail.poll() is not None and tail.stderr else ''}")
            return json.loads(line.split(" ", 1)[1])

        invoke("ERROR", 7)
        invoke("INFO", 8)
        invoke("ERROR", 9)
        assert next_line()["latency"] == 7
        assert next_line()["latency"] == 9
        invoke("ERROR", 10)          # after tail has polled: the next poll brings it
        assert next_line()["latency"] == 10
        with pytest.raises(queue.Empty):
            lines.get(timeout=6)     # nothing else matches (one more poll)
        assert tail.poll() is None
    finally:
        tail.terminate()
        tail.wait(timeout=10)
        for pipe in (tail.stdout, tail.stderr):
            if pipe is not None:
                pipe.close()
