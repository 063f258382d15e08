"""``AWS::Serverless::Function`` properties: each one read and checked, Globals merged as SAM does,
ignored properties noted, unknown ones refused with resource and line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.deploy.template import FunctionResource, TemplateError, load_template

HEAD = "Transform: AWS::Serverless-2016-10-31\n"
HOST_PYTHON = "python%d.%d" % sys.version_info[:2]   # another version would add a note (interpreter_note)
BASE = f"      CodeUri: hello_world/\n      Handler: app.lambda_handler\n      Runtime: {HOST_PYTHON}\n"


def template(properties: str, globals_: str = "", base: str = BASE) -> str:
    """Globals (if any), then one function ``Fn`` whose resource line is 3 + the Globals' lines."""
    return (f"{HEAD}{globals_}Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            f"{base}{properties}")


def write(root: Path, text: str) -> Path:
    app = root / "app"
    (app / "hello_world").mkdir(parents=True, exist_ok=True)
    (app / "hello_world" / "app.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    (app / "template.yaml").write_text(text)
    return app / "template.yaml"


def load(root: Path, properties: str, globals_: str = "", base: str = BASE) -> FunctionResource:
    (fn,) = load_template(write(root, template(properties, globals_, base))).functions
    return fn


def refused(root: Path, properties: str, match: str, globals_: str = "", base: str = BASE) -> TemplateError:
    with pytest.raises(TemplateError, match=match) as info:
        load(root, properties, globals_, base)
    return info.value


# --- each property --------------------------------------------------------------------------

EVERYTHING = """\
      FunctionName: orders
      Description: Takes orders
      MemorySize: 1024
      Timeout: 60
      EphemeralStorage:
        Size: 2048
      Environment:
        Variables:
          TABLE: orders
          DEBUG: true
          RETRIES: 3
      ReservedConcurrentExecutions: 10
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 2
      Layers:
        - arn:aws:lambda:us-east-1:123456789012:layer:deps:3
      Architectures: [x86_64]
      PackageType: Zip
      Tags:
        team: shop
        cost-centre: 42
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
            Input: !Sub '{"stack": "${AWS::StackName}"}'
        Queue:
          Type: SQS
          Properties: {Queue: arn:aws:sqs:us-east-1:123456789012:q, BatchSize: 5}
"""


def test_every_supported_property(tmp_path: Path) -> None:
    fn = load(tmp_path, EVERYTHING)
    assert fn.function_name == "orders" and fn.description == "Takes orders"
    assert (fn.memory_size, fn.timeout, fn.ephemeral_storage) == (1024, 60, 2048)
    assert fn.environment == {"TABLE": "orders", "DEBUG": "true", "RETRIES": "3"}
    assert (fn.reserved_concurrency, fn.provisioned_concurrency, fn.auto_publish_alias) == (10, 2, "live")
    assert fn.layers == ["arn:aws:lambda:us-east-1:123456789012:layer:deps:3"]
    assert fn.tags == {"team": "shop", "cost-centre": "42"}
    assert fn.events == {
        "Nightly": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)", "Input": '{"stack": "app"}'}},
        "Queue": {"Type": "SQS", "Properties": {"Queue": "arn:aws:sqs:us-east-1:123456789012:q", "BatchSize": 5}},
    }
    assert fn.event_lines == {"Nightly": 32, "Queue": 37}
    assert fn.notes == []


def test_numbers_may_come_from_number_parameters_as_strings(tmp_path: Path) -> None:
    text = HEAD + "Parameters:\n  Mem: {Type: Number, Default: 512}\n" + template("      MemorySize: !Ref Mem\n"
                                                                                   "      Timeout: '30'\n")[len(HEAD):]
    (fn,) = load_template(write(tmp_path, text)).functions
    assert (fn.memory_size, fn.timeout) == (512, 30)


def test_no_value_leaves_the_default(tmp_path: Path) -> None:
    fn = load(tmp_path, "      MemorySize: !Ref AWS::NoValue\n      FunctionName: !Ref AWS::NoValue\n")
    assert fn.memory_size == 128 and fn.function_name == "app-Fn"


def test_the_other_architecture_is_kept_with_a_note(tmp_path: Path) -> None:
    from cumulo.runtime.catalog import host_architecture

    other = "arm64" if host_architecture() != "arm64" else "x86_64"
    fn = load(tmp_path, f"      Architectures: [{other}]\n")
    assert fn.architecture == other
    assert fn.notes == [f"Architectures: {other} requested and kept in the configuration; Cumulo runs functions "
                        f"on its host's architecture ({host_architecture()})"]
    assert load(tmp_path, f"      Architectures: [{host_architecture()}]\n").notes == []


def test_ignored_properties_are_noted_and_not_evaluated(tmp_path: Path) -> None:
    fn = load(tmp_path, """\
      Role: arn:aws:iam::000000000000:role/given
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Table}
      Tracing: Active
      LoggingConfig: {LogFormat: JSON}
""")
    assert [note.split(" ignored")[0] for note in fn.notes] == ["Policies"]
    assert fn.tracing == "Active" and fn.logging_config == {"LogFormat": "JSON"}
    assert "the function has a Role" in fn.notes[0]       # SAM makes no role then: Policies are not evaluated
    assert (fn.implicit_role, fn.role, fn.role_spec) == (False, "arn:aws:iam::000000000000:role/given", None)


def test_role_must_be_an_arn_as_create_function_checks_it(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"property Role \(line \d+\): 1 validation error detected: Value "
                                            r"'my-role' at 'role' failed to satisfy constraint"):
        load(tmp_path, "      Role: my-role\n")


def test_code_uri_is_relative_to_the_template_and_may_be_a_zip(tmp_path: Path) -> None:
    path = write(tmp_path, template("", base="      CodeUri: ../dist/fn.zip\n      Handler: app.h\n"
                                              f"      Runtime: {HOST_PYTHON}\n"))
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "fn.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert load_template(path).functions[0].code_uri == tmp_path / "dist" / "fn.zip"


# --- faults -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("properties", "match"), [
    ("      Colour: blue\n", r"unknown or unsupported property 'Colour' \(line 9\)"),
    ("      ImageUri: repo:latest\n", r"unknown or unsupported property 'ImageUri' \(line 9\)"),
    ("      DeadLetterQueue: {Type: SQS, TargetArn: x}\n",
     r"property DeadLetterQueue \(line 9\): TargetArn must be the ARN of an SQS resource"),
    ("      MemorySize: 64\n", r"property MemorySize \(line 9\): 1 validation error detected: Value '64' at "
                               r"'memorySize' failed to satisfy constraint: Member must have value greater"),
    ("      MemorySize: lots\n", r"property MemorySize \(line 9\): must be an integer, got 'lots'"),
    ("      MemorySize: true\n", r"property MemorySize \(line 9\): must be an integer, got True"),
    ("      Timeout: 901\n", r"property Timeout \(line 9\): .*less than or equal to 900"),
    ("      EphemeralStorage: {Size: 100}\n",
     r"property EphemeralStorage \(line 9\): .*greater than or equal to 512"),
    ("      EphemeralStorage: {Bytes: 1}\n", r"property EphemeralStorage \(line 9\): unknown key 'Bytes'"),
    ("      Environment: {Variables: {AWS_REGION: x}}\n",
     r"property Environment \(line 9\): .*reserved keys.*AWS_REGION"),
    ("      Environment: {Vars: {A1: x}}\n", r"property Environment \(line 9\): unknown key 'Vars'"),
    ("      Environment: {Variables: [a]}\n", r"property Environment \(line 9\): must be a map, got list"),
    ("      Description: [a]\n", r"property Description \(line 9\): expected a string, got a list"),
    ("      ReservedConcurrentExecutions: -1\n",
     r"property ReservedConcurrentExecutions \(line 9\): must be 0 or more"),
    ("      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}\n",
     r"property ProvisionedConcurrencyConfig \(line 9\): can only be set together with AutoPublishAlias"),
    ("      AutoPublishAlias: live\n      ReservedConcurrentExecutions: 1\n"
     "      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}\n",
     r"property ProvisionedConcurrencyConfig \(line 11\): 2 provisioned executions exceed "
     r"ReservedConcurrentExecutions 1"),
    ("      AutoPublishAlias: live\n      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 0}\n",
     r"property ProvisionedConcurrencyConfig \(line 10\): ProvisionedConcurrentExecutions must be 1 or more"),
    ("      AutoPublishAlias: '123'\n", r"property AutoPublishAlias \(line 9\): 1 validation error detected"),
    ("      Architectures: [x86_64, arm64]\n", r"property Architectures \(line 9\): must be exactly one of"),
    ("      Architectures: [riscv]\n", r"property Architectures \(line 9\): must be exactly one of"),
    ("      Layers: [a, b, c, d, e, f]\n", r"property Layers \(line 9\): a function can have at most 5 layers"),
    ("      Tags: {'aws:x': y}\n", r"property Tags \(line 9\): tag key 'aws:x' must be"),
    ("      PackageType: Image\n", r"property PackageType \(line 9\): 'Image' is not supported"),
    ("      Events: [a]\n", r"property Events \(line 9\): must be a map"),
    ("      Events:\n        Tick: {Properties: {}}\n", r"event Tick \(line 10\): must be a map with a Type"),
    ("      Events:\n        Tick: {Type: Schedule, Properties: [1]}\n",
     r"event Tick \(line 10\): Properties must be a map"),
    ("      Events:\n        tick-1: {Type: Schedule}\n",
     r"event tick-1 \(line 10\): event names must be alphanumeric"),
    ("      Events:\n        Tick: {Type: Schedule, Properties: {Schedule: !Ref Ghost}}\n",
     r"event Tick \(line 10\): Ref Ghost: 'Ghost' is not a parameter or a resource"),
])
def test_property_faults_name_resource_property_and_line(tmp_path: Path, properties: str, match: str) -> None:
    err = refused(tmp_path, properties, r"^ValidationError: Resource Fn \(line 3\): " + match)
    assert err.logical_id == "Fn"


