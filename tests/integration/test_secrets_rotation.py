"""Secrets Manager rotation as its users meet it: unchanged boto3 against a real ``cumulo up`` (IAM
enforced). The rotation function is written here with boto3, shaped like AWS's single-user
rotation template: its "database" is a DynamoDB table holding the user's password, which
``setSecret`` changes and ``testSecret`` logs in with. Cumulo invokes it with the four steps; it
calls the API back with its role's session; a failure leaves ``AWSCURRENT`` where it was; the
function's policy must let ``secretsmanager.amazonaws.com`` invoke it; a rotation starts when its
window opens; and ``AWS::SecretsManager::RotationSchedule`` sets it up from a template."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from cumulo import Cumulo
from tests.integration.test_secrets import TRUST, _zip
from tests.integration.test_server import CumuloServer

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rotator-role"
TABLE = "users"

# The single-user strategy, as AWS's template lays it out: check the version's staging, then one
# step per invocation. FAIL_AT makes a step fail (a database that refuses the new password).
ROTATOR = '''
import json, os, boto3

secrets = boto3.client("secretsmanager")
db = boto3.client("dynamodb")
TABLE = os.environ["TABLE"]


def lambda_handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    metadata = secrets.describe_secret(SecretId=arn)
    if not metadata["RotationEnabled"]:
        raise ValueError("Secret %s is not enabled for rotation" % arn)
    versions = metadata["VersionIdsToStages"]
    if token not in versions:
        raise ValueError("Secret version %s has no stage for rotation of secret %s." % (token, arn))
    if "AWSCURRENT" in versions[token]:
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError("Secret version %s not set as AWSPENDING for rotation of secret %s." % (token, arn))
    if os.environ.get("FAIL_AT") == step:
        raise RuntimeError("the database refused the " + step + " step")
    {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
     "finishSecret": finish_secret}[step](arn, token)


def value(arn, **which):
    return json.loads(secrets.get_secret_value(SecretId=arn, **which)["SecretString"])


def create_secret(arn, token):
    current = value(arn, VersionStage="AWSCURRENT")
    try:
        value(arn, VersionId=token, VersionStage="AWSPENDING")
    except secrets.exceptions.ResourceNotFoundException:
        password = secrets.get_random_password(ExcludeCharacters="/@\\"'\\\\")["RandomPassword"]
        secrets.put_secret_value(SecretId=arn, ClientRequestToken=token, VersionStages=["AWSPENDING"],
                                 SecretString=json.dumps({**current, "password": password}))


def stored_password(user):
    item = db.get_item(TableName=TABLE, Key={"user": {"S": user}}, ConsistentRead=True).get("Item")
    return item["password"]["S"] if item else None


def set_secret(arn, token):
    pending = value(arn, VersionId=token, VersionStage="AWSPENDING")
    current = value(arn, VersionStage="AWSCURRENT")
    if stored_password(pending["username"]) in (pending["password"],):
        return                                       # set already (a step run again)
    if stored_password(current["username"]) != current["password"]:
        raise ValueError("Unable to log into the database with the current secret")
    db.put_item(TableName=TABLE, Item={"user": {"S": pending["username"]}, "password": {"S": pending["password"]}})


def test_secret(arn, token):
    pending = value(arn, VersionId=token, VersionStage="AWSPENDING")
    if stored_password(pending["username"]) != pending["password"]:
        raise ValueError("Unable to log into the database with the pending secret")


def finish_secret(arn, token):
    metadata = secrets.describe_secret(SecretId=arn)
    current = None
    for version, stages in metadata["VersionIdsToStages"].items():
        if "AWSCURRENT" in stages:
            if version == token:
                return
            current = version
    secrets.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                        RemoveFromVersionId=current)
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("rotation") / "home")
    iam, ddb = s.aws("iam"), s.aws("dynamodb")
    iam.create_role(RoleName="rotator-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="rotator-role", PolicyName="rotate", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rotated/*",
             "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]},
            {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
             "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"}]}))
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "user", "AttributeType": "S"}])
    yield s
    s.close()


def _rotator(server: CumuloServer, name: str, allowed: bool = True, **env: str) -> str:
    lam = server.client()
    arn = lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.lambda_handler", Timeout=30,
                              Role=ROLE, Code={"ZipFile": _zip(ROTATOR)},
                              Environment={"Variables": {"TABLE": TABLE, **env}})["FunctionArn"]
    if allowed:
        lam.add_permission(FunctionName=name, StatementId="secrets", Action="lambda:InvokeFunction",
                           Principal="secretsmanager.amazonaws.com")
    return str(arn)


def _database_user(server: CumuloServer, secret: str, user: str, password: str) -> str:
    """A user whose password the database and the secret agree on."""
    server.aws("dynamodb").put_item(TableName=TABLE, Item={"user": {"S": user}, "password": {"S": password}})
    return str(server.aws("secretsmanager").create_secret(
        Name=secret, SecretString=json.dumps({"username": user, "password": password}))["ARN"])


def _password_in_database(server: CumuloServer, user: str) -> str:
    item = server.aws("dynamodb").get_item(TableName=TABLE, Key={"user": {"S": user}}, ConsistentRead=True)["Item"]
    return str(item["password"]["S"])


def _until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _current(server: CumuloServer, secret: str) -> dict[str, Any]:
    got = server.aws("secretsmanager").get_secret_value(SecretId=secret)
    return {"VersionId": got["VersionId"], **json.loads(got["SecretString"])}


def test_rotate_immediately_runs_the_four_steps_and_the_database_follows(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    function = _rotator(server, "rotator")
    arn = _database_user(server, "rotated/app", "app", "initial-password")
    before = _current(server, "rotated/app")
    started = sm.rotate_secret(SecretId="rotated/app", RotationLambdaARN=function,
                               RotationRules={"AutomaticallyAfterDays": 30})
    assert started["ARN"] == arn and started["VersionId"] != before["VersionId"]
    rotated = _until(lambda: sm.describe_secret(SecretId="rotated/app").get("LastRotatedDate"))
    assert rotated, server.output
    after = _current(server, "rotated/app")
    assert after["VersionId"] == started["VersionId"] and after["username"] == "app"
    assert after["password"] != "initial-password"
    assert _password_in_database(server, "app") == after["password"]          # setSecret changed the database
    described = sm.describe_secret(SecretId="rotated/app")
    assert described["RotationEnabled"] is True and described["RotationLambdaARN"] == function
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    # the next window is 30 days after the day of this rotation
    day = described["LastRotatedDate"].astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    assert (described["NextRotationDate"] - day).days == 30
    assert described["VersionIdsToStages"] == {started["VersionId"]: ["AWSCURRENT"],
                                               before["VersionId"]: ["AWSPREVIOUS"]}
    previous = sm.get_secret_value(SecretId="rotated/app", VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"])["password"] == "initial-password"


def test_a_failed_step_leaves_awscurrent_and_a_second_rotation_is_refused(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    function = _rotator(server, "rotator-failing", FAIL_AT="testSecret")
    _database_user(server, "rotated/failing", "failing", "kept-password")
    before = _current(server, "rotated/failing")
    started = sm.rotate_secret(SecretId="rotated/failing", RotationLambdaARN=function,
                               RotationRules={"ScheduleExpression": "rate(10 days)"})

    def pending_has_a_value() -> bool:        # createSecret and setSecret ran; testSecret fails after them
        try:
            sm.get_secret_value(SecretId="rotated/failing", VersionId=started["VersionId"], VersionStage="AWSPENDING")
            return True
        except ClientError:
            return False
    assert _until(pending_has_a_value)
    # the failure is in the function's log, as on AWS (CloudWatch Logs)
    logs = server.aws("logs")
    assert _until(lambda: any("the database refused the testSecret step" in e["message"] for e in logs.filter_log_events(
        logGroupName="/aws/lambda/rotator-failing")["events"]))
    time.sleep(0.5)
    assert _current(server, "rotated/failing") == before                      # AWSCURRENT did not move
    described = sm.describe_secret(SecretId="rotated/failing")
    assert "LastRotatedDate" not in described
    assert described["VersionIdsToStages"][started["VersionId"]] == ["AWSPENDING"]
    with pytest.raises(ClientError) as caught:
        sm.rotate_secret(SecretId="rotated/failing")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "previous rotation isn't complete" in caught.value.response["Error"]["Message"]
    # CancelRotateSecret stops the schedule and names the unfinished version
    cancelled = sm.cancel_rotate_secret(SecretId="rotated/failing")
    assert cancelled["VersionId"] == started["VersionId"]
    described = sm.describe_secret(SecretId="rotated/failing")
    assert described["RotationEnabled"] is False and "NextRotationDate" not in described


def test_secrets_manager_must_be_allowed_to_invoke_the_function(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    function = _rotator(server, "rotator-private", allowed=False)
    _database_user(server, "rotated/private", "private", "untouched")
    with pytest.raises(ClientError) as caught:
        sm.rotate_secret(SecretId="rotated/private", RotationLambdaARN=function,
                         RotationRules={"AutomaticallyAfterDays": 1})
    code, message = caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]
    assert code == "AccessDeniedException" and "secretsmanager.amazonaws.com" in message
    assert sm.describe_secret(SecretId="rotated/private")["RotationEnabled"] is False
    for bad in ({"ScheduleExpression": "cron(0 8 * *)"}, {"ScheduleExpression": "rate(1 hour)"},
                {"AutomaticallyAfterDays": 3, "ScheduleExpression": "rate(3 days)"},
                {"ScheduleExpression": "rate(1 day)", "Duration": "25h"}):
        with pytest.raises(ClientError) as caught:
            sm.rotate_secret(SecretId="rotated/private", RotationLambdaARN=function, RotationRules=bad)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterException", bad


def test_a_rotation_starts_when_its_window_opens(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    function = _rotator(server, "rotator-scheduled")
    _database_user(server, "rotated/scheduled", "scheduled", "first-password")
    before = _current(server, "rotated/scheduled")
    answer = sm.rotate_secret(SecretId="rotated/scheduled", RotationLambdaARN=function, RotateImmediately=False,
                              RotationRules={"ScheduleExpression": "rate(4 hours)", "Duration": "2h"})
    assert "VersionId" not in answer
    described = sm.describe_secret(SecretId="rotated/scheduled")
    assert described["RotationEnabled"] is True and "LastRotatedDate" not in described
    wait = described["NextRotationDate"] - datetime.now(timezone.utc)
    assert 3.9 * 3600 < wait.total_seconds() <= 4 * 3600
    time.sleep(2)
    assert _current(server, "rotated/scheduled") == before                    # nothing before the window
    # four hours pass: what the clock would do, done to the secret's record
    with Cumulo(home=server.home) as other:
        doc = other.store.get_document("secretsmanager-secret", "rotated/scheduled")
        assert doc is not None
        doc["Rotation"]["Next"] = time.time() - 1
        other.store.put_document("secretsmanager-secret", "rotated/scheduled", doc)
    rotated = _until(lambda: sm.describe_secret(SecretId="rotated/scheduled").get("LastRotatedDate"))
    assert rotated, server.output
    after = _current(server, "rotated/scheduled")
    assert after["VersionId"] != before["VersionId"] and after["password"] != "first-password"
    assert _password_in_database(server, "scheduled") == after["password"]
    described = sm.describe_secret(SecretId="rotated/scheduled")
    wait = described["NextRotationDate"] - described["LastRotatedDate"]
    assert wait.total_seconds() == pytest.approx(4 * 3600, abs=1)


TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  AppSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: rotated/template
      SecretString: '{"username": "tpl", "password": "tpl-initial"}'
  Rotator:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: tpl-rotator
      CodeUri: src/
      Handler: app.lambda_handler
      Runtime: python3.11
      Timeout: 30
      Role: %(role)s
      Environment:
        Variables:
          TABLE: %(table)s
  RotatorPermission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Rotator.Arn
      Action: lambda:InvokeFunction
      Principal: secretsmanager.amazonaws.com
%(rotation)s
"""
ROTATION = """  Rotation:
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: !Ref AppSecret
      RotationLambdaARN: !GetAtt Rotator.Arn
      RotationRules:
        ScheduleExpression: rate(7 days)
        Duration: 3h
"""


