"""Authorization at the control plane's edge: what a role session's request pays for being decided.

    python bench/authz.py [--requests N] [--rounds R]

Two measures, each beside a baseline timed the same way in the same run:

1. The authorization step alone (``api/authorize.Authorizer.authorize``): the request mapped to its
   checks (``api/authz``), IAM's view of the caller, the role's policies (bench/iam.py's role of 20
   policies, kept parsed; its TLS-only Deny left out, see ``server_role``), the resource's policy looked up, ``evaluate``; for SendMessage (allowed by
   the 2nd SAM policy template), SendMessageBatch, Invoke with a qualifier, PutEvents, PutRecord, and a
   denied SendMessage (no Allow: the AccessDeniedException with AWS's message built). Baselines: a
   dict lookup and ``evaluate`` alone on the same request. Target (issue 19): p50 <= 20 µs.
2. The whole request in the server (``ControlPlane.handle``: signature, routing, body checks,
   authorization, the operation): SendMessage to a queue signed with the owner's key (never
   authorized) and with a role session's key (authorized), on a real ``Cumulo`` in a temporary home.
   The difference of the medians is what authorization adds to a request.

Not a test: nothing here asserts beyond the decisions being the expected ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from iam import ACCOUNT, p, role, timings  # noqa: E402  (bench/iam.py: the role of 20 policies)

from cumulo import iam as policy  # noqa: E402
from cumulo.api import authz, sigv4  # noqa: E402
from cumulo.api.authorize import AccessDeniedException, Authorizer  # noqa: E402

ROLE = f"arn:aws:iam::{ACCOUNT}:role/OrdersFunctionRole"
SIGNER = sigv4.Principal("ASIABENCH", "us-east-1", "sqs", f"arn:aws:sts::{ACCOUNT}:assumed-role/OrdersFunctionRole/"
                         "orders-fn", ROLE, "orders-fn")
URL = f"http://127.0.0.1:9000/{ACCOUNT}/orders"


def server_role() -> policy.PolicySet:
    """bench/iam.py's role, its TLS-only Deny left out: the control plane speaks plain HTTP
    (aws:SecureTransport is false), so that statement would deny every request here."""
    kept = [p for p in role().policies if p.name != "Guardrails"]
    kept.append(policy.parse_policy({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": ["sqs:DeleteQueue", "dynamodb:DeleteTable"],
         "Resource": "*"}]}, name="Guardrails"))
    return policy.PolicySet(kept)


class Roles:
    def __init__(self, policies: policy.PolicySet) -> None:
        self.policies = policies

    def policies_for(self, role_arn: str) -> policy.PolicySet:
        return self.policies


class Resources:
    """A few resources with policies, looked up by ARN as the server's cache does."""

    def __init__(self) -> None:
        self.by_arn = {f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:notify:live": policy.parse_policy({
            "Version": "2012-10-17", "Statement": [{"Sid": "rule", "Effect": "Allow",
                                                    "Principal": {"Service": "events.amazonaws.com"},
                                                    "Action": "lambda:InvokeFunction",
                                                    "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:notify"}]},
            "resource")}

    def resource_policy(self, arn: str) -> policy.Policy | None:
        return self.by_arn.get(arn)


CALLS = [
    (authz.Call("sqs", "SendMessage", {"QueueUrl": URL, "MessageBody": "x"}), True),
    (authz.Call("sqs", "SendMessageBatch", {"QueueUrl": URL, "Entries": []}), True),
    (authz.Call("lambda", "Invoke", {}, {"name": "notify"}, {"Qualifier": ["live"]}), True),
    (authz.Call("events", "PutEvents", {"Entries": [{"Source": "orders", "DetailType": "placed",
                                                     "EventBusName": "orders-bus"}]}), True),
    (authz.Call("kinesis", "PutRecord", {"StreamName": "clicks"}), True),
    (authz.Call("sqs", "SendMessage", {"QueueUrl": URL.replace("orders", "payments")}), False),
]


