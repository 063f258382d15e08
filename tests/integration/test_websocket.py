"""WebSocket APIs end to end: a template shaped like AWS's simple-websockets-chat-app (raw
AWS::ApiGatewayV2::* resources, three functions keeping connection ids in a DynamoDB table, the
send function pushing to every client with ``apigatewaymanagementapi``'s PostToConnection) deployed
by ``cumulo up`` and driven by real WebSocket clients (tests/integration/wsclient.py); plus a
$connect authorizer, route responses, the ``@connections`` API from boto3 (GetConnection,
DeleteConnection, GoneException), an API made with boto3's ``apigatewayv2``, and the limits."""

from __future__ import annotations

import json
import socket
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

from tests.integration.test_gateway import Gateway
from tests.integration.test_server import CumuloServer
from tests.integration.wsclient import Refused, WsClient, connect

ON_CONNECT = """
import os, boto3
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
def handler(event, context):
    ctx = event["requestContext"]
    if (event.get("queryStringParameters") or {}).get("refuse"):
        return {"statusCode": 403, "body": "not you"}
    table.put_item(Item={"connectionId": ctx["connectionId"], "user": (ctx.get("authorizer") or {}).get("user", "")})
    return {"statusCode": 200, "body": "Connected."}
"""
ON_DISCONNECT = """
import json, os, boto3
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
def handler(event, context):
    ctx = event["requestContext"]
    table.delete_item(Key={"connectionId": ctx["connectionId"]})
    print(json.dumps({"disconnected": ctx["connectionId"], "code": ctx["disconnectStatusCode"],
                      "eventType": ctx["eventType"]}))
    return {"statusCode": 200, "body": "Disconnected."}
"""
SEND_MESSAGE = """
import json, os, boto3
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
def handler(event, context):
    ctx = event["requestContext"]
    api = boto3.client("apigatewaymanagementapi", endpoint_url="https://" + ctx["domainName"] + "/" + ctx["stage"])
    data = json.loads(event["body"])["data"]
    for item in table.scan(ProjectionExpression="connectionId")["Items"]:
        try:
            api.post_to_connection(ConnectionId=item["connectionId"], Data=data.encode())
        except api.exceptions.GoneException:
            table.delete_item(Key={"connectionId": item["connectionId"]})
    return {"statusCode": 200, "body": "Data sent."}
"""
# $default with a route response: echoes the event's shape back to the sender; its role may not
# execute-api:ManageConnections, so its own PostToConnection is refused
DEFAULT = """
import json, boto3
def handler(event, context):
    ctx = event["requestContext"]
    if event.get("body") == "try-post":
        api = boto3.client("apigatewaymanagementapi", endpoint_url="http://" + ctx["domainName"] + "/" + ctx["stage"])
        try:
            api.post_to_connection(ConnectionId=ctx["connectionId"], Data=b"should not arrive")
            return {"statusCode": 200, "body": "posted"}
        except Exception as exc:
            return {"statusCode": 200, "body": "refused: " + exc.response["Error"]["Code"]}
    return {"statusCode": 200, "body": json.dumps({"routeKey": ctx["routeKey"], "eventType": ctx.get("eventType"),
            "body": event.get("body"), "isBase64Encoded": event["isBase64Encoded"], "context": ctx})}
"""
AUTHORIZER = """
def handler(event, context):
    token = event["headers"].get("Auth") or event["headers"].get("auth")
    print("AUTH " + str(token))
    effect = "Allow" if str(token).startswith("letmein") else "Deny"
    return {"principalId": "user-1", "context": {"user": "ann"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
"""


def _route(name: str, key: str, function: str, extra: str = "") -> str:
    return f"""
  {name}Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref SimpleChatWebSocket
      RouteKey: {key}
      AuthorizationType: NONE
      OperationName: {name}Route
      Target: !Join ['/', ['integrations', !Ref {name}Integ]]{extra}
  {name}Integ:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref SimpleChatWebSocket
      Description: {name} Integration
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{function}.Arn}}/invocations
  {name}Permission:
    Type: AWS::Lambda::Permission
    DependsOn: [SimpleChatWebSocket]
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref {function}
      Principal: apigateway.amazonaws.com
"""


def _function(name: str, folder: str, policies: str) -> str:
    return f"""
  {name}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {folder}/
      Handler: app.handler
      MemorySize: 256
      Runtime: python3.11
      Timeout: 10
      Environment: {{Variables: {{TABLE_NAME: !Ref TableName}}}}
      Policies:{policies}
"""


