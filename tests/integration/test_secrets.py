"""Secrets Manager as its users meet it: unchanged boto3 and ``aws secretsmanager`` against a real
``cumulo up`` (IAM enforced): secrets' values and versions, staging labels, deletion with a recovery
window, AWS's errors; a function reading a secret with boto3 and no configuration, allowed by its
role's policy and refused without it; and the store's files holding no secret in the clear."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer, holding

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"
ACCOUNT = "000000000000"
ROLE_NAME = "reader-role"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
PLANTED = "pw-7f3a9c1e-planted-in-the-store"
READER = '''
import json, boto3
client = boto3.client("secretsmanager")
def handler(event, context):
    try:
        value = client.get_secret_value(SecretId=event["id"])["SecretString"]
        return {"password": json.loads(value)["password"]}
    except Exception as exc:
        return {"error": exc.response["Error"]["Code"]}
'''


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", textwrap.dedent(text))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("secrets") / "home", store=new_store())
    yield s
    s.close()


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    e = caught.value.response["Error"]
    return e["Code"], e["Message"]


def test_a_secret_is_created_read_changed_and_its_versions_staged(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    made = sm.create_secret(Name="prod/db", SecretString='{"password": "one"}', Description="the database",
                            Tags=[{"Key": "team", "Value": "core"}])
    assert made["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-")
    assert len(made["ARN"]) == len(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-") + 6
    first = made["VersionId"]
    got = sm.get_secret_value(SecretId="prod/db")
    assert (got["SecretString"], got["VersionId"], got["VersionStages"], got["ARN"]) == (
        '{"password": "one"}', first, ["AWSCURRENT"], made["ARN"])
    # by ARN, and by the ARN without its suffix
    assert sm.get_secret_value(SecretId=made["ARN"])["VersionId"] == first
    assert sm.get_secret_value(SecretId=made["ARN"][:-7])["VersionId"] == first

    second = sm.put_secret_value(SecretId="prod/db", SecretString='{"password": "two"}')
    assert second["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId="prod/db")["SecretString"] == '{"password": "two"}'
    previous = sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPREVIOUS")
    assert (previous["VersionId"], previous["SecretString"]) == (first, '{"password": "one"}')

    # a pending version does not move AWSCURRENT; a retried request (same token, same value) changes nothing
    token = "a" * 32
    pending = sm.put_secret_value(SecretId="prod/db", SecretString="three", VersionStages=["AWSPENDING"],
                                  ClientRequestToken=token)
    again = sm.put_secret_value(SecretId="prod/db", SecretString="three", VersionStages=["AWSPENDING"],
                                ClientRequestToken=token)
    assert pending["VersionId"] == again["VersionId"] == token
    with pytest.raises(ClientError) as caught:
        sm.put_secret_value(SecretId="prod/db", SecretString="four", ClientRequestToken=token)
    assert error(caught)[0] == "ResourceExistsException"
    stages = sm.describe_secret(SecretId="prod/db")["VersionIdsToStages"]
    assert stages == {first: ["AWSPREVIOUS"], second["VersionId"]: ["AWSCURRENT"], token: ["AWSPENDING"]}

    # finishing a rotation: AWSCURRENT moves to the pending version, AWSPREVIOUS follows
    sm.update_secret_version_stage(SecretId="prod/db", VersionStage="AWSCURRENT", MoveToVersionId=token,
                                   RemoveFromVersionId=second["VersionId"])
    stages = sm.describe_secret(SecretId="prod/db")["VersionIdsToStages"]
    assert stages[token] == ["AWSPENDING", "AWSCURRENT"] and stages[second["VersionId"]] == ["AWSPREVIOUS"]
    assert first not in stages
    assert sm.get_secret_value(SecretId="prod/db")["SecretString"] == "three"
    with pytest.raises(ClientError) as caught:
        sm.update_secret_version_stage(SecretId="prod/db", VersionStage="AWSCURRENT", MoveToVersionId=first)
    assert error(caught)[0] == "InvalidParameterException"      # it is on another version: say where from

    described = sm.describe_secret(SecretId="prod/db")
    assert (described["Name"], described["Description"], described["Tags"]) == (
        "prod/db", "the database", [{"Key": "team", "Value": "core"}])
    sm.update_secret(SecretId="prod/db", Description="still the database")
    assert sm.describe_secret(SecretId="prod/db")["Description"] == "still the database"
    ids = [v["VersionId"] for v in sm.list_secret_version_ids(SecretId="prod/db", IncludeDeprecated=True)["Versions"]]
    assert set(ids) == {first, second["VersionId"], token}


def test_binary_secrets_tags_listing_and_random_passwords(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    sm.create_secret(Name="list/bin", SecretBinary=b"\x00\x01\xff")
    assert sm.get_secret_value(SecretId="list/bin")["SecretBinary"] == b"\x00\x01\xff"
    sm.create_secret(Name="list/empty", Description="Holds Nothing Yet")
    with pytest.raises(ClientError) as caught:
        sm.get_secret_value(SecretId="list/empty")
    assert error(caught) == ("ResourceNotFoundException",
                             "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
    sm.tag_resource(SecretId="list/bin", Tags=[{"Key": "env", "Value": "prod"}])
    names = lambda **kw: sorted(s["Name"] for s in sm.list_secrets(**kw)["SecretList"])  # noqa: E731
    assert names(Filters=[{"Key": "name", "Values": ["list/"]}]) == ["list/bin", "list/empty"]
    assert names(Filters=[{"Key": "tag-key", "Values": ["env"]}]) == ["list/bin"]
    assert names(Filters=[{"Key": "description", "Values": ["holds"]}]) == ["list/empty"]
    assert names(Filters=[{"Key": "name", "Values": ["list/"]}, {"Key": "tag-key", "Values": ["!env"]}]) == ["list/empty"]
    sm.untag_resource(SecretId="list/bin", TagKeys=["env"])
    assert sm.describe_secret(SecretId="list/bin")["Tags"] == []
    paged = sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 1})
    assert len([s for p in paged for s in p["SecretList"]]) == len(sm.list_secrets()["SecretList"])

    pw = sm.get_random_password(PasswordLength=40, ExcludePunctuation=True)["RandomPassword"]
    assert len(pw) == 40 and pw.isalnum() and any(c.isdigit() for c in pw) and any(c.isupper() for c in pw)
    with pytest.raises(ClientError) as caught:
        sm.get_random_password(PasswordLength=5000)
    assert error(caught)[0] in ("InvalidParameterException", "ValidationException")


def test_deletion_has_a_recovery_window_and_aws_errors(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    sm.create_secret(Name="gone/soon", SecretString="x")
    with pytest.raises(ClientError) as caught:
        sm.create_secret(Name="gone/soon", SecretString="y")
    assert error(caught) == ("ResourceExistsException", "The operation failed because the secret gone/soon already exists.")
    deleted = sm.delete_secret(SecretId="gone/soon", RecoveryWindowInDays=7)
    assert deleted["DeletionDate"] > sm.describe_secret(SecretId="gone/soon")["DeletedDate"]
    for call in (lambda: sm.get_secret_value(SecretId="gone/soon"),
                 lambda: sm.put_secret_value(SecretId="gone/soon", SecretString="z")):
        with pytest.raises(ClientError) as caught:
            call()
        assert error(caught) == ("InvalidRequestException", "You can't perform this operation on the secret "
                                 "because it was marked for deletion.")
    with pytest.raises(ClientError) as caught:
        sm.create_secret(Name="gone/soon", SecretString="y")
    assert error(caught)[0] == "InvalidRequestException"
    assert "gone/soon" not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert "gone/soon" in [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    sm.restore_secret(SecretId="gone/soon")
    assert sm.get_secret_value(SecretId="gone/soon")["SecretString"] == "x"

    with pytest.raises(ClientError) as caught:
        sm.delete_secret(SecretId="gone/soon", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert error(caught)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        sm.delete_secret(SecretId="gone/soon", RecoveryWindowInDays=3)
    assert error(caught)[0] == "InvalidParameterException"
    sm.delete_secret(SecretId="gone/soon", ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as caught:
        sm.describe_secret(SecretId="gone/soon")
    assert error(caught) == ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    sm.create_secret(Name="gone/soon", SecretString="again")          # the name is free at once
    with pytest.raises(ClientError) as caught:
        sm.create_secret(Name="two values", SecretString="a", SecretBinary=b"b")
    assert error(caught)[0] in ("InvalidParameterException", "ValidationException")


def test_the_aws_cli(server: CumuloServer) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret}

    def aws(*args: str) -> Any:
        run = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "--region", "us-east-1",
                              "--output", "json", "secretsmanager", *args], capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout) if run.stdout.strip() else None
    aws("create-secret", "--name", "cli/token", "--secret-string", "s3cr3t")
    assert aws("get-secret-value", "--secret-id", "cli/token")["SecretString"] == "s3cr3t"
    aws("put-secret-value", "--secret-id", "cli/token", "--secret-string", "n3w")
    assert aws("get-secret-value", "--secret-id", "cli/token", "--version-stage", "AWSPREVIOUS")["SecretString"] == "s3cr3t"
    assert aws("delete-secret", "--secret-id", "cli/token", "--force-delete-without-recovery")["Name"] == "cli/token"


def test_a_function_reads_a_secret_with_its_roles_permission(server: CumuloServer) -> None:
    sm, iam = server.aws("secretsmanager"), server.aws("iam")
    arn = sm.create_secret(Name="app/db", SecretString=json.dumps({"password": "from-the-store"}))["ARN"]
    sm.create_secret(Name="app/other", SecretString=json.dumps({"password": "not-yours"}))
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}]}))
    server.client().create_function(FunctionName="reader", Runtime="python3.11", Handler="app.handler", Role=ROLE,
                                    Timeout=30, Code={"ZipFile": _zip(READER)})

    def invoke(secret_id: str) -> Any:
        out = server.client().invoke(FunctionName="reader", Payload=json.dumps({"id": secret_id}))
        return json.loads(out["Payload"].read())
    assert invoke("app/db") == {"password": "from-the-store"}
    assert invoke(arn) == {"password": "from-the-store"}
    assert invoke("app/other") == {"error": "AccessDeniedException"}


def test_the_store_files_hold_no_secret_in_the_clear(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    sm.create_secret(Name="planted", SecretString=PLANTED)
    sm.put_secret_value(SecretId="planted", SecretBinary=PLANTED.encode()[::-1])
    assert sm.get_secret_value(SecretId="planted", VersionStage="AWSPREVIOUS")["SecretString"] == PLANTED
    key = server.home / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    kept = server.kept_at_rest()        # the home's files; on PostgreSQL the database's tables too
    assert any(where.endswith(".db") or where.startswith("table ") for where in kept)
    assert holding(kept, b"planted")    # the secret's name is there to be seen: the search sees the store
    for needle in (PLANTED.encode(), PLANTED.encode()[::-1], base64.b64encode(PLANTED.encode()),
                   PLANTED.encode("utf-16-le")):
        assert holding(kept, needle) == []
    assert PLANTED not in server.output


def test_a_wrong_or_missing_master_key_is_a_refusal_to_start(tmp_path: Path, new_store: Callable[[], str]) -> None:
    home, store = tmp_path / "home", new_store()
    first = CumuloServer(home, store=store)
    first.aws("secretsmanager").create_secret(Name="kept", SecretString="value")
    first.close()
    key = (home / "master.key").read_bytes()
    wrong = base64.b64encode(bytes(32)).decode()
    for env, remove in (({"CUMULO_MASTER_KEY": wrong}, False), ({}, True)):
        if remove:
            (home / "master.key").unlink()
        run = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), "up", "--port", "0", "--console-port", "0",
                              "--gateway-port", "0", *(["--store", store] if store else [])], capture_output=True,
                             text=True, timeout=60,
                             env={**os.environ, **env})
        assert run.returncode == 3, run.stderr
        assert run.stderr.startswith("cumulo: the master key") and "Traceback" not in run.stderr, run.stderr
    assert not (home / "master.key").exists()      # no new key was made over the old one's values
    (home / "master.key").write_bytes(key)
    again = CumuloServer(home, store=store)
    try:
        assert again.aws("secretsmanager").get_secret_value(SecretId="kept")["SecretString"] == "value"
    finally:
        again.close()


ENV_READER = '''
import os
def handler(event, context):
    return {"token": os.environ["API_TOKEN"]}
'''


def test_functions_environment_variables_are_sealed_at_rest(server: CumuloServer) -> None:
    planted = "env-5e1f0a2b-planted-variable"
    lam = server.client()
    lam.create_function(FunctionName="env-sealed", Runtime="python3.11", Handler="app.handler", Timeout=30,
                        Role=f"arn:aws:iam::{ACCOUNT}:role/any", Code={"ZipFile": _zip(ENV_READER)},
                        Environment={"Variables": {"API_TOKEN": planted}})
    lam.publish_version(FunctionName="env-sealed")
    lam.update_function_configuration(FunctionName="env-sealed", Environment={"Variables": {"API_TOKEN": planted[::-1]}})
    assert lam.get_function_configuration(FunctionName="env-sealed")["Environment"]["Variables"] == {
        "API_TOKEN": planted[::-1]}
    out = lam.invoke(FunctionName="env-sealed", Qualifier="1", Payload=b"{}")
    assert json.loads(out["Payload"].read()) == {"token": planted}
    kept = server.kept_at_rest()        # the home's files; on PostgreSQL the database's tables too
    assert holding(kept, b"env-sealed")     # the function's name is there to be seen: the search sees the store
    for needle in (planted.encode(), planted[::-1].encode()):
        assert holding(kept, needle) == []
