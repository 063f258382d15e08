"""Task resources of state machines, run against Cumulo's own services.

``run_task`` turns one ``InvokeTask`` command into the event the interpreter
expects back (``TaskSucceeded`` / ``TaskFailed``), or ``None`` when the result
comes later (``.waitForTaskToken``, ``startExecution.sync``). It blocks (a
function may run for 15 minutes), so the engine calls it on a worker thread.
Lambda, SQS, EventBridge and Step Functions tasks reach their service through the target router
(``ports.Targets``); DynamoDB's optimized integration (``arn:aws:states:::dynamodb:putItem`` …) and
the AWS SDK integrations (``arn:aws:states:::aws-sdk:dynamodb:query`` …) call the service's API
directly (``ports.ServiceCalls``) as the state machine's role. Their errors are named as Step
Functions names them, for Retry and Catch: ``DynamoDB.ConditionalCheckFailedException`` (optimized),
``DynamoDb.ConditionalCheckFailedException`` (SDK: the SDK's service name in PascalCase).

Every call is the state machine's role's (``role``; None: the platform's own machine, not asked): the
target router's calls are asked first (``ServiceCalls.refusal``, as the API operation they are:
Lambda's ``Invoke``, SQS's ``SendMessage``, EventBridge's ``PutEvents``, ``StartExecution``). A
refusal fails the task as Step Functions reports a service's access denied: the service client's
generic exception (``Lambda.AWSLambdaException``, ``SQS.AmazonSQSException``,
``EventBridge.AmazonEventBridgeException``, ``StepFunctions.AWSStepFunctionsException``,
``DynamoDB.AmazonDynamoDBException``; SDK integrations ``DynamoDb.DynamoDbException``), its cause
IAM's message followed by the SDK's ``(Service: …; Status Code: …; Error Code: …; Request ID: …)``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from cumulo.errors import CumuloError
from cumulo.ports import Kind, Send, ServiceCalls, Target, Targets
from cumulo.stepfunctions.asl import Integration, InvokeTask, Pattern, TaskFailed, TaskSucceeded, lambda_error

__all__ = ["run_task"]

Event = TaskSucceeded | TaskFailed


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# The optimized DynamoDB integration's actions (Step Functions developer guide, "DynamoDB").
_DYNAMODB = {"getItem": "GetItem", "putItem": "PutItem", "updateItem": "UpdateItem", "deleteItem": "DeleteItem"}
# AWS SDK integrations: the SDK's service name (as the Resource writes it) -> botocore's, and the
# prefix of its error names (the AWS SDK for Java 2.x client's name, as Step Functions spells them:
# ``<Service>.<Error>Exception``). Served: every service Cumulo's endpoint has.
_SDK = {"dynamodb": ("dynamodb", "DynamoDb"), "sqs": ("sqs", "Sqs"), "sns": ("sns", "Sns"), "s3": ("s3", "S3"),
        "eventbridge": ("events", "EventBridge"), "sfn": ("stepfunctions", "Sfn"), "lambda": ("lambda", "Lambda"),
        "secretsmanager": ("secretsmanager", "SecretsManager"), "ssm": ("ssm", "Ssm"), "kms": ("kms", "Kms"),
        "cloudwatch": ("cloudwatch", "CloudWatch"), "cloudwatchlogs": ("logs", "CloudWatchLogs"),
        "kinesis": ("kinesis", "Kinesis"), "sts": ("sts", "Sts"), "iam": ("iam", "Iam"), "xray": ("xray", "XRay"),
        "dynamodbstreams": ("dynamodbstreams", "DynamoDbStreams")}
# Optimized integrations served as an API call: (service, action) -> (botocore's name, the API's
# action, the prefix of their error names).
_OPTIMIZED = {("sns", "publish"): ("sns", "Publish", "SNS")}


# A service's access denied, as its SDK client reports it to Step Functions: (the task's error, the
# SDK's service name, HTTP status, error code). Optimized integrations use the AWS SDK for Java 1.x's
# names; AWS SDK integrations the 2.x client's (``<Service>.<Service>Exception``).
_DENIED = {"lambda": ("Lambda.AWSLambdaException", "AWSLambda", 403, "AccessDeniedException"),
           "sqs": ("SQS.AmazonSQSException", "AmazonSQS", 403, "AccessDenied"),
           "events": ("EventBridge.AmazonEventBridgeException", "AmazonEventBridge", 400, "AccessDeniedException"),
           "states": ("StepFunctions.AWSStepFunctionsException", "AWSStepFunctions", 400, "AccessDeniedException"),
           "DynamoDB": ("DynamoDB.AmazonDynamoDBException", "AmazonDynamoDBv2", 400, "AccessDeniedException"),
           "SNS": ("SNS.AmazonSNSException", "AmazonSNS", 403, "AuthorizationError"),
           **{prefix: (f"{prefix}.{prefix}Exception", prefix, 403 if prefix in ("Sqs", "S3", "Sns", "Iam", "Sts")
                       else 400, "AccessDenied" if prefix in ("Sqs", "S3") else "AccessDeniedException")
              for _, prefix in _SDK.values()}}


# How the services name an access denied on the wire (IAM's refusal of the role's call).
_ACCESS_DENIED = ("AccessDeniedException", "AccessDenied", "AuthorizationError",
                  "AWS.SimpleQueueService.AccessDenied", "AuthorizationErrorException")


def _denied(task_id: str, service: str, message: str) -> TaskFailed:
    error, name, status, code = _DENIED[service]
    return TaskFailed(task_id, error, f"{message} (Service: {name}; Status Code: {status}; Error Code: {code}; "
                                      f"Request ID: {uuid.uuid4()}; Proxy: null)")


def _refused(services: ServiceCalls | None, role: str | None, task_id: str, service: str, operation: str,
             params: dict[str, Any]) -> TaskFailed | None:
    """The task's failure when the role may not make this call, else None."""
    if services is None or role is None:
        return None
    message = services.refusal(role, "stepfunctions" if service == "states" else service, operation, params)
    return None if message is None else _denied(task_id, service, message)


