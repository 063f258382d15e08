"""Resource-based policies through unchanged boto3: Lambda's AddPermission / GetPolicy / RemovePermission (AWS's
request and answer shapes, its errors), and a queue's Policy attribute (SetQueueAttributes checks it as IAM does)."""

from __future__ import annotations

import json
from typing import Callable, Iterator

import boto3
from botocore.config import Config

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from test_server import CumuloServer, create, error_of, lam, server, unique  # noqa: F401

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

ACCOUNT = "000000000000"


@pytest.fixture
def fn(lam: BaseClient) -> str:
    name = unique("perm")
    create(lam, name)
    return name


@pytest.fixture(scope="module")
def sqs(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.aws("sqs")
    yield client
    client.close()


def test_add_permission_answers_the_statement_aws_writes(lam: BaseClient, fn: str) -> None:
    resp = lam.add_permission(FunctionName=fn, StatementId="rule", Action="lambda:InvokeFunction",
                              Principal="events.amazonaws.com",
                              SourceArn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly", SourceAccount=ACCOUNT)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(resp["Statement"]) == {
        "Sid": "rule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}",
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                      "ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly"}}}
    lam.add_permission(FunctionName=fn, StatementId="other-account", Action="lambda:GetFunction",
                       Principal="210987654321")
    policy = lam.get_policy(FunctionName=fn)
    doc = json.loads(policy["Policy"])
    assert doc["Version"] == "2012-10-17" and doc["Id"] == "default"
    assert [s["Sid"] for s in doc["Statement"]] == ["rule", "other-account"]
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert policy["RevisionId"]


def test_a_statement_id_twice_is_a_conflict(lam: BaseClient, fn: str) -> None:
    lam.add_permission(FunctionName=fn, StatementId="s1", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    with pytest.raises(ClientError) as info:
        lam.add_permission(FunctionName=fn, StatementId="s1", Action="lambda:InvokeFunction", Principal="*")
    assert error_of(info) == ("ResourceConflictException", 409)
    assert info.value.response["Error"]["Message"] == (
        "The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing "
        "statement.")


def test_revision_ids_guard_changes(lam: BaseClient, fn: str) -> None:
    lam.add_permission(FunctionName=fn, StatementId="s1", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    revision = lam.get_policy(FunctionName=fn)["RevisionId"]
    with pytest.raises(ClientError) as info:
        lam.add_permission(FunctionName=fn, StatementId="s2", Action="lambda:InvokeFunction",
                           Principal="sns.amazonaws.com", RevisionId="not-" + revision)
    assert error_of(info) == ("PreconditionFailedException", 412)
    lam.add_permission(FunctionName=fn, StatementId="s2", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", RevisionId=revision)
    with pytest.raises(ClientError) as info:
        lam.remove_permission(FunctionName=fn, StatementId="s1", RevisionId=revision)
    assert error_of(info) == ("PreconditionFailedException", 412)


def test_remove_permission_and_get_policy_when_there_is_none(lam: BaseClient, fn: str) -> None:
    with pytest.raises(ClientError) as info:
        lam.get_policy(FunctionName=fn)
    assert error_of(info) == ("ResourceNotFoundException", 404)
    lam.add_permission(FunctionName=fn, StatementId="s1", Action="lambda:InvokeFunction", Principal="*")
    with pytest.raises(ClientError) as info:
        lam.remove_permission(FunctionName=fn, StatementId="nope")
    assert error_of(info) == ("ResourceNotFoundException", 404)
    assert info.value.response["Error"]["Message"] == "Statement nope is not found in resource policy."
    assert lam.remove_permission(FunctionName=fn, StatementId="s1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=fn)


def test_a_qualified_permission_is_the_alias_own_and_latest_is_refused(lam: BaseClient, fn: str) -> None:
    version = lam.publish_version(FunctionName=fn)["Version"]
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)
    resp = lam.add_permission(FunctionName=fn, Qualifier="live", StatementId="s", Action="lambda:InvokeFunction",
                              Principal="events.amazonaws.com")
    assert json.loads(resp["Statement"])["Resource"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}:live"
    assert json.loads(lam.get_policy(FunctionName=f"{fn}:live")["Policy"])["Statement"][0]["Sid"] == "s"
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=fn)                  # the unqualified function has none
    with pytest.raises(ClientError) as info:
        lam.add_permission(FunctionName=fn, Qualifier="$LATEST", StatementId="s", Action="lambda:InvokeFunction",
                           Principal="*")
    assert error_of(info) == ("InvalidParameterValueException", 400)
    lam.delete_alias(FunctionName=fn, Name="live")       # its policy goes with it
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=fn, Qualifier="live")


def test_bad_members_are_validation_errors(lam: BaseClient, fn: str) -> None:
    with pytest.raises(ClientError) as info:
        lam.add_permission(FunctionName=fn, StatementId="bad id", Action="lambda:InvokeFunction", Principal="*")
    assert error_of(info) == ("ValidationException", 400)
    with pytest.raises(ClientError) as info:
        lam.add_permission(FunctionName=fn, StatementId="s", Action="sqs:SendMessage", Principal="*")
    assert error_of(info) == ("ValidationException", 400)
    with pytest.raises(ClientError) as info:
        lam.add_permission(FunctionName=unique("missing"), StatementId="s", Action="lambda:InvokeFunction",
                           Principal="*")
    assert error_of(info) == ("ResourceNotFoundException", 404)


def test_a_queue_policy_is_read_as_iam_reads_it(sqs: BaseClient) -> None:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "rules", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": "sqs:SendMessage", "Resource": arn}]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"] == policy
    with pytest.raises(ClientError) as info:      # no Principal in a resource policy
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": arn}]})})
    assert info.value.response["Error"]["Code"] == "InvalidAttributeValue"
    assert "Invalid value for the parameter Policy" in info.value.response["Error"]["Message"]


