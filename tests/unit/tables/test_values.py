"""DynamoDB's values (``tables/values.py``): numbers as DynamoDB keeps them, sizes, and key encodings
whose byte order is DynamoDB's order."""

from __future__ import annotations

import base64
from decimal import Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.errors import ValidationException
from cumulo.tables import values as V

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d.is_zero() or -130 <= d.adjusted() <= 125).filter(lambda d: len(Context(prec=100).normalize(d).as_tuple().digits) <= 38)
keys_n = decimals.map(lambda d: {"N": V.normalize_number(str(d))})
keys_s = st.text(min_size=1).map(lambda s: {"S": s})
keys_b = st.binary(min_size=1).map(lambda b: {"B": base64.b64encode(b).decode()})


@pytest.mark.parametrize("text, kept", [
    ("1", "1"), ("1.0", "1"), ("001.500", "1.5"), ("-0", "0"), ("0.000", "0"), ("1e3", "1000"), ("1E-3", "0.001"),
    ("-12.340", "-12.34"), (".5", "0.5"), ("5.", "5"), ("+7", "7"),
    ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
    ("1E+125", "1" + "0" * 125), ("1E-130", "0." + "0" * 129 + "1"),
])
def test_numbers_are_kept_as_dynamodb_keeps_them(text: str, kept: str) -> None:
    assert V.normalize_number(text) == kept


@pytest.mark.parametrize("text, message", [
    ("123456789012345678901234567890123456789", "Attempting to store more than 38 significant digits in a Number"),
    ("1E+126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ("1E-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ("abc", "A value provided cannot be converted into a number"),
    ("1e", "A value provided cannot be converted into a number"), ("NaN", "A value provided cannot be converted into a number"),
    ("Infinity", "A value provided cannot be converted into a number"), ("", "A value provided cannot be converted into a number"),
])
def test_numbers_beyond_dynamodb_are_refused_in_its_words(text: str, message: str) -> None:
    with pytest.raises(ValidationException) as err:
        V.normalize_number(text)
    assert err.value.message == message


@given(decimals)
@settings(deadline=None)
def test_a_normalized_number_is_the_same_number_and_normalizing_again_changes_nothing(d: Decimal) -> None:
    kept = V.normalize_number(str(d))
    assert Decimal(kept) == d
    assert V.normalize_number(kept) == kept
    assert "e" not in kept.lower()


@given(st.one_of(st.tuples(keys_n, keys_n), st.tuples(keys_s, keys_s), st.tuples(keys_b, keys_b)))
@settings(max_examples=400, deadline=None)
def test_key_bytes_sort_as_dynamodb_sorts(pair: tuple[dict[str, str], dict[str, str]]) -> None:
    a, b = pair
    order = V.compare(a, b)
    ka, kb = V.key_bytes(a), V.key_bytes(b)
    assert order == (ka > kb) - (ka < kb)


@pytest.mark.parametrize("value, message", [
    ({"SS": []}, "One or more parameter values were invalid: An string set  may not be empty"),
    ({"NS": ["1", "1.0"]}, "One or more parameter values were invalid: Input collection [1, 1.0] contains duplicates."),
    ({"S": "a", "N": "1"}, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
                           "supported datatypes"),
    ({}, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
    ({"NULL": False}, "One or more parameter values were invalid: Null attribute value types must have the value of "
                      "true"),
])
def test_bad_values_get_dynamodbs_validation_messages(value: dict, message: str) -> None:
    with pytest.raises(ValidationException) as err:
        V.validate_value(value)
    assert err.value.message == message


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    assert V.item_size({"a": {"S": "xyz"}}) == 1 + 3
    assert V.item_size({"ab": {"BOOL": True}, "c": {"NULL": True}}) == 2 + 1 + 1 + 1
    assert V.item_size({"n": {"N": "12345"}}) == 1 + 4            # (5 digits + 1) // 2 + 1
    assert V.item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert V.item_size({"l": {"L": [{"S": "ab"}, {"S": ""}]}}) == 1 + 3 + (2 + 1) + (0 + 1)


def test_equality_of_sets_ignores_order_and_number_spelling() -> None:
    assert V.equal({"NS": ["1", "2"]}, {"NS": ["2", "1.0"]})
    assert not V.equal({"SS": ["a"]}, {"S": "a"})
