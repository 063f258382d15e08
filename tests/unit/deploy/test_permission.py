"""``AWS::Lambda::Permission`` deployed from a template: the statement AddPermission writes, on the function or
the alias FunctionName names; unchanged on a second deploy, replaced when it changes, removed when dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cumulo.app import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.errors import ResourceNotFoundException

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      AutoPublishAlias: live
  FromRule:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Fn.Arn
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
      SourceArn: !Sub arn:aws:events:${AWS::Region}:${AWS::AccountId}:rule/RULE
%s
Outputs:
  Sid:
    Value: !Ref FromRule
"""
ALIAS = """\
  ToAlias:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Sub "${Fn}:live"
      Action: lambda:InvokeFunction
      Principal: !Ref AWS::AccountId
"""


def _write(folder: Path, rule: str, alias: bool) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    path = folder / "template.yaml"
    path.write_text(TEMPLATE.replace("RULE", rule) % (ALIAS if alias else ""))
    return path


def _statements(c: Cumulo, qualifier: str | None = None) -> list[dict[str, Any]]:
    return json.loads(c.function_policies.get_policy("st-Fn", qualifier)["Policy"])["Statement"]


def test_permissions_are_deployed_kept_replaced_and_removed(tmp_path: Path) -> None:
    with Cumulo(home=tmp_path / "home") as c:
        first = deploy(c, _write(tmp_path / "app", "nightly", True), stack_name="st")
        sid = first.outputs["Sid"]
        assert sid.startswith("st-FromRule-")
        [statement] = _statements(c)
        assert statement == {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                             "Action": "lambda:InvokeFunction",
                             "Resource": "arn:aws:lambda:us-east-1:000000000000:function:st-Fn",
                             "Condition": {"ArnLike": {"AWS:SourceArn":
                                                       "arn:aws:events:us-east-1:000000000000:rule/nightly"}}}
        [on_alias] = _statements(c, "live")
        assert on_alias["Principal"] == {"AWS": "arn:aws:iam::000000000000:root"}
        assert on_alias["Resource"].endswith(":function:st-Fn:live")

        again = deploy(c, _write(tmp_path / "app", "nightly", True), stack_name="st")
        assert {ch.logical_id: ch.action for ch in again.changes if ch.kind == "permission"} == \
            {"FromRule": "unchanged", "ToAlias": "unchanged"}

        changed = deploy(c, _write(tmp_path / "app", "hourly", False), stack_name="st")
        assert {ch.logical_id: ch.action for ch in changed.changes if ch.kind == "permission"} == \
            {"FromRule": "replace", "ToAlias": "delete"}
        [statement] = _statements(c)
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(":rule/hourly")
        with pytest.raises(ResourceNotFoundException):
            _statements(c, "live")


def test_a_permission_needs_its_members(tmp_path: Path) -> None:
    path = _write(tmp_path / "app", "nightly", False)
    path.write_text(path.read_text().replace("      Principal: events.amazonaws.com\n", ""))
    with Cumulo(home=tmp_path / "home") as c, pytest.raises(Exception, match="FromRule.*Principal"):
        deploy(c, path, stack_name="st")