@pytest.mark.parametrize(("base", "match"), [
    ("      CodeUri: hello_world/\n      Runtime: python3.12\n", r"property Handler is required"),
    ("      CodeUri: hello_world/\n      Handler: app.h\n", r"property Runtime is required"),
    ("      CodeUri: nowhere/\n      Handler: app.h\n      Runtime: python3.12\n",
     r"property CodeUri \(line 6\): 'nowhere/' does not exist \(looked for .*nowhere\)"),
    ("      CodeUri: s3://bucket/key.zip\n      Handler: app.h\n      Runtime: python3.12\n",
     r"property CodeUri \(line 6\): only a local path is supported"),
    ("      CodeUri: {Bucket: b, Key: k}\n      Handler: app.h\n      Runtime: python3.12\n",
     r"property CodeUri \(line 6\): only a local path is supported"),
    ("      CodeUri: hello_world/\n      Handler: app.h\n      Runtime: java21\n",
     r"property Runtime \(line 8\): The runtime parameter of java21 is not supported"),
    ("      CodeUri: hello_world/\n      Handler: app.h\n      Runtime: cobol\n",
     r"property Runtime \(line 8\): 1 validation error detected"),
    ("      CodeUri: hello_world/\n      Handler: has space\n      Runtime: python3.12\n",
     r"property Handler \(line 7\): 1 validation error detected"),
])
def test_required_and_checked_basics(tmp_path: Path, base: str, match: str) -> None:
    refused(tmp_path, "", r"Resource Fn \(line 3\): " + match, base=base)


