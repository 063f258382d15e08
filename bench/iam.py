"""IAM policy evaluation benchmark: one request decided against a role with 20 policies.

    python bench/iam.py [--requests N] [--rounds R]

The role is what a busy Lambda application's role looks like: AWS managed policies
(AWSLambdaBasicExecutionRole, AWSLambdaSQSQueueExecutionRole, AWSXrayWriteOnlyAccess,
AmazonDynamoDBReadOnlyAccess), SAM policy templates for its queues, tables, buckets, bus, state
machine, functions, parameters and secret, and inline policies with conditions (aws:SourceArn,
aws:SourceAccount, aws:PrincipalTag) and a Deny with a condition (aws:SecureTransport false) that
every request must be checked against. Requests are what its functions send: allowed ones matched
by early, middle and late policies, denied ones (no Allow: every statement of the service looked
at), and one explicitly denied.

Each timing is one ``evaluate(Request(...), role)`` — building the request included — with the
role's PolicySet built once (as the server keeps it while the role's policies do not change):
``warm`` once each action has been seen (the usual case: a function calls the same few
actions), ``cold`` with the set's per-action memory emptied before each request (the first
request for an action). Baselines measured in the same run, with the same per-call timer: a dict
lookup and ``fnmatch.fnmatchcase`` of one ARN pattern. Target (issue 19): warm p50 <= 20 us.
Not a test: nothing here asserts beyond the decisions being the expected ones.
"""

from __future__ import annotations

import argparse
import fnmatch
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo.iam import (  # noqa: E402
    PolicySet,
    Principal,
    Request,
    evaluate,
    expand_policy_template,
    managed_policy,
    parse_policy,
)

ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = f"{REGION}:{ACCOUNT}"


