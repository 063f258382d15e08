"""State machines in templates (AWS::Serverless::StateMachine, AWS::StepFunctions::StateMachine): read, named,
substituted and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo.deploy.buses import rule_name_for
from cumulo.deploy.machines import machine_name_for, substitute
from cumulo.deploy.template import (
    Template,
    TemplateError,
    load_template,
    resolve_outputs,
)

HEADER = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
Resources:
  Worker:
    Type: AWS::Serverless::Function
"""
LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:"
STATES = "arn:aws:states:us-east-1:000000000000:stateMachine:"
SAM = """
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions:
        WorkerArn: !GetAtt Worker.Arn
        Seconds: 5
      Definition:
        StartAt: Work
        States:
          Work:
            Type: Task
            Resource: ${WorkerArn}
            Comment: waits ${Seconds}s, keeps ${Unknown}
            Next: Done
          Done:
            Type: Succeed
"""


def _load(tmp_path: Path, body: str, **parameters: str) -> Template:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "template.yaml").write_text(HEADER + body)
    return load_template(tmp_path / "template.yaml", parameters, stack_name="shop")


def _error(tmp_path: Path, body: str) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        _load(tmp_path, body)
    return info.value


def test_sam_machine_substitutions_name_and_attributes(tmp_path: Path) -> None:
    template = _load(tmp_path, SAM + """
Outputs:
  Arn: {Value: !Ref Flow}
  Name: {Value: !GetAtt Flow.Name}
  Same: {Value: !GetAtt Flow.Arn}
""")
    (machine,) = template.machines
    name = machine_name_for("shop", "Flow")
    assert machine.name == name and machine.arn == STATES + name and machine.type == "STANDARD"
    work = json.loads(machine.definition)["States"]["Work"]
    assert work["Resource"] == LAMBDA + "shop-Worker"
    assert work["Comment"] == "waits 5s, keeps ${Unknown}"
    assert resolve_outputs(template) == {"Arn": STATES + name, "Name": name, "Same": STATES + name}
    assert machine.notes == [] and machine.rules == []


def test_generated_names_are_stable_distinct_and_at_most_80() -> None:
    name = machine_name_for("shop", "Flow")
    assert name.startswith("Flow-") and len(name) == len("Flow-") + 12
    assert name == machine_name_for("shop", "Flow")
    assert name != machine_name_for("other", "Flow")
    long = machine_name_for("shop", "L" * 200)
    assert len(long) <= 80 and long != machine_name_for("shop", "L" * 199)


def test_substitute_replaces_keys_and_strings_only_for_known_names() -> None:
    assert substitute({"${K}": ["a ${V}", 1, True], "x": "${W}"}, {"K": "key", "V": 2, "W": False}) == {
        "key": ["a 2", 1, True], "x": "false"}
    assert substitute('{"a": "${V}"}', {"V": "v"}) == '{"a": "v"}'


def test_explicit_name_type_and_noted_properties(tmp_path: Path) -> None:
    template = _load(tmp_path, SAM.replace("    Properties:\n", """    Properties:
      Name: !Sub ${AWS::StackName}-flow
      Type: EXPRESS
      Role: arn:aws:iam::000000000000:role/r
      Tracing: {Enabled: true}
      Logging: {Level: ALL}
      Tags: {team: a}
""", 1))
    (machine,) = template.machines
    assert machine.name == "shop-flow" and machine.type == "EXPRESS"
    assert [n.split(" ")[0] for n in machine.notes] == ["Logging", "Tags"]
    assert machine.tracing is True                     # X-Ray segments of its executions
    assert machine.role_arn == "arn:aws:iam::000000000000:role/r" and machine.role is None


def test_definition_uri_reads_a_local_file(tmp_path: Path) -> None:
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "flow.asl.yaml").write_text(
        "StartAt: Work\nStates:\n  Work:\n    Type: Task\n    Resource: ${WorkerArn}\n    End: true\n")
    template = _load(tmp_path, """
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/flow.asl.yaml
      DefinitionSubstitutions: {WorkerArn: !GetAtt Worker.Arn}
""")
    assert json.loads(template.machines[0].definition)["States"]["Work"]["Resource"] == LAMBDA + "shop-Worker"


