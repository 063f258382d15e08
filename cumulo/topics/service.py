"""Topics and subscriptions (store documents ``sns-topic`` and ``sns-subscription``), and publishing:
each message is matched against every subscription's filter policy (attributes, or the message body
with ``FilterPolicyScope: MessageBody``; the event bus's pattern language, given by the root as
``compile_filter``) and one delivery per match is committed before Publish answers, so a message
acknowledged is never lost: a standard queue's copy straight into the queue (``DirectQueues``), in
the publish's own transaction, anything else as an outbox message. Functions receive SNS's event, queues the envelope or, with
``RawMessageDelivery``, the message and its attributes; a subscription's ``RedrivePolicy`` names
the queue undeliverable messages go to.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from cumulo import ids, outbox
from cumulo.topics import http
from cumulo.errors import CumuloError
from cumulo.model import sns
from cumulo.model.sns import SnsError, invalid, not_found
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, now_ms
from cumulo.store.ports import NewMessage, QueueMessages

__all__ = ["TopicService", "TOPIC_DOCUMENT", "SUBSCRIPTION_DOCUMENT"]

TOPIC_DOCUMENT = "sns-topic"
SUBSCRIPTION_DOCUMENT = "sns-subscription"
_TOPIC_ATTRIBUTES = {"DisplayName", "Policy", "DeliveryPolicy", "KmsMasterKeyId", "FifoTopic",
                     "ContentBasedDeduplication", "SignatureVersion", "TracingConfig", "ArchivePolicy",
                     "FifoThroughputScope", "DataProtectionPolicy"}
_SUBSCRIPTION_ATTRIBUTES = {"RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy",
                            "DeliveryPolicy", "SubscriptionRoleArn", "ReplayPolicy"}
PROTOCOLS = ("lambda", "sqs", "http", "https")
PENDING = "PendingConfirmation"
CONTENT_TYPE = "text/plain; charset=UTF-8"


class Matcher(Protocol):
    def matches(self, event: Any) -> bool: ...


class SigningKey(Protocol):
    """``topics/signing.py`` ``Signer``: signs HTTP/HTTPS deliveries."""
    @property
    def cert_path(self) -> str: ...
    def sign(self, data: bytes, version: str) -> str: ...


class DirectQueues(Protocol):
    """The queue service's side of a fan-out: a message for a standard queue made ready to commit
    with the publish (``QueueService.prepare_direct``); None sends it through the outbox."""
    def prepare_direct(self, ref: str, body: str, message_attributes: dict[str, Any] | None = None,
                       ascii_json: bool = False, trace_header: str | None = None) -> tuple[str, NewMessage] | None: ...


def _timestamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class TopicService:
    def __init__(self, documents: Documents, messages: QueueMessages, region: str, account: str,
                 compile_filter: Callable[[str], Matcher], clock: Clock = SYSTEM_CLOCK,
                 queues: DirectQueues | None = None, signer: SigningKey | None = None) -> None:
        self.documents, self.messages, self.region, self.account = documents, messages, region, account
        self.queues, self.signer = queues, signer
        self.compile_filter, self.clock = compile_filter, clock
        self.endpoint = ""            # where UnsubscribeURL points (the server's, once one listens)
        self._filters: dict[str, Matcher] = {}
        self._subs: tuple[int, dict[str, list[dict[str, Any]]]] = (-1, {})
        self._topics: tuple[int, dict[str, dict[str, Any]]] = (-1, {})
        self._lock = threading.Lock()
        self._sequence = 0

    # -- topics -----------------------------------------------------------------------------------
    def arn(self, name: str) -> str:
        return f"arn:aws:sns:{self.region}:{self.account}:{name}"

    def topic(self, arn: Any) -> dict[str, Any]:
        if not isinstance(arn, str) or not arn:
            raise invalid("TopicArn")
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sns":
            raise invalid("TopicArn")
        doc = self.documents.get_document(TOPIC_DOCUMENT, parts[5])
        if doc is None or doc["TopicArn"] != arn:
            raise not_found()
        return doc

    def create_topic(self, name: Any, attributes: dict[str, str] | None = None,
                     tags: list[dict[str, str]] | None = None) -> str:
        if not isinstance(name, str):
            raise invalid("Topic Name")
        attributes = dict(attributes or {})
        unknown = set(attributes) - _TOPIC_ATTRIBUTES
        if unknown:
            raise invalid(f"Attributes Reason: Unknown attribute {sorted(unknown)[0]}")
        fifo = attributes.get("FifoTopic", "false").lower() == "true"
        sns.check_topic_name(name, fifo)
        for key, value in attributes.items():
            _check_topic_attribute(key, value)
        if name.endswith(".fifo") and not fifo:
            raise invalid("Topic Name")
        existing = self.documents.get_document(TOPIC_DOCUMENT, name)
        if existing is not None:
            if any(existing["Attributes"].get(k) != v for k, v in attributes.items() if k != "Policy"):
                raise invalid("Attributes Reason: Topic already exists with different attributes")
            return str(existing["TopicArn"])
        arn = self.arn(name)
        self.documents.put_document(TOPIC_DOCUMENT, name, {"Name": name, "TopicArn": arn, "Attributes": attributes,
                                                           "Tags": {t["Key"]: t["Value"] for t in tags or []}})
        return arn

    def delete_topic(self, arn: Any) -> None:
        try:
            doc = self.topic(arn)
        except SnsError as err:
            if err.code == "NotFound":
                return                              # DeleteTopic of a topic that is gone succeeds
            raise
        for sub in self._subscriptions_of(doc["TopicArn"]):
            self.documents.delete_document(SUBSCRIPTION_DOCUMENT, sub["id"])
        self.documents.delete_document(TOPIC_DOCUMENT, doc["Name"])

    def list_topics(self) -> list[str]:
        return sorted(d["TopicArn"] for d in self.documents.list_documents(TOPIC_DOCUMENT))

    def policy_text(self, arn: str) -> str | None:
        """The topic's own access policy (its ``Policy`` attribute as set), or None: none set (the
        default policy, which gives the account's principals what their own policies give), or no
        such topic. Read by IAM evaluation as the topic's resource policy."""
        try:
            doc = self.topic(arn)
        except SnsError:
            return None
        return doc["Attributes"].get("Policy") or None

    def topic_attributes(self, arn: Any) -> dict[str, str]:
        doc = self.topic(arn)
        subs = self._subscriptions_of(doc["TopicArn"])
        policy = {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
            "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
                       "SNS:Publish"],
            "Resource": doc["TopicArn"], "Condition": {"StringEquals": {"AWS:SourceOwner": self.account}}}]}
        out = {"TopicArn": doc["TopicArn"], "Owner": self.account, "Policy": json.dumps(policy),
               "DisplayName": "", "SubscriptionsConfirmed": str(sum(1 for s in subs if not s.get(PENDING))),
               "SubscriptionsPending": str(sum(1 for s in subs if s.get(PENDING))),
               "SubscriptionsDeleted": "0",
               "EffectiveDeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {
                   "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
                   "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"},
                   "disableSubscriptionOverrides": False, "defaultRequestPolicy": {"headerContentType":
                                                                                    "text/plain; charset=UTF-8"}}})}
        out.update(doc["Attributes"])
        return out

    def set_topic_attribute(self, arn: Any, name: Any, value: Any) -> None:
        doc = self.topic(arn)
        if name not in _TOPIC_ATTRIBUTES - {"FifoTopic"}:
            raise invalid("AttributeName")
        _check_topic_attribute(name, "" if value is None else str(value))
        doc["Attributes"][name] = "" if value is None else str(value)
        self.documents.put_document(TOPIC_DOCUMENT, doc["Name"], doc)

    # -- subscriptions ----------------------------------------------------------------------------
    def _topic_for_publish(self, arn: Any) -> dict[str, Any]:
        """``topic`` for a publish, which only reads it: kept until the documents change (a topic
        created, changed or deleted anywhere bumps the generation)."""
        generation = self.documents.generation
        with self._lock:
            if self._topics[0] != generation:
                self._topics = (generation, {})
            found = self._topics[1].get(arn) if isinstance(arn, str) else None
        if found is None:
            found = self.topic(arn)
            with self._lock:
                if self._topics[0] == generation and len(self._topics[1]) < 4096:
                    self._topics[1][arn] = found
        return found

    def _subscriptions_of(self, topic_arn: str) -> list[dict[str, Any]]:
        generation = self.documents.generation
        with self._lock:
            if self._subs[0] != generation:
                by_topic: dict[str, list[dict[str, Any]]] = {}
                for d in self.documents.list_documents(SUBSCRIPTION_DOCUMENT):
                    by_topic.setdefault(d["TopicArn"], []).append(d)
                self._subs = (generation, by_topic)
            return list(self._subs[1].get(topic_arn, []))

    def subscribe(self, topic_arn: Any, protocol: Any, endpoint: Any, attributes: dict[str, str] | None = None) -> str:
        """The subscription's ARN (an HTTP/HTTPS one is pending until confirmed: its endpoint is sent
        a ``SubscriptionConfirmation`` first, and again when subscribed again while pending)."""
        doc = self.topic(topic_arn)
        if protocol not in PROTOCOLS:
            if protocol in ("email", "email-json", "sms", "application", "firehose"):
                raise invalid(f"Protocol: Cumulo delivers to lambda, sqs, http and https subscriptions only, "
                              f"not {protocol}")
            raise invalid(f"Invalid protocol type: {protocol}")
        fifo = doc["Attributes"].get("FifoTopic", "false").lower() == "true"
        if protocol in ("http", "https"):
            if not isinstance(endpoint, str) or not endpoint.lower().startswith(f"{protocol}://") or \
                    len(endpoint) <= len(protocol) + 3 or any(c.isspace() for c in endpoint):
                raise invalid(f"Endpoint Reason: An {protocol} URL must begin with {protocol}://")
            if fifo:
                raise invalid("Invalid parameter: Endpoint Reason: FIFO SNS Topics currently only support FIFO SQS "
                              "Queues as endpoints")
        else:
            service = "lambda" if protocol == "lambda" else "sqs"
            if not isinstance(endpoint, str) or not endpoint.startswith(f"arn:aws:{service}:"):
                raise invalid(f"{'Lambda' if protocol == 'lambda' else 'SQS'} endpoint ARN")
            if fifo and protocol == "sqs" and not endpoint.endswith(".fifo"):
                raise invalid("Invalid parameter: Endpoint Reason: FIFO SNS Topics currently only support FIFO SQS "
                              "Queues as endpoints")
        attrs = self._check_subscription_attributes(dict(attributes or {}), protocol)
        for sub in self._subscriptions_of(doc["TopicArn"]):
            if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
                if attrs and any(sub["Attributes"].get(k) != v for k, v in attrs.items()):
                    raise invalid("Attributes Reason: Subscription already exists with different attributes")
                if sub.get(PENDING):
                    self._send_confirmation(doc, sub, "SubscriptionConfirmation")
                return str(sub["SubscriptionArn"])
        sub_id = str(uuid.uuid4())
        arn = f"{doc['TopicArn']}:{sub_id}"
        sub = {"id": sub_id, "SubscriptionArn": arn, "TopicArn": doc["TopicArn"], "Protocol": protocol,
               "Endpoint": endpoint, "Owner": self.account, "Attributes": attrs}
        if protocol in ("http", "https"):
            sub.update({PENDING: True, "Token": secrets.token_hex(64)})
        self.documents.put_document(SUBSCRIPTION_DOCUMENT, sub_id, sub)
        if sub.get(PENDING):
            self._send_confirmation(doc, sub, "SubscriptionConfirmation")
        return arn

    def _cert_url(self) -> str:
        return f"{self._base()}{self.signer.cert_path}" if self.signer is not None else \
            f"https://sns.{self.region}.amazonaws.com/SimpleNotificationService-cumulo.pem"

    def _base(self) -> str:
        return (self.endpoint or "http://localhost:9000").rstrip("/")

    def _sign(self, message: dict[str, Any], version: str) -> None:
        if self.signer is not None:
            message["Signature"] = self.signer.sign(sns.string_to_sign(message), version)

    def _retry_and_type(self, topic: dict[str, Any], sub: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The subscription's retry policy and content type: its own DeliveryPolicy's, else the topic's."""
        retry, content_type = None, None
        for text, is_topic in ((sub["Attributes"].get("DeliveryPolicy"), False),
                               (topic["Attributes"].get("DeliveryPolicy"), True)):
            if text:
                policy = sns.parse_delivery_policy(text, is_topic)
                retry = retry or policy["retry"]
                content_type = content_type or policy["contentType"]
        return retry or dict(sns.DEFAULT_RETRY), content_type or CONTENT_TYPE

    def _send_confirmation(self, topic: dict[str, Any], sub: dict[str, Any], kind: str) -> None:
        version = topic["Attributes"].get("SignatureVersion", "1")
        message = sns.confirmation(kind, message_id=str(uuid.uuid4()), token=sub["Token"],
                                   topic_arn=topic["TopicArn"], timestamp=_timestamp(now_ms(self.clock)),
                                   endpoint=self._base(), cert_url=self._cert_url(), signature_version=version)
        self._sign(message, version)
        retry, content_type = self._retry_and_type(topic, sub)
        headers = sns.http_headers(kind, message["MessageId"], topic["TopicArn"],
                                   None if kind == "SubscriptionConfirmation" else sub["SubscriptionArn"],
                                   content_type)
        name, entry = http.delivery(sub["Endpoint"], json.dumps(message), headers, retry,
                                    what=f"SNS {kind} of {sub['SubscriptionArn']}")
        self.messages.send_many({name: [entry]}, now_ms(self.clock))

    def confirm_subscription(self, topic_arn: Any, token: Any, authenticated: bool = True) -> str:
        """ConfirmSubscription (an API call, or the SubscribeURL visited): the subscription's ARN."""
        doc = self.topic(topic_arn)
        if not isinstance(token, str) or not token:
            raise invalid("Token")
        for sub in self._subscriptions_of(doc["TopicArn"]):
            if secrets.compare_digest(str(sub.get("Token", "")), token):
                if sub.get(PENDING):
                    sub[PENDING] = False
                    sub["Authenticated"] = authenticated
                    self.documents.put_document(SUBSCRIPTION_DOCUMENT, sub["id"], sub)
                return str(sub["SubscriptionArn"])
        raise invalid("Token")

    def _check_subscription_attributes(self, attrs: dict[str, str], protocol: str) -> dict[str, str]:
        for name, value in attrs.items():
            if name not in _SUBSCRIPTION_ATTRIBUTES:
                raise invalid(f"Attributes Reason: Unknown attribute {name}")
            if name == "RawMessageDelivery" and value.lower() not in ("true", "false"):
                raise invalid("Attributes Reason: RawMessageDelivery: Invalid value [" + value + "]. Must be true "
                              "or false.")
            if name == "DeliveryPolicy" and value:
                if protocol not in ("http", "https"):
                    raise invalid("Attributes Reason: DeliveryPolicy: only HTTP/HTTPS subscriptions take a "
                                  "delivery policy")
                sns.parse_delivery_policy(value, topic=False)
            if name == "RawMessageDelivery" and protocol == "lambda" and value.lower() == "true":
                raise invalid("Attributes Reason: Delivery protocol [lambda] does not support raw message delivery.")
            if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
                raise invalid("Attributes Reason: FilterPolicyScope: Invalid value [" + value + "]. Please use "
                              "either MessageBody or MessageAttributes")
            if name == "FilterPolicy" and value:
                self._filter(value)
            if name == "RedrivePolicy" and value:
                try:
                    dlq = json.loads(value).get("deadLetterTargetArn", "")
                except (ValueError, AttributeError):
                    dlq = ""
                if not str(dlq).startswith("arn:aws:sqs:"):
                    raise invalid("RedrivePolicy: deadLetterTargetArn must be an SQS queue's ARN")
        return attrs

    def _filter(self, policy: str) -> Matcher:
        found = self._filters.get(policy)
        if found is None:
            try:
                found = self.compile_filter(policy)
            except CumuloError as err:
                raise invalid(f"FilterPolicy: {err.message}") from None
            self._filters[policy] = found
        return found

    def _subscription(self, arn: Any) -> dict[str, Any]:
        if not isinstance(arn, str) or arn.count(":") != 6:
            raise invalid("SubscriptionArn")
        doc = self.documents.get_document(SUBSCRIPTION_DOCUMENT, arn.rsplit(":", 1)[1])
        if doc is None or doc["SubscriptionArn"] != arn:
            raise not_found("Subscription does not exist")
        return doc

    def unsubscribe(self, arn: Any) -> None:
        try:
            doc = self._subscription(arn)
        except SnsError as err:
            if err.code == "NotFound":
                return
            raise
        self.documents.delete_document(SUBSCRIPTION_DOCUMENT, doc["id"])
        if doc["Protocol"] in ("http", "https") and not doc.get(PENDING):
            try:
                self._send_confirmation(self.topic(doc["TopicArn"]), doc, "UnsubscribeConfirmation")
            except SnsError:
                pass                # the topic is gone too: nothing to confirm against

    def subscription_attributes(self, arn: Any) -> dict[str, str]:
        doc = self._subscription(arn)
        out = {"SubscriptionArn": doc["SubscriptionArn"], "TopicArn": doc["TopicArn"], "Protocol": doc["Protocol"],
               "Endpoint": doc["Endpoint"], "Owner": doc["Owner"],
               "PendingConfirmation": "true" if doc.get(PENDING) else "false",
               "ConfirmationWasAuthenticated": "true" if doc.get("Authenticated", True) and not doc.get(PENDING)
               else "false", "RawMessageDelivery": "false"}
        out.update(doc["Attributes"])
        if "FilterPolicy" in out and "FilterPolicyScope" not in out:
            out["FilterPolicyScope"] = "MessageAttributes"
        return out

    def set_subscription_attribute(self, arn: Any, name: Any, value: Any) -> None:
        doc = self._subscription(arn)
        if name not in _SUBSCRIPTION_ATTRIBUTES:
            raise invalid("AttributeName")
        doc["Attributes"].update(self._check_subscription_attributes({name: str(value or "")}, doc["Protocol"]))
        self.documents.put_document(SUBSCRIPTION_DOCUMENT, doc["id"], doc)

    def list_subscriptions(self, topic_arn: str | None = None, pending_arns: bool = False) -> list[dict[str, str]]:
        """As ListSubscriptions answers: a pending subscription's ARN is ``PendingConfirmation``
        (``pending_arns``: its own ARN, for the deployer to find it)."""
        if topic_arn is not None:
            self.topic(topic_arn)
            subs = self._subscriptions_of(topic_arn)
        else:
            subs = self.documents.list_documents(SUBSCRIPTION_DOCUMENT)
        return [{"SubscriptionArn": PENDING if s.get(PENDING) and not pending_arns else s["SubscriptionArn"],
                 "Owner": s["Owner"],
                 "Protocol": s["Protocol"],
                 "Endpoint": s["Endpoint"], "TopicArn": s["TopicArn"]}
                for s in sorted(subs, key=lambda s: s["SubscriptionArn"])]

    # -- publishing -------------------------------------------------------------------------------
    def publish(self, topic_arn: Any, message: Any, subject: Any = None, attributes: dict[str, Any] | None = None,
                structure: Any = None, group_id: Any = None, dedup_id: Any = None,
                trace_header: str | None = None) -> dict[str, str]:
        """Commit the deliveries of one message; answers ``{MessageId[, SequenceNumber]}``.
        ``trace_header``: the publisher's, carried on to every subscriber (docs/traces.md)."""
        result, entries = self._prepare(topic_arn, message, subject, attributes, structure, group_id, dedup_id,
                                        trace_header)
        self.messages.send_many(_by_queue(entries), now_ms(self.clock))
        return result

    def publish_batch(self, topic_arn: Any, entries: list[dict[str, Any]],
                      trace_header: str | None = None) -> dict[str, Any]:
        self.topic(topic_arn)
        if not entries:
            raise SnsError("EmptyBatchRequest", "The batch request doesn't contain any entries.")
        if len(entries) > 10:
            raise SnsError("TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")
        ids = [e.get("Id") for e in entries]
        if len(set(ids)) != len(ids):
            raise SnsError("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
        done, failed, staged = [], [], []
        for e in entries:
            try:
                result, deliveries = self._prepare(topic_arn, e.get("Message"), e.get("Subject"),
                                                   e.get("MessageAttributes"), e.get("MessageStructure"),
                                                   e.get("MessageGroupId"), e.get("MessageDeduplicationId"),
                                                   trace_header)
                staged += deliveries
                done.append({"Id": e.get("Id"), **result})
            except SnsError as err:
                failed.append({"Id": e.get("Id"), "Code": err.code, "Message": err.message, "SenderFault": True})
        if staged:
            self.messages.send_many(_by_queue(staged), now_ms(self.clock))
        return {"Successful": done, "Failed": failed}

    def _prepare(self, topic_arn: Any, message: Any, subject: Any, attributes: dict[str, Any] | None,
                 structure: Any, group_id: Any, dedup_id: Any,
                 trace_header: str | None = None) -> tuple[dict[str, str], list[tuple[str, NewMessage]]]:
        doc = self._topic_for_publish(topic_arn)
        traced = {"trace_header": trace_header} if trace_header and len(trace_header) <= 1024 else {}
        if not isinstance(message, str) or message == "":
            raise invalid("Empty message")
        attributes = dict(attributes or {})
        size = len(message.encode()) + sns.check_attributes(attributes)
        if size > sns.MAX_MESSAGE_BYTES:
            raise invalid("Message too long")
        if subject is not None and (not isinstance(subject, str) or not subject or len(subject) > 100
                                    or not subject.isascii() or "\n" in subject):
            raise invalid("Subject")
        per_protocol: dict[str, str] = {}
        if structure is not None:
            if structure != "json":
                raise invalid("MessageStructure")
            try:
                per_protocol = json.loads(message)
            except ValueError:
                raise invalid("Message Structure - JSON message body failed to parse") from None
            if not isinstance(per_protocol, dict) or not isinstance(per_protocol.get("default"), str):
                raise invalid("Message Structure - No default entry in JSON message body")
        fifo = doc["Attributes"].get("FifoTopic", "false").lower() == "true"
        sequence = None
        if fifo:
            if not group_id:
                raise invalid("The MessageGroupId parameter is required for FIFO topics")
            if not dedup_id:
                if doc["Attributes"].get("ContentBasedDeduplication", "false").lower() != "true":
                    raise invalid("The topic should either have ContentBasedDeduplication enabled or "
                                  "MessageDeduplicationId provided explicitly")
                import hashlib
                dedup_id = hashlib.sha256(message.encode()).hexdigest()
            with self._lock:
                self._sequence += 1
                sequence = f"{now_ms(self.clock):013d}{self._sequence % 10**7:07d}"
        elif group_id is not None:
            raise invalid("MessageGroupId: The request includes MessageGroupId parameter that is not valid for this "
                          "topic type")
        message_id = ids.request_id()
        when = _timestamp(now_ms(self.clock))
        flat = sns.filter_attributes(attributes)
        body_doc: Any = None
        entries: list[tuple[str, NewMessage]] = []
        rendered: dict[tuple[str, str], str] = {}

        def render(kind: str, text: str, subscription_arn: str) -> str:
            """The envelope (or the function's event) as JSON, made once per message and kind; each
            subscription's ARN spliced into its copy."""
            template = rendered.get((kind, text))
            if template is None:
                common = dict(subscription_arn=_ARN_SLOT, topic_arn=doc["TopicArn"], message_id=message_id,
                              message=text, subject=subject, timestamp=when, attributes=attributes,
                              endpoint=self.endpoint, region=self.region)
                if kind == "lambda":
                    made = sns.lambda_event(**common)
                else:
                    made = sns.envelope(**common, sequence=sequence)
                if kind == "http":
                    version = doc["Attributes"].get("SignatureVersion", "1")
                    made.update(SignatureVersion=version, SigningCertURL=self._cert_url())
                    self._sign(made, version)
                template = rendered[(kind, text)] = json.dumps(made)
            return template.replace(_ARN_SLOT_JSON, json.dumps(subscription_arn)[1:-1])

        for sub in self._subscriptions_of(doc["TopicArn"]):
            if sub.get(PENDING):
                continue
            attrs = sub["Attributes"]
            text = per_protocol.get(sub["Protocol"], per_protocol.get("default", message)) if per_protocol \
                else message
            policy = attrs.get("FilterPolicy")
            if policy:
                if attrs.get("FilterPolicyScope") == "MessageBody":
                    if body_doc is None:
                        try:
                            body_doc = json.loads(text)
                        except ValueError:
                            body_doc = False
                    if not isinstance(body_doc, dict) or not self._filter(policy).matches(body_doc):
                        continue
                elif not self._filter(policy).matches(flat):
                    continue
            dlq = None
            if attrs.get("RedrivePolicy"):
                dlq = json.loads(attrs["RedrivePolicy"]).get("deadLetterTargetArn")
            what = f"SNS message {message_id} to {sub['SubscriptionArn']}"
            protocol, arn = sub["Protocol"], sub["SubscriptionArn"]
            if protocol in ("http", "https"):
                raw = attrs.get("RawMessageDelivery", "false").lower() == "true"
                retry, content_type = self._retry_and_type(doc, sub)
                headers = sns.http_headers("Notification", message_id, doc["TopicArn"], arn, content_type, raw)
                entries.append(http.delivery(sub["Endpoint"], text if raw else render("http", text, arn), headers,
                                             retry, dead_letter=dlq, what=what))
                continue
            if protocol == "lambda":
                entries.append(outbox.entry(sub["Endpoint"], render("lambda", text, arn), what=what,
                                            dead_letter=dlq, invocation_type="Event",
                                            source_service="sns.amazonaws.com", source_arn=doc["TopicArn"], **traced))
                continue
            raw = attrs.get("RawMessageDelivery", "false").lower() == "true"
            body = text if raw else render("sqs", text, arn)
            queue_attributes = (_sqs_attributes(attributes) or None) if raw else None
            direct = None
            if self.queues is not None and group_id is None:
                direct = self.queues.prepare_direct(sub["Endpoint"], body, queue_attributes, ascii_json=not raw,
                                                    **traced)
            if direct is not None:      # a standard queue: enqueued in this publish's own transaction
                entries.append(direct)
            else:                       # FIFO, missing or refusing: through the outbox (retries, DLQ)
                entries.append(outbox.entry(sub["Endpoint"], body, what=what, dead_letter=dlq,
                                            attributes=queue_attributes, group_id=group_id, dedup_id=dedup_id,
                                            source_service="sns.amazonaws.com", source_arn=doc["TopicArn"], **traced))
        result = {"MessageId": message_id}
        if sequence is not None:
            result["SequenceNumber"] = sequence
        return result, entries


def _by_queue(entries: list[tuple[str, NewMessage]]) -> dict[str, list[NewMessage]]:
    out: dict[str, list[NewMessage]] = {}
    for name, message in entries:
        out.setdefault(name, []).append(message)
    return out


def _check_topic_attribute(name: str, value: str) -> None:
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise invalid("Attributes Reason: SignatureVersion: Invalid value [" + value + "]. Please use either 1 or 2")
    if name == "DeliveryPolicy" and value:
        sns.parse_delivery_policy(value, topic=True)


_ARN_SLOT = "\x00subscription\x00"
_ARN_SLOT_JSON = json.dumps(_ARN_SLOT)[1:-1]


def _sqs_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """SNS message attributes as the queue message's (raw delivery); SQS has no String.Array."""
    out = {}
    for name, value in attributes.items():
        kind = value["DataType"]
        if kind == "String.Array":
            kind = "String"
        out[name] = {"DataType": kind, **({"BinaryValue": value["BinaryValue"]} if kind.startswith("Binary")
                                          else {"StringValue": value["StringValue"]})}
    return out
