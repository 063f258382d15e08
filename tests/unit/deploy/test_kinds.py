"""Resource kinds: a registered kind is what a template's type is read by; a type no kind reads is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cumulo.deploy.intrinsics import NO_VALUE, resolve, to_str
from cumulo.deploy.kinds import KINDS
from cumulo.deploy.kinds.base import Attributes, Entry, Kind, Load
from cumulo.deploy.template import TemplateError, load_template, resolve_outputs
from cumulo.model.function import Arns


@dataclass(frozen=True)
class WidgetSpec:
    logical_id: str
    name: str
    colour: str


class Widget(Kind):
    name = "widget"
    types = ("AWS::Test::Widget",)
    after = ("queue",)

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {e.logical_id: to_str(resolve(e.properties.get("Name", NO_VALUE), load.plain))
                 if "Name" in e.properties else f"{load.stack}-{e.logical_id}" for e in entries}
        return named, {(lid, "Ref"): name for lid, name in named.items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        return [WidgetSpec(e.logical_id, named[e.logical_id], to_str(resolve(e.properties["Colour"], load.scope)))
                for e in entries]

    def attributes(self, spec: WidgetSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.name, (spec.logical_id, "Arn"): f"arn:aws:test:::widget/{spec.name}"}


@pytest.fixture
def widget() -> Iterator[Widget]:
    kind = Widget()
    KINDS.register(kind)
    try:
        yield kind
    finally:
        KINDS.unregister(kind)


def _write(tmp_path: Path, resources: str) -> Path:
    (tmp_path / "template.yaml").write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + resources)
    return tmp_path / "template.yaml"


def test_a_registered_kind_reads_its_type(tmp_path: Path, widget: Widget) -> None:
    path = _write(tmp_path, """\
  Paint:
    Type: AWS::SQS::Queue
  Gadget:
    Type: AWS::Test::Widget
    Properties: {Colour: !GetAtt Paint.QueueName}
Outputs:
  Arn: {Value: !GetAtt Gadget.Arn}
""")
    template = load_template(path, stack_name="shop")
    (gadget,) = template.of("widget")
    assert gadget == WidgetSpec("Gadget", "shop-Gadget", template.queues[0].name)
    assert resolve_outputs(template) == {"Arn": "arn:aws:test:::widget/shop-Gadget"}
    order = [kind.name for kind in KINDS.deploy_order()]
    assert order.index("queue") < order.index("widget")
    assert "AWS::Test::Widget" in KINDS.types


def test_an_unknown_type_is_refused_naming_every_supported_type(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(_write(tmp_path, "  Gadget:\n    Type: AWS::Robots::Arm\n"))
    assert info.value.message == (
        "Resource Gadget (line 3): resource type 'AWS::Robots::Arm' is not supported; Cumulo deploys "
        "AWS::Serverless::Function, AWS::Lambda::Function, AWS::Lambda::Version, AWS::Lambda::Alias, "
        "AWS::Serverless::HttpApi, AWS::Serverless::Api, AWS::ApiGateway::RestApi, "
        "AWS::ApiGateway::Resource, AWS::ApiGateway::Method, AWS::ApiGateway::Deployment, AWS::ApiGateway::Stage, "
        "AWS::ApiGateway::Authorizer, AWS::ApiGateway::Model, AWS::ApiGateway::RequestValidator, "
        "AWS::ApiGateway::GatewayResponse, AWS::ApiGatewayV2::Api, AWS::ApiGatewayV2::Integration, "
        "AWS::ApiGatewayV2::Route, AWS::ApiGatewayV2::Stage, AWS::ApiGatewayV2::Authorizer, "
        "AWS::ApiGatewayV2::Deployment, AWS::ApiGatewayV2::RouteResponse, AWS::ApiGatewayV2::IntegrationResponse, "
        "AWS::ApiGatewayV2::Model, AWS::ApiGatewayV2::ApiMapping, AWS::ApiGatewayV2::DomainName, "
        "AWS::ApiGateway::ApiKey, AWS::ApiGateway::UsagePlan, AWS::ApiGateway::UsagePlanKey, AWS::SQS::Queue, AWS::SNS::Topic, AWS::SNS::Subscription, AWS::S3::Bucket, "
        "AWS::KMS::Key, AWS::KMS::Alias, "
        "AWS::SSM::Parameter, AWS::SecretsManager::Secret, AWS::SecretsManager::RotationSchedule, "
        "AWS::SecretsManager::ResourcePolicy, "
        "AWS::Kinesis::Stream, AWS::DynamoDB::Table, AWS::Serverless::SimpleTable, "
        "AWS::Events::EventBus, AWS::Events::Connection, AWS::Events::ApiDestination, AWS::Events::Rule, "
        "AWS::Serverless::StateMachine, "
        "AWS::StepFunctions::StateMachine, AWS::Serverless::LayerVersion, AWS::Lambda::LayerVersion, "
        "AWS::Lambda::EventSourceMapping, AWS::Scheduler::Schedule, AWS::Lambda::EventInvokeConfig, AWS::Logs::LogGroup, "
        "AWS::CloudWatch::Alarm, AWS::CloudWatch::CompositeAlarm, AWS::CodeDeploy::DeploymentConfig, "
        "AWS::Lambda::Permission, AWS::Lambda::Url, AWS::SQS::QueuePolicy, AWS::S3::BucketPolicy, AWS::SNS::TopicPolicy, AWS::IAM::Role, "
        "AWS::IAM::ManagedPolicy, AWS::IAM::Policy, "
        "AWS::IAM::RolePolicy, AWS::Serverless::Connector, "
        "and accepts with a "
        "warning types that mean nothing on one machine (CloudWatch dashboards, "
        "log filters, "
        "X-Ray, VPC networking...)")
    assert (info.value.logical_id, info.value.line) == ("Gadget", 3)


def test_a_type_of_a_service_cumulo_lacks_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        load_template(_write(tmp_path, "  Bucket:\n    Type: AWS::S3::AccessPoint\n"))
    assert info.value.message == (
        "Resource Bucket (line 3): resource type 'AWS::S3::AccessPoint' is not supported: Cumulo serves buckets "
        "(AWS::S3::Bucket) and no other S3 resource: what it configures would not exist")
    assert (info.value.logical_id, info.value.line) == ("Bucket", 3)
