"""Deploying templates with streams: AWS::Kinesis::Stream and Kinesis events — made, kept on re-deploy,
replaced or refused when changed, removed with the template, rolled back on failure."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.streams import stream_name_for
from cumulo.deploy.template import TemplateError
from cumulo.errors import CumuloError, ResourceNotFoundException

HANDLER = ("import base64\n\ndef handler(event, context):\n    for r in event.get('Records', []):\n"
           "        print('got', base64.b64decode(r['kinesis']['data']).decode())\n")
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: SHARDS
      RetentionPeriodHours: 48
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          STREAM: !Ref Clicks
EVENTS
Outputs:
  StreamName: {Value: !Ref Clicks}
  StreamArn: {Value: !GetAtt Clicks.Arn}
"""
EVENT = """      Events:
        Read:
          Type: Kinesis
          Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: POSITION, BatchSize: BATCH}
"""


def _write(folder: Path, *, events: str = EVENT, shards: int = 2, position: str = "TRIM_HORIZON",
           batch: int = 10) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    body = TEMPLATE.replace("EVENTS\n", events).replace("SHARDS", str(shards)).replace("POSITION", position)
    path = folder / "template.yaml"
    path.write_text(textwrap.dedent(body).replace("BATCH", str(batch)).lstrip())
    return path


def _wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_stream_and_kinesis_event_deploy_run_redeploy_and_remove(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "clicks")
    stream = stream_name_for("clicks", "Clicks")
    # Records already in the stream when the mapping is made: TRIM_HORIZON reads them too.
    result = deploy(cumulo, path)
    assert {(c.kind, c.function): c.action for c in result.changes} == {
        ("function", "clicks-Reader"): "create", ("stream", stream): "create",
        ("event source mapping", f"{stream} -> clicks-Reader"): "create",
        ("role", role_name_for("clicks", "ReaderRole")): "create"}
    assert not result.warnings
    assert result.outputs == {"StreamName": stream, "StreamArn": cumulo.streams.arn(stream)}
    described = cumulo.streams.describe_stream(stream)
    assert (len(described["Shards"]), described["RetentionPeriodHours"]) == (2, 48)
    (mapping,) = cumulo.mappings.list(function_name="clicks-Reader")
    assert (mapping["EventSourceArn"], mapping["StartingPosition"], mapping["BatchSize"], mapping["State"]) == (
        cumulo.streams.arn(stream), "TRIM_HORIZON", 10, "Enabled")
    assert cumulo.get_function("clicks-Reader")["Configuration"]["Environment"]["Variables"] == {"STREAM": stream}

    cumulo.streams.put_record(stream, b"hello from the stream", "user-1")
    cumulo.start_workers()
    try:
        assert _wait_for(lambda: any("got hello from the stream" in r.message
                                     for r in cumulo.get_logs("clicks-Reader")))
    finally:
        cumulo.stop_workers()

    again = deploy(cumulo, path)
    assert not again.changed, again.summary()
    assert cumulo.mappings.list(function_name="clicks-Reader")[0]["UUID"] == mapping["UUID"]

    # An update in place keeps the mapping; a new StartingPosition replaces it.
    updated = deploy(cumulo, _write(tmp_path / "clicks", batch=50))
    actions = {(c.kind, c.logical_id): (c.action, c.details) for c in updated.changes}
    assert actions[("event source mapping", "Reader.Read")] == ("update", ["BatchSize"])
    (same,) = cumulo.mappings.list(function_name="clicks-Reader")
    assert (same["UUID"], same["BatchSize"]) == (mapping["UUID"], 50)
    replaced = deploy(cumulo, _write(tmp_path / "clicks", batch=50, position="LATEST"))
    actions = {(c.kind, c.logical_id): (c.action, c.details) for c in replaced.changes}
    assert actions[("event source mapping", "Reader.Read")] == ("replace", ["StartingPosition"])
    (new,) = cumulo.mappings.list(function_name="clicks-Reader")
    assert new["UUID"] != mapping["UUID"] and new["StartingPosition"] == "LATEST"
    record = cumulo.store.get_stack("clicks")
    assert record is not None and record["mappings"] == {"Reader.Read": new["UUID"]}

    # The event removed: the mapping goes, the stream stays; the stream removed too: it goes.
    no_event = deploy(cumulo, _write(tmp_path / "clicks", events=""))
    assert [(c.kind, c.action, c.details) for c in no_event.changes if c.action != "unchanged"] == [
        ("role", "update", ["ManagedPolicyArns"]),      # SAM's role no longer reads a stream
        ("event source mapping", "delete", [])]
    assert cumulo.mappings.list() == []
    assert cumulo.streams.shard_count(stream) == 2
    path.write_text(path.read_text().replace("  Clicks:\n    Type: AWS::Kinesis::Stream\n    Properties:\n"
                                             "      ShardCount: 2\n      RetentionPeriodHours: 48\n", "")
                    .replace("      Environment:\n        Variables:\n          STREAM: !Ref Clicks\n", "")
                    .split("Outputs:")[0])
    plan = deploy(cumulo, path, dry_run=True)
    assert [(c.kind, c.function, c.action) for c in plan.changes if c.action != "unchanged"] == [
        ("function", "clicks-Reader", "update"), ("stream", stream, "delete")]
    deploy(cumulo, path)
    with pytest.raises(ResourceNotFoundException):
        cumulo.streams.describe_stream(stream)
    record = cumulo.store.get_stack("clicks")
    assert record is not None and record["streams"] == {} and record["mappings"] == {}


