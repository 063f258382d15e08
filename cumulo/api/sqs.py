"""The SQS JSON protocol (``AmazonSQS.<Operation>``), as boto3's ``sqs`` client speaks it.

Queue URLs are built from the Host the client used, so the URLs boto3 gets back
reach this server.
"""

from __future__ import annotations

from typing import Any

from cumulo.api.awsjson import Service, register
from cumulo.api.http import Request
from cumulo.model.queue import MissingParameter

__all__ = ["SERVICE"]


def _base(request: Request) -> str:
    host = request.header("host")
    return f"http://{host}" if host else ""


def _url(doc: dict[str, Any]) -> Any:
    return doc.get("QueueUrl")


def create_queue(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"QueueUrl": c.queues.create_queue(d.get("QueueName"), d.get("Attributes"), d.get("tags"), _base(r))}


def get_queue_url(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"QueueUrl": c.queues.get_queue_url(d.get("QueueName"), _base(r))}


def list_queues(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.queues.list_queues(d.get("QueueNamePrefix"), d.get("MaxResults"), _base(r), d.get("NextToken"))


def delete_queue(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.queues.delete_queue(_url(d))


def get_queue_attributes(c: Any, r: Request, d: dict[str, Any]) -> Any:
    attrs = c.queues.get_queue_attributes(_url(d), d.get("AttributeNames"))
    return {"Attributes": attrs} if attrs else {}


def set_queue_attributes(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.queues.set_queue_attributes(_url(d), d.get("Attributes") or {})


def _trace(c: Any, r: Request, operation: str, d: dict[str, Any]) -> str | None:
    """The sender's trace header as the messages carry it on: for a sampled sender, ``Parent`` is
    the SQS subsegment recorded under it, as X-Ray shows a queue (docs/traces.md)."""
    incoming = r.header("x-amzn-trace-id")
    if incoming is None:
        return None
    url = d.get("QueueUrl")
    return c.trace_recorder.call(incoming, "SQS", operation, c.trace_recorder.now(),
                                 {"queue_url": url if isinstance(url, str) else "", "region": c.arns.region})


def send_message(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.queues.send_message(_url(d), d.get("MessageBody"), d.get("DelaySeconds"), d.get("MessageAttributes"),
                                 d.get("MessageSystemAttributes"), d.get("MessageGroupId"),
                                 d.get("MessageDeduplicationId"), _trace(c, r, "SendMessage", d))


def send_message_batch(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.queues.send_message_batch(_url(d), d.get("Entries"), _trace(c, r, "SendMessageBatch", d))


def receive_message(c: Any, r: Request, d: dict[str, Any]) -> Any:
    messages = c.queues.receive_message(_url(d), d.get("MaxNumberOfMessages"), d.get("VisibilityTimeout"),
                                        d.get("WaitTimeSeconds"), d.get("AttributeNames"),
                                        d.get("MessageAttributeNames"), d.get("MessageSystemAttributeNames"))
    return {"Messages": messages} if messages else {}


def delete_message(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.queues.delete_message(_url(d), d.get("ReceiptHandle"))


def delete_message_batch(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.queues.delete_message_batch(_url(d), d.get("Entries"))


def change_message_visibility(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.queues.change_message_visibility(_url(d), d.get("ReceiptHandle"), d.get("VisibilityTimeout"))


def change_message_visibility_batch(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.queues.change_message_visibility_batch(_url(d), d.get("Entries"))


def purge_queue(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.queues.purge_queue(_url(d))


def tag_queue(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.queues.tag_queue(_url(d), d.get("Tags") or {})


def untag_queue(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.queues.untag_queue(_url(d), d.get("TagKeys") or [])


def list_queue_tags(c: Any, r: Request, d: dict[str, Any]) -> Any:
    tags = c.queues.list_queue_tags(_url(d))
    return {"Tags": tags} if tags else {}


def list_dead_letter_source_queues(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"queueUrls": c.queues.list_dead_letter_source_queues(_url(d), _base(r))}


def start_message_move_task(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.queues.start_message_move_task(d.get("SourceArn"), d.get("DestinationArn"),
                                            d.get("MaxNumberOfMessagesPerSecond"))


def list_message_move_tasks(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"Results": c.queues.list_message_move_tasks(d.get("SourceArn"), d.get("MaxResults"))}


SERVICE = Service("AmazonSQS", "com.amazonaws.sqs", "application/x-amz-json-1.0", {
    "CreateQueue": create_queue, "GetQueueUrl": get_queue_url, "ListQueues": list_queues,
    "DeleteQueue": delete_queue, "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes, "SendMessage": send_message,
    "SendMessageBatch": send_message_batch, "ReceiveMessage": receive_message, "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch, "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch, "PurgeQueue": purge_queue,
    "TagQueue": tag_queue, "UntagQueue": untag_queue, "ListQueueTags": list_queue_tags,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "StartMessageMoveTask": start_message_move_task, "ListMessageMoveTasks": list_message_move_tasks,
}, query_compatible=True, model="sqs",
    missing=lambda problems: MissingParameter(f"The request must contain the parameter {problems.missing[0]}."))
register(SERVICE)
