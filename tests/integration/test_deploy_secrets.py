"""Templates with secrets and parameters, deployed by ``cumulo deploy`` beside a running ``cumulo up``:
``AWS::SecretsManager::Secret`` (GenerateSecretString), ``AWS::SSM::Parameter``, an
``AWS::SSM::Parameter::Value<String>`` parameter and dynamic references (``ssm``, ``ssm-secure``,
``secretsmanager`` with a JSON key) resolved at deploy; the function reads them, and the generated
secret through boto3, unchanged. A second deploy keeps the generated value; a dropped resource is
deleted; a reference that cannot resolve refuses the deploy before anything is made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer

APP = '''
import json, os, boto3
def handler(event, context):
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])["SecretString"])
    endpoint = boto3.client("ssm").get_parameter(Name=os.environ["PARAM"])["Parameter"]["Value"]
    return {"env": {k: os.environ[k] for k in ("FLAG", "API_KEY", "DB_USER", "DB_PASSWORD", "PARAM")},
            "generated": secret, "endpoint": endpoint}
'''

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Flag:
    Type: AWS::SSM::Parameter::Value<String>
    Default: /cfg/flag
Resources:
  DbSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: tpl/db
      Description: made by the template
      GenerateSecretString:
        SecretStringTemplate: '{"user": "app"}'
        GenerateStringKey: password
        PasswordLength: 24
        ExcludePunctuation: true
  Endpoint:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /tpl/endpoint
      Type: String
      Value: !Sub "db.${AWS::Region}.internal"
%(extra)s
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: tpl-reader
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 30
      Environment:
        Variables:
          FLAG: !Ref Flag
          API_KEY: '{{resolve:ssm-secure:/cfg/api-key}}'
          DB_USER: '{{resolve:secretsmanager:pre/db:SecretString:user}}'
          DB_PASSWORD: 'pw={{resolve:secretsmanager:pre/db:SecretString:password:AWSCURRENT}}'
          SECRET_ARN: !Ref DbSecret
          PARAM: !Ref Endpoint
Outputs:
  SecretArn: {Value: !Ref DbSecret}
"""

EXTRA = """  Extra:
    Type: AWS::SSM::Parameter
    Properties: {Name: /tpl/extra, Type: StringList, Value: "a,b"}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("deploy-secrets") / "home", "--iam", "off")
    ssm, sm = s.aws("ssm"), s.aws("secretsmanager")
    ssm.put_parameter(Name="/cfg/flag", Value="green", Type="String")
    ssm.put_parameter(Name="/cfg/api-key", Value="k-123", Type="SecureString")
    sm.create_secret(Name="pre/db", SecretString=json.dumps({"user": "admin", "password": "pw-1"}))
    yield s
    s.close()


def deploy(server: CumuloServer, folder: Path, template: str) -> subprocess.CompletedProcess[str]:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "app.py").write_text(APP)
    (folder / "template.yaml").write_text(template)
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "deploy",
                           str(folder / "template.yaml"), "--stack-name", "tpl", "--no-build"],
                          capture_output=True, text=True, timeout=120)


def invoke(server: CumuloServer) -> Any:
    out = server.client().invoke(FunctionName="tpl-reader", Payload=b"{}")
    return json.loads(out["Payload"].read())


def test_a_template_makes_and_reads_secrets_and_parameters(server: CumuloServer, tmp_path: Path) -> None:
    run = deploy(server, tmp_path, TEMPLATE % {"extra": EXTRA})
    assert run.returncode == 0, run.stdout + run.stderr
    for text in ("k-123", "pw-1"):              # resolved secrets are never printed
        assert text not in run.stdout + run.stderr
    got = invoke(server)
    assert got["env"] == {"FLAG": "green", "API_KEY": "k-123", "DB_USER": "admin", "DB_PASSWORD": "pw=pw-1",
                          "PARAM": "/tpl/endpoint"}
    assert got["endpoint"] == "db.us-east-1.internal"
    generated = got["generated"]
    assert generated["user"] == "app" and len(generated["password"]) == 24 and generated["password"].isalnum()
    sm, ssm = server.aws("secretsmanager"), server.aws("ssm")
    assert sm.describe_secret(SecretId="tpl/db")["Description"] == "made by the template"
    assert ssm.get_parameter(Name="/tpl/extra")["Parameter"]["Type"] == "StringList"

    # again, /tpl/extra dropped: the generated value is kept, the dropped parameter deleted
    run = deploy(server, tmp_path, TEMPLATE % {"extra": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    assert invoke(server)["generated"] == generated
    with pytest.raises(ClientError) as caught:
        ssm.get_parameter(Name="/tpl/extra")
    assert caught.value.response["Error"]["Code"] == "ParameterNotFound"

    # a parameter changed at its source is read anew by the next deploy
    ssm.put_parameter(Name="/cfg/flag", Value="blue", Overwrite=True)
    assert deploy(server, tmp_path, TEMPLATE % {"extra": ""}).returncode == 0
    assert invoke(server)["env"]["FLAG"] == "blue"


@pytest.mark.parametrize("reference, why", [
    ("{{resolve:ssm:/cfg/api-key}}", "a SecureString is read with"),
    ("{{resolve:ssm-secure:/cfg/flag}}", "ssm-secure reads SecureString parameters"),
    ("{{resolve:secretsmanager:pre/db:SecretString:nope}}", "has no key 'nope'"),
    ("{{resolve:secretsmanager:missing/secret}}", "ResourceNotFoundException"),
    ("{{resolve:ssm:/cfg/missing}}", "ParameterNotFound"),
])
def test_a_reference_that_cannot_resolve_refuses_the_deploy(server: CumuloServer, tmp_path: Path,
                                                           reference: str, why: str) -> None:
    template = f"""
