"""Functions call the platform with their role's credentials, with no configuration in their code.

Each environment gets ``AWS_ENDPOINT_URL`` (the server, as reached from inside the sandbox) and a
session of the function's ``Role`` named for the function (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), whatever builds it: forked from a template,
on-demand, Node.js, a custom runtime's ``bootstrap``. A boto3 client made at Init (in a template,
before any environment is forked from it) works too. The role's policies decide what it may do.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import sys
import textwrap
import zipfile
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

from cumulo.runtime import catalog
from tests.integration.test_server import CumuloServer

ACCOUNT = "000000000000"
ROLE_NAME = "fn-role"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
SEND = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
     "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:fn-orders"}]}
VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION")

PYTHON = '''
import os
import boto3

sqs = boto3.client("sqs")     # made at Init: in a template, before any environment is forked from it

def handler(event, context):
    out = {"arn": boto3.client("sts").get_caller_identity()["Arn"],
           "env": {k: os.environ.get(k) for k in %r}}
    if "queue" in event:
        try:
            url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
            out["sent"] = sqs.send_message(QueueUrl=url, MessageBody=event["body"])["MessageId"]
        except Exception as exc:
            out["error"] = getattr(exc, "response", {}).get("Error", {}).get("Code", repr(exc))
    return out
''' % (VARIABLES,)

NODE = '''
const http = require('http');
const names = %s;
exports.handler = () => new Promise((resolve) => {
  const env = Object.fromEntries(names.map((n) => [n, process.env[n] || null]));
  http.get(process.env.AWS_ENDPOINT_URL + '/', (res) => { res.resume(); resolve({env, status: res.statusCode}); })
    .on('error', (err) => resolve({env, status: err.code}));
});
''' % json.dumps(VARIABLES)

BOOTSTRAP = r'''#!/bin/bash
set -uo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" "$API/invocation/next" > /dev/null
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  STATUS="$(curl -s -o /dev/null -w '%{http_code}' "$AWS_ENDPOINT_URL/")"
  BODY="{\"status\": $STATUS, \"env\": {\"AWS_ENDPOINT_URL\": \"$AWS_ENDPOINT_URL\", \"AWS_ACCESS_KEY_ID\": \"$AWS_ACCESS_KEY_ID\", \"AWS_SECRET_ACCESS_KEY\": \"$AWS_SECRET_ACCESS_KEY\", \"AWS_SESSION_TOKEN\": \"$AWS_SESSION_TOKEN\", \"AWS_REGION\": \"$AWS_REGION\"}}"
  curl -sS -o /dev/null "$API/invocation/$ID/response" -d "$BODY"
done
'''

HOST_PYTHON = "python%d.%d" % sys.version_info[:2]
KINDS = [("forked", HOST_PYTHON, {"app.py": PYTHON}, {}),
         ("on-demand", HOST_PYTHON, {"app.py": PYTHON}, {"SnapStart": {"ApplyOn": "None"}}),
         ("node", "nodejs20.x", {"index.js": NODE}, {}),
         ("bootstrap", "provided.al2023", {"bootstrap": BOOTSTRAP}, {})]


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name == "bootstrap" else 0o644) << 16
            zf.writestr(info, text if name == "bootstrap" else textwrap.dedent(text))
    return buffer.getvalue()


def _missing(kind: str) -> str | None:
    if kind == "node" and catalog.unavailable("nodejs20.x") is not None:
        return f"[node] {catalog.unavailable('nodejs20.x')}"
    if kind == "bootstrap" and shutil.which("curl") is None:
        return "[curl] curl is not installed: the custom runtime's bootstrap needs it"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    running = CumuloServer(tmp_path_factory.mktemp("credentials") / "home")
    try:
        iam = running.aws("iam")
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="send", PolicyDocument=json.dumps(SEND))
        running.aws("sqs").create_queue(QueueName="fn-orders")
        running.aws("sqs").create_queue(QueueName="fn-elsewhere")
        lam = running.client()
        for kind, runtime, files, extra in KINDS:
            if _missing(kind) is None:
                lam.create_function(FunctionName=f"caller-{kind}", Runtime=runtime, Role=ROLE, Timeout=30,
                                    Handler="app.handler" if runtime.startswith("python") else "index.handler",
                                    Code={"ZipFile": _zip(files)}, **extra)
        yield running
    finally:
        running.close()


def invoke(server: CumuloServer, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = server.client().invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail")
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, (body, base64.b64decode(answer["LogResult"]).decode())
    return body


def as_function(server: CumuloServer, env: dict[str, str], service: str = "sts") -> Any:
    return boto3.session.Session().client(
        service, endpoint_url=server.endpoint, region_name="us-east-1", config=Config(retries={"max_attempts": 0}),
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"])


@pytest.mark.parametrize("kind", [k[0] for k in KINDS])
def test_every_environment_gets_the_endpoint_and_its_roles_session(server: CumuloServer, kind: str) -> None:
    if _missing(kind):
        pytest.skip(_missing(kind))
    body = invoke(server, f"caller-{kind}")
    env = body["env"]
    port = server.endpoint.rsplit(":", 1)[1]
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    expected = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/caller-{kind}"
    if "arn" in body:    # Python: boto3 inside the function, with no configuration
        assert body["arn"] == expected
    else:                # the endpoint is reachable from inside (an unsigned request is refused: 403)
        assert body["status"] == 403
    assert as_function(server, env).get_caller_identity()["Arn"] == expected


@pytest.mark.parametrize("kind", ["forked", "on-demand"])
def test_a_function_sends_to_a_queue_its_role_allows_and_no_other(server: CumuloServer, kind: str) -> None:
    body = invoke(server, f"caller-{kind}", {"queue": "fn-orders", "body": f"from {kind}"})
    assert body.get("sent"), body
    sqs = server.aws("sqs")
    url = sqs.get_queue_url(QueueName="fn-orders")["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert f"from {kind}" in [m["Body"] for m in got]
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    denied = invoke(server, f"caller-{kind}", {"queue": "fn-elsewhere", "body": "x"})
    assert denied.get("error") == "AccessDenied", denied


def test_a_function_whose_role_is_not_kept_runs_with_no_permissions(server: CumuloServer) -> None:
    lam = server.client()
    lam.create_function(FunctionName="stranger", Runtime=HOST_PYTHON, Role=f"arn:aws:iam::{ACCOUNT}:role/not-kept",
                        Handler="app.handler", Code={"ZipFile": _zip({"app.py": PYTHON})}, Timeout=30)
    body = invoke(server, "stranger", {"queue": "fn-orders", "body": "x"})
    assert body["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/not-kept/stranger"
    assert body["error"] == "AccessDenied"


def test_deleting_the_role_revokes_what_its_functions_hold(server: CumuloServer) -> None:
    iam = server.aws("iam")
    iam.create_role(RoleName="doomed", AssumeRolePolicyDocument=json.dumps(TRUST))
    server.client().create_function(FunctionName="doomed-fn", Runtime=HOST_PYTHON,
                                    Role=f"arn:aws:iam::{ACCOUNT}:role/doomed", Handler="app.handler",
                                    Code={"ZipFile": _zip({"app.py": PYTHON})}, Timeout=30)
    env = invoke(server, "doomed-fn")["env"]
    assert as_function(server, env).get_caller_identity()["Arn"].endswith("assumed-role/doomed/doomed-fn")
    iam.delete_role(RoleName="doomed")
    with pytest.raises(Exception) as caught:
        as_function(server, env).get_caller_identity()
    assert "InvalidClientTokenId" in str(caught.value)


@pytest.mark.parametrize("no_auth", [False, True], ids=["signed", "no-auth"])
def test_at_the_process_level_too_even_under_no_auth(tmp_path_factory: pytest.TempPathFactory, no_auth: bool) -> None:
    """Functions share the host's network there and reach the control plane's own port: a request with a
    session token is that session's even on a server that asks no signature of others."""
    running = CumuloServer(tmp_path_factory.mktemp("process") / "home", *(["--no-auth"] if no_auth else []),
                           env={"CUMULO_SANDBOX": "process"})
    try:
        running.client().create_function(FunctionName="p", Runtime=HOST_PYTHON, Role=ROLE, Handler="app.handler",
                                         Code={"ZipFile": _zip({"app.py": PYTHON})}, Timeout=30)
        body = invoke(running, "p")
        assert body["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/p"
        assert body["env"]["AWS_ENDPOINT_URL"] == running.endpoint.replace("localhost", "127.0.0.1")
    finally:
        running.close()
