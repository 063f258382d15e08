"""The control plane's edge decides a role session's request before the operation runs, and answers a denial in
each protocol's shape: SQS's JSON (boto3's Error.Code AccessDenied), the other JSON protocols'
AccessDeniedException, Lambda's REST 403. A real ``Cumulo`` and ``ControlPlane``; the session's key comes from a
key lookup standing in for STS (``sigv4.Keys``, the seam the identity work fills)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from cumulo import iam
from cumulo.api import sigv4
from cumulo.api.http import Reply, Request
from cumulo.api.server import ControlPlane
from cumulo.app import Cumulo

SECRET = "session-secret"
ROLE = "arn:aws:iam::000000000000:role/producer-role"
CALLER = "arn:aws:sts::000000000000:assumed-role/producer-role/producer"


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    with Cumulo(home=tmp_path / "home") as c:
        app = ControlPlane(c, workers=2)
        owner = app.keys

        def keys(key_id: str, token: str | None) -> sigv4.Key | str | None:
            if key_id == "ASIASESSION":
                return sigv4.Key(SECRET, CALLER, ROLE, "producer")
            return owner(key_id, token)

        app.keys = keys
        c.queues.create_queue("orders")
        yield app
        app.close()


def signed(method: str, path: str, body: dict[str, Any] | bytes, target: str | None = None,
           service: str = "sqs") -> Request:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [("host", "127.0.0.1:9000"), ("content-type", "application/x-amz-json-1.0")]
    if target:
        headers.append(("x-amz-target", target))
    incoming = sigv4.IncomingRequest(method, path, "", headers, data)
    headers += sigv4.sign(incoming, "ASIASESSION", SECRET, "us-east-1", service, datetime.now(timezone.utc))
    return Request(method, path, "", headers, data, client="127.0.0.1")


def roles(c: Cumulo, *documents: dict[str, Any]) -> None:
    policies = iam.PolicySet([iam.parse_policy(d) for d in documents])
    c.policies_for = lambda role_arn: policies       # type: ignore[method-assign]


def body(reply: Reply) -> dict[str, Any]:
    return json.loads(reply.body)


URL = "http://127.0.0.1:9000/000000000000/orders"
SEND = {"QueueUrl": URL, "MessageBody": "hello"}


def test_sqs_denied_in_its_json_shape_and_nothing_is_sent(plane: ControlPlane) -> None:
    reply = plane.handle(signed("POST", "/", SEND, "AmazonSQS.SendMessage"))
    assert reply.status == 403
    assert dict(reply.headers)["x-amzn-query-error"] == "AccessDenied;Sender"
    assert body(reply) == {"__type": "com.amazonaws.sqs#AccessDeniedException", "message": (
        f"User: {CALLER} is not authorized to perform: sqs:SendMessage on resource: "
        "arn:aws:sqs:us-east-1:000000000000:orders because no identity-based policy allows the sqs:SendMessage action")}
    assert plane.cumulo.queues.get_queue_attributes(URL, ["ApproximateNumberOfMessages"]) == \
        {"ApproximateNumberOfMessages": "0"}


def test_the_policy_that_grants_it_lets_it_through(plane: ControlPlane) -> None:
    granted = iam.expand_policy_template("SQSSendMessagePolicy", {"QueueName": "orders"}, region="us-east-1",
                                         account_id="000000000000")
    roles(plane.cumulo, {"Version": "2012-10-17", **granted})
    reply = plane.handle(signed("POST", "/", SEND, "AmazonSQS.SendMessage"))
    assert reply.status == 200 and "MessageId" in body(reply)


def test_other_json_protocols_answer_access_denied_exception(plane: ControlPlane) -> None:
    reply = plane.handle(signed("POST", "/", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]},
                                "AWSEvents.PutEvents", "events"))
    assert reply.status == 403 and body(reply)["__type"].endswith("#AccessDeniedException")
    assert "events:PutEvents on resource: arn:aws:events:us-east-1:000000000000:event-bus/default" in \
        body(reply)["message"]


def test_lambda_rest_answers_403_access_denied(plane: ControlPlane) -> None:
    reply = plane.handle(signed("GET", "/2015-03-31/functions/fn/configuration", b"", service="lambda"))
    assert reply.status == 403 and dict(reply.headers)["x-amzn-errortype"] == "AccessDeniedException"
    assert body(reply)["Message"] == (f"User: {CALLER} is not authorized to perform: lambda:GetFunctionConfiguration "
                                      "on resource: arn:aws:lambda:us-east-1:000000000000:function:fn because no "
                                      "identity-based policy allows the lambda:GetFunctionConfiguration action")
    roles(plane.cumulo, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:GetFunctionConfiguration", "Resource": "*"}]})
    reply = plane.handle(signed("GET", "/2015-03-31/functions/fn/configuration", b"", service="lambda"))
    assert reply.status == 404          # allowed: the operation itself answers


def test_audit_and_off_let_it_through(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for mode in ("audit", "off"):
        with Cumulo(home=tmp_path / mode, iam=mode) as c:
            app = ControlPlane(c, workers=1)
            owner = app.keys
            app.keys = lambda k, t: sigv4.Key(SECRET, CALLER, ROLE, "producer") if k == "ASIASESSION" else owner(k, t)
            c.queues.create_queue("orders")
            caplog.clear()
            reply = app.handle(signed("POST", "/", SEND, "AmazonSQS.SendMessage"))
            app.close()
            assert reply.status == 200
            logged = [r.getMessage() for r in caplog.records if r.name == "cumulo.iam"]
            assert (len(logged) == 1 and "would deny sqs.SendMessage" in logged[0]) if mode == "audit" else not logged


def test_a_function_policy_naming_the_role_allows_it_in_the_same_account(plane: ControlPlane) -> None:
    c = plane.cumulo
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    c.create_function("fn", code.getvalue(), "app.handler", publish=True)
    get = signed("GET", "/2015-03-31/functions/fn", b"", service="lambda")
    assert plane.handle(get).status == 403
    c.function_policies.add_permission("fn", None, {"StatementId": "producer", "Action": "lambda:GetFunction",
                                                    "Principal": ROLE})
    assert plane.handle(get).status == 200
    qualified = signed("GET", "/2015-03-31/functions/fn:1", b"", service="lambda")   # another ARN: not granted
    assert plane.handle(qualified).status == 403
    c.function_policies.remove_permission("fn", None, "producer")
    assert plane.handle(get).status == 403
