"""SAM's Policies property and policy templates, expanded as SAM expands them.

Templates and their statements: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-policy-template-list.html
How Policies becomes the role: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html#sam-function-policies
"""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.iam import (
    PolicySet,
    Principal,
    Request,
    SamPolicyError,
    evaluate,
    expand_policy_template,
    expand_sam_policies,
    function_role,
    parse_policy,
    policy_template_names,
    sam_policy_documents,
    state_machine_role,
)
from cumulo.iam._sam_templates_data import SAM_POLICY_TEMPLATES

ACCOUNT, REGION = "123456789012", "us-east-1"
WHERE = {"region": REGION, "account_id": ACCOUNT}
ROLE = Principal.assumed_role(ACCOUNT, "FnRole", "fn")


def test_the_templates_the_issue_names_are_there() -> None:
    for name in ("SQSSendMessagePolicy", "SQSPollerPolicy", "DynamoDBCrudPolicy", "DynamoDBReadPolicy",
                 "DynamoDBWritePolicy", "S3ReadPolicy", "S3WritePolicy", "S3CrudPolicy", "SNSPublishMessagePolicy",
                 "EventBridgePutEventsPolicy", "StepFunctionsExecutionPolicy", "LambdaInvokePolicy",
                 "KinesisStreamReadPolicy", "KinesisCrudPolicy", "AWSSecretsManagerGetSecretValuePolicy",
                 "SSMParameterReadPolicy", "CloudWatchPutMetricPolicy", "VPCAccessPolicy"):
        assert name in policy_template_names(), name
    assert len(policy_template_names()) == 81


def test_sqs_send_message_policy() -> None:
    # SQSSendMessagePolicy: "sqs:SendMessage*" on arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}
    assert expand_policy_template("SQSSendMessagePolicy", {"QueueName": "orders"}, **WHERE) == {"Statement": [{
        "Action": ["sqs:SendMessage*"], "Effect": "Allow", "Resource": "arn:aws:sqs:us-east-1:123456789012:orders"}]}
    cn = expand_policy_template("SQSSendMessagePolicy", {"QueueName": "q"}, region="cn-north-1", account_id=ACCOUNT,
                                partition="aws-cn")
    assert cn["Statement"][0]["Resource"] == "arn:aws-cn:sqs:cn-north-1:123456789012:q"


def test_dynamodb_crud_policy_covers_the_table_and_its_indexes() -> None:
    statement = expand_policy_template("DynamoDBCrudPolicy", {"TableName": "Orders"}, **WHERE)["Statement"][0]
    assert statement["Resource"] == ["arn:aws:dynamodb:us-east-1:123456789012:table/Orders",
                                     "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/index/*"]
    assert "dynamodb:PutItem" in statement["Action"] and "dynamodb:ConditionCheckItem" in statement["Action"]


def test_every_template_expands_to_a_policy_iam_accepts() -> None:
    for name, template in SAM_POLICY_TEMPLATES.items():
        params = {k: (f"arn:aws:sns:{REGION}:{ACCOUNT}:x" if "Arn" in k else "x") for k in template["Parameters"]}
        document = expand_policy_template(name, params, **WHERE)
        assert "${" not in repr(document) and "'Fn::Sub'" not in repr(document) and "'Ref'" not in repr(document), name
        parse_policy(document)


# SAM's own translator test (function_with_policy_templates): extra parameters are skipped, inline policies are
# named <LogicalId>RolePolicy<index in Policies>, managed names become ARNs.
def test_policies_value_in_sams_order_and_names() -> None:
    policies = [{"Statement": [{"Action": ["dynamodb:*"], "Effect": "Allow", "Resource": "*"}]},
                "AmazonDynamoDBFullAccess",
                {"LambdaInvokePolicy": {"FunctionName": "notify", "ExtraParam1": "Value1"}},
                "AWSLambdaRole"]
    out = expand_sam_policies(policies, logical_id="AllCombinations", **WHERE)
    assert [(p.kind, p.name) for p in out] == [
        ("inline", "AllCombinationsRolePolicy0"),
        ("managed", "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"),
        ("inline", "AllCombinationsRolePolicy2"),
        ("managed", "arn:aws:iam::aws:policy/service-role/AWSLambdaRole")]
    assert out[2].document == {"Statement": [{"Action": ["lambda:InvokeFunction"], "Effect": "Allow",
                                              "Resource": "arn:aws:lambda:us-east-1:123456789012:function:notify*"}]}
    assert out[1].arn == "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess" and out[0].arn is None


