"""Streams and Kinesis events in templates: AWS::Kinesis::Stream and Kinesis events — read, named and checked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cumulo.deploy.streams import stream_name_for
from cumulo.deploy.template import Template, TemplateError, load_template, resolve_outputs
from cumulo.deploy.triggers import StreamMappingSpec

HEADER = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
"""
ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/"
QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:"


def _load(tmp_path: Path, body: str, **parameters: str) -> Template:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "template.yaml").write_text(HEADER + textwrap.dedent(body))
    return load_template(tmp_path / "template.yaml", parameters, stack_name="shop")


def test_stream_names_are_stable_and_bounded() -> None:
    name = stream_name_for("shop", "Clicks")
    assert name == stream_name_for("shop", "Clicks") != stream_name_for("shop2", "Clicks")
    assert name.startswith("shop-Clicks-") and len(name) == len("shop-Clicks-") + 12
    long = stream_name_for("s" * 128, "L" * 255)
    assert len(long) == 128 and long != stream_name_for("s" * 128, "L" * 254 + "M")


def test_streams_resolve_in_functions_and_outputs(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Parameters:
      Env: {Type: String, Default: prod}
    Resources:
      Clicks:
        Type: AWS::Kinesis::Stream
        Properties:
          Name: !Sub clicks-${Env}
          ShardCount: 3
          RetentionPeriodHours: 48
          StreamModeDetails: {StreamMode: PROVISIONED}
          StreamEncryption: {EncryptionType: KMS, KeyId: alias/aws/kinesis}
          Tags: [{Key: team, Value: shop}]
      Plain:
        Type: AWS::Kinesis::Stream
      Failures:
        Type: AWS::SQS::Queue
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Environment: {Variables: {STREAM: !Ref Clicks}}
          Events:
            Read:
              Type: Kinesis
              Properties:
                Stream: !GetAtt Clicks.Arn
                StartingPosition: TRIM_HORIZON
                BatchSize: 500
                MaximumBatchingWindowInSeconds: 2
                ParallelizationFactor: 4
                MaximumRetryAttempts: 3
                MaximumRecordAgeInSeconds: 3600
                BisectBatchOnFunctionError: true
                DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Failures.Arn}}
                FunctionResponseTypes: [ReportBatchItemFailures]
                Enabled: false
            Later:
              Type: Kinesis
              Properties: {Stream: !GetAtt Plain.Arn, StartingPosition: AT_TIMESTAMP,
                           StartingPositionTimestamp: 1700000000.5}
    Outputs:
      Name: {Value: !Ref Clicks}
      Arn: {Value: !GetAtt Plain.Arn}
    """)
    clicks, plain = template.streams
    assert (clicks.name, clicks.arn, clicks.shard_count, clicks.retention_hours, clicks.mode, clicks.tags) == (
        "clicks-prod", ARN + "clicks-prod", 3, 48, "PROVISIONED", {"team": "shop"})
    assert clicks.notes == ["StreamEncryption ignored: records are stored unencrypted in Cumulo's store",
                            "Tags ignored: Cumulo's streams keep no tags"]
    plain_name = stream_name_for("shop", "Plain")
    assert (plain.name, plain.shard_count, plain.retention_hours, plain.notes) == (plain_name, 1, 24, [])
    fn = template.function("Fn")
    assert fn.environment == {"STREAM": "clicks-prod"}
    failures = template.queues[0].name
    assert fn.mappings == [
        StreamMappingSpec("Read", ARN + "clicks-prod", "TRIM_HORIZON", None, 500, 2, False, 4, 3, 3600, True,
                          QUEUE_ARN + failures, ("ReportBatchItemFailures",)),
        StreamMappingSpec("Later", ARN + plain_name, "AT_TIMESTAMP", 1700000000.5)]
    later = fn.mappings[1]
    assert isinstance(later, StreamMappingSpec) and (later.batch_size, later.maximum_retry_attempts) == (100, -1)
    assert resolve_outputs(template) == {"Name": "clicks-prod", "Arn": ARN + plain_name}


def test_on_demand_streams_are_one_shard_with_a_note(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      S:
        Type: AWS::Kinesis::Stream
        Properties: {StreamModeDetails: {StreamMode: ON_DEMAND}}
      Fn:
        Type: AWS::Serverless::Function
    """)
    (stream,) = template.streams
    assert (stream.mode, stream.shard_count) == ("ON_DEMAND", 1)
    assert stream.notes == ["StreamMode ON_DEMAND is served as a stream of 1 shard: Cumulo does not scale shards"]


FN = """
    Resources:
      S:
        Type: AWS::Kinesis::Stream
      Fn:
        Type: AWS::Serverless::Function
        Properties:
    """


