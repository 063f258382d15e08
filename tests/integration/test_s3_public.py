"""Anonymous access as S3 grants it: a bucket policy allowing everyone, Block Public Access, and
the owner held to the policy's explicit Deny — with unchanged boto3 (unsigned and signed), the AWS
CLI (``--no-sign-request``) and plain HTTP (curl-like, no signature) against a real ``cumulo up``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer

AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("s3public") / "home")
    yield s
    s.close()


@pytest.fixture(scope="module")
def s3(server: CumuloServer) -> Any:
    return server.aws("s3")


@pytest.fixture(scope="module")
def anonymous(server: CumuloServer) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED))


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    name = "p-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    s3.create_bucket(Bucket=name)
    return name


def fetch(url: str, method: str = "GET", data: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method,
                                                           headers=headers or {})) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()


def error(call: Any) -> tuple[str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call()
    e = caught.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]


def public_read(bucket: str, **condition: Any) -> str:
    statement: dict[str, Any] = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                 "Resource": f"arn:aws:s3:::{bucket}/*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_new_bucket_blocks_public_policies_until_its_owner_lifts_the_block(s3: Any, bucket: str) -> None:
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    code, status, err = error(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket)))
    assert (code, status) == ("AccessDenied", 403)
    assert err["Message"].endswith(f'on resource: "arn:aws:s3:::{bucket}" because public policies are prevented by '
                                   "the BlockPublicPolicy setting in S3 Block Public Access.")
    code, status, _ = error(lambda: s3.get_bucket_policy(Bucket=bucket))
    assert (code, status) == ("NoSuchBucketPolicy", 404)
    s3.delete_public_access_block(Bucket=bucket)
    code, status, err = error(lambda: s3.get_public_access_block(Bucket=bucket))
    assert (code, status, err["Message"]) == ("NoSuchPublicAccessBlockConfiguration", 404,
                                              "The public access block configuration was not found")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}
    # a policy held to fixed source addresses is not public: accepted under the block
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket, IpAddress={"aws:SourceIp": "127.0.0.0/8"}))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": False}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")     # BlockPublicAcls is off now
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    code, status, _ = error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read"))
    assert (code, status) == ("AccessDenied", 403)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private")


def test_anonymous_reads_of_a_public_read_bucket_from_boto3_curl_and_the_cli(server: CumuloServer, s3: Any,
                                                                             anonymous: Any, bucket: str,
                                                                             tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="site/index.html", Body=b"<h1>hello</h1>", ContentType="text/html")
    code, status, err = error(lambda: anonymous.get_object(Bucket=bucket, Key="site/index.html"))
    assert (code, status, err["Message"]) == ("AccessDenied", 403, "Access Denied")      # no policy yet
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket))

    got = anonymous.get_object(Bucket=bucket, Key="site/index.html")
    assert (got["Body"].read(), got["ContentType"]) == (b"<h1>hello</h1>", "text/html")
    assert anonymous.head_object(Bucket=bucket, Key="site/index.html")["ContentLength"] == 14
    assert fetch(f"{server.endpoint}/{bucket}/site/index.html") == (200, b"<h1>hello</h1>")
    # what the policy does not grant stays refused, as S3 words it
    code, status, err = error(lambda: anonymous.list_objects_v2(Bucket=bucket))
    assert (code, status, err["Message"]) == ("AccessDenied", 403, "Access Denied")
    code, status, _ = error(lambda: anonymous.put_object(Bucket=bucket, Key="site/x", Body=b"x"))
    assert (code, status) == ("AccessDenied", 403)
    status, body = fetch(f"{server.endpoint}/{bucket}/site/x", "PUT", b"x")
    assert status == 403 and b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in body
    code, status, _ = error(lambda: anonymous.delete_object(Bucket=bucket, Key="site/index.html"))
    assert (code, status) == ("AccessDenied", 403)
    code, status, _ = error(lambda: anonymous.get_bucket_policy(Bucket=bucket))
    assert (code, status) == ("AccessDenied", 403)
    # without s3:ListBucket a missing key is 403, not 404 (S3 tells only those who may list)
    code, status, _ = error(lambda: anonymous.get_object(Bucket=bucket, Key="site/missing"))
    assert (code, status) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=bucket, Key="site/index.html")["Body"].read() == b"<h1>hello</h1>"

    out = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "--no-sign-request", "s3", "cp",
                          f"s3://{bucket}/site/index.html", str(tmp_path / "index.html")],
                         env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "index.html").read_bytes() == b"<h1>hello</h1>"

    # RestrictPublicBuckets closes a public policy to everyone outside the account, at once
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    code, status, _ = error(lambda: anonymous.get_object(Bucket=bucket, Key="site/index.html"))
    assert (code, status) == ("AccessDenied", 403)
    assert fetch(f"{server.endpoint}/{bucket}/site/index.html")[0] == 403
    assert s3.get_object(Bucket=bucket, Key="site/index.html")["Body"].read() == b"<h1>hello</h1>"


def test_conditions_and_denies_hold_for_anonymous_callers(server: CumuloServer, s3: Any, anonymous: Any,
                                                          bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="private/b", Body=b"b")
    # held to source addresses: not public, so RestrictPublicBuckets (still set) does not close it
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.1/32", "::1/128"]}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/private/*",
         "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}}]}))
    assert anonymous.get_object(Bucket=bucket, Key="a")["Body"].read() == b"a"
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=bucket)["Contents"]] == ["a", "private/b"]
    anonymous.put_object(Bucket=bucket, Key="dropped", Body=b"by anyone on this machine")
    assert s3.get_object(Bucket=bucket, Key="dropped")["Body"].read() == b"by anyone on this machine"
    code, status, _ = error(lambda: anonymous.get_object(Bucket=bucket, Key="private/b"))
    assert (code, status) == ("AccessDenied", 403)
    code, status, _ = error(lambda: anonymous.get_object(Bucket=bucket, Key="nothing-here"))
    assert (code, status) == ("NoSuchKey", 404)           # may list: told the key is missing
    # another address than the policy's: refused
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket, IpAddress={"aws:SourceIp": "192.0.2.0/24"}))
    code, status, _ = error(lambda: anonymous.get_object(Bucket=bucket, Key="a"))
    assert (code, status) == ("AccessDenied", 403)


def test_unsigned_requests_elsewhere_stay_refused(server: CumuloServer, s3: Any, anonymous: Any, bucket: str) -> None:
    code, status, _ = error(lambda: anonymous.list_buckets())     # no bucket named: any unsigned request's refusal
    assert status == 403
    code, status, _ = error(lambda: anonymous.get_object(Bucket=bucket, Key="a"))       # a bucket without a policy
    assert (code, status) == ("AccessDenied", 403)
    # no such bucket: the refusal of any unsigned request
    assert fetch(f"{server.endpoint}/no-such-bucket-here/a")[0] == 403
    # other services' paths are never S3's, even where a bucket has a public policy under that name
    s3.create_bucket(Bucket="2015-03-31")
    s3.delete_public_access_block(Bucket="2015-03-31")
    s3.put_bucket_policy(Bucket="2015-03-31", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::2015-03-31",
                                                                            "arn:aws:s3:::2015-03-31/*"]}]}))
    status, body = fetch(f"{server.endpoint}/2015-03-31/functions")
    assert status == 403 and json.loads(body)["message"] == "Missing Authentication Token"
    status, body = fetch(f"{server.endpoint}/2015-03-31/other")
    assert status == 404 and b"<Code>NoSuchKey</Code>" in body
    # a request that carries a signature of any form is checked as one, never taken for anonymous
    status, body = fetch(f"{server.endpoint}/2015-03-31/other?X-Amz-Credential=x%2F20260101%2Fus-east-1%2Fs3%2F"
                         "aws4_request&X-Amz-Signature=00")
    assert status in (400, 403) and b"NoSuchKey" not in body
    # a body is never read for a bucket that does not grant anonymous writes
    status, body = fetch(f"{server.endpoint}/{bucket}/big", "PUT", b"x" * 1024)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_the_owner_is_held_to_an_explicit_deny_but_may_always_replace_the_policy(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept", Body=b"k")
    lockout = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=lockout)
    for call in (lambda: s3.get_object(Bucket=bucket, Key="kept"), lambda: s3.put_object(Bucket=bucket, Key="n", Body=b""),
                 lambda: s3.list_objects_v2(Bucket=bucket), lambda: s3.delete_object(Bucket=bucket, Key="kept")):
        code, status, err = error(call)
        assert (code, status) == ("AccessDenied", 403)
        assert "with an explicit deny in a resource-based policy" in err["Message"]
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(lockout)
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"k"
    # a Deny naming someone else leaves the owner alone
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:role/other"}, "Action": "s3:*",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"k"


SITE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Site:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: %(bucket)s
%(block)s
  SitePolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Site
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Sid: PublicRead
            Effect: Allow
            Principal: '*'
            Action: s3:GetObject
            Resource: !Sub '${Site.Arn}/*'
%(extra)s
"""
OPEN = """\
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        IgnorePublicAcls: true
        BlockPublicPolicy: false
        RestrictPublicBuckets: false"""
