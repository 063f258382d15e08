"""SNS, pure: names, limits, message attributes, and what a subscriber receives.

Shapes as the SNS Developer Guide shows them: a function gets ``Records[].Sns`` (``Type``,
``MessageId``, ``TopicArn``, ``Subject`` (null without one), ``Message``, ``Timestamp``,
``SignatureVersion``, ``Signature``, ``SigningCertUrl``, ``UnsubscribeUrl``,
``MessageAttributes`` as ``{Type, Value}``); a queue gets the JSON envelope (the same fields,
``SigningCertURL``/``UnsubscribeURL`` spelled so, ``Subject`` and ``MessageAttributes`` only when
there are some), or with raw message delivery the message itself, its attributes as the queue
message's. Cumulo does not sign messages: ``Signature`` is a base64 placeholder of the right form.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from cumulo.errors import CumuloError

__all__ = ["SnsError", "invalid", "not_found", "check_topic_name", "check_attributes", "MAX_MESSAGE_BYTES",
           "lambda_event", "envelope", "filter_attributes"]

MAX_MESSAGE_BYTES = 262_144          # message and attributes together
_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ATTRIBUTE_TYPES = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?|String\.Array")


class SnsError(CumuloError):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status

    @property
    def type(self) -> str:
        return self.code


def invalid(message: str) -> SnsError:
    return SnsError("InvalidParameter", f"Invalid parameter: {message}")


def not_found(what: str = "Topic does not exist") -> SnsError:
    return SnsError("NotFound", what, 404)


def check_topic_name(name: str, fifo: bool) -> None:
    base = name[:-5] if fifo and name.endswith(".fifo") else name
    if fifo and not name.endswith(".fifo"):
        raise invalid("Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase "
                      "ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters "
                      "long.")
    if not _NAME.fullmatch(base) or len(name) > 256:
        raise invalid("Topic Name")


def check_attributes(attributes: dict[str, dict[str, Any]]) -> int:
    """Publish's MessageAttributes (``{Name: {DataType, StringValue|BinaryValue}}``); their size."""
    if len(attributes) > 10:
        raise invalid("MessageAttributes: Number of message attributes [%d] exceeds the allowed maximum [10]."
                      % len(attributes))
    size = 0
    for name, value in attributes.items():
        kind = value.get("DataType", "")
        if not _ATTRIBUTE_TYPES.fullmatch(kind):
            raise invalid(f"The message attribute '{name}' has an invalid message attribute type, the set of "
                          "supported type prefixes is Binary, Number, and String.")
        text = value.get("StringValue") if not kind.startswith("Binary") else value.get("BinaryValue")
        if text is None or text == "":
            raise invalid(f"The message attribute '{name}' must contain non-empty message attribute value for "
                          f"message attribute type '{kind.split('.')[0]}'.")
        if kind.startswith("Number"):
            try:
                float(str(text))
            except ValueError:
                raise invalid(f"Could not cast message attribute '{name}' value to number.") from None
        if kind == "String.Array":
            try:
                if not isinstance(json.loads(str(text)), list):
                    raise ValueError
            except ValueError:
                raise invalid(f"The message attribute '{name}' with type 'String.Array' has an invalid value.") \
                    from None
        size += len(name.encode()) + len(kind.encode()) + len(str(text).encode())
    return size


def _shown(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    out = {}
    for name, value in attributes.items():
        kind = value["DataType"]
        text = value.get("BinaryValue") if kind.startswith("Binary") else value.get("StringValue")
        if isinstance(text, bytes):
            text = base64.b64encode(text).decode()
        out[name] = {"Type": kind, "Value": str(text)}
    return out


def _signature(message_id: str) -> str:
    return base64.b64encode(hashlib.sha256(message_id.encode()).digest() * 8).decode()


def lambda_event(*, subscription_arn: str, topic_arn: str, message_id: str, message: str, subject: str | None,
                 timestamp: str, attributes: dict[str, dict[str, Any]], endpoint: str, region: str) -> dict[str, Any]:
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
        "Sns": {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn, "Subject": subject,
                "Message": message, "Timestamp": timestamp, "SignatureVersion": "1",
                "Signature": _signature(message_id),
                "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-cumulo.pem",
                "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                "MessageAttributes": _shown(attributes)}}]}


def envelope(*, subscription_arn: str, topic_arn: str, message_id: str, message: str, subject: str | None,
             timestamp: str, attributes: dict[str, dict[str, Any]], endpoint: str, region: str,
             sequence: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"Type": "Notification", "MessageId": message_id}
    if sequence is not None:
        doc["SequenceNumber"] = sequence
    doc["TopicArn"] = topic_arn
    if subject is not None:
        doc["Subject"] = subject
    doc.update({"Message": message, "Timestamp": timestamp, "SignatureVersion": "1",
                "Signature": _signature(message_id),
                "SigningCertURL": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-cumulo.pem",
                "UnsubscribeURL": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"})
    if attributes:
        doc["MessageAttributes"] = _shown(attributes)
    return doc


def filter_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Message attributes as a filter policy sees them: strings, numbers, and String.Array's items."""
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        kind, text = value["DataType"], value.get("StringValue")
        if kind.startswith("Binary") or text is None:
            continue
        if kind.startswith("Number"):
            number = float(text)
            out[name] = int(number) if number.is_integer() else number
        elif kind == "String.Array":
            out[name] = json.loads(text)
        else:
            out[name] = text
    return out