def _deploy(server: CumuloServer, folder: Path, rotation: str) -> subprocess.CompletedProcess[str]:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "app.py").write_text(ROTATOR)
    (folder / "template.yaml").write_text(TEMPLATE % {"role": ROLE, "table": TABLE, "rotation": rotation})
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "deploy",
                           str(folder / "template.yaml"), "--stack-name", "rot", "--no-build"],
                          capture_output=True, text=True, timeout=180)


def test_a_template_rotation_schedule_rotates_and_a_redeploy_keeps_the_rotated_value(
        server: CumuloServer, tmp_path: Path) -> None:
    sm = server.aws("secretsmanager")
    server.aws("dynamodb").put_item(TableName=TABLE, Item={"user": {"S": "tpl"}, "password": {"S": "tpl-initial"}})
    run = _deploy(server, tmp_path, ROTATION)
    assert run.returncode == 0, run.stdout + run.stderr
    # `cumulo deploy` serves no API: the server's worker starts the first rotation
    assert _until(lambda: sm.describe_secret(SecretId="rotated/template").get("LastRotatedDate")), server.output
    described = sm.describe_secret(SecretId="rotated/template")
    assert described["RotationLambdaARN"].endswith(":function:tpl-rotator")
    assert described["RotationRules"] == {"ScheduleExpression": "rate(7 days)", "Duration": "3h",
                                          "AutomaticallyAfterDays": 7}
    rotated = _current(server, "rotated/template")
    assert rotated["password"] != "tpl-initial" and _password_in_database(server, "tpl") == rotated["password"]
    # the same template again: nothing changes (the rotated value is not put back, no second rotation)
    run = _deploy(server, tmp_path, ROTATION)
    assert run.returncode == 0, run.stdout + run.stderr
    time.sleep(2)
    assert _current(server, "rotated/template") == rotated
    assert sm.describe_secret(SecretId="rotated/template")["LastRotatedDate"] == described["LastRotatedDate"]
    # dropped from the template: the rotation is cancelled, the secret kept
    run = _deploy(server, tmp_path, "")
    assert run.returncode == 0, run.stdout + run.stderr
    after = sm.describe_secret(SecretId="rotated/template")
    assert after["RotationEnabled"] is False and "NextRotationDate" not in after
    assert _current(server, "rotated/template") == rotated