def run_task(targets: Targets, arn: str, command: InvokeTask, services: ServiceCalls | None = None,
             role: str | None = None, trace: str | None = None) -> Event | None:
    """``trace``: the execution's trace header, carried on by function, queue, bus and child
    execution tasks (docs/traces.md)."""
    resource, params, task_id = command.resource, command.parameters, command.task_id
    waits = resource.pattern is Pattern.WAIT_FOR_TASK_TOKEN
    try:
        if resource.integration is Integration.LAMBDA_FUNCTION:
            function = resource.function_name or ""
            event = _refused(services, role, task_id, "lambda", "Invoke", {"FunctionName": function}) or \
                _lambda(targets, task_id, function, None, params, "RequestResponse", trace)
        elif resource.integration is Integration.LAMBDA_INVOKE:
            if not isinstance(params, dict) or not params.get("FunctionName"):
                return TaskFailed(task_id, "States.Runtime", "lambda:invoke needs Parameters.FunctionName")
            function, qualifier = _text(params["FunctionName"]), params.get("Qualifier")
            event = _refused(services, role, task_id, "lambda", "Invoke", {
                "FunctionName": f"{function}:{qualifier}" if isinstance(qualifier, str) and qualifier else function}) \
                or _lambda(targets, task_id, function, qualifier, params.get("Payload"),
                           params.get("InvocationType") or "RequestResponse", trace)
        elif resource.integration is Integration.SQS_SEND_MESSAGE:
            event = _refused(services, role, task_id, "sqs", "SendMessage", params if isinstance(params, dict)
                             else {}) or _sqs(targets, task_id, params, trace)
        elif resource.integration is Integration.EVENTS_PUT_EVENTS:
            event = _refused(services, role, task_id, "events", "PutEvents", params if isinstance(params, dict)
                             else {}) or _put_events(targets, task_id, params)
        elif resource.integration is Integration.SERVICE and resource.service == "dynamodb" \
                and resource.action in _DYNAMODB and services is not None:
            return _service(services, task_id, "dynamodb", _DYNAMODB[resource.action], params, role, "DynamoDB",
                            metadata=True)
        elif resource.integration is Integration.SERVICE and (resource.service, resource.action) in _OPTIMIZED \
                and services is not None:
            service, action, prefix = _OPTIMIZED[resource.service, resource.action]
            if isinstance(params, dict) and "Message" in params:   # a JSON message may be given as JSON
                params = {**params, "Message": _text(params["Message"])}
            event = _service(services, task_id, service, action, params, role, prefix, metadata=True)
        elif resource.integration is Integration.AWS_SDK and resource.service in _SDK and services is not None:
            service, prefix = _SDK[resource.service]
            action = resource.action[:1].upper() + resource.action[1:]
            event = _service(services, task_id, service, action, params, role, prefix, sdk=True)
        elif resource.integration is Integration.START_EXECUTION:
            refused = _refused(services, role, task_id, "states", "StartExecution", {
                "stateMachineArn": params.get("StateMachineArn")} if isinstance(params, dict) else {})
            if refused is not None:
                return refused
            started = _start_execution(targets, arn, command, trace)
            if started is None:
                return None              # .sync: the child's end completes the task
            event = started
        else:
            return TaskFailed(task_id, "States.Runtime",
                              f"Cumulo cannot run the Task resource {resource.arn}: it runs Lambda functions, "
                              "lambda:invoke, sqs:sendMessage, events:putEvents, states:startExecution, "
                              "dynamodb:getItem/putItem/updateItem/deleteItem, sns:publish and "
                              f"aws-sdk:<service>:<action> for {', '.join(sorted(_SDK))} (under cumulo up).")
    except CumuloError as err:
        prefix = {"lambda": "Lambda", "sqs": "SQS", "events": "EventBridge"}.get(resource.service, resource.service)
        return TaskFailed(task_id, f"{prefix}.{err.type}", err.message)
    if waits and isinstance(event, TaskSucceeded):
        return None               # the result arrives with SendTaskSuccess / SendTaskFailure
    return event