def test_one_entry_or_a_list_and_managed_arns_once() -> None:
    single = sam_policy_documents({"SQSPollerPolicy": {"QueueName": "q"}}, **WHERE)
    assert len(single) == 1 and "sqs:ReceiveMessage" in single[0]["Statement"][0]["Action"]
    assert sam_policy_documents("AmazonSQSFullAccess", **WHERE)[0]["Statement"][0]["Action"] == ["sqs:*"]
    twice = expand_sam_policies(["AmazonSQSFullAccess", "arn:aws:iam::aws:policy/AmazonSQSFullAccess"], **WHERE)
    assert len(twice) == 1
    assert sam_policy_documents(None, **WHERE) == [] and sam_policy_documents([], **WHERE) == []


def test_customer_managed_policies_come_from_the_caller() -> None:
    mine = f"arn:aws:iam::{ACCOUNT}:policy/Mine"
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
    assert sam_policy_documents([mine], managed={mine: document}.get, **WHERE) == [document]
    assert expand_sam_policies([mine], **WHERE)[0].document is None
    with pytest.raises(SamPolicyError) as info:
        sam_policy_documents([mine], **WHERE)
    assert info.value.message == f"Resource with id [Function] is invalid. Policy {mine} does not exist or is not attachable."


@pytest.mark.parametrize("policies, detail", [
    ([{"NotATemplate": {}}], "Policy at index 0 in the 'Policies' property is not valid"),
    (["AmazonSQSFullAccess", 42], "Policy at index 1 in the 'Policies' property is not valid"),
    ([{"SQSPollerPolicy": {}}], "Following required parameters of template 'SQSPollerPolicy' don't have values: "
                                "['QueueName']"),
    ([{"SQSPollerPolicy": "q"}], "Must specify valid parameter values for policy template 'SQSPollerPolicy'"),
    ([{"SQSPollerPolicy": {"QueueName": {"Ref": "Q"}}}],
     "Must specify valid parameter values for policy template 'SQSPollerPolicy'"),
    ([{"SecretsManagerGetSecretValuePolicy": {"SecretArn": "x"}}],      # no such template: SAM's is AWSSecrets…
     "Policy at index 0 in the 'Policies' property is not valid"),
])
def test_sams_errors(policies: Any, detail: str) -> None:
    with pytest.raises(SamPolicyError) as info:
        sam_policy_documents(policies, logical_id="MyFunction", **WHERE)
    assert info.value.detail == detail
    assert info.value.message == f"Resource with id [MyFunction] is invalid. {detail}"
    assert info.value.status == 400


def test_unknown_template_name_when_asked_directly() -> None:
    with pytest.raises(SamPolicyError, match="Template with name 'Nope' is not found"):
        expand_policy_template("Nope", {}, **WHERE)


def test_the_role_sam_makes_for_a_function() -> None:
    role = function_role("Fn", [{"SQSSendMessagePolicy": {"QueueName": "out"}}, "AWSLambdaBasicExecutionRole"],
                         tracing=True, vpc=True, event_sources=["SQS", "Api", "Kinesis"], **WHERE)
    assert role.logical_id == "FnRole"
    assert role.trust_policy["Statement"][0]["Principal"] == {"Service": ["lambda.amazonaws.com"]}
    parse_policy(role.trust_policy, "trust")
    assert role.managed_policy_arns == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole"]
    assert [name for name, _ in role.inline_policies] == ["FnRolePolicy0"]
    plain = function_role("Plain", **WHERE)
    assert plain.managed_policy_arns == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    assert plain.inline_policies == []


def test_the_role_sam_makes_for_a_state_machine() -> None:
    role = state_machine_role("Machine", [{"LambdaInvokePolicy": {"FunctionName": "f"}}], tracing=True, **WHERE)
    assert role.trust_policy["Statement"][0]["Principal"] == {"Service": ["states.amazonaws.com"]}
    assert role.managed_policy_arns == ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]
    assert [name for name, _ in role.inline_policies] == ["MachineRolePolicy0"]


def test_the_template_that_grants_it_makes_it_pass() -> None:
    """The issue's "done when": a missing Allow fails with AWS's message; the SAM policy template that grants it passes."""
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"

    def role(policies: Any) -> PolicySet:
        made = function_role("Fn", policies, **WHERE)
        return PolicySet(parse_policy(p.document, name=p.name) for p in made.policies if p.document is not None)

    without = evaluate(Request(ROLE, "sqs:SendMessage", queue), role([]))
    assert without.message == (f"User: {ROLE.arn} is not authorized to perform: sqs:SendMessage on resource: {queue} "
                               "because no identity-based policy allows the sqs:SendMessage action")
    granted = evaluate(Request(ROLE, "sqs:SendMessage", queue), role([{"SQSSendMessagePolicy": {"QueueName": "orders"}}]))
    assert granted and granted.policy == "FnRolePolicy0"
    assert evaluate(Request(ROLE, "sqs:SendMessageBatch", queue), role([{"SQSSendMessagePolicy": {"QueueName": "orders"}}]))
    assert not evaluate(Request(ROLE, "sqs:SendMessage", queue.replace("orders", "other")),
                        role([{"SQSSendMessagePolicy": {"QueueName": "orders"}}]))
