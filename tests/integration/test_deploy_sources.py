"""Deploying templates with queues and event sources: AWS::SQS::Queue, SQS/Schedule events, DeadLetterQueue,
EventInvokeConfig — made, kept on re-deploy, removed with the template, rolled back on failure."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.queues import queue_name_for
from cumulo.errors import CumuloError, ResourceNotFoundException

HANDLER = "def handler(event, context):\n    for r in event.get('Records', []):\n        print('got', r['body'])\n"

QUEUES = """
  DLQ:
    Type: AWS::SQS::Queue
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DLQ.Arn
        maxReceiveCount: 3
"""
FUNCTION = """
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt DLQ.Arn}
      EventInvokeConfig: {MaximumRetryAttempts: 1}
      Environment:
        Variables:
          WORK_URL: !Ref Work
      Events:
EVENTS
"""
SQS_EVENT = "        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Work.Arn, BatchSize: BATCH}}\n"
SCHEDULE_EVENT = "        Tick: {Type: Schedule, Properties: {Schedule: rate(1 day), Input: '{\"tick\": 1}'}}\n"
OUTPUTS = """
Outputs:
  WorkUrl: {Value: !Ref Work}
  WorkArn: {Value: !GetAtt Work.Arn}
  DlqName: {Value: !GetAtt DLQ.QueueName}
