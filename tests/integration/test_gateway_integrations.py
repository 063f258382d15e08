"""Direct integrations end to end: ``cumulo up`` deploys tests/corpus/integrations (an HTTP API whose OpenAPI
body, included from api.yaml, sends to SQS, EventBridge and Step Functions as a role; the strangler fig as
raw ``AWS::ApiGatewayV2::*`` and as REST APIs, proxying to a real HTTP server on loopback), real HTTP requests
drive it, and unchanged boto3 checks what happened: the message is in the queue, the event reached the rule's
target, the execution started and stopped."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from test_server import CumuloServer

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "integrations"
OUTPUT = re.compile(r"output (\w+) = (\S+)")


class _Legacy(BaseHTTPRequestHandler):
    """The legacy server the strangler fig proxies to: it answers with what it received, over kept-alive
    HTTP/1.1 connections (which the gateway reuses)."""

    protocol_version = "HTTP/1.1"
    connections: set[int] = set()       # the client ports that connected: fewer than requests once reused

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _Legacy.connections.add(self.client_address[1])

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        out = json.dumps({"method": self.command, "path": self.path, "body": body,
                          "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        status = 404 if "/missing" in self.path else 201 if self.command == "POST" else 200
        if status == 404:
            out = json.dumps({"status": "gone"}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-legacy", "yes")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

    def log_message(self, *args: Any) -> None:
        pass


class App:
    def __init__(self, server: CumuloServer) -> None:
        self.server = server
        self.outputs = dict(OUTPUT.findall(server.output))
        self.sqs, self.sfn = server.aws("sqs"), server.aws("stepfunctions")
        self.legacy_url = ""

    def request(self, method: str, url: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        m = re.match(r"http://([^/:]+):(\d+)(/.*)?$", url)
        assert m, url
        conn = http.client.HTTPConnection(m[1], int(m[2]), timeout=60)
        try:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            conn.request(method, m[3] or "/", data, headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def api(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        status, _, data = self.request(method, self.outputs["ApiEndpoint"] + path, body,
                                       {k.replace("_", "-"): v for k, v in headers.items()})
        return status, json.loads(data)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    legacy = ThreadingHTTPServer(("127.0.0.1", 0), _Legacy)
    threading.Thread(target=legacy.serve_forever, daemon=True).start()
    tmp = tmp_path_factory.mktemp("integrations")
    shutil.copytree(CORPUS, tmp / "app")
    server = CumuloServer(tmp / "home", str(tmp / "app" / "template.yaml"),
                          "--parameter", f"LegacyUrl=http://127.0.0.1:{legacy.server_address[1]}")
    try:
        server.wait_for_output("Stop with Ctrl-C", timeout=60)
        found = App(server)
        found.legacy_url = f"http://127.0.0.1:{legacy.server_address[1]}"
        yield found
    finally:
        server.close()
        legacy.shutdown()
        legacy.server_close()


def _receive(app: App, url: str, wait: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = app.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                        MessageAttributeNames=["All"]).get("Messages", [])
        if found:
            return found
    return []


def test_sqs_send_message_puts_the_body_in_the_queue(app: App) -> None:
    status, answer = app.api("POST", "/orders", {"order": 1}, x_tenant="acme")
    assert status == 200, answer
    result = answer["SendMessageResponse"]["SendMessageResult"]
    assert set(result) == {"MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes",
                           "MessageId", "SequenceNumber"} and result["SequenceNumber"] is None
    assert answer["SendMessageResponse"]["ResponseMetadata"]["RequestId"]
    [message] = _receive(app, app.outputs["OrdersQueueUrl"])
    assert message["MessageId"] == result["MessageId"] and json.loads(message["Body"]) == {"order": 1}
    assert message["MessageAttributes"]["Tenant"] == {"DataType": "String", "StringValue": "acme"}
    app.sqs.delete_message(QueueUrl=app.outputs["OrdersQueueUrl"], ReceiptHandle=message["ReceiptHandle"])


def test_sqs_receive_delete_and_purge_through_the_api(app: App) -> None:
    url = app.outputs["OrdersQueueUrl"]
    app.sqs.send_message(QueueUrl=url, MessageBody="from boto3")
    status, answer = app.api("GET", "/orders?max=5")
    assert status == 200, answer
    [message] = answer["ReceiveMessageResponse"]["ReceiveMessageResult"]["messages"]
    assert message["Body"] == "from boto3" and message["Attributes"] is None
    status, answer = app.api("DELETE", "/orders", {"handle": message["ReceiptHandle"]})
    assert status == 200 and answer["DeleteMessageResponse"]["ResponseMetadata"]["RequestId"]
    attributes = app.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    status, answer = app.api("GET", "/orders")
    assert answer["ReceiveMessageResponse"]["ReceiveMessageResult"] == {"messages": None}
    app.sqs.send_message(QueueUrl=url, MessageBody="to purge")
    status, answer = app.api("POST", "/orders/purge")
    assert status == 200 and "PurgeQueueResponse" in answer
    assert app.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_role_without_the_permission_is_api_gateways_500(app: App) -> None:
    url = app.outputs["OrdersQueueUrl"]
    status, answer = app.api("POST", "/denied", "should not arrive")
    assert (status, answer) == (500, {"message": "Internal Server Error"})
    assert app.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []


def test_eventbridge_put_events_reaches_the_rules_target(app: App) -> None:
    status, answer = app.api("POST", "/events", {"Detail": {"message": "This is my test"}})
    assert status == 200 and answer["FailedEntryCount"] == 0 and answer["Entries"][0]["EventId"], answer
    status, _, data = app.request("POST", app.outputs["StranglerEndpoint"] + "/events/OrderPlaced", b'{"n": 2}')
    assert status == 200 and json.loads(data)["FailedEntryCount"] == 0
    events = {}
    for message in _receive(app, app.outputs["SeenQueueUrl"]) + _receive(app, app.outputs["SeenQueueUrl"], 2):
        event = json.loads(message["Body"])
        events[event["detail-type"]] = event
    assert events["MyDetailType"]["source"] == "WebApp" and events["MyDetailType"]["detail"] == {
        "message": "This is my test"} and events["MyDetailType"]["id"] == answer["Entries"][0]["EventId"]
    assert events["OrderPlaced"]["detail"] == {"n": 2}


def test_step_functions_start_sync_and_stop(app: App) -> None:
    status, started = app.api("POST", "/flows", {"order": 42}, x_order_id="42")
    assert status == 200, started
    assert started["executionArn"].endswith(":order-42") and isinstance(started["startDate"], float)
    execution = app.sfn.describe_execution(executionArn=started["executionArn"])
    assert execution["status"] == "RUNNING" and json.loads(execution["input"]) == {"order": 42}
    status, stopped = app.api("POST", "/flows/stop", {"executionArn": started["executionArn"]})
    assert status == 200 and "stopDate" in stopped, stopped
    execution = app.sfn.describe_execution(executionArn=started["executionArn"])
    assert execution["status"] == "ABORTED" and execution.get("cause", "").startswith("stopped by 127.0.0.1")
    status, done = app.api("POST", "/flows/sync", {"order": 7})
    assert status == 200 and done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"got": 7}, done
    assert ":express:" in done["executionArn"]
    status, again = app.api("POST", "/flows", {"order": 42}, x_order_id="42")    # the name is taken
    assert status == 400 and again["__type"].endswith("ExecutionAlreadyExists"), again


def test_the_strangler_fig_on_an_http_api(app: App) -> None:
    base = app.outputs["StranglerEndpoint"]
    status, _, data = app.request("GET", base + "/orders/9")
    assert status == 200 and json.loads(data) == {"from": "function", "id": "9"}
    status, headers, data = app.request("POST", base + "/legacy/a%20b/c?x=1&x=2", b"hello",
                                        {"X-Client": "tests", "Content-Type": "text/plain"})
    seen = json.loads(data)
    assert status == 201 and headers["x-legacy"] == "yes"
    assert seen["method"] == "POST" and seen["path"] == "/legacy/a%20b/c?x=1&x=2" and seen["body"] == "hello"
    assert seen["headers"]["x-client"] == "tests" and seen["headers"]["content-type"] == "text/plain"
    assert seen["headers"]["host"].startswith("127.0.0.1:") and seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    status, _, data = app.request("GET", base + "/public/../../admin")    # no way out of the integration's path
    assert status == 200 and json.loads(data)["path"] == "/public/%2E%2E/%2E%2E/admin"
    before = len(_Legacy.connections)
    for n in range(20):
        status, _, data = app.request("GET", base + f"/again/{n}")
        assert status == 200 and json.loads(data)["path"] == f"/again/{n}"
    assert len(_Legacy.connections) - before < 5        # kept-alive backend connections are reused


def test_the_strangler_fig_on_rest_apis(app: App) -> None:
    base = app.outputs["RestEndpoint"]
    status, _, data = app.request("GET", base + "/orders/5")
    assert status == 200 and json.loads(data) == {"from": "function", "id": "5"}
    status, headers, data = app.request("PUT", base + "/a/b?z=1", b"x")
    assert status == 200 and headers["x-legacy"] == "yes"
    assert json.loads(data)["path"] == "/old/a/b?z=1" and json.loads(data)["method"] == "PUT"
    status, headers, data = app.request("GET", app.outputs["AppApiEndpoint"])     # apigw-rest-api-http-integration
    assert status == 200 and json.loads(data)["path"] == "/" and headers["x-legacy"] == "yes"
    status, headers, _ = app.request("GET", app.outputs["AppApiEndpoint"] + "/nope")
    assert status == 403 and headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_a_private_integration_through_a_vpc_link_is_sent_to_its_uri(app: App) -> None:
    """ConnectionType VPC_LINK: Cumulo has no VPCs, so the link is accepted with a warning (its Ref an id, as
    API Gateway's) and the method's Uri is called as any HTTP integration's."""
    assert re.fullmatch(r"[a-z0-9]{10}", app.outputs["LegacyLinkId"])
    assert ("AWS::ApiGateway::VpcLink (LegacyLink) accepted and not deployed: on AWS it connects private "
            "integrations (ConnectionType VPC_LINK) to network load balancers in a VPC" in app.server.output)
    status, headers, data = app.request("GET", app.outputs["AppApiEndpoint"] + "/private")
    assert status == 200 and headers["x-legacy"] == "yes" and json.loads(data)["path"] == "/behind-the-link"


def test_a_mock_integration_answers_from_its_integration_responses(app: App) -> None:
    """Type MOCK: no backend; the request template's statusCode selects the integration response, whose
    parameters and template make the answer (API Gateway's example: an internal caller gets 200)."""
    status, headers, data = app.request("GET", app.outputs["AppApiEndpoint"] + "/health?scope=internal")
    assert (status, headers["cache-control"], headers["content-type"]) == (200, "no-store", "application/json")
    assert json.loads(data) == {"status": "ok", "stage": "Prod", "scope": "internal"}
    status, headers, data = app.request("GET", app.outputs["AppApiEndpoint"] + "/health?scope=outside")
    assert (status, json.loads(data)) == (503, {"status": "not for you"}) and "cache-control" not in headers


def test_rest_http_non_proxy_integrations(app: App) -> None:
    base = app.outputs["RestEndpoint"]
    status, headers, data = app.request("POST", base + "/orders/o%2F7/legacy?ignored=1", b'{"item": "pen", "qty": 3}',
                                        {"Content-Type": "application/json", "X-Tenant": "acme corp"})
    answer = json.loads(data)
    assert status == 200 and headers["x-legacy"] == "yes" and headers["x-legacy-method"] == "PUT", data
    # JSON in, XML to the backend: the uri's path parameter mapped (encoded), the query string the mapped one only
    assert answer["sentPath"] == "/xml/orders/o%2F7?tenant=acme%20corp"
    assert answer["sentBody"] == '<order id="o/7"><item>pen</item><qty>3</qty></order>'
    assert answer["version"] == "2" and answer["requestId"] == headers["apigw-requestid"]
    status, _, data = app.request("POST", base + "/orders/missing/legacy", b"{}", {"Content-Type": "application/json"})
    assert (status, json.loads(data)) == (404, {"error": "no such order", "legacyStatus": "gone"})   # 404 selected
    status, _, data = app.request("POST", base + "/orders/7/legacy", b"x", {"Content-Type": "text/plain"})
    assert (status, json.loads(data)) == (415, {"message": "Unsupported Media Type"})              # passthrough never
    # raw AWS::ApiGateway::Method Type HTTP: passthrough, a header mapped in, the backend's status mapped to 200
    status, headers, data = app.request("POST", app.outputs["AppApiEndpoint"] + "/legacy", b'{"a": 1}',
                                        {"Content-Type": "application/json", "X-Client": "c1", "X-Other": "no"})
    seen = json.loads(data)
    assert status == 200 and headers["x-legacy"] == "yes" and headers["content-type"] == "text/plain"
    assert seen["method"] == "POST" and seen["path"] == "/json" and seen["body"] == '{"a": 1}'
    assert seen["headers"]["x-client"] == "c1" and "x-other" not in seen["headers"]       # only mapped headers
    assert seen["headers"]["content-type"] == "application/json"


def test_rest_service_integrations_with_mapping_templates(app: App) -> None:
    base, url = app.outputs["ServiceRestEndpoint"], app.outputs["RestQueueUrl"]
    json_type = {"Content-Type": "application/json"}
    status, headers, data = app.request("POST", base + "/queue", b'{"a": "b & c"}', json_type)
    answer = json.loads(data)
    assert status == 200 and answer["requestId"] == headers["apigw-requestid"], data     # the response template's
    [message] = _receive(app, url)
    assert message["MessageId"] == answer["messageId"] and message["Body"] == '{"a": "b & c"}'   # urlEncode'd
    assert message["MessageAttributes"]["RequestId"]["StringValue"] == answer["requestId"]
    app.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    status, headers, data = app.request("POST", base + "/queue/xml?text=hello%20xml")      # action/SendMessage
    assert status == 200 and headers["content-type"] == "application/xml"
    assert data.startswith(b'<?xml version="1.0"?><SendMessageResponse') and b"<MessageId>" in data
    status, headers, data = app.request("GET", app.outputs["AppApiEndpoint"] + "/messages?MaxNumberOfMessages=5")
    assert status == 200 and b"<Body>hello xml</Body>" in data, data                       # ReceiveMessage, raw
    status, _, data = app.request("POST", base + "/queue", b"plain", {"Content-Type": "text/plain"})
    assert (status, json.loads(data)) == (415, {"message": "Unsupported Media Type"})       # passthrough: never
    status, _, data = app.request("POST", base + "/denied", b"x", json_type)
    # API Gateway maps a service's error through the default integration response: 200 with SQS's error.
    assert status == 200 and b"<Code>AccessDenied</Code>" in data and b"ReadOnlyRole" in data


def test_rest_events_and_executions(app: App) -> None:
    base = app.outputs["ServiceRestEndpoint"]
    json_type = {"Content-Type": "application/json"}
    status, _, data = app.request("POST", base + "/events", b'{"detail": {"k": "v"}}', json_type)
    assert status == 200 and json.loads(data)["FailedEntryCount"] == 0, data
    events = [json.loads(m["Body"]) for m in _receive(app, app.outputs["SeenQueueUrl"])]
    assert any(e["detail-type"] == "RestDetail" and e["detail"] == {"k": "v"} for e in events), events
    status, _, data = app.request("POST", base + "/flows?id=7", b'{"order": 7}', json_type)
    assert status == 202 and json.loads(data)["executionArn"].endswith(":rest-7"), data
    execution = app.sfn.describe_execution(executionArn=json.loads(data)["executionArn"])
    assert json.loads(execution["input"]) == {"order": 7}
    status, _, data = app.request("POST", base + "/flows?id=7", b'{"order": 8}', json_type)   # the name is taken
    assert (status, json.loads(data)) == (400, {"failed": True})          # selectionPattern 4\d{2}


def test_rest_lambda_non_proxy_integration(app: App) -> None:
    base = app.outputs["ServiceRestEndpoint"]
    status, headers, data = app.request("GET", base + "/pets/7?verbose=1")
    assert status == 200 and headers["content-type"] == "application/json" and headers["x-many"] == "yes"
    assert data.decode().strip() == '<pet id="7" verbose="true"><tag>good</tag><tag>dog</tag></pet>'
    status, _, data = app.request("GET", base + "/pets/0")       # errorMessage "Not found: pet 0" selects 404
    assert (status, json.loads(data)) == (404, {"error": "Not found: pet 0"})


def test_rest_dynamodb_integration_with_foreach_templates(app: App) -> None:
    base, json_type = app.outputs["ServiceRestEndpoint"], {"Content-Type": "application/json"}
    status, _, data = app.request("PUT", base + "/orders/o-1", b'{"total": 12.5, "items": ["tea", "say \\"hi\\""]}',
                                  json_type)
    assert (status, json.loads(data)) == (201, {"id": "o-1"}), data
    item = app.server.aws("dynamodb").get_item(TableName=app.outputs["OrdersTableName"], Key={"id": {"S": "o-1"}})
    assert item["Item"] == {"id": {"S": "o-1"}, "total": {"N": "12.5"}, "items": {"L": [{"S": "tea"},
                                                                                         {"S": 'say "hi"'}]}}
    status, _, data = app.request("GET", base + "/orders/o-1")
    assert (status, json.loads(data)) == (200, {"id": "o-1", "total": 12.5, "items": ["tea", 'say "hi"']})
    status, _, data = app.request("GET", base + "/orders/none")
    assert (status, json.loads(data)) == (404, {"message": "no such order"})


def test_the_same_integrations_made_with_boto3_apigatewayv2(app: App) -> None:
    iam, v2 = app.server.aws("iam"), app.server.aws("apigatewayv2")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "apigateway.amazonaws.com"}}]}
    role = iam.create_role(RoleName="boto3-api-sqs", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="boto3-api-sqs", PolicyName="send", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}))
    api = v2.create_api(Name="made-by-boto3", ProtocolType="HTTP")["ApiId"]
    sqs = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationSubtype="SQS-SendMessage",
                                CredentialsArn=role, PayloadFormatVersion="1.0",
                                RequestParameters={"QueueUrl": app.outputs["RestQueueUrl"],
                                                   "MessageBody": "$request.body.text"})
    assert sqs["IntegrationSubtype"] == "SQS-SendMessage" and sqs["CredentialsArn"] == role
    proxy = v2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                  IntegrationUri=app.legacy_url + "/v2/{proxy}", PayloadFormatVersion="1.0")
    v2.create_route(ApiId=api, RouteKey="POST /send", Target=f"integrations/{sqs['IntegrationId']}")
    v2.create_route(ApiId=api, RouteKey="ANY /{proxy+}", Target=f"integrations/{proxy['IntegrationId']}")
    listed = {i["IntegrationId"]: i for i in v2.get_integrations(ApiId=api)["Items"]}
    assert listed[proxy["IntegrationId"]]["IntegrationUri"].endswith("/v2/{proxy}")
    gateway = app.outputs["ApiEndpoint"].rsplit("/", 1)[0]
    status, _, data = app.request("POST", f"{gateway}/{api}/send", b'{"text": "from boto3\'s API"}')
    assert status == 200 and "SendMessageResponse" in json.loads(data), data
    [message] = _receive(app, app.outputs["RestQueueUrl"])
    assert message["Body"] == "from boto3's API"
    app.sqs.delete_message(QueueUrl=app.outputs["RestQueueUrl"], ReceiptHandle=message["ReceiptHandle"])
    status, _, data = app.request("GET", f"{gateway}/{api}/a/b?c=d")
    assert status == 200 and json.loads(data)["path"] == "/v2/a/b?c=d"
