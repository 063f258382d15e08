"""KMS's subset as its users meet it: unchanged boto3 and ``aws kms`` against a real ``cumulo up``
(IAM enforced): keys and aliases, Encrypt/Decrypt with an encryption context, envelope encryption
with data keys, ReEncrypt, key states and AWS's errors; a function decrypting with its role's
permission and refused another key; no key material in the store's files."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.integration.test_server import CumuloServer, holding

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

AWS = Path(sys.executable).parent / "aws"
ACCOUNT = "000000000000"
DECRYPTER = '''
import base64, boto3
kms = boto3.client("kms")
def handler(event, context):
    try:
        out = kms.decrypt(CiphertextBlob=base64.b64decode(event["blob"]), EncryptionContext={"app": "x"})
        return {"plain": out["Plaintext"].decode()}
    except Exception as exc:
        return {"error": exc.response["Error"]["Code"]}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("kms") / "home", store=new_store())
    yield s
    s.close()


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_keys_aliases_and_encryption(server: CumuloServer) -> None:
    kms = server.aws("kms")
    meta = kms.create_key(Description="app data")["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    assert arn == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    assert (meta["KeyState"], meta["KeySpec"], meta["KeyUsage"], meta["Enabled"]) == (
        "Enabled", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", True)
    kms.create_alias(AliasName="alias/app", TargetKeyId=key_id)
    with pytest.raises(ClientError) as caught:
        kms.create_alias(AliasName="alias/app", TargetKeyId=key_id)
    assert code(caught) == "AlreadyExistsException"
    assert [a["TargetKeyId"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == [key_id]
    assert kms.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == key_id
    assert {"KeyId": key_id, "KeyArn": arn} in kms.list_keys()["Keys"]

    for ref in (key_id, arn, "alias/app", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app"):
        blob = kms.encrypt(KeyId=ref, Plaintext=b"hello", EncryptionContext={"app": "x"})["CiphertextBlob"]
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "x"})
        assert (out["Plaintext"], out["KeyId"]) == (b"hello", arn)
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "y"})
    assert code(caught) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1]), EncryptionContext={"app": "x"})
    assert code(caught) == "InvalidCiphertextException"

    # envelope encryption: a data key encrypts locally, its encrypted copy is kept beside the data
    data_key = kms.generate_data_key(KeyId="alias/app", KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    sealed = AESGCM(data_key["Plaintext"]).encrypt(b"0" * 12, b"payload", None)
    again = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"]
    assert AESGCM(again).decrypt(b"0" * 12, sealed, None) == b"payload"
    bare = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=64)
    assert "Plaintext" not in bare and len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 64

    other = kms.create_key()["KeyMetadata"]["Arn"]
    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"app": "x"}, DestinationKeyId=other)
    assert (moved["SourceKeyId"], moved["KeyId"]) == (arn, other)
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == b"hello"
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], KeyId=key_id)
    assert code(caught) == "IncorrectKeyException"

    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as caught:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert code(caught) == "DisabledException"
    kms.enable_key(KeyId=key_id)
    deletion = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert deletion["KeyState"] == "PendingDeletion"
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "x"})
    assert code(caught) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as caught:
        kms.describe_key(KeyId="alias/none")
    assert code(caught) == "NotFoundException"
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=b"not ours at all, not at all, not at all, not at all")
    assert code(caught) == "InvalidCiphertextException"


def test_the_aws_cli(server: CumuloServer, tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret}

    def aws(*args: str) -> Any:
        run = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "--region", "us-east-1",
                              "--output", "json", "kms", *args], capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout) if run.stdout.strip() else None
    key = aws("create-key")["KeyMetadata"]["KeyId"]
    (tmp_path / "plain.txt").write_bytes(b"from the cli")
    blob = aws("encrypt", "--key-id", key, "--plaintext", f"fileb://{tmp_path / 'plain.txt'}")["CiphertextBlob"]
    (tmp_path / "blob").write_bytes(base64.b64decode(blob))
    out = aws("decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob'}")
    assert base64.b64decode(out["Plaintext"]) == b"from the cli"


def test_a_function_decrypts_with_its_roles_permission(server: CumuloServer) -> None:
    kms, iam = server.aws("kms"), server.aws("iam")
    allowed = kms.create_key()["KeyMetadata"]["Arn"]
    denied = kms.create_key()["KeyMetadata"]["Arn"]
    iam.create_role(RoleName="decrypter", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="decrypter", PolicyName="d", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": allowed}]}))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", textwrap.dedent(DECRYPTER))
    server.client().create_function(FunctionName="decrypter", Runtime="python3.11", Handler="app.handler",
                                    Role=f"arn:aws:iam::{ACCOUNT}:role/decrypter", Timeout=30,
                                    Code={"ZipFile": buffer.getvalue()})

    def invoke(key: str) -> Any:
        blob = kms.encrypt(KeyId=key, Plaintext=b"for the function", EncryptionContext={"app": "x"})["CiphertextBlob"]
        out = server.client().invoke(FunctionName="decrypter",
                                     Payload=json.dumps({"blob": base64.b64encode(blob).decode()}))
        return json.loads(out["Payload"].read())
    assert invoke(allowed) == {"plain": "for the function"}
    assert invoke(denied) == {"error": "AccessDeniedException"}


def test_no_key_material_or_plaintext_in_the_store_files(server: CumuloServer) -> None:
    kms = server.aws("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    data = kms.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
    kept = server.kept_at_rest()        # the home's files; on PostgreSQL the database's tables too
    assert holding(kept, key.encode())  # the key's id is there to be seen: the search sees the store
    for needle in (data, base64.b64encode(data)):
        assert holding(kept, needle) == []


def test_a_functions_kms_key_arn_is_kept(server: CumuloServer) -> None:
    kms, lam = server.aws("kms"), server.client()
    key = kms.create_key()["KeyMetadata"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", "import os\ndef handler(e, c):\n    return os.environ['VALUE']\n")
    made = lam.create_function(FunctionName="with-key", Runtime="python3.11", Handler="app.handler",
                               Role=f"arn:aws:iam::{ACCOUNT}:role/any", Code={"ZipFile": buffer.getvalue()},
                               Environment={"Variables": {"VALUE": "value"}}, KMSKeyArn=key)
    assert made["KMSKeyArn"] == key
    assert lam.get_function_configuration(FunctionName="with-key")["KMSKeyArn"] == key
    assert json.loads(lam.invoke(FunctionName="with-key")["Payload"].read()) == "value"
    # the key honoured: disabled, or pending deletion, the function's environment cannot be opened
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="with-key")
    assert code(caught) == "KMSDisabledException" and caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    kms.enable_key(KeyId=key)
    assert json.loads(lam.invoke(FunctionName="with-key")["Payload"].read()) == "value"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="with-key")
    assert code(caught) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key)
    kms.enable_key(KeyId=key)
    assert json.loads(lam.invoke(FunctionName="with-key")["Payload"].read()) == "value"
    lam.update_function_configuration(FunctionName="with-key", KMSKeyArn="")
    assert "KMSKeyArn" not in lam.get_function_configuration(FunctionName="with-key")
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName="with-key", KMSKeyArn="arn:aws:sqs:us-east-1:1:q")
    assert code(caught) == "InvalidParameterValueException"
