"""Templates shaped like the public serverless-patterns applications that ``bench/template_corpus.py``
found refused (tests/corpus/patterns): each is planned (``--dry-run``) and deployed for real on a store of
its own, and what it made is used through the Python API."""

from __future__ import annotations

import json
import shutil
import zipfile
import sys
import time
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import DeployResult, deploy
from cumulo.errors import CumuloError

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "patterns"


def _deploy(c: Cumulo, name: str, stack: str = "sam-app", **parameters: str) -> DeployResult:
    """The plan, then the deploy: both pass, with the same warnings."""
    path = CORPUS / name / "template.yaml"
    planned = deploy(c, path, parameters, stack_name=stack, dry_run=True, build=False)
    result = deploy(c, path, parameters, stack_name=stack, build=False)
    assert sorted(planned.warnings) == sorted(result.warnings)
    return result


def test_a_durable_function_deploys_as_an_ordinary_one_and_says_so(tmp_path: Path) -> None:
    """lambda-durable-*: DurableConfig, and DependsOn naming the alias, role and stage SAM makes."""
    with Cumulo(home=tmp_path / "home") as c:
        result = _deploy(c, "durable-orders")
        durable = [w for w in result.warnings if "DurableConfig" in w]
        assert len(durable) == 1 and "OrderProcessor" in durable[0]
        assert "3600 s" in durable[0] and "7 days" in durable[0] and "ordinary" in durable[0]
        name = result.outputs["ProcessorAlias"].split(":")[-2]
        answer = c.invoke(name, json.dumps({"order": 7}), qualifier="live")
        assert answer.function_error is None
        assert json.loads(answer.payload) == {"order": 7, "durable": False}


@pytest.mark.parametrize("config, message", [
    ("{RetentionPeriodInDays: 7}", "ExecutionTimeout is required"),
    ("{ExecutionTimeout: 31622401}", "less than or equal to 31622400"),
    ("{ExecutionTimeout: 0}", "greater than or equal to 1"),
    ("{ExecutionTimeout: 60, RetentionPeriodInDays: 91}", "less than or equal to 90"),
    ("{ExecutionTimeout: 60, Mode: fast}", "unknown key 'Mode'"),
])
def test_a_durable_config_out_of_lambdas_range_is_refused_by_plan_and_deploy(tmp_path: Path, config: str,
                                                                            message: str) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    path = app / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
                    "    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.12\n"
                    f"      DurableConfig: {config}\n")
    with Cumulo(home=tmp_path / "home") as c:
        for dry_run in (True, False):
            with pytest.raises(CumuloError, match=message):
                deploy(c, path, stack_name="s", dry_run=dry_run, build=False)


def test_a_rule_publishes_to_a_topic_whose_email_subscriptions_are_left_out(tmp_path: Path) -> None:
    """eventbridge-sns, cw-sns-secretsmanager, cloudtrail-eventbridge-lambda-dynamodb-sam: an SNS topic as a rule's
    target (was refused by the deploy after the plan passed), email subscriptions (the same), a one-file CodeUri
    (the same: the file was taken for a zip)."""
    with Cumulo(home=tmp_path / "home") as c:
        result = _deploy(c, "eventbridge-sns-email")
        left_out = [w for w in result.warnings if "accepted and not made" in w]
        assert len(left_out) == 2 and any("email-json" in w for w in left_out)
        assert result.outputs["OnCall"] == "pending confirmation"
        topic = next(t for t in c.topics.list_topics() if "AlertsTopic" in t)
        assert [s["Protocol"] for s in c.topics.list_subscriptions(topic)] == ["sqs"]
        answer = c.invoke(result.outputs["NotifierName"], json.dumps({"detail-type": "OrderPlaced"}))
        assert json.loads(answer.payload) == {"seen": "OrderPlaced"}
        c.start_workers()
        try:
            c.event_bus.put_events([{"Source": "app.orders", "DetailType": "OrderPlaced", "Detail": "{\"id\": 1}"}])
            bodies: list[dict] = []
            deadline = time.monotonic() + 20
            while not bodies and time.monotonic() < deadline:
                bodies += [json.loads(m["Body"]) for m in c.queues.receive_message(result.outputs["InboxUrl"], 10)]
                time.sleep(0.1)
            assert [(b["source"], b["detail"]) for b in bodies] == [("app.orders", {"id": 1})]
        finally:
            c.stop_workers()


