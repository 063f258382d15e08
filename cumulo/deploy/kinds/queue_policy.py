"""``AWS::SQS::QueuePolicy``: the resource-based policy of one or more queues (their ``Policy``
attribute, as SetQueueAttributes sets it: read by IAM evaluation when another principal or service
sends, ``api/authorize.py``). ``Queues`` are queue URLs (``!Ref`` of a queue); the rest is
``attached_policy.AttachedPolicy``'s, as for a topic's policy.
"""

from __future__ import annotations

from cumulo.deploy.kinds.attached_policy import AttachedPolicy
from cumulo.deploy.kinds.base import Deploy
from cumulo.errors import CumuloError

__all__ = ["QueuePolicy", "QUEUE_POLICY_TYPE"]

QUEUE_POLICY_TYPE = "AWS::SQS::QueuePolicy"


class QueuePolicy(AttachedPolicy):
    name = "queue policy"
    types = (QUEUE_POLICY_TYPE,)
    after = ("queue",)
    listed = 76
    record_key = "queue_policies"
    targets_property = "Queues"
    described = "a list of queue URLs"

    def current(self, deploy: Deploy, target: str) -> str | None:
        try:
            return deploy.c.queues.get_queue_attributes(target, ["Policy"]).get("Policy", "")
        except CumuloError:
            return None

    def set(self, deploy: Deploy, target: str, policy: str) -> None:
        deploy.c.queues.set_queue_attributes(target, {"Policy": policy})
