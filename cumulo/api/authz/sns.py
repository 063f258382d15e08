"""SNS's operations as IAM sees them (Service Authorization Reference, "Amazon SNS").

Topic operations act on the topic's ARN (``TopicArn``; Publish's ``TargetArn`` too); CreateTopic on
the ARN its ``Name`` makes; subscription operations on the subscription's topic (the ARN less its
last part); ListTopics and ListSubscriptions on ``*``. PublishBatch is ``sns:Publish``.
"""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS"]


def on_topic(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        arn = text(call.doc.get("TopicArn")) or text(call.doc.get("TargetArn"))
        return (Check(action, arn if arn.startswith("arn:") else "*"),)
    return mapper


def by_name(action: str) -> Mapper:
    return lambda call, scope: (Check(action, scope.arn("sns", text(call.doc.get("Name")) or "*")),)


def on_subscription(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        arn = text(call.doc.get("SubscriptionArn"))
        return (Check(action, arn.rsplit(":", 1)[0] if arn.count(":") == 6 else "*"),)
    return mapper


OPERATIONS: dict[str, Mapper] = {
    "CreateTopic": by_name("sns:CreateTopic"),
    "DeleteTopic": on_topic("sns:DeleteTopic"),
    "ListTopics": anywhere("sns:ListTopics"),
    "GetTopicAttributes": on_topic("sns:GetTopicAttributes"),
    "SetTopicAttributes": on_topic("sns:SetTopicAttributes"),
    "Subscribe": on_topic("sns:Subscribe"),
    "ConfirmSubscription": on_topic("sns:ConfirmSubscription"),
    "Unsubscribe": on_subscription("sns:Unsubscribe"),
    "GetSubscriptionAttributes": on_subscription("sns:GetSubscriptionAttributes"),
    "SetSubscriptionAttributes": on_subscription("sns:SetSubscriptionAttributes"),
    "ListSubscriptions": anywhere("sns:ListSubscriptions"),
    "ListSubscriptionsByTopic": on_topic("sns:ListSubscriptionsByTopic"),
    "Publish": on_topic("sns:Publish"),
    "PublishBatch": on_topic("sns:Publish"),
}

register("sns", OPERATIONS)
