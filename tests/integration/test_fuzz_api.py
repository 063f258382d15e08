"""Hostile requests against a real ``cumulo up``: every operation of every protocol it serves.

Requests are drawn from botocore's own models of the services (the operations Cumulo routes,
their members, types, locations and constraints) at four levels of hostility: what a careful
client sends (seeded resources' names, valid documents); the right types with values at their
edges (0, -1, 2^31-1, empty and 70,000-character strings, unicode edge cases such as lone
surrogates, NUL, '²', right-to-left marks; JSON documents in string members nested up to
100,000 deep, with NaN, 1e999 or 30-digit numbers inside otherwise valid documents); then wrong
types for members, huge and non-finite numbers, missing required members, unknown members,
oversize lists, bad pagination tokens and iterators, invalid enums, and whole bodies that are
not JSON at all. The HTTP API gateway gets hostile requests for a function (and Lambda
authorizers) that answer whatever bytes the request asks for.

The properties, for each request:

- an answer, within its time, in the protocol's error shape when it is an error
  (``x-amzn-ErrorType`` for REST-JSON, ``__type`` for the JSON protocols, SQS's
  ``x-amzn-query-error`` too);
- never a 500 unless its message says what went wrong (the generic "An internal error
  occurred" is a finding: its traceback is in the server's log);

and for the run: the server keeps serving, and what it accepted before the run (canary
resources no fuzzed request can name) is all there afterwards, across a restart too.

``CUMULO_FUZZ_EXAMPLES`` sets the examples per operation (default 30: 300 to 1,400 per protocol);
``CUMULO_FUZZ_SURVEY=1`` records every finding instead of stopping at the first, and prints
them grouped by where the server failed; ``CUMULO_FUZZ_SEED=N`` draws other requests than the
fixed ones CI sends (both for hunting, not for CI).
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import sqlite3
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import botocore.session
import pytest
from botocore.model import OperationModel, ServiceModel, Shape
from hypothesis import HealthCheck, Phase, given, seed, settings, strategies as st

from cumulo.api import (  # noqa: F401 (the JSON protocols register themselves)
    apigateway, apigatewayv2, awsjson, cloudwatch, codedeploy, dynamodb, ecr, events, kinesis, kms, lambda_api, logs,
    secretsmanager, sqs, ssm, stepfunctions,
)
from cumulo.api.http import Request
from tests.integration.test_server import CumuloServer
from tests.integration.test_stepfunctions import states_role

EXAMPLES = int(os.environ.get("CUMULO_FUZZ_EXAMPLES", "30"))      # per operation: 162 of them
SURVEY = os.environ.get("CUMULO_FUZZ_SURVEY") == "1"
SEED = os.environ.get("CUMULO_FUZZ_SEED")       # another seed than the fixed one: new requests
REQUEST_TIMEOUT_S = 60.0
GENERIC_500 = "internal error"

_BOTOCORE = botocore.session.get_session()
SERVICES = ["lambda", "sqs", "kinesis", "events", "stepfunctions", "apigatewayv2", "apigateway", "secretsmanager",
            "ssm", "dynamodb", "dynamodbstreams", "kms", "logs", "cloudwatch", "codedeploy", "ecr"]

ECHO = "def handler(event, context):\n    return event\n"


def _zip(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


ECHO_ZIP = _zip(**{"app.py": ECHO})
LAYER_ZIP = _zip(**{"python/fz_layer.py": "X = 1\n"})


# -- which operations Cumulo serves, from botocore's models -----------------------------------------
def _route_of(service: str, method: str, path: str) -> bool:
    request = Request(method, path, "", [], b"")
    try:
        if service == "lambda":
            return lambda_api.route(request) is not None
        if service == "apigatewayv2":
            return apigatewayv2.route(request) is not None
        return apigateway.route(request) is not None
    except Exception:
        return False


def served(service: str) -> list[OperationModel]:
    model = _BOTOCORE.get_service_model(service)
    out = []
    for name in model.operation_names:
        op = model.operation_model(name)
        if model.protocol in ("json", "smithy-rpc-v2-cbor"):      # CloudWatch: boto3 sends it JSON
            if name in awsjson.services[model.metadata["targetPrefix"]].operations:
                out.append(op)
        elif _route_of(service, op.http["method"], re.sub(r"\{\w+\+?\}", "x", op.http["requestUri"].split("?")[0])):
            out.append(op)
    return out


OPERATIONS: dict[str, list[OperationModel]] = {s: served(s) for s in SERVICES}


def test_the_fuzzer_reaches_every_operation_cumulo_serves() -> None:
    """Every JSON operation Cumulo registers is in botocore's model (so it is fuzzed), and the
    REST routes cover as many operations as the README lists."""
    for prefix, service in awsjson.services.items():
        names = {op.name for s in SERVICES for op in OPERATIONS[s]
                 if _BOTOCORE.get_service_model(s).metadata.get("targetPrefix") == prefix}
        assert set(service.operations) <= names, set(service.operations) - names
    assert len(OPERATIONS["lambda"]) >= 45 and len(OPERATIONS["apigatewayv2"]) >= 22
    assert len(OPERATIONS["apigateway"]) >= 14


# -- the server and what it holds before the run -------------------------------------------------------
@dataclass
class Seeds:
    """Resources that fuzzed requests may name (pools of plausible values), and canaries they cannot."""

    endpoint: str
    names: dict[str, list[Any]] = field(default_factory=dict)
    canary: dict[str, Any] = field(default_factory=dict)


def _aws(server: CumuloServer, service: str) -> Any:
    return server.aws(service, read_timeout=60)


def _seed(server: CumuloServer) -> Seeds:
    s = Seeds(server.endpoint)
    acct, region = "000000000000", "us-east-1"
    lam, sqs, kin = _aws(server, "lambda"), _aws(server, "sqs"), _aws(server, "kinesis")
    ev, sfn = _aws(server, "events"), _aws(server, "stepfunctions")
    v2, v1 = _aws(server, "apigatewayv2"), _aws(server, "apigateway")
    role = f"arn:aws:iam::{acct}:role/fz"
    ddb, ddbs = _aws(server, "dynamodb"), _aws(server, "dynamodbstreams")
    table = ddb.create_table(
        TableName="fz-table", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "n", "AttributeType": "N"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
    for i in range(3):
        ddb.put_item(TableName="fz-table", Item={"id": {"S": "a"}, "n": {"N": str(i)}, "g": {"S": "x"}})
    table_stream = table["LatestStreamArn"]
    table_iterator = ddbs.get_shard_iterator(
        StreamArn=table_stream, ShardIteratorType="TRIM_HORIZON",
        ShardId=ddbs.describe_stream(StreamArn=table_stream)["StreamDescription"]["Shards"][0]["ShardId"])["ShardIterator"]
    ddb.close()
    ddbs.close()
    lam.create_function(FunctionName="fz-fn", Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": ECHO_ZIP}, Timeout=5)
    lam.publish_version(FunctionName="fz-fn")
    lam.create_alias(FunctionName="fz-fn", Name="live", FunctionVersion="1")
    layer = lam.publish_layer_version(LayerName="fz-layer", Content={"ZipFile": LAYER_ZIP},
                                      CompatibleRuntimes=["python3.11"])
    fn_arn = f"arn:aws:lambda:{region}:{acct}:function:fz-fn"
    q_url = sqs.create_queue(QueueName="fz-q")["QueueUrl"]
    fifo_url = sqs.create_queue(QueueName="fz-q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName="fz-dlq")["QueueUrl"]
    q_arn, dlq_arn = f"arn:aws:sqs:{region}:{acct}:fz-q", f"arn:aws:sqs:{region}:{acct}:fz-dlq"
    sqs.set_queue_attributes(QueueUrl=q_url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})
    for i in range(3):
        sqs.send_message(QueueUrl=q_url, MessageBody=f"seed {i}")
    receipt = sqs.receive_message(QueueUrl=q_url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    mapping = lam.create_event_source_mapping(EventSourceArn=dlq_arn, FunctionName="fz-fn", Enabled=False)
    kin.create_stream(StreamName="fz-s", ShardCount=1)
    s_arn = f"arn:aws:kinesis:{region}:{acct}:stream/fz-s"
    seq = kin.put_record(StreamName="fz-s", Data=b"seed", PartitionKey="k")["SequenceNumber"]
    iterator = kin.get_shard_iterator(StreamName="fz-s", ShardId="shardId-000000000000",
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    bus_arn = ev.create_event_bus(Name="fz-bus")["EventBusArn"]
    ev.put_rule(Name="fz-rule", EventBusName="fz-bus", EventPattern=json.dumps({"source": ["fz"]}))
    ev.put_targets(Rule="fz-rule", EventBusName="fz-bus", Targets=[{"Id": "t1", "Arn": q_arn}])
    conn_arn = ev.create_connection(Name="fz-conn", AuthorizationType="API_KEY", AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "secret"}})["ConnectionArn"]
    dest_arn = ev.create_api_destination(Name="fz-dest", ConnectionArn=conn_arn,
                                         InvocationEndpoint="http://127.0.0.1:9/none",
                                         HttpMethod="POST")["ApiDestinationArn"]
    archive_arn = ev.create_archive(ArchiveName="fz-arch", EventSourceArn=bus_arn)["ArchiveArn"]
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert states_role(sfn, name="fz") == role       # one Step Functions may assume
    sm_arn = sfn.create_state_machine(name="fz-sm", definition=definition, roleArn=role)["stateMachineArn"]
    express_arn = sfn.create_state_machine(name="fz-express", definition=definition, roleArn=role,
                                           type="EXPRESS")["stateMachineArn"]
    exec_arn = sfn.start_execution(stateMachineArn=sm_arn, name="fz-exec", input="{}")["executionArn"]
    api = v2.create_api(Name="fz-api", ProtocolType="HTTP")
    api_id = api["ApiId"]
    integration = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    route_id = v2.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}",
                               Target=f"integrations/{integration}")["RouteId"]
    v2.create_stage(ApiId=api_id, StageName="fz")
    authorizer = v2.create_authorizer(ApiId=api_id, Name="fz-auth", AuthorizerType="JWT",
                                      IdentitySource=["$request.header.Authorization"],
                                      JwtConfiguration={"Issuer": "https://issuer.invalid", "Audience": ["a"]})
    key = v1.create_api_key(name="fz-key", enabled=True)
    plan = v1.create_usage_plan(name="fz-plan", apiStages=[{"apiId": api_id, "stage": "fz"}],
                                throttle={"rateLimit": 100.0, "burstLimit": 10})
    v1.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    sm = _aws(server, "secretsmanager")
    secret = sm.create_secret(Name="fz-secret", SecretString='{"k": "v"}')
    sm.put_secret_value(SecretId="fz-secret", SecretString="pending", VersionStages=["AWSPENDING"],
                        ClientRequestToken="fz" + "0" * 30)
    sm.create_secret(Name="fz-gone", SecretBinary=b"x")
    sm.delete_secret(SecretId="fz-gone", RecoveryWindowInDays=7)
    ps = _aws(server, "ssm")
    ps.put_parameter(Name="/fz/param", Value="one", Type="String")
    ps.put_parameter(Name="/fz/param", Value="two", Overwrite=True)
    ps.label_parameter_version(Name="/fz/param", ParameterVersion=1, Labels=["blue"])
    ps.put_parameter(Name="/fz/deep/secure", Value="s3cret", Type="SecureString")
    ps.put_parameter(Name="fz-list", Value="a,b", Type="StringList")
    km = _aws(server, "kms")
    kms_key = km.create_key()["KeyMetadata"]
    km.create_alias(AliasName="alias/fz", TargetKeyId=kms_key["KeyId"])
    kms_blob = km.encrypt(KeyId=kms_key["KeyId"], Plaintext=b"fz", EncryptionContext={"a": "b"})["CiphertextBlob"]
    km.schedule_key_deletion(KeyId=km.create_key()["KeyMetadata"]["KeyId"], PendingWindowInDays=7)
    tokens = ["0", "", "1", "-1", "abc", "99999999999999999999", "1e5", "NaN", "1.5", " 1", "0x10", "null",
              "\u0661", base64.b64encode(b"garbage").decode(), base64.b64encode(b'["a", 1]').decode(),
              "A" * 5000, "eyJ9", "%00", "\ud800"]
    s.names = {
        # lambda
        "FunctionName": ["fz-fn", fn_arn, "fz-fn:1", "fz-fn:live", f"{fn_arn}:live", "fz-missing", "fz-fn:$LATEST",
                         "arn:aws:lambda:us-east-1:000000000000:function", "::::::", "fz-fn:1:2"],
        "Qualifier": ["$LATEST", "1", "live", "2", "99999999999999999999", "-1", "0", "\u00b2", "\u0661"],
        "FunctionVersion": ["$LATEST", "1", "2", "ALL", "99999999999999999999", "\u00b2"],
        "Name": ["live", "fz-bus", "fz-rule", "fz-conn", "fz-dest", "default", "fz-new", "fz-sm", bus_arn],
        "UUID": [mapping["UUID"], str(uuid.uuid4()), "not-a-uuid"],
        "EventSourceArn": [dlq_arn, q_arn, s_arn, bus_arn, "arn:aws:sqs:us-east-1:000000000000:fz-missing"],
        "LayerName": ["fz-layer", layer["LayerArn"], "fz-missing"],
        "VersionNumber": [1, 2, 0, -1, 2**31, 2**63],
        "Arn": [layer["LayerVersionArn"], layer["LayerArn"], fn_arn, q_arn, f"{layer['LayerArn']}:abc",
                f"{layer['LayerArn']}:99999999999999999999"],
        "Resource": [fn_arn, f"{fn_arn}:live", q_arn, "fz-fn"],
        "Marker": tokens, "NextMarker": tokens,
        "StatementId": ["s1", "s2"],
        "RevisionId": ["x", str(uuid.uuid4())],
        "Role": [role, "not-an-arn"],
        "Runtime": ["python3.11", "nodejs20.x", "provided.al2023", "python2.7", "cobol"],
        "Handler": ["app.handler", "missing.handler", "../../etc.passwd"],
        "ZipFile": [base64.b64encode(ECHO_ZIP).decode(), base64.b64encode(b"PK\x03\x04junk").decode()],
        "Destination": [q_arn, fn_arn, bus_arn, "arn:aws:sns:us-east-1:000000000000:nope"],
        # sqs
        "QueueUrl": [q_url, fifo_url, dlq_url, f"{server.endpoint}/000000000000/fz-missing", "fz-q",
                     "http://x/000000000000/fz-q", ""],
        "QueueName": ["fz-q", "fz-new", "fz-new.fifo", "fz-q.fifo"],
        "QueueNamePrefix": ["fz", "", "z"],
        "ReceiptHandle": [receipt, receipt[:-3], "garbage", base64.b64encode(b"1:2:3").decode(),
                          "\u00b2-0123456789abcdef", "99999999999999999999-0123456789abcdef"],
        "SourceArn": [dlq_arn, q_arn, "arn:aws:sqs:us-east-1:000000000000:fz-missing"],
        "DestinationArn": [q_arn, dlq_arn],
        "NextToken": tokens, "nextToken": tokens,
        "MessageGroupId": ["g1", ""], "MessageDeduplicationId": ["d1", ""],
        "Id": ["e1", "e2", "t1"],
        # kinesis
        "StreamName": ["fz-s", "fz-new", "fz-missing"],
        "StreamARN": [s_arn, "arn:aws:kinesis:us-east-1:000000000000:stream/fz-missing"],
        "ShardId": ["shardId-000000000000", "shardId-000000000099", "0", "shardId-99999999999999999999"],
        "ExclusiveStartShardId": ["shardId-000000000000"],
        "ShardIterator": [iterator, iterator[:-4], base64.urlsafe_b64encode(b'["fz-s", "shardId-000000000000", '
                                                                           b'"99999999999999999999", 1e400]').decode(),
                          base64.urlsafe_b64encode(b"[" * 3000).decode(), "garbage",
                          base64.urlsafe_b64encode(b'{"a": 1}').decode()],
        "StartingSequenceNumber": [seq, "abc", "99999999999999999999999999999999999999999999999999"],
        "ExclusiveStartSequenceNumber": [seq], "SequenceNumberForOrdering": [seq, "x"],
        "ExplicitHashKey": ["0", "340282366920938463463374607431768211455", "340282366920938463463374607431768211456",
                            "-1", "abc", "\u00b2", "9" * 5000],
        "PartitionKey": ["k", ""],
        # events
        "EventBusName": ["fz-bus", "default", bus_arn, "fz-missing"],
        "Rule": ["fz-rule", "fz-missing"],
        "ArchiveName": ["fz-arch", "fz-new"],
        "ReplayName": ["fz-replay", "fz-new"],
        "ConnectionArn": [conn_arn, "arn:aws:events:us-east-1:000000000000:connection/nope"],
        "TargetArn": [q_arn, fn_arn], "RoleArn": [role],
        "InvocationEndpoint": ["http://127.0.0.1:9/x", "ftp://x", "not a url"],
        "ScheduleExpression": ["rate(5 minutes)", "rate(99999999999999999999 days)", "rate(0 minutes)",
                               "rate(-1 hours)", "cron(0 2 * * ? *)", "cron(99999999999999999999 * * * ? *)",
                               "cron(0/99999999999999999999 * * * ? *)", "cron(* * * * * *)",
                               "at(2020-01-01T00:00:00)", "at(99999-01-01T00:00:00)", "rate(1e400 minutes)",
                               "cron(0 0 31 2 ? 2099)", "cron(0 0 ? * 6#9 *)", "cron(0 0 L * ? 99999)"],
        # step functions
        "stateMachineArn": [sm_arn, express_arn, "arn:aws:states:us-east-1:000000000000:stateMachine:fz-missing"],
        "executionArn": [exec_arn, f"{exec_arn}x", "arn:aws:states:::execution"],
        "taskToken": ["garbage", base64.b64encode(b'{"a": 1}').decode()],
        "roleArn": [role],
        # apigatewayv2 / apigateway
        "ApiId": [api_id, "fzmissing"], "RouteId": [route_id, "nope"], "StageName": ["fz", "$default", "nope"],
        "AuthorizerId": [authorizer["AuthorizerId"], "nope"], "IntegrationId": [integration, "nope"],
        "RouteKey": ["GET /x", "ANY /{proxy+}", "$default", "garbage", "GET x", "GET /{a}/{a}"],
        "IntegrationUri": [fn_arn,
                           f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn_arn}/invocations"],
        "AuthorizerUri": [fn_arn],
        "Target": [f"integrations/{integration}", "integrations/nope", fn_arn],
        "ApiKey": [key["id"], "nope"], "UsagePlanId": [plan["id"], "nope"], "KeyId": [key["id"], "nope"],
        "KeyType": ["API_KEY", "X"],
        # secrets manager
        "SecretId": ["fz-secret", secret["ARN"], secret["ARN"][:-7], "fz-gone", "fz-missing",
                     "arn:aws:secretsmanager:us-east-1:000000000000:secret:", "arn:aws:secretsmanager:::::::"],
        "SecretIdList": [["fz-secret", "fz-gone", "fz-missing"], []],
        "VersionId": [secret["VersionId"], "fz" + "0" * 30, "nope"],
        "ClientRequestToken": [secret["VersionId"], "fz" + "0" * 30, str(uuid.uuid4())],
        "VersionStage": ["AWSCURRENT", "AWSPREVIOUS", "AWSPENDING", "custom"],
        "MoveToVersionId": [secret["VersionId"], "fz" + "0" * 30], "RemoveFromVersionId": [secret["VersionId"]],
        # dynamodb
        "TableName": ["fz-table", "fz-new-table", "fz-missing", "x"],
        "IndexName": ["by-g", "nope"],
        "ResourceArn": [table["TableArn"], "arn:aws:dynamodb:us-east-1:000000000000:table/fz-missing"],
        "StreamArn": [table_stream, table_stream + "x"],
        "Key": [{"id": {"S": "a"}, "n": {"N": "1"}}, {"id": {"S": "a"}}, {"id": {"N": "1"}, "n": {"N": "1"}}],
        "ExclusiveStartKey": [{"id": {"S": "a"}, "n": {"N": "1"}}, {"id": {"S": "a"}, "n": {"N": "1"}, "g": {"S": "x"}}],
        "KeyConditionExpression": ["id = :v", "id = :v AND n BETWEEN :a AND :b", "begins_with(id, :v)", "#n = :v"],
        "ConditionExpression": ["attribute_exists(id)", "n > :v", "size(g) < :a OR NOT contains(g, :b)", "a = = b"],
        "FilterExpression": ["attribute_exists(g)", "g IN (:a, :b)", "#n.x[1] = :v"],
        "UpdateExpression": ["SET g = :v", "SET x = x + :a REMOVE y", "ADD s :v DELETE t :b", "SET #n = :v"],
        "ProjectionExpression": ["id, n", "g.x[0]", "#n"],
        "Statement": ['SELECT * FROM "fz-table" WHERE id = ?', 'SELECT id, g FROM "fz-table"."by-g" WHERE g IN [?, 1]',
                      "SELECT * FROM fz-table", 'EXISTS(SELECT * FROM "fz-table" WHERE id = \'a\' AND n = 1)'],
        "ExpressionAttributeNames": [{"#n": "n"}, {"#n": "g"}],
        "ExpressionAttributeValues": [{":v": {"S": "a"}, ":a": {"N": "1"}, ":b": {"N": "2"}}, {":v": {"N": "1"}}],
        "SequenceNumber": ["000000000000000000001", "abc"],
    }
    s.names.update({
        # parameter store
        "Names": [["/fz/param", "fz-list", "/fz/missing"], ["/fz/param:1", "/fz/param:blue", "/fz/param:9"], []],
        "Path": ["/fz", "/fz/", "/", "fz", "/fz//x", "/aws"],
        "ParameterVersion": [1, 2, 99, 0, -1],
        "Labels": [["blue"], ["green", "1bad", "aws-x"], []],
        "ResourceId": ["/fz/param", "fz-list", "/fz/missing"], "ResourceType": ["Parameter", "Document"],
        "Value": ["v", "", "x" * 5000], "Type": ["String", "StringList", "SecureString", "Nope"],
        "Tier": ["Standard", "Advanced", "Intelligent-Tiering", "Gold"],
        "AllowedPattern": ["^[a-z]+$", "(", ".*"],
    })
    s.names["KeyId"] = s.names["KeyId"] + [kms_key["KeyId"], kms_key["Arn"], "alias/fz", "alias/missing",
                                           "arn:aws:kms:us-east-1:000000000000:alias/fz", str(uuid.uuid4())]
    s.names.update({"TargetKeyId": [kms_key["KeyId"], "alias/fz", "nope"], "DestinationKeyId": [kms_key["Arn"]],
                    "AliasName": ["alias/fz", "alias/new", "alias/aws/x", "fz"],
                    "CiphertextBlob": [base64.b64encode(kms_blob).decode(), base64.b64encode(kms_blob[:-2]).decode(),
                                       base64.b64encode(b"CK1" + b"x" * 60).decode(), "!!"],
                    "Plaintext": [base64.b64encode(b"p").decode(), "", base64.b64encode(b"x" * 5000).decode()],
                    "EncryptionContext": [{"a": "b"}, {}], "KeySpec": ["AES_256", "AES_128", "SYMMETRIC_DEFAULT", "X"],
                    "NumberOfBytes": [1, 32, 1024, 0, 1025]})
    s.names["Name"] = s.names["Name"] + ["fz-secret", "fz-gone", "/fz/param", "/fz/param:1", "/fz/param:blue",
                                         "/fz/deep/secure", "fz-list", "/fz/missing", "aws-x", "/a b"]
    s.names["ShardIterator"] = s.names["ShardIterator"] + [table_iterator]
    s.names["ApiId"] = s.names["ApiId"]
    # canaries: names no fuzzed request can produce; checked after the run and after a restart
    tag = uuid.uuid4().hex[:8]
    canary_q = sqs.create_queue(QueueName=f"canary-{tag}")["QueueUrl"]
    bodies = [f"canary {i} {tag}" for i in range(5)]
    for body in bodies:
        sqs.send_message(QueueUrl=canary_q, MessageBody=body)
    lam.create_function(FunctionName=f"canary-{tag}", Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": ECHO_ZIP})
    kin.create_stream(StreamName=f"canary-{tag}", ShardCount=1)
    kin.put_record(StreamName=f"canary-{tag}", Data=b"canary", PartitionKey="k")
    s.canary = {"tag": tag, "queue": canary_q, "bodies": bodies}
    sm.create_secret(Name=f"canary-{tag}", SecretString=f"canary {tag}")
    ps.put_parameter(Name=f"/canary/{tag}", Value=f"canary {tag}", Type="SecureString")
    canary_key = km.create_key(Description=f"canary-{tag}")["KeyMetadata"]["KeyId"]
    s.canary["kms"] = (canary_key, km.encrypt(KeyId=canary_key, Plaintext=tag.encode())["CiphertextBlob"])
    for client in (lam, sqs, kin, ev, sfn, v2, v1, sm, ps, km):
        client.close()
    return s


def _check_canaries(server: CumuloServer, seeds: Seeds) -> None:
    tag = seeds.canary["tag"]
    sqs, lam, kin = _aws(server, "sqs"), _aws(server, "lambda"), _aws(server, "kinesis")
    sm, ps, km = _aws(server, "secretsmanager"), _aws(server, "ssm"), _aws(server, "kms")
    try:
        url = sqs.get_queue_url(QueueName=f"canary-{tag}")["QueueUrl"]
        got: list[dict[str, Any]] = []
        for _ in range(10):
            got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
            if len(got) >= len(seeds.canary["bodies"]):
                break
        assert sorted(m["Body"] for m in got) == sorted(seeds.canary["bodies"])
        for m in got:       # visible again, for the next look
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        out = lam.invoke(FunctionName=f"canary-{tag}", Payload=b'{"still": "here"}')
        assert json.loads(out["Payload"].read()) == {"still": "here"}
        shard_it = kin.get_shard_iterator(StreamName=f"canary-{tag}", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        assert [r["Data"] for r in kin.get_records(ShardIterator=shard_it)["Records"]] == [b"canary"]
        assert sm.get_secret_value(SecretId=f"canary-{tag}")["SecretString"] == f"canary {tag}"
        assert ps.get_parameter(Name=f"/canary/{tag}", WithDecryption=True)["Parameter"]["Value"] == f"canary {tag}"
        key, blob = seeds.canary["kms"]
        assert km.decrypt(CiphertextBlob=blob)["Plaintext"] == tag.encode()
        assert km.describe_key(KeyId=key)["KeyMetadata"]["Description"] == f"canary-{tag}"
    finally:
        for client in (sqs, lam, kin, sm, ps, km):
            client.close()


# -- values, from a member's shape: plausible, or hostile ---------------------------------------------------
class Raw:
    """JSON text put into a body as it is (tokens json.dumps cannot write: NaN, 1e999, deep nesting)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:60]!r}{'…' if len(self.text) > 60 else ''})"