# -- an event bus's policy (EventBridge's PutPermission / RemovePermission) --------------------------

@pytest.fixture(scope="module")
def events(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.aws("events")
    yield client
    client.close()


def _error(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"].get("Message", "")


def test_bus_permissions_are_the_statements_aws_writes(events: BaseClient) -> None:
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{bus}"
    assert "Policy" not in events.describe_event_bus(Name=bus)
    events.put_permission(EventBusName=bus, Action="events:PutEvents", Principal="111122223333", StatementId="partner")
    events.put_permission(EventBusName=bus, Action="events:PutEvents", Principal="*", StatementId="org",
                          Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-abc123"})
    policy = json.loads(events.describe_event_bus(Name=bus)["Policy"])
    assert policy["Statement"] == [
        {"Sid": "partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "events:PutEvents", "Resource": arn},
        {"Sid": "org", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": arn,
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}]
    events.remove_permission(EventBusName=bus, StatementId="partner")
    assert [s["Sid"] for s in json.loads(events.describe_event_bus(Name=bus)["Policy"])["Statement"]] == ["org"]
    assert _error(lambda: events.remove_permission(EventBusName=bus, StatementId="partner")) == \
        ("ResourceNotFoundException", "Statement with the provided id does not exist.")
    events.remove_permission(EventBusName=bus, RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus(Name=bus)
    events.delete_event_bus(Name=bus)


def test_bad_bus_permissions_are_refused(events: BaseClient) -> None:
    for bad in ({"Action": "events:DeleteRule", "Principal": "*", "StatementId": "x"},
                {"Action": "events:PutEvents", "Principal": "12", "StatementId": "x"},
                {"Action": "events:PutEvents", "Principal": "*", "StatementId": "no spaces"},
                {"Policy": '{"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps"}]}'}):
        assert _error(lambda: events.put_permission(**bad))[0] == "ValidationException", bad
    assert _error(lambda: events.put_permission(EventBusName="nowhere", Action="events:PutEvents", Principal="*",
                                                  StatementId="x"))[0] == "ResourceNotFoundException"


def test_a_bus_policy_naming_a_role_lets_it_put_events(server: CumuloServer, events: BaseClient) -> None:
    """Same account: the role has no identity policy for events:PutEvents; the bus's policy naming the
    role allows it, as IAM evaluates a resource policy."""
    iam = server.aws("iam")
    role = unique("publisher")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    creds = server.aws("sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    as_role = boto3.session.Session().client(
        "events", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 0}))
    bus = unique("guarded")
    events.create_event_bus(Name=bus)
    entry = [{"Source": "app", "DetailType": "t", "Detail": "{}", "EventBusName": bus}]
    assert _error(lambda: as_role.put_events(Entries=entry))[0] == "AccessDeniedException"
    events.put_permission(EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "role", "Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{bus}"}]}))
    assert as_role.put_events(Entries=entry)["FailedEntryCount"] == 0


