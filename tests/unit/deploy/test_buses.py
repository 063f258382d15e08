"""Event buses, rules and EventBridgeRule/CloudWatchEvent events in templates: read, named and checked."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from cumulo.deploy.buses import rule_name_for
from cumulo.deploy.template import Template, TemplateError, load_template, resolve_outputs

HEADER = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
"""
BUS = """
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: orders
      Description: order events
  Inbox:
    Type: AWS::SQS::Queue
"""
LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:"


def _load(tmp_path: Path, body: str, **parameters: str) -> Template:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "template.yaml").write_text(HEADER + textwrap.dedent(body))
    return load_template(tmp_path / "template.yaml", parameters, stack_name="shop")


RULE = BUS + """
  OnOrder:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [shop.orders]
        detail-type: [OrderPlaced]
      Targets:
        - Id: inbox
          Arn: !GetAtt Inbox.Arn
          InputTransformer:
            InputPathsMap: {id: $.detail.id}
            InputTemplate: '{"order": <id>}'
          RoleArn: arn:aws:iam::000000000000:role/x
Outputs:
  RuleRef: {Value: !Ref OnOrder}
  RuleArn: {Value: !GetAtt OnOrder.Arn}
  BusRef: {Value: !Ref Bus}
  BusArn: {Value: !GetAtt Bus.Arn}
  BusName: {Value: !GetAtt Bus.Name}
"""


def test_rule_names_are_stable_and_bounded() -> None:
    name = rule_name_for("shop", "OnOrder")
    assert name == rule_name_for("shop", "OnOrder") != rule_name_for("shop2", "OnOrder")
    assert name.startswith("shop-OnOrder-") and len(name) == len("shop-OnOrder-") + 12
    long = rule_name_for("s" * 128, "L" * 255)
    assert len(long) == 64 and long != rule_name_for("s" * 128, "L" * 254 + "M")


def test_bus_and_rule_are_read_with_refs_and_attributes(tmp_path: Path) -> None:
    template = _load(tmp_path, RULE)
    (bus,) = template.buses
    assert (bus.name, bus.arn, bus.description) == ("orders", "arn:aws:events:us-east-1:000000000000:event-bus/orders",
                                                    "order events")
    (rule,) = template.rules
    name = rule_name_for("shop", "OnOrder")
    assert (rule.name, rule.bus, rule.state) == (name, "orders", "ENABLED")
    assert json.loads(rule.pattern or "") == {"source": ["shop.orders"], "detail-type": ["OrderPlaced"]}
    assert rule.targets == ({"Id": "inbox", "Arn": template.queues[0].arn,
                             "InputTransformer": {"InputPathsMap": {"id": "$.detail.id"},
                                                  "InputTemplate": '{"order": <id>}'}},)
    assert any("RoleArn ignored" in n for n in rule.notes)
    assert resolve_outputs(template) == {
        "RuleRef": f"orders|{name}", "RuleArn": f"arn:aws:events:us-east-1:000000000000:rule/orders/{name}",
        "BusRef": "orders", "BusArn": bus.arn, "BusName": "orders"}


def test_rule_on_the_default_bus_refs_its_name(tmp_path: Path) -> None:
    body = """
    Resources:
      Nightly:
        Type: AWS::Events::Rule
        Properties:
          Name: nightly
          ScheduleExpression: rate(1 day)
          State: DISABLED
          Targets: [{Id: t, Arn: !GetAtt Fn.Arn, Input: '{"a": 1}'}]
      Fn:
        Type: AWS::Serverless::Function
    Outputs:
      Ref: {Value: !Ref Nightly}
      Arn: {Value: !GetAtt Nightly.Arn}
    """
    template = _load(tmp_path, body)
    (rule,) = template.rules
    assert (rule.bus, rule.schedule, rule.state, rule.targets[0]["Arn"]) == (
        "default", "rate(1 day)", "DISABLED", LAMBDA + "shop-Fn")
    assert resolve_outputs(template) == {"Ref": "nightly",
                                         "Arn": "arn:aws:events:us-east-1:000000000000:rule/nightly"}


