"""Identity as its users meet it: STS and IAM through boto3 and the AWS CLI against a real ``cumulo up``.

Who is calling (GetCallerIdentity), roles with trust policies and their sessions (AssumeRole), the
IAM API subset (roles, inline and attached policies, managed policies and versions), temporary
credentials accepted, expired, forged and revoked as AWS does it, on every wire protocol.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from cumulo.iam import tokens
from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
OWNER = {"AWS": ROOT}
AWS = Path(sys.executable).parent / "aws"


def trust(principal: Any, action: str = "sts:AssumeRole", effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": effect, "Principal": principal, "Action": action}]})


SQS_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("identity") / "home", store=new_store())
    yield s
    s.close()


def client(server: CumuloServer, service: str, creds: dict[str, str] | None = None, validate: bool = True) -> BaseClient:
    keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]} if creds else \
        {"aws_access_key_id": server.key_id, "aws_secret_access_key": server.secret}
    return boto3.session.Session().client(service, endpoint_url=server.endpoint, region_name="us-east-1",
                                          config=Config(retries={"max_attempts": 0}, parameter_validation=validate),
                                          **keys)


def error(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    e = caught.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def role(server: CumuloServer, name: str, trust_policy: str, **kwargs: Any) -> str:
    return client(server, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy,
                                             **kwargs)["Role"]["Arn"]


def assume(server: CumuloServer, role_arn: str, session: str = "s1", creds: dict[str, str] | None = None,
           **kwargs: Any) -> dict[str, str]:
    return client(server, "sts", creds).assume_role(RoleArn=role_arn, RoleSessionName=session,
                                                    **kwargs)["Credentials"]


# -- who is calling -------------------------------------------------------------------------------

def test_the_owners_keys_are_the_accounts_root(server: CumuloServer) -> None:
    me = client(server, "sts").get_caller_identity()
    assert (me["Arn"], me["Account"], me["UserId"]) == (ROOT, ACCOUNT, ACCOUNT)


def test_a_role_session_is_the_assumed_role_and_says_so(server: CumuloServer) -> None:
    arn = role(server, "reader", trust(OWNER), Path="/app/")
    assert arn == f"arn:aws:iam::{ACCOUNT}:role/app/reader"
    creds = assume(server, arn, "alice@example.com", DurationSeconds=900)
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    left = creds["Expiration"].timestamp() - time.time()
    assert 800 < left <= 900
    me = client(server, "sts", creds).get_caller_identity()
    role_id = client(server, "iam").get_role(RoleName="reader")["Role"]["RoleId"]
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice@example.com"
    assert (me["UserId"], me["Account"]) == (f"{role_id}:alice@example.com", ACCOUNT)


def test_the_aws_cli_reads_sts_and_iam_answers(server: CumuloServer, tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": server.endpoint, "HOME": str(tmp_path),
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    env.pop("AWS_SESSION_TOKEN", None)

    def aws(*args: str) -> Any:
        done = subprocess.run([str(AWS), *args, "--output", "json"], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    assert aws("sts", "get-caller-identity")["Arn"] == ROOT
    made = aws("iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", trust(OWNER))
    assert made["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": ROOT}
    aws("iam", "put-role-policy", "--role-name", "cli-role", "--policy-name", "q", "--policy-document", SQS_ALL)
    assert aws("iam", "get-role-policy", "--role-name", "cli-role", "--policy-name", "q")["PolicyDocument"] == \
        json.loads(SQS_ALL)
    assert "cli-role" in [r["RoleName"] for r in aws("iam", "list-roles")["Roles"]]
    creds = aws("sts", "assume-role", "--role-arn", made["Role"]["Arn"], "--role-session-name", "cli")["Credentials"]
    env.update(AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
               AWS_SESSION_TOKEN=creds["SessionToken"])
    assert aws("sts", "get-caller-identity")["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/cli-role/cli"


# -- AssumeRole: the trust policy decides -------------------------------------------------------

def test_assume_role_follows_the_trust_policy(server: CumuloServer) -> None:
    first = role(server, "first", trust(OWNER))
    open_to_first = role(server, "open-to-first", trust({"AWS": first}))
    closed = role(server, "closed", trust({"Service": "lambda.amazonaws.com"}))
    session = assume(server, first)
    chained = assume(server, open_to_first, "chained", session)
    assert client(server, "sts", chained).get_caller_identity()["Arn"].endswith("assumed-role/open-to-first/chained")
    code, message, status = error(lambda: assume(server, closed, "xx", session))
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/first/s1 is not authorized to perform: "
                              f"sts:AssumeRole on resource: {closed}")
    # the owner may assume any role; nobody may assume a role that does not exist
    assume(server, closed)
    code, message, _ = error(lambda: assume(server, f"arn:aws:iam::{ACCOUNT}:role/missing"))
    assert code == "AccessDenied" and "sts:AssumeRole" in message


def test_naming_the_account_in_a_trust_policy_needs_the_callers_own_allow(server: CumuloServer) -> None:
    caller = role(server, "caller", trust(OWNER))
    target = role(server, "delegated", trust({"AWS": ACCOUNT}))
    creds = assume(server, caller)
    assert error(lambda: assume(server, target, "xx", creds))[0] == "AccessDenied"
    client(server, "iam").put_role_policy(RoleName="caller", PolicyName="may-assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": target}]}))
    assert assume(server, target, "xx", creds)["AccessKeyId"].startswith("ASIA")


@pytest.mark.parametrize("duration, problem", [
    (899, "greater than or equal to 900"), (43201, "less than or equal to 43200"),
    (7200, "exceeds the MaxSessionDuration set for this role"),
])
def test_duration_seconds_is_bounded(server: CumuloServer, duration: int, problem: str) -> None:
    arn = role(server, f"bounded-{duration}", trust(OWNER))
    sts = client(server, "sts", validate=False)     # the server's own checks, not botocore's
    code, message, status = error(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=duration))
    assert (code, status) == ("ValidationError", 400) and problem in message


def test_a_longer_max_session_duration_allows_longer_sessions_but_not_for_chains(server: CumuloServer) -> None:
    arn = role(server, "long", trust(OWNER), MaxSessionDuration=43200)
    creds = assume(server, arn, DurationSeconds=43200)
    assert creds["Expiration"].timestamp() - time.time() > 43000
    again = role(server, "long-chained", trust({"AWS": arn}), MaxSessionDuration=43200)
    code, message, _ = error(lambda: assume(server, again, "cc", creds, DurationSeconds=7200))
    assert code == "ValidationError" and "role chaining" in message


def test_get_session_token_is_for_long_term_keys(server: CumuloServer) -> None:
    creds = client(server, "sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert client(server, "sts", creds).get_caller_identity()["Arn"] == ROOT
    assert error(lambda: client(server, "sts", creds).get_session_token())[0] == "AccessDenied"


# -- temporary credentials: expired, forged, revoked ---------------------------------------------

_KEYS: dict[str, bytes] = {}


def sts_key(server: CumuloServer) -> bytes:
    """The server's own session key: the file of its home, or (on PostgreSQL) the one the database
    holds sealed for every node, read as another node would."""
    if not server.store:
        return (server.home / "sts.key").read_bytes()
    if server.store not in _KEYS:
        from cumulo import Cumulo

        with Cumulo(home=server.home, store=server.store) as node:
            _KEYS[server.store] = node.identity.sessions.key
    return _KEYS[server.store]


def forged(server: CumuloServer, **changes: Any) -> dict[str, str]:
    """A session signed with this server's own key, with ``changes``."""
    key = sts_key(server)
    now = int(time.time())
    fields: dict[str, Any] = {"account": ACCOUNT, "role_arn": f"arn:aws:iam::{ACCOUNT}:role/anything",
                              "role_id": "", "session_name": "s", "issued": now - 7200, "expires": now + 3600}
    fields.update(changes)
    session = tokens.issue(key, **fields)
    return {"AccessKeyId": session.key_id, "SecretAccessKey": session.secret, "SessionToken": session.token}


