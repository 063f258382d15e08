"""KMS's evaluation (``evaluate(..., key_policy=True)``): the key policy must allow; a statement
naming the account hands the decision to the identity policies; one naming the caller allows alone;
an explicit Deny anywhere wins."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cumulo.iam import Principal, Request, evaluate, parse_policy

ACCOUNT = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
CALLER = Principal.assumed_role(ACCOUNT, "app", "s")
ACTIONS = st.sampled_from(["kms:Decrypt", "kms:Encrypt", "kms:GetKeyPolicy"])


def _policy(kind: str, statements: list[dict]) -> object:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": statements}), kind)  # type: ignore[arg-type]


def _statement(effect: str, action: str, principal: str | None = None) -> dict:
    out = {"Effect": effect, "Action": action, "Resource": "*" if principal else KEY}
    if principal:
        out["Principal"] = {"AWS": principal}
    return out


# who the key policy names, if anyone: nobody, the account (root), the caller's role, another role
KEY_PRINCIPALS = st.sampled_from([None, f"arn:aws:iam::{ACCOUNT}:root", ROLE, f"arn:aws:iam::{ACCOUNT}:role/other"])


@given(ACTIONS, KEY_PRINCIPALS, st.booleans(), st.booleans(), st.booleans())
def test_the_key_policy_must_allow_and_the_account_statement_delegates_to_iam(
        action: str, named: str | None, identity_allows: bool, identity_denies: bool, key_denies: bool) -> None:
    identity = [_statement("Allow", action)] if identity_allows else []
    if identity_denies:
        identity.append(_statement("Deny", action))
    key = [_statement("Allow", "kms:*", named)] if named else []
    if key_denies:
        key.append(_statement("Deny", action, ROLE))
    key_policy = _policy("resource", key or [_statement("Allow", "kms:Describe*", ROLE)])
    identity_policies = [_policy("identity", identity)] if identity else []
    decision = evaluate(Request(CALLER, action, KEY), identity_policies, key_policy, key_policy=True)  # type: ignore[arg-type]
    expected = not identity_denies and not key_denies and (
        named == ROLE or (named == f"arn:aws:iam::{ACCOUNT}:root" and identity_allows))
    assert bool(decision) == expected
    # the same policies as an ordinary resource policy: an identity Allow alone would do
    ordinary = evaluate(Request(CALLER, action, KEY), identity_policies, key_policy)  # type: ignore[arg-type]
    if identity_allows and not identity_denies and not key_denies:
        assert ordinary
