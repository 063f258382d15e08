"""CloudFormation's write API (deploy/change_sets.py) as teams deploy with it: boto3's create_stack /
update_stack with their waiters, change sets reviewed then executed, and the AWS CLI's
``aws cloudformation deploy`` (change sets underneath) against a real ``cumulo up``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"

# Self-contained, as a template sent in a request must be: the function's code inline.
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import os
        def handler(event, context):
            return {"greeting": os.environ["GREETING"], "queue": os.environ["QUEUE"]}
      Environment:
        Variables: {GREETING: !Ref Greeting, QUEUE: !Ref Jobs}
Outputs:
  FunctionName: {Value: !Ref Greeter}
  QueueUrl: {Value: !Ref Jobs}
"""
QUEUE_ONLY = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Plain:
    Type: AWS::SQS::Queue
Outputs:
  Url: {Value: !Ref Plain}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("cfn-write") / "home", store=new_store())
    yield s
    s.close()


@pytest.fixture(scope="module")
def cfn(server: CumuloServer) -> BaseClient:
    return server.aws("cloudformation")


def _outputs(cfn: BaseClient, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _invoke(server: CumuloServer, name: str) -> Any:
    return json.loads(server.client().invoke(FunctionName=name)["Payload"].read())


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_create_and_update_a_stack_with_the_waiters(server: CumuloServer, cfn: BaseClient) -> None:
    with pytest.raises(ClientError) as caught:      # SAM makes the function a role: CAPABILITY_IAM
        cfn.create_stack(StackName="greeter", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert _error(caught) == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
    with pytest.raises(ClientError) as caught:
        cfn.describe_stacks(StackName="greeter")
    assert _error(caught) == ("ValidationError", "Stack with id greeter does not exist")   # nothing was made

    stack_id = cfn.create_stack(StackName="greeter", TemplateBody=TEMPLATE,
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])["StackId"]
    cfn.get_waiter("stack_create_complete").wait(StackName="greeter", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    described = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE" and described["StackName"] == "greeter"
    outputs = _outputs(cfn, "greeter")
    assert _invoke(server, outputs["FunctionName"]) == {"greeting": "hello", "queue": outputs["QueueUrl"]}

    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName="greeter", TemplateBody=TEMPLATE,
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert _error(caught) == ("AlreadyExistsException", "Stack [greeter] already exists")

    cfn.update_stack(StackName="greeter", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM",
                                                                               "CAPABILITY_AUTO_EXPAND"],
                     Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "bonjour"}])
    cfn.get_waiter("stack_update_complete").wait(StackName="greeter", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert cfn.describe_stacks(StackName="greeter")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert _invoke(server, outputs["FunctionName"])["greeting"] == "bonjour"
    with pytest.raises(ClientError) as caught:
        cfn.update_stack(StackName="greeter", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM",
                                                                                   "CAPABILITY_AUTO_EXPAND"],
                         Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "bonjour"}])
    assert _error(caught) == ("ValidationError", "No updates are to be performed.")


