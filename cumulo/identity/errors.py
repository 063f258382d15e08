"""IAM's and STS's errors, with the codes and HTTP statuses their query protocol answers.

``MalformedPolicyDocument`` and ``LimitExceeded`` (policy size quotas) come from ``cumulo.iam``.
"""

from __future__ import annotations

from cumulo.errors import CumuloError

__all__ = ["NoSuchEntity", "EntityAlreadyExists", "DeleteConflict", "InvalidInput", "IamValidationError",
           "IamLimitExceeded", "AccessDenied"]


class NoSuchEntity(CumuloError):
    status = 404


class EntityAlreadyExists(CumuloError):
    status = 409


class DeleteConflict(CumuloError):
    status = 409


class InvalidInput(CumuloError):
    status = 400


class IamValidationError(CumuloError):
    """A parameter outside its model's constraints ("1 validation error detected: …")."""

    status = 400

    @property
    def type(self) -> str:
        return "ValidationError"


class IamLimitExceeded(CumuloError):
    status = 409

    @property
    def type(self) -> str:
        return "LimitExceeded"


class AccessDenied(CumuloError):
    status = 403
