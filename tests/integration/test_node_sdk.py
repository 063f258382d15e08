"""The AWS SDK for JavaScript v3 as AWS's Node.js runtimes offer it (runtime/node_sdk.py): a function
requires or imports ``@aws-sdk/client-*`` without bundling it, and calls the platform with its role's
session and ``AWS_ENDPOINT_URL`` — no configuration in its code."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any, Iterator

import pytest

from cumulo.runtime import catalog, node_sdk
from tests.integration.test_function_credentials import ACCOUNT, ROLE, ROLE_NAME, SEND, TRUST
from tests.integration.test_server import CumuloServer

COMMONJS = """
const { SQSClient, GetQueueUrlCommand, SendMessageCommand } = require("@aws-sdk/client-sqs");
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
const sqs = new SQSClient({});
exports.handler = async (event) => {
  const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: event.queue }));
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: event.body }));
    return { arn: who.Arn, sent: sent.MessageId };
  } catch (err) {
    return { arn: who.Arn, error: err.name };
  }
};
"""

ES_MODULE = """
import { SQSClient, GetQueueUrlCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
const sqs = new SQSClient({});
export const handler = async (event) => {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: event.queue }));
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: event.body }));
  return { sent: sent.MessageId };
};
"""


def _zip(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    missing = catalog.unavailable("nodejs20.x")
    if missing is not None:
        pytest.skip(f"[node] {missing}")
    installed, why = node_sdk.install()
    if installed is None:
        pytest.skip(f"[node] the AWS SDK for JavaScript cannot be installed here: {why}")
    running = CumuloServer(tmp_path_factory.mktemp("node-sdk") / "home")
    try:
        iam = running.aws("iam")
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="send", PolicyDocument=json.dumps(SEND))
        for queue in ("fn-orders", "fn-elsewhere"):
            running.aws("sqs").create_queue(QueueName=queue)
        lam = running.client()
        lam.create_function(FunctionName="cjs", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": _zip(**{"index.js": COMMONJS})}, Timeout=30)
        lam.create_function(FunctionName="esm", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": _zip(**{"index.mjs": ES_MODULE})}, Timeout=30)
        yield running
    finally:
        running.close()


def _invoke(server: CumuloServer, name: str, event: dict[str, Any]) -> dict[str, Any]:
    answer = server.client().invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, (body, base64.b64decode(answer["LogResult"]).decode())
    return body


def _received(server: CumuloServer, queue: str) -> list[str]:
    sqs = server.aws("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def test_a_commonjs_function_calls_the_platform_with_its_roles_session(server: CumuloServer) -> None:
    out = _invoke(server, "cjs", {"queue": "fn-orders", "body": "from node"})
    assert out["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/cjs" and out["sent"]
    assert _received(server, "fn-orders") == ["from node"]
    # its role allows sending to fn-orders only: AWS's error name through the SDK
    assert _invoke(server, "cjs", {"queue": "fn-elsewhere", "body": "x"})["error"] == "AccessDenied"


def test_an_es_module_imports_the_sdk_by_its_bare_name(server: CumuloServer) -> None:
    out = _invoke(server, "esm", {"queue": "fn-orders", "body": "from an es module"})
    assert out["sent"] and _received(server, "fn-orders") == ["from an es module"]
