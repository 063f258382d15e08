"""CBOR, as botocore writes and reads it (api/cbor.py): botocore's own serializer and parser are the oracle."""

from __future__ import annotations

import datetime
import math
from typing import Any

import botocore.session
import pytest
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer
from hypothesis import given, strategies as st

from cumulo.api import cbor

values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 64) + 1, max_value=2 ** 64 - 1)
    | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30)


@given(values)
def test_what_is_encoded_decodes_to_itself(value: Any) -> None:
    assert cbor.decode(cbor.encode(value)) == value


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_cbor_error(data: bytes) -> None:
    try:
        cbor.decode(data)
    except cbor.CBORError:
        pass


def test_deep_nesting_and_huge_lengths_are_refused() -> None:
    with pytest.raises(cbor.CBORError):
        cbor.decode(b"\x81" * 100 + b"\x00")
    with pytest.raises(cbor.CBORError):
        cbor.decode(b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff")      # an array of 2^64-1 items, no bytes


def test_botocore_requests_decode_and_our_replies_parse() -> None:
    model = botocore.session.get_session().get_service_model("cloudwatch")
    op = model.operation_model("PutMetricData")
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    request = RpcV2CBORSerializer().serialize_to_request(
        {"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.5, "Timestamp": when,
                                              "Dimensions": [{"Name": "a", "Value": "b"}], "Counts": [1.0]}]}, op)
    assert request["url_path"] == "/service/GraniteServiceVersion20100801/operation/PutMetricData"
    doc = cbor.decode(request["body"])
    assert doc["MetricData"][0]["Timestamp"] == when.timestamp() and doc["MetricData"][0]["Value"] == 1.5
    out = model.operation_model("GetMetricStatistics").output_shape
    body = cbor.encode({"Label": "m", "Datapoints": [{"Timestamp": cbor.Timestamp(when.timestamp()), "Sum": 2.0}]})
    parsed = RpcV2CBORParser().parse({"status_code": 200, "headers": {}, "body": body}, out)
    assert parsed["Datapoints"][0]["Timestamp"] == when and math.isclose(parsed["Datapoints"][0]["Sum"], 2.0)
