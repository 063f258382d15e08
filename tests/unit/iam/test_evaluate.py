"""Evaluation: AWS's documented examples, identity and resource policies together, and the decision's message."""

from __future__ import annotations

from typing import Any

from cumulo.iam import Decision, PolicySet, Principal, Request, evaluate, parse_policy
from cumulo.iam.policy import Policy

ACCOUNT = "123456789012"
ROLE = Principal.assumed_role(ACCOUNT, "MyRole", "my-fn")
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"


def policy(*statements: dict[str, Any], kind: str = "identity", version: str | None = "2012-10-17",
           name: str | None = None) -> Policy:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version:
        document["Version"] = version
    return parse_policy(document, kind, name=name)  # type: ignore[arg-type]


def allow(action: Any, resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action: Any, resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def decide(principal: Principal, action: str, resource: str = "*", *policies: Policy, resource_policy: Policy | None = None,
           **request: Any) -> Decision:
    return evaluate(Request(principal, action, resource, **request), list(policies), resource_policy)


# -- the message -----------------------------------------------------------------------

def test_no_allow_is_an_implicit_deny_with_aws_message() -> None:
    decision = decide(ROLE, "sqs:SendMessage", QUEUE)
    assert not decision and decision.reason == "implicit deny"
    assert decision.message == ("User: arn:aws:sts::123456789012:assumed-role/MyRole/my-fn is not authorized to perform: "
                                "sqs:SendMessage on resource: arn:aws:sqs:us-east-1:123456789012:q because no "
                                "identity-based policy allows the sqs:SendMessage action")


def test_explicit_deny_message() -> None:
    decision = decide(ROLE, "sqs:SendMessage", QUEUE, policy(allow("sqs:*"), deny("sqs:SendMessage", QUEUE)))
    assert not decision and decision.reason == "explicit deny" and decision.policy_type == "identity-based"
    assert decision.message.endswith(f"on resource: {QUEUE} with an explicit deny in an identity-based policy")


# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html — "User: arn:aws:iam::
# 123456789012:user/JohnDoe is not authorized to perform: codecommit:ListRepositories because no identity-based
# policy allows the codecommit:ListRepositories action" (an action without a resource).
def test_message_without_a_resource() -> None:
    john = Principal.user(ACCOUNT, "JohnDoe")
    assert decide(john, "codecommit:ListRepositories").message == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: codecommit:ListRepositories "
        "because no identity-based policy allows the codecommit:ListRepositories action")


def test_the_decision_names_the_policy_and_statement_that_decided() -> None:
    role = PolicySet([policy(allow("logs:*"), name="Logs"), policy({"Sid": "Send", **allow("sqs:SendMessage")},
                                                                    name="Queue")])
    decision = evaluate(Request(ROLE, "sqs:SendMessage", QUEUE), role)
    assert decision and decision.message == ""
    assert (decision.policy, decision.sid, decision.statement, decision.policy_type) == ("Queue", "Send", 0,
                                                                                         "identity-based")


# -- actions -----------------------------------------------------------------------------------

