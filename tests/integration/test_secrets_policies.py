"""Secrets Manager's resource policies as their users meet them: unchanged boto3 against a real
``cumulo up`` (IAM enforced). A secret's policy lets a role read it that its own policies do not;
a Deny in it wins over the role's Allow; BlockPublicPolicy refuses a policy open to everyone;
malformed policies get AWS's error; ValidateResourcePolicy says why; deleting the policy takes the
access back."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import pytest

from tests.integration.test_kms_policies import ACCOUNT, _code, _role
from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("secret-policies") / "home", store=new_store())
    yield s
    s.close()


def _policy(effect: str, principal: Any, action: str = "secretsmanager:GetSecretValue") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Principal": principal, "Action": action, "Resource": "*"}]})


def test_a_secrets_policy_lets_a_role_in_and_a_deny_in_it_wins(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    arn = sm.create_secret(Name="sp/shared", SecretString="shared-value")["ARN"]
    reader_arn, as_reader = _role(server, "sp-reader", [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}])
    assert _code(lambda: as_reader("secretsmanager").get_secret_value(SecretId="sp/shared")) == "AccessDeniedException"
    answer = sm.put_resource_policy(SecretId="sp/shared", ResourcePolicy=_policy("Allow", {"AWS": reader_arn}),
                                    BlockPublicPolicy=True)
    assert (answer["ARN"], answer["Name"]) == (arn, "sp/shared")
    assert as_reader("secretsmanager").get_secret_value(SecretId=arn)["SecretString"] == "shared-value"
    assert json.loads(sm.get_resource_policy(SecretId="sp/shared")["ResourcePolicy"])["Statement"][0]["Principal"] == \
        {"AWS": reader_arn}
    assert _code(lambda: as_reader("secretsmanager").describe_secret(SecretId="sp/shared")) == "AccessDeniedException"
    sm.delete_resource_policy(SecretId="sp/shared")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="sp/shared")
    assert _code(lambda: as_reader("secretsmanager").get_secret_value(SecretId="sp/shared")) == "AccessDeniedException"
    # a role its own policies allow, denied by the secret's policy
    _, as_admin = _role(server, "sp-admin", [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}])
    assert as_admin("secretsmanager").get_secret_value(SecretId="sp/shared")["SecretString"] == "shared-value"
    sm.put_resource_policy(SecretId="sp/shared", ResourcePolicy=_policy(
        "Deny", {"AWS": f"arn:aws:iam::{ACCOUNT}:role/sp-admin"}))
    assert _code(lambda: as_admin("secretsmanager").get_secret_value(SecretId="sp/shared")) == "AccessDeniedException"


def test_public_and_malformed_policies(server: CumuloServer) -> None:
    sm = server.aws("secretsmanager")
    sm.create_secret(Name="sp/public", SecretString="v")
    public = _policy("Allow", "*")
    assert _code(lambda: sm.put_resource_policy(SecretId="sp/public", ResourcePolicy=public,
                                                BlockPublicPolicy=True)) == "PublicPolicyException"
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="sp/public")
    sm.put_resource_policy(SecretId="sp/public", ResourcePolicy=public)          # not blocked: kept
    assert _code(lambda: sm.put_resource_policy(SecretId="sp/public", ResourcePolicy="{nope")) == \
        "MalformedPolicyDocumentException"
    assert _code(lambda: sm.put_resource_policy(SecretId="sp/public", ResourcePolicy="x" * 20_481)) == \
        "InvalidParameterException"
    assert _code(lambda: sm.put_resource_policy(SecretId="sp/none", ResourcePolicy=public)) == \
        "ResourceNotFoundException"
    checked = sm.validate_resource_policy(ResourcePolicy=public)
    assert checked["PolicyValidationPassed"] is False and checked["ValidationErrors"][0]["CheckName"] == \
        "BROAD_ACCESS_CHECK"
    checked = sm.validate_resource_policy(SecretId="sp/public", ResourcePolicy="{nope")
    assert checked["PolicyValidationPassed"] is False and checked["ValidationErrors"][0]["CheckName"] == \
        "SYNTAX_CHECK"
    fine = _policy("Allow", {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone"})
    checked = sm.validate_resource_policy(ResourcePolicy=fine)
    assert checked["PolicyValidationPassed"] is True and checked["ValidationErrors"] == []