@pytest.mark.parametrize(("properties", "match"), [
    ("{ShardCount: 0}", r"property ShardCount: must be an integer from 1 to 64, got 0"),
    ("{ShardCount: 65}", r"property ShardCount: must be an integer from 1 to 64"),
    ("{RetentionPeriodHours: 12}", r"property RetentionPeriodHours: must be an integer from 24 to 8760"),
    ("{Name: 'bad name'}", r"property Name: stream names are 1 to 128 letters"),
    ("{Colour: red}", r"unknown or unsupported property 'Colour'"),
    ("{StreamModeDetails: {StreamMode: FAST}}", r"property StreamModeDetails.StreamMode: must be PROVISIONED or ON_DEMAND"),
    ("{StreamModeDetails: {StreamMode: ON_DEMAND}, ShardCount: 2}",
     r"property ShardCount: must not be given when StreamMode is ON_DEMAND"),
    ("{Tags: [{Key: a}]}", r"property Tags: must be a list of \{Key, Value\}"),
])
def test_bad_streams_name_resource_and_line(tmp_path: Path, properties: str, match: str) -> None:
    resource = f"      S2:\n        Type: AWS::Kinesis::Stream\n        Properties: {properties}\n"
    with pytest.raises(TemplateError, match=r"^ValidationError: Resource S2 \(line 15\): " + match) as info:
        _load(tmp_path, FN.rstrip(" ") + "          Timeout: 3\n" + resource)
    assert info.value.logical_id == "S2" and info.value.line == 15


def test_two_streams_may_not_share_a_name(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"Resource B \(line 12\): stream name 'one' is already used by "
                                            r"resource A"):
        _load(tmp_path, """
        Resources:
          A:
            Type: AWS::Kinesis::Stream
            Properties: {Name: one}
          B:
            Type: AWS::Kinesis::Stream
            Properties: {Name: one}
          Fn:
            Type: AWS::Serverless::Function
        """)


@pytest.mark.parametrize(("props", "match"), [
    ("{Stream: !GetAtt S.Arn}", r"property StartingPosition is required"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: OLDEST}", r"property StartingPosition: must be TRIM_HORIZON, LATEST"),
    ("{Stream: !Ref S, StartingPosition: LATEST}", r"property Stream: must be a Kinesis stream ARN"),
    ("{Stream: !GetAtt S.Nope, StartingPosition: LATEST}", r"Fn::GetAtt S.Nope: resource S has no attribute 'Nope'"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: AT_TIMESTAMP}", r"property StartingPositionTimestamp is required"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, StartingPositionTimestamp: 5}",
     r"property StartingPositionTimestamp: only goes with StartingPosition AT_TIMESTAMP"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, BatchSize: 10001}",
     r"property BatchSize: must be an integer from 1 to 10000"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, ParallelizationFactor: 11}",
     r"property ParallelizationFactor: must be an integer from 1 to 10"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, MaximumRetryAttempts: -2}",
     r"property MaximumRetryAttempts: must be -1 or an integer from 0 to 10000"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, MaximumRecordAgeInSeconds: 30}",
     r"property MaximumRecordAgeInSeconds: must be -1 or an integer from 60 to 604800"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, BisectBatchOnFunctionError: maybe}",
     r"property BisectBatchOnFunctionError: must be true or false"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, DestinationConfig: {OnFailure: {Type: SNS, "
     "Destination: 'arn:aws:sns:us-east-1:000000000000:t'}}}",
     r"property DestinationConfig.OnFailure.Type: Cumulo sends stream failure records to SQS queues only"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, DestinationConfig: {OnFailure: {Type: SQS}}}",
     r"property DestinationConfig.OnFailure.Destination: must be a queue ARN"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, FunctionResponseTypes: [Everything]}",
     r"property FunctionResponseTypes: must be a list of ReportBatchItemFailures"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, TumblingWindowInSeconds: 60}",
     r"property TumblingWindowInSeconds: tumbling windows are not supported"),
    ("{Stream: !GetAtt S.Arn, StartingPosition: LATEST, Colour: red}", r"unknown or unsupported property 'Colour'"),
])
def test_bad_kinesis_events_name_resource_and_line(tmp_path: Path, props: str, match: str) -> None:
    with pytest.raises(TemplateError, match=r"^ValidationError: Resource Fn \(line 11\): event E \(line 15\): "
                                            + match) as info:
        _load(tmp_path, FN.rstrip(" ") + "          Events:\n            E: {Type: Kinesis, Properties: " + props
              + "}\n")
    assert info.value.logical_id == "Fn" and info.value.line == 15


def test_kinesis_event_notes(tmp_path: Path) -> None:
    template = _load(tmp_path, FN.rstrip(" ") + "          Events:\n            E: {Type: Kinesis, Properties: "
                     "{Stream: !GetAtt S.Arn, StartingPosition: LATEST, KmsKeyArn: 'arn:aws:kms:k'}}\n")
    assert template.function("Fn").notes == ["event E: KmsKeyArn ignored: nothing is encrypted with a KMS key"]


def test_a_kinesis_event_on_a_stream_consumer_reads_its_stream(tmp_path: Path) -> None:
    """SAM's Kinesis event given a consumer's ARN (enhanced fan-out): Cumulo registers no consumers, so the
    mapping reads the consumer's stream."""
    template = _load(tmp_path, """
    Resources:
      Clicks:
        Type: AWS::Kinesis::Stream
        Properties: {Name: clicks}
      FanOut:
        Type: AWS::Kinesis::StreamConsumer
        Properties: {StreamARN: !GetAtt Clicks.Arn, ConsumerName: reader}
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Read:
              Type: Kinesis
              Properties: {Stream: !GetAtt FanOut.ConsumerARN, StartingPosition: LATEST}
    """)
    assert template.function("Fn").mappings == [StreamMappingSpec("Read", ARN + "clicks", "LATEST")]