CRUD = "\n        - DynamoDBCrudPolicy: {TableName: !Ref TableName}"
MANAGE = """
        - Statement:
            - Effect: Allow
              Action: ['execute-api:ManageConnections']
              Resource: [!Sub 'arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${SimpleChatWebSocket}/*']"""

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: simple-websockets-chat-app, as AWS's sample shapes it (Python handlers)
Parameters:
  TableName:
    Type: String
    Default: simplechat_connections
    MinLength: 3
    MaxLength: 50
    AllowedPattern: ^[A-Za-z_]+$
Resources:
  SimpleChatWebSocket:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: SimpleChatWebSocket
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: "$request.body.action"
""" + _route("Connect", "$connect", "OnConnectFunction") \
    + _route("Disconnect", "$disconnect", "OnDisconnectFunction") \
    + _route("Send", "sendmessage", "SendMessageFunction") \
    + _route("Default", "$default", "DefaultFunction", "\n      RouteResponseSelectionExpression: $default") + """
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn: [ConnectRoute, SendRoute, DisconnectRoute]
    Properties:
      ApiId: !Ref SimpleChatWebSocket
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      StageName: Prod
      Description: Prod Stage
      DeploymentId: !Ref Deployment
      ApiId: !Ref SimpleChatWebSocket
  ConnectionsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: connectionId, AttributeType: S}]
      KeySchema: [{AttributeName: connectionId, KeyType: HASH}]
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 5}
      SSESpecification: {SSEEnabled: True}
      TableName: !Ref TableName
""" + _function("OnConnectFunction", "onconnect", CRUD) + _function("OnDisconnectFunction", "ondisconnect", CRUD) \
    + _function("SendMessageFunction", "sendmessage", CRUD + MANAGE) + _function("DefaultFunction", "default", CRUD) + """
  # a second API: the same $connect behind a Lambda REQUEST authorizer
  GuardedSocket:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: Guarded
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  GuardedAuthorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref GuardedSocket
      Name: HeaderAuth
      AuthorizerType: REQUEST
      IdentitySource: [route.request.header.Auth]
      AuthorizerUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${AuthorizerFunction.Arn}/invocations
  GuardedConnect:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref GuardedSocket
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref GuardedAuthorizer
      Target: !Sub integrations/${GuardedConnectInteg}
  GuardedConnectInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref GuardedSocket
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt OnConnectFunction.Arn
  GuardedDefault:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref GuardedSocket
      RouteKey: $default
      Target: !Sub integrations/${GuardedDefaultInteg}
  GuardedDefaultInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref GuardedSocket
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt DefaultFunction.Arn
  GuardedDefaultResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref GuardedSocket
      RouteId: !Ref GuardedDefault
      RouteResponseKey: $default
  GuardedStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref GuardedSocket
      StageName: live
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: |
""" + textwrap.indent(AUTHORIZER.strip("\n"), " " * 8) + """
      Handler: index.handler
      Runtime: python3.11
Outputs:
  WebSocketURI:
    Description: The WSS Protocol URI to connect to
    Value: !Join ['', ['wss://', !Ref SimpleChatWebSocket, '.execute-api.', !Ref 'AWS::Region', '.amazonaws.com/', !Ref 'Stage']]
  GuardedURI:
    Value: !Sub wss://${GuardedSocket}.execute-api.${AWS::Region}.amazonaws.com/live
