"""SAM templates as ``sam init`` writes them, sections (Parameters, Conditions, Mappings, Outputs),
names, and every fault naming where it is."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.template import (
    Template, TemplateError, check_event_types, default_function_name, default_stack_name, load_template,
    resolve_outputs,
)

# ``sam init`` → AWS Quick Start Templates → Hello World Example → python3.11, zip, defaults.
HELLO_WORLD = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: >
  sam-app

  Sample SAM Template for sam-app

# More info about Globals: https://github.com/awslabs/serverless-application-model/blob/master/docs/globals.rst
Globals:
  Function:
    Timeout: 3

Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function # More info about Function Resource: https://github.com/awslabs/serverless-application-model/blob/master/versions/2016-10-31.md#awsserverlessfunction
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: python3.11
      Architectures:
        - x86_64
      Events:
        HelloWorld:
          Type: Api # More info about API Event Source: https://github.com/awslabs/serverless-application-model/blob/master/versions/2016-10-31.md#api
          Properties:
            Path: /hello
            Method: get

Outputs:
  # ServerlessRestApi is an implicit API created by SAM
  HelloWorldApi:
    Description: "API Gateway endpoint URL for Prod stage for Hello World function"
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
  HelloWorldFunction:
    Description: "Hello World Lambda Function ARN"
    Value: !GetAtt HelloWorldFunction.Arn
  HelloWorldFunctionIamRole:
    Description: "Implicit IAM Role created for Hello World function"
    Value: !GetAtt HelloWorldFunctionRole.Arn
"""

HELLO_WORLD_JSON = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Description": "sam-app\nSample SAM Template for sam-app\n",
    "Globals": {"Function": {"Timeout": 3}},
    "Resources": {
        "HelloWorldFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "hello_world/",
                "Handler": "app.lambda_handler",
                "Runtime": "python3.11",
                "Architectures": ["x86_64"],
                "Events": {"HelloWorld": {"Type": "Api", "Properties": {"Path": "/hello", "Method": "get"}}},
            },
        }
    },
    "Outputs": {
        "HelloWorldApi": {
            "Description": "API Gateway endpoint URL for Prod stage for Hello World function",
            "Value": {"Fn::Sub": "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"},
        },
        "HelloWorldFunction": {"Description": "Hello World Lambda Function ARN",
                               "Value": {"Fn::GetAtt": ["HelloWorldFunction", "Arn"]}},
        "HelloWorldFunctionIamRole": {"Description": "Implicit IAM Role created for Hello World function",
                                      "Value": {"Fn::GetAtt": ["HelloWorldFunctionRole", "Arn"]}},
    },
}

HEAD = "Transform: AWS::Serverless-2016-10-31\n"


def write(root: Path, text: str, name: str = "template.yaml", folder: str = "sam-app") -> Path:
    app = root / folder
    (app / "hello_world").mkdir(parents=True, exist_ok=True)
    (app / "hello_world" / "app.py").write_text("def lambda_handler(event, context):\n    return event\n")
    (app / name).write_text(text)
    return app / name


def load(root: Path, text: str, **kwargs: object) -> Template:
    return load_template(write(root, text), **kwargs)  # type: ignore[arg-type]


def refused(root: Path, text: str, match: str, **kwargs: object) -> TemplateError:
    with pytest.raises(TemplateError, match=match) as info:
        load(root, text, **kwargs)
    return info.value


def function(extra: str = "", properties: str = "", head: str = HEAD) -> str:
    """A minimal valid template with one function, plus extra sections and properties."""
    return (f"{head}{extra}\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            f"      CodeUri: hello_world/\n      Handler: app.lambda_handler\n      Runtime: python3.12\n"
            f"{properties}")


# --- sam init hello world -------------------------------------------------------------------

