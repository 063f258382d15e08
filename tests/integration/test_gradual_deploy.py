"""Gradual deployments from templates (SAM's ``AutoPublishAlias`` with ``DeploymentPreference``;
functions/deployments.py): a new version reaches the alias as the configuration says, on Cumulo's
clock; hooks decide through CodeDeploy's API; an alarm in ALARM puts the alias back.

The shifting tests move a clock of their own (real monotonic time and sleeps, a wall clock the test
moves on), so ten minutes of a linear deployment take no time; the end-to-end test runs a real
``cumulo up`` with boto3's CloudFormation, CodeDeploy and Lambda clients, and hook functions that
answer with boto3 from inside their sandbox."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.errors import CumuloError
from tests.integration.test_server import CumuloServer


class MovedClock:
    """Real time, with a wall clock the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: shop-errors
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: shop}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  Shop:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: shop
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      DeploymentPreference:
        Type: %(type)s
        Alarms: [!Ref Errors]
%(more)s"""


def _deploy(c: Cumulo, folder: Path, release: int, type_: str = "Linear10PercentEvery1Minute", more: str = "") -> Any:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(f"def handler(event, context):\n    return {release}\n")
    (folder / "template.yaml").write_text(TEMPLATE % {"type": type_, "more": more})
    return deploy(c, folder / "template.yaml", stack_name="shop", build=False)


def _routing(c: Cumulo) -> tuple[str, dict[str, float]]:
    alias = c.get_alias("shop", "live")
    return alias.function_version, dict(alias.weights)


@pytest.fixture
def shifted(home: Path) -> Iterator[tuple[Cumulo, MovedClock]]:
    clock = MovedClock()
    with Cumulo(home=home, clock=clock) as c:
        yield c, clock


def _after(c: Cumulo, clock: MovedClock, seconds: float) -> tuple[str, dict[str, float]]:
    clock.offset += seconds
    c.deployments.tick()
    return _routing(c)


def test_a_new_version_reaches_the_alias_ten_percent_a_minute(shifted: tuple[Cumulo, MovedClock],
                                                              tmp_path: Path) -> None:
    c, clock = shifted
    _deploy(c, tmp_path, 1)
    assert _routing(c) == ("1", {})            # the first version: no deployment, as on AWS
    result = _deploy(c, tmp_path, 2)
    started = [line for line in result.routes if line.startswith("deployment d-")]
    assert len(started) == 1 and "version 1 -> 2 (CodeDeployDefault.LambdaLinear10PercentEvery1Minute)" in started[0]
    deployment_id = started[0].split()[1].rstrip(":")
    assert _routing(c) == ("1", {"2": pytest.approx(0.1)})
    assert _after(c, clock, 4 * 60) == ("1", {"2": pytest.approx(0.5)})
    answers = {c.invoke("shop", qualifier="live").json() for _ in range(60)}
    assert answers == {1, 2}                  # both versions serve while it shifts
    assert _after(c, clock, 5 * 60) == ("2", {})
    info = c.deployments.get(deployment_id)
    assert info["status"] == "Succeeded" and info["applicationName"] == "shop-ServerlessDeploymentApplication"
    assert info["deploymentGroupName"] == "shop-ShopDeploymentGroup"
    assert _deploy(c, tmp_path, 2).routes == [r for r in result.routes if not r.startswith("deployment")]


def test_an_alarm_in_alarm_puts_the_old_version_back(shifted: tuple[Cumulo, MovedClock], tmp_path: Path) -> None:
    c, clock = shifted
    _deploy(c, tmp_path, 1)
    _deploy(c, tmp_path, 2, "Canary10Percent5Minutes")
    assert _after(c, clock, 60) == ("1", {"2": pytest.approx(0.1)})
    c.alarms.set_alarm_state({"AlarmName": "shop-errors", "StateValue": "ALARM", "StateReason": "errors in 2"})
    assert _after(c, clock, 1) == ("1", {})
    deployment_id = c.deployments.list_ids("shop-ServerlessDeploymentApplication", "shop-ShopDeploymentGroup")[0]
    info = c.deployments.get(deployment_id)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "shop-errors" in info["errorInformation"]["message"]
    assert _after(c, clock, 600) == ("1", {})


def test_all_at_once_and_disabled_preferences_move_the_alias_in_the_deploy(shifted: tuple[Cumulo, MovedClock],
                                                                          tmp_path: Path) -> None:
    c, _ = shifted
    _deploy(c, tmp_path, 1, "AllAtOnce")
    _deploy(c, tmp_path, 2, "AllAtOnce")
    assert _routing(c) == ("2", {})
    text = TEMPLATE.replace("        Alarms: [!Ref Errors]\n", "        Alarms: [!Ref Errors]\n        Enabled: false\n")
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 3\n")
    (tmp_path / "template.yaml").write_text(text % {"type": "Canary10Percent30Minutes", "more": ""})
    result = deploy(c, tmp_path / "template.yaml", stack_name="shop", build=False)
    assert _routing(c) == ("3", {}) and not any(r.startswith("deployment") for r in result.routes)


CUSTOM = """\
  Quarter:
    Type: AWS::CodeDeploy::DeploymentConfig
    Properties:
      ComputePlatform: Lambda
      TrafficRoutingConfig:
        Type: TimeBasedCanary
        TimeBasedCanary: {CanaryPercentage: 25, CanaryInterval: 2}
