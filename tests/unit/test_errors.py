"""The error taxonomy: each error's AWS type, HTTP status, retryability and body."""

from __future__ import annotations

import pytest

from cumulo import errors
from cumulo.errors import CumuloError, TooManyRequestsException

EXPECTED = [
    ("ValidationException", 400, False),
    ("InvalidParameterValueException", 400, False),
    ("InvalidRequestContentException", 400, False),
    ("InvalidZipFileException", 400, False),
    ("CodeStorageExceededException", 400, False),
    ("ResourceNotFoundException", 404, False),
    ("ResourceConflictException", 409, False),
    ("PreconditionFailedException", 412, False),
    ("RequestTooLargeException", 413, False),
    ("ProvisionedConcurrencyConfigNotFoundException", 404, False),
    ("SnapStartException", 400, False),          # botocore's model: an after-restore hook failed
    ("SnapStartTimeoutException", 408, False),   # the Restore phase ran out of time
    ("ServiceException", 500, True),
]


@pytest.mark.parametrize(("name", "status", "retryable"), EXPECTED)
def test_error_carries_aws_type_status_and_retryability(name: str, status: int, retryable: bool) -> None:
    err = getattr(errors, name)("something is wrong")
    assert isinstance(err, CumuloError)
    assert err.type == name
    assert err.status == status
    assert err.retryable is retryable
    assert err.message == "something is wrong"
    assert str(err) == f"{name}: something is wrong"


@pytest.mark.parametrize(("name", "status", "_retryable"), EXPECTED)
def test_error_body_says_who_is_at_fault(name: str, status: int, _retryable: bool) -> None:
    body = getattr(errors, name)("boom").to_aws()
    assert body == {"Type": "User" if status < 500 else "Service", "message": "boom"}


def test_too_many_requests_is_retryable_429_with_reason_in_body() -> None:
    err = TooManyRequestsException("Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded")
    assert (err.type, err.status, err.retryable) == ("TooManyRequestsException", 429, True)
    assert err.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert err.to_aws() == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    }


def test_every_exported_error_is_a_cumulo_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), CumuloError), name
    assert {n for n, _, _ in EXPECTED} | {"CumuloError", "ServiceError", "TooManyRequestsException"} == \
        set(errors.__all__)


def test_a_service_error_is_named_and_answered_as_the_service_says() -> None:
    err = errors.ServiceError("ParameterNotFound", "Parameter /a not found.")
    assert (err.type, err.status, err.message) == ("ParameterNotFound", 400, "Parameter /a not found.")
    assert errors.ServiceError("InternalFailure", "x", 500).to_aws()["Type"] == "Service"


def test_errors_can_be_raised_and_caught_as_their_base() -> None:
    with pytest.raises(CumuloError) as info:
        raise errors.ResourceNotFoundException("Function not found: x")
    assert info.value.status == 404
