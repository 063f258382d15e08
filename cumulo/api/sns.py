"""AWS SNS on the control plane's endpoint (query protocol, ``api/query.py``): topics, subscriptions,
Publish and PublishBatch. The rules live in ``topics/service.py``; here the wire: flattened maps
(``Attributes.entry.N.key``, ``MessageAttributes.entry.N.Name/Value.DataType``) in, XML out."""

from __future__ import annotations

from typing import Any

from cumulo.api import query
from cumulo.api.http import Reply, Request
from cumulo.model.sns import CERT_PREFIX

__all__ = ["SERVICE", "public", "certificate"]

PAGE = 100


def _base(r: Request) -> str:
    host = r.header("host")
    return f"http://{host}" if host else ""


def _attributes(tree: dict[str, Any], name: str = "Attributes") -> dict[str, str]:
    return {e.get("key", ""): e.get("value", "") for e in query.listed(tree.get(name), "entry") if isinstance(e, dict)}


def _message_attributes(node: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for e in query.listed(node, "entry"):
        if isinstance(e, dict):
            value = e.get("Value")
            value = value if isinstance(value, dict) else {}
            out[str(e.get("Name", ""))] = {k: v for k, v in value.items() if k in ("DataType", "StringValue",
                                                                                  "BinaryValue")}
    return out


def _page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    start = int(token) if token and token.isdigit() else 0
    chunk = items[start:start + PAGE]
    return chunk, str(start + PAGE) if start + PAGE < len(items) else None


def create_topic(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    tree = query.nested(p)
    tags = [t for t in query.listed(tree.get("Tags")) if isinstance(t, dict)]
    return {"TopicArn": c.topics.create_topic(p.get("Name"), _attributes(tree), tags)}


def delete_topic(c: Any, r: Request, p: dict[str, str]) -> None:
    c.topics.delete_topic(p.get("TopicArn"))


def list_topics(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    page, token = _page(c.topics.list_topics(), p.get("NextToken"))
    return {"Topics": [{"TopicArn": arn} for arn in page], "NextToken": token}


def get_topic_attributes(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Attributes": query.Entries(c.topics.topic_attributes(p.get("TopicArn")))}


def set_topic_attributes(c: Any, r: Request, p: dict[str, str]) -> None:
    c.topics.set_topic_attribute(p.get("TopicArn"), p.get("AttributeName"), p.get("AttributeValue"))


def subscribe(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    c.topics.endpoint = c.topics.endpoint or _base(r)
    arn = c.topics.subscribe(p.get("TopicArn"), p.get("Protocol"), p.get("Endpoint"), _attributes(query.nested(p)))
    if p.get("Protocol") in ("http", "https") and p.get("ReturnSubscriptionArn", "false").lower() != "true" \
            and c.topics.subscription_attributes(arn)["PendingConfirmation"] == "true":
        return {"SubscriptionArn": "pending confirmation"}
    return {"SubscriptionArn": arn}


def confirm_subscription(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    """ConfirmSubscription: signed (the API), or the SubscribeURL visited unsigned (``public``)."""
    signed = r.principal is not None and bool(r.principal.access_key_id)
    return {"SubscriptionArn": c.topics.confirm_subscription(p.get("TopicArn"), p.get("Token"), signed)}


def public(method: str, path: str, query_string: str, headers: list[tuple[str, str]]) -> str | None:
    """What an unsigned request may do on SNS's behalf, as on AWS: visit a SubscribeURL ("confirm",
    the token being its credential) or fetch the signing certificate ("certificate"); None for
    anything else. Only unsigned GETs with exactly those parameters qualify."""
    if method != "GET" or any(k.lower() == "authorization" for k, _ in headers):
        return None
    if path.startswith(CERT_PREFIX) and path.endswith(".pem") and not query_string and "/" not in path[1:]:
        return "certificate"
    if path != "/" or not query_string:
        return None
    names = [part.partition("=")[0] for part in query_string.split("&")]
    if sorted(names) == ["Action", "Token", "TopicArn"] and "Action=ConfirmSubscription" in query_string.split("&"):
        return "confirm"
    return None


def certificate(c: Any) -> Reply:
    return Reply(200, c.topics.signer.certificate, [("content-type", "application/x-pem-file")])


def unsubscribe(c: Any, r: Request, p: dict[str, str]) -> None:
    c.topics.unsubscribe(p.get("SubscriptionArn"))


def get_subscription_attributes(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    return {"Attributes": query.Entries(c.topics.subscription_attributes(p.get("SubscriptionArn")))}


def set_subscription_attributes(c: Any, r: Request, p: dict[str, str]) -> None:
    c.topics.set_subscription_attribute(p.get("SubscriptionArn"), p.get("AttributeName"), p.get("AttributeValue"))


def list_subscriptions(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    page, token = _page(c.topics.list_subscriptions(), p.get("NextToken"))
    return {"Subscriptions": page, "NextToken": token}


def list_subscriptions_by_topic(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    page, token = _page(c.topics.list_subscriptions(p.get("TopicArn")), p.get("NextToken"))
    return {"Subscriptions": page, "NextToken": token}


def _trace(c: Any, r: Request, operation: str, topic: Any) -> str | None:
    """The publisher's trace header as the deliveries carry it on (a queue's ``AWSTraceHeader``, a
    function's invocation); for a sampled publisher, ``Parent`` is the SNS subsegment recorded
    under it (docs/traces.md)."""
    incoming = r.header("x-amzn-trace-id")
    if incoming is None:
        return None
    return c.trace_recorder.call(incoming, "SNS", operation, c.trace_recorder.now(),
                                 {"topic_arn": topic if isinstance(topic, str) else "", "region": c.arns.region})


def publish(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    c.topics.endpoint = c.topics.endpoint or _base(r)
    topic = p.get("TopicArn") or p.get("TargetArn")
    return c.topics.publish(topic, p.get("Message"), p.get("Subject"),
                            _message_attributes(query.nested(p).get("MessageAttributes")), p.get("MessageStructure"),
                            p.get("MessageGroupId"), p.get("MessageDeduplicationId"),
                            trace_header=_trace(c, r, "Publish", topic))


def publish_batch(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    c.topics.endpoint = c.topics.endpoint or _base(r)
    entries = []
    for e in query.listed(query.nested(p).get("PublishBatchRequestEntries")):
        if isinstance(e, dict):
            entries.append({**{k: v for k, v in e.items() if isinstance(v, str)},
                            "MessageAttributes": _message_attributes(e.get("MessageAttributes"))})
    return c.topics.publish_batch(p.get("TopicArn"), entries,
                                  trace_header=_trace(c, r, "PublishBatch", p.get("TopicArn")))


SERVICE = query.Service("sns", "2010-03-31", "http://sns.amazonaws.com/doc/2010-03-31/", {
    "CreateTopic": create_topic, "DeleteTopic": delete_topic, "ListTopics": list_topics,
    "GetTopicAttributes": get_topic_attributes, "SetTopicAttributes": set_topic_attributes,
    "Subscribe": subscribe, "ConfirmSubscription": confirm_subscription, "Unsubscribe": unsubscribe, "GetSubscriptionAttributes": get_subscription_attributes,
    "SetSubscriptionAttributes": set_subscription_attributes, "ListSubscriptions": list_subscriptions,
    "ListSubscriptionsByTopic": list_subscriptions_by_topic, "Publish": publish, "PublishBatch": publish_batch,
})
query.register(SERVICE)