def role() -> PolicySet:
    policies = [managed_policy(n).policy for n in (  # type: ignore[union-attr]
        "AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSXrayWriteOnlyAccess",
        "AmazonDynamoDBReadOnlyAccess")]
    templates = [
        ("SQSSendMessagePolicy", {"QueueName": "orders"}), ("SQSSendMessagePolicy", {"QueueName": "invoices"}),
        ("SQSPollerPolicy", {"QueueName": "incoming"}), ("DynamoDBCrudPolicy", {"TableName": "Orders"}),
        ("DynamoDBWritePolicy", {"TableName": "Audit"}), ("S3ReadPolicy", {"BucketName": "assets"}),
        ("S3CrudPolicy", {"BucketName": "uploads"}), ("EventBridgePutEventsPolicy", {"EventBusName": "orders-bus"}),
        ("StepFunctionsExecutionPolicy", {"StateMachineName": "fulfil"}),
        ("LambdaInvokePolicy", {"FunctionName": "notify"}), ("SSMParameterReadPolicy", {"ParameterName": "app/*"}),
        ("AWSSecretsManagerGetSecretValuePolicy", {"SecretArn": f"arn:aws:secretsmanager:{ARN}:secret:db-AbCdEf"}),
    ]
    for i, (name, params) in enumerate(templates):
        doc = expand_policy_template(name, params, region=REGION, account_id=ACCOUNT)
        policies.append(parse_policy(doc, name=f"FnRolePolicy{i}"))
    policies.append(parse_policy({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "FromOurRules", "Effect": "Allow", "Action": ["sns:Publish", "sqs:SendMessage"],
                       "Resource": [f"arn:aws:sns:{ARN}:alerts", f"arn:aws:sqs:{ARN}:alerts-*"],
                       "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:events:{ARN}:rule/*"},
                                     "StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}, name="Alerts"))
    policies.append(parse_policy({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "TeamTables", "Effect": "Allow", "Action": "dynamodb:*",
                       "Resource": "arn:aws:dynamodb:*:*:table/${aws:PrincipalTag/team}-*"}]}, name="Team"))
    policies.append(parse_policy({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "TlsOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                      {"Sid": "NoDeletes", "Effect": "Deny", "Action": ["sqs:DeleteQueue", "dynamodb:DeleteTable"],
                       "Resource": "*"}]}, name="Guardrails"))
    policies.append(parse_policy({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
                       "Resource": f"arn:aws:kinesis:{ARN}:stream/clicks",
                       "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]}}}]}, name="Clicks"))
    assert len(policies) == 20, len(policies)
    return PolicySet(policies)


ME = Principal.assumed_role(ACCOUNT, "OrdersFunctionRole", "orders-fn", tags={"team": "blue"})
# (action, resource, extra request fields, allowed?)
REQUESTS: list[tuple[str, str, dict[str, object], bool]] = [
    ("logs:PutLogEvents", f"arn:aws:logs:{ARN}:log-group:/aws/lambda/orders-fn:log-stream:x", {}, True),
    ("sqs:SendMessage", f"arn:aws:sqs:{ARN}:orders", {}, True),
    ("sqs:SendMessage", f"arn:aws:sqs:{ARN}:invoices", {}, True),
    ("dynamodb:PutItem", f"arn:aws:dynamodb:{ARN}:table/Orders", {}, True),
    ("dynamodb:UpdateItem", f"arn:aws:dynamodb:{ARN}:table/blue-sessions", {}, True),
    ("s3:GetObject", "arn:aws:s3:::assets/img/logo.png", {}, True),
    ("events:PutEvents", f"arn:aws:events:{ARN}:event-bus/orders-bus", {}, True),
    ("states:StartExecution", f"arn:aws:states:{ARN}:stateMachine:fulfil", {}, True),
    ("sns:Publish", f"arn:aws:sns:{ARN}:alerts",
     {"source_arn": f"arn:aws:events:{ARN}:rule/alarm", "source_account": ACCOUNT}, True),
    ("kinesis:PutRecord", f"arn:aws:kinesis:{ARN}:stream/clicks", {"source_ip": "127.0.0.1"}, True),
    ("sqs:SendMessage", f"arn:aws:sqs:{ARN}:payments", {}, False),
    ("dynamodb:PutItem", f"arn:aws:dynamodb:{ARN}:table/Payments", {}, False),
    ("s3:PutObject", "arn:aws:s3:::assets/img/logo.png", {}, False),
    ("sqs:DeleteQueue", f"arn:aws:sqs:{ARN}:orders", {}, False),
    ("sqs:SendMessage", f"arn:aws:sqs:{ARN}:orders", {"secure_transport": False}, False),
]


def timings(call: Callable[[], object], n: int, before: Callable[[], None] | None = None) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        if before is not None:
            before()
        t0 = clock()
        call()
        out.append(clock() - t0)
    return out


def p(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="timed requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    policies = role()
    statements = sum(len(p.statements) for p in policies.policies)
    calls = []
    for action, resource, extra, expected in REQUESTS:
        def call(action: str = action, resource: str = resource, extra: dict[str, object] = extra) -> object:
            return evaluate(Request(ME, action, resource, **extra), policies)  # type: ignore[arg-type]
        decision = call()
        assert bool(decision) == expected, (action, resource, decision)
        calls.append(call)

    table = {"k": 1, **{f"key{i}": i for i in range(50)}}
    pattern, arn = f"arn:aws:sqs:{ARN}:orders-*", f"arn:aws:sqs:{ARN}:orders-eu"
    fnmatch.fnmatchcase(arn, pattern)
    rows: dict[str, list[int]] = {"dict lookup": [], "fnmatchcase, one pattern": [], "evaluate, warm": [],
                                  "evaluate, cold (new action)": [], "evaluate, warm, denied (no Allow)": []}
    denied = [c for c, r in zip(calls, REQUESTS) if not r[3] and r[0] != "sqs:DeleteQueue" and not r[2]]
    per_call = max(1, args.requests // len(calls))
    for _ in range(args.rounds):
        rows["dict lookup"] += timings(lambda: table["k"], args.requests)
        rows["fnmatchcase, one pattern"] += timings(lambda: fnmatch.fnmatchcase(arn, pattern), args.requests)
        for call in calls:                       # every action seen once: the warm rows start warm
            call()
        for call in calls:
            rows["evaluate, warm"] += timings(call, per_call)
        for call in denied:
            rows["evaluate, warm, denied (no Allow)"] += timings(call, per_call)
        for call in calls:
            rows["evaluate, cold (new action)"] += timings(call, max(1, per_call // 10), policies._cache.clear)
    base = statistics.median(rows["dict lookup"]) / 1000
    fn = statistics.median(rows["fnmatchcase, one pattern"]) / 1000
    print(f"role: 20 policies, {statements} statements; {len(REQUESTS)} kinds of request "
          f"({sum(1 for r in REQUESTS if r[3])} allowed); {args.rounds} rounds; per-call timer included in every row")
    print()
    print("| measure | p50 (µs) | p99 (µs) | p50 / dict lookup | p50 / fnmatchcase |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rows.items():
        p50 = p(values, 0.5)
        print(f"| {name} | {p50:.2f} | {p(values, 0.99):.2f} | {p50 / base:.1f}x | {p50 / fn:.1f}x |")
    warm = p(rows["evaluate, warm"], 0.5)
    print()
    print(f"target: warm p50 <= 20 µs with 20 policies: {warm:.2f} µs -> {'met' if warm <= 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
