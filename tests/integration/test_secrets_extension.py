"""AWS's Parameters and Secrets Lambda Extension on localhost:2773, for functions that have its
layer (api/secrets_extension.py): read during Init and per request, with the function's role
deciding, answers kept for their TTL, and the session token required."""

from __future__ import annotations

import json
import textwrap
import urllib.request
from typing import Any, Iterator

import pytest

from tests.integration.test_secrets import TRUST, _zip
from tests.integration.test_server import CumuloServer

ACCOUNT = "000000000000"
LAYER = "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:11"
# Init reads a feature flag through the extension, as the usual pattern does; each request reads
# what the event names (with or without the token, from the port the environment says).
APP = textwrap.dedent('''
    import json, os, urllib.error, urllib.request
    PORT = 2773

    def get(path, token=True):
        request = urllib.request.Request(f"http://localhost:{PORT}{path}")
        if token:
            request.add_header("X-Aws-Parameters-Secrets-Token", os.environ["AWS_SESSION_TOKEN"])
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    FLAG = get("/systemsmanager/parameters/get?name=/app/flag")

    def handler(event, context):
        return {"init": FLAG, "got": get(event["path"], event.get("token", True))}
''')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("extension") / "home")
    sm, ssm, iam = s.aws("secretsmanager"), s.aws("ssm"), s.aws("iam")
    s.secret_arn = sm.create_secret(Name="app/db", SecretString="first")["ARN"]   # type: ignore[attr-defined]
    sm.create_secret(Name="app/other", SecretString="not yours")
    ssm.put_parameter(Name="/app/flag", Value="on", Type="String")
    ssm.put_parameter(Name="/app/token", Value="s3cr3t", Type="SecureString")
    iam.create_role(RoleName="ext-reader", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="ext-reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": s.secret_arn},   # type: ignore[attr-defined]
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}))
    yield s
    s.close()


def _function(server: CumuloServer, name: str, **extra: Any) -> None:
    server.client().create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler", Timeout=30,
                                    Role=f"arn:aws:iam::{ACCOUNT}:role/ext-reader", Code={"ZipFile": _zip(APP)},
                                    Layers=[LAYER], **extra)


def _invoke(server: CumuloServer, name: str, path: str, **event: Any) -> Any:
    out = server.client().invoke(FunctionName=name, Payload=json.dumps({"path": path, **event}))
    doc = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, doc
    return doc


def test_a_function_with_the_layer_reads_secrets_and_parameters_from_localhost_2773(server: CumuloServer) -> None:
    _function(server, "reader")
    config = server.client().get_function_configuration(FunctionName="reader")
    assert [layer["Arn"] for layer in config["Layers"]] == [LAYER]
    got = _invoke(server, "reader", "/secretsmanager/get?secretId=app/db")
    assert got["init"][0] == 200 and got["init"][1]["Parameter"]["Value"] == "on"     # during Init
    status, secret = got["got"]
    assert status == 200 and secret["SecretString"] == "first" and secret["ARN"] == server.secret_arn  # type: ignore[attr-defined]
    assert secret["VersionStages"] == ["AWSCURRENT"]
    status, param = _invoke(server, "reader", "/systemsmanager/parameters/get?name=/app/token&withDecryption=true")["got"]
    assert (status, param["Parameter"]["Type"], param["Parameter"]["Value"]) == (200, "SecureString", "s3cr3t")
    status, hidden = _invoke(server, "reader", "/systemsmanager/parameters/get?name=/app/token")["got"]
    assert status == 200 and hidden["Parameter"]["Value"] != "s3cr3t"                 # still encrypted
    status, version = _invoke(server, "reader", "/systemsmanager/parameters/get?name=/app/flag&version=1")["got"]
    assert (status, version["Parameter"]["Version"]) == (200, 1)


def test_the_role_decides_and_the_session_token_is_required(server: CumuloServer) -> None:
    _function(server, "guarded")
    status, body = _invoke(server, "guarded", "/secretsmanager/get?secretId=app/other")["got"]
    # the API's own error answer, passed on with its status
    assert status in (400, 403) and json.loads(body)["__type"].endswith("AccessDeniedException"), body
    assert "assumed-role/ext-reader/guarded is not authorized to perform: secretsmanager:GetSecretValue" in body
    status, body = _invoke(server, "guarded", "/secretsmanager/get?secretId=app/db", token=False)["got"]
    assert status == 401, body
    status, body = _invoke(server, "guarded", "/systemsmanager/parameters/get?name=/app/missing")["got"]
    assert status == 400 and json.loads(body)["__type"].endswith("ParameterNotFound"), body
    status, body = _invoke(server, "guarded", "/secretsmanager/get")["got"]
    assert status == 400 and "secretId" in body


def test_answers_are_kept_for_their_ttl(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    _function(server, "cached")
    _function(server, "uncached", Environment={"Variables": {"SECRETS_MANAGER_TTL": "0"}})
    path = "/secretsmanager/get?secretId=app/db"
    before = {name: _invoke(server, name, path)["got"][1]["SecretString"] for name in ("cached", "uncached")}
    sm.put_secret_value(SecretId="app/db", SecretString="second")
    after = {name: _invoke(server, name, path)["got"][1]["SecretString"] for name in ("cached", "uncached")}
    assert before == {"cached": "first", "uncached": "first"}
    assert after == {"cached": "first", "uncached": "second"}    # 300 s by default; 0: never kept
    sm.put_secret_value(SecretId="app/db", SecretString="first")


def test_a_function_without_the_layer_is_not_served(server: CumuloServer) -> None:
    server.client().create_function(FunctionName="plain", Runtime="python3.11", Handler="app.handler", Timeout=30,
                                    Role=f"arn:aws:iam::{ACCOUNT}:role/ext-reader", Code={"ZipFile": _zip(APP)})
    init_status, _ = _invoke(server, "plain", "/secretsmanager/get?secretId=app/db")["init"]
    status, body = _invoke(server, "plain", "/secretsmanager/get?secretId=app/db")["got"]
    assert (init_status, status) == (404, 404) and "not among this function's layers" in body