def test_a_template_with_aws_hosted_rotation_is_refused(server: CumuloServer, tmp_path: Path) -> None:
    hosted = ROTATION.replace("      RotationLambdaARN: !GetAtt Rotator.Arn\n",
                              "      HostedRotationLambda: {RotationType: PostgreSQLSingleUser}\n")
    run = _deploy(server, tmp_path, hosted)
    assert run.returncode != 0
    assert "HostedRotationLambda" in run.stdout + run.stderr and "write the rotation function" in run.stdout + run.stderr


SAM_POLICY_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  SamRotator:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: sam-rotator
      CodeUri: src/
      Handler: app.lambda_handler
      Runtime: python3.11
      Timeout: 30
      Environment:
        Variables:
          TABLE: %(table)s
      Policies:
        - AWSSecretsManagerRotationPolicy:
            FunctionName: sam-rotator
        - DynamoDBCrudPolicy:
            TableName: %(table)s
  SamRotatorPermission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt SamRotator.Arn
      Action: lambda:InvokeFunction
      Principal: secretsmanager.amazonaws.com
"""


def test_sams_rotation_policy_template_lets_the_function_rotate_its_own_secrets_only(
        server: CumuloServer, tmp_path: Path) -> None:
    """The role SAM makes from AWSSecretsManagerRotationPolicy allows on the secret's
    ``secretsmanager:resource/AllowRotationLambdaArn``: the function rotates a secret whose rotation
    function it is, and cannot read another."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(ROTATOR + '''

