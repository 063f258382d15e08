"""Plain CloudFormation as people write it (tests/corpus/cloudformation): a ``cdk synth``-style JSON stack, a
hand-written YAML one with local code paths, and a SAM application that mixes in raw resources and includes
its OpenAPI file, each deployed by an unchanged client against a real ``cumulo up`` (boto3's
``create_stack``, the AWS CLI's ``cloudformation package`` then ``deploy``), then used as its users would:
functions invoked with boto3, routes called over HTTP, an event put on the bus, a message sent to the
queue, an execution started."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_cloudformation_write import _outputs, cfn, server  # noqa: F401 - fixtures
from tests.integration.test_server import CumuloServer

AWS = Path(sys.executable).parent / "aws"
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "cloudformation"


def _invoke(server: CumuloServer, name: str, event: Any = None) -> Any:
    answer = server.client().invoke(FunctionName=name, Payload=json.dumps(event or {}))
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _logged(server: CumuloServer, function: str, text: str) -> bool:
    logs = server.aws("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except ClientError:
        return False
    return any(text in e["message"] for e in events)


def _aws_cli(server: CumuloServer, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_ENDPOINT_URL": server.endpoint}
    return subprocess.run([str(AWS), "cloudformation", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


def _package_and_deploy(server: CumuloServer, app: str, stack: str, tmp_path: Path, *extra: str) -> None:
    """As a team ships a template with local code: package (code to S3), then deploy (change sets)."""
    folder = tmp_path / app
    shutil.copytree(CORPUS / app, folder)
    bucket = f"artifacts-{app}"
    server.aws("s3").create_bucket(Bucket=bucket)
    packaged = _aws_cli(server, folder, "package", "--template-file", "template.yaml", "--s3-bucket", bucket,
                        "--output-template-file", "packaged.yaml")
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    deployed = _aws_cli(server, folder, "deploy", "--template-file", "packaged.yaml", "--stack-name", stack,
                        "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND", "--s3-bucket", bucket, *extra)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr


def test_a_cdk_synthesized_http_api_with_a_versioned_function_and_an_authorizer(server: CumuloServer,
                                                                                  cfn: BaseClient) -> None:
    # `cdk bootstrap` leaves the version its templates check; a template made by `cdk synth` reads it.
    server.aws("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="21", Type="String")
    body = (CORPUS / "cdk-http-api" / "template.json").read_text()
    cfn.create_stack(StackName="GreeterStack", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName="GreeterStack")
    out = _outputs(cfn, "GreeterStack")
    # The alias is the version the stack published; invoking it runs that version.
    assert out["AliasArn"].endswith(f"function:{out['FunctionName']}:live") and out["Version"] == "1"
    answer = _invoke(server, out["AliasArn"], {"queryStringParameters": {"name": "ada"}})
    assert answer == {"greeting": "hello, ada", "route": None, "version": "1"}
    assert server.client().get_alias(FunctionName=out["FunctionName"], Name="live")["FunctionVersion"] == "1"
    tags = server.client().list_tags(Resource=server.client().get_function(
        FunctionName=out["FunctionName"])["Configuration"]["FunctionArn"])["Tags"]
    assert tags.get("app") == "greeter"
    # The route answers over HTTP at the URL the stack's output gives.
    url = out["ApiUrl"]
    assert url.startswith("http://127.0.0.1:"), url
    status, answer = _get(url + "hello?name=bob")
    assert (status, answer) == (200, {"greeting": "hello, bob", "route": "GET /hello", "version": "1"})
    assert _get(url + "private")[0] == 401                    # the Lambda authorizer's identity source is missing
    assert _get(url + "private", {"x-pass": "wrong"})[0] == 403
    assert _get(url + "private", {"x-pass": "open-sesame"}) == (
        200, {"greeting": "hello, world", "route": "GET /private", "version": "1"})
    assert _get(url + "nowhere")[0] == 404
    resources = {r["LogicalResourceId"]: r["ResourceType"]
                 for r in cfn.describe_stack_resources(StackName="GreeterStack")["StackResources"]}
    assert resources["GreeterApiGEThello9F8E7D6C"] == "AWS::ApiGatewayV2::Route"
    # Unchanged, the stack is left as it is: no new version.
    with pytest.raises(ClientError) as caught:
        cfn.update_stack(StackName="GreeterStack", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    assert "No updates are to be performed" in caught.value.response["Error"]["Message"]
    changed = body.replace('"GREETING": "hello"', '"GREETING": "howdy"')
    cfn.update_stack(StackName="GreeterStack", TemplateBody=changed, Capabilities=["CAPABILITY_IAM"])
    assert _get(url + "hello")[1]["greeting"] == "howdy, world"
    assert _outputs(cfn, "GreeterStack")["Version"] == "2"
    assert _invoke(server, f"{out['FunctionName']}:1")["greeting"] == "hello, world"     # version 1 stays as it was


def test_a_hand_written_stack_with_local_code_packaged_and_deployed_by_the_cli(server: CumuloServer, cfn: BaseClient,
                                                                              tmp_path: Path) -> None:
    _package_and_deploy(server, "queue-worker", "orders", tmp_path, "--parameter-overrides", "Stage=prod")
    out = _outputs(cfn, "orders")
    worker = out["WorkerName"]
    assert worker == "orders-worker"
    config = server.client().get_function_configuration(FunctionName=worker)
    assert [layer["Arn"] for layer in config["Layers"]] == [out["LayerArn"]]
    assert config["Environment"]["Variables"] == {"STAGE": "prod"}
    # The mapping delivers a queue message.
    mapping = server.client().get_event_source_mapping(UUID=out["MappingId"])
    assert mapping["BatchSize"] == 5 and mapping["FunctionArn"].endswith(f":function:{worker}")
    server.aws("sqs").send_message(QueueUrl=out["QueueUrl"], MessageBody="order-17")
    assert _eventually(lambda: _logged(server, worker, "[orders] queued order-17"))
    # The rule delivers an event put on the bus.
    put = server.aws("events").put_events(Entries=[{"Source": "shop.orders", "DetailType": "OrderPlaced",
                                                    "Detail": json.dumps({"id": 42})}])
    assert put["FailedEntryCount"] == 0
    assert _eventually(lambda: _logged(server, worker, '[orders] bus OrderPlaced {"id": 42}'))
    # The state machine's definition came from its file, with the template's substitutions.
    sfn = server.aws("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=out["CheckoutArn"], input=json.dumps({"order": 7, "items": [2, 3]}))
    done = _eventually(lambda: (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"]
                       != "RUNNING" and d)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"stage": "prod", "result": {"order": 7, "total": 5, "by": "[orders] worker"}}
    # The asynchronous-invocation config and the included alarm are there.
    invoke_config = server.client().get_function_event_invoke_config(FunctionName=worker)
    assert invoke_config["MaximumRetryAttempts"] == 0
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"].endswith("orders-Failed-" + "".join(
        invoke_config["DestinationConfig"]["OnFailure"]["Destination"].split("orders-Failed-")[1:]))
    alarms = server.aws("cloudwatch").describe_alarms()["MetricAlarms"]
    assert any(a["AlarmName"].startswith("orders-WorkerErrorsTopicless") for a in alarms)


def test_a_sam_application_mixing_raw_resources_and_an_included_openapi_file(server: CumuloServer, cfn: BaseClient,
                                                                           tmp_path: Path) -> None:
    _package_and_deploy(server, "sam-mixed", "books", tmp_path)
    out = _outputs(cfn, "books")
    status, answer = _get(out["BooksUrl"] + "/dune")
    assert (status, answer) == (200, {"book": "dune", "resource": "/books/{id}"})
    assert _invoke(server, out["AuditFunctionName"], {"what": "ledger"}) == {"audited": "ledger"}
    # The function URL, served by the gateway at /lambda-url/<url-id>/ (DescribeStacks gives AWS's form of it).
    url_id = out["AuditUrl"].removeprefix("https://").split(".lambda-url.")[0]
    assert server.client().get_function_url_config(FunctionName=out["AuditFunctionName"])["AuthType"] == "NONE"
    gateway = out["BooksUrl"].split("/", 3)
    request = urllib.request.Request(f"{gateway[0]}//{gateway[2]}/lambda-url/{url_id}/", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        assert json.loads(response.read()) == {"audited": "nothing"}