def encode(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


UNICODE = ["\ud800", "\udfff", "a\ud83d", "\u00b2", "\u0661", "\x00", "nul\x00in", "\u202e\u202d", "\ufeff", "\uffff",
           "e\u0301",
           "\U0001f600" * 3, "\u0000\u001f", "😀" * 200, "\n\r\t", "\\", "\"", "'", "%2F..%2F", "../../x", "${x}",
           "$LATEST", "null", " ", "\u2028\u2029", "ä" * 100]
NUMBERS_RAW = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "123456789012345678901234567890",
               "-123456789012345678901234567890", "-0", "0.0", "1E400", "9" * 400, "1.7976931348623157e309"]
NUMBERS = [-1, 0, 1, 2**31, 2**31 - 1, -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, 1.5, -0.5,
           1e308, 5e-324]


def deep(n: int, kind: str = "[") -> Raw:
    return Raw("[" * n + "]" * n if kind == "[" else '{"a":' * n + "1" + "}" * n)


DOC_MEMBERS = {"EventPattern", "Event", "Detail", "definition", "input", "output", "Input", "Pattern",
               "RedrivePolicy", "RedriveAllowPolicy", "Policy", "InputTemplate", "cause", "error", "MessageBody",
               "Data", "Payload"}


EVENT = json.dumps({"id": "1", "source": "fz", "detail-type": "t", "account": "000000000000", "region": "us-east-1",
                    "time": "2024-01-01T00:00:00Z", "resources": [], "detail": {"n": 1}})