# --- Globals ----------------------------------------------------------------------------------

GLOBALS = """\
Globals:
  Function:
    Runtime: python3.11
    Timeout: 30
    MemorySize: 256
    Environment:
      Variables:
        STAGE: Production
        TABLE_NAME: global-table
    Layers: [arn:global]
    Architectures: [x86_64]
    Tags: {team: platform, app: shop}
    Tracing: Active
  Api:
    Cors: "'*'"
"""


def test_globals_merge_as_sam_documents(tmp_path: Path) -> None:
    fn = load(tmp_path, """\
      Timeout: 5
      Environment:
        Variables:
          TABLE_NAME: resource-table
          NEW_VAR: hello
      Layers: [arn:local]
      Architectures: [arm64]
      Tags: {team: orders}
""", GLOBALS, base="      CodeUri: hello_world/\n      Handler: app.h\n")
    assert fn.runtime == "python3.11" and fn.memory_size == 256          # inherited scalars
    assert fn.timeout == 5                                               # the resource's scalar wins
    assert fn.environment == {"STAGE": "Production", "TABLE_NAME": "resource-table", "NEW_VAR": "hello"}
    assert fn.layers == ["arn:global", "arn:local"]                      # global entries first
    assert fn.architecture == "arm64"                                    # one architecture: replaced
    assert fn.tags == {"team": "orders", "app": "shop"}
    assert fn.tracing == "Active"                                        # Globals' Tracing: X-Ray segments
    assert fn.line == 18


