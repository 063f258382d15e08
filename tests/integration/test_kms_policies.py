"""KMS key policies as their users meet them: unchanged boto3 against a real ``cumulo up`` (IAM
enforced). A key made without a policy gets AWS's default (the account's root may do everything,
which hands the key to IAM policies); a policy without that statement makes the key's use the key
policy's alone, whatever the role's policies say; a statement naming the role allows it alone.
Reading a SecureString under a customer key ``WithDecryption``, and a secret kept under one, needs
``kms:Decrypt`` on that key, as on AWS; AWS-managed keys need nothing."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

ACCOUNT = "000000000000"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
    "AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("kms-policies") / "home", store=new_store())
    yield s
    s.close()


def _role(server: CumuloServer, name: str, statements: list[dict[str, Any]]) -> tuple[str, Any]:
    """A role with these statements, and a function making its session's clients."""
    iam = server.aws("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    creds = server.aws("sts").assume_role(RoleArn=arn, RoleSessionName="session")["Credentials"]

    def client(service: str) -> Any:
        return boto3.session.Session().client(
            service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
            config=Config(retries={"max_attempts": 0}))
    return arn, client


def _code(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_a_new_key_has_aws_default_policy_which_hands_it_to_iam(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert policy["Statement"] == [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                                    "Resource": "*"}]
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key}"
    _, as_user = _role(server, "key-user", [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
                                              "Resource": key_arn}])
    _, as_other = _role(server, "key-stranger", [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                                                   "Resource": "*"}])
    blob = as_user("kms").encrypt(KeyId=key, Plaintext=b"hello")["CiphertextBlob"]
    assert as_user("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"
    assert _code(lambda: as_other("kms").decrypt(CiphertextBlob=blob)) == "AccessDeniedException"


def test_a_key_policy_without_the_account_decides_alone(server: CumuloServer) -> None:
    kms = server.aws("kms")
    owner_arn, as_owner = _role(server, "key-owner", [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])
    reader_arn, as_reader = _role(server, "key-reader", [    # no identity policy for KMS at all
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}])
    admin_arn, as_admin = _role(server, "key-admin", [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "owner", "Effect": "Allow", "Principal": {"AWS": owner_arn}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "reader", "Effect": "Allow", "Principal": {"AWS": reader_arn}, "Action": "kms:Decrypt",
         "Resource": "*"}]}
    # the policy leaves the account's root out: the lockout safety check refuses it unless bypassed
    assert _code(lambda: kms.create_key(Policy=json.dumps(policy))) == "MalformedPolicyDocumentException"
    key = kms.create_key(Policy=json.dumps(policy), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]
    assert json.loads(kms.get_key_policy(KeyId=key)["Policy"]) == policy
    blob = as_owner("kms").encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    # the key policy names the reader: allowed with no identity policy
    assert as_reader("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    assert _code(lambda: as_reader("kms").encrypt(KeyId=key, Plaintext=b"y")) == "AccessDeniedException"
    # kms:* on * in its own policies is not enough without the key policy's account statement
    assert _code(lambda: as_admin("kms").decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    assert _code(lambda: as_admin("kms").get_key_policy(KeyId=key, PolicyName="default")) == "AccessDeniedException"
    # the owner hands the key to IAM: the admin's own policies now decide
    policy["Statement"].append({"Sid": "iam", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                "Action": "kms:*", "Resource": "*"})
    as_owner("kms").put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    assert as_admin("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    # an explicit Deny in the key policy wins over everything
    policy["Statement"].append({"Sid": "no", "Effect": "Deny", "Principal": {"AWS": admin_arn},
                                "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"})
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    assert _code(lambda: as_admin("kms").decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    assert as_owner("kms").encrypt(KeyId=key, Plaintext=b"y")["KeyId"].endswith(key)
    # the key's alias reaches the same policy
    kms.create_alias(AliasName="alias/guarded", TargetKeyId=key)
    assert _code(lambda: as_admin("kms").encrypt(KeyId="alias/guarded", Plaintext=b"y")) == "AccessDeniedException"


def test_bad_key_policies_are_refused(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert _code(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy="{not json")) == \
        "MalformedPolicyDocumentException"
    assert _code(lambda: kms.create_key(Policy=json.dumps({"Statement": [{"Effect": "Maybe"}]}))) == \
        "MalformedPolicyDocumentException"
    assert _code(lambda: kms.get_key_policy(KeyId=key, PolicyName="other")) == "NotFoundException"
    assert _code(lambda: kms.get_key_policy(KeyId="0" * 8 + "-0000-0000-0000-" + "0" * 12)) == "NotFoundException"


def test_securestrings_and_secrets_under_a_customer_key_need_kms_decrypt(server: CumuloServer) -> None:
    kms, ssm, sm = server.aws("kms"), server.aws("ssm"), server.aws("secretsmanager")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    ssm.put_parameter(Name="/kp/customer", Value="c-secret", Type="SecureString", KeyId=key_arn)
    ssm.put_parameter(Name="/kp/managed", Value="m-secret", Type="SecureString")          # alias/aws/ssm
    sm.create_secret(Name="kp/customer", SecretString="sc", KmsKeyId=key_arn)
    sm.create_secret(Name="kp/managed", SecretString="sm")
    reads = [{"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
              "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/kp/*"},
             {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
              "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:kp/*"}]
    _, without = _role(server, "kp-without", reads)
    _, with_key = _role(server, "kp-with", reads + [{
        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": ["ssm.us-east-1.amazonaws.com",
                                                          "secretsmanager.us-east-1.amazonaws.com"]}}}])
    # AWS-managed keys: the service's permission is enough
    assert without("ssm").get_parameter(Name="/kp/managed", WithDecryption=True)["Parameter"]["Value"] == "m-secret"
    assert without("secretsmanager").get_secret_value(SecretId="kp/managed")["SecretString"] == "sm"
    # a customer key: kms:Decrypt through the service, or the value is refused
    assert _code(lambda: without("ssm").get_parameter(Name="/kp/customer", WithDecryption=True)) == \
        "AccessDeniedException"
    assert _code(lambda: without("ssm").get_parameters_by_path(Path="/kp", WithDecryption=True)) == \
        "AccessDeniedException"
    assert _code(lambda: without("secretsmanager").get_secret_value(SecretId="kp/customer")) == "AccessDeniedException"
    # without decryption nothing is asked of KMS
    assert without("ssm").get_parameter(Name="/kp/customer")["Parameter"]["Value"] != "c-secret"
    assert with_key("ssm").get_parameter(Name="/kp/customer", WithDecryption=True)["Parameter"]["Value"] == "c-secret"
    assert with_key("secretsmanager").get_secret_value(SecretId="kp/customer")["SecretString"] == "sc"
    # the same kms:Decrypt asked directly of KMS is not through a service: its ViaService condition fails
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"direct")["CiphertextBlob"]
    assert _code(lambda: with_key("kms").decrypt(CiphertextBlob=blob)) == "AccessDeniedException"