VALID_DOCS = {"EventPattern": '{"source": ["fz"]}', "Pattern": '{"body": {"n": [1]}}', "Event": EVENT,
              "definition": '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
              "RedrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:fz-dlq", '
                               '"maxReceiveCount": 2}',
              "MessageBody": "hello", "Data": base64.b64encode(b"data").decode(), "Payload": '{"a": 1}',
              "cause": "because", "error": "Err"}


def _inside(name: str, inner: str) -> str:
    """``inner`` where a valid document of member ``name`` holds a value: past its first checks."""
    if name == "Event":
        return EVENT[:-1] + ', "detail": {"x": ' + inner + "}}"
    if name == "definition":
        return '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": ' + inner + ', "End": true}}}'
    if name == "RedrivePolicy":
        return ('{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:fz-dlq", "maxReceiveCount": '
                + inner + "}")
    if name in ("EventPattern", "Pattern"):
        return '{"source": [{"anything-but": ' + inner + "}]}"
    return '{"a": ' + inner + "}"


DEPTHS = [100_000, 5000, 1001, 900, 513, 129, 128]


def json_text(data: st.DataObject, name: str = "") -> str:
    """A string holding JSON, often hostile: too deep, non-finite, invalid, at the limits, or a
    valid document of the member holding such a value."""
    choice = data.draw(st.integers(0, 12))
    if choice == 0:
        return json.dumps(data.draw(_json_values))
    if choice <= 4:
        n = data.draw(st.sampled_from(DEPTHS))
        inner = data.draw(st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, "NaN", "1e999",
                                           "123456789012345678901234567890", '"\\ud800"', '"\\udfff x"']))
        return _inside(name, inner) if choice <= 2 else inner
    options = ["{", '{"source": ["fz"]}', '{"source": [{"numeric": [">", 1e400]}]}', "null", "[]", "",
               '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
               '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 99999999999999999999, "End": true}}}',
               '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "99999-01-01T00:00:00Z", "End": true}}}',
               '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:fz-dlq", "maxReceiveCount": "1e400"}',
               '{"detail": {"n": [{"numeric": ["<", 99999999999999999999999]}]}}',
               '{"a": [{"wildcard": "' + "*" * 5000 + '"}]}', '{"a": [{"cidr": "10.0.0.0/99"}]}',
               VALID_DOCS.get(name, "{}")]
    return data.draw(st.sampled_from(options))


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
_json_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                            max_leaves=8)