def test_definition_uri_missing_or_in_s3_is_refused(tmp_path: Path) -> None:
    base = "\n  Flow:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      DefinitionUri: "
    missing = _error(tmp_path, base + "nope.json\n")
    assert missing.logical_id == "Flow" and "cannot read nope.json" in missing.message and missing.line == 14
    s3 = _error(tmp_path, base + "s3://bucket/flow.json\n")
    assert "no S3" in s3.message
    located = _error(tmp_path, base + "{Bucket: b, Key: k}\n")
    assert "no S3" in located.message


def test_invalid_definition_names_resource_line_and_findings(tmp_path: Path) -> None:
    err = _error(tmp_path, SAM.replace("Next: Done", "Next: Nowhere"))
    assert err.logical_id == "Flow"
    assert err.line == 17      # the Definition property
    assert "Resource Flow (line 11)" in err.message and "property Definition (line 17)" in err.message
    assert "Invalid State Machine Definition" in err.message and "Nowhere" in err.message


def test_definition_choices_and_unknown_properties(tmp_path: Path) -> None:
    both = _error(tmp_path, SAM.replace("      Definition:", "      DefinitionUri: x.json\n      Definition:"))
    assert "exactly one of Definition or DefinitionUri" in both.message
    neither = _error(tmp_path, "\n  Flow:\n    Type: AWS::Serverless::StateMachine\n    Properties: {Type: STANDARD}\n")
    assert "exactly one of Definition or DefinitionUri" in neither.message
    kind = _error(tmp_path, SAM.replace("    Properties:\n", "    Properties:\n      Type: FAST\n", 1))
    assert "property Type (line 14): must be STANDARD or EXPRESS" in kind.message and kind.line == 14
    unknown = _error(tmp_path, SAM.replace("    Properties:\n", "    Properties:\n      Colour: red\n", 1))
    assert "unknown or unsupported property 'Colour'" in unknown.message


def test_step_functions_resource(tmp_path: Path) -> None:
    template = _load(tmp_path, """
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: flow
      StateMachineType: EXPRESS
      RoleArn: arn:aws:iam::000000000000:role/r
      LoggingConfiguration: {Level: OFF}
      TracingConfiguration: {Enabled: false}
      Tags: [{Key: a, Value: b}]
      DefinitionSubstitutions: {Wait: 3}
      DefinitionString: !Sub
        - '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": ${!Wait}, "Next": "T"},
           "T": {"Type": "Task", "Resource": "${Arn}", "End": true}}}'
        - Arn: !GetAtt Worker.Arn
  Generated:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      Definition: {StartAt: P, States: {P: {Type: Pass, End: true}}}
""")
    flow, generated = template.machines
    assert (flow.name, flow.type) == ("flow", "EXPRESS")
    states = json.loads(flow.definition)["States"]
    assert states["W"]["Seconds"] == 3 and states["T"]["Resource"] == LAMBDA + "shop-Worker"
    assert flow.role_arn == "arn:aws:iam::000000000000:role/r"
    assert [n.split(" ")[0] for n in flow.notes] == ["LoggingConfiguration", "Tags"]
    assert flow.tracing is False
    assert generated.name == machine_name_for("shop", "Generated") and generated.type == "STANDARD"


def test_step_functions_s3_location_and_bad_string_refused(tmp_path: Path) -> None:
    s3 = _error(tmp_path, """
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionS3Location: {Bucket: b, Key: k}
""")
    assert "DefinitionS3Location" in s3.message and "no S3" in s3.message and s3.line == 14
    bad = _error(tmp_path, """
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: '{not json'
""")
    assert "property DefinitionString (line 14)" in bad.message and "Invalid State Machine Definition" in bad.message


