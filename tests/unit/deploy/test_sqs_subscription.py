"""SAM's ``SqsSubscription`` on a function's ``SNS`` event, expanded as SAM does (``kinds/topic.py``
``sqs_subscriptions``): the resources made and their logical ids, the event turned into an ``SQS``
one, the queue given instead of made, and anything else refused with the event named."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.deploy.kinds.base import TemplateError
from cumulo.deploy.kinds.topic import sqs_subscriptions


def function(sqs_subscription: Any, **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"Paid": {"Type": "SNS", "Properties": {
        "Topic": {"Ref": "Orders"}, "SqsSubscription": sqs_subscription, **extra}}}}}


def test_true_makes_a_queue_its_policy_and_the_subscription_and_feeds_the_function_from_the_queue() -> None:
    resource = function(True, FilterPolicy={"kind": ["paid"]})
    made = {e.logical_id: e for e in sqs_subscriptions("Fn", resource, 3)}
    assert {k: e.type for k, e in made.items()} == {
        "FnPaidQueue": "AWS::SQS::Queue", "FnPaidQueuePolicy": "AWS::SQS::QueuePolicy", "FnPaid": "AWS::SNS::Subscription"}
    arn = {"Fn::GetAtt": ["FnPaidQueue", "Arn"]}
    assert dict(made["FnPaid"].properties) == {"TopicArn": {"Ref": "Orders"}, "Protocol": "sqs", "Endpoint": arn,
                                               "FilterPolicy": {"kind": ["paid"]}}
    assert made["FnPaidQueuePolicy"].properties["Queues"] == [{"Ref": "FnPaidQueue"}]
    [statement] = made["FnPaidQueuePolicy"].properties["PolicyDocument"]["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "Orders"}}}
    event = resource["Properties"]["Events"]["Paid"]
    assert (event["Type"], dict(event["Properties"])) == ("SQS", {"Queue": arn, "BatchSize": 10})
    assert sqs_subscriptions("Fn", resource, 3) == []          # expanded once: now an SQS event


def test_a_queue_given_is_used_and_batch_size_enabled_and_the_policy_id_kept() -> None:
    resource = function({"QueueArn": "arn:aws:sqs:us-east-1:1:q", "QueueUrl": "http://q", "BatchSize": 5,
                         "Enabled": False, "QueuePolicyLogicalId": "MyPolicy"})
    made = {e.logical_id: e.type for e in sqs_subscriptions("Fn", resource, 3)}
    assert made == {"MyPolicy": "AWS::SQS::QueuePolicy", "FnPaid": "AWS::SNS::Subscription"}
    assert dict(resource["Properties"]["Events"]["Paid"]["Properties"]) == {
        "Queue": "arn:aws:sqs:us-east-1:1:q", "BatchSize": 5, "Enabled": False}


@given(st.one_of(st.integers().filter(bool), st.text(min_size=1),
                 st.dictionaries(st.sampled_from(["QueueArn", "QueueUrl", "BatchSize", "Enabled", "Queue", ""]),
                                 st.integers(), min_size=1)))
def test_anything_else_is_refused_naming_the_event(value: Any) -> None:
    if isinstance(value, dict) and (set(value) <= {"BatchSize", "Enabled"} or
                                    set(value) >= {"QueueArn", "QueueUrl"} and set(value) <= {
                                        "QueueArn", "QueueUrl", "BatchSize", "Enabled"}):
        return          # a valid map
    with pytest.raises(TemplateError, match="event Paid: SqsSubscription"):
        sqs_subscriptions("Fn", function(value), 3)