def test_the_server_key_is_private(server: CumuloServer) -> None:
    client(server, "sts").get_session_token()
    if not server.store:
        assert (server.home / "sts.key").stat().st_mode & 0o777 == 0o600
        return
    import psycopg      # on PostgreSQL the database holds it for every node, sealed with the master key

    with psycopg.connect(server.store) as db:
        (kept,) = db.execute("SELECT value FROM shared_keys WHERE name = 'sts'").fetchone()
    assert sts_key(server) not in bytes(kept) and len(bytes(kept)) > len(sts_key(server))


@pytest.mark.parametrize("service, code", [
    ("sts", "ExpiredToken"), ("iam", "ExpiredToken"), ("lambda", "ExpiredTokenException"),
    ("sqs", "ExpiredToken"), ("events", "ExpiredTokenException"),
])
def test_an_expired_token_is_refused_as_expired(server: CumuloServer, service: str, code: str) -> None:
    creds = forged(server, expires=int(time.time()) - 1)
    calls = {"sts": lambda c: c.get_caller_identity(), "iam": lambda c: c.list_roles(),
             "lambda": lambda c: c.list_functions(), "sqs": lambda c: c.list_queues(),
             "events": lambda c: c.list_event_buses()}
    got, message, status = error(lambda: calls[service](client(server, service, creds)))
    assert (got, message, status) == (code, "The security token included in the request is expired", 403)