def test_a_rule_on_a_bus_no_one_made_is_refused_by_the_plan_as_by_the_deploy(tmp_path: Path) -> None:
    """eventbridge-api-destinations/2-slack: EventBusName names a bus another stack should have made."""
    app = tmp_path / "app"
    app.mkdir()
    path = app / "template.yaml"
    path.write_text("Resources:\n  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n"
                    "      EventBusName: elsewhere\n      EventPattern: {source: [x]}\n")
    with Cumulo(home=tmp_path / "home") as c:
        for dry_run in (True, False):
            with pytest.raises(CumuloError, match="Event bus elsewhere does not exist"):
                deploy(c, path, stack_name="s", dry_run=dry_run, build=False)
        c.event_bus.create_event_bus("elsewhere")
        assert deploy(c, path, stack_name="s", dry_run=True, build=False).changes[0].action == "create"
        deploy(c, path, stack_name="s", build=False)


def test_a_rule_target_cumulo_cannot_deliver_to_is_refused_by_the_plan_as_by_the_deploy(tmp_path: Path) -> None:
    """eventbridge-cloudwatch, eventbridge-kinesis: a log group or a stream as a rule's target."""
    app = tmp_path / "app"
    app.mkdir()
    path = app / "template.yaml"
    path.write_text("Resources:\n  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n"
                    "      EventPattern: {source: [x]}\n      Targets:\n"
                    "        - {Id: logs, Arn: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/events/x:*'}\n")
    with Cumulo(home=tmp_path / "home") as c:
        for dry_run in (True, False):
            with pytest.raises(CumuloError, match="is not supported: Cumulo delivers to"):
                deploy(c, path, stack_name="s", dry_run=dry_run, build=False)


