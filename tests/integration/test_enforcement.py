"""Permissions enforced through unchanged boto3 with a role session's credentials (STS AssumeRole from the
owner's keys): a missing Allow fails with AWS's message, the SAM policy template that grants it makes it pass,
a function's own policy can grant what the role does not; ``--iam audit`` logs instead, ``--iam off`` allows."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from cumulo import iam
from tests.integration.test_identity import ACCOUNT, OWNER, assume, client, error, role, trust
from tests.integration.test_server import CumuloServer, app_zip

SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/producer-role/producer"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("enforce") / "home")
    yield s
    s.close()


def producer(server: CumuloServer, name: str = "producer-role") -> tuple[str, dict[str, str]]:
    arn = role(server, name, trust(OWNER))
    return arn, assume(server, arn, "producer")


def test_a_missing_allow_fails_and_the_sam_template_that_grants_it_passes(server: CumuloServer) -> None:
    owner_sqs: BaseClient = client(server, "sqs")
    url = owner_sqs.create_queue(QueueName="orders")["QueueUrl"]
    _, creds = producer(server)
    sqs = client(server, "sqs", creds)
    code, message, status = error(lambda: sqs.send_message(QueueUrl=url, MessageBody="hello"))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: {SESSION} is not authorized to perform: sqs:SendMessage on resource: "
                       f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders because no identity-based policy allows the "
                       "sqs:SendMessage action")
    granted = iam.expand_policy_template("SQSSendMessagePolicy", {"QueueName": "orders"}, region="us-east-1",
                                         account_id=ACCOUNT)
    client(server, "iam").put_role_policy(RoleName="producer-role", PolicyName="send",
                                          PolicyDocument=json.dumps({"Version": "2012-10-17", **granted}))
    assert sqs.send_message(QueueUrl=url, MessageBody="hello")["MessageId"]
    assert sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "a"}])["Successful"]
    code, message, _ = error(lambda: sqs.receive_message(QueueUrl=url))     # the template grants sending only
    assert code == "AccessDenied" and "sqs:ReceiveMessage" in message


def test_lambda_answers_403_and_a_function_policy_can_grant_it(server: CumuloServer) -> None:
    lam = server.client()
    lam.create_function(FunctionName="notify", Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/x",
                        Handler="app.handler", Code={"ZipFile": app_zip()})
    arn, creds = producer(server, "invoker-role")
    theirs = client(server, "lambda", creds)
    code, message, status = error(lambda: theirs.invoke(FunctionName="notify", Payload=b"{}"))
    assert (code, status) == ("AccessDeniedException", 403)
    assert "lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:notify" in message
    lam.add_permission(FunctionName="notify", StatementId="invoker", Action="lambda:InvokeFunction", Principal=arn)
    resp = theirs.invoke(FunctionName="notify", Payload=b"{}")
    assert resp["StatusCode"] == 200
    resp["Payload"].read()


def test_an_allow_taken_away_refuses_the_very_next_request(server: CumuloServer) -> None:
    """Allows are kept between requests (api/authorize.py), never past a change: the inline policy
    deleted, the managed policy detached, the function's permission removed — each refuses the
    next Invoke at once, and giving the Allow back lets the one after through."""
    lam = server.client()
    lam.create_function(FunctionName="kept", Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/x",
                        Handler="app.handler", Code={"ZipFile": app_zip()})
    arn, creds = producer(server, "kept-role")
    theirs, owner_iam = client(server, "lambda", creds), client(server, "iam")

    def invoked() -> bool:
        try:
            resp = theirs.invoke(FunctionName="kept", Payload=b"{}")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "AccessDeniedException", exc.response
            return False
        resp["Payload"].read()
        return resp["StatusCode"] == 200

    allow = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                                "Resource": "*"}]})
    owner_iam.put_role_policy(RoleName="kept-role", PolicyName="invoke", PolicyDocument=allow)
    assert [invoked(), invoked(), invoked()] == [True, True, True]
    owner_iam.delete_role_policy(RoleName="kept-role", PolicyName="invoke")
    assert not invoked()
    managed = owner_iam.create_policy(PolicyName="kept-invoke", PolicyDocument=allow)["Policy"]["Arn"]
    owner_iam.attach_role_policy(RoleName="kept-role", PolicyArn=managed)
    assert [invoked(), invoked()] == [True, True]
    owner_iam.create_policy_version(PolicyArn=managed, SetAsDefault=True, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}]}))
    assert not invoked()
    owner_iam.detach_role_policy(RoleName="kept-role", PolicyArn=managed)
    lam.add_permission(FunctionName="kept", StatementId="kept", Action="lambda:InvokeFunction", Principal=arn)
    assert [invoked(), invoked()] == [True, True]
    lam.remove_permission(FunctionName="kept", StatementId="kept")
    assert not invoked()


@pytest.mark.parametrize("mode", ["audit", "off"])
def test_audit_logs_and_off_allows(tmp_path: Any, mode: str) -> None:
    s = CumuloServer(tmp_path / "home", "--iam", mode)
    try:
        url = client(s, "sqs").create_queue(QueueName="q")["QueueUrl"]
        _, creds = producer(s)
        assert client(s, "sqs", creds).send_message(QueueUrl=url, MessageBody="x")["MessageId"]
        expected = f"IAM audit: would deny sqs.SendMessage: User: {SESSION} is not authorized to perform: sqs:SendMessage"
        if mode == "audit":
            deadline = time.monotonic() + 10
            while expected not in s.output and time.monotonic() < deadline:
                time.sleep(0.05)
            assert expected in s.output
        else:
            assert "would deny" not in s.output
        assert f"iam         {mode}" in s.output
    finally:
        s.close()
