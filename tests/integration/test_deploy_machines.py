"""Deploying templates with state machines: AWS::Serverless::StateMachine and AWS::StepFunctions::StateMachine —
made, running, kept on re-deploy, updated, replaced, removed with the template, refused and rolled back."""

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
from cumulo.deploy.machines import machine_name_for
from cumulo.deploy.template import TemplateError
from cumulo.errors import CumuloError

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

HANDLER = "def handler(event, context):\n    return {'doubled': event['n'] * 2}\n"
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
MACHINE
Outputs:
  MachineArn: {Value: !Ref Flow}
  MachineName: {Value: !GetAtt Flow.Name}
"""
MACHINE = """
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Policies: [AWSLambdaRole]
      DefinitionSubstitutions:
        WorkerArn: !GetAtt Worker.Arn
      Definition:
        StartAt: Double
        States:
          Double:
            Type: Task
            Resource: ${WorkerArn}
            ResultPath: $.result
            End: true
"""


def _write(folder: Path, machine: str = MACHINE, outputs: bool = True) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    body = TEMPLATE.replace("MACHINE\n", machine)
    if not outputs:
        body = body.split("Outputs:")[0]
    path = folder / "template.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def _finished(c: Cumulo, arn: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = c.state_machines.describe_execution(arn)
        if doc["status"] != "RUNNING":
            return doc
        time.sleep(0.1)
    raise AssertionError(f"execution {arn} still running")


def _changes(result: Any, kind: str = "state machine") -> dict[str, tuple[str, list[str]]]:
    return {c.function: (c.action, c.details) for c in result.changes if c.kind == kind}


def test_state_machine_deploys_runs_updates_and_is_removed(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "flows")
    name = machine_name_for("flows", "Flow")
    arn = cumulo.state_machines._arn("stateMachine", name)
    plan = deploy(cumulo, path, dry_run=True)
    assert _changes(plan) == {name: ("create", [])}
    assert cumulo.state_machines.list_state_machines() == []

    result = deploy(cumulo, path)
    assert _changes(result) == {name: ("create", [])}
    assert result.outputs == {"MachineArn": arn, "MachineName": name}
    machine = cumulo.state_machines.describe_state_machine(arn)
    role = cumulo.identity.roles.get_role(role_name_for("flows", "FlowRole"))     # SAM's, with its Policies
    assert machine["roleArn"] == role["Arn"] and "states.amazonaws.com" in role["AssumeRolePolicyDocument"]
    assert [name for name, _ in cumulo.identity.roles.list_attached_role_policies(role["RoleName"])] == ["AWSLambdaRole"]
    assert machine["type"] == "STANDARD"
    assert json.loads(machine["definition"])["States"]["Double"]["Resource"] == cumulo.arns.function("flows-Worker")

    cumulo.start_workers()
    try:
        started = cumulo.state_machines.start_execution(arn, None, '{"n": 2}')
        done = _finished(cumulo, started["executionArn"])
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"]) == {"n": 2, "result": {"doubled": 4}}
    finally:
        cumulo.stop_workers()

    again = deploy(cumulo, path)
    assert not again.changed, again.summary()

    # The definition changed: updated in place, same ARN.
    changed = deploy(cumulo, _write(tmp_path / "flows", MACHINE.replace("ResultPath: $.result",
                                                                        "ResultPath: $.answer")))
    assert _changes(changed) == {name: ("update", ["Definition"])}
    machine = cumulo.state_machines.describe_state_machine(arn)
    assert json.loads(machine["definition"])["States"]["Double"]["ResultPath"] == "$.answer"

    # The type changed: replaced.
    express = MACHINE.replace("ResultPath: $.result", "ResultPath: $.answer").replace(
        "      Policies:", "      Type: EXPRESS\n      Policies:")
    replaced = deploy(cumulo, _write(tmp_path / "flows", express))
    assert _changes(replaced) == {name: ("replace", ["Type from STANDARD to EXPRESS"])}
    assert cumulo.state_machines.describe_state_machine(arn)["type"] == "EXPRESS"

    # A bad definition: refused when planning, nothing changed.
    before = cumulo.state_machines.describe_state_machine(arn)
    bad = _write(tmp_path / "flows", express.replace("End: true", "Next: Nowhere"))
    with pytest.raises(TemplateError) as info:
        deploy(cumulo, bad)
    assert info.value.logical_id == "Flow"
    assert "Invalid State Machine Definition" in info.value.message and "Nowhere" in info.value.message
    assert "line" in info.value.message and info.value.line is not None
    assert cumulo.state_machines.describe_state_machine(arn) == before

    # Removed from the template: deleted.
    bare = _write(tmp_path / "flows", "", outputs=False)
    plan = deploy(cumulo, bare, dry_run=True)
    assert _changes(plan) == {name: ("delete", [])}
    deploy(cumulo, bare)
    assert cumulo.state_machines.list_state_machines() == []
    record = cumulo.store.get_stack("flows")
    assert record is not None and record["machines"] == {}


CFN_MACHINE = """
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: orders-flow
      RoleArn: !GetAtt FlowRole.Arn
      DefinitionString: !Sub |
        {"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": "${Worker.Arn}", "End": true}}}
  FlowRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: sfn
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: !Sub "states.${AWS::Region}.amazonaws.com"},
                     Action: sts:AssumeRole}]
  Nightly:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 day)
      Targets:
        - Id: flow
          Arn: !Ref Flow
