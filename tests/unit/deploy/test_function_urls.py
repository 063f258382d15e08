"""Function URLs: the service's rules (functions/urls.py), and FunctionUrlConfig / AWS::Lambda::Url in templates."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.template import TemplateError, load_template, resolve_outputs
from cumulo.deploy.url_config import read_url_config
from cumulo.errors import ValidationException
from cumulo.functions.urls import check_cors, url_id_for

HEADER = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
"""


def _load(tmp_path: Path, body: str) -> Any:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "template.yaml").write_text(HEADER + textwrap.dedent(body))
    return load_template(tmp_path / "template.yaml", stack_name="shop")


def test_url_ids_look_like_aws_and_are_stable() -> None:
    a = url_id_for("000000000000", "fn", None)
    assert len(a) == 32 and a.isalnum() and a == a.lower() and a == url_id_for("000000000000", "fn", None)
    assert a != url_id_for("000000000000", "fn", "live") != url_id_for("111111111111", "fn", "live")


def test_cors_is_checked_as_lambda_checks_it() -> None:
    assert check_cors(None) is None
    assert check_cors({"AllowOrigins": ["*"], "MaxAge": 0}) == {"AllowOrigins": ["*"], "MaxAge": 0}
    for bad in ({"MaxAge": 86401}, {"AllowOrigins": "*"}, {"AllowMethods": ["FETCH"]}, {"Bogus": 1},
                {"AllowCredentials": True, "AllowOrigins": ["*"]}, {"AllowCredentials": "yes"}, []):
        with pytest.raises(ValidationException):
            check_cors(bad)


_CORS_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 90000), st.text(max_size=5),
                         st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3))


@settings(max_examples=300, deadline=None)
@given(doc=st.one_of(st.dictionaries(st.sampled_from(["AllowOrigins", "AllowMethods", "AllowHeaders", "ExposeHeaders",
                                                       "MaxAge", "AllowCredentials", "Other"]), _CORS_VALUES,
                                     max_size=4),
                     _CORS_VALUES))
def test_any_cors_document_is_kept_or_refused_with_a_validation_error(doc: Any) -> None:
    try:
        kept = check_cors(doc)
    except ValidationException:
        return
    assert kept == doc
    if kept is not None:   # what is kept, the gateway can serve
        from cumulo.gateway.service import cors_config
        cors_config(kept)


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(["AuthType", "Cors", "InvokeMode", "Other"]),
                           st.one_of(st.sampled_from(["NONE", "AWS_IAM", "BUFFERED", "RESPONSE_STREAM"]), _CORS_VALUES),
                           max_size=3))
def test_any_function_url_config_is_read_or_refused_naming_why(doc: dict[str, Any]) -> None:
    try:
        config = read_url_config(doc)
    except IntrinsicError as exc:
        assert exc.message
    else:
        assert config["AuthType"] in ("NONE", "AWS_IAM") and config["InvokeMode"] in ("BUFFERED", "RESPONSE_STREAM")


def test_sam_function_url_config_and_lambda_url(tmp_path: Path) -> None:
    template = _load(tmp_path, """
    Resources:
      Web:
        Type: AWS::Serverless::Function
        Properties:
          AutoPublishAlias: live
          FunctionUrlConfig: {AuthType: NONE, Cors: {AllowOrigins: ['*']}}
      Api:
        Type: AWS::Serverless::Function
      ApiUrl:
        Type: AWS::Lambda::Url
        Properties: {TargetFunctionArn: !Ref Api, AuthType: AWS_IAM, InvokeMode: RESPONSE_STREAM}
    Outputs:
      Web: {Value: !GetAtt WebUrl.FunctionUrl}
      Api: {Value: !GetAtt ApiUrl.FunctionUrl}
      ApiFn: {Value: !GetAtt ApiUrl.FunctionArn}
    """)
    specs = {s.logical_id: s for s in template.of("function url")}
    web, api = specs["WebUrl"], specs["ApiUrl"]
    assert (web.function, web.qualifier, web.auth_type, web.cors) == ("shop-Web", "live", "NONE", {"AllowOrigins": ["*"]})
    assert (api.function, api.qualifier, api.auth_type, api.invoke_mode) == ("shop-Api", None, "AWS_IAM",
                                                                            "RESPONSE_STREAM")
    outputs = resolve_outputs(template)
    assert outputs["Web"] == f"https://{url_id_for('000000000000', 'shop-Web', 'live')}.lambda-url.us-east-1.on.aws/"
    assert outputs["Api"] == f"https://{url_id_for('000000000000', 'shop-Api', None)}.lambda-url.us-east-1.on.aws/"
    assert outputs["ApiFn"] == "arn:aws:lambda:us-east-1:000000000000:function:shop-Api"
    (kind,) = {k for k, s in template.all_resources() if s is web}
    local = kind.local_outputs(outputs, [web, api], "http://127.0.0.1:8080")
    assert local["Web"] == f"http://127.0.0.1:8080/lambda-url/{web.url_id}/" and local["ApiFn"] == outputs["ApiFn"]


@pytest.mark.parametrize("body,message", [
    ("""
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          FunctionUrlConfig: {AuthType: PUBLIC}
    """, "AuthType must be one of NONE, AWS_IAM"),
    ("""
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          FunctionUrlConfig: {AuthType: NONE, Cors: {MaxAge: 100000}}
    """, "Cors: 1 validation error"),
    ("""
    Resources:
      Url:
        Type: AWS::Lambda::Url
        Properties: {AuthType: NONE}
    """, "property TargetFunctionArn: required"),
])
def test_what_a_function_url_cannot_be(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _load(tmp_path, body)
