"""Deploying templates with the event bus: AWS::Events::EventBus, AWS::Events::Rule and EventBridgeRule
events — made, delivering, kept on re-deploy, removed with the template, rolled back on failure."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from cumulo import Cumulo
from cumulo.deploy.buses import rule_name_for
from cumulo.deploy.engine import deploy
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.queues import queue_name_for
from cumulo.deploy.template import TemplateError
from cumulo.errors import CumuloError, ResourceNotFoundException

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

HANDLER = "import json\n\ndef handler(event, context):\n    print('order', event['detail']['id'])\n"
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: orders
  Inbox:
    Type: AWS::SQS::Queue
RULE
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
EVENTS
Outputs:
  BusArn: {Value: !GetAtt Bus.Arn}
"""
RULE = """
  ToInbox:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [shop], detail-type: [OrderPlaced]}
      Targets:
        - Id: inbox
          Arn: !GetAtt Inbox.Arn
          InputTransformer:
            InputPathsMap: {id: $.detail.id}
            InputTemplate: '{"order": <id>, "via": "rule"}'
"""
EVENTS = """      Events:
        Placed:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [shop]}
"""


def _write(folder: Path, *, rule: str = RULE, events: str = EVENTS) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    body = TEMPLATE.replace("RULE\n", rule).replace("EVENTS\n", events)
    path = folder / "template.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def _wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _rules(c: Cumulo, bus: str = "orders") -> dict[str, list[dict[str, Any]]]:
    return {r["Name"]: c.event_bus.list_targets_by_rule(r["Name"], bus) for r in c.event_bus.list_rules(event_bus=bus)}


def test_bus_rule_and_function_event_deploy_deliver_redeploy_and_remove(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "shop")
    inbox, rule, fn_rule = queue_name_for("shop", "Inbox"), rule_name_for("shop", "ToInbox"), \
        rule_name_for("shop", "HandlerPlaced")
    result = deploy(cumulo, path)
    assert {(c.kind, c.function): c.action for c in result.changes} == {
        ("function", "shop-Handler"): "create", ("queue", inbox): "create", ("event bus", "orders"): "create",
        ("rule", rule): "create", ("rule", fn_rule): "create", ("role", role_name_for("shop", "HandlerRole")): "create"}
    assert not result.warnings
    assert result.outputs == {"BusArn": cumulo.event_bus.bus_arn("orders")}
    rules = _rules(cumulo)
    assert set(rules) == {rule, fn_rule}
    assert rules[fn_rule] == [{"Id": "HandlerPlacedLambdaTarget", "Arn": cumulo.arns.function("shop-Handler")}]

    cumulo.start_workers()
    try:
        sent = cumulo.event_bus.put_events([{"Source": "shop", "DetailType": "OrderPlaced", "EventBusName": "orders",
                                             "Detail": json.dumps({"id": 42})}])
        assert sent["FailedEntryCount"] == 0
        bodies: list[Any] = []

        def received() -> bool:
            bodies.extend(json.loads(m["Body"]) for m in cumulo.queues.receive_message(inbox, 10))
            return bool(bodies)
        assert _wait_for(received)
        assert bodies == [{"order": 42, "via": "rule"}]
        assert _wait_for(lambda: any("order 42" in r.message for r in cumulo.get_logs("shop-Handler")))
    finally:
        cumulo.stop_workers()

    again = deploy(cumulo, path)
    assert not again.changed, again.summary()

    # A pattern changed: the rule is updated in place; the rule resource and the event dropped: both go.
    changed = deploy(cumulo, _write(tmp_path / "shop", rule=RULE.replace("detail-type: [OrderPlaced]",
                                                                         "detail-type: [OrderPaid]")))
    assert {(c.kind, c.function): (c.action, c.details) for c in changed.changes if c.kind == "rule"} == {
        ("rule", rule): ("update", ["EventPattern"]), ("rule", fn_rule): ("unchanged", [])}
    assert json.loads(cumulo.event_bus.describe_rule(rule, "orders")["EventPattern"])["detail-type"] == ["OrderPaid"]

    bare = _write(tmp_path / "shop", rule="", events="")
    plan = deploy(cumulo, bare, dry_run=True)
    assert {(c.kind, c.function) for c in plan.changes if c.action == "delete"} == {("rule", rule), ("rule", fn_rule)}
    assert set(_rules(cumulo)) == {rule, fn_rule}
    deploy(cumulo, bare)
    assert _rules(cumulo) == {}
    record = cumulo.store.get_stack("shop")
    assert record is not None and record["rules"] == {} and record["buses"] == {"Bus": "orders"}

    # The bus dropped too: it goes.
    no_bus = bare.read_text().replace("  Bus:\n    Type: AWS::Events::EventBus\n    Properties:\n      Name: orders\n",
                                      "").replace("Outputs:\n  BusArn: {Value: !GetAtt Bus.Arn}\n", "")
    bare.write_text(no_bus)
    deploy(cumulo, bare)
    with pytest.raises(ResourceNotFoundException):
        cumulo.event_bus.describe_event_bus("orders")