"""


def test_step_functions_resource_with_a_rule_targeting_it(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "shop", CFN_MACHINE)
    result = deploy(cumulo, path)
    arn = cumulo.state_machines._arn("stateMachine", "orders-flow")
    assert _changes(result) == {"orders-flow": ("create", [])}
    assert result.outputs == {"MachineArn": arn, "MachineName": "orders-flow"}
    assert cumulo.state_machines.describe_state_machine(arn)["roleArn"] == "arn:aws:iam::000000000000:role/sfn"
    rule = rule_name_for("shop", "Nightly")
    assert cumulo.event_bus.list_targets_by_rule(rule, "default") == [{"Id": "flow", "Arn": arn}]
    assert not deploy(cumulo, path).changed


SCHEDULED = MACHINE.replace("      Definition:", """      Events:
        Every:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
            Input: '{"n": 5}'
        Placed:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [shop]}
      Definition:""")


def test_state_machine_events_become_rules_that_start_it(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "shop", SCHEDULED)
    result = deploy(cumulo, path)
    name = machine_name_for("shop", "Flow")
    arn = cumulo.state_machines._arn("stateMachine", name)
    every, placed = rule_name_for("shop", "FlowEvery"), rule_name_for("shop", "FlowPlaced")
    assert _changes(result, "rule") == {every: ("create", []), placed: ("create", [])}
    assert cumulo.event_bus.describe_rule(every, "default")["ScheduleExpression"] == "rate(1 minute)"
    assert cumulo.event_bus.list_targets_by_rule(every, "default") == [
        {"Id": "FlowEveryStepFunctionsTarget", "Arn": arn, "Input": '{"n": 5}'}]
    assert cumulo.event_bus.list_targets_by_rule(placed, "default") == [
        {"Id": "FlowPlacedStepFunctionsTarget", "Arn": arn}]

    cumulo.start_workers()
    try:
        sent = cumulo.event_bus.put_events([{"Source": "shop", "DetailType": "x", "Detail": json.dumps({"n": 3})}])
        assert sent["FailedEntryCount"] == 0
        deadline = time.monotonic() + 30
        while not cumulo.state_machines.list_executions(arn) and time.monotonic() < deadline:
            time.sleep(0.1)
        executions = cumulo.state_machines.list_executions(arn)
        assert executions
        first = json.loads(cumulo.state_machines.describe_execution(executions[0]["executionArn"])["input"])
        assert first.get("source") == "shop" or first == {"n": 5}
    finally:
        cumulo.stop_workers()

    assert not deploy(cumulo, path).changed
    deploy(cumulo, _write(tmp_path / "shop"))
    assert {r["Name"] for r in cumulo.event_bus.list_rules()} == set()
    assert cumulo.state_machines.describe_state_machine(arn)["name"] == name


def test_failed_deploy_rolls_back_the_state_machine(cumulo: Cumulo, tmp_path: Path) -> None:
    # The rule's target is refused by PutTargets at deploy (an API destination that does not exist; the
    # plan cannot know): the machine made before it is removed again.
    broken = MACHINE + """
  Bad:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [x]}
      Targets:
        - Id: t
          Arn: arn:aws:events:us-east-1:000000000000:api-destination/missing/0123abcd
