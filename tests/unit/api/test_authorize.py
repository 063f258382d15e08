"""Enforcement at the edge (``api/authorize.py``): a role session's request decided by its role's policies and the
resource's policy, with AWS's message; audit logs instead; off skips; the owner's keys always pass."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo import iam
from cumulo.api import authz
from cumulo.api.authorize import AccessDeniedException, Authorizer
from cumulo.api.sigv4 import Principal as Signer

ACCOUNT = "123456789012"
SCOPE = authz.Scope(ACCOUNT, "us-east-1")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/producer-role"
SESSION = Signer("ASIA1", "us-east-1", "sqs", f"arn:aws:sts::{ACCOUNT}:assumed-role/producer-role/producer",
                 ROLE, "producer")
OWNER = Signer("AKIA1", "us-east-1", "sqs", f"arn:aws:iam::{ACCOUNT}:root")
URL = f"http://127.0.0.1:9000/{ACCOUNT}/orders"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
SEND = authz.Call("sqs", "SendMessage", {"QueueUrl": URL, "MessageBody": "x"})


class Roles:
    def __init__(self, *documents: dict[str, Any]) -> None:
        self.set = iam.PolicySet([iam.parse_policy(d, name=f"p{i}") for i, d in enumerate(documents)])

    def policies_for(self, role_arn: str) -> iam.PolicySet:
        return self.set if role_arn == ROLE else iam.PolicySet()


class Resources:
    def __init__(self, context: dict[str, dict[str, str]] | None = None, **policies: dict[str, Any]) -> None:
        self.policies = {arn: iam.parse_policy(doc, "resource") for arn, doc in policies.items()}
        self.context = context or {}

    def resource_policy(self, arn: str) -> iam.Policy | None:
        return self.policies.get(arn)

    def resource_context(self, arn: str) -> dict[str, str]:
        return self.context.get(arn, {})

    def grant_allows(self, callers: tuple[str, ...], action: str, resource: str, context: Any) -> bool:
        return False


def authorizer(roles: Roles, mode: str = "enforce", resources: Resources | None = None) -> Authorizer:
    return Authorizer(mode, SCOPE, roles, resources or Resources())


def allow(action: str, resource: str = "*", effect: str = "Allow") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}


def test_the_owner_is_never_asked_and_off_asks_nobody() -> None:
    assert not authorizer(Roles()).needed(OWNER)
    assert not authorizer(Roles(), "off").needed(SESSION)
    assert authorizer(Roles()).needed(SESSION) and authorizer(Roles(), "audit").needed(SESSION)


def test_no_allow_is_denied_with_aws_message() -> None:
    with pytest.raises(AccessDeniedException) as denied:
        authorizer(Roles(allow("sqs:ReceiveMessage"))).authorize(SESSION, SEND, "127.0.0.1")
    assert denied.value.status == 403 and denied.value.type == "AccessDeniedException"
    assert denied.value.message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/producer-role/producer is not authorized to perform: "
        f"sqs:SendMessage on resource: {QUEUE} because no identity-based policy allows the sqs:SendMessage action")


def test_the_sam_policy_template_that_grants_it_allows() -> None:
    granted = iam.expand_policy_template("SQSSendMessagePolicy", {"QueueName": "orders"}, region="us-east-1",
                                         account_id=ACCOUNT)
    auth = authorizer(Roles({"Version": "2012-10-17", **granted}))
    auth.authorize(SESSION, SEND)
    auth.authorize(SESSION, authz.Call("sqs", "SendMessageBatch", {"QueueUrl": URL, "Entries": []}))
    with pytest.raises(AccessDeniedException):      # another queue is not granted
        auth.authorize(SESSION, authz.Call("sqs", "SendMessage", {"QueueUrl": URL + "-other"}))


def test_an_explicit_deny_wins_and_says_so() -> None:
    roles = Roles(allow("sqs:*"), allow("sqs:SendMessage", QUEUE, "Deny"))
    with pytest.raises(AccessDeniedException) as denied:
        authorizer(roles).authorize(SESSION, SEND)
    assert denied.value.message.endswith(f"on resource: {QUEUE} with an explicit deny in an identity-based policy")


def test_conditions_see_the_request_context() -> None:
    insecure = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                       "StringEquals": {"aws:PrincipalArn": ROLE}}}]}
    auth = authorizer(Roles(insecure))
    auth.authorize(SESSION, SEND, "10.1.2.3")
    with pytest.raises(AccessDeniedException):
        auth.authorize(SESSION, SEND, "127.0.0.1")
    secure_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sqs:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    # plain HTTP: insecure transport from another machine, secure from this one (never on a network)
    with pytest.raises(AccessDeniedException, match="explicit deny"):
        authorizer(Roles(secure_only)).authorize(SESSION, SEND, "10.1.2.3")
    for here in ("127.0.0.1", "127.8.9.10", "::1", ""):
        authorizer(Roles(secure_only)).authorize(SESSION, SEND, here)


def test_every_check_of_an_operation_must_pass() -> None:
    create = authz.Call("lambda", "CreateFunction", {"FunctionName": "f", "Role": f"arn:aws:iam::{ACCOUNT}:role/fr"})
    with pytest.raises(AccessDeniedException, match="iam:PassRole"):
        authorizer(Roles(allow("lambda:CreateFunction"))).authorize(SESSION, create)
    authorizer(Roles(allow("lambda:CreateFunction"), allow("iam:PassRole"))).authorize(SESSION, create)


def test_a_resource_policy_naming_the_role_allows_in_the_same_account_and_its_deny_wins() -> None:
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:SendMessage", "Resource": QUEUE}]}
    authorizer(Roles(), resources=Resources(**{QUEUE: grant})).authorize(SESSION, SEND)
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE}]}
    with pytest.raises(AccessDeniedException) as denied:
        authorizer(Roles(allow("sqs:*")), resources=Resources(**{QUEUE: deny})).authorize(SESSION, SEND)
    assert denied.value.message.endswith("with an explicit deny in a resource-based policy")


def test_audit_allows_and_logs_what_enforce_would_answer(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "cumulo.iam"):
        authorizer(Roles(), "audit").authorize(SESSION, SEND)
    [record] = caplog.records
    assert "would deny sqs.SendMessage" in record.getMessage()
    assert "because no identity-based policy allows the sqs:SendMessage action" in record.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, "cumulo.iam"):
        authorizer(Roles(allow("sqs:*")), "audit").authorize(SESSION, SEND)
    assert caplog.records == []


def test_a_mode_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="enforce, audit, off"):
        authorizer(Roles(), "sometimes")


# -- property: enforcement never allows what evaluate denies -------------------------------------------------

statements = st.fixed_dictionaries({
    "Effect": st.sampled_from(["Allow", "Deny"]),
    "Action": st.sampled_from(["*", "sqs:*", "sqs:SendMessage", "sqs:Receive*", "lambda:InvokeFunction",
                               "lambda:*", "events:PutEvents", "iam:PassRole", "kinesis:Put*"]),
    "Resource": st.sampled_from(["*", QUEUE, f"arn:aws:sqs:*:{ACCOUNT}:*", f"arn:aws:lambda:*:*:function:fn",
                                 f"arn:aws:lambda:*:*:function:fn:*", "arn:aws:events:*:*:event-bus/default",
                                 f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"]),
})
calls = st.sampled_from([
    SEND, authz.Call("sqs", "SendMessageBatch", {"QueueUrl": URL}), authz.Call("sqs", "ReceiveMessage", {"QueueUrl": URL}),
    authz.Call("lambda", "Invoke", params={"name": "fn"}), authz.Call("lambda", "Invoke", params={"name": "fn:live"}),
    authz.Call("lambda", "CreateFunction", {"FunctionName": "fn", "Role": ROLE}),
    authz.Call("events", "PutEvents", {"Entries": [{"Source": "s"}, {"EventBusName": "b", "Source": "t"}]}),
    authz.Call("kinesis", "PutRecords", {"StreamName": "s"}), authz.Call("sqs", "ListQueues"),
])


@settings(max_examples=300, deadline=None)
@given(policy=st.lists(statements, max_size=4), call=calls, mode=st.sampled_from(["enforce", "audit"]))
def test_enforcement_never_allows_what_evaluate_denies(policy: list[dict[str, Any]], call: authz.Call,
                                                       mode: str) -> None:
    roles = Roles({"Version": "2012-10-17", "Statement": policy}) if policy else Roles()
    principal = iam.Principal.assumed_role(ACCOUNT, "producer-role", "producer")
    verdicts = [iam.evaluate(iam.Request(principal, c.action, c.resource, c.context, secure_transport=False),
                             roles.set) for c in authz.checks(call, SCOPE)]
    auth = authorizer(roles, mode)
    if mode == "audit":        # audit never refuses; what it would refuse is decide()'s answer
        auth.authorize(SESSION, call)
        decided = auth.decide(SESSION, call)
        assert (decided is None) == all(verdicts)
        return
    try:
        auth.authorize(SESSION, call)
    except AccessDeniedException as denied:
        first = next(v for v in verdicts if not v)
        assert denied.message == first.message
    else:
        assert all(verdicts)


def test_sams_secrets_rotation_policy_allows_the_secrets_whose_rotation_function_is_the_callers() -> None:
    """AWSSecretsManagerRotationPolicy allows on ``secretsmanager:resource/AllowRotationLambdaArn``: the
    secret's own RotationLambdaARN, which the resource carries (``resource_context``)."""
    granted = iam.expand_policy_template("AWSSecretsManagerRotationPolicy", {"FunctionName": "rotator"},
                                         region="us-east-1", account_id=ACCOUNT)
    rotator = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:rotator"
    mine, other, none = (authz.secretsmanager.secret_arn(n, SCOPE) for n in ("db/mine", "db/other", "db/none"))
    auth = authorizer(Roles({"Version": "2012-10-17", **granted}), resources=Resources(context={
        mine: {"secretsmanager:resource/AllowRotationLambdaArn": rotator},
        other: {"secretsmanager:resource/AllowRotationLambdaArn": rotator + "-2"}}))
    for operation in ("DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"):
        auth.authorize(SESSION, authz.Call("secretsmanager", operation, {"SecretId": "db/mine"}))
        for secret in ("db/other", "db/none"):
            with pytest.raises(AccessDeniedException):
                auth.authorize(SESSION, authz.Call("secretsmanager", operation, {"SecretId": secret}))
    auth.authorize(SESSION, authz.Call("secretsmanager", "GetRandomPassword", {}))
    assert none not in (mine, other)


