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

from cumulo.errors import ServiceError

__all__ = ["SnsError", "invalid", "not_found", "check_topic_name", "check_attributes", "MAX_MESSAGE_BYTES",
           "lambda_event", "envelope", "filter_attributes", "string_to_sign", "confirmation", "http_headers",
           "parse_delivery_policy", "check_retry_policy", "retry_delays", "http_failure_retried", "DEFAULT_RETRY"]

CERT_PREFIX = "/SimpleNotificationService-"   # where the signing certificate is served (``topics/signing.py``)
MAX_MESSAGE_BYTES = 262_144          # message and attributes together
_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ATTRIBUTE_TYPES = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?|String\.Array")


class SnsError(ServiceError):
    """SNS's errors, by the name boto3 reports."""


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


# -- HTTP/HTTPS subscriptions --------------------------------------------------------------------
# The fields each message type signs, in this order (the SNS Developer Guide, "Verifying the
# signatures of Amazon SNS messages"): a Notification signs Subject only when it has one.
_SIGNED = {"Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
           "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                                        "Type"),
           "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                                       "Type")}


def string_to_sign(doc: dict[str, Any]) -> bytes:
    """What SNS signs of a message: each signed field present, ``name\\nvalue\\n``, in order."""
    fields = _SIGNED.get(doc.get("Type", ""))
    if fields is None:
        raise ValueError(f"no signature for a message of type {doc.get('Type')!r}")
    return "".join(f"{name}\n{doc[name]}\n" for name in fields if doc.get(name) is not None).encode()


def confirmation(kind: str, *, message_id: str, token: str, topic_arn: str, timestamp: str, endpoint: str,
                 cert_url: str, signature_version: str) -> dict[str, Any]:
    """A ``SubscriptionConfirmation`` or ``UnsubscribeConfirmation`` (unsigned: ``Signature`` is
    added by the caller over ``string_to_sign``)."""
    if kind == "SubscriptionConfirmation":
        text = (f"You have chosen to subscribe to the topic {topic_arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message.")
    else:
        text = (f"You have chosen to deactivate subscription {topic_arn}.\n"
                "To cancel this operation and restore the subscription, visit the SubscribeURL included in this "
                "message.")
    return {"Type": kind, "MessageId": message_id, "Token": token, "TopicArn": topic_arn, "Message": text,
            "SubscribeURL": f"{endpoint}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}",
            "Timestamp": timestamp, "SignatureVersion": signature_version, "Signature": "",
            "SigningCertURL": cert_url}


def http_headers(kind: str, message_id: str, topic_arn: str, subscription_arn: str | None, content_type: str,
                 raw: bool = False) -> dict[str, str]:
    """The headers of a POST to an HTTP/HTTPS subscriber."""
    headers = {"x-amz-sns-message-type": kind, "x-amz-sns-message-id": message_id, "x-amz-sns-topic-arn": topic_arn}
    if subscription_arn is not None:
        headers["x-amz-sns-subscription-arn"] = subscription_arn
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    headers["Content-Type"] = content_type
    headers["User-Agent"] = "Amazon Simple Notification Service Agent"
    return headers


# -- delivery policies (HTTP/HTTPS) ----------------------------------------------------------------
DEFAULT_RETRY: dict[str, Any] = {"minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
                 "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"}
_RETRY_FIELDS = {"minDelayTarget", "maxDelayTarget", "numRetries", "numMaxDelayRetries", "numNoDelayRetries",
                 "numMinDelayRetries", "backoffFunction"}
BACKOFF_FUNCTIONS = ("arithmetic", "exponential", "geometric", "linear")
MAX_RETRY_SECONDS = 3600


def _policy_error(reason: str) -> SnsError:
    return invalid(f"DeliveryPolicy: {reason}")


def parse_delivery_policy(text: str, topic: bool) -> dict[str, Any]:
    """A topic's (``{"http": {"defaultHealthyRetryPolicy": …}}``) or a subscription's
    (``{"healthyRetryPolicy": …}``) delivery policy, checked as SNS checks it; the retry policy
    and request policy it sets, normalised (``{"retry": {...}, "contentType": str | None}``)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _policy_error("the policy is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _policy_error("the policy must be a JSON object")
    if topic:
        unknown = set(doc) - {"http", "https"}
        if unknown:
            raise _policy_error(f"unknown protocol {sorted(unknown)[0]}")
        section = doc.get("http", doc.get("https", {}))
        if not isinstance(section, dict):
            raise _policy_error("http must be an object")
        retry, request = section.get("defaultHealthyRetryPolicy"), section.get("defaultRequestPolicy")
        allowed = {"defaultHealthyRetryPolicy", "defaultThrottlePolicy", "defaultRequestPolicy",
                   "disableSubscriptionOverrides"}
    else:
        section = doc
        retry, request = doc.get("healthyRetryPolicy"), doc.get("requestPolicy")
        allowed = {"healthyRetryPolicy", "throttlePolicy", "requestPolicy"}
    unknown = set(section) - allowed
    if unknown:
        raise _policy_error(f"unknown field {sorted(unknown)[0]}")
    out: dict[str, Any] = {"retry": None, "contentType": None}
    if retry is not None:
        out["retry"] = check_retry_policy(retry)
    if request is not None:
        if not isinstance(request, dict) or set(request) - {"headerContentType"}:
            raise _policy_error("requestPolicy takes headerContentType only")
        content_type = request.get("headerContentType")
        if content_type is not None and (not isinstance(content_type, str) or not content_type
                                         or len(content_type) > 256 or not content_type.isascii()):
            raise _policy_error("headerContentType must be a content type")
        out["contentType"] = content_type
    return out


def check_retry_policy(policy: Any) -> dict[str, Any]:
    if not isinstance(policy, dict):
        raise _policy_error("healthyRetryPolicy must be an object")
    unknown = set(policy) - _RETRY_FIELDS
    if unknown:
        raise _policy_error(f"unknown field {sorted(unknown)[0]}")
    out: dict[str, Any] = dict(DEFAULT_RETRY)
    out.update(policy)
    for name in _RETRY_FIELDS - {"backoffFunction"}:
        value = out[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _policy_error(f"{name} must be a whole number of at least 0")
    if out["backoffFunction"] not in BACKOFF_FUNCTIONS:
        raise _policy_error("backoffFunction must be one of " + ", ".join(BACKOFF_FUNCTIONS))
    if not 1 <= out["minDelayTarget"] <= out["maxDelayTarget"] <= MAX_RETRY_SECONDS:
        raise _policy_error("minDelayTarget must be at least 1 and at most maxDelayTarget, which is at most 3600")
    if out["numRetries"] > 100:
        raise _policy_error("numRetries must be at most 100")
    if out["numNoDelayRetries"] + out["numMinDelayRetries"] + out["numMaxDelayRetries"] > out["numRetries"]:
        raise _policy_error("numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries together must not exceed "
                            "numRetries")
    if sum(retry_delays(out)) > MAX_RETRY_SECONDS:
        raise _policy_error("the total retry time must not exceed 3600 seconds")
    return out


def retry_delays(policy: dict[str, Any]) -> list[float]:
    """The delay before each retry, in seconds, in the policy's four phases: immediate retries,
    retries at the minimum delay, the backoff phase from the minimum to the maximum delay along
    ``backoffFunction``, retries at the maximum delay."""
    low, high = float(policy["minDelayTarget"]), float(policy["maxDelayTarget"])
    n = policy["numRetries"]
    none, at_min, at_max = policy["numNoDelayRetries"], policy["numMinDelayRetries"], policy["numMaxDelayRetries"]
    backoff = n - none - at_min - at_max
    steps = []
    for i in range(1, backoff + 1):
        f = i / backoff
        kind = policy["backoffFunction"]
        if low == high or kind == "linear":
            steps.append(low + (high - low) * f)
        elif kind == "arithmetic":          # steps growing by equal increments
            steps.append(low + (high - low) * f * (f + 1 / backoff) / (1 + 1 / backoff))
        elif kind == "geometric":           # each delay the last times a constant ratio
            steps.append(low * (high / low) ** f)
        else:                               # exponential: slow at first, fast at the end
            steps.append(low + (high - low) * (2 ** (backoff * f) - 1) / (2 ** backoff - 1))
    return [0.0] * none + [low] * at_min + steps + [high] * at_max


def http_failure_retried(status: int | None) -> bool:
    """Whether SNS tries an HTTP/HTTPS delivery again: after a connection failure (None), a server
    error or 429; a client error (4xx) is final."""
    return status is None or status >= 500 or status == 429
