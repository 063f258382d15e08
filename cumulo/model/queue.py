"""Queues as SQS defines them: names, attributes, message limits and SQS's errors.

Pure validation, no I/O. SQS reports its faults with its own error names; over
the JSON protocol each also carries the legacy query code (``x-amzn-query-error``)
that boto3 shows as ``Error.Code``, e.g. ``AWS.SimpleQueueService.NonExistentQueue``.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from typing import Any

from cumulo.errors import CumuloError
from cumulo.iam import MalformedPolicyDocument, parse_policy
from cumulo.model import json_limits

__all__ = [
    "SqsError", "QueueDoesNotExist", "QueueNameExists", "InvalidAttributeName", "InvalidAttributeValue",
    "InvalidParameterValue", "MissingParameter", "InvalidMessageContents", "ReceiptHandleIsInvalid",
    "MessageNotInflight", "TooManyEntriesInBatchRequest", "EmptyBatchRequest", "BatchEntryIdsNotDistinct",
    "BatchRequestTooLong", "InvalidBatchEntryId", "PurgeQueueInProgress", "UnsupportedOperation",
    "ResourceNotFound", "QueueAttributes", "validate_queue_name", "parse_attributes", "validate_message",
    "md5_of_attributes", "ATTRIBUTE_NAMES", "ASYNC_QUEUE",
]

# The platform's own queue of asynchronous invocations: "~" keeps it out of SQS's name space.
ASYNC_QUEUE = "~async"


class SqsError(CumuloError):
    status = 400
    query_code = ""          # the legacy code boto3 reports; the class name when empty

    @property
    def code(self) -> str:
        return self.query_code or self.type


class QueueDoesNotExist(SqsError):
    query_code = "AWS.SimpleQueueService.NonExistentQueue"


class QueueNameExists(SqsError):
    query_code = "QueueAlreadyExists"


class InvalidAttributeName(SqsError):
    pass


class InvalidAttributeValue(SqsError):
    pass


class InvalidParameterValue(SqsError):
    pass


class MissingParameter(SqsError):
    pass


class InvalidMessageContents(SqsError):
    pass


class ReceiptHandleIsInvalid(SqsError):
    pass


class MessageNotInflight(SqsError):
    query_code = "AWS.SimpleQueueService.MessageNotInflight"


class TooManyEntriesInBatchRequest(SqsError):
    query_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class EmptyBatchRequest(SqsError):
    query_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class BatchEntryIdsNotDistinct(SqsError):
    query_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class BatchRequestTooLong(SqsError):
    query_code = "AWS.SimpleQueueService.BatchRequestTooLong"


class InvalidBatchEntryId(SqsError):
    query_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class PurgeQueueInProgress(SqsError):
    query_code = "AWS.SimpleQueueService.PurgeQueueInProgress"


class UnsupportedOperation(SqsError):
    query_code = "AWS.SimpleQueueService.UnsupportedOperation"


class ResourceNotFound(SqsError):
    """StartMessageMoveTask's unknown source (the JSON shape is ``ResourceNotFoundException``)."""

    status = 404
    query_code = "ResourceNotFoundException"

    @property
    def type(self) -> str:
        return "ResourceNotFoundException"


NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
FIFO_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")

# name: (min, max, default) for the integer attributes, in seconds or bytes
_INTEGERS = {
    "DelaySeconds": (0, 900, 0),
    "MaximumMessageSize": (1024, 1_048_576, 262_144),
    "MessageRetentionPeriod": (60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20, 0),
    "VisibilityTimeout": (0, 43_200, 30),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400, 300),
}
_BOOLEANS = ("FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled")
_STRINGS = ("Policy", "KmsMasterKeyId", "RedrivePolicy", "RedriveAllowPolicy", "DeduplicationScope",
            "FifoThroughputLimit")
SETTABLE = tuple(_INTEGERS) + _BOOLEANS + _STRINGS
READ_ONLY = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn")
ATTRIBUTE_NAMES = SETTABLE + READ_ONLY
_FIFO_ONLY = ("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")


@dataclass(frozen=True)
class QueueAttributes:
    """A queue's settable attributes, validated; ``raw`` keeps them as SQS reports them (strings)."""

    raw: dict[str, str]

    def number(self, name: str) -> int:
        return int(self.raw.get(name, _INTEGERS[name][2]))

    @property
    def fifo(self) -> bool:
        return self.raw.get("FifoQueue", "false") == "true"

    @property
    def content_dedup(self) -> bool:
        return self.raw.get("ContentBasedDeduplication", "false") == "true"

    @property
    def dedup_per_group(self) -> bool:
        return self.raw.get("DeduplicationScope") == "messageGroup"

    @property
    def redrive(self) -> tuple[str, int] | None:
        """(dead-letter queue ARN, maxReceiveCount), or None."""
        raw = self.raw.get("RedrivePolicy")
        if not raw:
            return None
        doc = json.loads(raw)
        return doc["deadLetterTargetArn"], int(doc["maxReceiveCount"])

    def defaults(self) -> dict[str, str]:
        """Every attribute GetQueueAttributes reports, with SQS's defaults filled in."""
        out = {name: str(default) for name, (_, _, default) in _INTEGERS.items() if name != "KmsDataKeyReusePeriodSeconds"}
        out["SqsManagedSseEnabled"] = "true"
        if self.fifo:
            out.update(FifoQueue="true", ContentBasedDeduplication="false", DeduplicationScope="queue",
                       FifoThroughputLimit="perQueue")
        out.update(self.raw)
        return out