def test_a_change_set_is_reviewed_then_executed(server: CumuloServer, cfn: BaseClient) -> None:
    made = cfn.create_change_set(StackName="plain", ChangeSetName="first", ChangeSetType="CREATE",
                                 TemplateBody=QUEUE_ONLY)
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=made["Id"],
                                                      WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    review = cfn.describe_change_set(ChangeSetName="first", StackName="plain")
    assert (review["Status"], review["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert [c["ResourceChange"]["Action"] + " " + c["ResourceChange"]["LogicalResourceId"] + " " +
            c["ResourceChange"]["ResourceType"] for c in review["Changes"]] == ["Add Plain AWS::SQS::Queue"]
    (reviewed,) = cfn.describe_stacks(StackName="plain")["Stacks"]   # shown under review, as AWS does,
    assert reviewed["StackStatus"] == "REVIEW_IN_PROGRESS"            # with nothing made yet
    assert [e["ResourceStatus"] for e in cfn.describe_stack_events(StackName="plain")["StackEvents"]] == [
        "REVIEW_IN_PROGRESS"]
    with pytest.raises(ClientError) as caught:
        cfn.create_change_set(StackName="plain", ChangeSetName="second", ChangeSetType="UPDATE", TemplateBody=QUEUE_ONLY)
    assert "REVIEW_IN_PROGRESS state and can not be updated" in _error(caught)[1]
    assert not [q for q in server.aws("sqs").list_queues().get("QueueUrls", []) if "Plain" in q]
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName="plain")["Summaries"]] == ["first"]

    cfn.execute_change_set(ChangeSetName=made["Id"])
    cfn.get_waiter("stack_create_complete").wait(StackName="plain", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    url = _outputs(cfn, "plain")["Url"]
    assert server.aws("sqs").get_queue_url(QueueName=url.rsplit("/", 1)[1])["QueueUrl"] == url
    assert cfn.list_change_sets(StackName="plain")["Summaries"] == []   # executed: gone, as on AWS

    same = cfn.create_change_set(StackName="plain", ChangeSetName="again", ChangeSetType="UPDATE",
                                 TemplateBody=QUEUE_ONLY)
    empty = cfn.describe_change_set(ChangeSetName=same["Id"])
    assert (empty["Status"], empty["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert empty["StatusReason"].startswith("The submitted information didn't contain changes.")
    with pytest.raises(ClientError) as caught:
        cfn.execute_change_set(ChangeSetName=same["Id"])
    assert _error(caught)[0] == "InvalidChangeSetStatus"
    cfn.delete_change_set(ChangeSetName=same["Id"])
    with pytest.raises(ClientError) as caught:
        cfn.describe_change_set(ChangeSetName=same["Id"])
    assert _error(caught)[0] == "ChangeSetNotFound"


def test_aws_cloudformation_deploy(server: CumuloServer, cfn: BaseClient, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}

    def deploy(*extra: str) -> subprocess.CompletedProcess[str]:
        # The CLI names its change set awscli-cloudformation-package-deploy-<epoch second>, and an
        # empty one stays (FAILED) as on AWS: two deploys within one second would collide on the name,
        # which a deploy on AWS, taking longer than that, never does.
        time.sleep(1.1)
        return subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "cloudformation", "deploy",
                               "--template-file", str(template), "--stack-name", "cli-app",
                               "--capabilities", "CAPABILITY_IAM", *extra],
                              capture_output=True, text=True, env=env, timeout=300)
    first = deploy("--parameter-overrides", "Greeting=hi")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Successfully created/updated stack - cli-app" in first.stdout
    assert _invoke(server, _outputs(cfn, "cli-app")["FunctionName"])["greeting"] == "hi"
    again = deploy("--parameter-overrides", "Greeting=hi")           # nothing changed: an empty change set
    assert again.returncode == 255 and "No changes to deploy. Stack cli-app is up to date" in again.stderr
    again = deploy("--parameter-overrides", "Greeting=hi", "--no-fail-on-empty-changeset")
    assert again.returncode == 0, again.stdout + again.stderr
    second = deploy("--parameter-overrides", "Greeting=hej")
    assert second.returncode == 0, second.stdout + second.stderr
    assert _invoke(server, _outputs(cfn, "cli-app")["FunctionName"])["greeting"] == "hej"


def test_bad_requests_get_cloudformations_errors(cfn: BaseClient) -> None:
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName="9-starts-with-a-digit", TemplateBody=QUEUE_ONLY,
                         Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert _error(caught)[0] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName="broken", TemplateBody="Resources: [not, a, map]")
    assert _error(caught)[0] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName="huge", TemplateBody=QUEUE_ONLY + "#" * 60_000)
    assert _error(caught)[0] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        cfn.update_stack(StackName="never-made", TemplateBody=QUEUE_ONLY)
    assert _error(caught) == ("ValidationError", "Stack [never-made] does not exist")
    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName="broken")                   # a refused create leaves nothing


PACKAGED_APP = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Counter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
Outputs:
  FunctionName: {Value: !Ref Counter}
"""


def test_a_packaged_template_with_its_code_in_s3(server: CumuloServer, cfn: BaseClient, tmp_path: Path) -> None:
    """`aws cloudformation package` uploads the code to a bucket and names it s3://…; `deploy --s3-bucket`
    uploads the template too and gives its TemplateURL: both are read from Cumulo's own S3."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {'packaged': True}\n")
    (tmp_path / "template.yaml").write_text(PACKAGED_APP)
    server.aws("s3").create_bucket(Bucket="artifacts")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_ENDPOINT_URL": server.endpoint}

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AWS), "cloudformation", *args], capture_output=True, text=True, env=env,
                              timeout=300, cwd=tmp_path)
    packaged = aws("package", "--template-file", "template.yaml", "--s3-bucket", "artifacts",
                   "--output-template-file", "packaged.yaml")
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    assert "CodeUri: s3://artifacts/" in (tmp_path / "packaged.yaml").read_text()
    deployed = aws("deploy", "--template-file", "packaged.yaml", "--stack-name", "packaged-app",
                   "--capabilities", "CAPABILITY_IAM", "--s3-bucket", "artifacts", "--force-upload")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert _invoke(server, _outputs(cfn, "packaged-app")["FunctionName"]) == {"packaged": True}
    keys = [o["Key"] for o in server.aws("s3").list_objects_v2(Bucket="artifacts")["Contents"]]
    assert any(k.endswith(".template") for k in keys), keys        # the template went by TemplateURL
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName="missing-code", TemplateBody=PACKAGED_APP.replace("src/", "s3://artifacts/nope.zip"),
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert _error(caught)[0] == "ValidationError" and "s3://artifacts/nope.zip" in _error(caught)[1]