"""


def _write(folder: Path, *, queues: str = QUEUES, events: str = SQS_EVENT + SCHEDULE_EVENT, batch: int = 5,
           outputs: str = OUTPUTS) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    body = "Resources:" + queues + FUNCTION.replace("EVENTS\n", events or "        {}\n") + outputs
    if not events:
        body = body.replace("      Events:\n        {}\n", "")
    path = folder / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\n" + textwrap.dedent(body).replace("BATCH", str(batch)))
    return path


def _wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_queue_mapping_schedule_and_dead_letter_queue(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "jobs")
    result = deploy(cumulo, path)
    work, dlq = queue_name_for("jobs", "Work"), queue_name_for("jobs", "DLQ")
    assert {(c.kind, c.function): c.action for c in result.changes} == {
        ("function", "jobs-Worker"): "create", ("queue", dlq): "create", ("queue", work): "create",
        ("event source mapping", f"{work} -> jobs-Worker"): "create", ("schedule", "jobs-Worker-Tick"): "create",
        ("role", role_name_for("jobs", "WorkerRole")): "create"}
    assert not result.warnings
    # The role SAM makes: basic execution, its SQS event's poller policy, sending to its dead-letter queue.
    role = role_name_for("jobs", "WorkerRole")
    assert cumulo.get_function_configuration("jobs-Worker").role == cumulo.identity.roles.get_role(role)["Arn"]
    assert [name for name, _ in cumulo.identity.roles.list_attached_role_policies(role)] == [
        "AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole"]
    assert json.loads(cumulo.identity.roles.get_role_policy(role, "DeadLetterQueuePolicy")[2])["Statement"] == [
        {"Action": "sqs:SendMessage", "Resource": cumulo.queues.arn(dlq), "Effect": "Allow"}]
    assert result.outputs == {"WorkUrl": cumulo.queues.url(work), "WorkArn": cumulo.queues.arn(work),
                              "DlqName": dlq}

    attrs = cumulo.queues.get_queue_attributes(work, ["All"])
    assert attrs["VisibilityTimeout"] == "5"
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": cumulo.queues.arn(dlq), "maxReceiveCount": 3}
    (mapping,) = cumulo.mappings.list(function_name="jobs-Worker")
    assert (mapping["EventSourceArn"], mapping["BatchSize"], mapping["State"]) == (cumulo.queues.arn(work), 5, "Enabled")
    schedule = cumulo.schedules_service.get("jobs-Worker-Tick")
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert schedule["Target"] == {"Arn": cumulo.arns.function("jobs-Worker"), "Input": '{"tick": 1}'}
    doc = cumulo.get_function("jobs-Worker")["Configuration"]
    assert doc["DeadLetterConfig"] == {"TargetArn": cumulo.queues.arn(dlq)}
    assert doc["Environment"]["Variables"]["WORK_URL"] == cumulo.queues.url(work)
    assert cumulo.event_invoke_configs.get("jobs-Worker")["MaximumRetryAttempts"] == 1

    cumulo.queues.send_message(work, "hello from the queue")
    cumulo.start_workers()
    try:
        assert _wait_for(lambda: any("got hello from the queue" in r.message for r in cumulo.get_logs("jobs-Worker")))
    finally:
        cumulo.stop_workers()

    again = deploy(cumulo, path)
    assert not again.changed, again.summary()
    assert cumulo.mappings.list(function_name="jobs-Worker")[0]["UUID"] == mapping["UUID"]


def test_changes_update_in_place_and_removals_delete(cumulo: Cumulo, tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    deploy(cumulo, _write(folder))
    (mapping,) = cumulo.mappings.list(function_name="jobs-Worker")
    work, dlq = queue_name_for("jobs", "Work"), queue_name_for("jobs", "DLQ")

    changed = deploy(cumulo, _write(folder, queues=QUEUES.replace("VisibilityTimeout: 5", "VisibilityTimeout: 9"),
                                    batch=7))
    actions = {(c.kind, c.logical_id): (c.action, c.details) for c in changed.changes}
    assert actions[("queue", "Work")] == ("update", ["VisibilityTimeout"])
    assert actions[("event source mapping", "Worker.Jobs")] == ("update", ["BatchSize"])
    assert cumulo.queues.get_queue_attributes(work, ["VisibilityTimeout"]) == {"VisibilityTimeout": "9"}
    (updated,) = cumulo.mappings.list(function_name="jobs-Worker")
    assert (updated["UUID"], updated["BatchSize"]) == (mapping["UUID"], 7)

    # Events gone: the mapping and schedule go; the Work queue gone: it is deleted, DLQ stays.
    only_dlq = "\n  DLQ:\n    Type: AWS::SQS::Queue\n"
    function_only = FUNCTION.replace("          WORK_URL: !Ref Work\n", "          STAGE: test\n")
    path = folder / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\n" + textwrap.dedent(
        "Resources:" + only_dlq + function_only.replace("      Events:\nEVENTS\n", "")))
    plan = deploy(cumulo, path, dry_run=True)
    assert {(c.kind, c.action) for c in plan.changes if c.action == "delete"} == {
        ("queue", "delete"), ("event source mapping", "delete"), ("schedule", "delete")}
    assert cumulo.queues.exists(work)
    deploy(cumulo, path)
    assert cumulo.mappings.list(function_name="jobs-Worker") == []
    with pytest.raises(ResourceNotFoundException):
        cumulo.schedules_service.get("jobs-Worker-Tick")
    assert not cumulo.queues.exists(work) and cumulo.queues.exists(dlq)
    record = cumulo.store.get_stack("jobs")
    assert record is not None and record["queues"] == {"DLQ": dlq} and record["mappings"] == {}


def test_auto_publish_alias_targets_the_alias(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "jobs")
    text = path.read_text().replace("      Runtime: python3.11\n", "      Runtime: python3.11\n      AutoPublishAlias: live\n")
    path.write_text(text)
    deploy(cumulo, path)
    (mapping,) = cumulo.mappings.list(function_name="jobs-Worker")
    assert mapping["FunctionArn"] == cumulo.arns.function("jobs-Worker", "live")
    assert cumulo.event_invoke_configs.get("jobs-Worker", "live")["MaximumRetryAttempts"] == 1
    assert cumulo.schedules_service.get("jobs-Worker-Tick")["Target"]["Arn"] == cumulo.arns.function("jobs-Worker",
                                                                                                     "live")
    assert not deploy(cumulo, path).changed


def test_failed_deploy_rolls_back_queues_it_created(cumulo: Cumulo, tmp_path: Path) -> None:
    # FIFO queues take at most 10 messages a batch: the mapping is refused after queue and function exist.
    fifo = QUEUES.replace("  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n",
                          "  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n")
    fifo = fifo.replace("  DLQ:\n    Type: AWS::SQS::Queue\n", "  DLQ:\n    Type: AWS::SQS::Queue\n"
                        "    Properties: {FifoQueue: true}\n")
    path = _write(tmp_path / "jobs", queues=fifo, events=SQS_EVENT.replace("BatchSize: BATCH",
                                                                           "BatchSize: 20, "
                                                                           "MaximumBatchingWindowInSeconds: 1"))
    with pytest.raises(CumuloError, match="rolled back"):
        deploy(cumulo, path)
    assert not cumulo.queues.exists(queue_name_for("jobs", "Work", fifo=True))
    assert not cumulo.queues.exists(queue_name_for("jobs", "DLQ", fifo=True))
    with pytest.raises(ResourceNotFoundException):
        cumulo.get_function_configuration("jobs-Worker")
    assert cumulo.mappings.list() == []
