"""AWS managed policies by name and ARN, as AWS publishes them."""

from __future__ import annotations

from cumulo.iam import (
    PolicySet,
    Principal,
    Request,
    aws_managed_arn,
    evaluate,
    is_aws_managed_arn,
    managed_policy,
    managed_policy_names,
)

ACCOUNT = "123456789012"
ROLE = Principal.assumed_role(ACCOUNT, "MyRole", "my-fn")

ASKED = ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSLambdaKinesisExecutionRole",
         "AWSLambdaDynamoDBExecutionRole", "AWSLambdaRole", "AWSLambdaExecute", "AmazonSQSFullAccess",
         "AmazonSQSReadOnlyAccess", "AmazonDynamoDBFullAccess", "AmazonDynamoDBReadOnlyAccess", "AmazonS3FullAccess",
         "AmazonS3ReadOnlyAccess", "AmazonSNSFullAccess", "AWSStepFunctionsFullAccess", "AmazonEventBridgeFullAccess",
         "AmazonKinesisFullAccess", "SecretsManagerReadWrite", "CloudWatchLogsFullAccess", "AWSXrayWriteOnlyAccess"]


def test_every_policy_is_there_and_parses() -> None:
    assert set(ASKED) <= set(managed_policy_names())
    for name in managed_policy_names():
        found = managed_policy(name)
        assert found is not None and found.name == name and found.version_id.startswith("v")
        assert found.policy.name == found.arn() and found.policy.statements


# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html — "ARN:
# arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "Policy version: v1 (default)" and its
# JSON policy document.
def test_awslambdabasicexecutionrole_as_published() -> None:
    found = managed_policy("AWSLambdaBasicExecutionRole")
    assert found is not None
    assert found.arn() == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    assert found.version_id == "v1"
    assert found.document == {"Version": "2012-10-17", "Statement": [{
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*",
        "Effect": "Allow"}]}


# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaRole.html — a service-role/ path too
def test_paths_as_aws_has_them() -> None:
    assert aws_managed_arn("AWSLambdaRole") == "arn:aws:iam::aws:policy/service-role/AWSLambdaRole"
    assert aws_managed_arn("AWSLambdaExecute") == "arn:aws:iam::aws:policy/AWSLambdaExecute"
    assert aws_managed_arn("AmazonSQSFullAccess", "aws-cn") == "arn:aws-cn:iam::aws:policy/AmazonSQSFullAccess"
    assert aws_managed_arn("NoSuchPolicy") is None
    assert managed_policy("arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole") is not None
    assert managed_policy("arn:aws-us-gov:iam::aws:policy/AmazonS3ReadOnlyAccess") is not None
    assert managed_policy("arn:aws:iam::aws:policy/AWSLambdaSQSQueueExecutionRole") is None     # wrong path
    assert managed_policy("arn:aws:iam::123456789012:policy/AmazonSQSFullAccess") is None      # not AWS's
    assert managed_policy("NoSuchPolicy") is None
    assert is_aws_managed_arn("arn:aws:iam::aws:policy/AdministratorAccess")
    assert not is_aws_managed_arn("arn:aws:iam::123456789012:policy/Mine")


def test_the_documents_handed_out_are_copies() -> None:
    found = managed_policy("AmazonSQSFullAccess")
    assert found is not None
    found.document["Statement"][0]["Action"] = ["s3:*"]
    again = managed_policy("AmazonSQSFullAccess")
    assert again is not None and again.document["Statement"][0]["Action"] == ["sqs:*"]


def test_what_they_allow() -> None:
    def can(names: list[str], action: str, resource: str = "*") -> bool:
        role = PolicySet([managed_policy(n).policy for n in names])  # type: ignore[union-attr]
        return evaluate(Request(ROLE, action, resource), role).allowed

    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
    assert can(["AWSLambdaBasicExecutionRole"], "logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:g")
    assert not can(["AWSLambdaBasicExecutionRole"], "sqs:SendMessage", queue)
    assert can(["AWSLambdaSQSQueueExecutionRole"], "sqs:ReceiveMessage", queue)
    assert not can(["AWSLambdaSQSQueueExecutionRole"], "sqs:SendMessage", queue)
    assert can(["AmazonSQSFullAccess"], "sqs:SendMessage", queue)
    assert can(["AmazonSQSReadOnlyAccess"], "sqs:GetQueueUrl", queue)
    assert not can(["AmazonSQSReadOnlyAccess"], "sqs:SendMessage", queue)
    assert can(["AmazonS3ReadOnlyAccess"], "s3:GetObject", "arn:aws:s3:::b/k")
    assert not can(["AmazonS3ReadOnlyAccess"], "s3:PutObject", "arn:aws:s3:::b/k")
    assert can(["AWSLambdaExecute"], "s3:PutObject", "arn:aws:s3:::b/k")
    assert can(["AWSLambdaRole"], "lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f")
    assert can(["AWSStepFunctionsFullAccess"], "states:StartExecution", "*")
    assert can(["AmazonEventBridgeFullAccess"], "events:PutEvents", "*")
    assert can(["AmazonKinesisFullAccess"], "kinesis:PutRecord", "*")
    assert can(["AWSLambdaKinesisExecutionRole"], "kinesis:GetRecords", "*")
    assert can(["AWSLambdaDynamoDBExecutionRole"], "dynamodb:GetRecords", "*")
    assert can(["AmazonDynamoDBReadOnlyAccess"], "dynamodb:Query", "*")
    assert not can(["AmazonDynamoDBReadOnlyAccess"], "dynamodb:PutItem", "*")
    assert can(["AmazonDynamoDBFullAccess"], "dynamodb:PutItem", "*")
    assert can(["SecretsManagerReadWrite"], "secretsmanager:GetSecretValue", "*")
    assert can(["CloudWatchLogsFullAccess"], "logs:CreateLogGroup", "*")
    assert can(["AWSXrayWriteOnlyAccess"], "xray:PutTraceSegments", "*")
    assert can(["AmazonSNSFullAccess"], "sns:Publish", "*")
