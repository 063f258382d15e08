"""Cumulo's one error taxonomy.

Every fault the platform reports to a caller is one of these. Each carries the
AWS error type (what boto3 turns into ``ClientError.response["Error"]["Code"]``),
the HTTP status the control plane answers with, and whether a caller may retry.
Raise them where the fault is known; edges (CLI, HTTP API) translate them once.

    CumuloError
    ├── ValidationException                 400  a parameter breaks a documented constraint
    ├── InvalidParameterValueException      400  a parameter is unusable for another reason
    ├── gateway.routing.InvalidRouteKey     400  BadRequestException: a malformed route key
    ├── gateway.routing.BadRequest          400  BadRequestException: a request the gateway cannot route
    ├── api.sigv4.*                         403  signature errors (MissingAuthenticationToken, InvalidSignature …)
    ├── deploy.template.TemplateError       400  ValidationError: a template that cannot be deployed
    ├── events.pattern.InvalidEventPatternException 400  an event pattern EventBridge would refuse
    ├── model.queue.SqsError                400  SQS's own errors (QueueDoesNotExist, InvalidAttributeValue …)
    ├── model.stream.*                      400  Kinesis' errors (InvalidArgumentException, ResourceInUseException …)
    ├── InvalidRequestContentException      400  the request body is not valid JSON
    ├── InvalidZipFileException             400  the code package is not a usable zip
    ├── CodeStorageExceededException        400  code package over its size limit
    ├── ResourceNotFoundException           404
    ├── ResourceConflictException           409  exists already / in use
    ├── PreconditionFailedException         412  RevisionId does not match the current revision
    ├── RequestTooLargeException            413  invocation payload over its limit
    ├── TooManyRequestsException            429  concurrency limit reached (retryable, has Reason)
    ├── ProvisionedConcurrencyConfigNotFoundException 404
    ├── SnapStartException                  400  an after-restore runtime hook raised (see the function's logs)
    ├── SnapStartTimeoutException           408  the Restore phase (after-restore hooks) took longer than 10 s
    └── ServiceException                    500  our fault (retryable)

Failures *inside* user code are not exceptions of the platform: they are
results (an error document plus ``FunctionError``), see ``cumulo.invoke``.
"""

from __future__ import annotations

__all__ = [
    "CumuloError",
    "ServiceError",
    "ValidationException",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "InvalidZipFileException",
    "CodeStorageExceededException",
    "ResourceNotFoundException",
    "ResourceConflictException",
    "PreconditionFailedException",
    "RequestTooLargeException",
    "TooManyRequestsException",
    "ProvisionedConcurrencyConfigNotFoundException",
    "SnapStartException",
    "SnapStartTimeoutException",
    "ServiceException",
]


class CumuloError(Exception):
    """Base of every error the platform reports to a caller."""

    status: int = 500
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def type(self) -> str:
        """The AWS error type, e.g. ``ResourceNotFoundException``."""
        return type(self).__name__

    def to_aws(self) -> dict[str, str]:
        """The JSON error body AWS's REST-JSON services answer with."""
        return {"Type": "User" if self.status < 500 else "Service", "message": self.message}

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


class ServiceError(CumuloError):
    """An error a service names at run time (``code``: the name boto3 reports, e.g.
    ``ResourceNotFoundException``), with its HTTP status. Services subclass it for their own name."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status

    @property
    def type(self) -> str:
        return self.code


class ValidationException(CumuloError):
    status = 400


class InvalidParameterValueException(CumuloError):
    status = 400


class InvalidRequestContentException(CumuloError):
    status = 400


class InvalidZipFileException(CumuloError):
    status = 400


class CodeStorageExceededException(CumuloError):
    status = 400


class ResourceNotFoundException(CumuloError):
    status = 404


class ResourceConflictException(CumuloError):
    status = 409


class PreconditionFailedException(CumuloError):
    status = 412


class RequestTooLargeException(CumuloError):
    status = 413


class ProvisionedConcurrencyConfigNotFoundException(CumuloError):
    status = 404


class SnapStartException(CumuloError):
    status = 400


class SnapStartTimeoutException(CumuloError):
    status = 408


class TooManyRequestsException(CumuloError):
    """Throttled: AWS adds a ``Reason`` naming which limit was hit."""

    status = 429
    retryable = True

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def to_aws(self) -> dict[str, str]:
        return {**super().to_aws(), "Reason": self.reason}


class ServiceException(CumuloError):
    status = 500
    retryable = True