def hostile(data: st.DataObject, shape: Shape | None) -> Any:
    """A value that breaks the member's type or constraints."""
    kind = data.draw(st.integers(0, 11))
    if kind == 0:
        return Raw(data.draw(st.sampled_from(NUMBERS_RAW)))
    if kind == 1:
        return data.draw(st.sampled_from(NUMBERS))
    if kind == 2:
        return data.draw(st.sampled_from(UNICODE))
    if kind == 3:
        return data.draw(st.sampled_from(["", "x" * 300, "x" * 70_000, "1", "-1", "true", "99999999999999999999"]))
    if kind == 4:
        return data.draw(st.sampled_from([None, True, False, [], {}, [None], {"": None}, [[[]]]]))
    if kind == 5:
        return deep(data.draw(st.sampled_from([200, 1000, 100_000])), data.draw(st.sampled_from(["[", "{"])))
    if kind == 6 and shape is not None and shape.type_name == "list":
        item = plausible(data, shape.member, shape.member.name, 1, Mood(0, {}))
        count = data.draw(st.sampled_from([11, 101, 1001, 10_001]))
        return [item] * min(count, 4_000_000 // (len(encode(item)) + 1) + 1)     # bodies stay under the edge's limit
    if kind == 7 and shape is not None and shape.type_name == "string":
        if shape.enum:
            return data.draw(st.sampled_from([shape.enum[0].lower(), shape.enum[0] + " ", "NOT_AN_ENUM"]))
        return json_text(data, shape.name)
    if kind == 8 and shape is not None and shape.type_name == "structure":
        return data.draw(st.sampled_from(["a string", 1, [{}], {"Unknown": 1}]))
    if kind == 9 and shape is not None and shape.type_name == "map":
        return data.draw(st.sampled_from([{"": ""}, {"k" * 200: "v"}, {f"k{i}": "v" for i in range(60)},
                                          {"k": {"nested": 1}}, ["k", "v"]]))
    if kind == 10:
        return data.draw(_json_values)
    return data.draw(st.sampled_from([-1, 0, 2**31, 2**63, 10**20, -(10**20), 1.5, Raw("NaN"), Raw("1e999")]))


@dataclass
class Mood:
    """How hostile one request is: 0 sends only what a careful client would (seeded names, valid
    types), 1–3 spoil more and more members."""

    level: int
    pools: dict[str, list[Any]]


def plausible(data: st.DataObject, shape: Shape, name: str, depth: int, mood: Mood) -> Any:
    """A value of the member's type, often one a real client would send (a seeded resource's name)."""
    pools = mood.pools
    t = shape.type_name
    if depth > 6 and t in ("structure", "list", "map"):
        return {} if t != "list" else []     # recursive shapes (DynamoDB's AttributeValue) end somewhere
    if name in pools and t in ("string", "integer", "long") and (mood.level == 0 or data.draw(st.integers(0, 4)) < 4):
        options = pools[name][:2] if mood.level == 0 else pools[name]
        return data.draw(st.sampled_from(options))
    if t == "structure":
        return structure(data, shape, depth + 1, mood)
    if t == "list":
        low = shape.metadata.get("min", 0)
        n = data.draw(st.integers(min(low, 3), min(max(low, 3), 3)))
        return [member_value(data, shape.member, shape.member.name, depth + 1, mood) for _ in range(n)]
    if t == "map":
        n = data.draw(st.integers(0, 2))
        out = {}
        for _ in range(n):
            key = plausible(data, shape.key, shape.key.name, depth + 1, mood)
            out[str(key) if not isinstance(key, Raw) else "k"] = member_value(data, shape.value, shape.value.name,
                                                                               depth + 1, mood)
        return out
    if t == "string":
        if shape.enum:
            return data.draw(st.sampled_from(shape.enum))
        if name in DOC_MEMBERS:
            if mood.level and data.draw(st.booleans()):
                return json_text(data, name)
            return VALID_DOCS.get(name, "{}")
        low, high = shape.metadata.get("min", 0), min(shape.metadata.get("max", 64), 64)
        return data.draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=min(low, high),
                                 max_size=max(high, min(low, high))))
    if t in ("integer", "long"):
        low = shape.metadata.get("min", 0)
        high = shape.metadata.get("max", max(low, 0) + 100)
        if name == "WaitTimeSeconds":
            high = 0
        return data.draw(st.integers(int(low), int(max(low, min(high, low + 1000)))))
    if t == "boolean":
        return data.draw(st.booleans())
    if t in ("double", "float"):
        return data.draw(st.floats(0, 1000))
    if t == "timestamp":
        return data.draw(st.sampled_from([time.time(), int(time.time()) - 3600, "2024-01-01T00:00:00Z", 0]))
    if t == "blob":
        return base64.b64encode(data.draw(st.binary(max_size=32))).decode()
    return None