def test_a_usage_plan_and_its_keys_are_made_and_enforced_by_the_gateway(tmp_path: Path) -> None:
    """apigw-usage-plans, apigw-api-key, serverless-multi-tenant-api: AWS::ApiGateway::UsagePlan, ApiKey and
    UsagePlanKey (were refused as unknown types), on the stage SAM makes, served by `cumulo up`."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_gateway import Gateway
    from test_server import CumuloServer

    template = CORPUS / "rest-usage-plan" / "template.yaml"
    with Cumulo(home=tmp_path / "home") as c:
        result = _deploy(c, "rest-usage-plan", stack="shop")
        plan = c.usage_plans.get_plan(result.outputs["PlanId"])
        assert plan.name == "shop-daily" and result.outputs["Stage"] == "Prod"
        assert [s for _, s in plan.api_stages] == ["Prod"] and len(plan.key_ids) == 2
        assert plan.quota is not None and plan.quota.limit == 2
        keys = {k.key_id: k for k in c.usage_plans.list_keys()}
        assert keys[result.outputs["KeyId"]].enabled and sum(k.enabled for k in keys.values()) == 1
        again = deploy(c, template, stack_name="shop", build=False)       # the same ids: nothing changes
        assert not [ch for ch in again.changes if ch.kind == "usage plan" and ch.action != "unchanged"]
        assert {k.key_id for k in c.usage_plans.list_keys()} == set(keys)
    server = CumuloServer(tmp_path / "served", str(template))
    try:
        server.wait_for_output("Stop with Ctrl-C")
        gw = Gateway(server)
        path = next(p for (_, route), p in gw.routes.items() if route == "GET /items")
        assert gw.request("GET", path)[0] == 403
        assert gw.request("GET", path, headers={"x-api-key": "disabled-key-0123456789abcdef"})[0] == 403
        answers = [gw.request("GET", path, headers={"x-api-key": "partner-key-0123456789abcdef"}) for _ in range(3)]
        assert [a[0] for a in answers] == [200, 200, 429]
        assert json.loads(answers[0][2]) == {"path": "/items", "stage": "Prod"}
    finally:
        server.close()


def test_a_usage_plan_on_a_stage_the_api_does_not_have_is_refused_by_plan_and_deploy(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    text = (CORPUS / "rest-usage-plan" / "template.yaml").read_text().replace(
        "Stage: !Ref ItemsApiProdStage", "Stage: Beta")
    (app / "template.yaml").write_text(text)
    (app / "src").symlink_to(CORPUS / "rest-usage-plan" / "src")
    with Cumulo(home=tmp_path / "home") as c:
        for dry_run in (True, False):
            with pytest.raises(CumuloError, match="Invalid stage identifier specified: .*/Beta"):
                deploy(c, app / "template.yaml", stack_name="s", dry_run=dry_run, build=False)


def test_makefile_and_nodejs_build_methods_build_functions_and_layers(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """lambda-powershell-runtime-sam, lambda-extension-telemetryapi-s3, lambda-layer-ssm-parameters: BuildMethod
    makefile on a function and on a layer (was refused), nodejs22.x on a layer (was refused). Without a build
    (--no-build) both deploy their folders as they are; with one, what `make build-<LogicalId>` put in
    ARTIFACTS_DIR is deployed, and a Node.js layer's files are under nodejs/."""
    monkeypatch.setenv("CUMULO_PACKAGE_CACHE", str(tmp_path / "cache"))
    with Cumulo(home=tmp_path / "home") as c:
        result = _deploy(c, "makefile-builds")       # --no-build: as the corpus measures
        answer = json.loads(c.invoke(result.outputs["HelloName"], b"{}").payload)
        assert answer == {"built": None, "makefile shipped": True, "greeting": None}
    with Cumulo(home=tmp_path / "built") as c:
        path = CORPUS / "makefile-builds" / "template.yaml"
        planned = deploy(c, path, stack_name="sam-app", dry_run=True)
        result = deploy(c, path, stack_name="sam-app")
        assert sorted(planned.warnings) == sorted(result.warnings)
        answer = json.loads(c.invoke(result.outputs["HelloName"], json.dumps({"name": "make"})).payload)
        assert answer == {"built": "made by make", "makefile shipped": False, "greeting": "hello make"}
        layer = c.get_layer_version_by_arn(result.outputs["SettingsLayerArn"])
        built = [zipfile.ZipFile(z) for z in (tmp_path / "cache").glob("*.zip")]
        node = [z for z in built if "nodejs/index.js" in z.namelist()]
        assert len(node) == 1 and "nodejs/package.json" in node[0].namelist()
        assert layer["Content"]["CodeSize"] == node[0].fp.seek(0, 2)
        assert not deploy(c, path, stack_name="sam-app").changed       # the builds are cached by content


