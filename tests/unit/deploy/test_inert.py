"""Resource types with no local meaning are accepted with one warning per type; a log group sets its
retention; types whose absence would make the application wrong are refused with the reason."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.deploy.kinds.role import role_name_for
from cumulo.deploy.template import TemplateError, load_template, resolve_outputs
from cumulo.store.base import LogRecord

HEAD = "Transform: AWS::Serverless-2016-10-31\nResources:\n"
# An order service as people write it: a function with its log group, an alarm on its errors, a key.
MONITORED = """\
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          KEY_ARN: !GetAtt DataKey.Arn
          LOG_GROUP: !Ref OrdersLogs
  OrdersLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${Orders}
      RetentionInDays: 7
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: orders-errors
      MetricName: Errors
      Namespace: AWS/Lambda
      Dimensions: [{Name: FunctionName, Value: !Ref Orders}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  ThrottlesAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: Throttles
      Namespace: AWS/Lambda
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  DataKey:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}, Action: "kms:*",
                     Resource: "*"}]
Outputs:
  Alarm: {Value: !GetAtt ErrorsAlarm.Arn}
  Key: {Value: !Ref DataKey}
  Logs: {Value: !GetAtt OrdersLogs.Arn}
"""


def _template(tmp_path: Path, resources: str) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    path = tmp_path / "template.yaml"
    path.write_text(HEAD + resources)
    return path


def test_inert_types_answer_ref_and_get_att(tmp_path: Path) -> None:
    template = load_template(_template(tmp_path, MONITORED), stack_name="shop", account_id="111122223333")
    outputs = resolve_outputs(template)
    assert outputs["Alarm"] == "arn:aws:cloudwatch:us-east-1:111122223333:alarm:orders-errors"
    assert outputs["Logs"] == "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/shop-Orders:*"
    key_id = outputs["Key"]
    assert len(key_id) == 36 and key_id.count("-") == 4
    env = template.functions[0].environment
    assert env == {"KEY_ARN": f"arn:aws:kms:us-east-1:111122223333:key/{key_id}", "LOG_GROUP": "/aws/lambda/shop-Orders"}
    again = load_template(_template(tmp_path, MONITORED), stack_name="shop", account_id="111122223333")
    assert resolve_outputs(again)["Key"] == key_id       # the same on every load


def test_one_warning_per_type_says_what_aws_does_and_what_cumulo_does(cumulo: Cumulo, tmp_path: Path) -> None:
    result = deploy(cumulo, _template(tmp_path, MONITORED), stack_name="shop", dry_run=True)
    assert not [w for w in result.warnings if "AWS::CloudWatch::Alarm" in w]      # alarms are made (docs/metrics.md)
    assert not [w for w in result.warnings if "AWS::KMS::Key" in w]      # keys are made (kms/)
    key_id = next(c.function for c in result.changes if c.kind == "kms key")
    assert [(c.kind, c.function, c.action) for c in result.changes] == [
        ("function", "shop-Orders", "create"), ("role", role_name_for("shop", "OrdersRole"), "create"),
        ("kms key", key_id, "create"),
        ("log group", "/aws/lambda/shop-Orders", "create"), ("alarm", "orders-errors", "create"),
        ("alarm", "shop-ThrottlesAlarm-" + hashlib.sha256(b"shop:ThrottlesAlarm").hexdigest()[:12].upper(),
         "create")]


def test_a_reference_inside_an_inert_resource_is_still_checked(tmp_path: Path) -> None:
    broken = MONITORED.replace("Value: !Ref Orders}", "Value: !Ref Ghost}")
    with pytest.raises(TemplateError, match=r"Resource ErrorsAlarm \(line 18\): property Dimensions \(line 24\): Ref Ghost: 'Ghost' is not a "
                                            r"parameter or a resource"):
        load_template(_template(tmp_path, broken))


@pytest.mark.parametrize(("resource", "match"), [
    ("  T:\n    Type: AWS::DynamoDB::GlobalTable\n", r"'AWS::DynamoDB::GlobalTable' is not supported: Cumulo serves "
                                                     r"DynamoDB tables \(AWS::DynamoDB::Table\) but not this type"),
    ("  T:\n    Type: AWS::SNS::PlatformApplication\n", r"Cumulo serves topics and subscriptions"),
    ("  T:\n    Type: Custom::Seed\n    Properties: {ServiceToken: x}\n", r"custom resources .* are not run"),
    ("  T:\n    Type: AWS::CloudFormation::Stack\n", r"nested stacks"),
])
def test_a_type_the_application_needs_is_refused_with_its_reason(tmp_path: Path, resource: str, match: str) -> None:
    with pytest.raises(TemplateError, match=match):
        load_template(_template(tmp_path, resource))


@pytest.mark.parametrize(("properties", "match"), [
    ("RetentionInDays: 8", r"property RetentionInDays \(line 6\): 8 is not one of CloudWatch Logs' retention values"),
    ("LogGroupName: 'bad name'", r"property LogGroupName \(line 6\): 'bad name' must be 1 to 512"),
    ("Colour: red", r"unknown property 'Colour'"),
])
def test_log_group_faults(tmp_path: Path, properties: str, match: str) -> None:
    with pytest.raises(TemplateError, match=match):
        load_template(_template(tmp_path, f"  G:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      {properties}\n"))


def _log(function: str, age_days: float, message: str) -> LogRecord:
    return LogRecord(function, "$LATEST", "stream", None, int((time.time() - age_days * 86_400) * 1000), message)


def test_a_log_groups_retention_prunes_its_function_log(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _template(tmp_path, MONITORED)
    deploy(cumulo, path, stack_name="shop")
    cumulo.store.append_logs([_log("shop-Orders", 8, "last week"), _log("shop-Orders", 6, "this week"),
                              _log("other", 29, "no declared group: kept 30 days"), _log("other", 31, "older")])
    # the CloudWatch Logs API sees the template's group, with its retention
    [described] = cumulo.log_groups.describe_groups(prefix="/aws/lambda/shop-")
    assert (described["logGroupName"], described["retentionInDays"]) == ("/aws/lambda/shop-Orders", 7)
    housekeeper = cumulo.housekeeper()
    assert housekeeper.sweep() == 2
    assert [r.message for r in cumulo.store.query_logs("shop-Orders")] == ["this week"]
    assert [r.message for r in cumulo.store.query_logs("other")] == ["no declared group: kept 30 days"]

    path.write_text(path.read_text().replace("RetentionInDays: 7", "RetentionInDays: 5"))
    result = deploy(cumulo, path, stack_name="shop")
    assert [(c.function, c.action, c.details) for c in result.changes if c.kind == "log group"] == [
        ("/aws/lambda/shop-Orders", "update", ["retentionInDays"])]
    assert housekeeper.sweep() == 1
    assert cumulo.store.query_logs("shop-Orders") == []
    assert deploy(cumulo, path, stack_name="shop").changed is False

    # Dropped from the template: the group goes, and its events with it (as DeleteLogGroup does).
    cumulo.store.append_logs([_log("shop-Orders", 0, "today")])
    lean = MONITORED.split("  OrdersLogs:")[0].replace("          LOG_GROUP: !Ref OrdersLogs\n", "").replace(
        "          KEY_ARN: !GetAtt DataKey.Arn\n", "").replace("      Environment:\n        Variables:\n", "")
    path.write_text(HEAD + lean)
    result = deploy(cumulo, path, stack_name="shop")
    assert [(c.function, c.action) for c in result.changes if c.kind == "log group"] == [
        ("/aws/lambda/shop-Orders", "delete")]
    assert cumulo.store.query_logs("shop-Orders") == []
    assert cumulo.store.list_documents("log-group") == []


# --- types with no local meaning, as templates write them: API Gateway's certificates and VPC links, IAM users,
# Kinesis consumers (the consumer's mapping: tests/integration/test_deploy_streams.py) ---------------------------

EDGES = """\
  BackendCert:
    Type: AWS::ApiGateway::ClientCertificate
    Properties: {Description: presented to the legacy backend}
  RestLink:
    Type: AWS::ApiGateway::VpcLink
    Properties:
      Name: legacy
      TargetArns: [arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/legacy/50dc6c495c0c9188]
  HttpLink:
    Type: AWS::ApiGatewayV2::VpcLink
    Properties: {Name: legacy-http, SubnetIds: [subnet-0a1b2c3d]}
  Deployer:
    Type: AWS::IAM::User
    Properties:
      UserName: ci-deployer
      Path: /ci/
      Policies:
        - PolicyName: deploy
          PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "lambda:*", Resource: "*"}]}
  Reporter:
    Type: AWS::IAM::User
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {Name: clicks}
  FanOut:
    Type: AWS::Kinesis::StreamConsumer
    Properties: {StreamARN: !GetAtt Clicks.Arn, ConsumerName: reader}