def _service_may_send(queue: str, service: str, source: str) -> str:
    """A queue policy as AWS's guides write it: ``service`` may send, for ``source`` only."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sqs:SendMessage", "Resource": queue,
        "Condition": {"ArnEquals": {"aws:SourceArn": source}}}]})


def test_a_rule_delivers_to_a_queue_whose_policy_allows_that_rule_only(server: CumuloServer, sqs: BaseClient,
                                                                        events: BaseClient) -> None:
    from test_async import drain, queue_arn

    url, dlq = sqs.create_queue(QueueName=unique("ruled"))["QueueUrl"], sqs.create_queue(QueueName=unique("dlq"))[
        "QueueUrl"]
    arn = queue_arn(sqs, url)
    rule, source = unique("r"), unique("src")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn, "DeadLetterConfig": {"Arn": queue_arn(sqs, dlq)}}])
    other = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/someone-else"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _service_may_send(arn, "events.amazonaws.com", other)})
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 1})}])
    dead = drain(sqs, dlq, 1)
    assert len(dead) == 1 and json.loads(dead[0]["Body"])["detail"] == {"n": 1}
    attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "AccessDeniedException" and attributes["RULE_ARN"] == rule_arn
    assert attributes["ERROR_MESSAGE"].startswith(
        f"User: events.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: {arn}")
    assert drain(sqs, url, 1, timeout=1) == []
    # the policy names this rule: delivered
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _service_may_send(arn, "events.amazonaws.com",
                                                                                   rule_arn)})
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 2})}])
    assert [json.loads(m["Body"])["detail"] for m in drain(sqs, url, 1)] == [{"n": 2}]


def test_a_topic_delivers_to_a_queue_whose_policy_allows_that_topic_only(server: CumuloServer,
                                                                          sqs: BaseClient) -> None:
    from test_async import drain, queue_arn

    sns = server.aws("sns")
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    url, dlq = sqs.create_queue(QueueName=unique("sub"))["QueueUrl"], sqs.create_queue(QueueName=unique("dlq"))[
        "QueueUrl"]
    arn = queue_arn(sqs, url)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={
        "RawMessageDelivery": "true", "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq)})})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _service_may_send(
        arn, "sns.amazonaws.com", f"arn:aws:sns:us-east-1:{ACCOUNT}:another-topic")})
    sns.publish(TopicArn=topic, Message="first")
    assert [m["Body"] for m in drain(sqs, dlq, 1)] == ["first"]
    assert drain(sqs, url, 1, timeout=1) == []
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _service_may_send(arn, "sns.amazonaws.com", topic)})
    sns.publish(TopicArn=topic, Message="second")
    assert [m["Body"] for m in drain(sqs, url, 1)] == ["second"]
    sns.close()


def test_a_bucket_notifies_a_queue_whose_policy_allows_that_bucket_only(server: CumuloServer,
                                                                         sqs: BaseClient) -> None:
    """Two queues, each notified of its own prefix: one whose policy lets only another bucket send
    (its notification is refused, never retried), one whose policy names this bucket. Neither
    policy changes while notifications are in flight (they are delivered after the PutObject's
    answer, so a policy changed meanwhile would decide them instead)."""
    from test_async import drain, queue_arn

    s3, bucket = server.aws("s3"), unique("uploads")
    refusing = sqs.create_queue(QueueName=unique("s3no"))["QueueUrl"]
    taking = sqs.create_queue(QueueName=unique("s3yes"))["QueueUrl"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": queue_arn(sqs, url), "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}}
        for url, prefix in ((refusing, "refused/"), (taking, "taken/"))]})
    for url in (refusing, taking):
        assert json.loads(drain(sqs, url, 1)[0]["Body"])["Event"] == "s3:TestEvent"
    sqs.set_queue_attributes(QueueUrl=refusing, Attributes={"Policy": _service_may_send(
        queue_arn(sqs, refusing), "s3.amazonaws.com", "arn:aws:s3:::another-bucket")})
    sqs.set_queue_attributes(QueueUrl=taking, Attributes={"Policy": _service_may_send(
        queue_arn(sqs, taking), "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")})
    s3.put_object(Bucket=bucket, Key="refused/1.txt", Body=b"1")
    s3.put_object(Bucket=bucket, Key="taken/2.txt", Body=b"2")
    got = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in drain(sqs, taking, 1)]
    assert got == ["taken/2.txt"]
    assert drain(sqs, refusing, 1, timeout=3) == []     # refused by the queue's policy, not retried
    s3.close()


def test_a_rule_is_refused_by_a_function_whose_permissions_name_another_rule(
        server: CumuloServer, lam: BaseClient, sqs: BaseClient, events: BaseClient, fn: str) -> None:
    from test_async import drain, queue_arn

    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    rule, source = unique("r"), unique("src")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    function_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "f", "Arn": function_arn,
                                            "DeadLetterConfig": {"Arn": queue_arn(sqs, dlq)}}])
    lam.add_permission(FunctionName=fn, StatementId="other-rule", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/other")
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    dead = drain(sqs, dlq, 1)
    attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert (attributes["ERROR_CODE"], attributes["RULE_ARN"]) == ("AccessDeniedException", rule_arn)
    assert attributes["ERROR_MESSAGE"].startswith("User: events.amazonaws.com is not authorized to perform: "
                                                  f"lambda:InvokeFunction on resource: {function_arn}")


def test_a_mapping_needs_an_execution_role_that_may_read_its_source(server: CumuloServer, lam: BaseClient,
                                                                  sqs: BaseClient) -> None:
    """Lambda polls with the function's execution role: a role Cumulo keeps that may not receive from
    the queue (or read the stream) is refused a mapping, with AWS's message; the grant makes it pass."""
    iam, kinesis = server.aws("iam"), server.aws("kinesis")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role_name = unique("poller")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    name = unique("polled")
    create(lam, name, Role=role)
    queue = sqs.create_queue(QueueName=unique("src"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as info:
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)
    assert error_of(info) == ("InvalidParameterValueException", 400)
    assert info.value.response["Error"]["Message"] == (
        "The provided execution role does not have permissions to call ReceiveMessage on SQS")
    iam.put_role_policy(RoleName=role_name, PolicyName="receive", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage",
                                                "Resource": queue_arn}]}))
    with pytest.raises(ClientError) as info:   # one of the three is not enough
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)
    assert "to call DeleteMessage on SQS" in info.value.response["Error"]["Message"]
    iam.attach_role_policy(RoleName=role_name,
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name)
    assert mapping["EventSourceArn"] == queue_arn
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    kinesis.create_stream(StreamName=(stream := unique("feed")), ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    with pytest.raises(ClientError) as info:
        lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name, StartingPosition="LATEST")
    assert info.value.response["Error"]["Message"] == (
        f"Cannot access stream {stream_arn}. Please ensure the role can perform the GetRecords, GetShardIterator, "
        "DescribeStream, ListShards, and ListStreams Actions on your stream in IAM.")
    iam.attach_role_policy(RoleName=role_name,
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole")
    assert lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name,
                                           StartingPosition="LATEST")["State"] in ("Creating", "Enabled")
    iam.close()
    kinesis.close()


