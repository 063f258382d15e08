"""SQS's operations as IAM sees them (Service Authorization Reference, "Amazon SQS").

Every operation on a queue acts on the queue's ARN, read from its ``QueueUrl``
(``<endpoint>/<account>/<name>``: the account in the URL, else the server's). A batch is
authorized as its single operation: ``SendMessageBatch`` as ``sqs:SendMessage``,
``DeleteMessageBatch`` as ``sqs:DeleteMessage``, ``ChangeMessageVisibilityBatch`` as
``sqs:ChangeMessageVisibility`` (SQS's developer guide, "Amazon SQS batch actions"). ``ListQueues``
has no resource (``*``). A message move task is authorized on its source (the dead-letter queue).
"""

from __future__ import annotations

import re

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["queue_arn", "OPERATIONS"]

_ACCOUNT = re.compile(r"\d{12}")


def queue_arn(ref: str, scope: Scope) -> str:
    """The ARN of the queue a QueueUrl (or an ARN, or a name) names."""
    if ref.startswith("arn:"):
        return ref
    parts = ref.rstrip("/").split("/")
    name = parts[-1] or "*"
    account = parts[-2] if len(parts) >= 2 and _ACCOUNT.fullmatch(parts[-2]) else scope.account
    return scope.arn("sqs", name, account=account)


def on_queue(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, queue_arn(text(call.doc.get("QueueUrl")), scope)),)
    return mapper


def by_name(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        owner = text(call.doc.get("QueueOwnerAWSAccountId"))
        name = text(call.doc.get("QueueName")) or "*"
        return (Check(action, scope.arn("sqs", name, account=owner if _ACCOUNT.fullmatch(owner) else None)),)
    return mapper


def on_source(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        source = text(call.doc.get("SourceArn"))
        return (Check(action, source if source.startswith("arn:") else "*"),)
    return mapper


OPERATIONS: dict[str, Mapper] = {
    "CreateQueue": by_name("sqs:CreateQueue"),
    "GetQueueUrl": by_name("sqs:GetQueueUrl"),
    "ListQueues": anywhere("sqs:ListQueues"),
    "DeleteQueue": on_queue("sqs:DeleteQueue"),
    "GetQueueAttributes": on_queue("sqs:GetQueueAttributes"),
    "SetQueueAttributes": on_queue("sqs:SetQueueAttributes"),
    "SendMessage": on_queue("sqs:SendMessage"),
    "SendMessageBatch": on_queue("sqs:SendMessage"),
    "ReceiveMessage": on_queue("sqs:ReceiveMessage"),
    "DeleteMessage": on_queue("sqs:DeleteMessage"),
    "DeleteMessageBatch": on_queue("sqs:DeleteMessage"),
    "ChangeMessageVisibility": on_queue("sqs:ChangeMessageVisibility"),
    "ChangeMessageVisibilityBatch": on_queue("sqs:ChangeMessageVisibility"),
    "PurgeQueue": on_queue("sqs:PurgeQueue"),
    "TagQueue": on_queue("sqs:TagQueue"),
    "UntagQueue": on_queue("sqs:UntagQueue"),
    "ListQueueTags": on_queue("sqs:ListQueueTags"),
    "ListDeadLetterSourceQueues": on_queue("sqs:ListDeadLetterSourceQueues"),
    "StartMessageMoveTask": on_source("sqs:StartMessageMoveTask"),
    "ListMessageMoveTasks": on_source("sqs:ListMessageMoveTasks"),
}

register("sqs", OPERATIONS)