Outputs:
  Cert: {Value: !Ref BackendCert}
  CertId: {Value: !GetAtt BackendCert.ClientCertificateId}
  RestLink: {Value: !Ref RestLink}
  RestLinkId: {Value: !GetAtt RestLink.VpcLinkId}
  HttpLink: {Value: !Ref HttpLink}
  HttpLinkId: {Value: !GetAtt HttpLink.VpcLinkId}
  User: {Value: !Ref Deployer}
  UserArn: {Value: !GetAtt Deployer.Arn}
  Reporter: {Value: !Ref Reporter}
  ReporterArn: {Value: !GetAtt Reporter.Arn}
  Consumer: {Value: !Ref FanOut}
  ConsumerArn: {Value: !GetAtt FanOut.ConsumerARN}
  ConsumerName: {Value: !GetAtt FanOut.ConsumerName}
  ConsumerStream: {Value: !GetAtt FanOut.StreamARN}
  ConsumerStatus: {Value: !GetAtt FanOut.ConsumerStatus}
  ConsumerCreated: {Value: !GetAtt FanOut.ConsumerCreationTimestamp}
"""


def test_certificates_vpc_links_users_and_consumers_answer_ref_and_get_att_as_aws(tmp_path: Path) -> None:
    path = _template(tmp_path, EDGES)
    outputs = resolve_outputs(load_template(path, stack_name="shop", account_id="111122223333"))
    for ref, attribute in (("Cert", "CertId"), ("RestLink", "RestLinkId"), ("HttpLink", "HttpLinkId")):
        assert re.fullmatch(r"[a-z0-9]{10}", outputs[ref]) and outputs[attribute] == outputs[ref]
    assert len({outputs["Cert"], outputs["RestLink"], outputs["HttpLink"]}) == 3
    assert (outputs["User"], outputs["UserArn"]) == ("ci-deployer", "arn:aws:iam::111122223333:user/ci/ci-deployer")
    assert re.fullmatch(r"shop-Reporter-[0-9A-F]{12}", outputs["Reporter"])
    assert outputs["ReporterArn"] == f"arn:aws:iam::111122223333:user/{outputs['Reporter']}"
    stream = "arn:aws:kinesis:us-east-1:111122223333:stream/clicks"
    created = int(outputs["Consumer"].rsplit(":", 1)[1])
    assert outputs["Consumer"] == outputs["ConsumerArn"] == f"{stream}/consumer/reader:{created}"
    assert (outputs["ConsumerName"], outputs["ConsumerStream"], outputs["ConsumerStatus"]) == ("reader", stream, "ACTIVE")
    assert outputs["ConsumerCreated"] == datetime.fromtimestamp(created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert resolve_outputs(load_template(path, stack_name="shop", account_id="111122223333")) == outputs


def test_certificates_vpc_links_users_and_consumers_warn_once_each(cumulo: Cumulo, tmp_path: Path) -> None:
    result = deploy(cumulo, _template(tmp_path, EDGES), stack_name="shop", dry_run=True)
    accepted = sorted(w for w in result.warnings if "accepted and not deployed" in w)
    assert accepted == [
        "AWS::ApiGateway::ClientCertificate (BackendCert) accepted and not deployed: on AWS it gives a stage a "
        "certificate to present to its HTTP backends, so they can tell requests come from API Gateway; Cumulo's "
        "gateway calls HTTP backends without a client certificate (a backend that requires one refuses them): "
        "nothing is made",
        "AWS::ApiGateway::VpcLink (RestLink) accepted and not deployed: on AWS it connects private integrations "
        "(ConnectionType VPC_LINK) to network load balancers in a VPC; Cumulo has no VPCs: no link is made, and an "
        "integration through it is sent to its Uri as any HTTP integration is (it reaches a backend only if that "
        "address answers from this machine)",
        "AWS::ApiGatewayV2::VpcLink (HttpLink) accepted and not deployed: on AWS it connects HTTP APIs' private "
        "integrations (ConnectionType VPC_LINK) to load balancers or Cloud Map services in a VPC; Cumulo has no "
        "VPCs: no link is made (an integration through it to a listener or Cloud Map ARN is refused, naming its "
        "route)",
        "AWS::IAM::User (Deployer, Reporter) accepted and not deployed: on AWS it creates a user that people or "
        "programs sign requests as, with its own access keys and policies; Cumulo has no IAM users (requests are "
        "signed with the account's keys or roles' sessions): no user is made, its Policies, ManagedPolicyArns and "
        "Groups grant nothing, and AWS::IAM::AccessKey is refused",
        "AWS::Kinesis::StreamConsumer (FanOut) accepted and not deployed: on AWS it registers an enhanced fan-out "
        "consumer: its own read throughput from every shard, records pushed to it; Cumulo's Kinesis has no "
        "registered consumers: none is made, and a Lambda event source mapping given its ARN reads the stream "
        "itself (sharing the stream's read throughput): the function receives the same records"]
    assert [(c.kind, c.function) for c in result.changes] == [("stream", "clicks")]     # nothing else is made


@pytest.mark.parametrize(("resource", "match"), [
    ("  Key:\n    Type: AWS::IAM::AccessKey\n    Properties: {UserName: ci}\n",
     r"^ValidationError: Resource Key \(line 3\): resource type 'AWS::IAM::AccessKey' is not supported: Cumulo has "
     r"no IAM users: a key of one would sign requests as nobody Cumulo knows \(sign with the account's keys, or a "
     r"role's session from AssumeRole\)"),
    ("  C:\n    Type: AWS::Kinesis::StreamConsumer\n    Properties: {ConsumerName: reader}\n",
     r"Resource C \(line 3\): properties StreamARN and ConsumerName are required"),
    ("  C:\n    Type: AWS::Kinesis::StreamConsumer\n    Properties: {StreamARN: clicks, ConsumerName: reader}\n",
     r"Resource C \(line 3\): property StreamARN \(line 5\): 'clicks' is not a Kinesis stream ARN"),
    ("  U:\n    Type: AWS::IAM::User\n    Properties: {Path: ci}\n",
     r"Resource U \(line 3\): property Path \(line 5\): 'ci' must begin and end with /"),
])
def test_access_keys_are_refused_and_consumers_and_users_checked(tmp_path: Path, resource: str, match: str) -> None:
    with pytest.raises(TemplateError, match=match):
        load_template(_template(tmp_path, resource))


PRIVATE_HTTP_API = """\
  Link:
    Type: AWS::ApiGatewayV2::VpcLink
    Properties: {Name: legacy, SubnetIds: [subnet-0a1b2c3d]}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: shop, ProtocolType: HTTP}
  Private:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: HTTP_PROXY
      IntegrationMethod: ANY
      ConnectionType: VPC_LINK
      ConnectionId: !Ref Link
      IntegrationUri: arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/app/legacy/50dc6c495c0c9188/0467ef3c8400ae65
      PayloadFormatVersion: '1.0'
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: "ANY /legacy/{proxy+}", Target: !Sub "integrations/${Private}"}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: $default, AutoDeploy: true}
"""


def test_an_http_api_route_through_a_vpc_link_is_refused_naming_it(cumulo: Cumulo, tmp_path: Path) -> None:
    """A private integration's backend is a load balancer's listener in a VPC: nothing on this machine answers
    for it, so the route would have no backend; the deploy says which route and why."""
    with pytest.raises(TemplateError, match=r"route ANY /legacy/\{proxy\+\}: ConnectionType VPC_LINK reaches "
                                            r"'arn:aws:elasticloadbalancing:.*:listener/app/legacy/.*', a load "
                                            r"balancer's listener or a Cloud Map service in a VPC, which Cumulo "
                                            r"cannot reach \(it has no VPCs\): the route would have no backend"):
        deploy(cumulo, _template(tmp_path, PRIVATE_HTTP_API), stack_name="shop", dry_run=True)


PRIVATE_OPENAPI = """\
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        openapi: "3.0.1"
        info: {title: shop}
        paths:
          /legacy:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                connectionType: VPC_LINK
                connectionId: abc123
                uri: arn:aws:servicediscovery:us-east-1:111122223333:service/srv-legacy
                payloadFormatVersion: "1.0"
"""


def test_an_openapi_route_through_a_vpc_link_is_refused_naming_it(cumulo: Cumulo, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"route GET /legacy: ConnectionType VPC_LINK reaches "
                                            r"'arn:aws:servicediscovery:.*:service/srv-legacy', a load balancer's "
                                            r"listener or a Cloud Map service in a VPC, which Cumulo cannot reach"):
        deploy(cumulo, _template(tmp_path, PRIVATE_OPENAPI), stack_name="shop", dry_run=True)
