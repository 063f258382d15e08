"""Queues and event sources in templates: AWS::SQS::Queue, SQS/Schedule/ScheduleV2 events, DeadLetterQueue,
EventInvokeConfig — read, named and checked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cumulo.deploy.queues import queue_name_for
from cumulo.deploy.template import Template, TemplateError, load_template, resolve_outputs
from cumulo.deploy.triggers import MappingSpec, ScheduleSpec, schedule_name_for

HEADER = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
"""


def _load(tmp_path: Path, body: str) -> Template:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "template.yaml").write_text(HEADER + textwrap.dedent(body))
    return load_template(tmp_path / "template.yaml", stack_name="shop")


def test_queue_names_are_stable_and_bounded() -> None:
    name = queue_name_for("shop", "Orders")
    assert name == queue_name_for("shop", "Orders") != queue_name_for("shop2", "Orders")
    assert name.startswith("shop-Orders-") and len(name) == len("shop-Orders-") + 12
    assert queue_name_for("shop", "Orders", fifo=True).endswith(".fifo")
    long = queue_name_for("s" * 128, "L" * 255, fifo=True)
    assert len(long) <= 80 and long.endswith(".fifo")
    assert len(schedule_name_for("f" * 64, "Tick")) == 64


def test_queues_resolve_in_functions_and_outputs_and_dlqs_come_first(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Work:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: work.fifo
          FifoQueue: true
          ContentBasedDeduplication: true
          RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 4}
          Tags: [{Key: team, Value: shop}]
          KmsMasterKeyId: alias/aws/sqs
      Dead:
        Type: AWS::SQS::Queue
        Properties: {FifoQueue: true, MessageRetentionPeriod: 1209600}
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Environment: {Variables: {WORK_URL: !Ref Work, WORK_NAME: !GetAtt Work.QueueName}}
          DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Dead.Arn}
          EventInvokeConfig:
            MaximumEventAgeInSeconds: 120
            DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Dead.Arn}}
          Events:
            Jobs:
              Type: SQS
              Properties: {Queue: !GetAtt Work.Arn, BatchSize: 10, FunctionResponseTypes: [ReportBatchItemFailures],
                           ScalingConfig: {MaximumConcurrency: 3}, Enabled: false}
    Outputs:
      Url: {Value: !GetAtt Work.QueueUrl}
    """)
    dead = queue_name_for("shop", "Dead", fifo=True)
    assert [q.logical_id for q in template.queues] == ["Dead", "Work"]
    work = template.queues[1]
    assert work.name == "work.fifo" and work.tags == {"team": "shop"}
    assert work.attributes["RedrivePolicy"] == (
        f'{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:{dead}","maxReceiveCount":4}}')
    assert work.notes == ["KmsMasterKeyId ignored: messages are not encrypted with a KMS key"]
    fn = template.function("Fn")
    assert fn.environment == {"WORK_URL": "http://localhost:9000/000000000000/work.fifo", "WORK_NAME": "work.fifo"}
    assert fn.dead_letter_arn == f"arn:aws:sqs:us-east-1:000000000000:{dead}"
    assert fn.event_invoke_config is not None and fn.event_invoke_config.on_failure == fn.dead_letter_arn
    assert fn.mappings == [MappingSpec("Jobs", "arn:aws:sqs:us-east-1:000000000000:work.fifo", 10, 0,
                                       ("ReportBatchItemFailures",), 3, False)]
    assert resolve_outputs(template) == {"Url": "http://localhost:9000/000000000000/work.fifo"}


def test_schedule_and_schedule_v2_events(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Tick: {Type: Schedule, Properties: {Schedule: rate(5 minutes), Input: '{"a": 1}', Enabled: false}}
            Nightly:
              Type: ScheduleV2
              Properties:
                ScheduleExpression: cron(0 2 * * ? *)
                ScheduleExpressionTimezone: Europe/Paris
                FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 15}
                Name: nightly-report
    """)
    assert template.function("Fn").schedules == [
        ScheduleSpec("Tick", "shop-Fn-Tick", "rate(5 minutes)", None, '{"a": 1}', "DISABLED"),
        ScheduleSpec("Nightly", "nightly-report", "cron(0 2 * * ? *)", "Europe/Paris", None, "ENABLED", 15)]