def test_resharding_is_refused_before_anything_changes(cumulo: Cumulo, tmp_path: Path) -> None:
    deploy(cumulo, _write(tmp_path / "clicks"))
    stream = stream_name_for("clicks", "Clicks")
    (mapping,) = cumulo.mappings.list()
    with pytest.raises(TemplateError, match=r"Resource Clicks \(line 3\): stream .* cannot be changed: ShardCount "
                                            r"from 2 to 4: Cumulo cannot reshard a stream") as info:
        deploy(cumulo, _write(tmp_path / "clicks", shards=4, batch=7))
    assert (info.value.logical_id, info.value.line) == ("Clicks", 3)
    assert cumulo.streams.shard_count(stream) == 2
    assert cumulo.mappings.list() == [mapping]


def test_failed_deploy_rolls_back_the_stream_it_created(cumulo: Cumulo, tmp_path: Path) -> None:
    # The event reads a stream that does not exist: the mapping is refused after stream and function exist.
    events = EVENT.replace("!GetAtt Clicks.Arn", "'arn:aws:kinesis:us-east-1:000000000000:stream/missing'")
    with pytest.raises(CumuloError, match="rolled back"):
        deploy(cumulo, _write(tmp_path / "clicks", events=events))
    with pytest.raises(ResourceNotFoundException):
        cumulo.streams.describe_stream(stream_name_for("clicks", "Clicks"))
    with pytest.raises(ResourceNotFoundException):
        cumulo.get_function_configuration("clicks-Reader")
    assert cumulo.mappings.list() == [] and cumulo.store.get_stack("clicks") is None


def test_failed_deploy_puts_back_a_replaced_mapping(cumulo: Cumulo, tmp_path: Path) -> None:
    deploy(cumulo, _write(tmp_path / "clicks"))
    stream = stream_name_for("clicks", "Clicks")
    bad = ("        Bad:\n          Type: Kinesis\n          Properties: {Stream: 'arn:aws:kinesis:us-east-1:"
           "000000000000:stream/missing', StartingPosition: LATEST}\n")
    with pytest.raises(CumuloError, match="rolled back"):
        deploy(cumulo, _write(tmp_path / "clicks", events=EVENT + bad, position="LATEST"))
    (mapping,) = cumulo.mappings.list(function_name="clicks-Reader")
    assert (mapping["EventSourceArn"], mapping["StartingPosition"], mapping["BatchSize"]) == (
        cumulo.streams.arn(stream), "TRIM_HORIZON", 10)
    # The stack record still names the old mapping; the next deploy adopts the one put back.
    assert not deploy(cumulo, _write(tmp_path / "clicks")).changed


CONSUMER_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
  FanOut:
    Type: AWS::Kinesis::StreamConsumer
    Properties: {StreamARN: !GetAtt Clicks.Arn, ConsumerName: reader}
  Reader:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11,
                 Policies: [AWSLambdaKinesisExecutionRole]}
  ReadThroughConsumer:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Reader
      EventSourceArn: !Ref FanOut
      StartingPosition: TRIM_HORIZON
Outputs:
  Consumer: {Value: !Ref FanOut}
  ConsumerArn: {Value: !GetAtt FanOut.ConsumerARN}
  ConsumerName: {Value: !GetAtt FanOut.ConsumerName}
  ConsumerStream: {Value: !GetAtt FanOut.StreamARN}
  ConsumerStatus: {Value: !GetAtt FanOut.ConsumerStatus}
"""


def test_a_mapping_through_a_stream_consumer_reads_the_stream(cumulo: Cumulo, tmp_path: Path) -> None:
    """Enhanced fan-out as templates write it: a StreamConsumer on the stream and a mapping given the consumer's
    ARN. Cumulo registers no consumers: it says so once, and the mapping reads the stream itself."""
    folder = tmp_path / "fanout"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    (folder / "template.yaml").write_text(textwrap.dedent(CONSUMER_TEMPLATE).lstrip())
    result = deploy(cumulo, folder / "template.yaml")
    stream_arn = cumulo.streams.arn(stream_name_for("fanout", "Clicks"))
    consumer = result.outputs["Consumer"]
    assert consumer.startswith(f"{stream_arn}/consumer/reader:") and consumer.rsplit(":", 1)[1].isdigit()
    assert {k: v for k, v in result.outputs.items() if k != "Consumer"} == {
        "ConsumerArn": consumer, "ConsumerName": "reader", "ConsumerStream": stream_arn, "ConsumerStatus": "ACTIVE"}
    assert [w for w in result.warnings if "StreamConsumer" in w] == [
        "AWS::Kinesis::StreamConsumer (FanOut) accepted and not deployed: on AWS it registers an enhanced fan-out "
        "consumer: its own read throughput from every shard, records pushed to it; Cumulo's Kinesis has no "
        "registered consumers: none is made, and a Lambda event source mapping given its ARN reads the stream "
        "itself (sharing the stream's read throughput): the function receives the same records"]
    (mapping,) = cumulo.mappings.list(function_name="fanout-Reader")
    assert mapping["EventSourceArn"] == stream_arn

    cumulo.streams.put_record(stream_name_for("fanout", "Clicks"), b"fanned out", "user-1")
    cumulo.start_workers()
    try:
        assert _wait_for(lambda: any("got fanned out" in r.message for r in cumulo.get_logs("fanout-Reader")))
    finally:
        cumulo.stop_workers()
    again = deploy(cumulo, folder / "template.yaml")
    assert not again.changed and again.outputs["Consumer"] == consumer       # the same ARN on every deploy
