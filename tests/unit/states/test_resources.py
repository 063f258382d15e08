"""Task resources: which integration an ARN names, and the history events each one writes."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.stepfunctions.asl import TaskSucceeded, classify, lambda_invoke_result, run_to_completion
from cumulo.stepfunctions.asl.interfaces import HistoryEvent
from cumulo.stepfunctions.asl.resources import Integration, Pattern

from .helpers import machine, started, task, invokes, types


@pytest.mark.parametrize("arn, integration, pattern, service, action, name", [
    ("arn:aws:lambda:us-east-1:123456789012:function:fn", Integration.LAMBDA_FUNCTION, Pattern.REQUEST_RESPONSE,
     "lambda", "", ""),
    ("arn:aws:lambda:eu-west-1:123456789012:function:fn:live", Integration.LAMBDA_FUNCTION,
     Pattern.REQUEST_RESPONSE, "lambda", "", ""),
    ("arn:aws:states:::lambda:invoke", Integration.LAMBDA_INVOKE, Pattern.REQUEST_RESPONSE, "lambda", "invoke",
     "invoke"),
    ("arn:aws:states:::lambda:invoke.waitForTaskToken", Integration.LAMBDA_INVOKE, Pattern.WAIT_FOR_TASK_TOKEN,
     "lambda", "invoke", "invoke.waitForTaskToken"),
    ("arn:aws:states:::states:startExecution", Integration.START_EXECUTION, Pattern.REQUEST_RESPONSE, "states",
     "startExecution", "startExecution"),
    ("arn:aws:states:::states:startExecution.sync", Integration.START_EXECUTION, Pattern.RUN_JOB, "states",
     "startExecution", "startExecution.sync"),
    ("arn:aws:states:::states:startExecution.sync:2", Integration.START_EXECUTION, Pattern.RUN_JOB, "states",
     "startExecution", "startExecution.sync:2"),
    ("arn:aws:states:::sqs:sendMessage", Integration.SQS_SEND_MESSAGE, Pattern.REQUEST_RESPONSE, "sqs",
     "sendMessage", "sendMessage"),
    ("arn:aws:states:::sqs:sendMessage.waitForTaskToken", Integration.SQS_SEND_MESSAGE, Pattern.WAIT_FOR_TASK_TOKEN,
     "sqs", "sendMessage", "sendMessage.waitForTaskToken"),
    ("arn:aws:states:::events:putEvents", Integration.EVENTS_PUT_EVENTS, Pattern.REQUEST_RESPONSE, "events",
     "putEvents", "putEvents"),
    ("arn:aws:states:us-east-1:123456789012:activity:approve", Integration.ACTIVITY, Pattern.REQUEST_RESPONSE,
     "activity", "", ""),
    ("arn:aws:states:::aws-sdk:dynamodb:getItem", Integration.AWS_SDK, Pattern.REQUEST_RESPONSE, "dynamodb",
     "getItem", "getItem"),
    ("arn:aws:states:::dynamodb:putItem", Integration.SERVICE, Pattern.REQUEST_RESPONSE, "dynamodb", "putItem",
     "putItem"),
])
def test_classify(arn: str, integration: Integration, pattern: Pattern, service: str, action: str,
                  name: str) -> None:
    resource = classify(arn)
    assert resource is not None
    assert (resource.integration, resource.pattern, resource.service, resource.action) == (
        integration, pattern, service, action)
    assert resource.resource_name == name
    assert resource.sync_version == (2 if arn.endswith(":2") else 1 if arn.endswith(".sync") else 0)


@pytest.mark.parametrize("arn", ["", "fn", "arn:aws:lambda:us-east-1:12:function:fn", "arn:aws:s3:::bucket",
                                 "arn:aws:states:::aws-sdk:dynamodb", "arn:aws:states:::lambda:in/voke"])
def test_unknown_resources(arn: str) -> None:
    assert classify(arn) is None


def test_function_name_of_a_plain_lambda_arn() -> None:
    resource = classify("arn:aws:lambda:us-east-1:123456789012:function:fn:live")
    assert resource is not None and resource.function_name == "fn:live"
    assert classify("arn:aws:states:::lambda:invoke").function_name is None  # type: ignore[union-attr]


def test_lambda_invoke_result_shape() -> None:
    result = lambda_invoke_result({"a": 1}, {"request_id": "r", "status_code": 200, "headers": {"X-Extra": "1"}})
    assert set(result) == {"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}
    assert result["SdkHttpMetadata"]["HttpHeaders"]["X-Extra"] == "1"
    assert result["ExecutedVersion"] == "$LATEST"


def test_activity_and_service_tasks_write_their_own_event_types() -> None:
    activity = run_to_completion(machine(("A", task(Resource="arn:aws:states:us-east-1:123456789012:activity:a"))),
                                 {}, lambda r, p: "done")
    assert types(activity.history)[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    sdk = run_to_completion(machine(("S", task(Resource="arn:aws:states:::aws-sdk:s3:listBuckets",
                                               Parameters={}))), {}, lambda r, p: {"Buckets": []})
    scheduled = next(e for e in sdk.history if e.type == "TaskScheduled")
    assert scheduled.details == {"resourceType": "s3", "resource": "listBuckets", "region": "us-east-1",
                                 "parameters": "{}"}


def test_history_events_render_as_get_execution_history() -> None:
    execution, _, commands = started(machine(("T", task(Resource="arn:aws:states:::events:putEvents",
                                                        Parameters={"Entries": []}))), {})
    execution.advance(TaskSucceeded(invokes(commands)[0].task_id, {"Entries": [], "FailedEntryCount": 0}))
    rendered = [e.to_aws() for e in execution.history]
    assert [sorted(k for k in r if k.endswith("Details")) for r in rendered] == [
        ["executionStartedEventDetails"], ["stateEnteredEventDetails"], ["taskScheduledEventDetails"],
        ["taskStartedEventDetails"], ["taskSucceededEventDetails"], ["stateExitedEventDetails"],
        ["executionSucceededEventDetails"]]
    assert HistoryEvent(9, 8, 0.0, "MapStateStarted", {"length": 2}).to_aws()["mapStateStartedEventDetails"] == {
        "length": 2}
    assert "mapIterationStartedEventDetails" in HistoryEvent(1, 0, 0.0, "MapIterationStarted", {}).to_aws()
    plain: Any = HistoryEvent(1, 0, 0.0, "ParallelStateStarted", None).to_aws()
    assert set(plain) == {"timestamp", "type", "id", "previousEventId"}
