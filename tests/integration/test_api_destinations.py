"""API destinations: events delivered over real HTTP to a loopback endpoint, with each kind of auth."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from cumulo import Cumulo
from cumulo.errors import ValidationException


class Endpoint:
    """A loopback HTTP server recording requests; answers with the statuses queued in ``answers``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.tokens_issued = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path.startswith("/token"):
                    outer.tokens_issued += 1
                    reply = json.dumps({"access_token": f"tok{outer.tokens_issued}", "expires_in": 3600}).encode()
                    outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                    self._answer(200, reply)
                    return
                outer.requests.append({"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": body})
                self._answer(outer.answers.pop(0) if outer.answers else 200, b'{"ok": true}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_GET = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def calls(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = [r for r in self.requests if not r["path"].startswith("/token")]
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        return [r for r in self.requests if not r["path"].startswith("/token")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.close()


@pytest.fixture
def bus(home: Any) -> Iterator[Cumulo]:
    with Cumulo(home=home, events_retry_base_s=0.05) as c:
        c.start_workers()
        yield c


def route(c: Cumulo, destination_arn: str, **target: Any) -> None:
    c.event_bus.put_rule("to-http", event_pattern='{"source": ["shop"]}')
    c.event_bus.put_targets("to-http", None, [{"Id": "http", "Arn": destination_arn, **target}])


def put(c: Cumulo, **detail: Any) -> str:
    result = c.event_bus.put_events([{"Source": "shop", "DetailType": "Order", "Detail": json.dumps(detail)}])
    return result["Entries"][0]["EventId"]


def test_api_key_connection_posts_the_event(bus: Cumulo, endpoint: Endpoint) -> None:
    conn = bus.api_destinations.create_connection("keyed", "API_KEY", {
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
        "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-team", "Value": "core"}]}})
    dest = bus.api_destinations.create_api_destination("orders", conn["ConnectionArn"], endpoint.url + "/orders/*",
                                                       "POST", 50)
    route(bus, dest["ApiDestinationArn"], HttpParameters={"PathParameterValues": ["eu"],
                                                          "QueryStringParameters": {"v": "2"}})
    event_id = put(bus, n=1)
    (call,) = endpoint.calls(1)
    assert call["method"] == "POST" and call["path"] == "/orders/eu?v=2"
    assert call["headers"]["x-api-key"] == "s3cret" and call["headers"]["x-team"] == "core"
    assert call["headers"]["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert json.loads(call["body"])["id"] == event_id
    described = bus.api_destinations.describe_connection("keyed")
    assert "s3cret" not in json.dumps(described)              # secrets are never answered back


def test_basic_auth_and_retry_after_server_errors(bus: Cumulo, endpoint: Endpoint) -> None:
    conn = bus.api_destinations.create_connection("basic", "BASIC", {
        "BasicAuthParameters": {"Username": "ana", "Password": "pw"}})
    dest = bus.api_destinations.create_api_destination("retry", conn["ConnectionArn"], endpoint.url + "/hook", "PUT")
    route(bus, dest["ApiDestinationArn"])
    endpoint.answers = [503, 500]
    put(bus, n=2)
    calls = endpoint.calls(3)
    assert len(calls) == 3                                     # two failures, then delivered
    assert calls[-1]["headers"]["authorization"] == "Basic " + base64.b64encode(b"ana:pw").decode()


def test_client_errors_go_to_the_dead_letter_queue_without_retries(bus: Cumulo, endpoint: Endpoint) -> None:
    bus.queues.create_queue("dlq")
    conn = bus.api_destinations.create_connection("k", "API_KEY", {
        "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    dest = bus.api_destinations.create_api_destination("bad", conn["ConnectionArn"], endpoint.url + "/bad", "POST")
    route(bus, dest["ApiDestinationArn"], DeadLetterConfig={"Arn": bus.queues.arn("dlq")})
    endpoint.answers = [400]
    event_id = put(bus, n=3)
    dead = bus.queues.receive_message("dlq", 1, wait_seconds=10, message_attribute_names=["All"])
    assert json.loads(dead[0]["Body"])["id"] == event_id
    assert "400" in dead[0]["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    assert len(endpoint.calls(1)) == 1


def test_oauth_client_credentials_fetch_and_cache_a_token(bus: Cumulo, endpoint: Endpoint) -> None:
    conn = bus.api_destinations.create_connection("oauth", "OAUTH_CLIENT_CREDENTIALS", {"OAuthParameters": {
        "AuthorizationEndpoint": endpoint.url + "/token", "HttpMethod": "POST",
        "ClientParameters": {"ClientID": "id", "ClientSecret": "secret"}}})
    dest = bus.api_destinations.create_api_destination("oauth", conn["ConnectionArn"], endpoint.url + "/api", "POST")
    route(bus, dest["ApiDestinationArn"])
    put(bus, n=1)
    put(bus, n=2)
    calls = endpoint.calls(2)
    assert [c["headers"]["authorization"] for c in calls] == ["Bearer tok1", "Bearer tok1"]   # cached
    token_call = next(r for r in endpoint.requests if r["path"].startswith("/token"))
    assert token_call["headers"]["authorization"] == "Basic " + base64.b64encode(b"id:secret").decode()
    assert b"grant_type=client_credentials" in token_call["body"]
    endpoint.answers = [401]                     # a rejected token is refreshed once
    put(bus, n=3)
    calls = endpoint.calls(4)
    assert calls[-1]["headers"]["authorization"] == "Bearer tok2"


def test_invalid_connections_and_destinations_are_refused(bus: Cumulo) -> None:
    for kind, params in (("API_KEY", {}), ("BASIC", {"BasicAuthParameters": {"Username": "u"}}),
                         ("DIGEST", {}), ("OAUTH_CLIENT_CREDENTIALS", {"OAuthParameters": {
                             "AuthorizationEndpoint": "ftp://x", "ClientParameters": {"ClientID": "a",
                                                                                     "ClientSecret": "b"}}})):
        with pytest.raises(ValidationException):
            bus.api_destinations.create_connection("c", kind, params)
    conn = bus.api_destinations.create_connection("c", "API_KEY", {
        "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    for endpoint, method, rate in (("not a url", "POST", 1), ("http://x", "TRACE", 1), ("http://x", "POST", 301)):
        with pytest.raises(ValidationException):
            bus.api_destinations.create_api_destination("d", conn["ConnectionArn"], endpoint, method, rate)
    assert bus.api_destinations.list_api_destinations() == []


# A webhook forwarder as people write it in a template: a connection with an API key, an API destination
# with a path wildcard, a rule sending order events there with the path filled in and a header added.
WEBHOOK = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Endpoint: {Type: String}
Resources:
  PartnerConnection:
    Type: AWS::Events::Connection
    Properties:
      AuthorizationType: API_KEY
      AuthParameters:
        ApiKeyAuthParameters: {ApiKeyName: x-api-key, ApiKeyValue: s3cret}
  PartnerWebhook:
    Type: AWS::Events::ApiDestination
    Properties:
      ConnectionArn: !GetAtt PartnerConnection.Arn
      InvocationEndpoint: !Sub ${Endpoint}/orders/*
      HttpMethod: POST
      InvocationRateLimitPerSecond: 10
  ForwardOrders:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop]}
      Targets:
        - Id: partner
          Arn: !GetAtt PartnerWebhook.Arn
          HttpParameters:
            PathParameterValues: [eu]
            HeaderParameters: {x-shop: main}
Outputs:
  Destination: {Value: !GetAtt PartnerWebhook.Arn}
"""


def test_a_template_deploys_a_connection_and_api_destination_that_rules_deliver_to(
        bus: Cumulo, endpoint: Endpoint, tmp_path: Any) -> None:
    from cumulo.deploy.engine import deploy
    (tmp_path / "app").mkdir()
    path = tmp_path / "app" / "template.yaml"
    path.write_text(WEBHOOK)
    result = deploy(bus, path, {"Endpoint": endpoint.url}, stack_name="hooks")
    assert [(c.kind, c.action) for c in result.changes if c.kind in ("connection", "api destination")] == [
        ("connection", "create"), ("api destination", "create")]
    destination = bus.api_destinations.describe_api_destination(result.outputs["Destination"])
    assert destination["ApiDestinationArn"] == result.outputs["Destination"]       # the ARN known before it existed
    bus.event_bus.put_events([{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"id": 7})}])
    (call,) = endpoint.calls(1)
    assert call["path"] == "/orders/eu"
    assert call["headers"]["x-api-key"] == "s3cret" and call["headers"]["x-shop"] == "main"
    assert json.loads(call["body"])["detail"] == {"id": 7}
    assert not deploy(bus, path, {"Endpoint": endpoint.url}, stack_name="hooks").changed

    path.write_text(WEBHOOK.replace("InvocationRateLimitPerSecond: 10", "InvocationRateLimitPerSecond: 20"))
    updated = deploy(bus, path, {"Endpoint": endpoint.url}, stack_name="hooks")
    assert [(c.logical_id, c.action, c.details) for c in updated.changes if c.kind == "api destination"] == [
        ("PartnerWebhook", "update", ["InvocationRateLimitPerSecond"])]
    from cumulo.deploy.engine import delete_stack
    assert delete_stack(bus, "hooks")
    assert bus.api_destinations.list_api_destinations() == [] and bus.api_destinations.list_connections() == []


@pytest.mark.parametrize(("old", "new", "match"), [
    ("AuthorizationType: API_KEY", "AuthorizationType: DIGEST", "AuthorizationType must be API_KEY, BASIC or"),
    ("HttpMethod: POST", "HttpMethod: FETCH", "HttpMethod must be one of"),
    ("InvocationRateLimitPerSecond: 10", "InvocationRateLimitPerSecond: 301", "between 1 and 300"),
    ("!Sub ${Endpoint}/orders/*", "ftp://x", "InvocationEndpoint must be an http:// or https:// URL"),
])
def test_template_connections_and_destinations_are_checked_when_read(tmp_path: Any, old: str, new: str,
                                                                    match: str) -> None:
    from cumulo.deploy.template import TemplateError, load_template
    (tmp_path / "template.yaml").write_text(WEBHOOK.replace(old, new))
    with pytest.raises(TemplateError, match=match):
        load_template(tmp_path / "template.yaml", {"Endpoint": "http://127.0.0.1:1"})
