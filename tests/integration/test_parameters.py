"""Parameter Store as its users meet it: unchanged boto3 and ``aws ssm`` against a real ``cumulo up``
(IAM enforced): String, StringList and SecureString parameters, versions and Overwrite, paths,
paging, labels and selectors, history, AWS's errors and limits; a function reading parameters with
boto3 and no configuration; SecureString values never in the store's files in the clear."""

from __future__ import annotations

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
PLANTED = "ssm-9b2e41d7-secure-planted"
READER = '''
import boto3
ssm = boto3.client("ssm")
def handler(event, context):
    try:
        return {"value": ssm.get_parameter(Name=event["name"], WithDecryption=True)["Parameter"]["Value"]}
    except Exception as exc:
        return {"error": exc.response["Error"]["Code"]}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("parameters") / "home", store=new_store())
    yield s
    s.close()


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_parameters_of_each_type_versions_and_overwrite(server: CumuloServer) -> None:
    ssm = server.aws("ssm")
    out = ssm.put_parameter(Name="/app/flag", Value="on", Type="String")
    assert (out["Version"], out["Tier"]) == (1, "Standard")
    got = ssm.get_parameter(Name="/app/flag")["Parameter"]
    assert (got["Name"], got["Type"], got["Value"], got["Version"], got["DataType"], got["ARN"]) == (
        "/app/flag", "String", "on", 1, "text", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/flag")
    with pytest.raises(ClientError) as caught:
        ssm.put_parameter(Name="/app/flag", Value="off", Type="String")
    assert code(caught) == "ParameterAlreadyExists"
    assert ssm.put_parameter(Name="/app/flag", Value="off", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name="/app/flag")["Parameter"]["Value"] == "off"
    assert ssm.get_parameter(Name="/app/flag:1")["Parameter"]["Value"] == "on"
    assert ssm.get_parameter(Name="/app/flag:1")["Parameter"]["Selector"] == ":1"
    with pytest.raises(ClientError) as caught:
        ssm.get_parameter(Name="/app/flag:9")
    assert code(caught) == "ParameterVersionNotFound"

    ssm.put_parameter(Name="/app/hosts", Value="a,b,c", Type="StringList")
    assert ssm.get_parameter(Name="/app/hosts")["Parameter"]["Value"] == "a,b,c"

    ssm.put_parameter(Name="/app/db/password", Value="hunter2", Type="SecureString")
    hidden = ssm.get_parameter(Name="/app/db/password")["Parameter"]
    assert hidden["Type"] == "SecureString" and hidden["Value"] != "hunter2"
    assert ssm.get_parameter(Name="/app/db/password", WithDecryption=True)["Parameter"]["Value"] == "hunter2"
    meta = [p for p in ssm.describe_parameters()["Parameters"] if p["Name"] == "/app/db/password"][0]
    assert (meta["Type"], meta["KeyId"], meta["Version"]) == ("SecureString", "alias/aws/ssm", 1)

    history = ssm.get_parameter_history(Name="/app/flag")["Parameters"]
    assert [(h["Version"], h["Value"]) for h in history] == [(1, "on"), (2, "off")]

    found = ssm.get_parameters(Names=["/app/flag", "/app/nope", "/app/db/password"], WithDecryption=True)
    assert sorted(p["Value"] for p in found["Parameters"]) == ["hunter2", "off"]
    assert found["InvalidParameters"] == ["/app/nope"]
    with pytest.raises(ClientError) as caught:
        ssm.get_parameter(Name="/app/nope")
    assert code(caught) == "ParameterNotFound"


def test_paths_recursion_paging_and_filters(server: CumuloServer) -> None:
    ssm = server.aws("ssm")
    names = [f"/tree/{a}/{b}" for a in ("x", "y") for b in range(7)] + ["/tree/top", "/treetop"]
    for n in names:
        ssm.put_parameter(Name=n, Value=n, Type="String", Tags=[{"Key": "tree", "Value": "yes"}])
    one_level = ssm.get_parameters_by_path(Path="/tree")["Parameters"]
    assert [p["Name"] for p in one_level] == ["/tree/top"]
    paged = ssm.get_paginator("get_parameters_by_path").paginate(Path="/tree/", Recursive=True,
                                                                 PaginationConfig={"PageSize": 3})
    pages = [p["Parameters"] for p in paged]
    assert sorted(p["Name"] for page in pages for p in page) == sorted(names[:-1])
    assert max(len(page) for page in pages) == 3
    with pytest.raises(ClientError) as caught:
        ssm.get_parameters_by_path(Path="tree")
    assert code(caught) == "ValidationException"
    begins = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith",
                                                       "Values": ["/tree/x/"]}])["Parameters"]
    assert sorted(p["Name"] for p in begins) == [f"/tree/x/{b}" for b in range(7)]
    one = ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": ["/tree"]}])
    assert [p["Name"] for p in one["Parameters"]] == ["/tree/top"]
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/treetop")["TagList"] == [
        {"Key": "tree", "Value": "yes"}]
    deleted = ssm.delete_parameters(Names=["/treetop", "/tree/top", "/nothing"])
    assert (sorted(deleted["DeletedParameters"]), deleted["InvalidParameters"]) == (["/tree/top", "/treetop"],
                                                                                    ["/nothing"])
    ssm.delete_parameter(Name="/tree/x/0")
    with pytest.raises(ClientError) as caught:
        ssm.delete_parameter(Name="/tree/x/0")
    assert code(caught) == "ParameterNotFound"


def test_labels_move_between_versions(server: CumuloServer) -> None:
    ssm = server.aws("ssm")
    for value in ("v1", "v2", "v3"):
        ssm.put_parameter(Name="/lab/conf", Value=value, Type="String", Overwrite=True)
    out = ssm.label_parameter_version(Name="/lab/conf", ParameterVersion=1, Labels=["stable", "1bad", "awsx"])
    assert (out["InvalidLabels"], out["ParameterVersion"]) == (["1bad", "awsx"], 1)
    assert ssm.get_parameter(Name="/lab/conf:stable")["Parameter"]["Value"] == "v1"
    ssm.label_parameter_version(Name="/lab/conf", Labels=["stable"])          # the latest version
    assert ssm.get_parameter(Name="/lab/conf:stable")["Parameter"]["Value"] == "v3"
    labels = {h["Version"]: h["Labels"] for h in ssm.get_parameter_history(Name="/lab/conf")["Parameters"]}
    assert labels == {1: [], 2: [], 3: ["stable"]}
    removed = ssm.unlabel_parameter_version(Name="/lab/conf", ParameterVersion=3, Labels=["stable", "other"])
    assert (removed["RemovedLabels"], removed["InvalidLabels"]) == (["stable"], ["other"])
    with pytest.raises(ClientError) as caught:
        ssm.get_parameter(Name="/lab/conf:stable")
    assert code(caught) == "ParameterNotFound"


def test_names_sizes_and_tiers(server: CumuloServer) -> None:
    ssm = server.aws("ssm")
    for bad in ("aws.thing", "/ssm/x", "a/b", "/a b", "/" + "/".join("x" * 16)):
        with pytest.raises(ClientError) as caught:
            ssm.put_parameter(Name=bad, Value="v", Type="String")
        assert code(caught) in ("ValidationException", "HierarchyLevelLimitExceededException"), bad
    with pytest.raises(ClientError) as caught:
        ssm.put_parameter(Name="/big", Value="x" * 4097, Type="String")
    assert code(caught) == "ValidationException" and "4096" in caught.value.response["Error"]["Message"]
    assert ssm.put_parameter(Name="/big", Value="x" * 8192, Type="String", Tier="Advanced")["Tier"] == "Advanced"
    assert ssm.put_parameter(Name="/big2", Value="x" * 5000, Type="String",
                             Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    with pytest.raises(ClientError) as caught:
        ssm.put_parameter(Name="/big3", Value="x" * 8193, Type="String", Tier="Advanced")
    assert code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        ssm.put_parameter(Name="/pat", Value="abc", Type="String", AllowedPattern=r"^\d+$")
    assert code(caught) == "ParameterPatternMismatchException"
    with pytest.raises(ClientError) as caught:
        ssm.put_parameter(Name="/both", Value="v", Type="String", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}])
    assert code(caught) == "ValidationException"


def test_the_aws_cli(server: CumuloServer) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret}

    def aws(*args: str) -> Any:
        run = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "--region", "us-east-1",
                              "--output", "json", "ssm", *args], capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout) if run.stdout.strip() else None
    aws("put-parameter", "--name", "/cli/url", "--value", "db.internal:5432", "--type", "String")
    assert aws("get-parameter", "--name", "/cli/url")["Parameter"]["Value"] == "db.internal:5432"
    aws("put-parameter", "--name", "/cli/key", "--value", "k3y", "--type", "SecureString")
    got = aws("get-parameters-by-path", "--path", "/cli", "--with-decryption")["Parameters"]
    assert sorted((p["Name"], p["Value"]) for p in got) == [("/cli/key", "k3y"), ("/cli/url", "db.internal:5432")]


def test_a_function_reads_parameters_with_its_roles_permission(server: CumuloServer) -> None:
    ssm, iam = server.aws("ssm"), server.aws("iam")
    ssm.put_parameter(Name="/fn/allowed", Value="yes", Type="SecureString")
    ssm.put_parameter(Name="/fn/denied", Value="no", Type="String")
    iam.create_role(RoleName="param-reader", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="param-reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter",
                                                "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/fn/allowed"}]}))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", textwrap.dedent(READER))
    server.client().create_function(FunctionName="param-reader", Runtime="python3.11", Handler="app.handler",
                                    Role=f"arn:aws:iam::{ACCOUNT}:role/param-reader", Timeout=30,
                                    Code={"ZipFile": buffer.getvalue()})

    def invoke(name: str) -> Any:
        out = server.client().invoke(FunctionName="param-reader", Payload=json.dumps({"name": name}))
        return json.loads(out["Payload"].read())
    assert invoke("/fn/allowed") == {"value": "yes"}
    assert invoke("/fn/denied") == {"error": "AccessDeniedException"}


def test_secure_strings_are_not_in_the_store_files(server: CumuloServer) -> None:
    ssm = server.aws("ssm")
    ssm.put_parameter(Name="/planted", Value=PLANTED, Type="SecureString")
    ssm.put_parameter(Name="/planted", Value=PLANTED[::-1], Overwrite=True)           # stays a SecureString
    assert ssm.get_parameter(Name="/planted:1", WithDecryption=True)["Parameter"]["Value"] == PLANTED
    assert ssm.get_parameter(Name="/planted", WithDecryption=True)["Parameter"]["Type"] == "SecureString"
    kept = server.kept_at_rest()        # the home's files; on PostgreSQL the database's tables too
    assert holding(kept, b"/planted")   # the parameter's name is there to be seen: the search sees the store
    for needle in (PLANTED.encode(), PLANTED[::-1].encode()):
        assert holding(kept, needle) == []
    assert PLANTED not in server.output