def _role(server: CumuloServer, name: str, trusted: dict[str, str], policy: dict[str, Any] | None = None,
          managed: str | None = None) -> str:
    iam_ = server.aws("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": trusted,
                                                     "Action": "sts:AssumeRole"}]}
    arn = str(iam_.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    if policy is not None:
        iam_.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    if managed is not None:
        iam_.attach_role_policy(RoleName=name, PolicyArn=managed)
    return arn


def _as_role(server: CumuloServer, arn: str, service: str) -> BaseClient:
    import boto3
    creds = server.aws("sts").assume_role(RoleArn=arn, RoleSessionName="deployer")["Credentials"]
    return boto3.session.Session().client(
        service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def test_a_deployer_role_deploys_through_a_service_role_as_cdk_does(server: CumuloServer, cfn: BaseClient) -> None:
    """CDK's deploy role may not make IAM roles itself: it passes the bootstrap's execution role
    (RoleARN) to the change set, and CloudFormation makes the stack with that role's rights."""
    account = {"AWS": "arn:aws:iam::000000000000:root"}
    cloudformation = {"Service": "cloudformation.amazonaws.com"}
    admin = _role(server, "cfn-exec", cloudformation, managed="arn:aws:iam::aws:policy/AdministratorAccess")
    weak = _role(server, "cfn-weak", cloudformation, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
    untrusting = _role(server, "not-for-cfn", account, managed="arn:aws:iam::aws:policy/AdministratorAccess")
    deployer = _role(server, "deployer", account, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
                                       "cloudformation:DeleteChangeSet"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": [admin, weak, untrusting]}]},
        managed="arn:aws:iam::aws:policy/AWSCloudFormationReadOnlyAccess")
    as_deployer = _as_role(server, deployer, "cloudformation")

    def attempt(name: str, role: str | None) -> None:
        as_deployer.create_change_set(StackName="via-role", ChangeSetName=name, ChangeSetType="CREATE",
                                      TemplateBody=QUEUE_ONLY, **({"RoleARN": role} if role else {}))
        try:
            as_deployer.execute_change_set(StackName="via-role", ChangeSetName=name)
        finally:
            if as_deployer.list_change_sets(StackName="via-role")["Summaries"]:
                as_deployer.delete_change_set(StackName="via-role", ChangeSetName=name)

    # without a service role the deployer would make the stack with its own rights: it may not make roles
    with pytest.raises(ClientError) as caught:
        attempt("own-rights", None)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert "iam:CreateRole" in caught.value.response["Error"]["Message"]
    # a service role that may not make roles itself gets no further
    with pytest.raises(ClientError) as caught:
        attempt("weak-role", weak)
    assert "iam:CreateRole" in caught.value.response["Error"]["Message"] and "cfn-weak" in \
        caught.value.response["Error"]["Message"]
    # a role CloudFormation may not assume is refused as AWS refuses it
    with pytest.raises(ClientError) as caught:
        attempt("untrusting", untrusting)
    assert _error(caught) == ("ValidationError", f"Role {untrusting} is invalid or cannot be assumed")
    # a role the deployer may not pass is refused at CreateChangeSet
    other = _role(server, "cfn-other", cloudformation, managed="arn:aws:iam::aws:policy/AdministratorAccess")
    with pytest.raises(ClientError) as caught:
        as_deployer.create_change_set(StackName="via-role", ChangeSetName="other", ChangeSetType="CREATE",
                                      TemplateBody=QUEUE_ONLY, RoleARN=other)
    assert "iam:PassRole" in caught.value.response["Error"]["Message"]
    # the execution role with AdministratorAccess, passed by the deployer, deploys it
    attempt("with-admin", admin)
    url = _outputs(as_deployer, "via-role")["Url"]
    assert "QueueArn" in server.aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    cfn.delete_stack(StackName="via-role")


def test_a_policy_allowing_only_its_own_accounts_resources(server: CumuloServer) -> None:
    """aws:ResourceAccount, as CDK's publishing roles use it: their S3 rights hold only on buckets of
    their own account (a bucket's ARN names no account: the account that keeps it does)."""
    server.aws("s3").create_bucket(Bucket="own-account-assets")

    def role(name: str, account: str) -> BaseClient:
        arn = _role(server, name, {"AWS": "arn:aws:iam::000000000000:root"}, {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceAccount": [account]}}}]})
        return _as_role(server, arn, "s3")

    role("publisher", "000000000000").put_object(Bucket="own-account-assets", Key="a", Body=b"1")
    with pytest.raises(ClientError) as caught:
        role("elsewhere", "111111111111").put_object(Bucket="own-account-assets", Key="b", Body=b"1")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