def test_a_makefile_without_the_target_names_the_resource(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUMULO_PACKAGE_CACHE", str(tmp_path / "cache"))
    app = tmp_path / "app"
    shutil.copytree(CORPUS / "makefile-builds", app)
    (app / "hello" / "Makefile").write_text("build-Other:\n\ttrue\n")
    with Cumulo(home=tmp_path / "home") as c:
        with pytest.raises(CumuloError, match="Resource HelloFunction .*make build-HelloFunction failed"):
            deploy(c, app / "template.yaml", stack_name="s")
        (app / "hello" / "Makefile").write_text("build-HelloFunction:\n\ttrue\n")
        with pytest.raises(CumuloError, match="Resource HelloFunction .*put nothing in"):
            deploy(c, app / "template.yaml", stack_name="s")
        assert c.list_functions() == []


def test_aws_published_powertools_and_insights_layers_are_provided(tmp_path: Path) -> None:
    """apigw-sqs-lambda-ddb, apigw-kinesis-lambda-ddb, lambda-bedrock-response-streaming: Powertools for AWS
    Lambda (Python) v2 and v3 layers of AWS's account (were refused: another account's layers), built from
    PyPI's aws-lambda-powertools of that major; the Lambda Insights extension accepted with one warning."""
    with Cumulo(home=tmp_path / "home") as c:
        result = _deploy(c, "aws-layers")
        insights = [w for w in result.warnings if "Lambda Insights" in w]
        assert len(insights) == 1 and insights[0].startswith("OrdersFunction:") and "not run" in insights[0]
        for output, major in (("OrdersName", "2"), ("StreamName", "3")):
            answer = c.invoke(result.outputs[output], json.dumps({"order": 7}))
            assert answer.function_error is None, answer.payload
            assert json.loads(answer.payload) == {"order": 7, "powertools": major}
        layers = c.get_function(result.outputs["OrdersName"])["Configuration"]["Layers"]
        assert [layer["Arn"].split(":")[4] for layer in layers] == ["017000801446", "580247275435"]
        assert layers[0]["CodeSize"] > 0


def test_a_powertools_layer_that_cannot_be_installed_is_a_clear_error(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUMULO_PACKAGE_CACHE", str(tmp_path / "cache"))      # nothing built yet
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")        # PyPI out of reach
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "1")
    with Cumulo(home=tmp_path / "home") as c:
        for dry_run in (True, False):
            with pytest.raises(CumuloError, match="Resource OrdersFunction .*AWSLambdaPowertoolsPythonV2:32 is AWS's "
                                                  "Powertools for AWS Lambda \\(Python\\) 2.x layer.*failed"):
                deploy(c, CORPUS / "aws-layers" / "template.yaml", stack_name="s", dry_run=dry_run, build=False)
        assert c.list_functions() == []


def test_a_layer_of_another_account_is_refused_naming_it(tmp_path: Path) -> None:
    """image-resize patterns: a layer another account published (graphicsmagick) is not Cumulo's to provide."""
    app = tmp_path / "app"
    shutil.copytree(CORPUS / "aws-layers", app)
    path = app / "template.yaml"
    path.write_text(path.read_text().replace("arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38",
                                             "arn:aws:lambda:us-east-1:175033217214:layer:graphicsmagick:2"))
    with Cumulo(home=tmp_path / "home") as c:
        for dry_run in (True, False):
            with pytest.raises(CumuloError, match="Resource OrdersFunction .*Layer version arn:aws:lambda:us-east-1:"
                                                  "175033217214:layer:graphicsmagick:2 does not exist. It belongs to "
                                                  "AWS account 175033217214"):
                deploy(c, path, stack_name="s", dry_run=dry_run, build=False)
        assert c.list_functions() == []


def test_schedules_send_to_a_queue_and_start_a_state_machine(tmp_path: Path) -> None:
    """eventbridge-schedule-to-sqs-sam, eventbridge-schedule-stepfunctions-sam: AWS::Scheduler::Schedule with
    templated targets other than a function (were refused): each fire sends its Input to the queue as the
    message body and starts the state machine with it as input."""
    from datetime import datetime, timedelta, timezone

    when = (datetime.now(timezone.utc) + timedelta(seconds=2)).replace(microsecond=0)
    with Cumulo(home=tmp_path / "home") as c:
        result = _deploy(c, "schedule-targets", When=f"at({when:%Y-%m-%dT%H:%M:%S})")
        assert c.schedules_service.get("QueueSendMessageSchedule")["Target"]["Arn"].endswith(":ScheduleTargetQueue")
        c.start_workers()
        try:
            bodies: list[str] = []
            executions: list = []
            deadline = time.monotonic() + 20
            while (not bodies or not executions) and time.monotonic() < deadline:
                bodies += [m["Body"] for m in c.queues.receive_message(result.outputs["QueueUrl"], 10)]
                executions = c.state_machines.list_executions(result.outputs["TrackerArn"])
                time.sleep(0.1)
            assert bodies == ["This message was sent using EventBridge Scheduler!"]
            assert len(executions) == 1
            detail = c.state_machines.describe_execution(executions[0]["executionArn"])
            assert json.loads(detail["input"]) == {"run": "scheduled"}
        finally:
            c.stop_workers()