"""


def test_a_custom_deployment_config_of_the_template(shifted: tuple[Cumulo, MovedClock], tmp_path: Path) -> None:
    c, clock = shifted
    _deploy(c, tmp_path, 1, "!Ref Quarter", CUSTOM)
    result = _deploy(c, tmp_path, 2, "!Ref Quarter", CUSTOM)
    assert any(line.startswith("deployment config shop-Quarter-") and "25% of traffic, the rest after 2 minutes"
               in line for line in result.routes)
    assert _routing(c) == ("1", {"2": pytest.approx(0.25)})
    assert _after(c, clock, 119) == ("1", {"2": pytest.approx(0.25)})
    assert _after(c, clock, 1) == ("2", {})


@pytest.mark.parametrize("routing, message", [
    ("{Type: TimeBasedLinear, TimeBasedLinear: {LinearPercentage: 0, LinearInterval: 1}}",
     "LinearPercentage must be an integer from 1 to 99, got 0"),
    ("{Type: TimeBasedCanary, TimeBasedLinear: {LinearPercentage: 10, LinearInterval: 1}}",
     "unexpected key 'TimeBasedLinear' for Type TimeBasedCanary"),
    ("{Type: Blue}", "Type must be AllAtOnce, TimeBasedCanary or TimeBasedLinear"),
])
def test_a_custom_config_lambda_would_refuse_is_refused(cumulo: Cumulo, tmp_path: Path, routing: str,
                                                        message: str) -> None:
    custom = CUSTOM.replace("      TrafficRoutingConfig:\n        Type: TimeBasedCanary\n"
                            "        TimeBasedCanary: {CanaryPercentage: 25, CanaryInterval: 2}\n",
                            f"      TrafficRoutingConfig: {routing}\n")
    with pytest.raises(CumuloError) as refused:
        _deploy(cumulo, tmp_path, 1, "!Ref Quarter", custom)
    assert "Resource Quarter" in refused.value.message and message in refused.value.message


@pytest.mark.parametrize("change, message", [
    (("Type: Linear10PercentEvery1Minute", "Type: Linear20PercentEvery1Minute"),
     "property DeploymentPreference: Type 'Linear20PercentEvery1Minute' is neither a predefined deployment "
     "configuration (AllAtOnce, Canary10Percent5Minutes"),
    (("      AutoPublishAlias: live\n", ""), "property DeploymentPreference (line 22): requires AutoPublishAlias"),
    (("        Alarms: [!Ref Errors]\n", "        Alarms: [!Ref Errors]\n        Hooks: {Before: x}\n"),
     "unknown key 'Before' (allowed: PostTraffic, PreTraffic)"),
])
def test_a_preference_sam_would_refuse_is_refused_by_the_plan(cumulo: Cumulo, tmp_path: Path,
                                                              change: tuple[str, str], message: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    text = (TEMPLATE % {"type": "Linear10PercentEvery1Minute", "more": ""}).replace(*change)
    (tmp_path / "template.yaml").write_text(text)
    for dry_run in (True, False):
        with pytest.raises(CumuloError) as refused:
            deploy(cumulo, tmp_path / "template.yaml", stack_name="shop", dry_run=dry_run, build=False)
        assert message in refused.value.message


# -- end to end: cumulo up, boto3, hook functions reporting from their sandbox -------------------------

HOOKED = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Verdict: {Type: String}
  Release: {Type: String}
Resources:
  Shop:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: e2e-shop
      Runtime: python3.12
      Handler: index.handler
      InlineCode: !Sub |
        def handler(event, context):
            return "${Release}"
      AutoPublishAlias: live
      DeploymentPreference:
        Type: AllAtOnce
        Hooks:
          PreTraffic: !Ref PreTrafficHook
          PostTraffic: !Ref PostTrafficHook
  PreTrafficHook:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: CodeDeployHook_e2e_pre
      Runtime: python3.12
      Handler: index.handler
      Timeout: 30
      InlineCode: |
        import boto3
        def handler(event, context):
            boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
                deploymentId=event["DeploymentId"],
                lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"], status="Succeeded")
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: codedeploy:PutLifecycleEventHookExecutionStatus
              Resource: !Sub "arn:aws:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${ServerlessDeploymentApplication}/*"
  PostTrafficHook:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: CodeDeployHook_e2e_post
      Runtime: python3.12
      Handler: index.handler
      Timeout: 30
      Environment: {Variables: {VERDICT: !Ref Verdict}}
      InlineCode: |
        import boto3, os
        def handler(event, context):
            answer = boto3.client("lambda").invoke(FunctionName="e2e-shop", Qualifier="live")["Payload"].read()
            boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
                deploymentId=event["DeploymentId"],
                lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"], status=os.environ["VERDICT"])
            return answer.decode()
      Policies:
        - LambdaInvokePolicy: {FunctionName: e2e-shop}
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: codedeploy:PutLifecycleEventHookExecutionStatus
              Resource: !Sub "arn:aws:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${ServerlessDeploymentApplication}/*"
"""


