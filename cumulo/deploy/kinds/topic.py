"""``AWS::SNS::Topic`` and ``AWS::SNS::Subscription``, and functions' SAM ``SNS`` events.

A topic (``TopicName``, or ``<stack>-<LogicalId>-<suffix>``; ``.fifo`` with ``FifoTopic``) is
created, its attributes (``DisplayName``, ``FifoTopic``, ``ContentBasedDeduplication``) set, and
deleted with its subscriptions when the template drops it; its ``Subscription`` list, declared
``AWS::SNS::Subscription`` resources (``TopicArn``, ``Protocol``, ``Endpoint``,
``RawMessageDelivery``, ``FilterPolicy`` (a map or its JSON), ``FilterPolicyScope``,
``RedrivePolicy``) and a function's ``SNS`` event (``Topic``, ``FilterPolicy``,
``FilterPolicyScope``, ``RedrivePolicy``) are subscriptions, made once and removed when dropped.
Other properties (``KmsMasterKeyId``, ``Tags``, ``TracingConfig`` …) are accepted with a warning.

An ``SNS`` event with ``SqsSubscription`` is what SAM makes of it (``sqs_subscription``): a queue
``<Function><Event>Queue`` (or the ``QueueArn``/``QueueUrl`` given), its queue policy
``<Function><Event>QueuePolicy`` (or ``QueuePolicyLogicalId``) letting the topic send to it
(``sqs:SendMessage`` for ``Principal: "*"`` on ``aws:SourceArn`` equal to the topic), the ``sqs``
subscription ``<Function><Event>`` (with the event's filter policy), and the event itself becomes
the function's ``SQS`` event on that queue (``BatchSize``, default 10, and ``Enabled``).

``Ref`` of a topic is its ARN; ``Fn::GetAtt`` gives ``TopicArn`` and ``TopicName``. ``Ref`` of a
subscription is its ARN once deployed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, Node, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model.function import Arns

__all__ = ["Topic", "Subscription", "TOPIC_TYPE", "SUBSCRIPTION_TYPE", "sqs_subscriptions"]

TOPIC_TYPE = "AWS::SNS::Topic"
SUBSCRIPTION_TYPE = "AWS::SNS::Subscription"
_TOPIC_ATTRIBUTES = ("DisplayName", "FifoTopic", "ContentBasedDeduplication")
_TOPIC_IGNORED = {"KmsMasterKeyId": "messages are not encrypted", "Tags": "topic tags are not kept",
                  "TracingConfig": "nothing is traced", "ArchivePolicy": "messages are not archived",
                  "DataProtectionPolicy": "no data protection policy applies", "SignatureVersion": "messages are "
                  "not signed", "DeliveryStatusLogging": "delivery status is not logged",
                  "FifoThroughputScope": "one throughput for all"}
_SUB_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy")


@dataclass(frozen=True)
class TopicSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    attributes: dict[str, str]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubscriptionSpec:
    logical_id: str
    topic_arn: str
    protocol: str
    endpoint: str
    attributes: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.topic_arn}|{self.protocol}|{self.endpoint}"

    @property
    def made(self) -> bool:
        """Whether Cumulo makes it: not a subscription to a person or a service it cannot reach (``UNCONFIRMED``)."""
        return self.protocol not in UNCONFIRMED


# Protocols whose subscriptions reach a person or a service outside Cumulo: on AWS an email or SMS subscription
# waits until its owner confirms it, and receives nothing until then; Cumulo sends no email, SMS or push
# notification, so the subscription is left out, as one never confirmed, with a warning (Subscribe refuses them).
UNCONFIRMED = {
    "email": "sends the address a confirmation link, then each message as an email",
    "email-json": "sends the address a confirmation link, then each message as an email of JSON",
    "sms": "texts each message to the phone number",
    "application": "pushes each message to a mobile application's endpoint",
    "firehose": "puts each message into a Data Firehose stream",
}


def _name(load: Load, entry: Entry) -> str:
    given = resolve(entry.properties.get("TopicName", NO_VALUE), load.plain)
    fifo = str(resolve(entry.properties.get("FifoTopic", False), load.plain)).lower() == "true"
    if given is not NO_VALUE:
        return to_str(given)
    suffix = hashlib.sha256(f"{load.stack}:{entry.logical_id}".encode()).hexdigest()[:12].upper()
    return f"{load.stack}-{entry.logical_id}-{suffix}"[:251] + (".fifo" if fifo else "")


class Topic(Kind):
    name = "topic"
    types = (TOPIC_TYPE,)
    after = ()
    listed = 26
    record_key = "topics"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, str] = {}
        attributes: Attributes = {}
        for entry in entries:
            try:
                name = _name(load, entry)
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            arn = f"arn:aws:sns:{load.region}:{load.account}:{name}"
            named[entry.logical_id] = name
            attributes.update({(entry.logical_id, "Ref"): arn, (entry.logical_id, "TopicArn"): arn,
                               (entry.logical_id, "TopicName"): name})
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                unknown = set(props) - {"TopicName", "Subscription", *_TOPIC_ATTRIBUTES, *_TOPIC_IGNORED}
                if unknown:
                    raise IntrinsicError(f"property {sorted(unknown)[0]}: not a property of AWS::SNS::Topic")
                attrs = {k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
                         for k in _TOPIC_ATTRIBUTES if k in props}
                notes = tuple(f"{k}: {why} on Cumulo" for k, why in _TOPIC_IGNORED.items() if k in props)
                subs = props.get("Subscription") or []
                if not isinstance(subs, list) or not all(isinstance(s, dict) and {"Protocol", "Endpoint"} <= set(s)
                                                         for s in subs):
                    raise IntrinsicError("property Subscription: must be a list of Protocol and Endpoint")
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            arn = f"arn:aws:sns:{load.region}:{load.account}:{name}"
            specs.append(TopicSpec(entry.logical_id, entry.line, name, arn, attrs, notes))
            for n, s in enumerate(subs):
                load.read.setdefault("subscription-inline", []).append(
                    SubscriptionSpec(f"{entry.logical_id}.Subscription[{n}]", arn, str(s["Protocol"]),
                                     str(s["Endpoint"])))
        return specs

    def attributes(self, spec: TopicSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.arn, (spec.logical_id, "TopicArn"): spec.arn,
                (spec.logical_id, "TopicName"): spec.name}

    def plan(self, spec: TopicSpec, deploy: Deploy) -> Change:
        try:
            current = deploy.c.topics.topic(spec.arn)
        except CumuloError:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        changed = sorted(k for k in set(spec.attributes) | set(current["Attributes"]) if k in _TOPIC_ATTRIBUTES
                         and current["Attributes"].get(k) != spec.attributes.get(k))
        return Change(spec.logical_id, spec.name, "update" if changed else "unchanged", changed, self.name)

    def removed(self, specs: list[TopicSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.arn for spec in specs}
        return [Change(lid, arn, "delete", kind=self.name) for lid, arn in sorted((deploy.before(self) or {}).items())
                if arn not in wanted]

    def apply(self, spec: TopicSpec, change: Change | None, deploy: Deploy) -> None:
        topics = deploy.c.topics
        try:
            current = topics.topic(spec.arn)
        except CumuloError:
            topics.create_topic(spec.name, spec.attributes)
            deploy.undo.append(lambda: topics.delete_topic(spec.arn))
            return
        for k in ("DisplayName", "ContentBasedDeduplication"):
            if k in spec.attributes and current["Attributes"].get(k) != spec.attributes[k]:
                topics.set_topic_attribute(spec.arn, k, spec.attributes[k])

    def record(self, applied: list[tuple[TopicSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.arn for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for arn in (previous or {}).values():
            if arn not in wanted:
                quietly(deploy.c.topics.delete_topic, arn)

    def summary(self, spec: TopicSpec) -> list[str]:
        return [f"topic {spec.name} ({spec.logical_id})"]


def _sub_attributes(props: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k in _SUB_ATTRIBUTES:
        if k in props:
            v = props[k]
            out[k] = json.dumps(v) if isinstance(v, (dict, list)) else str(v).lower() if isinstance(v, bool) else str(v)
    return out


class Subscription(Kind):
    name = "subscription"
    types = (SUBSCRIPTION_TYPE,)
    after = ("topic", "function", "queue")
    listed = 27
    record_key = "subscriptions"

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs: list[SubscriptionSpec] = list(load.read.pop("subscription-inline", []))
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                missing = [k for k in ("TopicArn", "Protocol", "Endpoint") if k not in props]
                if missing:
                    raise IntrinsicError(f"property {missing[0]}: required")
                unknown = set(props) - {"TopicArn", "Protocol", "Endpoint", "Region", "DeliveryPolicy",
                                        "SubscriptionRoleArn", "ReplayPolicy", *_SUB_ATTRIBUTES}
                if unknown:
                    raise IntrinsicError(f"property {sorted(unknown)[0]}: not a property of AWS::SNS::Subscription")
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            specs.append(SubscriptionSpec(entry.logical_id, str(props["TopicArn"]), str(props["Protocol"]),
                                          str(props["Endpoint"]), _sub_attributes(props)))
        for fn in load.read.get("function", []):
            for event_name, event in fn.events.items():
                if event.get("Type") != "SNS":
                    continue
                props = event.get("Properties") or {}
                if not isinstance(props.get("Topic"), str):
                    raise error(f"Resource {fn.logical_id} (line {fn.line})", f"event {event_name}: property Topic: "
                                "must be a topic's ARN", fn.logical_id, fn.line)
                specs.append(SubscriptionSpec(f"{fn.logical_id}{event_name}", props["Topic"], "lambda",
                                              load.arns.function(fn.function_name, fn.auto_publish_alias),
                                              _sub_attributes(props)))
        return [spec if spec.made else replace(spec, notes=spec.notes + (
            f"its {spec.protocol} subscription to {spec.topic_arn} is accepted and not made: on AWS SNS "
            f"{UNCONFIRMED[spec.protocol]}; Cumulo sends none, so the subscription is left out, as one that is "
            "never confirmed (the topic's other subscribers receive its messages)",)) for spec in specs]

    def attributes(self, spec: SubscriptionSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): f"{spec.topic_arn}:<subscription>"}

    def deployed(self, spec: SubscriptionSpec, deploy: Deploy) -> Attributes:
        if not spec.made:       # what AWS answers for a subscription not yet confirmed
            return {(spec.logical_id, "Ref"): "pending confirmation"}
        return {(spec.logical_id, "Ref"): _find(deploy, spec) or f"{spec.topic_arn}:<subscription>"}

    def plan(self, spec: SubscriptionSpec, deploy: Deploy) -> Change | None:
        if not spec.made:
            return None
        found = _find(deploy, spec)
        if found is None:
            return Change(spec.logical_id, spec.endpoint, "create", kind=self.name)
        current = deploy.c.topics.subscription_attributes(found)
        changed = sorted(k for k in _SUB_ATTRIBUTES if spec.attributes.get(k) != current.get(k)
                         and not (k == "RawMessageDelivery" and spec.attributes.get(k, "false") == current.get(k))
                         and not (k == "FilterPolicyScope" and k not in spec.attributes))
        return Change(spec.logical_id, spec.endpoint, "update" if changed else "unchanged", changed, self.name)

    def apply(self, spec: SubscriptionSpec, change: Change | None, deploy: Deploy) -> str:
        if not spec.made:
            return ""
        topics = deploy.c.topics
        found = _find(deploy, spec)
        if found is None:
            arn: str = topics.subscribe(spec.topic_arn, spec.protocol, spec.endpoint, spec.attributes)
            deploy.undo.append(lambda: topics.unsubscribe(arn))
            return arn
        for k, v in spec.attributes.items():
            topics.set_subscription_attribute(found, k, v)
        return found

    def record(self, applied: list[tuple[SubscriptionSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: arn for spec, arn in applied if arn}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for arn in (previous or {}).values():
            if arn not in wanted:
                quietly(deploy.c.topics.unsubscribe, arn)

    def summary(self, spec: SubscriptionSpec) -> list[str]:
        return [f"subscription {spec.protocol} {spec.endpoint} to {spec.topic_arn}"]


def _find(deploy: Deploy, spec: SubscriptionSpec) -> str | None:
    try:
        subs: Iterable[dict[str, str]] = deploy.c.topics.list_subscriptions(spec.topic_arn, pending_arns=True)
    except CumuloError:
        return None
    return next((s["SubscriptionArn"] for s in subs if s["Protocol"] == spec.protocol
                 and s["Endpoint"] == spec.endpoint), None)


_SQS_SUBSCRIPTION = {"QueueArn", "QueueUrl", "QueuePolicyLogicalId", "BatchSize", "Enabled"}


def sqs_subscriptions(logical_id: str, resource: Any, line: int) -> list[Entry]:
    """A function's ``SNS`` events with ``SqsSubscription``, as SAM expands them: the resources it
    makes (queue, queue policy, subscription); each such event is turned, in place, into the
    function's ``SQS`` event on that queue."""
    properties = resource.get("Properties") if resource.get("Type") == "AWS::Serverless::Function" else None
    events = properties.get("Events") if isinstance(properties, dict) else None
    if not isinstance(events, dict):
        return []
    out: list[Entry] = []
    for name, event in events.items():
        if not isinstance(event, dict) or event.get("Type") != "SNS" or not isinstance(event.get("Properties"), dict):
            continue
        props = event["Properties"]
        given = props.get("SqsSubscription")
        if not given:
            continue
        at = events.line_of(name) if isinstance(events, Node) else line
        where = f"Resource {logical_id} (line {at})"
        options = given if isinstance(given, dict) else {}
        if given is not True and not isinstance(given, dict) or set(options) - _SQS_SUBSCRIPTION:
            raise error(where, f"event {name}: SqsSubscription must be true or a map of "
                        f"{', '.join(sorted(_SQS_SUBSCRIPTION))}", logical_id, at)
        if ("QueueArn" in options) != ("QueueUrl" in options):
            raise error(where, f"event {name}: SqsSubscription needs both QueueArn and QueueUrl, or neither",
                        logical_id, at)
        base = f"{logical_id}{name}"
        if "QueueArn" in options:
            queue_arn, queue_url = options["QueueArn"], options["QueueUrl"]
        else:
            out.append(Entry(f"{base}Queue", at, Node(line=at), "AWS::SQS::Queue"))
            queue_arn, queue_url = {"Fn::GetAtt": [f"{base}Queue", "Arn"]}, {"Ref": f"{base}Queue"}
        topic = props.get("Topic")
        out.append(Entry(options.get("QueuePolicyLogicalId") or f"{base}QueuePolicy", at, Node({
            "Queues": [queue_url],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": "sqs:SendMessage", "Effect": "Allow", "Principal": "*", "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]}}, line=at), "AWS::SQS::QueuePolicy"))
        subscription = Node({"TopicArn": topic, "Protocol": "sqs", "Endpoint": queue_arn}, line=at)
        subscription.update({k: props[k] for k in ("FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "Region")
                             if k in props})
        out.append(Entry(base, at, subscription, SUBSCRIPTION_TYPE))
        mapping = Node({"Queue": queue_arn, "BatchSize": options.get("BatchSize", 10)}, line=at)
        if "Enabled" in options:
            mapping["Enabled"] = options["Enabled"]
        event["Type"], event["Properties"] = "SQS", mapping
    return out