def test_actions_are_case_insensitive_with_wildcards() -> None:
    p = policy(allow(["SQS:send*", "dynamodb:?etItem"]))
    assert decide(ROLE, "sqs:SendMessage", QUEUE, p)
    assert decide(ROLE, "sqs:SENDMESSAGEBATCH", QUEUE, p)
    assert decide(ROLE, "dynamodb:GetItem", "*", p) and decide(ROLE, "dynamodb:SetItem", "*", p)
    assert not decide(ROLE, "dynamodb:BatchGetItem", "*", p)
    assert not decide(ROLE, "sqs:ReceiveMessage", QUEUE, p)
    assert not decide(ROLE, "sns:SendMessage", QUEUE, p)      # another service's action of the same name
    assert decide(ROLE, "anything:AtAll", QUEUE, policy(allow("*")))


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html — "The DenyReports
# statement explicitly denies access to IAM reports by denying access to actions that include the Report suffix".
def test_allowed_implicitly_denied_and_explicitly_denied_actions() -> None:
    p = policy({"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
               {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"})
    assert decide(ROLE, "iam:GetRole", "*", p)
    assert decide(ROLE, "iam:ListRoles", "*", p)
    assert decide(ROLE, "iam:CreatePolicy", "*", p).reason == "implicit deny"
    assert decide(ROLE, "iam:GetOrganizationsAccessReport", "*", p).reason == "explicit deny"
    # "report-related requests are still denied" even when another policy allows them
    assert decide(ROLE, "iam:GenerateCredentialReport", "*", p, policy(allow("iam:*"))).reason == "explicit deny"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
def test_not_action() -> None:
    everything_but_iam = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(ROLE, "sqs:SendMessage", QUEUE, everything_but_iam)
    assert not decide(ROLE, "iam:CreateUser", "*", everything_but_iam)
    s3_but_delete = policy({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"})
    assert decide(ROLE, "s3:GetObject", "arn:aws:s3:::b/k", s3_but_delete)
    assert not decide(ROLE, "s3:DeleteBucket", "arn:aws:s3:::b", s3_but_delete)
    assert not decide(ROLE, "s3:ListAllMyBuckets", "*", s3_but_delete)     # "requires the "*" resource"
    # DenyAllUsersNotUsingMFA: a Deny with NotAction and BoolIfExists
    mfa = policy({"Sid": "DenyAllUsersNotUsingMFA", "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                  "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}, allow("*"))
    assert decide(ROLE, "s3:GetObject", "*", mfa, context={"aws:MultiFactorAuthPresent": "false"}).reason == \
        "explicit deny"
    assert decide(ROLE, "s3:GetObject", "*", mfa, context={"aws:MultiFactorAuthPresent": True})
    assert decide(ROLE, "s3:GetObject", "*", mfa).reason == "explicit deny"         # absent: IfExists holds
    assert decide(ROLE, "iam:GetUser", "*", mfa, context={"aws:MultiFactorAuthPresent": "false"})


# -- resources ---------------------------------------------------------------------------------

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html — "The asterisk (*)
# character can expand to replace everything within a segment, including characters like a forward slash (/)".
def test_resource_wildcards_per_segment() -> None:
    p = policy(allow("s3:*", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*"))
    for key in ("1/test/object.jpg", "1/2/test/object.jpg", "1/2/test/3/object.jpg", "1/2/3/test/4/object.jpg",
                "1///test///object.jpg", "1/test/.jpg", "/test/object.jpg", "1/test/"):
        assert decide(ROLE, "s3:GetObject", f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}", p), key
    for key in ("1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"):
        assert not decide(ROLE, "s3:GetObject", f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}", p), key


def test_wildcards_before_the_resource_segment_stop_at_colons_and_case_counts() -> None:
    p = policy(allow("sqs:*", "arn:aws:sqs:*:123456789012:orders-?"))
    assert decide(ROLE, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:orders-1", p)
    assert not decide(ROLE, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:999999999999:orders-1", p)
    assert not decide(ROLE, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:Orders-1", p)
    assert not decide(ROLE, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:orders-12", p)
    assert not decide(ROLE, "sqs:SendMessage", "arn:aws:sqs:eu:west:123456789012:orders-1", p)
    short = policy(allow("sqs:*", "arn:aws:sqs:*"))                              # missing segments are "*"
    assert decide(ROLE, "sqs:SendMessage", QUEUE, short)
    colon = policy(allow("logs:*", "arn:aws:logs:*:*:log-group:/aws/lambda/*"))   # the resource part spans colons
    assert decide(ROLE, "logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/f:log-stream:s",
                  colon)
    assert not decide(ROLE, "sqs:ListQueues", "*", policy(allow("sqs:*", "arn:aws:sqs:*:*:*")))
    assert decide(ROLE, "sqs:ListQueues", "*", policy(allow("sqs:*", "*")))


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html — HRPayroll
def test_not_resource() -> None:
    p = policy({"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::HRBucket/Payroll",
                                                                   "arn:aws:s3:::HRBucket/Payroll/*"]},
               allow("*"))
    assert decide(ROLE, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/march.csv", p)
    assert decide(ROLE, "s3:GetObject", "arn:aws:s3:::HRBucket/Other/x", p).reason == "explicit deny"
    assert decide(ROLE, "ec2:RunInstances", "*", p)          # "the policy affects only Amazon S3 actions"


# -- policy variables --------------------------------------------------------------------------

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
def test_username_variable_in_resource_and_condition() -> None:
    home = policy({"Action": ["s3:ListBucket"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket"],
                   "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}},
                  {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow",
                   "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]})
    david = Principal.user(ACCOUNT, "David")
    assert decide(david, "s3:GetObject", "arn:aws:s3:::mybucket/David/notes.txt", home)
    assert not decide(david, "s3:GetObject", "arn:aws:s3:::mybucket/Adele/notes.txt", home)
    assert decide(david, "s3:ListBucket", "arn:aws:s3:::mybucket", home, context={"s3:prefix": "David/2024"})
    assert not decide(david, "s3:ListBucket", "arn:aws:s3:::mybucket", home, context={"s3:prefix": "Adele/"})
    # a role session has no aws:username: "not present ... any attempt to match it fails"
    assert not decide(ROLE, "s3:GetObject", "arn:aws:s3:::mybucket/MyRole/x", home)


def test_variables_are_literal_text_only_in_2012_10_17_policies() -> None:
    old = policy(allow("sqs:*", "arn:aws:sqs:*:*:${aws:username}-queue"), version="2008-10-17")
    bob = Principal.user(ACCOUNT, "bob")
    assert not decide(bob, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:bob-queue", old)
    assert decide(bob, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:${{aws:username}}-queue", old)
    new = policy(allow("sqs:*", "arn:aws:sqs:us-east-2:*:${aws:username}-queue"))
    assert decide(bob, "sqs:SendMessage", f"arn:aws:sqs:us-east-2:{ACCOUNT}:bob-queue", new)


def test_substituted_values_are_literal_and_special_characters_and_defaults() -> None:
    p = policy(allow("s3:*", "arn:aws:s3:::b/${aws:PrincipalTag/team}/*"))
    star = Principal.user(ACCOUNT, "u", tags={"team": "*"})
    assert decide(star, "s3:GetObject", "arn:aws:s3:::b/*/k", p)
    assert not decide(star, "s3:GetObject", "arn:aws:s3:::b/red/k", p)          # the tag's "*" is no wildcard
    special = policy(allow("s3:*", "arn:aws:s3:::b/${*}${?}${$}"))
    assert decide(ROLE, "s3:GetObject", "arn:aws:s3:::b/*?$", special)
    assert not decide(ROLE, "s3:GetObject", "arn:aws:s3:::b/xy$", special)
    # "${aws:PrincipalTag/team, 'company-wide'}" (Specifying default values)
    default = policy(allow("s3:*", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}"))
    assert decide(ROLE, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide", default)
    yellow = Principal.assumed_role(ACCOUNT, "R", "s", tags={"team": "yellow"})
    assert decide(yellow, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow", default)
    assert not decide(yellow, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide", default)


# -- identity and resource policies together ----------------------------------------------------

CARLOS_IDENTITY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock",
                                                             "s3:ListAccessPoints", "s3:ListAllMyBuckets"],
     "Resource": "arn:aws:s3:::*"},
    {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"}]}
CARLOS_BUCKET = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"}, "Action": "s3:*",
     "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]}]}


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html — "Example
# identity-based and resource-based policy evaluation"
def test_carlos() -> None:
    carlos = Principal.user(ACCOUNT, "carlossalazar")
    identity, bucket = parse_policy(CARLOS_IDENTITY), parse_policy(CARLOS_BUCKET, "resource")
    logs = decide(carlos, "s3:PutObject", "arn:aws:s3:::carlossalazar-logs/f", identity)
    assert logs.reason == "explicit deny" and logs.sid == "DenyS3Logs"
    assert decide(carlos, "s3:PutObject", "arn:aws:s3:::carlossalazar/f", identity, resource_policy=bucket)
    # "If one of the policy types allows the request and the other doesn't, the request is still allowed."
    assert decide(carlos, "s3:PutObject", "arn:aws:s3:::carlossalazar/f", resource_policy=bucket).policy_type == \
        "resource-based"
    assert decide(carlos, "s3:PutObject", "arn:aws:s3:::carlossalazar/f", identity).policy_type == "identity-based"


def test_an_explicit_deny_in_the_resource_policy_wins() -> None:
    queue_policy = policy({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE,
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, kind="resource")
    decision = decide(ROLE, "sqs:SendMessage", QUEUE, policy(allow("sqs:*")), resource_policy=queue_policy,
                      secure_transport=False)
    assert decision.reason == "explicit deny" and decision.policy_type == "resource-based"
    assert decision.message.endswith("with an explicit deny in a resource-based policy")
    assert decide(ROLE, "sqs:SendMessage", QUEUE, policy(allow("sqs:*")), resource_policy=queue_policy,
                  secure_transport=True)


def test_resource_policy_principals() -> None:
    def queue(principal: Any) -> Policy:
        return policy({"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": QUEUE},
                      kind="resource")
    session = "arn:aws:sts::123456789012:assumed-role/MyRole/my-fn"
    assert decide(ROLE, "sqs:SendMessage", QUEUE, resource_policy=queue({"AWS": session}))
    assert decide(ROLE, "sqs:SendMessage", QUEUE, resource_policy=queue({"AWS": "arn:aws:iam::123456789012:role/MyRole"}))
    assert decide(ROLE, "sqs:SendMessage", QUEUE, resource_policy=queue("*"))
    assert decide(ROLE, "sqs:SendMessage", QUEUE, resource_policy=queue({"AWS": "*"}))
    assert not decide(ROLE, "sqs:SendMessage", QUEUE, resource_policy=queue({"AWS": "arn:aws:iam::123456789012:role/Other"}))
    # naming the account delegates to it: the role's own policies must allow too
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts)
    account = queue({"AWS": ACCOUNT})
    assert decide(ROLE, "sqs:SendMessage", QUEUE, resource_policy=account).reason == "implicit deny"
    assert decide(ROLE, "sqs:SendMessage", QUEUE, policy(allow("sqs:SendMessage")), resource_policy=account)
    assert decide(Principal.root(ACCOUNT), "sqs:SendMessage", QUEUE, resource_policy=account)
    # NotPrincipal: everyone but those named
    not_me = policy({"Effect": "Deny", "NotPrincipal": {"AWS": session}, "Action": "sqs:*", "Resource": QUEUE},
                    kind="resource")
    assert decide(ROLE, "sqs:SendMessage", QUEUE, policy(allow("sqs:*")), resource_policy=not_me)
    other = Principal.assumed_role(ACCOUNT, "Other", "x")
    assert decide(other, "sqs:SendMessage", QUEUE, policy(allow("sqs:*")), resource_policy=not_me).reason == \
        "explicit deny"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
# — the SQS queue policy that lets SNS send only for one topic (aws:SourceArn).
def test_service_principals_through_a_resource_policy() -> None:
    topic = f"arn:aws:sns:us-east-2:{ACCOUNT}:TOPIC-ID"
    queue_policy = policy({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "SQS:SendMessage",
                           "Resource": f"arn:aws:sqs:us-east-2:{ACCOUNT}:QUEUE-ID",
                           "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}, kind="resource")
    sns = Principal.service_principal("sns.amazonaws.com")
    queue = f"arn:aws:sqs:us-east-2:{ACCOUNT}:QUEUE-ID"
    assert decide(sns, "sqs:SendMessage", queue, resource_policy=queue_policy, source_arn=topic)
    wrong = decide(sns, "sqs:SendMessage", queue, resource_policy=queue_policy, source_arn=topic + "-2")
    assert wrong.reason == "implicit deny" and wrong.policy_type == "resource-based"
    assert wrong.message == ("User: sns.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: "
                             f"{queue} because no resource-based policy allows the sqs:SendMessage action")
    assert not decide(sns, "sqs:SendMessage", queue, resource_policy=queue_policy)     # no aws:SourceArn: false
    events = Principal.service_principal("events.amazonaws.com")
    assert not decide(events, "sqs:SendMessage", queue, resource_policy=queue_policy, source_arn=topic)


def test_lambda_permission_with_source_account_and_arn() -> None:
    # what AddPermission writes for an EventBridge rule (aws:SourceArn, and aws:SourceAccount for S3)
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"
    permission = policy({"Sid": "rule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                         "Action": "lambda:InvokeFunction", "Resource": function,
                         "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r*"},
                                       "StringEquals": {"AWS:SourceAccount": ACCOUNT}}}, kind="resource")
    events = Principal.service_principal("events.amazonaws.com")
    assert decide(events, "lambda:InvokeFunction", function, resource_policy=permission,
                  source_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r1", source_account=ACCOUNT)
    assert not decide(events, "lambda:InvokeFunction", function, resource_policy=permission,
                      source_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r1", source_account="999999999999")
    assert not decide(events, "lambda:InvokeFunction", function + ":prod", resource_policy=permission,
                      source_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r1", source_account=ACCOUNT)


# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html — role trust policies:
# "because no role trust policy allows the sts:AssumeRole action", "with an explicit deny in the role trust policy"
def test_trust_policies_must_allow_the_principal_themselves() -> None:
    john = Principal.user(ACCOUNT, "JohnDoe")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/JohnDoe"},
                    "Action": "sts:AssumeRole"}, kind="trust")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/R"
    assert decide(john, "sts:AssumeRole", role_arn, resource_policy=trust)
    jane = Principal.user(ACCOUNT, "JaneDoe")
    assert decide(jane, "sts:AssumeRole", role_arn, resource_policy=trust).message == (
        f"User: arn:aws:iam::123456789012:user/JaneDoe is not authorized to perform: sts:AssumeRole on resource: "
        f"{role_arn} because no role trust policy allows the sts:AssumeRole action")
    # an identity policy alone is not enough for a trust policy
    assert not decide(jane, "sts:AssumeRole", role_arn, policy(allow("sts:AssumeRole")), resource_policy=trust)
    # trusting the account delegates to the caller's identity policies
    account = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}, kind="trust")
    assert not decide(jane, "sts:AssumeRole", role_arn, resource_policy=account)
    assert decide(jane, "sts:AssumeRole", role_arn, policy(allow("sts:AssumeRole")), resource_policy=account)
    denied = policy({"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:user/JohnDoe"},
                     "Action": "sts:AssumeRole"}, {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
                    kind="trust")
    assert decide(john, "sts:AssumeRole", role_arn, resource_policy=denied).message.endswith(
        "with an explicit deny in the role trust policy")
    lambda_trust = policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                           "Action": "sts:AssumeRole"}, kind="trust")
    assert decide(Principal.service_principal("lambda.amazonaws.com"), "sts:AssumeRole", role_arn,
                  resource_policy=lambda_trust)
    assert not decide(john, "sts:AssumeRole", role_arn, resource_policy=lambda_trust)


def test_root_is_allowed_unless_a_resource_policy_denies() -> None:
    root = Principal.root(ACCOUNT)
    assert decide(root, "sqs:DeleteQueue", QUEUE)
    deny_all = policy({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}, kind="resource")
    assert not decide(root, "sqs:DeleteQueue", QUEUE, resource_policy=deny_all)


def test_request_context_keys_from_the_principal() -> None:
    p = policy(allow("sqs:*", "*", Condition={
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/My*"},
        "StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:PrincipalType": "AssumedRole",
                         "aws:userid": "AROAEXAMPLE:my-fn"}}))
    assert decide(Principal.assumed_role(ACCOUNT, "MyRole", "my-fn", role_id="AROAEXAMPLE"), "sqs:SendMessage", QUEUE, p)
    assert not decide(Principal.assumed_role(ACCOUNT, "Other", "my-fn", role_id="AROAEXAMPLE"), "sqs:SendMessage",
                      QUEUE, p)
    user = policy(allow("sqs:*", "*", Condition={"StringEquals": {"aws:username": "bob", "aws:PrincipalType": "User"}}))
    assert decide(Principal.user(ACCOUNT, "bob"), "sqs:SendMessage", QUEUE, user)
    assert not decide(ROLE, "sqs:SendMessage", QUEUE, user)


def test_a_policy_set_is_reused_and_its_memory_bounded() -> None:
    role = PolicySet([policy(allow("sqs:*")), policy(deny("sqs:DeleteQueue"))])
    assert len(role) == 2
    for i in range(PolicySet.CACHE + 10):
        assert evaluate(Request(ROLE, f"sqs:Action{i}", QUEUE), role)
    assert not evaluate(Request(ROLE, "sqs:DeleteQueue", QUEUE), role)
    assert len(role._cache) <= PolicySet.CACHE