def test_sam_init_hello_world_loads(tmp_path: Path) -> None:
    template = load(tmp_path, HELLO_WORLD)
    assert template.stack_name == "sam-app"
    assert template.description == "sam-app\nSample SAM Template for sam-app\n"
    (fn,) = template.functions
    assert fn.logical_id == "HelloWorldFunction" and fn.line == 14
    assert fn.function_name == "sam-app-HelloWorldFunction"
    assert fn.code_uri == tmp_path / "sam-app" / "hello_world"
    assert (fn.handler, fn.runtime, fn.architecture) == ("app.lambda_handler", "python3.11", "x86_64")
    assert (fn.timeout, fn.memory_size, fn.ephemeral_storage) == (3, 128, 512)
    assert fn.events == {"HelloWorld": {"Type": "Api", "Properties": {"Path": "/hello", "Method": "get"}}}
    assert type(fn.events["HelloWorld"]) is dict and fn.event_lines == {"HelloWorld": 23}
    assert (fn.environment, fn.tags, fn.layers, fn.notes) == ({}, {}, [], [])
    assert (fn.reserved_concurrency, fn.provisioned_concurrency, fn.auto_publish_alias) == (None, None, None)
    assert template.function("HelloWorldFunction") is fn


def test_sam_init_hello_world_outputs_resolve(tmp_path: Path) -> None:
    template = load(tmp_path, HELLO_WORLD, region="eu-central-1", account_id="123456789012")
    outputs = resolve_outputs(template, {("ServerlessRestApi", "Ref"): "a1b2c3"})
    assert outputs == {
        "HelloWorldApi": "https://a1b2c3.execute-api.eu-central-1.amazonaws.com/Prod/hello/",
        "HelloWorldFunction": "arn:aws:lambda:eu-central-1:123456789012:function:sam-app-HelloWorldFunction",
        "HelloWorldFunctionIamRole":        # the role SAM makes for it, named as CloudFormation names roles
            f"arn:aws:iam::123456789012:role/{role_name_for('sam-app', 'HelloWorldFunctionRole')}",
    }


def test_attributes_from_the_deploy_engine_come_first(tmp_path: Path) -> None:
    template = load(tmp_path, HELLO_WORLD)
    outputs = resolve_outputs(template, {("ServerlessRestApi", "Ref"): "x",
                                         ("HelloWorldFunction", "Arn"): "arn:custom"})
    assert outputs["HelloWorldFunction"] == "arn:custom"


