"""SNS's HTTP/HTTPS delivery policies and signatures, pure: a policy either parses to a retry
schedule that keeps SNS's rules or is refused with ``InvalidParameter``; the string to sign is
the guide's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.model import sns
from cumulo.model.sns import SnsError

ints = st.integers(-5, 4000) | st.booleans() | st.text(max_size=3) | st.none()
retry_policies = st.fixed_dictionaries({}, optional={
    "minDelayTarget": ints, "maxDelayTarget": ints, "numRetries": st.integers(-1, 120) | st.text(max_size=2),
    "numNoDelayRetries": st.integers(-1, 30), "numMinDelayRetries": st.integers(-1, 30),
    "numMaxDelayRetries": st.integers(-1, 30),
    "backoffFunction": st.sampled_from(["linear", "arithmetic", "geometric", "exponential", "cubic", ""])})


@given(retry_policies, st.booleans())
def test_a_policy_parses_to_a_schedule_within_sns_limits_or_is_refused(retry: dict[str, Any], topic: bool) -> None:
    doc = {"http": {"defaultHealthyRetryPolicy": retry}} if topic else {"healthyRetryPolicy": retry}
    try:
        parsed = sns.parse_delivery_policy(json.dumps(doc), topic)
    except SnsError as err:
        assert (err.code, err.status) == ("InvalidParameter", 400)
        assert err.message.startswith("Invalid parameter: DeliveryPolicy: ")
        return
    policy = parsed["retry"]
    delays = sns.retry_delays(policy)
    assert len(delays) == policy["numRetries"]
    assert sum(delays) <= sns.MAX_RETRY_SECONDS
    assert delays[:policy["numNoDelayRetries"]] == [0.0] * policy["numNoDelayRetries"]
    later = delays[policy["numNoDelayRetries"]:]
    assert all(policy["minDelayTarget"] - 1e-9 <= d <= policy["maxDelayTarget"] + 1e-9 for d in later)
    assert later == sorted(later)                    # never shorter than the retry before


@given(st.text(max_size=40))
def test_garbage_is_refused_with_sns_error(text: str) -> None:
    for topic in (True, False):
        try:
            sns.parse_delivery_policy(text, topic)
        except SnsError as err:
            assert err.code == "InvalidParameter"


def test_the_default_is_three_retries_twenty_seconds_apart() -> None:
    assert sns.retry_delays(sns.DEFAULT_RETRY) == [20.0, 20.0, 20.0]
    parsed = sns.parse_delivery_policy(json.dumps({"healthyRetryPolicy": {
        "minDelayTarget": 1, "maxDelayTarget": 60, "numRetries": 6, "numNoDelayRetries": 1,
        "numMinDelayRetries": 1, "numMaxDelayRetries": 1, "backoffFunction": "linear"},
        "requestPolicy": {"headerContentType": "application/json"}}), topic=False)
    assert sns.retry_delays(parsed["retry"]) == pytest.approx([0.0, 1.0, 20.67, 40.33, 60.0, 60.0], abs=0.01)
    assert parsed["contentType"] == "application/json"


@pytest.mark.parametrize("status,retried", [(None, True), (500, True), (503, True), (429, True), (400, False),
                                            (403, False), (404, False)])
def test_client_errors_are_final(status: int | None, retried: bool) -> None:
    assert sns.http_failure_retried(status) is retried


def test_the_string_to_sign_is_the_guides() -> None:
    note = {"Type": "Notification", "MessageId": "m", "TopicArn": "t", "Message": "hi", "Timestamp": "ts",
            "UnsubscribeURL": "u", "SignatureVersion": "1"}
    assert sns.string_to_sign(note) == b"Message\nhi\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
    assert sns.string_to_sign({**note, "Subject": "s"}).startswith(b"Message\nhi\nMessageId\nm\nSubject\ns\n")
    confirm = sns.confirmation("SubscriptionConfirmation", message_id="m", token="tok", topic_arn="t", timestamp="ts",
                               endpoint="http://h", cert_url="c", signature_version="1")
    assert sns.string_to_sign(confirm) == (
        f"Message\n{confirm['Message']}\nMessageId\nm\nSubscribeURL\nhttp://h/?Action=ConfirmSubscription&TopicArn=t"
        "&Token=tok\nTimestamp\nts\nToken\ntok\nTopicArn\nt\nType\nSubscriptionConfirmation\n").encode()
