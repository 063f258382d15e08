"""``AWS::SQS::Queue`` resources in templates: read, named and ordered.

What CloudFormation does, and so what this does:

- ``QueueName`` absent: the queue is named ``<stack>-<LogicalId>-<suffix>``
  (``.fifo`` appended for a FIFO queue), at most 80 characters. CloudFormation's
  suffix is random; ours is a hash of stack and logical id, so a re-deploy finds
  the same queue.
- ``Ref`` is the queue URL; ``Fn::GetAtt`` gives ``Arn``, ``QueueName`` and
  ``QueueUrl``.
- ``RedrivePolicy`` (``deadLetterTargetArn``, ``maxReceiveCount``), usually
  ``!GetAtt DLQ.Arn``: the dead-letter queue is created first (``ordered``).
- Properties SQS has no use for here (encryption, policies) are accepted and
  noted (``QueueSpec.notes``); anything else is refused.

Pure: property maps in, ``QueueSpec``s out. Faults are ``IntrinsicError``s
naming the property; the ``queue`` kind (``cumulo.deploy.kinds.queue``) adds the resource and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.names import stable_name
from cumulo.errors import CumuloError
from cumulo.model import queue as q
from cumulo.model.queue import QueueAttributes

__all__ = ["QUEUE_TYPE", "QueueSpec", "queue_name_for", "read_queue", "ordered", "queue_attributes"]

QUEUE_TYPE = "AWS::SQS::Queue"
# Template property -> SQS attribute, for the properties that are SQS attributes.
_ATTRIBUTES = ("FifoQueue", "ContentBasedDeduplication", "DelaySeconds", "MaximumMessageSize",
               "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy",
               "DeduplicationScope", "FifoThroughputLimit", "RedriveAllowPolicy")
_IGNORED = {
    "KmsMasterKeyId": "messages are not encrypted with a KMS key",
    "KmsDataKeyReusePeriodSeconds": "messages are not encrypted with a KMS key",
    "SqsManagedSseEnabled": "messages are stored unencrypted in Cumulo's store",
}
_NAME_MAX = 80


def queue_name_for(stack: str, logical_id: str, fifo: bool = False) -> str:
    """CloudFormation's ``<stack>-<LogicalId>-<suffix>``, the suffix stable for a stack and logical id."""
    return stable_name(stack, logical_id, _NAME_MAX - (5 if fifo else 0)) + (".fifo" if fifo else "")


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    url: str
    attributes: dict[str, str]          # as SQS stores them (strings), validated
    tags: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list, compare=False)

    @property
    def dead_letter_target(self) -> str | None:
        redrive = QueueAttributes(self.attributes).redrive
        return redrive[0] if redrive else None


def queue_attributes(logical_id: str, name: str, arn: str, url: str) -> dict[tuple[str, str], str]:
    """What ``Ref`` and ``Fn::GetAtt`` give for a queue."""
    return {(logical_id, "Ref"): url, (logical_id, "QueueUrl"): url, (logical_id, "Arn"): arn,
            (logical_id, "QueueName"): name}


def read_queue(logical_id: str, line: int, name: str, arn: str, url: str, props: dict[str, Any]) -> QueueSpec:
    """One queue's (resolved, plain) properties; ``name`` is already decided (``QueueName`` or the default)."""
    notes = []
    raw: dict[str, Any] = {}
    for key, value in props.items():
        if key == "QueueName":
            continue
        if key in _IGNORED:
            notes.append(f"{key} ignored: {_IGNORED[key]}")
        elif key in _ATTRIBUTES:
            raw[key] = _redrive(value) if key == "RedrivePolicy" else value
        elif key != "Tags":
            raise IntrinsicError(f"unknown or unsupported property '{key}'")
    try:
        q.validate_queue_name(name)
        attributes = q.parse_attributes(raw, name)
    except CumuloError as exc:
        raise IntrinsicError(exc.message) from None
    return QueueSpec(logical_id, line, name, arn, url, attributes.raw, _tags(props.get("Tags", [])), notes)


def _redrive(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise IntrinsicError("property RedrivePolicy: must be a map with deadLetterTargetArn and maxReceiveCount")
    extra = sorted(set(value) - {"deadLetterTargetArn", "maxReceiveCount"})
    if extra:
        raise IntrinsicError(f"property RedrivePolicy: unknown key '{extra[0]}'")
    return value


def _tags(value: Any) -> dict[str, str]:
    """CloudFormation writes tags as a list of ``{Key, Value}``; a map is accepted too."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, list) or not all(isinstance(t, dict) and "Key" in t and "Value" in t for t in value):
        raise IntrinsicError("property Tags: must be a list of {Key, Value}")
    return {str(t["Key"]): str(t["Value"]) for t in value}


def ordered(queues: list[QueueSpec]) -> list[QueueSpec]:
    """Dead-letter queues before the queues that redrive to them; refuses a redrive cycle."""
    by_arn = {spec.arn: spec for spec in queues}
    done: dict[str, QueueSpec] = {}

    def visit(spec: QueueSpec, path: tuple[str, ...]) -> None:
        if spec.logical_id in done:
            return
        if spec.logical_id in path:
            raise IntrinsicError(f"Resource {spec.logical_id} (line {spec.line}): RedrivePolicy forms a cycle "
                                 f"({' -> '.join(path + (spec.logical_id,))})", spec.line)
        target = by_arn.get(spec.dead_letter_target or "")
        if target is not None:
            visit(target, path + (spec.logical_id,))
        done[spec.logical_id] = spec

    for spec in queues:
        visit(spec, ())
    return list(done.values())
