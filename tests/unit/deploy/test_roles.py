"""IAM in templates (issue 19): AWS::IAM::Role, ManagedPolicy, Policy and RolePolicy, and the roles SAM makes
for functions and state machines, deployed through the identity service: planned honestly, made, kept on
re-deploy, updated in place (only what the stack gave them), removed with the template, rolled back."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo import Cumulo, iam
from cumulo.deploy.engine import delete_stack, deploy
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.queues import queue_name_for
from cumulo.deploy.template import TemplateError, load_template
from cumulo.errors import CumuloError

ACCOUNT = "000000000000"
TRUST = ('    AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, '
         'Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}\n')


def _write(folder: Path, resources: str, globals_: str = "") -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text("def handler(e, c):\n    return e\n")
    path = folder / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\n" + globals_ + "Resources:\n"
                    + textwrap.indent(textwrap.dedent(resources), "  "))
    return path


FUNCTION = """\
Fn:
  Type: AWS::Serverless::Function
  Properties:
    CodeUri: src/
    Handler: app.handler
    Runtime: python3.12
"""


def _inline(c: Cumulo, role: str) -> dict[str, Any]:
    roles = c.identity.roles
    return {name: json.loads(roles.get_role_policy(role, name)[2]) for name in roles.list_role_policies(role)}


def _attached(c: Cumulo, role: str) -> list[str]:
    return [name for name, _ in c.identity.roles.list_attached_role_policies(role)]


def test_a_function_without_role_gets_the_role_sam_makes(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "app", FUNCTION + """\
    Tracing: Active
    VpcConfig: {SubnetIds: [subnet-0123456789abcdef0], SecurityGroupIds: [sg-0123456789abcdef0]}
    RolePath: /app/
    Policies:
      - AmazonSQSReadOnlyAccess
      - arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
      - SQSSendMessagePolicy: {QueueName: !GetAtt Q.QueueName}
      - Statement: [{Effect: Allow, Action: events:PutEvents, Resource: '*'}]
    Events:
      Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
Q:
  Type: AWS::SQS::Queue
""")
    plan = deploy(cumulo, path, dry_run=True)
    role = role_name_for("app", "FnRole")
    assert role.startswith("app-FnRole-") and len(role) == len("app-FnRole-") + 12
    assert ("role", role, "create") in [(c.kind, c.function, c.action) for c in plan.changes]
    assert cumulo.identity.roles.list_roles() == []             # a plan makes nothing

    deploy(cumulo, path)
    stored = cumulo.identity.roles.get_role(role)
    assert stored["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app/{role}" == cumulo.get_function_configuration("app-Fn").role
    assert json.loads(stored["AssumeRolePolicyDocument"]) == iam.sam.LAMBDA_TRUST_POLICY
    assert _attached(cumulo, role) == ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess",
                                       "AWSLambdaVPCAccessExecutionRole", "AmazonSQSReadOnlyAccess",
                                       "AmazonS3ReadOnlyAccess", "AWSLambdaSQSQueueExecutionRole"]
    queue = cumulo.queues.arn(queue_name_for("app", "Q"))
    assert _inline(cumulo, role) == {
        "FnRolePolicy2": {"Statement": [{"Action": ["sqs:SendMessage*"], "Effect": "Allow", "Resource": queue}]},
        "FnRolePolicy3": {"Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}}
    assert not deploy(cumulo, path).changed


def test_policies_changed_and_dropped_update_the_role_in_place(cumulo: Cumulo, tmp_path: Path) -> None:
    first = FUNCTION + "    Policies: [AmazonSQSFullAccess, {Statement: [{Effect: Allow, Action: 'sqs:*', Resource: '*'}]}]\n"
    path = _write(tmp_path / "app", first)
    deploy(cumulo, path)
    role = role_name_for("app", "FnRole")
    role_id = cumulo.identity.roles.get_role(role)["RoleId"]
    cumulo.identity.roles.put_role_policy(role, "by-hand", {"Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                                         "Resource": "*"}]})
    path = _write(tmp_path / "app", FUNCTION + "    Policies: [AWSStepFunctionsFullAccess]\n")
    plan = deploy(cumulo, path, dry_run=True)
    assert [(c.action, c.details) for c in plan.changes if c.kind == "role"] == [
        ("update", ["Policies", "ManagedPolicyArns"])]
    deploy(cumulo, path)
    assert cumulo.identity.roles.get_role(role)["RoleId"] == role_id          # the same role, changed
    assert _attached(cumulo, role) == ["AWSLambdaBasicExecutionRole", "AWSStepFunctionsFullAccess"]
    assert list(_inline(cumulo, role)) == ["by-hand"]                         # what others put there stays
    delete_stack(cumulo, "app")
    assert cumulo.identity.roles.list_roles() == []


def test_declared_role_managed_policy_and_policies(cumulo: Cumulo, tmp_path: Path) -> None:
    cumulo.identity.roles.create_role("outside", json.dumps(iam.sam.LAMBDA_TRUST_POLICY))
    resources = FUNCTION + """\
    Role: !GetAtt Exec.Arn