# -- S3: anonymous callers and the owner's keys against a bucket's policy -----------------------------
BUCKET_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"],
     "Condition": {"StringEquals": {"aws:SourceIp": "10.9.9.9"}}}]}


def s3_call(operation: str, key: str = "index.html") -> authz.Call:
    return authz.Call("s3", operation, {}, {"bucket": "site", "key": key if "Object" in operation else ""})


@pytest.mark.parametrize("mode", ["enforce", "audit", "off"])
def test_an_anonymous_caller_is_decided_by_the_bucket_policy_alone_in_every_mode(mode: str) -> None:
    from cumulo.api.sigv4 import anonymous
    decider = authorizer(Roles(allow("s3:*")), mode, Resources(**{"arn:aws:s3:::site": BUCKET_POLICY,
                                                                  "arn:aws:s3:::site/index.html": BUCKET_POLICY}))
    who = anonymous("us-east-1")
    assert decider.needed(who)
    decider.authorize(who, s3_call("GetObject"), "10.1.2.3")
    for call, client in ((s3_call("GetObject"), "192.0.2.1"), (s3_call("PutObject"), "10.1.2.3"),
                         (s3_call("GetObject"), "10.9.9.9"), (s3_call("ListObjectsV2"), "10.1.2.3")):
        with pytest.raises(AccessDeniedException) as caught:
            decider.authorize(who, call, client)
        assert caught.value.message == "Access Denied"


def test_the_owner_is_held_to_a_bucket_policys_explicit_deny_but_may_always_manage_the_policy() -> None:
    owner = Signer("AKIA1", "us-east-1", "s3", f"arn:aws:iam::{ACCOUNT}:root")
    decider = authorizer(Roles(), resources=Resources(**{"arn:aws:s3:::site": BUCKET_POLICY,
                                                        "arn:aws:s3:::site/index.html": BUCKET_POLICY}))
    decider.owner_refusal(owner, s3_call("GetObject"), "192.0.2.1")          # the Allow does not matter
    with pytest.raises(AccessDeniedException) as caught:
        decider.owner_refusal(owner, s3_call("GetObject"), "10.9.9.9")
    assert "with an explicit deny in a resource-based policy" in caught.value.message
    for operation in ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"):
        decider.owner_refusal(owner, s3_call(operation), "10.9.9.9")
    authorizer(Roles(), "off", decider.resources).owner_refusal(owner, s3_call("GetObject"), "10.9.9.9")