def test_globals_apply_to_every_function(tmp_path: Path) -> None:
    text = HEAD + GLOBALS + """\
Resources:
  One:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: hello_world/, Handler: app.h}
  Two:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: hello_world/, Handler: app.h, Runtime: python3.13}
"""
    one, two = load_template(write(tmp_path, text)).functions
    assert (one.runtime, two.runtime) == ("python3.11", "python3.13")
    assert one.environment == two.environment == {"STAGE": "Production", "TABLE_NAME": "global-table"}


def test_an_intrinsic_on_either_side_is_a_value_and_the_resource_wins(tmp_path: Path) -> None:
    globals_ = "Globals:\n  Function:\n    Environment: {Variables: {A1: x}}\n"
    fn = load(tmp_path, "      Environment: !If [Never, {}, {Variables: {B2: y}}]\n",
              "Conditions:\n  Never: !Equals [a, b]\n" + globals_)
    assert fn.environment == {"B2": "y"}


def test_a_property_from_globals_reports_its_line_there(tmp_path: Path) -> None:
    refused(tmp_path, "", r"Resource Fn \(line 6\): property MemorySize \(line 4\): .*greater than or equal to 128",
            "Globals:\n  Function:\n    MemorySize: 1\n")


@pytest.mark.parametrize(("globals_", "match"), [
    ("Globals:\n  Function:\n    FunctionName: x\n",
     r"Globals \(line 4\): Globals.Function: property 'FunctionName' cannot be set in Globals"),
    ("Globals:\n  Function:\n    Events: {}\n", r"Globals \(line 4\): .*'Events' cannot be set in Globals"),
    ("Globals:\n  Function:\n    Colour: blue\n",
     r"Globals \(line 4\): Globals.Function: unknown or unsupported property 'Colour'"),
    ("Globals:\n  Functions:\n    Timeout: 3\n", r"Globals \(line 3\): Globals: unknown section 'Functions'"),
    ("Globals:\n  Function: [1]\n", r"Globals \(line 3\): Globals.Function must be a map"),
])
def test_globals_faults(tmp_path: Path, globals_: str, match: str) -> None:
    refused(tmp_path, "", match, globals_)


def test_notes_are_per_function(tmp_path: Path) -> None:
    fn = load(tmp_path, "      KmsKeyArn: arn:key\n      CodeSigningConfigArn: arn:csc\n")
    assert fn.notes == [
        "KmsKeyArn ignored: environment variables are sealed with the store's master key, not this KMS key",
        "CodeSigningConfigArn ignored: code signatures are not checked",
    ]
    assert all(re.match(r"^\w+ ignored: ", note) for note in fn.notes)


