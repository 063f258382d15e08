"""KMS grants as their users meet them: unchanged boto3 against a real ``cumulo up`` (IAM enforced).
A grant lets its grantee role use a key its own policies do not reach, for the grant's operations
only and within its encryption-context constraints (Subset, Equals; keys without case); an explicit
Deny in the key policy still wins; a grantee with CreateGrant gives no more than its grant; grants
are listed (by key, by retiring principal, paged), retired by their token (by the retiring
principal or a grantee allowed to) and revoked; bad input gets KMS's errors."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_kms_policies import ACCOUNT, _code, _role
from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

NOTHING = [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]     # no KMS permission at all


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("kms-grants") / "home", store=new_store())
    yield s
    s.close()


def test_a_grant_allows_its_operations_within_its_constraints(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]              # AWS's default policy
    grantee_arn, as_grantee = _role(server, "g-user", NOTHING)
    assert _code(lambda: as_grantee("kms").encrypt(KeyId=key, Plaintext=b"x")) == "AccessDeniedException"
    made = kms.create_grant(KeyId=key, GranteePrincipal=grantee_arn, Name="reports",
                            Operations=["Encrypt", "Decrypt", "DescribeKey", "RetireGrant"],
                            Constraints={"EncryptionContextSubset": {"dept": "reports"}})
    again = kms.create_grant(KeyId=key, GranteePrincipal=grantee_arn, Name="reports",
                             Operations=["Encrypt", "Decrypt", "DescribeKey", "RetireGrant"],
                             Constraints={"EncryptionContextSubset": {"dept": "reports"}})
    assert again["GrantId"] == made["GrantId"] and again["GrantToken"] != made["GrantToken"]   # a retry
    user = as_grantee("kms")
    blob = user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"dept": "reports", "year": "2026"},
                        GrantTokens=[made["GrantToken"]])["CiphertextBlob"]
    assert user.decrypt(CiphertextBlob=blob, EncryptionContext={"dept": "reports", "year": "2026"})["Plaintext"] == b"x"
    user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"DEPT": "reports"})     # keys without case
    for context in ({"dept": "Reports"}, {"other": "reports"}, {}):                    # values with case
        assert _code(lambda: user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext=context)) == \
            "AccessDeniedException"
    assert user.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key                  # no constraint applies
    assert _code(lambda: user.generate_data_key(KeyId=key, KeySpec="AES_256",
                                                EncryptionContext={"dept": "reports"})) == "AccessDeniedException"
    assert _code(lambda: user.list_grants(KeyId=key)) == "AccessDeniedException"        # not a grant operation
    # its own grant retired with its token: the grant is gone at once
    user.retire_grant(GrantToken=made["GrantToken"])
    assert _code(lambda: user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"dept": "reports"})) == \
        "AccessDeniedException"
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_equals_constraints_and_an_explicit_deny(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee_arn, as_grantee = _role(server, "g-equals", NOTHING)
    kms.create_grant(KeyId=key, GranteePrincipal=grantee_arn, Operations=["Encrypt"],
                     Constraints={"EncryptionContextEquals": {"app": "a"}})
    user = as_grantee("kms")
    user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "a"})
    assert _code(lambda: user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "a", "b": "c"})) == \
        "AccessDeniedException"
    # an explicit Deny in the key policy wins over the grant
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].append({"Effect": "Deny", "Principal": {"AWS": grantee_arn}, "Action": "kms:Encrypt",
                                "Resource": "*"})
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    assert _code(lambda: user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "a"})) == \
        "AccessDeniedException"


def test_grants_are_listed_paged_retired_and_revoked(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key}"
    a_arn, as_a = _role(server, "g-list-a", NOTHING)
    b_arn, as_b = _role(server, "g-list-b", NOTHING)
    retirer_arn, as_retirer = _role(server, "g-retirer", [
        {"Effect": "Allow", "Action": "kms:ListRetirableGrants", "Resource": "*"}])
    first = kms.create_grant(KeyId=key, GranteePrincipal=a_arn, Operations=["Decrypt"], RetiringPrincipal=retirer_arn)
    second = kms.create_grant(KeyId=key, GranteePrincipal=b_arn, Operations=["Encrypt", "GenerateDataKey"])
    listed = kms.list_grants(KeyId=key)
    assert listed["Truncated"] is False and [g["GrantId"] for g in listed["Grants"]] == \
        [first["GrantId"], second["GrantId"]]
    entry = listed["Grants"][0]
    assert entry["KeyId"] == key_arn and entry["GranteePrincipal"] == a_arn and entry["RetiringPrincipal"] == \
        retirer_arn and entry["Operations"] == ["Decrypt"] and entry["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root"
    page = kms.list_grants(KeyId=key, Limit=1)
    assert page["Truncated"] is True and len(page["Grants"]) == 1
    rest = kms.list_grants(KeyId=key, Limit=1, Marker=page["NextMarker"])
    assert [g["GrantId"] for g in rest["Grants"]] == [second["GrantId"]]
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key, GranteePrincipal=b_arn)["Grants"]] == [second["GrantId"]]
    retirable = as_retirer("kms").list_retirable_grants(RetiringPrincipal=retirer_arn)["Grants"]
    assert [g["GrantId"] for g in retirable] == [first["GrantId"]]
    # who may retire: not the grantee without RetireGrant, nor a stranger; the retiring principal may
    assert _code(lambda: as_a("kms").retire_grant(GrantToken=first["GrantToken"])) == "AccessDeniedException"
    assert _code(lambda: as_b("kms").retire_grant(KeyId=key, GrantId=first["GrantId"])) == "AccessDeniedException"
    as_retirer("kms").retire_grant(KeyId=key_arn, GrantId=first["GrantId"])
    # revoked by who may kms:RevokeGrant (the owner): gone at once
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    as_b("kms").encrypt(KeyId=key, Plaintext=b"x")
    kms.revoke_grant(KeyId=key, GrantId=second["GrantId"])
    assert _code(lambda: as_b("kms").encrypt(KeyId=key, Plaintext=b"x")) == "AccessDeniedException"
    assert _code(lambda: as_a("kms").decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    assert kms.list_grants(KeyId=key)["Grants"] == []
    assert _code(lambda: kms.revoke_grant(KeyId=key, GrantId=second["GrantId"])) == "NotFoundException"
    assert _code(lambda: as_b("kms").revoke_grant(KeyId=key, GrantId="0" * 64)) == "AccessDeniedException"


def test_a_grantee_with_create_grant_gives_no_more_than_its_grant(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    delegate_arn, as_delegate = _role(server, "g-delegate", NOTHING)
    end_arn, as_end = _role(server, "g-end", NOTHING)
    kms.create_grant(KeyId=key, GranteePrincipal=delegate_arn, Operations=["CreateGrant", "Decrypt", "Encrypt"],
                     Constraints={"EncryptionContextSubset": {"a": "1"}})
    delegate = as_delegate("kms")
    delegate.create_grant(KeyId=key, GranteePrincipal=end_arn, Operations=["Encrypt"],
                          Constraints={"EncryptionContextSubset": {"a": "1", "b": "2"}})     # stricter: allowed
    as_end("kms").encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"a": "1", "b": "2"})
    for operations, constraints in ((["GenerateDataKey"], {"EncryptionContextSubset": {"a": "1"}}),
                                    (["Encrypt"], {}),
                                    (["Encrypt"], {"EncryptionContextSubset": {"a": "2"}})):
        with pytest.raises(ClientError) as caught:
            delegate.create_grant(KeyId=key, GranteePrincipal=end_arn, Operations=operations,
                                  **({"Constraints": constraints} if constraints else {}))
        assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_bad_grant_requests_get_kms_errors(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{ACCOUNT}:role/anyone"
    assert _code(lambda: kms.create_grant(KeyId=key, GranteePrincipal=grantee, Operations=[])) == "ValidationException"
    assert _code(lambda: kms.create_grant(KeyId=key, GranteePrincipal="not a principal!",
                                          Operations=["Decrypt"])) == "ValidationException"
    nine = {f"k{i}": "v" for i in range(9)}
    assert _code(lambda: kms.create_grant(KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"],
                                          Constraints={"EncryptionContextSubset": nine})) == "ValidationException"
    assert _code(lambda: kms.create_grant(KeyId="alias/none", GranteePrincipal=grantee,
                                          Operations=["Decrypt"])) == "NotFoundException"
    assert _code(lambda: kms.retire_grant(GrantToken="not-a-token")) == "InvalidGrantTokenException"
    assert _code(lambda: kms.retire_grant(KeyId=key, GrantId="f" * 64)) == "NotFoundException"
    assert _code(lambda: kms.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=["t"] * 11)) == "ValidationException"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert _code(lambda: kms.create_grant(KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"])) == \
        "KMSInvalidStateException"
