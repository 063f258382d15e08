"""Function URLs end to end: Lambda's URL API through unchanged boto3, SAM's FunctionUrlConfig and
AWS::Lambda::Url in a template, and real HTTP requests to the URLs on loopback (payload 2.0, CORS,
AuthType NONE and AWS_IAM with SigV4 signatures and the house's IAM policies)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from test_gateway import Gateway
from test_identity import ACCOUNT, OWNER, assume, client, role, trust
from test_server import CumuloServer, zip_of

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 201, "headers": {"content-type": "application/json", "x-fn": context.function_name},
            "cookies": ["seen=1; Path=/"], "body": json.dumps(event)}
"""
TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
Resources:
  Public:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: ['https://app.example']
          AllowMethods: [GET, POST]
          AllowHeaders: [content-type]
          MaxAge: 300
  Private:
    Type: AWS::Serverless::Function
  PrivateUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !GetAtt Private.Arn
      AuthType: AWS_IAM
Outputs:
  PublicUrl:
    Value: !GetAtt PublicUrl.FunctionUrl
  PrivateUrl:
    Value: !GetAtt PrivateUrl.FunctionUrl
"""
OUTPUT = re.compile(r"(Public|Private)Url\s*[:=]?\s*(http://\S+/lambda-url/([a-z0-9]{32})/)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("urls")
    (tmp / "app" / "src").mkdir(parents=True)
    (tmp / "app" / "src" / "app.py").write_text(textwrap.dedent(ECHO))
    (tmp / "app" / "template.yaml").write_text(TEMPLATE)
    server = CumuloServer(tmp / "home", str(tmp / "app" / "template.yaml"))
    try:
        output = server.wait_for_output("Stop with Ctrl-C")
        urls = {m.group(1): m.group(2) for m in OUTPUT.finditer(output)}
        assert set(urls) == {"Public", "Private"}, output
        yield Gateway(server), urls
    finally:
        server.close()


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_a_public_url_hands_the_function_a_payload_2_event(served: tuple[Gateway, dict[str, str]]) -> None:
    gw, urls = served
    status, headers, body = gw.request("POST", _path(urls["Public"]) + "orders/7?a=1&a=2", b'{"n": 1}',
                                       {"Content-Type": "application/json", "Cookie": "s=1; t=2",
                                        "User-Agent": "tests"})
    assert status == 201, body
    assert headers["x-fn"][0].endswith("-Public")
    assert headers["set-cookie"] == ["seen=1; Path=/"]
    event = json.loads(body)
    url_id = urls["Public"].rstrip("/").rsplit("/", 1)[1]
    assert (event["version"], event["routeKey"], event["rawPath"], event["rawQueryString"]) == (
        "2.0", "$default", "/orders/7", "a=1&a=2")
    assert event["queryStringParameters"] == {"a": "1,2"} and event["cookies"] == ["s=1", "t=2"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"n": 1}', False)
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1" and event["headers"]["user-agent"] == "tests"
    context = event["requestContext"]
    assert (context["accountId"], context["apiId"], context["domainPrefix"], context["stage"]) == (
        "anonymous", url_id, url_id, "$default")
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert context["http"]["method"] == "POST" and "authorizer" not in context
    assert "pathParameters" not in event and "stageVariables" not in event


def test_the_host_header_names_the_url_too(served: tuple[Gateway, dict[str, str]]) -> None:
    gw, urls = served
    url_id = urls["Public"].rstrip("/").rsplit("/", 1)[1]
    host = f"{url_id}.lambda-url.us-east-1.localhost"
    status, _, body = gw.request("GET", "/hello", headers={"Host": host})
    event = json.loads(body)
    assert status == 201 and event["rawPath"] == "/hello" and event["requestContext"]["domainName"] == host
    assert gw.request("GET", "/hello", headers={"Host": "0" * 32 + ".lambda-url.us-east-1.localhost"})[0] == 404


def test_cors_of_the_url(served: tuple[Gateway, dict[str, str]]) -> None:
    gw, urls = served
    status, headers, _ = gw.request("OPTIONS", _path(urls["Public"]), headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 204 and headers["access-control-allow-origin"] == ["https://app.example"]
    assert headers["access-control-max-age"] == ["300"]
    _, headers, _ = gw.request("GET", _path(urls["Public"]), headers={"Origin": "https://app.example"})
    assert headers["access-control-allow-origin"] == ["https://app.example"]
    _, headers, _ = gw.request("GET", _path(urls["Public"]), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers


def _signed(gw: Gateway, path: str, key: str, secret: str, token: str | None = None) -> dict[str, str]:
    url = f"http://{gw.host}:{gw.port}{path}"
    request = AWSRequest("GET", url, headers={"Host": f"{gw.host}:{gw.port}"})
    SigV4Auth(Credentials(key, secret, token), "lambda", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_an_iam_url_wants_a_signature_and_an_allow(served: tuple[Gateway, dict[str, str]]) -> None:
    gw, urls = served
    path = _path(urls["Private"])
    status, _, body = gw.request("GET", path)
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})
    bad = _signed(gw, path, gw.server.key_id, "not-the-secret")
    assert gw.request("GET", path, headers=bad)[0] == 403
    status, _, body = gw.request("GET", path, headers=_signed(gw, path, gw.server.key_id, gw.server.secret))
    assert status == 201, body
    iam_ctx = json.loads(body)["requestContext"]["authorizer"]["iam"]
    assert iam_ctx["accountId"] == ACCOUNT and iam_ctx["userArn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert json.loads(body)["requestContext"]["accountId"] == ACCOUNT
    # A role session needs lambda:InvokeFunctionUrl on the function.
    arn = role(gw.server, "url-caller", trust(OWNER))
    creds = assume(gw.server, arn, "caller")
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert gw.request("GET", path, headers=_signed(gw, path, *session))[0] == 403
    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:" + _function_of(gw, "Private")
    client(gw.server, "iam").put_role_policy(RoleName="url-caller", PolicyName="urls", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl",
                                                "Resource": function_arn,
                                                "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType":
                                                                               "AWS_IAM"}}}]}))
    status, _, body = gw.request("GET", path, headers=_signed(gw, path, *session))
    assert status == 201, body
    assert json.loads(body)["requestContext"]["authorizer"]["iam"]["userArn"].endswith(":assumed-role/url-caller/caller")


def _function_of(gw: Gateway, logical: str) -> str:
    names = [f["FunctionName"] for f in gw.server.client().list_functions()["Functions"]]
    return next(n for n in names if n.endswith(f"-{logical}"))


def test_the_url_api_through_boto3(served: tuple[Gateway, dict[str, str]]) -> None:
    gw, urls = served
    lam = gw.server.client()
    public = lam.get_function_url_config(FunctionName=_function_of(gw, "Public"), Qualifier="live")
    url_id = urls["Public"].rstrip("/").rsplit("/", 1)[1]
    assert public["FunctionUrl"] == f"https://{url_id}.lambda-url.us-east-1.on.aws/"
    assert public["AuthType"] == "NONE" and public["Cors"]["MaxAge"] == 300 and public["InvokeMode"] == "BUFFERED"
    assert public["FunctionArn"].endswith("-Public:live")

    lam.create_function(FunctionName="hooks", Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/x",
                        Handler="app.handler", Code={"ZipFile": zip_of(**{"app.py": ECHO})})
    created = lam.create_function_url_config(FunctionName="hooks", AuthType="NONE")
    assert created["FunctionUrl"].endswith(".lambda-url.us-east-1.on.aws/") and "Cors" not in created
    with pytest.raises(ClientError) as info:
        lam.create_function_url_config(FunctionName="hooks", AuthType="NONE")
    assert info.value.response["Error"]["Code"] == "ResourceConflictException"
    updated = lam.update_function_url_config(FunctionName="hooks", AuthType="AWS_IAM",
                                             Cors={"AllowOrigins": ["*"]})
    assert (updated["AuthType"], updated["Cors"]) == ("AWS_IAM", {"AllowOrigins": ["*"]})
    assert [c["FunctionUrl"] for c in lam.list_function_url_configs(FunctionName="hooks")["FunctionUrlConfigs"]] \
        == [created["FunctionUrl"]]
    with pytest.raises(ClientError) as info:
        lam.create_function_url_config(FunctionName="hooks", Qualifier="1", AuthType="NONE")
    assert info.value.response["Error"]["Code"] in ("InvalidParameterValueException", "ResourceNotFoundException")
    with pytest.raises(ClientError) as info:
        lam.update_function_url_config(FunctionName="hooks", AuthType="OPEN")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    hooks = "/lambda-url/" + created["FunctionUrl"].split("//")[1].split(".")[0] + "/"
    assert gw.request("GET", hooks)[0] == 403          # AWS_IAM now
    lam.delete_function_url_config(FunctionName="hooks")
    with pytest.raises(ClientError) as info:
        lam.get_function_url_config(FunctionName="hooks")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert gw.request("GET", hooks)[0] == 404
    lam.create_function_url_config(FunctionName="hooks", AuthType="NONE")
    assert gw.request("GET", hooks)[0] == 201
    lam.delete_function(FunctionName="hooks")           # the URL goes with its function
    assert gw.request("GET", hooks)[0] == 404