def test_an_implicit_api_resolves_from_the_template_alone(tmp_path: Path) -> None:
    from cumulo.deploy.apis import api_id_for
    template = load(tmp_path, HELLO_WORLD)
    api_id = api_id_for("sam-app", "ServerlessRestApi")     # the same on every machine and every deploy
    assert resolve_outputs(template)["HelloWorldApi"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/Prod/hello/"


def test_an_implicit_resource_without_a_value_is_a_clear_error_or_left_out(tmp_path: Path) -> None:
    template = load(tmp_path, HELLO_WORLD.replace("!GetAtt HelloWorldFunctionRole.Arn", "!Ref HelloWorldFunctionAliaslive"))
    with pytest.raises(TemplateError, match=re.escape(
            "Output HelloWorldFunctionIamRole (line 37): Ref HelloWorldFunctionAliaslive: HelloWorldFunctionAliaslive is "
            "a resource SAM creates implicitly and the deploy engine gave no value for ('HelloWorldFunctionAliaslive', "
            "'Ref')")):
        resolve_outputs(template)
    assert set(resolve_outputs(template, omit_unresolved=True)) == {"HelloWorldFunction", "HelloWorldApi"}


def test_the_json_template_is_equivalent(tmp_path: Path) -> None:
    from_yaml = load(tmp_path, HELLO_WORLD)
    path = write(tmp_path, json.dumps(HELLO_WORLD_JSON, indent="\t"), name="template.json")
    from_json = load_template(path)
    assert from_json.functions[0].line == 11
    assert dataclasses.replace(from_json.functions[0], line=14) == from_yaml.functions[0]
    attributes = {("ServerlessRestApi", "Ref"): "api"}
    assert resolve_outputs(from_json, attributes) == resolve_outputs(from_yaml, attributes)


def test_event_types_the_caller_does_not_support_are_refused(tmp_path: Path) -> None:
    template = load(tmp_path, HELLO_WORLD)
    check_event_types(template, {"Api", "Schedule"})
    with pytest.raises(TemplateError) as info:
        check_event_types(template, {"Schedule", "SQS"})
    assert str(info.value) == (
        "ValidationError: Resource HelloWorldFunction (line 14): event HelloWorld (line 23) has Type 'Api', "
        "which Cumulo does not support; supported event types: SQS, Schedule")
    assert (info.value.logical_id, info.value.line, info.value.status) == ("HelloWorldFunction", 23, 400)


# --- parameters and pseudo parameters ----------------------------------------------------------

PARAMETERS = """
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Memory:
    Type: Number
    Default: 256
    MinValue: 128
    MaxValue: 1024
  Names:
    Type: CommaDelimitedList
    Default: "a, b ,c"
  Code:
    Type: String
    AllowedPattern: "[a-z]+"
    MinLength: 2
    MaxLength: 5
"""
USES_PARAMETERS = """\
      MemorySize: !Ref Memory
      Environment:
        Variables:
          STAGE: !Ref Stage
          SECOND: !Select [1, !Ref Names]
          ALL: !Join ["|", !Ref Names]
          CODE: !Ref Code
"""


def test_parameters_defaults_and_overrides(tmp_path: Path) -> None:
    template = load(tmp_path, function(PARAMETERS, USES_PARAMETERS), parameters={"Code": "abc"})
    fn = template.functions[0]
    assert fn.memory_size == 256
    assert fn.environment == {"STAGE": "dev", "SECOND": "b", "ALL": "a|b|c", "CODE": "abc"}
    assert template.parameters == {"Stage": "dev", "Memory": "256", "Names": ["a", "b", "c"], "Code": "abc"}
    template = load(tmp_path, function(PARAMETERS, USES_PARAMETERS),
                    parameters={"Stage": "prod", "Memory": "1024", "Names": "x,y", "Code": "zz"})
    assert template.functions[0].memory_size == 1024
    assert template.functions[0].environment == {"STAGE": "prod", "SECOND": "y", "ALL": "x|y", "CODE": "zz"}


@pytest.mark.parametrize(("overrides", "match"), [
    ({}, r"^ValidationError: Parameters: \[Code\] must have values: give each a Default or pass --parameter"),
    ({"Code": "abc", "Nope": "1"}, r"Parameters: \[Nope\] do not exist in the template"),
    ({"Code": "abc", "Stage": "qa"}, r"Parameter Stage \(line 4\): value 'qa' is not one of AllowedValues"),
    ({"Code": "abc", "Memory": "lots"}, r"Parameter Memory \(line 8\): value 'lots' must be a number"),
    ({"Code": "abc", "Memory": "2048"}, r"Parameter Memory \(line 8\): value 2048 is outside MinValue/MaxValue"),
    ({"Code": "ABC"}, r"Parameter Code \(line 16\): value 'ABC' does not match AllowedPattern"),
    ({"Code": "abcdef"}, r"Parameter Code \(line 16\): value 'abcdef' has a length outside"),
])
def test_parameter_faults(tmp_path: Path, overrides: dict[str, str], match: str) -> None:
    refused(tmp_path, function(PARAMETERS, USES_PARAMETERS), match, parameters=overrides)


def test_unsupported_parameter_types_and_attributes(tmp_path: Path) -> None:
    refused(tmp_path, function("Parameters:\n  Vpc:\n    Type: AWS::EC2::VPC::Idd\n"),
            r"Parameter Vpc \(line 3\): Type 'AWS::EC2::VPC::Idd' is not a CloudFormation parameter type")
    refused(tmp_path, function("Parameters:\n  Ami:\n    Type: AWS::SSM::Parameter::Value<String>\n    Default: /a\n"),
            r"Parameter Ami \(line 3\): Type 'AWS::SSM::Parameter::Value<String>' reads parameter '/a' from "
            r"Parameter Store, which only a deploy to a store can do")
    refused(tmp_path, function("Parameters:\n  Ami:\n    Type: AWS::SSM::Parameter::Value<Colour>\n    Default: /a\n"),
            r"Parameter Ami \(line 3\): Type 'AWS::SSM::Parameter::Value<Colour>' is not a Systems Manager parameter type")
    refused(tmp_path, function("Parameters:\n  P:\n    Type: String\n    Colour: red\n"),
            r"Parameter P \(line 3\): unknown attribute 'Colour'")


def test_pseudo_parameters(tmp_path: Path) -> None:
    properties = """\
      Environment:
        Variables:
          PSEUDO: !Sub "${AWS::Region}|${AWS::AccountId}|${AWS::StackName}|${AWS::Partition}|${AWS::URLSuffix}"
          STACK_ID: !Ref AWS::StackId
          GONE: !If [Never, x, !Ref AWS::NoValue]
"""
    extra = "Conditions:\n  Never: !Equals [a, b]\n"
    template = load(tmp_path, function(extra, properties), stack_name="shop", region="ap-south-1",
                    account_id="111122223333")
    env = template.functions[0].environment
    assert env["PSEUDO"] == "ap-south-1|111122223333|shop|aws|amazonaws.com"
    assert re.fullmatch(r"arn:aws:cloudformation:ap-south-1:111122223333:stack/shop/[0-9a-f-]{36}", env["STACK_ID"])
    assert "GONE" not in env


# --- conditions and mappings ----------------------------------------------------------------

CONDITIONAL = HEAD + """
Parameters:
  Stage: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
Mappings:
  StageMap:
    dev: {Memory: 128}
    prod: {Memory: 2048}
Resources:
  Always:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello_world/
      Handler: app.h
      Runtime: python3.12
      MemorySize: !FindInMap [StageMap, !Ref Stage, Memory]
      Timeout: !If [IsProd, 30, 10]
  OnlyProd:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties: {CodeUri: hello_world/, Handler: app.h, Runtime: python3.12}
Outputs:
  ProdArn:
    Condition: IsProd
    Value: !GetAtt OnlyProd.Arn
  Stage:
    Value: !If [IsDev, development, production]
"""


def test_conditions_and_mappings_pick_resources_and_values(tmp_path: Path) -> None:
    dev = load(tmp_path, CONDITIONAL)
    assert [f.logical_id for f in dev.functions] == ["Always"]
    assert (dev.functions[0].memory_size, dev.functions[0].timeout) == (128, 10)
    assert dev.conditions == {"IsProd": False, "IsDev": True}
    assert resolve_outputs(dev) == {"Stage": "development"}
    prod = load(tmp_path, CONDITIONAL, parameters={"Stage": "prod"})
    assert [f.logical_id for f in prod.functions] == ["Always", "OnlyProd"]
    assert (prod.functions[0].memory_size, prod.functions[0].timeout) == (2048, 30)
    assert resolve_outputs(prod) == {
        "ProdArn": "arn:aws:lambda:us-east-1:000000000000:function:sam-app-OnlyProd", "Stage": "production"}


def test_condition_faults_name_the_condition(tmp_path: Path) -> None:
    refused(tmp_path, function("Conditions:\n  A: !Equals [!Ref Nope, x]\n"),
            r"Condition A \(line 3\): 'Nope' is not a parameter")
    refused(tmp_path, function("Mappings:\n  M: [1, 2]\n"), r"Mapping M \(line 3\): must be a map of maps")
    refused(tmp_path, function(properties="      Timeout: !FindInMap [M, a, b]\n"),
            r"Resource Fn \(line 4\): property Timeout \(line 10\): Fn::FindInMap: no mapping 'M'")


# --- names --------------------------------------------------------------------------------

def test_default_stack_name_is_the_sanitised_folder() -> None:
    assert default_stack_name(Path("/x/sam-app")) == "sam-app"
    assert default_stack_name(Path("/x/my_app v2")) == "my-app-v2"
    assert default_stack_name(Path("/x/2024_app")) == "stack-2024-app"
    assert default_stack_name(Path("/x/___")) == "stack"
    assert len(default_stack_name(Path("/x/" + "a" * 300))) == 128


def test_stack_name_folder_default_and_explicit(tmp_path: Path) -> None:
    path = write(tmp_path, HELLO_WORLD, folder="My App")
    assert load_template(path).stack_name == "My-App"
    assert load_template(path, stack_name="prod").functions[0].function_name == "prod-HelloWorldFunction"
    with pytest.raises(TemplateError, match="Stack name '1bad' must match"):
        load_template(path, stack_name="1bad")


def test_default_function_names_fit_lambdas_rule_deterministically() -> None:
    assert default_function_name("sam-app", "HelloWorldFunction") == "sam-app-HelloWorldFunction"
    long_stack, long_id = "s" * 100, "F" * 100
    names = [default_function_name(long_stack, long_id), default_function_name(long_stack, long_id + "2"),
             default_function_name("short", long_id), default_function_name(long_stack, "Fn")]
    assert len(set(names)) == 4
    for name in names:
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name) and len(name) == 64
    assert names[0] == default_function_name(long_stack, long_id)
    assert re.fullmatch(r"short-F{49}-[0-9a-f]{8}", names[2])
    assert re.fullmatch(r"s{52}-Fn-[0-9a-f]{8}", names[3])
    assert re.fullmatch(r"s{27}-F{27}-[0-9a-f]{8}", names[0])