FN = """
    Resources:
      Q:
        Type: AWS::SQS::Queue
      Fn:
        Type: AWS::Serverless::Function
        Properties:
    """


@pytest.mark.parametrize(("resource", "match"), [
    ("      Q2:\n        Type: AWS::SQS::Queue\n        Properties: {VisibilityTimeout: 99999}\n",
     r"^ValidationError: Resource Q2 \(line 15\): .*VisibilityTimeout.*Must be an integer from 0 to 43200"),
    ("      Q2:\n        Type: AWS::SQS::Queue\n        Properties: {Colour: red}\n",
     r"^ValidationError: Resource Q2 \(line 15\): unknown or unsupported property 'Colour'"),
    ("      Q2:\n        Type: AWS::SQS::Queue\n        Properties: {QueueName: bad.name}\n",
     r"^ValidationError: Resource Q2 \(line 15\): Can only include alphanumeric"),
    ("      Q2:\n        Type: AWS::SQS::Queue\n        Properties: {RedrivePolicy: {maxReceiveCount: 3}}\n",
     r"^ValidationError: Resource Q2 \(line 15\): .*deadLetterTargetArn"),
])
def test_bad_queues_name_resource_and_line(tmp_path: Path, resource: str, match: str) -> None:
    with pytest.raises(TemplateError, match=match) as info:
        _load(tmp_path, FN.rstrip(" ") + "          Timeout: 3\n" + resource)
    assert info.value.logical_id == "Q2" and info.value.line == 15


@pytest.mark.parametrize(("properties", "match"), [
    ("Events:\n            E: {Type: SQS, Properties: {Queue: not-an-arn}}",
     r"event E \(line 15\): property Queue: must be a queue ARN"),
    ("Events:\n            E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: 0}}",
     r"event E \(line 15\): property BatchSize: must be an integer from 1 to 10000"),
    ("Events:\n            E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: 100}}",
     r"event E \(line 15\): property BatchSize: over 10 needs a MaximumBatchingWindowInSeconds"),
    ("Events:\n            E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, Colour: red}}",
     r"event E \(line 15\): unknown or unsupported property 'Colour'"),
    ("Events:\n            E: {Type: SQS, Properties: {Queue: !GetAtt Q.Nope}}",
     r"event E \(line 15\): Fn::GetAtt Q.Nope: resource Q has no attribute 'Nope'"),
    ("Events:\n            E: {Type: Schedule, Properties: {Schedule: every day}}",
     r"event E \(line 15\): .*"),
    ("Events:\n            E: {Type: Schedule, Properties: {Schedule: rate(1 hour), Input: not json}}",
     r"event E \(line 15\): property Input: must be valid JSON"),
    ("Events:\n            E: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 hour), State: ON}}",
     r"event E \(line 15\): property State: must be ENABLED or DISABLED"),
    ("Events:\n            E: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 hour), "
     "FlexibleTimeWindow: {Mode: FLEXIBLE}}}",
     r"event E \(line 15\): property FlexibleTimeWindow.MaximumWindowInMinutes: must be an integer"),
    ("DeadLetterQueue: {Type: SQS, TargetArn: !Ref Q}",
     r"property DeadLetterQueue \(line 14\): TargetArn must be the ARN of an SQS resource"),
    ("EventInvokeConfig: {MaximumRetryAttempts: 3}",
     r"property EventInvokeConfig \(line 14\): property MaximumRetryAttempts: must be an integer from 0 to 2"),
    ("EventInvokeConfig: {DestinationConfig: {OnSuccess: {Type: SQS}}}",
     r"property EventInvokeConfig \(line 14\): DestinationConfig.OnSuccess.Destination is required"),
])
def test_bad_events_name_resource_and_line(tmp_path: Path, properties: str, match: str) -> None:
    with pytest.raises(TemplateError, match=r"^ValidationError: Resource Fn \(line 11\): " + match) as info:
        _load(tmp_path, FN.rstrip(" ") + "          " + properties + "\n")
    assert info.value.logical_id == "Fn"


def test_redrive_cycles_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="RedrivePolicy forms a cycle"):
        _load(tmp_path, """
        Resources:
          A:
            Type: AWS::SQS::Queue
            Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 1}}
          B:
            Type: AWS::SQS::Queue
            Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 1}}
          Fn:
            Type: AWS::Serverless::Function
        """)