def _stack(cfn: Any, create: bool, verdict: str, release: str) -> None:
    call = cfn.create_stack if create else cfn.update_stack
    call(StackName="e2e", TemplateBody=HOOKED, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
         Parameters=[{"ParameterKey": "Verdict", "ParameterValue": verdict},
                     {"ParameterKey": "Release", "ParameterValue": release}])


def _finished(codedeploy: Any, known: set[str], timeout_s: float = 90.0) -> dict[str, Any]:
    """The group's one new deployment, once it is no longer in progress."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ids = codedeploy.list_deployments(applicationName="e2e-ServerlessDeploymentApplication",
                                          deploymentGroupName="e2e-ShopDeploymentGroup")["deployments"]
        new = [i for i in ids if i not in known]
        if new:
            assert len(new) == 1
            info = codedeploy.get_deployment(deploymentId=new[0])["deploymentInfo"]
            if info["status"] not in ("Created", "Queued", "InProgress"):
                known.add(new[0])
                return dict(info)
        time.sleep(0.2)
    raise AssertionError("the deployment did not finish in time")


def test_hooks_decide_through_codedeploys_api_end_to_end(tmp_path: Path) -> None:
    server = CumuloServer(tmp_path / "home")
    try:
        cfn, codedeploy, lam = server.aws("cloudformation"), server.aws("codedeploy"), server.client()
        _stack(cfn, True, "Failed", "1")
        assert lam.get_alias(FunctionName="e2e-shop", Name="live")["FunctionVersion"] == "1"
        known: set[str] = set()

        _stack(cfn, False, "Failed", "2")       # the post-traffic hook says Failed: back to version 1
        info = _finished(codedeploy, known)
        assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
        assert "AfterAllowTraffic" in info["errorInformation"]["message"]
        assert info["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
        assert lam.get_alias(FunctionName="e2e-shop", Name="live")["FunctionVersion"] == "1"
        assert json.loads(lam.invoke(FunctionName="e2e-shop", Qualifier="live")["Payload"].read()) == "1"

        _stack(cfn, False, "Succeeded", "3")    # both hooks say Succeeded: version 3 stays
        info = _finished(codedeploy, known)
        assert info["status"] == "Succeeded", info
        alias = lam.get_alias(FunctionName="e2e-shop", Name="live")
        assert alias["FunctionVersion"] == "3" and "RoutingConfig" not in alias
        assert json.loads(lam.invoke(FunctionName="e2e-shop", Qualifier="live")["Payload"].read()) == "3"

        with pytest.raises(ClientError) as caught:          # a hook's verdict is given once
            codedeploy.put_lifecycle_event_hook_execution_status(
                deploymentId=info["deploymentId"], lifecycleEventHookExecutionId="x" * 64, status="Succeeded")
        assert caught.value.response["Error"]["Code"] == "InvalidLifecycleEventHookExecutionIdException"
        with pytest.raises(ClientError) as caught:
            codedeploy.get_deployment(deploymentId="d-NOSUCHONE")
        assert caught.value.response["Error"]["Code"] == "DeploymentDoesNotExistException"
    finally:
        server.close()