def test_the_lockout_safety_check_refuses_a_policy_that_shuts_its_caller_out(server: CumuloServer) -> None:
    """CreateKey and PutKeyPolicy refuse a policy that would not let the caller PutKeyPolicy again
    (decided with the caller's own policies, as KMS decides), unless BypassPolicyLockoutSafetyCheck."""
    kms = server.aws("kms")
    admin_arn, as_admin = _role(server, "lockout-admin", [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])
    other_arn, _ = _role(server, "lockout-other", [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])
    key = as_admin("kms").create_key()["KeyMetadata"]["KeyId"]      # AWS's default policy: IAM decides
    only_other = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": other_arn}, "Action": "kms:*", "Resource": "*"}]}
    with pytest.raises(ClientError) as caught:
        as_admin("kms").put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(only_other))
    assert caught.value.response["Error"] == {
        "Code": "MalformedPolicyDocumentException",
        "Message": "The new key policy will not allow you to update the key policy in the future."}
    # the policy is unchanged, and the admin keeps it
    assert "Enable IAM User Permissions" in as_admin("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    # naming the caller, or keeping the account's statement (its kms:* decides), passes
    mine = {"Version": "2012-10-17", "Statement": only_other["Statement"] + [
        {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:PutKeyPolicy", "Resource": "*"}]}
    as_admin("kms").put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(mine))
    # a Deny of PutKeyPolicy to the caller is a lockout too
    denied = {"Version": "2012-10-17", "Statement": mine["Statement"] + [
        {"Effect": "Deny", "Principal": {"AWS": admin_arn}, "Action": "kms:PutKeyPolicy", "Resource": "*"}]}
    assert _code(lambda: as_admin("kms").put_key_policy(KeyId=key, PolicyName="default",
                                                        Policy=json.dumps(denied))) == \
        "MalformedPolicyDocumentException"
    # bypassed: the caller locks itself out, as asked
    as_admin("kms").put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(only_other),
                                   BypassPolicyLockoutSafetyCheck=True)
    assert _code(lambda: as_admin("kms").get_key_policy(KeyId=key, PolicyName="default")) == "AccessDeniedException"
    # the owner (the account's root) is held to it as well: a policy that leaves the root out
    assert _code(lambda: kms.create_key(Policy=json.dumps(only_other))) == "MalformedPolicyDocumentException"
    assert _code(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(only_other))) == \
        "MalformedPolicyDocumentException"