Exec:
  Type: AWS::IAM::Role
  Properties:
    RoleName: exec-role
    Path: /svc/
    MaxSessionDuration: 7200
TRUST    ManagedPolicyArns: [!Ref Shared, arn:aws:iam::aws:policy/NotAPolicyCumuloKnows]
    Policies:
      - PolicyName: logs
        PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "logs:*", Resource: "*"}]}
Shared:
  Type: AWS::IAM::ManagedPolicy
  Properties:
    PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sqs:*", Resource: "*"}]}
    Roles: [outside]
Extra:
  Type: AWS::IAM::Policy
  Properties:
    PolicyName: extra
    PolicyDocument: {Statement: [{Effect: Allow, Action: "events:*", Resource: "*"}]}
    Roles: [!Ref Exec, outside]
""".replace("TRUST", TRUST)
    path = _write(tmp_path / "app", resources)
    template = load_template(path)
    (exec_role,) = template.of("role")
    assert exec_role.arn == f"arn:aws:iam::{ACCOUNT}:role/svc/exec-role"
    assert any("NotAPolicyCumuloKnows" in note and "not attached" in note for note in exec_role.notes)
    result = deploy(cumulo, path)
    assert {(c.kind, c.action) for c in result.changes} == {
        ("function", "create"), ("role", "create"), ("managed policy", "create"), ("role policy", "create")}
    shared = cumulo.identity.policies.list_policies("Local")[0]
    assert shared["PolicyName"].startswith("app-Shared-") and shared["AttachmentCount"] == 2
    assert cumulo.get_function_configuration("app-Fn").role == exec_role.arn
    assert cumulo.identity.roles.get_role("exec-role")["MaxSessionDuration"] == 7200
    assert list(_inline(cumulo, "exec-role")) == ["extra", "logs"] and list(_inline(cumulo, "outside")) == ["extra"]
    assert _attached(cumulo, "exec-role") == _attached(cumulo, "outside") == [shared["PolicyName"]]
    assert not deploy(cumulo, path).changed

    # The policy's document changes: a new default version. The inline policy leaves the outside role.
    path.write_text(path.read_text().replace('Action: "sqs:*"', 'Action: "sqs:SendMessage"')
                    .replace("Roles: [!Ref Exec, outside]", "Roles: [!Ref Exec]"))
    plan = deploy(cumulo, path, dry_run=True)
    assert {(c.kind, c.action, tuple(c.details)) for c in plan.changes if c.action != "unchanged"} == {
        ("managed policy", "update", ("PolicyDocument",)), ("role policy", "update", ("off outside",))}
    deploy(cumulo, path)
    assert cumulo.identity.policies.get_policy(shared["Arn"])["DefaultVersionId"] == "v2"
    assert list(_inline(cumulo, "outside")) == []

    # Everything IAM dropped from the template: gone, and the outside role keeps nothing of it.
    path = _write(tmp_path / "app", FUNCTION)
    deploy(cumulo, path)
    assert [r["RoleName"] for r in cumulo.identity.roles.list_roles()] == [role_name_for("app", "FnRole"), "outside"]
    assert cumulo.identity.policies.list_policies("Local") == [] and _attached(cumulo, "outside") == []


def test_a_named_role_that_exists_and_is_not_the_stacks_is_refused_by_the_plan(cumulo: Cumulo, tmp_path: Path) -> None:
    cumulo.identity.roles.create_role("taken", json.dumps(iam.sam.LAMBDA_TRUST_POLICY))
    path = _write(tmp_path / "app", "R:\n  Type: AWS::IAM::Role\n  Properties:\n    RoleName: taken\n" + TRUST)
    for dry_run in (True, False):
        with pytest.raises(CumuloError, match=r"Resource R \(line 3\): property RoleName: Role with name taken "
                                              r"already exists"):
            deploy(cumulo, path, dry_run=dry_run)


def test_a_policy_naming_a_role_that_is_nowhere_is_refused_by_the_plan(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "app", """\
P:
  Type: AWS::IAM::Policy
  Properties:
    PolicyName: p
    PolicyDocument: {Statement: [{Effect: Allow, Action: "sqs:*", Resource: "*"}]}
    Roles: [ghost]