"""
    with pytest.raises(CumuloError) as info:
        deploy(cumulo, _write(tmp_path / "shop", broken))
    assert "rolled back" in info.value.message
    assert cumulo.state_machines.list_state_machines() == []
    assert cumulo.event_bus.list_rules() == []


def test_failed_deploy_puts_back_an_updated_definition(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "shop")
    deploy(cumulo, path)
    arn = cumulo.state_machines._arn("stateMachine", machine_name_for("shop", "Flow"))
    before = json.loads(cumulo.state_machines.describe_state_machine(arn)["definition"])
    broken = MACHINE.replace("ResultPath: $.result", "ResultPath: $.other") + """
  Bad:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [x]}
      Targets:
        - Id: t
          Arn: arn:aws:kinesis:us-east-1:000000000000:stream/nope
"""
    with pytest.raises(CumuloError):
        deploy(cumulo, _write(tmp_path / "shop", broken))
    assert json.loads(cumulo.state_machines.describe_state_machine(arn)["definition"]) == before
    assert not deploy(cumulo, _write(tmp_path / "shop")).changed


POLICED = """
  Inbox:
    Type: AWS::SQS::Queue
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Policies:
        - LambdaInvokePolicy: {FunctionName: !Ref Worker}
        - SQSSendMessagePolicy: {QueueName: !GetAtt Inbox.QueueName}
      Definition:
        StartAt: Double
        States:
          Double:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters: {FunctionName: !GetAtt Worker.Arn, Payload.$: $}
            ResultSelector: {doubled.$: $.Payload.doubled}
            Next: Tell
          Tell:
            Type: Task
            Resource: arn:aws:states:::sqs:sendMessage
            Parameters: {QueueUrl: !Ref Inbox, MessageBody.$: $}
            End: true
"""


def test_a_template_machine_calls_what_its_policy_templates_allow_and_nothing_else(cumulo: Cumulo,
                                                                                   tmp_path: Path) -> None:
    path = _write(tmp_path / "shop", POLICED, outputs=False)
    deploy(cumulo, path)
    arn = cumulo.state_machines._arn("stateMachine", machine_name_for("shop", "Flow"))
    cumulo.start_workers()
    try:
        done = _finished(cumulo, cumulo.state_machines.start_execution(arn, None, '{"n": 4}')["executionArn"])
        assert done["status"] == "SUCCEEDED", done
        assert "MessageId" in json.loads(done["output"])
        # without SQSSendMessagePolicy its role may invoke the function but not send
        deploy(cumulo, _write(tmp_path / "shop", POLICED.replace(
            "        - SQSSendMessagePolicy: {QueueName: !GetAtt Inbox.QueueName}\n", ""), outputs=False))
        done = _finished(cumulo, cumulo.state_machines.start_execution(arn, None, '{"n": 5}')["executionArn"])
        assert (done["status"], done["error"]) == ("FAILED", "SQS.AmazonSQSException"), done
        role = role_name_for("shop", "FlowRole")
        assert done["cause"].startswith(f"User: arn:aws:sts::000000000000:assumed-role/{role}/states is not authorized "
                                        "to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:")
    finally:
        cumulo.stop_workers()