def test_a_token_that_is_not_the_servers_is_refused(server: CumuloServer) -> None:
    good = forged(server)
    assert client(server, "sts", good).get_caller_identity()["Arn"].endswith("assumed-role/anything/s")
    payload, mac = good["SessionToken"].split(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    for creds in ({**good, "SessionToken": f"{payload}.{flipped}"},                 # tampered
                  {**good, "AccessKeyId": "ASIA" + "A" * 16},                        # another key id
                  {**good, "SessionToken": "not a token"}):
        assert error(lambda: client(server, "sts", creds).get_caller_identity())[:2] == \
            ("InvalidClientTokenId", "The security token included in the request is invalid.")
    lam = client(server, "lambda", {**good, "SessionToken": f"{payload}.{flipped}"})
    assert error(lambda: lam.list_functions())[0] == "UnrecognizedClientException"


def test_a_session_key_needs_its_token_and_a_long_term_key_takes_none(server: CumuloServer) -> None:
    good = forged(server)
    bare = boto3.session.Session().client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                                          aws_access_key_id=good["AccessKeyId"],
                                          aws_secret_access_key=good["SecretAccessKey"])
    assert error(lambda: bare.get_caller_identity())[0] == "InvalidClientTokenId"
    owner_with_token = client(server, "sts", {"AccessKeyId": server.key_id, "SecretAccessKey": server.secret,
                                              "SessionToken": good["SessionToken"]})
    assert error(lambda: owner_with_token.get_caller_identity())[0] == "InvalidClientTokenId"


def test_deleting_a_role_revokes_its_sessions(server: CumuloServer) -> None:
    arn = role(server, "short-lived", trust(OWNER))
    creds = assume(server, arn)
    assert client(server, "sts", creds).get_caller_identity()["Arn"].endswith("short-lived/s1")
    client(server, "iam").delete_role(RoleName="short-lived")
    assert error(lambda: client(server, "sts", creds).get_caller_identity())[0] == "InvalidClientTokenId"
    role(server, "short-lived", trust(OWNER))     # the same name again is another role
    assert error(lambda: client(server, "sts", creds).get_caller_identity())[0] == "InvalidClientTokenId"