def test_explicit_function_names(tmp_path: Path) -> None:
    extra = "Parameters:\n  Stage: {Type: String, Default: dev}\n"
    template = load(tmp_path, function(extra, '      FunctionName: !Sub "orders-${Stage}"\n'))
    assert template.functions[0].function_name == "orders-dev"
    refused(tmp_path, function(properties="      FunctionName: not valid!\n"),
            r"Resource Fn \(line 4\): property FunctionName \(line 10\): 1 validation error detected")
    refused(tmp_path, function(properties="      FunctionName: !Ref Other\n"),
            r"property FunctionName \(line 10\): 'Other' is not a parameter")
    twice = function(properties="      FunctionName: same\n") + """\
  Fn2:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: hello_world/, Handler: app.h, Runtime: python3.12, FunctionName: same}
"""
    refused(tmp_path, twice, r"Resource Fn2 \(line 11\): function name 'same' is already used by resource Fn")


def test_functions_refer_to_each_other_and_to_implicit_roles(tmp_path: Path) -> None:
    text = function(properties="""\
      Environment:
        Variables:
          OTHER_NAME: !Ref Other
          OTHER_ARN: !GetAtt Other.Arn
          ROLE: !GetAtt FnRole.Arn
  Other:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: hello_world/, Handler: app.h, Runtime: python3.12, FunctionName: other-fn}
""")
    env = load(tmp_path, text).functions[0].environment
    assert env == {"OTHER_NAME": "other-fn", "OTHER_ARN": "arn:aws:lambda:us-east-1:000000000000:function:other-fn",
                   "ROLE": f"arn:aws:iam::000000000000:role/{role_name_for('sam-app', 'FnRole')}"}


