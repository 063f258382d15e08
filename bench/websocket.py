"""WebSocket API round trips through ``cumulo up``, beside an HTTP API round trip in the same run.

    python bench/websocket.py [--count N]

One server (a real ``cumulo up`` process) deploys one template: a WebSocket API whose ``$default``
function pushes the message back to its sender with ``apigatewaymanagementapi``'s PostToConnection
(the function's client made once per environment, as apps do), the same API's ``reply`` route
answering through a route response, and an HTTP API ``GET /noop`` on a no-op function. Measured,
one client, sequential, after a warm-up (cold starts are not measured):

  post-back       client -> $default function -> PostToConnection -> the client reads it
  route-response  client -> reply function -> its result sent back (no management call)
  http            GET /noop on the HTTP API (the baseline: one invocation per round trip)

Medians and p90 in milliseconds, and each as a ratio of the HTTP baseline's median. Nothing here
asserts. Run it under ``chrt -f 10`` where other load shares the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

from tests.integration.test_server import CumuloServer   # noqa: E402
from tests.integration.wsclient import connect           # noqa: E402

POST_BACK = """
import boto3
clients = {}
def handler(event, context):
    ctx = event["requestContext"]
    endpoint = "http://" + ctx["domainName"] + "/" + ctx["stage"]
    api = clients.get(endpoint) or clients.setdefault(endpoint, boto3.client("apigatewaymanagementapi", endpoint_url=endpoint))
    api.post_to_connection(ConnectionId=ctx["connectionId"], Data=event["body"].encode())
    return {"statusCode": 200}
"""
REPLY = """
def handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""
NOOP = """
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Socket:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: bench, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Socket, RouteKey: $default, Target: !Sub "integrations/${DefaultInteg}"}
  DefaultInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Socket, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt PostBack.Arn}
  ReplyRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Socket, RouteKey: reply, Target: !Sub "integrations/${ReplyInteg}",
                 RouteResponseSelectionExpression: $default}
  ReplyInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Socket, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Reply.Arn}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Socket, StageName: bench}
  PostBack:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: postback/
      Handler: app.handler
      Runtime: python3.11
      Policies:
        - Statement:
            - Effect: Allow
              Action: execute-api:ManageConnections
              Resource: !Sub arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Socket}/*
  Reply:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: reply/, Handler: app.handler, Runtime: python3.11}
  Noop:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: noop/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Get: {Type: HttpApi, Properties: {Path: /noop, Method: GET}}
Outputs:
  Url: {Value: !Sub "wss://${Socket}.execute-api.${AWS::Region}.amazonaws.com/bench"}
"""


def _timed(count: int, once) -> list[float]:
    for _ in range(max(count // 10, 20)):       # warm: environments made, clients cached
        once()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        once()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=400)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cumulo-bench-ws-"))
    for name, source in (("postback", POST_BACK), ("reply", REPLY), ("noop", NOOP)):
        (folder / name).mkdir()
        (folder / name / "app.py").write_text(textwrap.dedent(source))
    (folder / "template.yaml").write_text(TEMPLATE)
    server = CumuloServer(folder / "home", str(folder / "template.yaml"), "--stack-name", "wsbench")
    try:
        output = server.wait_for_output("Stop with Ctrl-C", timeout=120)
        url = next(line.split(" = ", 1)[1].strip() for line in output.splitlines() if "output Url = " in line)
        http_path = next(line.split(" at http://", 1)[1].split("/", 1)[1].strip() for line in output.splitlines()
                         if "GET /noop ->" in line and " at http://" in line)
        http_path = "/" + http_path
        host, port = url.split("/")[2].split(":")
        client = connect(url)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)

        def post_back() -> None:
            client.send_text('{"n": 1}')
            assert client.recv() == '{"n": 1}'

        def route_response() -> None:
            client.send_text('{"action": "reply"}')
            assert client.recv() == '{"action": "reply"}'

        def http_get() -> None:
            conn.request("GET", http_path)
            response = conn.getresponse()
            assert response.status == 200 and response.read() == b"ok"

        results = {name: _timed(args.count, fn) for name, fn in
                   (("http", http_get), ("post-back", post_back), ("route-response", route_response))}
        client.close()
        conn.close()
    finally:
        server.close()
    base = statistics.median(results["http"])
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.count} round trips each, one client")
    print(f"{'round trip':16} {'p50 ms':>8} {'p90 ms':>8} {'x http p50':>11}")
    for name, samples in results.items():
        p50 = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{name:16} {p50:8.2f} {p90:8.2f} {p50 / base:11.2f}")
    print(json.dumps({k: round(statistics.median(v), 3) for k, v in results.items()}))


if __name__ == "__main__":
    main()