Transform: AWS::Serverless-2016-10-31
Resources:
  Bad:
    Type: AWS::SSM::Parameter
    Properties: {{Name: /bad/one, Type: String, Value: '{reference}'}}
"""
    run = deploy(server, tmp_path, template)
    assert run.returncode != 0 and why in run.stderr, run.stdout + run.stderr
    assert "k-123" not in run.stderr
    with pytest.raises(ClientError):
        server.aws("ssm").get_parameter(Name="/bad/one")


POLICY_TEMPLATE = """
Resources:
  Shared:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: tpl/shared
      SecretString: shared
%(policy)s
"""
POLICY = """  SharedPolicy:
    Type: AWS::SecretsManager::ResourcePolicy
    Properties:
      SecretId: !Ref Shared
      BlockPublicPolicy: %(block)s
      ResourcePolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: %(principal)s
            Action: secretsmanager:GetSecretValue
            Resource: "*"
"""


def test_a_template_sets_and_drops_a_secrets_resource_policy(server: CumuloServer, tmp_path: Path) -> None:
    sm = server.aws("secretsmanager")
    role = "{AWS: arn:aws:iam::000000000000:role/tpl-reader}"
    run = deploy(server, tmp_path, POLICY_TEMPLATE % {"policy": POLICY % {"block": "true", "principal": role}})
    assert run.returncode == 0, run.stdout + run.stderr
    kept = json.loads(sm.get_resource_policy(SecretId="tpl/shared")["ResourcePolicy"])
    assert kept["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::000000000000:role/tpl-reader"}
    # a public policy with BlockPublicPolicy: the deploy is refused and the kept policy stays
    run = deploy(server, tmp_path, POLICY_TEMPLATE % {"policy": POLICY % {"block": "true", "principal": "'*'"}})
    assert run.returncode != 0 and "public policy" in run.stdout + run.stderr
    assert json.loads(sm.get_resource_policy(SecretId="tpl/shared")["ResourcePolicy"]) == kept
    run = deploy(server, tmp_path, POLICY_TEMPLATE % {"policy": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="tpl/shared")


KEYED = """
Transform: AWS::Serverless-2016-10-31
Resources:
  DataKey:
    Type: AWS::KMS::Key
    Properties:
      Description: %(description)s
      PendingWindowInDays: 7
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}, Action: "kms:*",
             Resource: "*"}
  DataKeyAlias:
    Type: AWS::KMS::Alias
    Properties: {AliasName: alias/tpl-data, TargetKeyId: !Ref DataKey}
  Sealed:
    Type: AWS::SecretsManager::Secret
    Properties: {Name: tpl/sealed, KmsKeyId: !GetAtt DataKey.Arn, SecretString: '{"token": "t-9"}'}
%(extra)s
Outputs:
  KeyArn: {Value: !GetAtt DataKey.Arn}
  KeyId: {Value: !Ref DataKey}
"""

SECOND_KEY = """  Other:
    Type: AWS::KMS::Key
    Properties: {Description: another}
"""


def test_a_template_makes_kms_keys_and_aliases_that_seal_its_secrets(server: CumuloServer, tmp_path: Path) -> None:
    kms, sm = server.aws("kms"), server.aws("secretsmanager")
    run = deploy(server, tmp_path, KEYED % {"description": "the app's data key", "extra": SECOND_KEY})
    assert run.returncode == 0, run.stdout + run.stderr
    alias = next(a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/tpl-data")
    key = kms.describe_key(KeyId="alias/tpl-data")["KeyMetadata"]
    assert (key["KeyId"], key["Description"], key["KeyState"]) == (alias["TargetKeyId"], "the app's data key",
                                                                  "Enabled")
    assert sm.describe_secret(SecretId="tpl/sealed")["KmsKeyId"] == key["Arn"]
    assert json.loads(sm.get_secret_value(SecretId="tpl/sealed")["SecretString"]) == {"token": "t-9"}
    sealed = kms.encrypt(KeyId="alias/tpl-data", Plaintext=b"hello")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"hello"
    other = next(k["KeyId"] for k in kms.list_keys()["Keys"]
                 if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Description"] == "another")
    # again, changed and without the second key: the same key updated, the dropped one pending deletion (7 days)
    run = deploy(server, tmp_path, KEYED % {"description": "renamed", "extra": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    again = kms.describe_key(KeyId="alias/tpl-data")["KeyMetadata"]
    assert (again["KeyId"], again["Description"]) == (key["KeyId"], "renamed")
    dropped = kms.describe_key(KeyId=other)["KeyMetadata"]
    assert dropped["KeyState"] == "PendingDeletion"
    # brought back while pending deletion: restored, enabled
    run = deploy(server, tmp_path, KEYED % {"description": "renamed", "extra": SECOND_KEY})
    assert run.returncode == 0, run.stdout + run.stderr
    assert kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "Enabled"