TLS_ONLY = """\
          - Sid: DenyInsecureTransport
            Effect: Deny
            Principal: '*'
            Action: s3:*
            Resource: [!GetAtt Site.Arn, !Sub '${Site.Arn}/*']
            Condition: {Bool: {aws:SecureTransport: 'false'}}"""


def deploy(server: CumuloServer, folder: Path, template: str, stack: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "template.yaml").write_text(template)
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(server.home), "deploy",
                           str(folder / "template.yaml"), "--stack-name", stack, "--no-build"],
                          capture_output=True, text=True, timeout=120)


def test_a_template_s_bucket_policy_takes_effect(server: CumuloServer, s3: Any, anonymous: Any,
                                                 tmp_path: Path) -> None:
    # as on AWS: a public policy on a bucket that keeps S3's default block is refused, and nothing is left
    run = deploy(server, tmp_path / "blocked", SITE % {"bucket": "tpl-blocked", "block": "", "extra": ""}, "blocked")
    assert run.returncode != 0
    assert "because public policies are prevented by the BlockPublicPolicy setting" in run.stdout + run.stderr
    assert "tpl-blocked" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    run = deploy(server, tmp_path / "site", SITE % {"bucket": "tpl-site", "block": OPEN, "extra": ""}, "site")
    assert run.returncode == 0, run.stdout + run.stderr
    assert s3.get_public_access_block(Bucket="tpl-site")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    assert json.loads(s3.get_bucket_policy(Bucket="tpl-site")["Policy"])["Statement"][0]["Resource"] == \
        "arn:aws:s3:::tpl-site/*"
    s3.put_object(Bucket="tpl-site", Key="index.html", Body=b"hi")
    assert anonymous.get_object(Bucket="tpl-site", Key="index.html")["Body"].read() == b"hi"
    assert fetch(f"{server.endpoint}/tpl-site/index.html") == (200, b"hi")

    # the deny-without-TLS statement: noted; it denies remote plain-HTTP clients only, and these
    # clients are on this machine (loopback), whose requests count as secure transport
    run = deploy(server, tmp_path / "site", SITE % {"bucket": "tpl-site", "block": OPEN, "extra": TLS_ONLY}, "site")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "aws:SecureTransport false" in run.stdout + run.stderr
    assert s3.get_object(Bucket="tpl-site", Key="index.html")["Body"].read() == b"hi"
    assert fetch(f"{server.endpoint}/tpl-site/index.html")[0] == 200

    # the policy dropped from the template is deleted from the bucket
    dropped = (SITE % {"bucket": "tpl-site", "block": OPEN, "extra": ""}).split("  SitePolicy:")[0]
    run = deploy(server, tmp_path / "site", dropped, "site")
    assert run.returncode == 0, run.stdout + run.stderr
    code, status, _ = error(lambda: s3.get_bucket_policy(Bucket="tpl-site"))
    assert (code, status) == ("NoSuchBucketPolicy", 404)
    assert s3.get_object(Bucket="tpl-site", Key="index.html")["Body"].read() == b"hi"
    assert fetch(f"{server.endpoint}/tpl-site/index.html")[0] == 403
