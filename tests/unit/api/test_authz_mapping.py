"""The authorization mapping (``cumulo/api/authz``): every operation the server serves is mapped, to
the actions and resources AWS's Service Authorization Reference names for it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.api import (  # noqa: F401 (the JSON and query protocols register themselves)
    apigateway, apigatewayv2, authz, awsjson, cloudformation, cloudwatch, codedeploy, dynamodb, events, iam, kinesis, kms, lambda_api,
    logs, query, s3, secretsmanager, sns, sqs, ssm, stepfunctions, sts, xray,
)
from cumulo.api.authz import Call, Check, Scope, checks, is_arn

SCOPE = Scope("123456789012", "us-east-1")
URL = "http://127.0.0.1:9000/123456789012/orders"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders"


def served() -> set[tuple[str, str]]:
    """Every (service, operation) a router or JSON protocol of the control plane answers."""
    ops = {(service.model, name) for service in awsjson.services.values() for name in service.operations}
    ops |= {(service.name, name) for service in query.services.values() for name in service.operations}
    ops |= {("s3", name) for name in s3.OPERATIONS}
    for table in (lambda_api._ROUTES, apigateway._ROUTES, apigatewayv2._ROUTES, xray._ROUTES):
        for _, _, handler in table:
            ops.add(handler.operation)
    ops |= {("lambda", "ListProvisionedConcurrencyConfigs"), ("lambda", "GetLayerVersionByArn")}  # on shared paths
    return ops


def test_every_operation_served_is_mapped_and_nothing_else() -> None:
    shared = {("lambda", "ListProvisionedConcurrencyConfigs"), ("lambda", "GetLayerVersionByArn")}
    assert served() - shared - set(authz.MAPPINGS) == set(), "operations served without an authorization mapping"
    assert set(authz.MAPPINGS) - served() == set(), "mappings for operations nobody serves"


def test_an_unmapped_operation_is_refused_not_allowed() -> None:
    with pytest.raises(authz.UnmappedOperation):
        checks(Call("sqs", "NoSuchOperation"), SCOPE)


@pytest.mark.parametrize("call, expected", [
    # SQS: batches are their single action (SQS developer guide, "Amazon SQS batch actions")
    (Call("sqs", "SendMessage", {"QueueUrl": URL}), [("sqs:SendMessage", QUEUE)]),
    (Call("sqs", "SendMessageBatch", {"QueueUrl": URL}), [("sqs:SendMessage", QUEUE)]),
    (Call("sqs", "DeleteMessageBatch", {"QueueUrl": URL}), [("sqs:DeleteMessage", QUEUE)]),
    (Call("sqs", "ChangeMessageVisibilityBatch", {"QueueUrl": URL}), [("sqs:ChangeMessageVisibility", QUEUE)]),
    (Call("sqs", "ReceiveMessage", {"QueueUrl": URL}), [("sqs:ReceiveMessage", QUEUE)]),
    (Call("sqs", "CreateQueue", {"QueueName": "orders"}), [("sqs:CreateQueue", QUEUE)]),
    (Call("sqs", "GetQueueUrl", {"QueueName": "orders", "QueueOwnerAWSAccountId": "210987654321"}),
     [("sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:210987654321:orders")]),
    (Call("sqs", "ListQueues", {}), [("sqs:ListQueues", "*")]),
    (Call("sqs", "StartMessageMoveTask", {"SourceArn": QUEUE + "-dlq"}), [("sqs:StartMessageMoveTask", QUEUE + "-dlq")]),
    # Lambda: the qualifier, in the name or the query, is part of the resource
    (Call("lambda", "Invoke", params={"name": "fn"}), [("lambda:InvokeFunction",
                                                        "arn:aws:lambda:us-east-1:123456789012:function:fn")]),
    (Call("lambda", "Invoke", params={"name": "fn"}, query={"Qualifier": ["prod"]}),
     [("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:fn:prod")]),
    (Call("lambda", "Invoke", params={"name": "fn:7"}), [("lambda:InvokeFunction",
                                                          "arn:aws:lambda:us-east-1:123456789012:function:fn:7")]),
    (Call("lambda", "Invoke", params={"name": "arn:aws:lambda:eu-west-1:210987654321:function:fn"}),
     [("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:210987654321:function:fn")]),
    (Call("lambda", "Invoke", params={"name": "210987654321:function:fn:live"}),
     [("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:210987654321:function:fn:live")]),
    (Call("lambda", "InvokeWithResponseStream", params={"name": "fn"}),
     [("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:fn")]),
    (Call("lambda", "CreateFunction", {"FunctionName": "fn", "Role": "arn:aws:iam::123456789012:role/R"}),
     [("lambda:CreateFunction", "arn:aws:lambda:us-east-1:123456789012:function:fn"),
      ("iam:PassRole", "arn:aws:iam::123456789012:role/R")]),
    (Call("lambda", "ListFunctions"), [("lambda:ListFunctions", "*")]),
    (Call("lambda", "CreateEventSourceMapping", {"FunctionName": "fn"}), [("lambda:CreateEventSourceMapping", "*")]),
    (Call("lambda", "DeleteEventSourceMapping", params={"uuid": "u-1"}),
     [("lambda:DeleteEventSourceMapping", "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:u-1")]),
    (Call("lambda", "GetLayerVersion", params={"layer": "deps", "version": "3"}),
     [("lambda:GetLayerVersion", "arn:aws:lambda:us-east-1:123456789012:layer:deps:3")]),
    (Call("lambda", "GetProvisionedConcurrencyConfig", params={"name": "fn"}, query={"List": ["ALL"]}),
     [("lambda:ListProvisionedConcurrencyConfigs", "arn:aws:lambda:us-east-1:123456789012:function:fn")]),
    # EventBridge: rules on another bus carry the bus in their ARN; PutEvents checks every bus it names
    (Call("events", "PutRule", {"Name": "r", "EventBusName": "orders"}),
     [("events:PutRule", "arn:aws:events:us-east-1:123456789012:rule/orders/r")]),
    (Call("events", "PutTargets", {"Rule": "r"}), [("events:PutTargets", "arn:aws:events:us-east-1:123456789012:rule/r")]),
    (Call("events", "PutEvents", {"Entries": [{"Source": "a"}, {"EventBusName": "orders", "Source": "b"}]}),
     [("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default"),
      ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/orders")]),
    # Step Functions and Kinesis
    (Call("stepfunctions", "StartExecution", {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"}),
     [("states:StartExecution", "arn:aws:states:us-east-1:123456789012:stateMachine:m")]),
    (Call("stepfunctions", "DescribeExecution",
          {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e"}),
     [("states:DescribeExecution", "arn:aws:states:us-east-1:123456789012:execution:m:e")]),
    (Call("kinesis", "PutRecord", {"StreamName": "s"}), [("kinesis:PutRecord",
                                                          "arn:aws:kinesis:us-east-1:123456789012:stream/s")]),
    (Call("kinesis", "PutRecords", {"StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/t"}),
     [("kinesis:PutRecords", "arn:aws:kinesis:us-east-1:123456789012:stream/t")]),
    # API Gateway: the method is the action, the path the resource
    (Call("apigatewayv2", "DeleteRoute", params={"api": "a1", "id": "r1"}),
     [("apigateway:DELETE", "arn:aws:apigateway:us-east-1::/apis/a1/routes/r1")]),
    (Call("apigateway", "CreateApiKey"), [("apigateway:POST", "arn:aws:apigateway:us-east-1::/apikeys")]),
    # DynamoDB's PartiQL: the statement's kind is the action, its table (or index) the resource
    (Call("dynamodb", "ExecuteStatement", {"Statement": 'SELECT * FROM "Music"."ByGenre" WHERE g = 1'}),
     [("dynamodb:PartiQLSelect", "arn:aws:dynamodb:us-east-1:123456789012:table/Music/index/ByGenre")]),
    (Call("dynamodb", "ExecuteStatement", {"Statement": "select 'from' from Music"}),
     [("dynamodb:PartiQLSelect", "arn:aws:dynamodb:us-east-1:123456789012:table/Music")]),
    (Call("dynamodb", "ExecuteStatement", {"Statement": "UPDATE \"Mu\"\"sic\" SET a = 1 WHERE k = 2"}),
     [("dynamodb:PartiQLUpdate", 'arn:aws:dynamodb:us-east-1:123456789012:table/Mu"sic')]),
    (Call("dynamodb", "BatchExecuteStatement", {"Statements": [
        {"Statement": "INSERT INTO Music VALUE {'k': 1}"}, {"Statement": "DELETE FROM Songs WHERE k = 1"},
        {"Statement": "INSERT INTO Music VALUE {'k': 2}"}]}),
     [("dynamodb:PartiQLInsert", "arn:aws:dynamodb:us-east-1:123456789012:table/Music"),
      ("dynamodb:PartiQLDelete", "arn:aws:dynamodb:us-east-1:123456789012:table/Songs")]),
    (Call("dynamodb", "CreateBackup", {"TableName": "Music", "BackupName": "b1"}),
     [("dynamodb:CreateBackup", "arn:aws:dynamodb:us-east-1:123456789012:table/Music")]),
    (Call("dynamodb", "DeleteBackup", {"BackupArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Music/backup/01"}),
     [("dynamodb:DeleteBackup", "arn:aws:dynamodb:us-east-1:123456789012:table/Music/backup/01")]),
    (Call("dynamodb", "RestoreTableFromBackup", {
        "TargetTableName": "Copy", "BackupArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Music/backup/01"}),
     [("dynamodb:RestoreTableFromBackup", "arn:aws:dynamodb:us-east-1:123456789012:table/Copy"),
      ("dynamodb:RestoreTableFromBackup", "arn:aws:dynamodb:us-east-1:123456789012:table/Music/backup/01")]),
    (Call("dynamodb", "ListBackups", {}), [("dynamodb:ListBackups", "*")]),
    (Call("dynamodb", "ExecuteTransaction", {"TransactStatements": [
        {"Statement": "EXISTS(SELECT * FROM Music WHERE k = 1)"}]}),
     [("dynamodb:PartiQLSelect", "arn:aws:dynamodb:us-east-1:123456789012:table/Music")]),
])
def test_operations_map_to_the_reference(call: Call, expected: list[tuple[str, str]]) -> None:
    assert [(c.action, c.resource) for c in checks(call, SCOPE)] == expected


def test_condition_keys_the_requests_carry() -> None:
    owned = {"aws:ResourceAccount": "123456789012"}     # every resource named is the server's account's
    [found] = checks(Call("lambda", "CreateEventSourceMapping", {"FunctionName": "fn:live"}), SCOPE)
    assert found.context == {"lambda:FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:live"}
    [create, passing] = checks(Call("lambda", "CreateFunction", {"FunctionName": "f", "Role": "arn:aws:iam::1:role/R"}),
                               SCOPE)
    assert passing.context == {"iam:PassedToService": "lambda.amazonaws.com", **owned}
    [put] = checks(Call("events", "PutEvents", {"Entries": [{"Source": "a", "DetailType": "t"},
                                                            {"Source": "b", "DetailType": "t"}]}), SCOPE)
    assert put.context == {"events:source": ["a", "b"], "events:detail-type": ["t"], **owned}
    [bucket] = checks(Call("s3", "PutObject", {}, {"bucket": "b", "key": "k"}), SCOPE)
    assert bucket.context["aws:ResourceAccount"] == "123456789012"      # though the bucket's ARN names none
    [listing] = checks(Call("sqs", "ListQueues", {}), SCOPE)
    assert listing.resource == "*" and "aws:ResourceAccount" not in listing.context


def test_a_stack_made_with_a_service_role_asks_to_pass_it_instead_of_making_roles() -> None:
    role = "arn:aws:iam::123456789012:role/cfn-exec"
    assert [(c.action, c.resource) for c in checks(Call("cloudformation", "CreateStack", {"StackName": "s"}), SCOPE)] \
        == [("cloudformation:CreateStack", "arn:aws:cloudformation:us-east-1:123456789012:stack/s/*"),
            ("iam:CreateRole", "*")]
    [_, passing] = checks(Call("cloudformation", "CreateChangeSet", {"StackName": "s", "RoleARN": role}), SCOPE)
    assert (passing.action, passing.resource) == ("iam:PassRole", role)
    assert passing.context["iam:PassedToService"] == "cloudformation.amazonaws.com"
    assert [c.action for c in checks(Call("cloudformation", "CreateChangeSet", {"StackName": "s"}), SCOPE)] == \
        ["cloudformation:CreateChangeSet"]
    assert [c.action for c in checks(Call("cloudformation", "UpdateStack", {"StackName": "s", "RoleARN": role}),
                                     SCOPE)] == ["cloudformation:UpdateStack", "iam:PassRole"]


def test_get_records_is_authorized_on_the_stream_its_iterator_names() -> None:
    from cumulo.sources.streams import _iterator
    [found] = checks(Call("kinesis", "GetRecords", {"ShardIterator": _iterator("clicks", 0, 0, 0)}), SCOPE)
    assert (found.action, found.resource) == ("kinesis:GetRecords", "arn:aws:kinesis:us-east-1:123456789012:stream/clicks")


# -- properties ---------------------------------------------------------------------------------------------

members = st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.text(max_size=5), max_size=2),
                    st.sampled_from([URL, QUEUE, "fn:prod", "arn:aws:lambda:us-east-1:123456789012:function:f:1",
                                     "default", "arn:aws:events:us-east-1:123456789012:event-bus/b"]))
names = st.sampled_from(["QueueUrl", "QueueName", "FunctionName", "Name", "EventBusName", "Rule", "StreamName",
                         "StreamARN", "stateMachineArn", "executionArn", "name", "roleArn", "Role", "RoleArn",
                         "SourceArn", "ArchiveName", "ReplayName", "ShardIterator", "Entries", "Layers"])
path_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(sorted(authz.MAPPINGS)), doc=st.dictionaries(names, members, max_size=5),
       params=st.dictionaries(st.sampled_from(["name", "uuid", "layer", "version", "arn", "api", "id", "key", "plan"]),
                              path_text, max_size=3),
       qualifier=st.sampled_from([[], ["prod"], ["7"], [""]]))
def test_any_request_maps_to_checks_on_valid_arns(op: tuple[str, str], doc: dict[str, Any], params: dict[str, str],
                                                  qualifier: list[str]) -> None:
    """Whatever a request carries, every operation maps (never raises) to at least one check, each an action of
    the form ``service:Action`` on ``*`` or something with an ARN's shape."""
    found = checks(Call(*op, doc=doc, params=params, query={"Qualifier": qualifier} if qualifier else {}), SCOPE)
    assert found or op[0] == "sts"     # STS decides AssumeRole itself; GetCallerIdentity needs no permission
    for check in found:
        vendor, _, action = check.action.partition(":")
        assert vendor and action and action[0].isupper() or vendor == "apigateway", check
        assert is_arn(check.resource) or check.action == "iam:PassRole", check


def test_a_hook_status_is_authorized_on_the_deployments_group() -> None:
    """SAM's hook functions are allowed ``codedeploy:PutLifecycleEventHookExecutionStatus`` on
    ``deploymentgroup:${ServerlessDeploymentApplication}/*``: the group the deployment belongs to."""
    call = Call("codedeploy", "PutLifecycleEventHookExecutionStatus", {"deploymentId": "d-ABCDEFGHI"},
                {"deploymentGroup": "app/group"})
    assert [(c.action, c.resource) for c in checks(call, SCOPE)] == [(
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:app/group")]
    unknown = Call("codedeploy", "GetDeployment", {"deploymentId": "d-ABCDEFGHI"})
    assert checks(unknown, SCOPE) == (Check("codedeploy:GetDeployment", "*"),)
