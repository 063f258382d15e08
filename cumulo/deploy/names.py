"""Stable physical names for resources a template does not name: ``<stack>-<LogicalId>-<suffix>``.

CloudFormation's suffix is random; ours is a hash of stack and logical id, so a
re-deploy finds the same resource. Pure.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["SUFFIX_LEN", "stable_suffix", "stable_name"]

SUFFIX_LEN = 12


def stable_suffix(stack: str, logical_id: str) -> str:
    """12 base32 characters of a hash of stack and logical id."""
    digest = hashlib.sha256(f"{stack}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:SUFFIX_LEN]


def stable_name(stack: str, logical_id: str, limit: int, prefix: str | None = None) -> str:
    """``<prefix>-<suffix>`` in at most ``limit`` characters; ``prefix`` (``<stack>-<LogicalId>`` when
    not given) is kept while it fits, else stack and logical id are shortened to share the room."""
    suffix = stable_suffix(stack, logical_id)
    budget = limit - len(suffix) - 1
    prefix = f"{stack}-{logical_id}" if prefix is None else prefix
    if len(prefix) > budget:
        half = budget // 2
        prefix = f"{stack[: budget - 1 - min(len(logical_id), half)]}-{logical_id[:half]}"
    return f"{prefix[:budget]}-{suffix}"
