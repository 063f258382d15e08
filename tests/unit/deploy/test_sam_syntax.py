"""SAM's defaults and syntax as people write them: no CodeUri, InlineCode, empty sections, resource attributes,
every parameter type with CloudFormation's validation."""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.template import TemplateError, _pattern, load_template

HEAD = "Transform: AWS::Serverless-2016-10-31\n"


def write(root: Path, text: str) -> Path:
    """The template in ``root/app`` (not beside the test's Cumulo home, which CodeUri ``.`` would pack)."""
    (root / "app").mkdir(exist_ok=True)
    (root / "app" / "app.py").write_text("def handler(event, context):\n    return {'from': 'folder'}\n")
    (root / "app" / "template.yaml").write_text(HEAD + text)
    return root / "app" / "template.yaml"


def refused(root: Path, text: str, match: str, **parameters: str) -> TemplateError:
    with pytest.raises(TemplateError, match=match) as info:
        load_template(write(root, text), parameters)
    return info.value


# A webhook receiver as people write it in one file: no CodeUri (SAM packs the template's folder), the code
# inline beside it, a resource-level Description, empty sections left in from a skeleton.
WEBHOOK = """\
Description: webhooks
Parameters:
Conditions:
Resources:
  Receiver:
    Type: AWS::Serverless::Function
    Description: receives the webhook
    DeletionPolicy: Delete
    UpdateReplacePolicy: Retain
    Metadata: {Owner: payments}
    Properties:
      Handler: app.handler
      Runtime: python3.12
  Echo:
    Type: AWS::Serverless::Function
    DependsOn: Receiver
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return {"echo": event}
  Nothing:
    Type: AWS::Logs::LogGroup
    Properties:
Outputs:
"""


def test_no_code_uri_is_the_template_folder_and_inline_code_is_index(cumulo: Cumulo, tmp_path: Path) -> None:
    template = load_template(write(tmp_path, WEBHOOK))
    receiver, echo = template.functions
    assert receiver.code_uri == tmp_path / "app"
    assert isinstance(echo.code_uri, bytes)
    with zipfile.ZipFile(io.BytesIO(echo.code_uri)) as archive:
        assert archive.namelist() == ["index.py"]
    deploy(cumulo, tmp_path / "app" / "template.yaml", stack_name="hooks")
    assert cumulo.invoke("hooks-Receiver", b"{}").json() == {"from": "folder"}
    assert cumulo.invoke("hooks-Echo", b'{"a": 1}').json() == {"echo": {"a": 1}}
    again = deploy(cumulo, tmp_path / "app" / "template.yaml", stack_name="hooks")
    assert again.changed is False              # the same inline source is the same zip


def test_inline_code_for_node(cumulo: Cumulo, tmp_path: Path) -> None:
    template = load_template(write(tmp_path, """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async () => 'hi';"
"""))
    with zipfile.ZipFile(io.BytesIO(template.functions[0].code_uri)) as archive:   # type: ignore[arg-type]
        assert archive.namelist() == ["index.js"]


@pytest.mark.parametrize(("properties", "match"), [
    ("CodeUri: .\n      InlineCode: x", r"property InlineCode \(line 9\): CodeUri and InlineCode cannot both be set"),
    ("InlineCode: x\n      Runtime: provided.al2023", r"InlineCode is for Python and Node.js functions"),
])
def test_inline_code_faults(tmp_path: Path, properties: str, match: str) -> None:
    refused(tmp_path, f"""\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: python3.12
      {properties}
""".replace("Runtime: python3.12\n      InlineCode: x\n      Runtime", "InlineCode: x\n      Runtime"), match)


@pytest.mark.parametrize(("attribute", "match"), [
    ("DeletionPolicy: Keep", r"Resource Fn \(line 3\): DeletionPolicy 'Keep' is not one of Delete, Retain, "
                             r"RetainExceptOnCreate, Snapshot"),
    ("UpdateReplacePolicy: RetainExceptOnCreate", r"UpdateReplacePolicy 'RetainExceptOnCreate' is not one of"),
    ("Description: [a]", r"Description must be a string"),
])
def test_resource_attribute_faults(tmp_path: Path, attribute: str, match: str) -> None:
    refused(tmp_path, f"Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    {attribute}\n"
                      "    Properties: {Handler: app.handler, Runtime: python3.12}\n", match)