""")
    with pytest.raises(CumuloError, match="The role with name ghost cannot be found"):
        deploy(cumulo, path, dry_run=True)


def test_a_failed_deploy_removes_the_roles_it_made(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "app", FUNCTION + "    Policies: [AmazonSQSFullAccess]\n" + """\
Late:
  Type: AWS::Serverless::Function
  Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12, ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}, AutoPublishAlias: live, ReservedConcurrentExecutions: 0}
""")
    with pytest.raises(CumuloError):
        deploy(cumulo, path)
    assert cumulo.identity.roles.list_roles() == [] and cumulo.list_functions() == []


@pytest.mark.parametrize(("resource", "message"), [
    ("R:\n  Type: AWS::IAM::Role\n  Properties: {}\n", "property AssumeRolePolicyDocument: required"),
    ("R:\n  Type: AWS::IAM::Role\n  Properties:\n    AssumeRolePolicyDocument: {Statement: [{Effect: Allow}]}\n",
     "MalformedPolicyDocument"),
    ("R:\n  Type: AWS::IAM::Role\n  Properties:\n    RoleName: 'no spaces'\n    AssumeRolePolicyDocument: {}\n",
     "roleName"),
    ("R:\n  Type: AWS::IAM::Role\n  Properties:\n    Colour: blue\n    AssumeRolePolicyDocument: {}\n", "Colour"),
    ("P:\n  Type: AWS::IAM::Policy\n  Properties:\n    PolicyName: p\n    PolicyDocument: {Statement: [{Effect: Allow, "
     "Action: '*', Resource: '*'}]}\n",
     "At least one of [Groups,Roles,Users] must be non-empty."),
    ("P:\n  Type: AWS::IAM::ManagedPolicy\n  Properties:\n    PolicyDocument: {Statement: [{Effect: Maybe, "
     "Action: '*', Resource: '*'}]}\n", "MalformedPolicyDocument"),
    (FUNCTION + "    Policies: [{NoSuchPolicyTemplate: {}}]\n", "Policy at index 0 in the 'Policies' property is not valid"),
    (FUNCTION + "    Policies: [{SQSSendMessagePolicy: {}}]\n", "don't have values: ['QueueName']"),
])
def test_what_iam_cloudformation_or_sam_refuse_is_refused_naming_the_resource(tmp_path: Path, resource: str,
                                                                              message: str) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(_write(tmp_path / "app", resource))
    assert message in info.value.message and info.value.message.startswith("Resource ")


def test_state_machine_role_and_policies_together_are_refused_as_sam_refuses_them(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Specify either 'Role' or 'Policies' property and not both."):
        load_template(_write(tmp_path / "app", """\
M:
  Type: AWS::Serverless::StateMachine
  Properties:
    Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}
    Role: arn:aws:iam::000000000000:role/r
    Policies: [AWSLambdaRole]
"""))


def test_a_declared_resource_with_the_name_sam_gives_a_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="FnRole"):
        load_template(_write(tmp_path / "app", FUNCTION + "FnRole:\n  Type: AWS::IAM::Role\n  Properties:\n" + TRUST))


@pytest.mark.parametrize(("connector", "message"), [
    ("Source: {Id: Q}\n    Destination: {Id: Fn}\n    Permissions: [Read]",
     "valid values are: Read, Write (together)"),
    ("Source: {Id: Fn}\n    Destination: {Id: Q}\n    Permissions: [Delete]", "valid values are: Read, Write."),
    ("Source: {Id: Q}\n    Destination: {Id: Q}\n    Permissions: [Write]", "Unable to create connector from Q to Q"),
    ("Source: {Id: Fn}\n    Destination: {Id: Nowhere}\n    Permissions: [Write]", "Id Nowhere is not a resource"),
    ("Source: {Arn: arn:aws:lambda:us-east-1:0:function:f}\n    Destination: {Id: Q}\n    Permissions: [Write]",
     "give the Id of a resource"),
])
def test_connectors_sam_refuses_are_refused(tmp_path: Path, connector: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(_write(tmp_path / "app", FUNCTION + "Q:\n  Type: AWS::SQS::Queue\nC:\n  Type: "
                             "AWS::Serverless::Connector\n  Properties:\n    " + connector + "\n"))
    assert message in info.value.message and info.value.message.startswith("Resource C ")


def test_a_connector_is_a_policy_on_the_calling_role_and_leaves_with_it(cumulo: Cumulo, tmp_path: Path) -> None:
    connector = ("Q:\n  Type: AWS::SQS::Queue\nC:\n  Type: AWS::Serverless::Connector\n  Properties:\n"
                 "    Source: {Id: Q}\n    Destination: {Id: Fn}\n    Permissions: [Read, Write]\n")
    path = _write(tmp_path / "app", FUNCTION + connector)
    deploy(cumulo, path)
    (policy,) = cumulo.identity.policies.list_policies("Local")
    assert policy["PolicyName"].startswith("app-CPolicy-") and policy["AttachmentCount"] == 1
    assert _attached(cumulo, role_name_for("app", "FnRole")) == ["AWSLambdaBasicExecutionRole", policy["PolicyName"]]
    assert not deploy(cumulo, path).changed
    deploy(cumulo, _write(tmp_path / "app", FUNCTION))
    assert cumulo.identity.policies.list_policies("Local") == []
    assert _attached(cumulo, role_name_for("app", "FnRole")) == ["AWSLambdaBasicExecutionRole"]


def test_an_embedded_connector_is_a_connector_from_its_resource(cumulo: Cumulo, tmp_path: Path) -> None:
    embedded = FUNCTION.replace("  Type: AWS::Serverless::Function\n", "  Type: AWS::Serverless::Function\n"
                                "  Connectors:\n    ToQ:\n      Properties:\n        Destination: {Id: Q}\n"
                                "        Permissions: [Write]\n")
    path = _write(tmp_path / "app", embedded + "Q:\n  Type: AWS::SQS::Queue\n")
    (policy,) = load_template(path).of("managed policy")
    assert policy.logical_id == "FnToQPolicy" and policy.roles == (role_name_for("app", "FnRole"),)
    deploy(cumulo, path)
    assert _attached(cumulo, role_name_for("app", "FnRole"))[1] == policy.name
    with pytest.raises(TemplateError, match="'Source' shouldn't be defined in embedded connectors"):
        load_template(_write(tmp_path / "other", embedded.replace("        Permissions", "        Source: {Id: Q}\n"
                                                                  "        Permissions") + "Q:\n  Type: AWS::SQS::Queue\n"))


def test_a_connector_to_a_table_reads_and_writes_its_items_and_indexes(tmp_path: Path) -> None:
    template = load_template(_write(tmp_path / "app", FUNCTION + """\
