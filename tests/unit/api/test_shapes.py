"""Request bodies checked against the services' models (``api/shapes.py``) and parsed within
limits (``model/json_limits.py``): what each protocol answers, before any operation runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cumulo.api import awsjson, lambda_api, shapes, shapes_gen
from cumulo.api._shapes import SHAPES
from cumulo.api.http import Request
from cumulo.errors import CumuloError, InvalidRequestContentException, ValidationException
from cumulo.model import json_limits


def test_every_operation_cumulo_serves_has_its_shapes() -> None:
    """A protocol module that serves a new operation regenerates ``_shapes.py``
    (``python -m cumulo.api.shapes_gen``); unchecked, its bodies would reach the store unchecked."""
    pytest.importorskip("botocore")
    served = shapes_gen._served()
    for service, operations in served.items():
        assert set(operations) <= set(SHAPES[service]["ops"]), (service, set(operations) - set(SHAPES[service]["ops"]))
    assert len(served["lambda"]) >= 45 and len(served["sqs"]) == 20


@pytest.mark.parametrize(("doc", "message"), [
    ({"QueueUrl": "u", "MaxNumberOfMessages": "10"}, "Expected an integer, found a string at 'maxNumberOfMessages'"),
    ({"QueueUrl": "u", "MaxNumberOfMessages": 2**31}, "Numeric value (2147483648) out of range of int"),
    ({"QueueUrl": "u", "MaxNumberOfMessages": 1.5}, "Expected an integer, found the number 1.5"),
    ({"QueueUrl": "u", "MaxNumberOfMessages": True}, "Expected an integer, found a boolean"),
    ({"QueueUrl": ["u"]}, "Expected a string, found a list at 'queueUrl'"),
    ({"QueueUrl": "u", "AttributeNames": [{"": None}]},
     "Expected a string, found an object at 'attributeNames.1.member'"),
    ({"QueueUrl": "u", "MessageAttributeNames": "All"}, "Expected a list, found a string"),
])
def test_a_member_of_the_wrong_type_is_named(doc: dict[str, Any], message: str) -> None:
    problems = shapes.check("sqs", "ReceiveMessage", doc)
    assert message in problems.type_message()


def test_required_members_and_nulls() -> None:
    problems = shapes.check("kinesis", "PutRecord", {"Data": None, "PartitionKey": "k", "StreamName": "s"})
    assert not problems.types
    assert problems.missing_message() == ("1 validation error detected: Value null at 'data' failed to satisfy "
                                          "constraint: Member must not be null")
    nested = shapes.check("events", "PutTargets", {"Rule": "r", "Targets": [{"Id": "t"}]})
    assert nested.missing == ["Targets.1.member.Arn"]
    assert "Value null at 'targets.1.member.arn'" in nested.missing_message()


def test_integral_floats_become_integers_and_unknown_members_pass() -> None:
    doc: dict[str, Any] = {"QueueUrl": "u", "MaxNumberOfMessages": 5.0, "NotInTheModel": {"x": [1]}}
    assert not shapes.check("sqs", "ReceiveMessage", doc)
    assert doc["MaxNumberOfMessages"] == 5 and isinstance(doc["MaxNumberOfMessages"], int)
    assert not shapes.check("nope", "Anything", {"a": 1})


class _Empty:
    """A Cumulo whose services list nothing (the pages' tokens are checked after the listing)."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any) -> list[Any]:
        return []


def _awsjson(target: str, body: bytes) -> CumuloError:
    request = Request("POST", "/", "", [("x-amz-target", target)], body)
    found = awsjson.find(request)
    assert found is not None
    with pytest.raises(CumuloError) as info:
        awsjson.handle(_Empty(), request, *found)
    return info.value


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested more than 128 levels deep"),
    (b'{"a":' * 129 + b"1" + b"}" * 129, "nested more than 128 levels deep"),
    (b'{"Limit": NaN}', "NaN is not a JSON number"),
    (b'{"Limit": 1e999}', "out of range of a double"),
    (b'{"Name": "\\ud800"}', "lone UTF-16 surrogate"),
    (b'{"Name": "\xff"}', "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b"{", "not valid JSON"),
])
def test_json_protocols_refuse_bodies_beyond_the_limits(body: bytes, reason: str) -> None:
    err = _awsjson("AWSEvents.ListRules", body)
    assert err.type == "SerializationException" and err.status == 400 and reason in err.message


def test_json_protocols_answer_type_and_missing_member_errors_in_their_own_words() -> None:
    err = _awsjson("Kinesis_20131202.GetRecords", b'{"ShardIterator": 5}')
    assert (err.type, err.status) == ("SerializationException", 400)
    err = _awsjson("Kinesis_20131202.GetRecords", b"{}")
    assert isinstance(err, ValidationException) and "Value null at 'shardIterator'" in err.message
    err = _awsjson("AmazonSQS.SendMessage", b'{"QueueUrl": "u"}')
    assert (err.type, err.message) == ("MissingParameter", "The request must contain the parameter MessageBody.")


@pytest.mark.parametrize("token", ["abc", "-1", "1.5", "\u0661", "99999999999999999999", "1e5", " 1"])
def test_pagination_tokens_are_only_those_given(token: str) -> None:
    err = _awsjson("AWSEvents.ListEventBuses", json.dumps({"NextToken": token}).encode())
    assert err.type == "ValidationException" and "NextToken" in err.message
    err = _awsjson("AWSStepFunctions.ListStateMachines", json.dumps({"nextToken": token}).encode())
    assert err.type == "InvalidToken"


def test_pagination_limits() -> None:
    items = list(range(250))
    assert awsjson.page(items, "Items", {}) == {"Items": items[:100], "NextToken": "100"}
    assert awsjson.page(items, "Items", {"NextToken": "200", "Limit": 100}) == {"Items": items[200:]}
    assert awsjson.page(items, "Items", {"NextToken": ""})["Items"] == items[:100]
    with pytest.raises(ValidationException):
        awsjson.page(items, "Items", {"Limit": 101})
    with pytest.raises(ValidationException):
        awsjson.page(items, "Items", {"Limit": -1})


def _lambda(method: str, path: str, body: bytes) -> CumuloError:
    request = Request(method, path, "", [], body)
    found = lambda_api.route(request)
    assert found is not None
    with pytest.raises(CumuloError) as info:
        found[0](None, request, found[1])     # type: ignore[arg-type]
    return info.value


def test_lambda_answers_invalid_request_content_for_bodies_and_types() -> None:
    err = _lambda("PUT", "/2015-03-31/functions/f/configuration", b'{"Timeout": "3"}')
    assert isinstance(err, InvalidRequestContentException)
    assert err.message == "Could not parse request body into json: Expected an integer, found a string at 'timeout'"
    err = _lambda("PUT", "/2015-03-31/functions/f/configuration", b'{"Timeout": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert isinstance(err, InvalidRequestContentException) and "nested more than 128" in err.message
    err = _lambda("POST", "/2015-03-31/functions", b'{"FunctionName": "f"}')
    assert isinstance(err, ValidationException) and "Value null at 'role'" in err.message


def test_invoke_payloads_are_bounded_in_depth_only() -> None:
    request = Request("POST", "/2015-03-31/functions/f/invocations", "", [], b"[" * 513 + b"]" * 513)
    with pytest.raises(InvalidRequestContentException, match="nested more than 512 levels deep"):
        lambda_api.invoke_call(request, "f")
    for payload in (b"[" * 512 + b"]" * 512, b'{"a": NaN}', b"not json", b'"\\ud800"', b"[[1], [2]]" * 1000):
        lambda_api.invoke_call(Request("POST", "/x", "", [], payload), "f")


def test_json_limits() -> None:
    assert json_limits.loads('{"a": [1, 2.5, "\\ud83d\\ude00"]}') == {"a": [1, 2.5, "\U0001f600"]}
    assert json_limits.loads("[" * 128 + "]" * 128) is not None
    with pytest.raises(json_limits.JsonLimitError):
        json_limits.loads("[" * 129 + "]" * 129)
    with pytest.raises(json_limits.JsonLimitError):
        json_limits.loads('"\ud800"')            # raw in text, not escaped
    with pytest.raises(ValueError):
        json_limits.loads("9" * 5000)             # over Python's 4,300 digits
    assert json_limits.deeper_than(b"[" * 600 + b"]" * 600, 512)
    assert not json_limits.deeper_than(b"[" * 600, 512)     # not JSON: for its reader to say
    assert not json_limits.deeper_than(b"[[]]" * 1000, 512)