def _service(services: ServiceCalls, task_id: str, service: str, action: str, params: Any, role: str | None,
             prefix: str, metadata: bool = False, sdk: bool = False) -> Event:
    """One API call; a refusal is ``<prefix>.<error type>`` (an action not served: States.Runtime).
    ``sdk``: an AWS SDK integration, whose error names always end in ``Exception`` (S3's
    ``NoSuchKey`` is ``S3.NoSuchKeyException``), as Step Functions names them."""
    if not isinstance(params, dict):
        return TaskFailed(task_id, "States.Runtime", f"{service}:{action} needs Parameters")
    try:
        answer = services.call(service, action, params, role)
    except CumuloError as err:
        if err.type == "UnknownOperationException":
            return TaskFailed(task_id, "States.Runtime", err.message)
        if err.type in _ACCESS_DENIED and prefix in _DENIED:
            return _denied(task_id, prefix, err.message)
        name = err.type.rsplit(".", 1)[-1]
        if sdk and not name.endswith("Exception"):
            name += "Exception"
        return TaskFailed(task_id, f"{prefix}.{name}", err.message)
    out = dict(answer or {})
    if metadata:       # what the optimized integrations add to the API's answer
        out.update({"SdkHttpMetadata": {"HttpHeaders": {"Content-Type": "application/x-amz-json-1.0"},
                                        "HttpStatusCode": 200},
                    "SdkResponseMetadata": {"RequestId": str(uuid.uuid4())}})
    return TaskSucceeded(task_id, out)


def _lambda(targets: Targets, task_id: str, function: str, qualifier: str | None, payload: Any,
            invocation_type: str, trace: str | None = None) -> Event:
    text = "" if payload is None else _text(payload)
    result = targets.send(Target.of(Kind.FUNCTION, function), Send(text, qualifier=qualifier,
                                                                    invocation_type=invocation_type,
                                                                    trace_header=trace))
    try:
        output = json.loads(result.payload) if result.payload else None
    except ValueError:
        output = result.payload.decode(errors="replace")
    if result.function_error:
        error, cause = lambda_error(output)
        return TaskFailed(task_id, error, cause)
    return TaskSucceeded(task_id, output if invocation_type != "Event" else "",
                         {"status_code": result.status_code, "request_id": result.request_id,
                          "executed_version": result.executed_version})


def _sqs(targets: Targets, task_id: str, params: Any, trace: str | None = None) -> Event:
    if not isinstance(params, dict) or "QueueUrl" not in params or "MessageBody" not in params:
        return TaskFailed(task_id, "States.Runtime", "sqs:sendMessage needs QueueUrl and MessageBody")
    answer = targets.send(Target.of(Kind.QUEUE, params["QueueUrl"]), Send(
        _text(params["MessageBody"]), attributes=params.get("MessageAttributes"),
        delay_seconds=params.get("DelaySeconds"), group_id=params.get("MessageGroupId"),
        dedup_id=params.get("MessageDeduplicationId"), trace_header=trace))
    return TaskSucceeded(task_id, answer)


def _put_events(targets: Targets, task_id: str, params: Any) -> Event:
    entries = params.get("Entries") if isinstance(params, dict) else None
    if not isinstance(entries, list):
        return TaskFailed(task_id, "States.Runtime", "events:putEvents needs Entries")
    result = targets.send(Target.of(Kind.BUS, ""), Send(entries=[
        {**e, "Detail": _text(e["Detail"])} if isinstance(e, dict) and "Detail" in e else e for e in entries]))
    if result["FailedEntryCount"]:
        return TaskFailed(task_id, "EventBridge.FailedEntry", json.dumps(result))
    return TaskSucceeded(task_id, result)


def _start_execution(targets: Targets, parent_arn: str, command: InvokeTask, trace: str | None = None) -> Event | None:
    params, task_id = command.parameters, command.task_id
    if not isinstance(params, dict) or not params.get("StateMachineArn"):
        return TaskFailed(task_id, "States.Runtime", "states:startExecution needs StateMachineArn")
    parent = None
    if command.resource.pattern is Pattern.RUN_JOB:
        parent = {"arn": parent_arn, "task_id": task_id, "sync_version": command.resource.sync_version}
    raw_input = params.get("Input", {})
    started = targets.send(Target.of(Kind.STATE_MACHINE, params["StateMachineArn"]),
                           Send(_text(raw_input), name=params.get("Name"), parent=parent, trace_header=trace))
    if parent is not None:
        return None
    return TaskSucceeded(task_id, {"ExecutionArn": started["executionArn"], "StartDate": started["startDate"]})

