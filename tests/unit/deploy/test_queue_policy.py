"""``AWS::SQS::QueuePolicy`` deployed from a template: the queues' Policy attribute as SetQueueAttributes sets
it; unchanged on a second deploy, set again when it changes, cleared when the template drops it; a
malformed document refused before anything is deployed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo.app import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.errors import CumuloError

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SQS::Queue
  Audit:
    Type: AWS::SQS::Queue
%s
Outputs:
  Url:
    Value: !Ref Orders
"""
POLICY = """\
  FromTopic:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Orders, !Ref Audit]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: sqs:SendMessage
            Resource: '*'
            Condition: {ArnEquals: {aws:SourceArn: SOURCE}}
"""


def _write(folder: Path, policy: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "template.yaml"
    path.write_text(TEMPLATE % (POLICY.replace("SOURCE", policy) if policy else ""))
    return path


def _policies(c: Cumulo) -> list[str]:
    return [c.queues.get_queue_attributes(url, ["Policy"]).get("Policy", "")
            for url in c.queues.list_queues().get("QueueUrls", [])]


def test_queue_policies_are_set_kept_changed_and_cleared(tmp_path: Path) -> None:
    topic = "arn:aws:sns:us-east-1:000000000000:orders"
    with Cumulo(home=tmp_path / "home") as c:
        deploy(c, _write(tmp_path / "app", topic), stack_name="st")
        policies = _policies(c)
        assert len(policies) == 2 and policies[0] == policies[1]
        statement = json.loads(policies[0])["Statement"][0]
        assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}

        again = deploy(c, _write(tmp_path / "app", topic), stack_name="st")
        assert [ch.action for ch in again.changes if ch.kind == "queue policy"] == ["unchanged"]

        deploy(c, _write(tmp_path / "app", topic + "-v2"), stack_name="st")
        assert all(json.loads(p)["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == topic + "-v2"
                   for p in _policies(c))

        dropped = deploy(c, _write(tmp_path / "app", None), stack_name="st")
        assert [ch.action for ch in dropped.changes if ch.kind == "queue policy"] == ["delete", "delete"]
        assert _policies(c) == ["", ""]


def test_a_malformed_policy_is_refused_before_anything_is_deployed(tmp_path: Path) -> None:
    path = _write(tmp_path / "app", "arn:aws:sns:us-east-1:000000000000:orders")
    path.write_text(path.read_text().replace("Effect: Allow", "Effect: Perhaps"))
    with Cumulo(home=tmp_path / "home") as c:
        with pytest.raises(CumuloError, match="FromTopic.*PolicyDocument"):
            deploy(c, path, stack_name="st")
        assert c.queues.list_queues().get("QueueUrls", []) == []
