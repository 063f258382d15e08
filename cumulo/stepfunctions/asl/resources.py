"""Task resources: which integration a ``Resource`` ARN names, and how its result is shaped.

To the core a resource is just a command for the shell; it only needs to know the integration
(for history events and result shapes) and the pattern (request-response, ``.sync`` run-a-job,
``.waitForTaskToken`` callback):

    arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]  LAMBDA_FUNCTION  result = the payload
    arn:aws:states:::lambda:invoke[.waitForTaskToken]         LAMBDA_INVOKE    result = Invoke's answer
    arn:aws:states:::states:startExecution[.sync[:2]|.waitForTaskToken]  START_EXECUTION
    arn:aws:states:::sqs:sendMessage[.waitForTaskToken]        SQS_SEND_MESSAGE
    arn:aws:states:::events:putEvents[.waitForTaskToken]       EVENTS_PUT_EVENTS
    arn:aws:states:REGION:ACCOUNT:activity:NAME                ACTIVITY
    arn:aws:states:::aws-sdk:SERVICE:ACTION                    AWS_SDK
    any other arn:aws:states:::SERVICE:ACTION                  SERVICE
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["Integration", "Pattern", "Resource", "classify", "lambda_invoke_result", "lambda_error"]

Json = Any


class Integration(str, Enum):
    LAMBDA_FUNCTION = "lambda-function"
    LAMBDA_INVOKE = "lambda-invoke"
    START_EXECUTION = "states-start-execution"
    SQS_SEND_MESSAGE = "sqs-send-message"
    EVENTS_PUT_EVENTS = "events-put-events"
    ACTIVITY = "activity"
    AWS_SDK = "aws-sdk"
    SERVICE = "service"


class Pattern(str, Enum):
    REQUEST_RESPONSE = "request-response"
    RUN_JOB = "run-job"                     # .sync / .sync:2
    WAIT_FOR_TASK_TOKEN = "wait-for-task-token"


@dataclass(frozen=True)
class Resource:
    arn: str
    integration: Integration
    pattern: Pattern
    service: str                    # "lambda", "states", "sqs", "events", the SDK service …
    action: str                     # "invoke", "startExecution", "sendMessage" … ("" for a plain function)
    sync_version: int = 0           # 2 for ".sync:2" (output parsed as JSON), 1 for ".sync"

    @property
    def resource_type(self) -> str:
        """``resourceType`` of Task* history events (``lambda``, ``states``, ``sqs`` …)."""
        return self.service

    @property
    def resource_name(self) -> str:
        """``resource`` of Task* history events: the action with its pattern suffix."""
        suffix = {Pattern.RUN_JOB: ".sync" + (":2" if self.sync_version == 2 else ""),
                  Pattern.WAIT_FOR_TASK_TOKEN: ".waitForTaskToken"}.get(self.pattern, "")
        return self.action + suffix

    @property
    def function_name(self) -> str | None:
        """For a plain Lambda ARN, the function (with qualifier) the shell invokes."""
        if self.integration is not Integration.LAMBDA_FUNCTION:
            return None
        return self.arn.split(":function:", 1)[1]


_LAMBDA = re.compile(r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[$A-Za-z0-9_-]+)?")
_ACTIVITY = re.compile(r"arn:aws[a-zA-Z-]*:states:[a-z0-9-]+:\d{12}:activity:.+")
_SERVICE = re.compile(r"arn:aws[a-zA-Z-]*:states:[a-z0-9-]*:(\d{12})?:([A-Za-z0-9-]+):(.+)")
_NAMED = {("lambda", "invoke"): Integration.LAMBDA_INVOKE, ("states", "startExecution"): Integration.START_EXECUTION,
          ("sqs", "sendMessage"): Integration.SQS_SEND_MESSAGE, ("events", "putEvents"): Integration.EVENTS_PUT_EVENTS}


def classify(arn: str) -> Resource | None:
    """The resource an ARN names, or ``None`` when it is not a Task resource we recognise."""
    if _LAMBDA.fullmatch(arn):
        return Resource(arn, Integration.LAMBDA_FUNCTION, Pattern.REQUEST_RESPONSE, "lambda", "")
    if _ACTIVITY.fullmatch(arn):
        return Resource(arn, Integration.ACTIVITY, Pattern.REQUEST_RESPONSE, "activity", "")
    match = _SERVICE.fullmatch(arn)
    if not match:
        return None
    service, rest = match.group(2), match.group(3)
    pattern, sync_version = Pattern.REQUEST_RESPONSE, 0
    for suffix, pat, version in ((".sync:2", Pattern.RUN_JOB, 2), (".sync", Pattern.RUN_JOB, 1),
                                 (".waitForTaskToken", Pattern.WAIT_FOR_TASK_TOKEN, 0)):
        if rest.endswith(suffix):
            rest, pattern, sync_version = rest[:-len(suffix)], pat, version
            break
    if service == "aws-sdk":
        sdk_service, _, action = rest.partition(":")
        if not sdk_service or not action:
            return None
        return Resource(arn, Integration.AWS_SDK, pattern, sdk_service, action, sync_version)
    if not re.fullmatch(r"[A-Za-z0-9]+", rest):
        return None
    integration = _NAMED.get((service, rest), Integration.SERVICE)
    return Resource(arn, integration, pattern, service, rest, sync_version)


def lambda_invoke_result(payload: Json, metadata: dict[str, Json]) -> dict[str, Json]:
    """What ``arn:aws:states:::lambda:invoke`` returns: the Invoke API's answer, payload inside."""
    status = int(metadata.get("status_code", 200))
    request_id = str(metadata.get("request_id", ""))
    version = str(metadata.get("executed_version", "$LATEST"))
    headers = {"Connection": "keep-alive", "Content-Type": "application/json",
               "X-Amz-Executed-Version": version, "x-amzn-RequestId": request_id}
    headers.update({str(k): str(v) for k, v in dict(metadata.get("headers") or {}).items()})
    return {
        "ExecutedVersion": version,
        "Payload": payload,
        "SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()},
                            "HttpHeaders": headers, "HttpStatusCode": status},
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": status,
    }


def lambda_error(document: Json) -> tuple[str, str]:
    """The (error, cause) a Task reports for a function error document: the document's
    ``errorType`` (``Lambda.Unknown`` when it has none) and the document as JSON text."""
    import json
    error = document.get("errorType") if isinstance(document, dict) else None
    cause = json.dumps(document, separators=(",", ":")) if not isinstance(document, str) else document
    return (error if isinstance(error, str) and error else "Lambda.Unknown"), cause