TIMESTAMPS = [-1, 0, 1e12, 253402300800, 1e15, -62135596800, "garbage", "9999-12-31T23:59:59Z",
              "0000-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "", "1e999"]


def edgy(data: st.DataObject, shape: Shape, name: str, depth: int, mood: Mood) -> Any:
    """A value of the right type that a careful client would not send: the type's edges."""
    t = shape.type_name
    if t == "string":
        options: list[Any] = [*UNICODE[4:], "", "x" * 70_000, "x" * 257, *mood.pools.get(name, [])]
        if shape.enum:
            options += [e.lower() for e in shape.enum[:3]] + ["NOT_AN_ENUM"]
        if name in DOC_MEMBERS or data.draw(st.integers(0, 3)) == 0:
            return json_text(data, name)
        return data.draw(st.sampled_from(options))
    if t == "integer":
        return data.draw(st.sampled_from([-1, 0, 1, 2**31 - 1, -(2**31), 10**9, 86_400 * 365]))
    if t == "long":
        return data.draw(st.sampled_from([-1, 0, 2**63 - 1, -(2**63), 2**53 + 1, 10**15]))
    if t in ("double", "float"):
        return data.draw(st.sampled_from([0.0, -1.0, 1e308, -1e308, 5e-324, 0.1, 2**63]))
    if t == "boolean":
        return data.draw(st.booleans())
    if t == "timestamp":
        return data.draw(st.sampled_from(TIMESTAMPS))
    if t == "blob":
        return data.draw(st.sampled_from(["", "!!!", "A", "AA==", base64.b64encode(b"x" * 300_000).decode()]))
    if t == "list":
        item = plausible(data, shape.member, shape.member.name, depth + 1, mood)
        count = data.draw(st.sampled_from([0, 11, 101, 1001]))
        return [item] * min(count, 4_000_000 // (len(encode(item)) + 1) + 1)
    if t == "map":
        key = plausible(data, shape.key, shape.key.name, depth + 1, mood)
        value = plausible(data, shape.value, shape.value.name, depth + 1, mood)
        return data.draw(st.sampled_from([{}, {"": value}, {f"{key}{i}": value for i in range(60)}]))
    if t == "structure":
        return {} if data.draw(st.booleans()) else structure(data, shape, depth + 1, mood)
    return None


def member_value(data: st.DataObject, shape: Shape, name: str, depth: int, mood: Mood) -> Any:
    """Level 1: right types, values at the edges; 2 and 3: wrong types too, more and more often."""
    if mood.level == 0:
        return plausible(data, shape, name, depth, mood)
    roll = data.draw(st.integers(0, 11))
    if depth > 6 or (mood.level >= 2 and roll < 3 * (mood.level - 1)):
        return hostile(data, shape)
    if roll >= 8:
        return edgy(data, shape, name, depth, mood)
    return plausible(data, shape, name, depth, mood)


def structure(data: st.DataObject, shape: Shape, depth: int, mood: Mood) -> dict[str, Any]:
    out: dict[str, Any] = {}
    required = set(shape.required_members)
    for name, member in shape.members.items():
        if name in required:
            if mood.level and data.draw(st.integers(0, 19)) == 19:      # a required member left out
                continue
        elif data.draw(st.integers(0, 2)) != 0 if mood.level == 0 else not data.draw(st.booleans()):
            continue        # optional members: a careful client sends few
        out[name] = member_value(data, member, name, depth, mood)
    if mood.level and data.draw(st.integers(0, 19)) == 19:
        out[data.draw(st.sampled_from(["Unknown", "", "__proto__", "x" * 300]))] = hostile(data, None)
    return out


# -- requests on the wire ----------------------------------------------------------------------------------
@dataclass
class Wire:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:
        body = self.body[:300] + (b"..." if len(self.body) > 300 else b"")
        return f"{self.method} {self.path[:300]} {self.headers} {body!r} ({len(self.body)} bytes)"


BODIES = [b"", b"{", b"[]", b"null", b"\"x\"", b"\xff\xfe\x00", b"{\"a\": 1}{", b"[" * 100_000 + b"]" * 100_000,
          b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"{\"a\": NaN}", b"{\"a\": \"\\ud800\"}", b"\x00" * 10,
          b"{\"a\": 1, \"a\": 2}", b"1e999", b" " * 1000]


def _latin1(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


def build(data: st.DataObject, service: ServiceModel, op: OperationModel, pools: dict[str, list[Any]]
          ) -> tuple[Wire, int]:
    shape = op.input_shape
    mood = Mood(data.draw(st.integers(0, 3), label="hostility"), pools)
    doc = structure(data, shape, 0, mood) if shape is not None else {}
    spoil_body = mood.level > 0 and data.draw(st.integers(0, 14)) == 14
    if service.protocol == "json":
        target = f"{service.metadata['targetPrefix']}.{op.name}"
        if mood.level and data.draw(st.integers(0, 29)) == 29:
            target = data.draw(st.sampled_from([service.metadata["targetPrefix"], target + "x", ".", f"{target}.x"]))
        headers = {"X-Amz-Target": target,
                   "Content-Type": f"application/x-amz-json-{service.metadata['jsonVersion']}"}
        body = data.draw(st.sampled_from(BODIES)) if spoil_body else encode(doc).encode("utf-8", "surrogatepass")
        return Wire("POST", "/", headers, body), mood.level
    http = op.http
    uri, _, static_query = http["requestUri"].partition("?")
    query: list[tuple[str, str]] = [tuple(p.partition("=")[::2]) for p in static_query.split("&") if p]  # type: ignore
    headers = {}
    body_doc: dict[str, Any] = {}
    payload: bytes | None = None
    members = shape.members if shape is not None else {}
    for name, value in doc.items():
        member = members.get(name)
        location = member.serialization.get("location") if member is not None else None
        wire_name = member.serialization.get("name", name) if member is not None else name
        text = value.text if isinstance(value, Raw) else (value if isinstance(value, str) else encode(value))
        if location == "uri":
            uri = uri.replace("{" + wire_name + "}", quote(text.encode("utf-8", "surrogatepass"), safe=""))
            uri = uri.replace("{" + wire_name + "+}", quote(text.encode("utf-8", "surrogatepass"), safe="/"))
        elif location == "querystring":
            items = value if isinstance(value, list) else [value]
            for item in items:
                item_text = item if isinstance(item, str) else encode(item)
                query.append((wire_name, item_text))
        elif location == "header":
            headers[wire_name] = _latin1(text)[:8000]
        elif location == "headers":
            continue
        elif member is not None and member.serialization.get("payload") or \
                (shape is not None and shape.serialization.get("payload") == name):
            # the operation's payload (Invoke's): the function's event, JSON
            payload = (json_text(data, "Payload") if mood.level else VALID_DOCS["Payload"]).encode(
                "utf-8", "surrogatepass")
        else:
            body_doc[wire_name] = value
    # a required path parameter left out: its place gets something
    uri = re.sub(r"\{\w+\+?\}", lambda m: data.draw(st.sampled_from(["x", "%00", "%ff", "%2F", "", "%zz"])), uri)
    path = uri + ("?" + urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in query]) if query else "")
    if spoil_body:
        body = data.draw(st.sampled_from(BODIES))
    elif payload is not None:
        body = payload
    elif body_doc or http["method"] in ("POST", "PUT", "PATCH"):
        body = encode(body_doc).encode("utf-8", "surrogatepass")
    else:
        body = b""
    if mood.level and data.draw(st.integers(0, 29)) == 29:
        method = data.draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
    else:
        method = http["method"]
    headers.setdefault("Content-Type", "application/json")
    return Wire(method, path, headers, body), mood.level


# -- sending, and what every answer must be --------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def message(self) -> str:
        try:
            doc = json.loads(self.body)
        except ValueError:
            return self.body.decode(errors="replace")
        if isinstance(doc, dict):
            return str(doc.get("message") or doc.get("Message") or doc.get("errorMessage") or "")
        return ""


class Client:
    def __init__(self, endpoint: str) -> None:
        self.host, port = endpoint.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.conn: http.client.HTTPConnection | None = None

    def send(self, wire: Wire) -> Answer:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            try:
                self.conn.request(wire.method, wire.path, body=wire.body, headers=wire.headers)
                resp = self.conn.getresponse()
                body = resp.read()
                answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
                if resp.will_close:
                    self.close()
                return answer
            except (ConnectionError, http.client.HTTPException, TimeoutError, OSError):
                self.close()
                if attempt:
                    raise
            except (OverflowError, ValueError) as exc:      # an answer whose framing cannot be read
                self.close()
                raise AssertionError(f"the answer to {wire!r} could not be read: {exc!r}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Findings:
    """Where the server answered 500 with no clear message (survey mode records them all)."""

    server: CumuloServer
    seen_lines: int = 0
    places: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)   # (operation, status): how deep it got
    careful: Counter[tuple[str, str]] = field(default_factory=Counter)    # why careful requests were refused
    examples: dict[str, str] = field(default_factory=dict)

    def failures_logged(self) -> list[str]:
        """Tracebacks the server logged since the last call: the last frame and the exception."""
        lines = self.server.lines[self.seen_lines:]
        self.seen_lines += len(lines)
        out, current = [], None
        for line in lines:
            if "unexpected failure" in line:
                current = []
                out.append(current)
            elif current is not None:
                current.append(line)
        places = []
        for tb in out:
            frames = [ln.strip() for ln in tb if ln.strip().startswith("File ")]
            last = frames[-1] if frames else "?"
            exc = next((ln for ln in reversed(tb) if ln and not ln.startswith(" ")), "?")
            places.append(f"{last} :: {exc[:160]}")
        return places


def check(answer: Answer, service: ServiceModel, wire: Wire, findings: Findings, elapsed: float) -> None:
    problems = []
    if answer.status >= 500:
        message = answer.message()
        if not message or GENERIC_500 in message.lower():
            problems.append(f"{answer.status} without a clear message: {message!r}")
    elif answer.status >= 400:
        if service.protocol == "json" and wire.path == "/" and "x-amzn-errortype" not in answer.headers:
            try:
                doc = json.loads(answer.body)
            except ValueError:
                doc = None
            if not isinstance(doc, dict) or "__type" not in doc or "message" not in doc:
                problems.append(f"{answer.status}: not the JSON protocol's error shape: {answer.body[:200]!r}")
            elif service.metadata.get("awsQueryCompatible") is not None and "x-amzn-query-error" not in answer.headers:
                problems.append(f"{answer.status}: SQS error without x-amzn-query-error")
        elif service.protocol != "json" and "x-amzn-errortype" not in answer.headers:
            problems.append(f"{answer.status}: REST-JSON error without x-amzn-ErrorType: {answer.body[:200]!r}")
    if elapsed > REQUEST_TIMEOUT_S / 2:
        problems.append(f"took {elapsed:.1f} s")
    if not problems:
        return
    time.sleep(0.2)                 # the server's log is read by a thread: its traceback, if any
    places = findings.failures_logged()
    where = "; ".join(places) or "(nothing logged)"
    if SURVEY:
        for problem in problems:
            key = f"{where} || {problem[:120]}"
            findings.places[key] += 1
            findings.examples.setdefault(key, repr(wire)[:600])
        return
    raise AssertionError(f"{'; '.join(problems)}\n  request: {wire!r}\n  server: {where}")


# -- the tests ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CumuloServer, Seeds, Findings]]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    server = CumuloServer(home, "--no-auth")
    try:
        seeds = _seed(server)
        findings = Findings(server)
        findings.failures_logged()
        yield server, seeds, findings
        if SURVEY:
            print(f"\n== {sum(findings.places.values())} findings in {len(findings.places)} places")
            by_op: dict[str, Counter[int]] = {}
            for (name, status), count in findings.statuses.items():
                by_op.setdefault(name, Counter())[status] += count
            for name, counts in sorted(by_op.items()):
                print(f"  {name}: {dict(sorted(counts.items()))}")
            for (name, why), count in sorted(findings.careful.items()):
                print(f"  careful {name}: {count} x {why}")
            for key, count in findings.places.most_common():
                print(f"{count:5d}  {key}\n         e.g. {findings.examples[key]}")
    finally:
        server.close()


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
                phases=[Phase.explicit, Phase.generate] if SURVEY else [Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck))