def peek(event, context):
    return secrets.get_secret_value(SecretId=event["SecretId"])["SecretString"]
''')
    (tmp_path / "template.yaml").write_text(SAM_POLICY_TEMPLATE % {"table": TABLE})
    run = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "deploy",
                          str(tmp_path / "template.yaml"), "--stack-name", "sam-rot", "--no-build"],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    sm = server.aws("secretsmanager")
    _database_user(server, "sam/rotated", "samuser", "sam-first")
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sam-rotator"
    sm.rotate_secret(SecretId="sam/rotated", RotationLambdaARN=function, RotationRules={"AutomaticallyAfterDays": 30})
    assert _until(lambda: sm.describe_secret(SecretId="sam/rotated").get("LastRotatedDate")), server.output
    rotated = _current(server, "sam/rotated")
    assert rotated["password"] != "sam-first" and _password_in_database(server, "samuser") == rotated["password"]
    # a secret it does not rotate: its role's policy does not allow reading it
    sm.create_secret(Name="sam/not-mine", SecretString="hidden")
    lam = server.client()
    lam.update_function_configuration(FunctionName="sam-rotator", Handler="app.peek")
    _until(lambda: lam.get_function_configuration(FunctionName="sam-rotator")["LastUpdateStatus"] == "Successful")
    answer = lam.invoke(FunctionName="sam-rotator", Payload=json.dumps({"SecretId": "sam/not-mine"}))
    assert answer.get("FunctionError") and b"AccessDenied" in answer["Payload"].read()