def test_a_key_beside_a_sam_resources_properties_is_ignored_with_a_warning(cumulo: Cumulo, tmp_path: Path) -> None:
    """apigw-mappingtemplate-lambda-nodejs: OpenApiVersion a level too high on an AWS::Serverless::Api, which SAM's
    transform ignores (it reads only the attributes it knows); on a CloudFormation resource, or a SAM resource
    without Properties (a typo of it), it stays an error."""
    path = write(tmp_path, "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    OpenApiVersion: '2.0'\n"
                           "    Properties: {Handler: app.handler, Runtime: python3.12}\n")
    for dry_run in (True, False):
        result = deploy(cumulo, path, stack_name="s", dry_run=dry_run)
        assert [w for w in result.warnings if "OpenApiVersion" in w] == [
            "Resource Fn (line 3): 'OpenApiVersion' is not a resource attribute (a property belongs under "
            "Properties); ignored, as SAM's transform ignores it"]
    refused(tmp_path, "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Colour: red\n    Properties: {}\n",
            r"Resource Q \(line 3\): unknown resource attribute 'Colour'")


def test_deletion_policy_retain_keeps_what_the_template_drops(cumulo: Cumulo, tmp_path: Path) -> None:
    two = """\
Resources:
  Kept:
    Type: AWS::Serverless::Function
    DeletionPolicy: Retain
    Properties: {Handler: app.handler, Runtime: python3.12}
  Dropped:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.12}
  Other:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.12}
"""
    path = write(tmp_path, two)
    deploy(cumulo, path, stack_name="s")
    path.write_text(HEAD + "Resources:\n" + two.split("  Other:\n")[1].join(["  Other:\n", ""]))
    result = deploy(cumulo, path, stack_name="s")
    assert [(c.kind, c.function) for c in result.changes if c.action == "delete"] == [
        ("function", "s-Dropped"), ("role", role_name_for("s", "DroppedRole"))]     # SAM's role goes with it
    assert cumulo.identity.roles.get_role(role_name_for("s", "KeptRole"))     # and is kept with it
    assert {f.name for f in cumulo.list_functions()} == {"s-Kept", "s-Other"}      # left, and no longer the stack's
    assert "s-Kept" not in (cumulo.store.get_stack("s") or {})["functions"].values()


# --- parameters ----------------------------------------------------------------------------------

FN = """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
"""


def test_every_parameter_type(tmp_path: Path) -> None:
    template = load_template(write(tmp_path, """\
Parameters:
  Sizes: {Type: List<Number>, Default: "128, 256"}
  Subnets: {Type: List<AWS::EC2::Subnet::Id>, Default: "subnet-0123456789abcdef0,subnet-0fedcba9876543210"}
  Vpc: {Type: AWS::EC2::VPC::Id, Default: vpc-0123abcd}
  Zone: {Type: AWS::EC2::AvailabilityZone::Name, Default: eu-west-1a}
  Name: {Type: AWS::SSM::Parameter::Name, Default: /app/config}
  Secret: {Type: String, NoEcho: true, Default: hunter2}
  Code: {Type: String, AllowedPattern: '[\\p{Alnum}_-]+', Default: ab_C-1}
""" + FN))
    assert template.parameters["Sizes"] == ["128", "256"]
    assert template.parameters["Subnets"] == ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
    assert template.no_echo == frozenset({"Secret"})