"""


class Chat:
    def __init__(self, server: CumuloServer) -> None:
        self.server = server
        self.gateway = Gateway(server)
        cfn = server.aws("cloudformation")
        self.outputs = {o["OutputKey"]: o["OutputValue"]
                        for o in cfn.describe_stacks(StackName="chat")["Stacks"][0]["Outputs"]}
        cfn.close()
        self.url = self.outputs["WebSocketURI"]
        self.api_id = self.url.rstrip("/").split("/")[-2]

    def manage(self, url: str | None = None) -> Any:
        """boto3's apigatewaymanagementapi at the stage's URL as Cumulo serves it."""
        endpoint = "http" + (url or self.url)[2:]
        return boto3.session.Session().client(
            "apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=self.server.key_id, aws_secret_access_key=self.server.secret,
            config=Config(retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chat]:
    folder = tmp_path_factory.mktemp("chat")
    for name, source in (("onconnect", ON_CONNECT), ("ondisconnect", ON_DISCONNECT), ("sendmessage", SEND_MESSAGE),
                         ("default", DEFAULT)):
        (folder / name).mkdir()
        (folder / name / "app.py").write_text(textwrap.dedent(source))
    (folder / "template.yaml").write_text(TEMPLATE)
    server = CumuloServer(tmp_path_factory.mktemp("home") / "home", str(folder / "template.yaml"),
                          "--stack-name", "chat", env={"CUMULO_WEBSOCKET_IDLE_TIMEOUT_S": "3", "CUMULO_METRICS_INTERVAL_S": "1"})
    try:
        server.wait_for_output("Stop with Ctrl-C", timeout=90)
        yield Chat(server)
    finally:
        server.close()


def _recv_json(client: WsClient) -> Any:
    message = client.recv()
    assert isinstance(message, str), message
    return json.loads(message)


def test_two_clients_chat_through_post_to_connection(chat: Chat) -> None:
    assert chat.url.startswith("ws://") and chat.url.endswith("/Prod"), chat.outputs
    ann, bob = connect(chat.url), connect(chat.url)
    try:
        ann.send_text(json.dumps({"action": "sendmessage", "data": "hi"}))
        assert ann.recv() == "hi"
        assert bob.recv() == "hi"
        bob.send_text(json.dumps({"action": "sendmessage", "data": "hello ann"}))
        assert ann.recv() == "hello ann" and bob.recv() == "hello ann"
    finally:
        ann.close()
        bob.close()
    ddb = chat.server.aws("dynamodb")
    deadline = time.monotonic() + 20       # $disconnect removes both ids
    while ddb.scan(TableName="simplechat_connections")["Count"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ddb.scan(TableName="simplechat_connections")["Count"] == 0
    ddb.close()


def test_default_route_event_shape_and_route_response(chat: Chat) -> None:
    client = connect(chat.url + "?name=x")
    try:
        client.send_text('{"action": "nothing-routes-this", "n": 1}')
        doc = _recv_json(client)
        assert doc["routeKey"] == "$default" and doc["eventType"] == "MESSAGE"
        assert doc["body"] == '{"action": "nothing-routes-this", "n": 1}' and doc["isBase64Encoded"] is False
        ctx = doc["context"]
        assert ctx["apiId"] == chat.api_id and ctx["stage"] == "Prod" and ctx["messageDirection"] == "IN"
        for key in ("connectionId", "domainName", "messageId", "requestId", "extendedRequestId", "requestTime"):
            assert isinstance(ctx[key], str) and ctx[key], key
        assert isinstance(ctx["connectedAt"], int) and ctx["requestTimeEpoch"] >= ctx["connectedAt"]
        assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["identity"]["userAgent"] == "cumulo-tests"
        client.send_text("not json at all")                         # no selection value: $default
        assert _recv_json(client)["body"] == "not json at all"
        client.send_binary(b"\x00\xff")
        doc = _recv_json(client)
        assert doc["isBase64Encoded"] is True and doc["body"] == "AP8="
        # fragmented message, with a ping between its fragments
        client.send_frame(0x1, b'{"act', fin=False)
        client.send_frame(0x9, b"ping?")
        assert client.recv_frame() == (0xA, b"ping?")
        client.send_frame(0x0, b'ion": 7}', fin=True)
        assert _recv_json(client)["body"] == '{"action": 7}'
    finally:
        client.close()


def test_connections_api_get_delete_and_gone(chat: Chat) -> None:
    client = connect(chat.url)
    manage = chat.manage()
    try:
        client.send_text("{}")
        connection_id = _recv_json(client)["context"]["connectionId"]
        found = manage.get_connection(ConnectionId=connection_id)
        assert found["Identity"]["SourceIp"] == "127.0.0.1" and found["Identity"]["UserAgent"] == "cumulo-tests"
        assert found["LastActiveAt"] >= found["ConnectedAt"]
        manage.post_to_connection(ConnectionId=connection_id, Data=b"pushed")
        assert client.recv() == "pushed"
        manage.post_to_connection(ConnectionId=connection_id, Data=b"\xff\xfe")
        assert client.recv() == b"\xff\xfe"                         # not UTF-8: a binary frame
        with pytest.raises(manage.exceptions.PayloadTooLargeException):
            manage.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        manage.delete_connection(ConnectionId=connection_id)
        assert client.recv() is None and client.close_code == 1000
        with pytest.raises(manage.exceptions.GoneException) as gone:
            manage.post_to_connection(ConnectionId=connection_id, Data=b"late")
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
        with pytest.raises(manage.exceptions.GoneException):
            manage.get_connection(ConnectionId="bm9zdWNoY29ubmVjdA=")
    finally:
        client.close()
        manage.close()


def test_connections_api_wants_a_signature(chat: Chat) -> None:
    client = connect(chat.url)
    try:
        client.send_text("{}")
        connection_id = _recv_json(client)["context"]["connectionId"]
        path = f"/{chat.api_id}/Prod/@connections/{connection_id}"
        status, headers, body = chat.gateway.request("POST", path, b"forged")
        assert status == 403 and headers["x-amzn-errortype"] == ["ForbiddenException"], body
        wrong = boto3.session.Session().client(
            "apigatewaymanagementapi", endpoint_url="http" + chat.url[2:], region_name="us-east-1",
            aws_access_key_id=chat.server.key_id, aws_secret_access_key="not-the-secret")
        with pytest.raises(wrong.exceptions.ForbiddenException):
            wrong.post_to_connection(ConnectionId=connection_id, Data=b"forged")
        client.send_text("{}")
        assert _recv_json(client)["body"] == "{}"                   # nothing forged arrived first
    finally:
        client.close()


def test_a_function_without_manage_connections_is_refused(chat: Chat) -> None:
    client = connect(chat.url)
    try:
        client.send_text("try-post")
        assert client.recv() == "refused: ForbiddenException"
        client.send_text("{}")
        assert _recv_json(client)["body"] == "{}"                   # nothing else was sent in between
    finally:
        client.close()


def test_connect_refusal_refuses_the_upgrade(chat: Chat) -> None:
    with pytest.raises(Refused) as refused:
        connect(chat.url + "?refuse=1")
    assert refused.value.status == 403
    with pytest.raises(Refused) as refused:
        connect(chat.url.rsplit("/", 1)[0] + "/NoSuchStage")
    assert refused.value.status == 403


def test_connect_authorizer(chat: Chat) -> None:
    url = chat.outputs["GuardedURI"]
    with pytest.raises(Refused) as refused:
        connect(url)                                               # no identity: not even invoked
    assert refused.value.status == 401
    with pytest.raises(Refused) as refused:
        connect(url, {"Auth": "wrong"})
    assert refused.value.status == 403
    client = connect(url, {"Auth": "letmein"})
    try:
        client.send_text('{"action": "x"}')
        ctx = _recv_json(client)["context"]
        assert ctx["authorizer"]["principalId"] == "user-1" and ctx["authorizer"]["user"] == "ann"
    finally:
        client.close()


def test_connect_authorizer_verdicts_are_cached_per_identity(chat: Chat) -> None:
    url = chat.outputs["GuardedURI"]
    for _ in range(3):                                   # AuthorizerResultTtlInSeconds: 300 by default
        connect(url, {"Auth": "letmein-cached"}).close()
    with pytest.raises(Refused):
        connect(url, {"Auth": "denied-cached"})
    with pytest.raises(Refused):
        connect(url, {"Auth": "denied-cached"})          # the cached Deny
    logs = chat.server.aws("logs")
    group = next(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]
                 if "AuthorizerFunction" in g["logGroupName"])

    def seen(token: str) -> int:
        events = logs.filter_log_events(logGroupName=group, filterPattern=f'"AUTH {token}"')["events"]
        return len(events)

    deadline = time.monotonic() + 10
    while (seen("letmein-cached") < 1 or seen("denied-cached") < 1) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert (seen("letmein-cached"), seen("denied-cached")) == (1, 1)
    logs.close()


def test_protocol_faults_and_limits_close_the_connection(chat: Chat) -> None:
    client = connect(chat.url)
    client.send_frame(0x1, b"x" * (32 * 1024 + 1))                 # a frame over 32 KB
    assert client.recv() is None and client.close_code == 1009
    client.sock.close()
    client = connect(chat.url)
    for _ in range(4):                                             # 4 x 32 KB + 1: a message over 128 KB
        client.send_frame(0x1 if _ == 0 else 0x0, b"y" * (32 * 1024), fin=False)
    client.send_frame(0x0, b"y", fin=True)
    assert client.recv() is None and client.close_code == 1009
    client.sock.close()
    client = connect(chat.url)
    client.send_frame(0x1, b"unmasked", mask=False)
    assert client.recv() is None and client.close_code == 1002
    client.sock.close()
    client = connect(chat.url)
    client.send_frame(0x1, b"\xc3\x28")
    assert client.recv() is None and client.close_code == 1007
    client.sock.close()
    # the gateway still serves
    client = connect(chat.url)
    client.send_text("{}")
    assert _recv_json(client)["routeKey"] == "$default"
    client.close()


def test_idle_connection_is_closed(chat: Chat) -> None:
    client = connect(chat.url)          # CUMULO_WEBSOCKET_IDLE_TIMEOUT_S=3 for this server
    client.sock.settimeout(15)
    started = time.monotonic()
    assert client.recv() is None and client.close_code == 1001
    assert time.monotonic() - started >= 2.5
    client.sock.close()


def test_a_plain_request_or_a_bad_handshake(chat: Chat) -> None:
    path = "/" + chat.url.split("/", 3)[3]
    status, _, _ = chat.gateway.request("GET", path)
    assert status == 404                                           # a WebSocket API answers no plain request
    sock = socket.create_connection((chat.gateway.host, chat.gateway.port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n".encode())
    answer = sock.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 426") and "sec-websocket-version: 13" in answer.lower(), answer
    sock.close()


def test_boto3_apigatewayv2_makes_a_websocket_api(chat: Chat) -> None:
    v2, lam = chat.server.aws("apigatewayv2"), chat.server.aws("lambda")
    arn = lam.get_function(FunctionName=next(
        f["FunctionName"] for f in lam.list_functions()["Functions"] if "DefaultFunction" in f["FunctionName"]))[
        "Configuration"]["FunctionArn"]
    api = v2.create_api(Name="made", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.op")
    assert api["ProtocolType"] == "WEBSOCKET" and api["ApiEndpoint"].startswith("ws://")
    integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn)
    route = v2.create_route(ApiId=api["ApiId"], RouteKey="echo", Target=f"integrations/{integration['IntegrationId']}")
    v2.create_route_response(ApiId=api["ApiId"], RouteId=route["RouteId"], RouteResponseKey="$default")
    v2.create_route(ApiId=api["ApiId"], RouteKey="silent", Target=f"integrations/{integration['IntegrationId']}")
    v2.create_deployment(ApiId=api["ApiId"])
    v2.create_stage(ApiId=api["ApiId"], StageName="dev")
    assert v2.get_route_responses(ApiId=api["ApiId"], RouteId=route["RouteId"])["Items"][0]["RouteResponseKey"] == \
        "$default"
    client = connect(f"{api['ApiEndpoint']}/dev")
    try:
        client.send_text('{"op": "silent"}')          # no route response: nothing comes back
        client.send_text('{"op": "echo"}')
        assert _recv_json(client)["routeKey"] == "echo"
        client.send_text('{"op": "other"}')           # no such route and no $default: Forbidden
        doc = _recv_json(client)
        assert doc["message"] == "Forbidden" and doc["connectionId"] and doc["requestId"]
    finally:
        client.close()
        v2.delete_api(ApiId=api["ApiId"])
        v2.close()
        lam.close()


def test_metrics_count_connections_and_messages(chat: Chat) -> None:
    started = time.time()
    v2, lam = chat.server.aws("apigatewayv2"), chat.server.aws("lambda")
    arn = next(f["FunctionArn"] for f in lam.list_functions()["Functions"] if "DefaultFunction" in f["FunctionName"])
    api = v2.create_api(Name="metered", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.op")
    integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn)
    v2.create_route(ApiId=api["ApiId"], RouteKey="echo", Target=f"integrations/{integration['IntegrationId']}",
                    RouteResponseSelectionExpression="$default")
    v2.create_stage(ApiId=api["ApiId"], StageName="m")
    client = connect(f"{api['ApiEndpoint']}/m")
    client.send_text('{"op": "echo"}')
    assert _recv_json(client)["routeKey"] == "echo"              # one in, one back by the route response
    client.send_text('{"op": "nothing"}')                        # one in, refused: a ClientError
    assert _recv_json(client)["message"] == "Forbidden"
    client.close()
    cw = chat.server.aws("cloudwatch")

    def total(metric: str, stat: str = "Sum") -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/ApiGateway", MetricName=metric, StartTime=started - 120, EndTime=time.time() + 60,
            Period=3600, Statistics=[stat],
            Dimensions=[{"Name": "ApiId", "Value": api["ApiId"]}, {"Name": "Stage", "Value": "m"}])
        return sum(p[stat] for p in points["Datapoints"])

    deadline = time.monotonic() + 20
    while total("MessageCount") < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert (total("ConnectCount"), total("MessageCount"), total("ClientError")) == (1, 3, 1)
    assert total("IntegrationLatency", "SampleCount") == 1
    v2.delete_api(ApiId=api["ApiId"])
    for client_ in (cw, v2, lam):
        client_.close()


def test_stage_route_throttles_hold_for_messages(chat: Chat) -> None:
    v2, lam = chat.server.aws("apigatewayv2"), chat.server.aws("lambda")
    arn = next(f["FunctionArn"] for f in lam.list_functions()["Functions"] if "DefaultFunction" in f["FunctionName"])
    api = v2.create_api(Name="throttled", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.op")
    integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn)
    v2.create_route(ApiId=api["ApiId"], RouteKey="echo", Target=f"integrations/{integration['IntegrationId']}",
                    RouteResponseSelectionExpression="$default")
    v2.create_stage(ApiId=api["ApiId"], StageName="t",
                    RouteSettings={"echo": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001}})
    client = connect(f"{api['ApiEndpoint']}/t")
    try:
        client.send_text('{"op": "echo"}')
        assert _recv_json(client)["routeKey"] == "echo"
        client.send_text('{"op": "echo"}')
        assert _recv_json(client)["message"] == "Too Many Requests"
    finally:
        client.close()
        v2.delete_api(ApiId=api["ApiId"])
        v2.close()
        lam.close()


def test_an_http_api_keeps_its_own_connections_paths(chat: Chat) -> None:
    v2, lam = chat.server.aws("apigatewayv2"), chat.server.aws("lambda")
    arn = next(f["FunctionArn"] for f in lam.list_functions()["Functions"] if "DefaultFunction" in f["FunctionName"])
    api = v2.create_api(Name="plain", ProtocolType="HTTP", Target=arn, RouteKey="GET /rooms/@connections/{id}")
    try:
        status, _, body = chat.gateway.request("GET", f"/{api['ApiId']}/rooms/@connections/abc")
        assert status == 200 and json.loads(body)["routeKey"] == "GET /rooms/@connections/{id}", body
    finally:
        v2.delete_api(ApiId=api["ApiId"])
        v2.close()
        lam.close()


RAW_POST = """
import urllib.request, urllib.error
def handler(event, context):
    ctx = event["requestContext"]
    url = "http://" + ctx["domainName"] + "/" + ctx["stage"] + "/@connections/" + ctx["connectionId"]
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"unsigned", method="POST"), timeout=10) as r:
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return {"statusCode": 200, "body": f"{status} {ctx['connectionId']}"}
"""
NO_AUTH_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Socket:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: open, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Default:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Socket, RouteKey: $default, Target: !Sub "integrations/${Integ}",
                 RouteResponseSelectionExpression: $default}
  Integ:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Socket, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Socket, StageName: open}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.11, Timeout: 15}
Outputs:
  Url: {Value: !Sub "wss://${Socket}.execute-api.${AWS::Region}.amazonaws.com/open"}
"""


def test_no_auth_takes_unsigned_management_calls_but_never_from_functions(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(textwrap.dedent(RAW_POST))
    (tmp_path / "template.yaml").write_text(NO_AUTH_TEMPLATE)
    server = CumuloServer(tmp_path / "home", str(tmp_path / "template.yaml"), "--no-auth")
    try:
        output = server.wait_for_output("Stop with Ctrl-C", timeout=90)
        url = next(line.split(" = ", 1)[1].strip() for line in output.splitlines() if "output Url = " in line)
        client = connect(url)
        try:
            client.send_text("{}")                       # the function's own unsigned POST, through its door
            answer = client.recv()
            assert isinstance(answer, str) and answer.startswith("403 "), answer
            connection_id = answer.split(" ", 1)[1]
            gateway, path = Gateway(server), "/" + url.split("/", 3)[3]
            status, _, body = gateway.request("POST", f"{path}/@connections/{connection_id}", b"from the host")
            assert status == 200, body                   # unsigned from the host under --no-auth: the owner's
            assert client.recv() == "from the host"
        finally:
            client.close()
    finally:
        server.close()