def test_names_are_checked_and_unique(tmp_path: Path) -> None:
    bad = _error(tmp_path, SAM.replace("    Properties:\n", "    Properties:\n      Name: 'has space'\n", 1))
    assert "property Name (line 14)" in bad.message and bad.line == 14
    twice = _error(tmp_path, SAM + SAM.replace("  Flow:", "  Flow2:").replace(
        "    Properties:\n", "    Properties:\n      Name: same\n", 1).replace("Flow2", "Flow3") + SAM.replace(
        "  Flow:", "  Flow4:").replace("    Properties:\n", "    Properties:\n      Name: same\n", 1))
    assert "state machine name 'same' is already used by resource Flow3" in twice.message


def test_functions_may_refer_to_machines(tmp_path: Path) -> None:
    template = _load(tmp_path, SAM.replace("  Flow:", """  Caller:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          FLOW: !Ref Flow
  Flow:"""))
    assert template.function("Caller").environment == {"FLOW": STATES + machine_name_for("shop", "Flow")}


EVENTS = SAM.replace("      Definition:", """      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
            Enabled: false
            Input: '{"n": 1}'
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Name: hourly-flow
            FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 5}
        Placed:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [shop]}
            Target: {Id: placed}
      Definition:""")


def test_events_become_rules_targeting_the_machine(tmp_path: Path) -> None:
    template = _load(tmp_path, EVENTS)
    (machine,) = template.machines
    arn = machine.arn
    nightly, hourly, placed = machine.rules
    assert (nightly.key, nightly.name, nightly.bus, nightly.schedule, nightly.state) == (
        "Flow.Nightly", rule_name_for("shop", "FlowNightly"), "default", "cron(0 3 * * ? *)", "DISABLED")
    assert nightly.targets == ({"Id": "FlowNightlyStepFunctionsTarget", "Arn": arn, "Input": '{"n": 1}'},)
    assert nightly.line == 18
    assert (hourly.name, hourly.schedule, hourly.state) == ("hourly-flow", "rate(1 hour)", "ENABLED")
    assert any("FlexibleTimeWindow ignored" in n for n in hourly.notes)
    assert placed.name == rule_name_for("shop", "FlowPlaced") and placed.schedule is None
    assert json.loads(placed.pattern or "") == {"source": ["shop"]}
    assert placed.targets == ({"Id": "placed", "Arn": arn},)


def test_api_and_unknown_events_are_refused(tmp_path: Path) -> None:
    api = _error(tmp_path, SAM.replace("      Definition:", """      Events:
        Web:
          Type: Api
          Properties: {Path: /, Method: post}
      Definition:"""))
    assert api.logical_id == "Flow" and api.line == 18
    assert "event Web (line 18): Type Api is not supported for state machines" in api.message
    sqs = _error(tmp_path, SAM.replace("      Definition:", """      Events:
        Q:
          Type: SQS
          Properties: {Queue: arn:aws:sqs:us-east-1:000000000000:q}
      Definition:"""))
    assert "event Q (line 18): Type 'SQS' is not supported for state machines" in sqs.message
    zone = _error(tmp_path, SAM.replace("      Definition:", """      Events:
        Z:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 hour), ScheduleExpressionTimezone: Europe/Paris}
      Definition:"""))
    assert "ScheduleExpressionTimezone" in zone.message and "UTC" in zone.message
    cron = _error(tmp_path, SAM.replace("      Definition:", """      Events:
        C:
          Type: Schedule
          Properties: {Schedule: every day}
      Definition:"""))
    assert "event C (line 18)" in cron.message and "ScheduleExpression" in cron.message


def test_rule_names_collide_with_machine_event_rules(tmp_path: Path) -> None:
    err = _error(tmp_path, EVENTS + """
  Other:
    Type: AWS::Events::Rule
    Properties:
      Name: hourly-flow
      ScheduleExpression: rate(2 hours)
""")
    assert "rule name 'hourly-flow'" in err.message