@pytest.mark.parametrize(("declaration", "match"), [
    ("{Type: List<Number>, Default: '1,two'}", r"Parameter P \(line 3\): value 'two' must be a number"),
    ("{Type: List<Number>, Default: '1,5', MaxValue: 4}", r"value 5 is outside MinValue/MaxValue"),
    ("{Type: AWS::EC2::Subnet::Id, Default: sg-12345678}", r"value 'sg-12345678' is not a valid AWS::EC2::Subnet::Id"),
    ("{Type: String, Default: x, AllowedPattern: '\\p{Upper}+', ConstraintDescription: capitals only}",
     r"value 'x' does not match AllowedPattern \\p\{Upper\}\+ \(capitals only\)"),
    ("{Type: String, Default: x, AllowedPattern: '\\p{javaLowerCase}'}", r"AllowedPattern .* is not a regular "
                                                                         r"expression Cumulo can read"),
    ("{Type: Number, Default: nan}", r"value 'nan' must be a number"),
    ("{Type: String, Default: abc, MaxLength: 2}", r"value 'abc' has a length outside MinLength/MaxLength"),
])
def test_parameter_validation_faults(tmp_path: Path, declaration: str, match: str) -> None:
    refused(tmp_path, f"Parameters:\n  P: {declaration}\n" + FN, match)


def test_missing_parameters_are_named_together(tmp_path: Path) -> None:
    err = refused(tmp_path, "Parameters:\n  A: {Type: String}\n  B: {Type: String, Default: x}\n  C: {Type: Number}\n"
                  + FN, r"Parameters: \[A, C\] must have values")
    assert err.line == 3
    assert load_template(tmp_path / "app" / "template.yaml", {"A": "a", "C": "1"}).parameters == {"A": "a", "B": "x", "C": "1"}


def test_partition_and_url_suffix_follow_the_region(tmp_path: Path) -> None:
    text = FN + "Outputs:\n  P: {Value: !Sub '${AWS::Partition} ${AWS::URLSuffix}'}\n"
    from cumulo.deploy.template import resolve_outputs
    assert resolve_outputs(load_template(write(tmp_path, text), region="cn-north-1"))["P"] == "aws-cn amazonaws.com.cn"
    assert resolve_outputs(load_template(write(tmp_path, text), region="us-gov-west-1"))["P"] == "aws-us-gov amazonaws.com"
    assert resolve_outputs(load_template(write(tmp_path, text)))["P"] == "aws amazonaws.com"


JAVA_CLASSES = {"Alnum": str.isalnum, "Alpha": str.isalpha, "Digit": str.isdigit, "Upper": str.isupper,
                "Lower": str.islower}


@given(st.sampled_from(sorted(JAVA_CLASSES)), st.text(alphabet=st.characters(max_codepoint=127), max_size=12),
       st.booleans())
def test_java_posix_classes_match_what_java_matches(name: str, text: str, in_set: bool) -> None:
    pattern = _pattern(f"[\\p{{{name}}}]*" if in_set else f"\\p{{{name}}}*")
    assert (pattern.fullmatch(text) is not None) == all(JAVA_CLASSES[name](c) for c in text)