# -- the IAM API ---------------------------------------------------------------------------------

def test_roles_inline_and_attached_policies(server: CumuloServer) -> None:
    iam = client(server, "iam")
    role(server, "worker", trust({"Service": "lambda.amazonaws.com"}), Description="does work")
    assert error(lambda: role(server, "WORKER", trust(OWNER)))[:2] == \
        ("EntityAlreadyExists", "Role with name WORKER already exists.")
    iam.put_role_policy(RoleName="worker", PolicyName="queues", PolicyDocument=SQS_ALL)
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["queues"]
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    iam.attach_role_policy(RoleName="worker", PolicyArn=basic)
    assert iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"] == \
        [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": basic}]
    assert error(lambda: iam.attach_role_policy(RoleName="worker", PolicyArn="arn:aws:iam::aws:policy/NoSuchThing"))[0] \
        == "NoSuchEntity"
    assert error(lambda: iam.delete_role(RoleName="worker"))[:2] == \
        ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName="worker", PolicyName="queues")
    assert error(lambda: iam.delete_role(RoleName="worker"))[1] == "Cannot delete entity, must detach all policies first."
    iam.detach_role_policy(RoleName="worker", PolicyArn=basic)
    iam.update_assume_role_policy(RoleName="worker", PolicyDocument=trust(OWNER))
    assert iam.get_role(RoleName="worker")["Role"]["AssumeRolePolicyDocument"] == json.loads(trust(OWNER))
    iam.delete_role(RoleName="worker")
    assert error(lambda: iam.get_role(RoleName="worker"))[:3] == \
        ("NoSuchEntity", "The role with name worker cannot be found.", 404)


@pytest.mark.parametrize("document, message", [
    ("{not json", "Syntax errors in policy."),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*"}]}),
     "Policy statement must contain resources."),
])
def test_malformed_policy_documents_are_refused_as_iam_does(server: CumuloServer, document: str, message: str) -> None:
    iam = client(server, "iam")
    role(server, f"strict-{len(document)}", trust(OWNER))
    assert error(lambda: iam.put_role_policy(RoleName=f"strict-{len(document)}", PolicyName="p",
                                             PolicyDocument=document)) == ("MalformedPolicyDocument", message, 400)
    assert error(lambda: iam.create_policy(PolicyName="bad", PolicyDocument=document))[:2] == \
        ("MalformedPolicyDocument", message)


def test_a_role_name_iam_would_refuse(server: CumuloServer) -> None:
    code, message, status = error(lambda: role(server, "has space", trust(OWNER)))
    assert (code, status) == ("ValidationError", 400)
    assert message == ("1 validation error detected: Value 'has space' at 'roleName' failed to satisfy constraint: "
                       "Member must satisfy regular expression pattern: [\\w+=,.@-]+")


