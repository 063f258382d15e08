"""The AWS SAM CLI, unchanged, pointed at Cumulo with ``AWS_ENDPOINT_URL``: ``sam deploy`` (its
managed artifacts bucket made with ``--resolve-s3``, the code packaged into Cumulo's S3, a change
set reviewed and executed), the deployed HTTP API answering, an update, and ``sam delete``."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.sam_cli import sam_cli
from tests.integration.test_server import CumuloServer

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: an app as sam init makes them
Globals:
  Function:
    Timeout: 10
    Runtime: python3.12
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Environment:
        Variables:
          GREETING: hello
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get
Outputs:
  HelloApi:
    Description: the API's URL
    Value: !Sub "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/hello"
"""

APP = """\
import json, os
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"message": os.environ["GREETING"] + " VERSION"})}
"""


@pytest.fixture(scope="module")
def sam() -> Path:
    program, why = sam_cli()
    if program is None:
        pytest.skip(f"[sam-cli] {why}")
    return program


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("sam") / "home")
    try:
        yield s
    finally:
        s.close()


def _run(sam: Path, server: CumuloServer, folder: Path, *args: str) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "AWS_ENDPOINT_URL": server.endpoint,
           "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0", "SAM_CLI_CONTAINER_CONNECTION_TIMEOUT": "1"}
    done = subprocess.run([str(sam), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def test_sam_deploy_update_and_delete(sam: Path, server: CumuloServer, tmp_path: Path) -> None:
    (tmp_path / "hello_world").mkdir()
    (tmp_path / "hello_world" / "app.py").write_text(APP.replace("VERSION", "one"))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    deploy = ("deploy", "--template-file", "template.yaml", "--stack-name", "sam-app", "--resolve-s3",
              "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset")
    out = _run(sam, server, tmp_path, *deploy)
    assert "Successfully created/updated stack - sam-app in us-east-1" in out, out
    cfn = server.aws("cloudformation")
    (stack,) = cfn.describe_stacks(StackName="sam-app")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    url = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["HelloApi"]
    assert _get(url) == {"message": "hello one"}
    (managed,) = cfn.describe_stacks(StackName="aws-sam-cli-managed-default")["Stacks"]
    assert {"Key": "ManagedStackSource", "Value": "AwsSamCli"} in managed["Tags"]
    bucket = managed["Outputs"][0]["OutputValue"]

    def artifacts() -> set[str]:
        return {o["Key"] for o in server.aws("s3").list_objects_v2(Bucket=bucket).get("Contents", [])}

    first = artifacts()
    assert any(k.endswith(".template") for k in first) and len(first) == 2      # the code's zip, the template

    (tmp_path / "hello_world" / "app.py").write_text(APP.replace("VERSION", "two"))
    out = _run(sam, server, tmp_path, *deploy)
    assert "Modify" in out and "UPDATE_COMPLETE" in out, out
    assert _get(url) == {"message": "hello two"}

    assert len(artifacts() - first) == 2                                          # the update's own two

    out = _run(sam, server, tmp_path, "delete", "--stack-name", "sam-app", "--no-prompts")
    assert "Deleted successfully" in out, out
    assert "sam-app" not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert artifacts() == first     # the current template's artifacts removed, as sam delete does on AWS