@given(st.from_regex(r"[a-z0-9\[\]\-+*?.^$(){}|,]{0,12}", fullmatch=True))
def test_a_pattern_without_java_classes_means_what_python_reads(pattern: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            expected = re.compile(pattern)
    except re.error:
        with pytest.raises(Exception):
            _pattern(pattern)
        return
    assert _pattern(pattern).pattern == expected.pattern


# --- AWS::Scheduler::Schedule --------------------------------------------------------------------

NIGHTLY = """\
Resources:
  Report:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.12, AutoPublishAlias: live}
  Reports:
    Type: AWS::Scheduler::ScheduleGroup
    Properties: {Name: reports}
  Nightly:
    Type: AWS::Scheduler::Schedule
    Properties:
      GroupName: !Ref Reports
      ScheduleExpression: cron(0 2 * * ? *)
      ScheduleExpressionTimezone: Europe/Paris
      FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 15}
      Target:
        Arn: !Ref Report.Alias
        RoleArn: arn:aws:iam::000000000000:role/scheduler
        Input: '{"kind": "nightly"}'
Outputs:
  Schedule: {Value: !GetAtt Nightly.Arn}
"""


def test_a_declared_schedule_invokes_its_function(cumulo: Cumulo, tmp_path: Path) -> None:
    path = write(tmp_path, NIGHTLY)
    result = deploy(cumulo, path, stack_name="reports")
    name = result.outputs["Schedule"].rsplit("/", 1)[1]
    assert name.startswith("reports-Nightly-")
    doc = cumulo.schedules_service.get(name)
    assert doc["Target"] == {"Arn": cumulo.arns.function("reports-Report", "live"), "Input": '{"kind": "nightly"}'}
    assert (doc["ScheduleExpression"], doc["ScheduleExpressionTimezone"]) == ("cron(0 2 * * ? *)", "Europe/Paris")
    assert doc["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert any(w.startswith("Nightly: GroupName ignored") for w in result.warnings)
    assert any("AWS::Scheduler::ScheduleGroup (Reports)" in w for w in result.warnings)
    assert not deploy(cumulo, path, stack_name="reports").changed


def test_sub_of_a_functions_alias_is_its_ref_as_sam_resolves_it(cumulo: Cumulo, tmp_path: Path) -> None:
    """lambda-durable-investigation-escalation: Arn: !Sub '${EscalationFunction.Alias}' (was refused: no attribute
    'Alias'); SAM's transform resolves its references in Fn::Sub as !Ref Function.Alias (the alias ARN)."""
    path = write(tmp_path, NIGHTLY.replace("Arn: !Ref Report.Alias", "Arn: !Sub '${Report.Alias}'"))
    result = deploy(cumulo, path, stack_name="reports")
    name = result.outputs["Schedule"].rsplit("/", 1)[1]
    assert cumulo.schedules_service.get(name)["Target"]["Arn"] == cumulo.arns.function("reports-Report", "live")


@pytest.mark.parametrize(("old", "new", "match"), [
    ("Arn: !Ref Report.Alias", "Arn: arn:aws:scheduler:::aws-sdk:sqs:sendMessage", r"Cumulo.s schedules invoke functions"),
    ("      FlexibleTimeWindow: {Mode: FLEXIBLE, MaximumWindowInMinutes: 15}\n", "", r"FlexibleTimeWindow is required"),
    ("cron(0 2 * * ? *)", "cron(0 2 * * *)", r"Resource Nightly \(line 9\): property ScheduleExpression: Invalid "
                                             r"Schedule Expression cron\(0 2 \* \* \*\): a cron expression has 6"),
])
def test_declared_schedule_faults(tmp_path: Path, old: str, new: str, match: str) -> None:
    refused(tmp_path, NIGHTLY.replace(old, new), match)


def test_a_plan_refuses_a_schedule_of_a_function_that_is_nowhere(cumulo: Cumulo, tmp_path: Path) -> None:
    path = write(tmp_path, NIGHTLY.replace("!Ref Report.Alias", "arn:aws:lambda:us-east-1:000000000000:function:gone"))
    with pytest.raises(TemplateError, match=r"Resource Nightly: property Target.Arn: Function not found"):
        deploy(cumulo, path, dry_run=True)


def test_depends_on_may_name_the_resources_sam_makes(tmp_path: Path) -> None:
    """A function's alias, role and URL, an API's stage and the implicit APIs are SAM's own logical ids
    (lambda-durable-webhook: DependsOn <Fn>Aliaslive; a usage plan: DependsOn <Api><Stage>Stage)."""
    from cumulo.deploy.intrinsics import parse
    from cumulo.deploy.template import sam_generated_ids
    doc = parse(
        "Resources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      AutoPublishAlias: live-1\n"
        "      FunctionUrlConfig: {AuthType: NONE}\n"
        "      Events:\n        A: {Type: Api, Properties: {Path: /, Method: get}}\n"
        "        H: {Type: HttpApi}\n"
        "  Given:\n    Type: AWS::Serverless::Function\n    Properties: {Role: arn:aws:iam::123456789012:role/r}\n"
        "  Rest:\n    Type: AWS::Serverless::Api\n    Properties: {StageName: dev}\n"
        "  Http:\n    Type: AWS::Serverless::HttpApi\n"
        "  Machine:\n    Type: AWS::Serverless::StateMachine\n")
    assert sam_generated_ids(doc["Resources"]) == {
        "FnRole", "FnAliaslive1", "FnUrl", "ServerlessRestApi", "ServerlessRestApiProdStage", "ServerlessHttpApi",
        "ServerlessHttpApiApiGatewayDefaultStage", "RestdevStage", "HttpApiGatewayDefaultStage", "MachineRole"}