_DESTRUCTIVE = ("Delete", "Purge", "Remove", "Untag", "Cancel", "Stop", "Disable")
CASES = [pytest.param(s, op, id=f"{s}.{op.name}") for s in SERVICES
         for op in sorted(OPERATIONS[s], key=lambda op: op.name.startswith(_DESTRUCTIVE))]    # seeds live longer


@pytest.mark.parametrize(("service_name", "op"), CASES)
def test_hostile_requests_never_break_the_server(fuzzed: tuple[CumuloServer, Seeds, Findings],
                                                 service_name: str, op: OperationModel) -> None:
    server, seeds, findings = fuzzed
    assert server.proc.poll() is None, server.output[-3000:]
    service = _BOTOCORE.get_service_model(service_name)
    client = Client(server.endpoint)

    @FUZZ
    @given(st.data())
    @seed(int(SEED or 0))
    def one(data: st.DataObject) -> None:
        wire, level = build(data, service, op, seeds.names)
        started = time.monotonic()
        answer = client.send(wire)
        findings.statuses[(f"{service_name}.{op.name}", answer.status)] += 1
        if SURVEY and level == 0 and answer.status >= 400:
            findings.careful[(f"{service_name}.{op.name}", f"{answer.status} {answer.message()[:150]}")] += 1
        check(answer, service, wire, findings, time.monotonic() - started)

    try:
        one()
    finally:
        client.close()
    assert server.proc.poll() is None, server.output[-3000:]