def test_managed_policies_and_their_versions(server: CumuloServer) -> None:
    iam = client(server, "iam")
    arn = iam.create_policy(PolicyName="queues", Path="/team/", PolicyDocument=SQS_ALL)["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/team/queues"
    read_only = json.dumps({"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "sqs:Get*", "Resource": "*"}]})
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=read_only)
    assert error(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=read_only))[0] == "LimitExceeded"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions][-1] == ("v1", True)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]["Document"] == json.loads(read_only)
    assert error(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v3"))[1] == \
        "Cannot delete the default version of a policy."
    role(server, "uses-queues", trust(OWNER))
    iam.attach_role_policy(RoleName="uses-queues", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert error(lambda: iam.delete_policy(PolicyArn=arn))[1] == "Cannot delete a policy attached to entities."
    iam.detach_role_policy(RoleName="uses-queues", PolicyArn=arn)
    for version in ("v1", "v2", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.delete_policy(PolicyArn=arn)
    assert error(lambda: iam.get_policy(PolicyArn=arn))[0] == "NoSuchEntity"


def test_aws_managed_policies_resolve_by_arn(server: CumuloServer) -> None:
    iam = client(server, "iam")
    arn = "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert any("sqs:*" in json.dumps(s) for s in version["Document"]["Statement"])
    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {"AWSLambdaBasicExecutionRole", "AmazonDynamoDBFullAccess", "AWSStepFunctionsFullAccess"} <= names
    page = iam.list_policies(Scope="AWS", MaxItems=5)
    assert len(page["Policies"]) == 5 and page["IsTruncated"]
    rest = iam.list_policies(Scope="AWS", Marker=page["Marker"])["Policies"]
    assert {p["PolicyName"] for p in page["Policies"] + rest} == names


def test_unknown_actions_and_unsigned_requests_get_the_query_protocols_errors(server: CumuloServer) -> None:
    import urllib.request
    request = urllib.request.Request(server.endpoint + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    body = caught.value.read().decode()
    assert caught.value.code == 403 and "<Code>MissingAuthenticationToken</Code>" in body
    assert "<ErrorResponse" in body and caught.value.headers["Content-Type"] == "text/xml"
    code, _, status = error(lambda: client(server, "iam").get_account_summary())
    assert (code, status) == ("InvalidAction", 400)


# -- a session may do what its role's policies allow ---------------------------------------------

def test_a_sessions_permissions_are_its_roles_policies(server: CumuloServer) -> None:
    sqs = client(server, "sqs")
    orders = sqs.create_queue(QueueName="id-orders")["QueueUrl"]
    other = sqs.create_queue(QueueName="id-other")["QueueUrl"]
    arn = role(server, "sender", trust(OWNER))
    client(server, "iam").put_role_policy(RoleName="sender", PolicyName="send", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                                 "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:id-orders"}]}))
    creds = assume(server, arn)
    as_role = client(server, "sqs", creds)
    as_role.send_message(QueueUrl=orders, MessageBody="hello")
    code, message, status = error(lambda: as_role.send_message(QueueUrl=other, MessageBody="hello"))
    assert (code, status) == ("AccessDenied", 403) and "sqs:SendMessage" in message
    # nor may it grant itself more: IAM's own operations are authorized too
    code, message, status = error(lambda: client(server, "iam", creds).put_role_policy(
        RoleName="sender", PolicyName="more", PolicyDocument=SQS_ALL))
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/sender/s1 is not authorized to perform: "
                              f"iam:PutRolePolicy on resource: arn:aws:iam::{ACCOUNT}:role/sender")
    assert client(server, "sts", creds).get_caller_identity()["Arn"].endswith("assumed-role/sender/s1")


def test_cumulo_iam_beside_a_running_server_changes_what_sessions_may_do(server: CumuloServer) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "iam", *args],
                              capture_output=True, text=True, timeout=60, env=server.cli_env)

    made = cli("create-role", "from-cli", "--trust", trust(OWNER))
    assert made.returncode == 0, made.stderr
    assert "from-cli" in cli("list-roles").stdout
    url = client(server, "sqs").create_queue(QueueName="id-cli")["QueueUrl"]
    as_role = client(server, "sqs", assume(server, json.loads(made.stdout)["Arn"]))
    assert error(lambda: as_role.send_message(QueueUrl=url, MessageBody="x"))[0] == "AccessDenied"
    assert cli("attach-role-policy", "from-cli", "AmazonSQSFullAccess").returncode == 0
    deadline = time.monotonic() + 5
    while True:      # the server notices another process's change within 0.1 s
        try:
            as_role.send_message(QueueUrl=url, MessageBody="x")
            break
        except ClientError:
            assert time.monotonic() < deadline, "the server did not see the policy attached by the CLI"
            time.sleep(0.05)
    refused = cli("delete-role", "from-cli")
    assert refused.returncode == 3 and "DeleteConflict" in refused.stderr