def test_snap_start_apply_on(tmp_path: Path) -> None:
    assert load(tmp_path, "      SnapStart: {ApplyOn: None}\n").snap_start == "None"
    assert load(tmp_path, "      SnapStart:\n        ApplyOn: PublishedVersions\n").snap_start == "PublishedVersions"
    assert load(tmp_path, "").snap_start is None
    refused(tmp_path, "      SnapStart: {ApplyOn: Always}\n", "Member must satisfy enum value set")
    refused(tmp_path, "      SnapStart: {Apply: None}\n", "exactly one key, ApplyOn")


def test_vpc_config_takes_the_outbound_network_away(tmp_path: Path) -> None:
    """VpcConfig is read (not ignored): the function's environments get no outbound network, as a
    function in a VPC without a NAT gateway on AWS; checked as CreateFunction checks it."""
    fn = load(tmp_path, "      VpcConfig:\n        SubnetIds: [subnet-0a1, subnet-0b2]\n"
                        "        SecurityGroupIds: [sg-0c3]\n")
    assert fn.vpc_config == {"SubnetIds": ["subnet-0a1", "subnet-0b2"], "SecurityGroupIds": ["sg-0c3"],
                             "Ipv6AllowedForDualStack": False}
    assert fn.notes == []
    assert load(tmp_path, "").vpc_config == {}
    assert load(tmp_path, "      VpcConfig: {SubnetIds: [], SecurityGroupIds: []}\n").vpc_config == {}
    from_globals = load(tmp_path, "", globals_="Globals:\n  Function:\n    VpcConfig:\n"
                                               "      SubnetIds: [subnet-1]\n      SecurityGroupIds: [sg-1]\n")
    assert from_globals.vpc_config["SubnetIds"] == ["subnet-1"]
    refused(tmp_path, "      VpcConfig: {SubnetIds: [subnet-1]}\n", "SubnetIds and SecurityIds must coexist")
    refused(tmp_path, "      VpcConfig: {SubnetIds: [s-1], SecurityGroupIds: [sg-1]}\n",
            r"property VpcConfig \(line \d+\).*subnet-\[0-9a-z\]")
    refused(tmp_path, "      VpcConfig: {SubnetIds: [subnet-1], SecurityGroupIds: [sg-1], VpcId: vpc-1}\n",
            "unknown key 'VpcId'")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(timeout=st.integers(-5, 31_622_405), retention=st.one_of(st.none(), st.integers(-2, 95)),
       in_globals=st.booleans())
def test_durable_config_is_accepted_in_lambdas_ranges_with_one_note(tmp_path_factory: pytest.TempPathFactory,
                                                                    timeout: int, retention: int | None,
                                                                    in_globals: bool) -> None:
    """DurableConfig (a durable function): ExecutionTimeout 1..31622400 s, RetentionPeriodInDays 1..90 (14);
    accepted with a note saying the function runs as an ordinary one, refused out of range, also from Globals."""
    root = tmp_path_factory.mktemp("durable")
    config = f"{{ExecutionTimeout: {timeout}" + (f", RetentionPeriodInDays: {retention}}}" if retention is not None
                                                 else "}")
    properties, globals_ = (("", f"Globals:\n  Function:\n    DurableConfig: {config}\n") if in_globals
                            else (f"      DurableConfig: {config}\n", ""))
    valid = 1 <= timeout <= 31_622_400 and (retention is None or 1 <= retention <= 90)
    if not valid:
        refused(root, properties, "durableConfig", globals_)
        return
    fn = load(root, properties, globals_)
    (note,) = [n for n in fn.notes if "DurableConfig" in n]
    assert f"up to {timeout} s" in note and f"kept {14 if retention is None else retention} days" in note
    assert "ordinary" in note
