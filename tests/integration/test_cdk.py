"""The AWS CDK's own CLI pointed at Cumulo: ``cdk bootstrap`` then ``cdk deploy`` of a CDK app (a
Python function behind a REST API that queues what it is sent), unchanged, with ``AWS_ENDPOINT_URL``
set, then ``cdk destroy``. Underneath: the bootstrap template (its roles, bucket, bucket policy and
container repository), STS AssumeRole into the bootstrap's roles, the assets uploaded to the staging
bucket as the file-publishing role (allowed by ``aws:ResourceAccount``), a change set created by
the deploy role and executed with the CloudFormation execution role it passes (``RoleARN``).

The CDK's npm packages are installed once into ``~/.cache/cumulo-tests/cdk`` (the npm registry);
without Node.js and npm this skips as ``[node]``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.slow
PACKAGES = ("aws-cdk@2.1149.0", "aws-cdk-lib@2.278.0", "constructs@10.8.1")
CACHE = Path.home() / ".cache" / "cumulo-tests" / "cdk"

APP = """\
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const sqs = require('aws-cdk-lib/aws-sqs');
const apigw = require('aws-cdk-lib/aws-apigateway');

class JobsStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const jobs = new sqs.Queue(this, 'Jobs', { visibilityTimeout: cdk.Duration.seconds(30) });
    const enqueue = new lambda.Function(this, 'Enqueue', {
      runtime: lambda.Runtime.PYTHON_3_12, handler: 'index.handler',
      code: lambda.Code.fromAsset('lambda'), environment: { QUEUE_URL: jobs.queueUrl } });
    jobs.grantSendMessages(enqueue);
    const api = new apigw.LambdaRestApi(this, 'Api', { handler: enqueue });
    new cdk.CfnOutput(this, 'QueueUrl', { value: jobs.queueUrl });
  }
}
new JobsStack(new cdk.App(), 'CdkJobs');
"""
HANDLER = """\
import json
import os

import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=event["body"] or "")
    return {"statusCode": 200, "body": json.dumps({"queued": True})}
"""


@pytest.fixture(scope="module")
def cdk() -> Path:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"[node] {', '.join(missing)} not installed")
    marker = CACHE / ".installed"
    if not marker.exists() or marker.read_text() != " ".join(PACKAGES):
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CACHE),
                               *PACKAGES], capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"[node] the AWS CDK cannot be installed here: {done.stderr.strip()[-400:]}")
        marker.write_text(" ".join(PACKAGES))
    return CACHE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("cdk") / "home")
    yield s
    s.close()


def _cdk(cdk: Path, server: CumuloServer, app: Path, *args: str) -> str:
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": server.key_id,
           "AWS_SECRET_ACCESS_KEY": server.secret, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "NODE_PATH": str(cdk / "node_modules"), "CDK_DISABLE_VERSION_CHECK": "1", "CI": "true"}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(name, None)
    done = subprocess.run([str(cdk / "node_modules" / ".bin" / "cdk"), *args, "--app", "node app.js", "--no-notices"],
                          cwd=app, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"cdk {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done.stdout + done.stderr


def test_cdk_bootstrap_deploy_and_destroy(cdk: Path, server: CumuloServer, tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "lambda").mkdir(parents=True)
    (app / "app.js").write_text(APP)
    (app / "lambda" / "index.py").write_text(HANDLER)

    assert "bootstrapped" in _cdk(cdk, server, app, "bootstrap", "aws://000000000000/us-east-1")
    said = _cdk(cdk, server, app, "deploy", "--require-approval", "never")
    assert "CdkJobs" in said

    cfn = server.aws("cloudformation")
    [stack] = cfn.describe_stacks(StackName="CdkJobs")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    endpoint = next(value for key, value in outputs.items() if key.startswith("ApiEndpoint"))
    assert endpoint.startswith("http://127.0.0.1:")          # the gateway's own URL for the REST API's stage
    request = urllib.request.Request(endpoint + "jobs", data=b'{"job": 7}', method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.loads(answer.read()) == {"queued": True}
    received: dict[str, Any] = server.aws("sqs").receive_message(QueueUrl=outputs["QueueUrl"], WaitTimeSeconds=10)
    assert [m["Body"] for m in received["Messages"]] == ['{"job": 7}']

    _cdk(cdk, server, app, "destroy", "--force")
    summaries = cfn.list_stacks()["StackSummaries"]
    assert not [s for s in summaries if s["StackName"] == "CdkJobs" and s["StackStatus"] != "DELETE_COMPLETE"]