def test_bad_pattern_names_the_resource_and_line(tmp_path: Path) -> None:
    body = RULE.replace("        detail-type: [OrderPlaced]\n", "        detail-type: OrderPlaced\n")
    with pytest.raises(TemplateError) as info:
        _load(tmp_path, body)
    err = info.value
    assert err.logical_id == "OnOrder"
    assert "Resource OnOrder (line" in err.message and "Event pattern is not valid" in err.message
    line = next(i for i, text in enumerate((HEADER + textwrap.dedent(body)).splitlines(), 1) if "EventPattern:" in text)
    assert err.line == line and f"property EventPattern (line {line})" in err.message


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("      EventBusName: !Ref Bus\n", "      EventBusName: !Ref Bus\n      Color: red\n",
     "unknown or unsupported property 'Color'"),
    ("      EventBusName: !Ref Bus\n", "      EventBusName: !Ref Bus\n      State: 'ON'\n",
     "must be ENABLED or DISABLED, got 'ON'"),
    ("          RoleArn:", "          Colour: red\n          RoleArn:", "unknown or unsupported property 'Colour'"),
    ("        - Id: inbox\n", "        - Id: 'in box'\n", "Targets[0].Id"),
    ("            InputTemplate: '{\"order\": <id>}'\n", "", "InputTransformer (line 24): must be a map with InputTemplate"),
    ("      EventPattern:\n        source: [shop.orders]\n        detail-type: [OrderPlaced]\n",
     "      ScheduleExpression: rate(1 hour)\n", "supported only on the default event bus"),
    ("      EventPattern:\n        source: [shop.orders]\n        detail-type: [OrderPlaced]\n", "",
     "one of EventPattern or ScheduleExpression is required"),
])
def test_rule_properties_are_checked(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in RULE
    with pytest.raises(TemplateError, match="Resource OnOrder") as info:
        _load(tmp_path, RULE.replace(old, new))
    assert expected in info.value.message


def test_bus_needs_a_name_and_notes_tags(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"Resource Bus \(line \d+\): property Name is required"):
        _load(tmp_path, BUS.replace("      Name: orders\n", ""))
    with pytest.raises(TemplateError, match="unknown or unsupported property 'Colour'"):
        _load(tmp_path, BUS.replace("      Name: orders\n", "      Name: orders\n      Colour: red\n"))
    template = _load(tmp_path, BUS.replace("      Name: orders\n",
                                           "      Name: orders\n      Tags: [{Key: team, Value: shop}]\n"))
    assert template.buses[0].notes == ["Tags ignored: Cumulo's event buses keep no tags"]


FUNCTION = BUS + """
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      Events:
        Placed:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [shop.orders]}
            InputPath: $.detail
            RetryPolicy: {MaximumRetryAttempts: 2}
            DeadLetterConfig: {Type: SQS, Arn: !GetAtt Inbox.Arn}
        Legacy:
          Type: CloudWatchEvent
          Properties:
            Pattern: {source: [aws.ec2]}
            State: DISABLED
        Named:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [x]}
            RuleName: my-rule
            Target: {Id: mine}
"""


def test_function_events_make_rules_targeting_the_alias(tmp_path: Path) -> None:
    template = _load(tmp_path, FUNCTION)
    placed, legacy, named = template.function("Handler").rules
    alias = LAMBDA + "shop-Handler:live"
    assert (placed.key, placed.name, placed.bus) == ("Handler.Placed", rule_name_for("shop", "HandlerPlaced"), "orders")
    assert placed.targets == ({"Id": "HandlerPlacedLambdaTarget", "Arn": alias, "InputPath": "$.detail",
                               "RetryPolicy": {"MaximumRetryAttempts": 2},
                               "DeadLetterConfig": {"Arn": template.queues[0].arn}},)
    assert (legacy.bus, legacy.state, legacy.targets[0]["Id"]) == ("default", "DISABLED", "HandlerLegacyLambdaTarget")
    assert (named.name, named.targets[0]["Id"]) == ("my-rule", "mine")
    assert placed.line > template.function("Handler").line


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("            Pattern: {source: [shop.orders]}\n", "            Pattern: {source: shop.orders}\n",
     "event Placed (line"),
    ("            State: DISABLED\n", "            State: OFF\n", "property State: must be ENABLED or DISABLED"),
    ("            State: DISABLED\n", "            State: DISABLED\n            RetryPolicy: {}\n",
     "unknown or unsupported property 'RetryPolicy' for a CloudWatchEvent event"),
    ("{Type: SQS, Arn: !GetAtt Inbox.Arn}", "{Type: SQS, QueueLogicalId: Dead}", "declare an AWS::SQS::Queue"),
    ("            RuleName: my-rule\n", "            RuleName: 'my rule'\n", "property RuleName"),
])
def test_function_event_properties_are_checked(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in FUNCTION
    with pytest.raises(TemplateError, match="Resource Handler") as info:
        _load(tmp_path, FUNCTION.replace(old, new))
    assert expected in info.value.message


def test_duplicate_rule_names_are_refused(tmp_path: Path) -> None:
    body = FUNCTION.replace("            RuleName: my-rule\n", "            RuleName: my-rule\n") + """
  Other:
    Type: AWS::Events::Rule
    Properties:
      Name: my-rule
      EventPattern: {source: [y]}
"""
    with pytest.raises(TemplateError, match="rule name 'my-rule' on event bus default is already used"):
        _load(tmp_path, body)