def test_a_rule_delivers_to_a_topic_whose_policy_allows_that_rule_only(server: CumuloServer, sqs: BaseClient,
                                                                        events: BaseClient) -> None:
    """A topic's Policy attribute is its resource policy: a rule's delivery is asked of it (a topic
    whose policy names another rule refuses, to the rule's dead-letter queue), as is a role's publish."""
    from test_async import drain, queue_arn

    sns = server.aws("sns")
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    inbox, dlq = sqs.create_queue(QueueName=unique("inbox"))["QueueUrl"], sqs.create_queue(
        QueueName=unique("dlq"))["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, inbox),
                  Attributes={"RawMessageDelivery": "true"})
    rule, source = unique("r"), unique("src")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": topic, "DeadLetterConfig": {"Arn": queue_arn(sqs, dlq)}}])
    other = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/someone-else"
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=_service_may_send(topic, "events.amazonaws.com", other).replace(
                                 "sqs:SendMessage", "sns:Publish"))
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 1})}])
    dead = drain(sqs, dlq, 1)
    assert len(dead) == 1
    attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "AccessDeniedException"
    assert f"is not authorized to perform: sns:Publish on resource: {topic}" in attributes["ERROR_MESSAGE"]
    assert drain(sqs, inbox, 1, timeout=1) == []
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=_service_may_send(topic, "events.amazonaws.com", rule_arn).replace(
                                 "sqs:SendMessage", "sns:Publish"))
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 2})}])
    assert [json.loads(m["Body"])["detail"] for m in drain(sqs, inbox, 1)] == [{"n": 2}]
    sns.close()