# -- the HTTP API gateway: hostile requests, and functions that answer anything at all ---------------------
RAW_BOOTSTRAP = """#!{python} -IS
# Answers each invocation with the bytes the caller put in its x-out header (base64), else its body:
# the gateway then maps whatever a function may answer. An authorizer's event has no body.
import base64, json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    headers = {{k.lower(): v for k, v in (event.get("headers") or {{}}).items()}}
    if "x-out" in headers:
        out = base64.b64decode(headers["x-out"].split(",")[0])
    else:
        body = event.get("body") or ""
        out = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=out, method="POST")).close()
"""

DEEP = b"[" * 3000 + b"]" * 3000
OUTPUTS = [
    b'{"statusCode": 200, "body": "ok"}', b"", b"null", b"NaN", b"\xff\xfe", b'"\\ud800"', DEEP,
    b'{"statusCode": 200, "body": "x", "headers": {"a": ' + DEEP + b"}}", b'{"a": ' + DEEP + b"}",
    b'{"statusCode": NaN}', b'{"statusCode": 1e999}', b'{"statusCode": 99999999999999999999}',
    b'{"statusCode": "abc"}', b'{"statusCode": -1}', b'{"statusCode": 200.5}', b'{"statusCode": true}',
    b'{"statusCode": "200"}', b'{"statusCode": 200, "headers": {"a": [1, 2]}}',
    b'{"statusCode": 200, "headers": {"a": null, "b": 1e999}}', b'{"statusCode": 200, "headers": "x"}',
    b'{"statusCode": 200, "headers": {"\\n": "x", "": "y"}}', b'{"statusCode": 200, "headers": {"a": "\\r\\nX: 1"}}',
    b'{"statusCode": 200, "multiValueHeaders": {"a": "x"}}',
    b'{"statusCode": 200, "multiValueHeaders": {"a": [null, 1, {}]}}',
    b'{"statusCode": 200, "cookies": "x"}', b'{"statusCode": 200, "cookies": [1, null]}',
    b'{"statusCode": 200, "cookies": ["a\\r\\nb"]}', b'{"statusCode": 200, "body": 5}',
    b'{"statusCode": 200, "body": null}',
    b'{"statusCode": 200, "body": {"a": 1}}', b'{"statusCode": 200, "isBase64Encoded": true, "body": "!!!"}',
    b'{"statusCode": 200, "isBase64Encoded": "yes", "body": "QQ=="}', b'{"statusCode": 200, "body": "\\ud800"}',
    b'"' + b"x" * 300_000 + b'"', b'{"statusCode": 200, "headers": {"content-length": "99999999999999999999"}}',
    b'{"statusCode": 200, "headers": {"transfer-encoding": "chunked"}, "body": "x"}',
    b'{"statusCode": 204, "body": "not empty"}', b'{"statusCode": 100}', b'{"statusCode": 0}',
    # authorizer verdicts
    b'{"isAuthorized": true}', b'{"isAuthorized": true, "context": ' + DEEP + b"}", b'{"isAuthorized": "yes"}',
    b'{"isAuthorized": true, "context": {"a": NaN, "b": [[[]]], "c": "\\ud800"}}',
    b'{"principalId": "u", "policyDocument": {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", '
    b'"Resource": "*"}]}}', b'{"principalId": 5, "policyDocument": "x"}',
    b'{"principalId": "u", "policyDocument": {"Statement": [{"Effect": "Allow", "Resource": ["' + b"*?" * 5000
    + b'"]}]}}',
    b'{"principalId": "u", "policyDocument": {"Statement": ' + DEEP + b"}}",
]