def test_outputs_of_alias_and_role(tmp_path: Path) -> None:
    text = function(properties="""\
      AutoPublishAlias: live
      Role: arn:aws:iam::000000000000:role/mine
Outputs:
  Alias: {Value: !Ref Fn.Alias}
  AliasResource: {Value: !Ref FnAliaslive}
  Role: {Value: !GetAtt FnRole.Arn}
""")
    template = load(tmp_path, text)
    assert template.functions[0].implicit_role is False
    with pytest.raises(TemplateError, match=r"Output Role \(line 15\): Fn::GetAtt FnRole.Arn: FnRole is a resource"):
        resolve_outputs(template)
    outputs = resolve_outputs(template, {("FnRole", "Arn"): "arn:role"})
    alias_arn = "arn:aws:lambda:us-east-1:000000000000:function:sam-app-Fn:live"
    assert outputs == {"Alias": alias_arn, "AliasResource": alias_arn, "Role": "arn:role"}


def test_sams_function_version_references(tmp_path: Path) -> None:
    """SAM's ``!Ref Function.Version`` and ``!GetAtt Function.Version.Version`` (an AutoPublishAlias function's
    published version): stand-ins while the template is read, the version once deployed."""
    text = function(properties="""\
      AutoPublishAlias: live
      Role: arn:aws:iam::000000000000:role/mine
Outputs:
  VersionArn: {Value: !Ref Fn.Version}
  VersionNumber: {Value: !GetAtt Fn.Version.Version}
  VersionNumberList: {Value: !GetAtt [Fn.Version, Version]}
""")
    outputs = resolve_outputs(load(tmp_path, text))
    assert all("cumulo-version-of:Fn.Version" in value for value in outputs.values())
    arn = "arn:aws:lambda:us-east-1:000000000000:function:sam-app-Fn:3"
    deployed = resolve_outputs(load(tmp_path, text), {("Fn.Version", "Ref"): arn, ("Fn", "Version.Version"): "3",
                                                      ("Fn.Version", "Version"): "3"})
    assert deployed == {"VersionArn": arn, "VersionNumber": "3", "VersionNumberList": "3"}