def step(args: argparse.Namespace) -> dict[str, list[int]]:
    auth = Authorizer("enforce", authz.Scope(ACCOUNT, "us-east-1"), Roles(server_role()), Resources())
    me = auth.caller(SIGNER)
    rows: dict[str, list[int]] = {"dict lookup": [], "evaluate alone (SendMessage)": [],
                                  "authorize, allowed (5 operations)": [], "authorize, denied (message built)": []}
    table = {"k": 1}
    policies = auth.roles.policies_for(ROLE)
    send = policy.Request(me, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders", secure_transport=False)

    def attempt(call: authz.Call) -> object:
        try:
            auth.authorize(SIGNER, call, "127.0.0.1")
        except AccessDeniedException as exc:
            return exc
        return None

    for call, allowed in CALLS:
        assert (attempt(call) is None) == allowed, call
    per = max(1, args.requests // len(CALLS))
    for _ in range(args.rounds):
        rows["dict lookup"] += timings(lambda: table["k"], args.requests)
        rows["evaluate alone (SendMessage)"] += timings(lambda: policy.evaluate(send, policies), args.requests)
        for call, allowed in CALLS:
            rows["authorize, allowed (5 operations)" if allowed else "authorize, denied (message built)"] += \
                timings(lambda call=call: attempt(call), per)    # type: ignore[misc]
    return rows


def server(args: argparse.Namespace) -> dict[str, list[int]]:
    from cumulo.api.http import Request
    from cumulo.api.server import ControlPlane
    from cumulo.app import Cumulo

    rows: dict[str, list[int]] = {"handle SendMessage, owner key": [], "handle SendMessage, role session": []}
    with tempfile.TemporaryDirectory() as home, Cumulo(home=Path(home), account_id=ACCOUNT) as c:
        app = ControlPlane(c, workers=2)
        owner_keys = app.keys
        from cumulo.api.keys import first_key
        key = first_key(c.store)[0]
        key_id, secret = key.id, key.secret
        app.keys = lambda k, t: sigv4.Key("s3cr3t", SIGNER.arn, ROLE, "orders-fn") if k == "ASIABENCH" \
            else owner_keys(k, t)
        roles = server_role()
        c.policies_for = lambda arn: roles     # type: ignore[method-assign]
        c.queues.create_queue("orders")
        body = json.dumps({"QueueUrl": URL, "MessageBody": "hello"}).encode()

        def request(akid: str, secret: str) -> Request:
            headers = [("host", "127.0.0.1:9000"), ("content-type", "application/x-amz-json-1.0"),
                       ("x-amz-target", "AmazonSQS.SendMessage")]
            incoming = sigv4.IncomingRequest("POST", "/", "", headers, body)
            headers += sigv4.sign(incoming, akid, secret, "us-east-1", "sqs", datetime.now(timezone.utc))
            return Request("POST", "/", "", headers, body, client="127.0.0.1")

        as_owner, as_role = request(key_id, secret), request("ASIABENCH", "s3cr3t")
        assert app.handle(as_owner).status == 200 and app.handle(as_role).status == 200
        n = max(1, args.requests // 10)
        for _ in range(args.rounds):
            rows["handle SendMessage, owner key"] += timings(lambda: app.handle(as_owner), n)
            rows["handle SendMessage, role session"] += timings(lambda: app.handle(as_role), n)
        app.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="timed requests per round and row")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = step(args)
    base = statistics.median(rows["dict lookup"]) / 1000
    print(f"role: 20 policies; {args.rounds} rounds; per-call timer included in every row")
    print()
    print("| measure | p50 (µs) | p99 (µs) | p50 / dict lookup |")
    print("|---|---:|---:|---:|")
    for name, values in rows.items():
        print(f"| {name} | {p(values, 0.5):.2f} | {p(values, 0.99):.2f} | {p(values, 0.5) / base:.1f}x |")
    whole = server(args)
    for name, values in whole.items():
        print(f"| {name} | {p(values, 0.5):.2f} | {p(values, 0.99):.2f} | {p(values, 0.5) / base:.1f}x |")
    allowed = p(rows["authorize, allowed (5 operations)"], 0.5)
    added = p(whole["handle SendMessage, role session"], 0.5) - p(whole["handle SendMessage, owner key"], 0.5)
    print()
    print(f"target: the authorization step p50 <= 20 µs with 20 policies: {allowed:.2f} µs -> "
          f"{'met' if allowed <= 20 else 'NOT met'}; in the server, a role session's SendMessage costs "
          f"{added:+.2f} µs over the owner's (medians)")


if __name__ == "__main__":
    main()