@pytest.fixture(scope="module")
def gateway(fuzzed: tuple[CumuloServer, Seeds, Findings]) -> Iterator[tuple[str, str]]:
    """An API of hostile routes: functions answering raw bytes, Lambda and JWT authorizers, API keys."""
    server, _, _ = fuzzed
    lam, v2 = _aws(server, "lambda"), _aws(server, "apigatewayv2")
    import sys as _sys
    bootstrap = RAW_BOOTSTRAP.format(python=os.path.realpath(_sys.executable))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("bootstrap", (2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        zf.writestr(info, bootstrap)
    lam.create_function(FunctionName="fz-raw", Runtime="provided.al2023", Role="arn:aws:iam::000000000000:role/fz",
                        Handler="x", Code={"ZipFile": buffer.getvalue()}, Timeout=5)
    fn_arn = "arn:aws:lambda:us-east-1:000000000000:function:fz-raw"
    api = v2.create_api(Name="fz-gw", ProtocolType="HTTP")["ApiId"]
    v2_int = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn,
                                   PayloadFormatVersion="2.0")["IntegrationId"]
    v1_int = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn,
                                   PayloadFormatVersion="1.0")["IntegrationId"]
    simple = v2.create_authorizer(ApiId=api, Name="simple", AuthorizerType="REQUEST", AuthorizerUri=fn_arn,
                                  IdentitySource=["$request.header.x-out"], AuthorizerPayloadFormatVersion="2.0",
                                  EnableSimpleResponses=True, AuthorizerResultTtlInSeconds=0)["AuthorizerId"]
    policy = v2.create_authorizer(ApiId=api, Name="policy", AuthorizerType="REQUEST", AuthorizerUri=fn_arn,
                                  IdentitySource=["$request.header.x-out"], AuthorizerPayloadFormatVersion="1.0",
                                  AuthorizerResultTtlInSeconds=0)["AuthorizerId"]
    jwt = v2.create_authorizer(ApiId=api, Name="jwt", AuthorizerType="JWT",
                               IdentitySource=["$request.header.Authorization"],
                               JwtConfiguration={"Issuer": "https://issuer.invalid", "Audience": ["a"]})["AuthorizerId"]
    for key, target, extra in [
        ("ANY /raw/{proxy+}", v2_int, {}), ("ANY /v1/{proxy+}", v1_int, {}),
        ("GET /simple/{proxy+}", v2_int, {"AuthorizationType": "CUSTOM", "AuthorizerId": simple}),
        ("GET /policy/{proxy+}", v1_int, {"AuthorizationType": "CUSTOM", "AuthorizerId": policy}),
        ("GET /jwt/{proxy+}", v2_int, {"AuthorizationType": "JWT", "AuthorizerId": jwt,
                                       "AuthorizationScopes": ["read"]}),
        ("GET /key/{id}", v2_int, {"ApiKeyRequired": True}),
        ("POST /items/{id}/{rest+}", v2_int, {}), ("$default", v2_int, {}),
    ]:
        v2.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{target}", **extra)
    v2.create_stage(ApiId=api, StageName="s", DefaultRouteSettings={"ThrottlingRateLimit": 1e6,
                                                                     "ThrottlingBurstLimit": 100000})
    lam.close()
    v2.close()
    info_doc = json.loads((server.home / "server.json").read_text())
    yield info_doc["gateway"], api


GW_PATHS = ["/raw/a", "/v1/a/b", "/simple/x", "/policy/x", "/jwt/x", "/key/1", "/items/1/2/3", "/other",
            "/raw/%00", "/raw/%ff%fe", "/raw/..%2F..%2Fetc", "/raw/" + "a" * 3000, "/raw/%C3%A9",
            "//raw//a", "/raw/a?x=1&x=2&%zz=%", "/raw/a;b", "/s/raw/a", "/s/v1/x", "/nostage/raw/x"]


def test_the_gateway_maps_whatever_functions_answer(gateway: tuple[str, str],
                                                    fuzzed: tuple[CumuloServer, Seeds, Findings]) -> None:
    """Hostile requests to an HTTP API whose function (and authorizers) answer hostile bytes: the
    gateway answers as API Gateway does (500 "Internal Server Error" for what it cannot map),
    never fails inside, and keeps serving."""
    url, api = gateway
    server, _, findings = fuzzed
    client = Client(url)

    @settings(FUZZ, max_examples=EXAMPLES * 8)
    @given(st.data())
    @seed(int(SEED or 0))
    def one(data: st.DataObject) -> None:
        path = f"/{api}" + data.draw(st.sampled_from(GW_PATHS))
        method = data.draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO"]))
        output = data.draw(st.sampled_from(OUTPUTS))
        headers = {"x-out": base64.b64encode(output).decode()} if len(output) < 6000 else {}
        body = output if not headers else data.draw(st.sampled_from([b"", b"{}", b"\x00\xff", b"x" * 70_000]))
        for _ in range(data.draw(st.integers(0, 3))):
            name = data.draw(st.sampled_from(["Authorization", "Cookie", "X-Api-Key", "Content-Type", "Origin",
                                              "X-Forwarded-For", "Host", "x-y", "Content-Encoding"]))
            headers[name] = data.draw(st.sampled_from([
                "Bearer x.y.z", "Bearer " + "a" * 2000, "a=b; c", "", "\t", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
                "text/plain; charset=x", "gzip", "999.999.999.999", f"{api}.execute-api.localhost"]))
        started = time.monotonic()
        answer = client.send(Wire(method, path, headers, body))
        elapsed = time.monotonic() - started
        problems = []
        if elapsed > REQUEST_TIMEOUT_S / 2:
            problems.append(f"took {elapsed:.1f} s")
        if answer.status == 500 and method != "HEAD" and answer.body not in (b'{"message":"Internal Server Error"}',
                                                        b'{"message": "Internal Server Error"}'):
            problems.append(f"500 {answer.body[:300]!r}")
        time.sleep(0.02)
        lines = server.lines[findings.seen_lines:]
        findings.seen_lines += len(lines)
        failed = [line for line in lines if "HTTP handler failed" in line or "Traceback" in line]
        if failed:
            problems.append("the gateway failed: " + "\n".join(lines)[-1500:])
        if problems and SURVEY:
            key = f"gateway: {problems[-1][-300:]}"
            findings.places[key] += 1
            findings.examples.setdefault(key, f"{method} {path} {headers} {output[:200]!r}")
        elif problems:
            raise AssertionError(f"{method} {path} {headers} {body[:200]!r} -> {answer.status}: {problems}")

    try:
        one()
    finally:
        client.close()
    assert server.proc.poll() is None, server.output[-3000:]


def test_the_server_kept_everything_it_accepted(fuzzed: tuple[CumuloServer, Seeds, Findings]) -> None:
    """After the run (this test comes last in the module): canaries intact, the server stops
    cleanly, the databases pass SQLite's integrity check, and a new server sees the same."""
    server, seeds, findings = fuzzed
    _check_canaries(server, seeds)
    assert server.stop() == 0
    for db in ("cumulo.db", "queues.db"):
        with sqlite3.connect(server.home / db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again = CumuloServer(server.home, "--no-auth")
    try:
        _check_canaries(again, seeds)
    finally:
        again.close()
    assert "unexpected failure" not in server.output or SURVEY