# --- faults name the resource and line ----------------------------------------------------------

@pytest.mark.parametrize(("text", "match"), [
    (HEAD + "Resources:\n  Table:\n    Type: AWS::DynamoDB::GlobalTable\n    Properties: {}\n",
     r"Resource Table \(line 3\): resource type 'AWS::DynamoDB::GlobalTable' is not supported"),
    (HEAD + "Resources:\n  My_Fn:\n    Type: AWS::Serverless::Function\n",
     r"Resource My_Fn \(line 3\): logical ids must be alphanumeric"),
    (HEAD + "Resources:\n  Fn:\n    Properties: {}\n", r"Resource Fn \(line 3\): must be a map with a Type"),
    (HEAD + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Propertys: {}\n",
     r"Resource Fn \(line 3\): unknown resource attribute 'Propertys'"),
    (HEAD + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    DependsOn: Ghost\n",
     r"Resource Fn \(line 3\): DependsOn names an unknown resource 'Ghost'"),
    (HEAD + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Condition: Ghost\n",
     r"Resource Fn \(line 3\): Condition names an unknown condition 'Ghost'"),
    (HEAD + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: [1]\n",
     r"Resource Fn \(line 3\): Properties must be a map"),
    (HEAD + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n",
     r"Resource Fn \(line 3\): property Runtime is required"),
    (function(properties="      Timeout: !ImportValue shared\n"),
     r"Resource Fn \(line 4\): property Timeout \(line 10\): Fn::ImportValue is not supported"),
    (function(properties="      Timeout: !Ref Ghost\n"),
     r"Resource Fn \(line 4\): property Timeout \(line 10\): Ref Ghost: 'Ghost' is not a parameter or a resource"),
    (function(properties="      Description: !GetAtt Fn.Colour\n"),
     r"property Description \(line 10\): Fn::GetAtt Fn.Colour: resource Fn has no attribute 'Colour'"),
    (function(properties='      Description: !Sub "${ServerlessRestApi}"\n'),
     r"property Description \(line 10\): Ref ServerlessRestApi: ServerlessRestApi is created by SAM at deploy"),
    (function(properties="      Timeout: !Equals [a, b]\n"),
     r"property Timeout \(line 10\): Fn::Equals can only be used in the Conditions section"),
    (HEAD + "Resources: {}\n", r"Template template.yaml: the Resources section is required"),
    (HEAD + "Resources:\n", r"Template template.yaml: the Resources section is required"),
    ("Resources:\n  Fn: {Type: AWS::Serverless::Function}\n",
     r"Resource Fn \(line 2\): type AWS::Serverless::Function needs Transform: AWS::Serverless-2016-10-31"),
    ("Transform: [AWS::Serverless-2016-10-31, AWS::Include]\nResources: {}\n",
     r"Transform \(line 1\): transform 'AWS::Include' is not supported"),
    ("AWSTemplateFormatVersion: '2011-01-01'\n" + HEAD + "Resources: {}\n",
     r"AWSTemplateFormatVersion \(line 1\): '2011-01-01' is not '2010-09-09'"),
    (function("Outputz: {}\n"), r"Template template.yaml \(line 2\): unknown section 'Outputz'"),
    (function("Parameters: [1]\n"), r"Section Parameters \(line 2\): must be a map"),
    (HEAD + "Resources:\n  Fn: {Type: AWS::Serverless::Function}\n  Fn: {Type: AWS::Serverless::Function}\n",
     r"Template template.yaml \(line 4\): duplicate key 'Fn'"),
    (HEAD + "Resources:\n  Fn: {Type: AWS::Serverless::Function\n",
     r"Template template.yaml \(line 4\): not valid YAML or JSON"),
    ("Transform: AWS::Serverless-2016-10-31\nResources: !Nope x\n",
     r"Template template.yaml \(line 2\): not valid YAML or JSON: could not determine a constructor for the "
     r"tag '!Nope'"),
    ("- just\n- a list\n", r"Template template.yaml: must be a map of sections"),
])
def test_structural_faults(tmp_path: Path, text: str, match: str) -> None:
    refused(tmp_path, text, match)