def validate_queue_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise MissingParameter("The request must contain the parameter QueueName.")
    if not (NAME_RE.match(name) or FIFO_NAME_RE.match(name)):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
    return name


def parse_attributes(attrs: Any, name: str, current: QueueAttributes | None = None,
                     creating: bool = True) -> QueueAttributes:
    """Validate CreateQueue's / SetQueueAttributes' ``Attributes`` (merged over ``current``)."""
    if attrs is None:
        attrs = {}
    if not isinstance(attrs, dict):
        raise InvalidParameterValue("Attributes must be a map of attribute names to string values.")
    raw = dict(current.raw) if current else {}
    for key, value in attrs.items():
        if key not in SETTABLE:
            raise InvalidAttributeName(f"Unknown Attribute {key}.")
        if not isinstance(value, str):
            value = json.dumps(value) if isinstance(value, dict) else str(value).lower() if isinstance(value, bool) else str(value)
        raw[key] = _check_value(key, value)
    fifo_name = name.endswith(".fifo")
    if creating:
        if raw.get("FifoQueue") == "true" and not fifo_name:
            raise InvalidParameterValue("The name of a FIFO queue can only include alphanumeric characters, "
                                        "hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
        if fifo_name and raw.get("FifoQueue") != "true":
            raise InvalidParameterValue("The name of a standard queue can only include alphanumeric characters, "
                                        "hyphens, or underscores and be 1 to 80 in length; .fifo names FIFO queues: "
                                        "set FifoQueue to true.")
        if raw.get("FifoQueue") == "false":
            raw.pop("FifoQueue")
    elif "FifoQueue" in attrs and attrs["FifoQueue"] != (current.raw.get("FifoQueue", "false") if current else "false"):
        raise InvalidAttributeValue("Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")
    if raw.get("FifoQueue") != "true":
        for key in _FIFO_ONLY:
            if key in raw:
                raise InvalidAttributeName(f"Unknown Attribute {key}.")
    return QueueAttributes(raw)


def _check_value(key: str, value: str) -> str:
    def bad(reason: str) -> InvalidAttributeValue:
        return InvalidAttributeValue(f"Invalid value for the parameter {key}. Reason: {reason}")

    if key in _INTEGERS:
        lo, hi, _ = _INTEGERS[key]
        if not re.fullmatch(r"-?\d+", value.strip()) or not lo <= int(value) <= hi:
            raise bad(f"Must be an integer from {lo} to {hi}.")
        return str(int(value))
    if key in _BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise bad("Must be true or false.")
        return value.lower()
    if key == "DeduplicationScope" and value not in ("messageGroup", "queue"):
        raise bad("Must be messageGroup or queue.")
    if key == "FifoThroughputLimit" and value not in ("perQueue", "perMessageGroupId"):
        raise bad("Must be perQueue or perMessageGroupId.")
    if key == "RedrivePolicy" and value:
        try:
            doc = json_limits.loads(value, "The redrive policy")
        except ValueError:
            raise bad("Redrive policy is not a valid JSON map.") from None
        if not isinstance(doc, dict) or "deadLetterTargetArn" not in doc or "maxReceiveCount" not in doc:
            raise bad("Redrive policy does not contain mandatory attribute: "
                      f"{'deadLetterTargetArn' if not isinstance(doc, dict) or 'deadLetterTargetArn' not in doc else 'maxReceiveCount'}.")
        try:
            count = int(doc["maxReceiveCount"])
        except (TypeError, ValueError):
            raise bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.") from None
        if not 1 <= count <= 1000:
            raise bad(f"Value {count} for parameter maxReceiveCount is invalid. Reason: must be an integer from 1 to 1000.")
        if not isinstance(doc["deadLetterTargetArn"], str) or not doc["deadLetterTargetArn"].startswith("arn:"):
            raise bad("Dead-letter target must be a queue ARN.")
        return json.dumps({"deadLetterTargetArn": doc["deadLetterTargetArn"], "maxReceiveCount": count},
                          separators=(",", ":"))
    if key in ("Policy", "RedriveAllowPolicy") and value:
        try:
            json_limits.loads(value, key)
        except ValueError as exc:
            raise bad(f"Must be a valid JSON document ({exc}).") from None
        if key == "Policy":      # a queue's resource-based policy, read as IAM reads it
            try:
                parse_policy(value, "resource")
            except MalformedPolicyDocument as exc:
                raise bad(exc.message) from None
    return value


# -- messages -----------------------------------------------------------------
_INVALID_CHARS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR_NAME_RE = re.compile(r"^[A-Za-z0-9_\-.]{1,256}$")
_DATA_TYPE_RE = re.compile(r"^(String|Number|Binary)(\.[A-Za-z0-9_\-.]{1,256})?$")
MAX_MESSAGE_ATTRIBUTES = 10


def has_invalid_characters(body: str) -> bool:
    """Whether a body holds a character SQS refuses (``validate_message``'s check alone)."""
    return _INVALID_CHARS.search(body) is not None


def validate_message(body: Any, attributes: Any, max_size: int) -> tuple[str, dict[str, dict[str, Any]]]:
    """Check a message body and its message attributes; return them normalised.

    The size SQS limits is the body plus every attribute's name, type and value."""
    if not isinstance(body, str) or body == "":
        raise MissingParameter("The request must contain the parameter MessageBody.")
    bad = _INVALID_CHARS.search(body)
    if bad:
        raise InvalidMessageContents(f"Invalid characters found. Code point #x{ord(bad.group()):X} is not allowed.")
    attrs = normalise_attributes(attributes)
    size = len(body.encode())
    for name, value in attrs.items():
        size += len(name.encode()) + len(value["DataType"].encode())
        size += len(value["StringValue"].encode()) if "StringValue" in value else len(value.get("BinaryValue", b""))
    if size > max_size:
        raise InvalidParameterValue(f"One or more parameters are invalid. Reason: Message must be shorter than "
                                    f"{max_size} bytes.")
    return body, attrs


def normalise_attributes(attributes: Any) -> dict[str, dict[str, Any]]:
    if not attributes:
        return {}
    if not isinstance(attributes, dict):
        raise InvalidParameterValue("MessageAttributes must be a map.")
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameterValue(f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
                                    f"[{MAX_MESSAGE_ATTRIBUTES}].")
    out: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        if (not isinstance(name, str) or not _ATTR_NAME_RE.match(name) or ".." in name or name.startswith(".")
                or name.endswith(".") or name.lower().startswith(("aws.", "amazon."))):
            raise InvalidParameterValue(f"Message attribute name '{name}' is invalid.")
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Message attribute '{name}' must have a DataType and a value.")
        dtype = value.get("DataType")
        if not isinstance(dtype, str) or not dtype:
            raise InvalidParameterValue(f"The message attribute '{name}' must contain non-empty message attribute type.")
        if not _DATA_TYPE_RE.match(dtype):
            raise InvalidParameterValue(f"The type of message (user) attribute '{name}' is invalid. "
                                        "You must use only the following supported type prefixes: Binary, Number, String.")
        kind = dtype.split(".", 1)[0]
        if value.get("StringListValues") or value.get("BinaryListValues"):
            raise InvalidParameterValue(f"Message attribute '{name}': list values are not supported.")
        if kind == "Binary":
            blob = value.get("BinaryValue")
            if isinstance(blob, str):
                import base64
                blob = base64.b64decode(blob)
            if not isinstance(blob, (bytes, bytearray)) or not blob:
                raise InvalidParameterValue(f"The message attribute '{name}' with type 'Binary' must use field 'Binary'.")
            out[name] = {"DataType": dtype, "BinaryValue": bytes(blob)}
            continue
        text = value.get("StringValue")
        if not isinstance(text, str) or text == "":
            raise InvalidParameterValue(f"The message attribute '{name}' with type '{kind}' must use field 'String'.")
        if kind == "Number":
            try:
                float(text)
            except ValueError:
                raise InvalidParameterValue(f"Can't cast the value of message (user) attribute '{name}' to a number.") from None
        if _INVALID_CHARS.search(text):
            raise InvalidParameterValue(f"Message attribute '{name}' contains invalid characters.")
        out[name] = {"DataType": dtype, "StringValue": text}
    return out


def md5_of_attributes(attrs: dict[str, dict[str, Any]]) -> str | None:
    """SQS's digest of message attributes: names sorted; each of name, type and value length-prefixed."""
    if not attrs:
        return None
    digest = hashlib.md5()
    for name in sorted(attrs):
        value = attrs[name]
        for part in (name.encode(), value["DataType"].encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        if "BinaryValue" in value:
            digest.update(b"\x02" + struct.pack(">I", len(value["BinaryValue"])) + value["BinaryValue"])
        else:
            data = value["StringValue"].encode()
            digest.update(b"\x01" + struct.pack(">I", len(data)) + data)
    return digest.hexdigest()
