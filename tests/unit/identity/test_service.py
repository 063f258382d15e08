"""The identity service with the store faked: what ``policies_for`` answers as roles change, and
sessions issued, reused, expired and revoked on a clock the test moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo.iam import Principal, Request, evaluate
from cumulo.iam.tokens import BadToken
from cumulo.identity.service import Identity
from cumulo.identity.sessions import FUNCTION_REUSE_S, FUNCTION_TTL_S, SessionExpired
from tests.unit.fakes import FakeDocuments

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
SEND = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"}]})
ORDERS = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"


class Store(FakeDocuments):
    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, str] = {"AKIAOWNER": "secret"}

    def access_key_secret(self, key_id: str) -> str | None:
        return self.keys.get(key_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def identity(tmp_path: Path, clock: Clock) -> Identity:
    return Identity(Store(), tmp_path, ACCOUNT, clock)  # type: ignore[arg-type]


def allowed(identity: Identity, role_arn: str, action: str = "sqs:SendMessage", resource: str = ORDERS) -> bool:
    me = Principal.assumed_role(ACCOUNT, role_arn.rsplit("/", 1)[1], "fn")
    return bool(evaluate(Request(me, action, resource), identity.policies_for(role_arn)))


def test_policies_for_follows_the_roles_policies(identity: Identity) -> None:
    arn = identity.roles.create_role("worker", TRUST)["Arn"]
    assert len(identity.policies_for(arn)) == 0 and not allowed(identity, arn)
    identity.roles.put_role_policy("worker", "send", SEND)
    assert allowed(identity, arn) and not allowed(identity, arn, "sqs:DeleteQueue")
    identity.roles.attach_role_policy("worker", "arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    assert allowed(identity, arn, "sqs:DeleteQueue")
    identity.roles.detach_role_policy("worker", "arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    identity.roles.delete_role_policy("worker", "send")
    assert not allowed(identity, arn)


def test_a_customer_policys_default_version_is_what_applies(identity: Identity) -> None:
    arn = identity.roles.create_role("worker", TRUST)["Arn"]
    policy = identity.policies.create_policy("p", SEND)["Arn"]
    identity.roles.attach_role_policy("worker", policy)
    assert allowed(identity, arn)
    other = SEND.replace("orders", "invoices")
    identity.policies.create_policy_version(policy, other, set_as_default=True)
    assert not allowed(identity, arn) and allowed(identity, arn, resource=ORDERS.replace("orders", "invoices"))


def test_a_role_that_is_not_stored_has_no_policies(identity: Identity) -> None:
    assert len(identity.policies_for(f"arn:aws:iam::{ACCOUNT}:role/never-made")) == 0
    identity.roles.create_role("worker", TRUST, path="/a/")
    assert len(identity.policies_for(f"arn:aws:iam::{ACCOUNT}:role/worker")) == 0   # another path: another role


def test_a_functions_session_is_reused_for_an_hour_and_always_has_11_hours_left(identity: Identity,
                                                                               clock: Clock) -> None:
    arn = identity.roles.create_role("worker", TRUST)["Arn"]
    first = identity.sessions.for_function(arn, "fn")
    assert first.expires - clock.now == FUNCTION_TTL_S
    clock.now += FUNCTION_REUSE_S - 1
    assert identity.sessions.for_function(arn, "fn") is first
    assert identity.sessions.for_function(arn, "other-fn") is not first
    clock.now += 1
    second = identity.sessions.for_function(arn, "fn")
    assert second is not first and second.expires - clock.now == FUNCTION_TTL_S
    assert identity.sessions.check(first.key_id, first.token).arn == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/fn"


def test_sessions_expire_and_die_with_their_role(identity: Identity, clock: Clock) -> None:
    arn = identity.roles.create_role("worker", TRUST)["Arn"]
    session = identity.sessions.for_role(arn, "s", 900)
    clock.now += 899
    identity.sessions.check(session.key_id, session.token)
    clock.now += 1
    with pytest.raises(SessionExpired):
        identity.sessions.check(session.key_id, session.token)
    fresh = identity.sessions.for_role(arn, "s", 900)
    identity.roles.delete_role("worker")
    with pytest.raises(BadToken):
        identity.sessions.check(fresh.key_id, fresh.token)
    assert identity.sessions.for_function(arn, "fn").role_id == ""      # no such role now: a session without id


def test_an_owner_session_dies_with_its_key(identity: Identity) -> None:
    session = identity.sessions.for_owner("AKIAOWNER", 900)
    assert identity.sessions.check(session.key_id, session.token).arn == f"arn:aws:iam::{ACCOUNT}:root"
    identity._store.keys.clear()  # type: ignore[attr-defined]
    with pytest.raises(BadToken):
        identity.sessions.check(session.key_id, session.token)


def test_the_server_key_is_made_once_0600_and_shared(tmp_path: Path, clock: Clock) -> None:
    one = Identity(Store(), tmp_path, ACCOUNT, clock)  # type: ignore[arg-type]
    two = Identity(Store(), tmp_path, ACCOUNT, clock)  # type: ignore[arg-type]
    session = one.sessions.for_owner("AKIAOWNER", 900)
    assert two.sessions.check(session.key_id, session.token) == session
    assert (tmp_path / "sts.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["sts.key"]


def test_assume_role_checks_the_trust_policy(identity: Identity) -> None:
    from cumulo.identity.errors import AccessDenied

    arn = identity.roles.create_role("worker", TRUST)["Arn"]
    root = identity.principal(identity.root_arn, None, None)
    assert identity.assume_role(root, None, arn, "me", None).arn.endswith("assumed-role/worker/me")
    other = identity.roles.create_role("other", TRUST)["Arn"]
    caller = identity.principal("", other, "fn")
    with pytest.raises(AccessDenied, match="because no role trust policy allows the sts:AssumeRole action"):
        identity.assume_role(caller, other, arn, "me", None)
    identity.roles.update_assume_role_policy("worker", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": other}, "Action": "sts:AssumeRole"}]}))
    assert identity.assume_role(caller, other, arn, "me", None).role_arn == arn


