"""``AWS::SNS::TopicPolicy``: the access policy of one or more topics (their ``Policy`` attribute, as
SetTopicAttributes sets it: read by IAM evaluation when another principal publishes or a service —
a rule, a bucket, an alarm — delivers, ``app.resource_policy``). ``Topics`` are topic ARNs (``!Ref`` of
a topic); the rest is ``attached_policy.AttachedPolicy``'s. A dropped policy leaves its topics with
SNS's default one.
"""

from __future__ import annotations

from cumulo.deploy.kinds.attached_policy import AttachedPolicy
from cumulo.deploy.kinds.base import Deploy
from cumulo.errors import CumuloError

__all__ = ["TopicPolicy", "TOPIC_POLICY_TYPE"]

TOPIC_POLICY_TYPE = "AWS::SNS::TopicPolicy"


class TopicPolicy(AttachedPolicy):
    name = "topic policy"
    types = (TOPIC_POLICY_TYPE,)
    after = ("topic",)
    listed = 76
    record_key = "topic_policies"
    targets_property = "Topics"
    described = "a list of topic ARNs"

    def current(self, deploy: Deploy, target: str) -> str | None:
        try:
            return str(deploy.c.topics.topic(target)["Attributes"].get("Policy") or "")
        except CumuloError:
            return None

    def set(self, deploy: Deploy, target: str, policy: str) -> None:
        deploy.c.topics.set_topic_attribute(target, "Policy", policy)