T:
  Type: AWS::Serverless::SimpleTable
C:
  Type: AWS::Serverless::Connector
  Properties: {Source: {Id: Fn}, Destination: {Id: T}, Permissions: [Read]}
"""))
    (policy,) = template.of("managed policy")
    (table,) = template.of("table")
    statements = json.loads(policy.document)["Statement"]
    assert [s["Resource"] for s in statements] == [[table.arn], [f"{table.arn}/index/*"]]
    assert statements[0]["Action"][:3] == ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]
    assert policy.roles == (role_name_for("app", "FnRole"),)


def test_instance_profiles_are_accepted_with_a_warning(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _write(tmp_path / "app", "P:\n  Type: AWS::IAM::InstanceProfile\n  Properties: {Roles: [r]}\n")
    result = deploy(cumulo, path, dry_run=True)
    assert any(w.startswith("AWS::IAM::InstanceProfile (P) accepted and not deployed") for w in result.warnings)


# --- what a plan promises, a deploy makes: SAM's Policies drawn as people write them ----------------

_ENTRY = st.one_of(
    st.sampled_from(["AWSLambdaExecute", "AmazonSQSReadOnlyAccess", "AmazonEventBridgeFullAccess",
                     "arn:aws:iam::aws:policy/AWSStepFunctionsFullAccess", "AWSXrayWriteOnlyAccess"]),
    st.builds(lambda name: {"SQSSendMessagePolicy": {"QueueName": name}}, st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
    st.builds(lambda name: {"EventBridgePutEventsPolicy": {"EventBusName": name}},
              st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
    st.builds(lambda actions: {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]},
              st.lists(st.sampled_from(["sqs:SendMessage", "events:PutEvents", "states:*", "lambda:Invoke*"]),
                       min_size=1, max_size=3, unique=True)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(_ENTRY, max_size=4), second=st.lists(_ENTRY, max_size=4))
def test_the_role_deployed_is_the_role_planned(cumulo: Cumulo, tmp_path_factory: pytest.TempPathFactory,
                                               first: list[Any], second: list[Any]) -> None:
    folder = tmp_path_factory.mktemp("drawn") / "app"
    role = role_name_for("app", "FnRole")
    for policies in (first, second):
        path = _write(folder, FUNCTION + (f"    Policies: {json.dumps(policies)}\n" if policies else ""))
        (spec,) = load_template(path).of("role")
        deploy(cumulo, path)
        assert dict(_inline(cumulo, role)) == {name: json.loads(doc) for name, doc in spec.inline}
        # (which policies, not in which order: IAM gives attachments no order, and a policy kept from the
        # last deploy stays where it was while a new one is attached after it)
        assert sorted(arn for _, arn in cumulo.identity.roles.list_attached_role_policies(role)) == \
            sorted(spec.managed)
        assert not deploy(cumulo, path).changed
    delete_stack(cumulo, "app")
    assert cumulo.identity.roles.list_roles() == []
