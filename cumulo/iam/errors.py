"""The errors IAM reports about policy documents, as IAM reports them.

``MalformedPolicyDocument`` is IAM's error for a document it refuses (its message says which
rule the document breaks, in IAM's words); ``LimitExceeded`` is IAM's error for a document over
its size quota. Both are ``CumuloError``s, so an edge answers them as it answers every other.
"""

from __future__ import annotations

from cumulo.errors import CumuloError

__all__ = ["MalformedPolicyDocument", "LimitExceeded"]


class MalformedPolicyDocument(CumuloError):
    """A policy document IAM would refuse (HTTP 400, error code ``MalformedPolicyDocument``)."""

    status = 400


class LimitExceeded(CumuloError):
    """A policy document over IAM's size quota (HTTP 409, error code ``LimitExceeded``)."""

    status = 409