def test_output_faults_are_found_at_load(tmp_path: Path) -> None:
    refused(tmp_path, function(properties="Outputs:\n  Out: {Value: !GetAtt Ghost.Arn}\n"),
            r"Output Out \(line 11\): Fn::GetAtt Ghost.Arn: 'Ghost' is not a parameter or a resource")
    refused(tmp_path, function(properties="Outputs:\n  Out: {Description: x}\n"),
            r"Output Out \(line 11\): must be a map with a Value")
    refused(tmp_path, function(properties="Outputs:\n  Out: {Value: x, Condition: Ghost}\n"),
            r"Output Out \(line 11\): Condition names an unknown condition 'Ghost'")
    refused(tmp_path, function(properties="Outputs:\n  Out: {Value: x, Exported: y}\n"),
            r"Output Out \(line 11\): unknown attribute 'Exported'")
    refused(tmp_path, function(properties="Outputs:\n  Out: {Value: !Split [',', 'a,b']}\n"),
            r"Output Out \(line 11\): Value must resolve to a string, got list")


def test_template_errors_are_validation_errors(tmp_path: Path) -> None:
    err = refused(tmp_path, HEAD + "Resources:\n  Q:\n    Type: AWS::SNS::PlatformApplication\n", "AWS::SNS::PlatformApplication")
    assert (err.type, err.status, err.retryable) == ("ValidationError", 400, False)
    assert (err.logical_id, err.line) == ("Q", 3)
    assert err.to_aws()["Type"] == "User"
    assert str(err).startswith("ValidationError: Resource Q (line 3): ")


def test_unreadable_template(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot be read"):
        load_template(tmp_path / "missing.yaml")
