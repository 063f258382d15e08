"""CloudFormation's stack API (``api/cloudformation.py``, ``deploy/stacks.py``) read by botocore's own parser,
and any parameters answered or refused with AWS's errors, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import botocore.session
import pytest
from botocore.parsers import QueryParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo import Cumulo
from cumulo.api import cloudformation, query
from cumulo.api.http import Request
from cumulo.deploy.engine import deploy
from cumulo.errors import CumuloError

_SESSION = botocore.session.get_session()
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Description: "a <tagged> & quoted 'stack'"
Parameters:
  Key: {Type: String, NoEcho: true, Default: x}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {InlineCode: "def handler(e, c): return 1", Handler: index.handler, Runtime: python3.12}
  Keys:
    Type: AWS::KMS::Key
Outputs:
  Arn: {Value: !GetAtt Fn.Arn, Description: "<the> function"}
"""


@pytest.fixture(scope="module")
def cumulo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cumulo]:
    root = tmp_path_factory.mktemp("cfn")
    (root / "app").mkdir()
    (root / "app" / "template.yaml").write_text(TEMPLATE)
    with Cumulo(home=root / "home") as c:
        deploy(c, root / "app" / "template.yaml", stack_name="shop")
        yield c


def call(c: Cumulo, params: dict[str, str]) -> dict[str, Any]:
    """One operation through the protocol, as botocore parses the answer."""
    from urllib.parse import urlencode
    body = urlencode({"Version": "2010-05-15", **params}).encode()
    request = Request("POST", "/", "", [("content-type", query.FORM)], body)
    reply = query.handle(c, request)
    action = params.get("Action", "")
    model = _SESSION.get_service_model("cloudformation")
    if reply.status != 200 or action not in cloudformation.SERVICE.operations:
        return {"status": reply.status, "body": reply.body.decode()}
    shape = model.operation_model(action).output_shape
    return {"status": 200, **QueryParser().parse({"body": reply.body, "headers": dict(reply.headers),
                                                  "status_code": 200}, shape)}


def test_botocore_reads_every_answer(cumulo: Cumulo) -> None:
    (stack,) = call(cumulo, {"Action": "DescribeStacks", "StackName": "shop"})["Stacks"]
    assert stack["Description"] == "a <tagged> & quoted 'stack'"
    assert stack["Parameters"] == [{"ParameterKey": "Key", "ParameterValue": "****"}]
    assert stack["Outputs"] == [{"OutputKey": "Arn", "OutputValue": cumulo.arns.function("shop-Fn"),
                                 "Description": "<the> function"}]
    resources = call(cumulo, {"Action": "ListStackResources", "StackName": "shop"})["StackResourceSummaries"]
    assert [(r["LogicalResourceId"], r["ResourceType"]) for r in resources] == [
        ("Fn", "AWS::Lambda::Function"), ("Keys", "AWS::KMS::Key"), ("FnRole", "AWS::IAM::Role")]     # SAM's role
    assert call(cumulo, {"Action": "GetTemplate", "StackName": "shop"})["TemplateBody"] == TEMPLATE
    assert call(cumulo, {"Action": "ListStacks"})["StackSummaries"][0]["StackStatus"] == "CREATE_COMPLETE"


OPERATIONS = st.sampled_from(sorted(cloudformation.SERVICE.operations) + ["CreateStack", "Nope", ""])
VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["shop", "arn:aws:cloudformation:us-east-1:000000000000:stack/shop/x", "Fn", "DELETE_COMPLETE"])


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPERATIONS, st.dictionaries(st.sampled_from(["StackName", "LogicalResourceId", "StackStatusFilter.member.1",
                                                    "NextToken"]), VALUES, max_size=3))
def test_any_parameters_are_answered_or_refused_as_aws_does(cumulo: Cumulo, action: str,
                                                            params: dict[str, str]) -> None:
    if action == "DeleteStack":
        params = {**params, "StackName": "not-shop"}        # the stack stays for the other examples
    answer = call(cumulo, {"Action": action, **params})
    if answer["status"] != 200:
        assert "<ErrorResponse" in answer["body"] and "<Code>" in answer["body"]
        code = answer["body"].split("<Code>")[1].split("</Code>")[0]
        assert (code, answer["status"]) in (   # CloudFormation's API reference: each error's status
            ("ValidationError", 400), ("InvalidAction", 400), ("MissingAction", 400), ("ChangeSetNotFound", 404),
            ("AlreadyExistsException", 400), ("InsufficientCapabilitiesException", 400),
            ("InvalidChangeSetStatus", 400)), answer
    else:
        assert action in cloudformation.SERVICE.operations