def test_function_rule_targets_the_alias(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "shop")
    path.write_text(path.read_text().replace("      Runtime: python3.11\n",
                                             "      Runtime: python3.11\n      AutoPublishAlias: live\n"))
    deploy(cumulo, path)
    (target,) = cumulo.event_bus.list_targets_by_rule(rule_name_for("shop", "HandlerPlaced"), "orders")
    assert target["Arn"] == cumulo.arns.function("shop-Handler", "live")
    assert not deploy(cumulo, path).changed


def test_invalid_pattern_is_refused_before_anything_is_made(cumulo: Cumulo, tmp_path: Path) -> None:
    second = RULE.replace("ToInbox", "Broken").replace("{source: [shop], detail-type: [OrderPlaced]}",
                                                       "{source: shop}")
    with pytest.raises(TemplateError, match=r"Resource Broken \(line \d+\): property EventPattern \(line \d+\): "
                                            r"Event pattern is not valid"):
        deploy(cumulo, _write(tmp_path / "shop", rule=RULE + second))
    assert cumulo.event_bus.list_event_buses() == [{"Name": "default", "Arn": cumulo.event_bus.bus_arn("default")}]


def test_failed_deploy_rolls_back_rules_buses_and_updates(cumulo: Cumulo, tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    # First deploy: no rule resource. Then the rule resource plus a second rule whose target PutTargets refuses
    # (an API destination that does not exist) while changing the function's rule: everything is put back.
    deploy(cumulo, _write(folder, rule=""))
    fn_rule = rule_name_for("shop", "HandlerPlaced")
    before = cumulo.event_bus.describe_rule(fn_rule, "orders")
    second = RULE.replace("ToInbox", "Broken").replace(
        "!GetAtt Inbox.Arn", "arn:aws:events:us-east-1:000000000000:api-destination/missing/0123abcd")
    path = _write(folder, rule=RULE + second, events=EVENTS.replace("{source: [shop]}", "{source: [other]}"))
    with pytest.raises(CumuloError, match=r"rolled back: Resource Broken \(line \d+\): rule .*: targets were refused"):
        deploy(cumulo, path)
    assert set(_rules(cumulo)) == {fn_rule}
    assert cumulo.event_bus.describe_rule(fn_rule, "orders") == before

    # Nothing existed before: the bus, queue, function and rules the deploy made are gone too.
    fresh = _write(tmp_path / "fresh", rule=RULE + second)
    fresh.write_text(fresh.read_text().replace("Name: orders", "Name: fresh-orders"))
    with pytest.raises(CumuloError, match="rolled back"):
        deploy(cumulo, fresh)
    with pytest.raises(ResourceNotFoundException):
        cumulo.event_bus.describe_event_bus("fresh-orders")
    assert not cumulo.queues.exists(queue_name_for("fresh", "Inbox"))
    assert set(_rules(cumulo)) == {fn_rule}
