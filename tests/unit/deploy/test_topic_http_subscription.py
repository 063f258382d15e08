"""An ``AWS::SNS::Subscription`` to an HTTPS endpoint deployed from a template: pending until its
endpoint confirms it, and found again (not made twice) by a second deploy while still pending."""

from __future__ import annotations

from pathlib import Path

from cumulo.app import Cumulo
from cumulo.deploy.engine import deploy

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SNS::Topic
  Hook:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Orders
      Protocol: https
      Endpoint: https://hooks.example.com/sns
"""


def test_a_pending_https_subscription_is_deployed_once(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    path = tmp_path / "app" / "template.yaml"
    path.write_text(TEMPLATE)
    with Cumulo(home=tmp_path / "home") as c:
        deploy(c, path, stack_name="st")
        [topic] = c.topics.list_topics()
        [sub] = c.topics.list_subscriptions(topic)
        assert sub["SubscriptionArn"] == "PendingConfirmation"
        again = deploy(c, path, stack_name="st")
        assert [ch.action for ch in again.changes if ch.kind == "subscription"] == ["unchanged"]
        assert len(c.topics.list_subscriptions(topic)) == 1
