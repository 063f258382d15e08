"""Identifiers the platform hands out: request IDs, trace IDs, the gateway's request IDs.

They must be unique, not secret (AWS prints them in logs and headers), so they come from a
process-local generator seeded from the OS once (and again after a fork) instead of a
``getrandom`` system call per ID: on this machine's virtualised kernel a system call costs
microseconds, and an invocation needs three IDs.
"""

from __future__ import annotations

import base64
import os
import random
import time
import uuid

__all__ = ["request_id", "trace_id", "short_id"]

_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))


def request_id() -> str:
    """A version-4 UUID, as Lambda's request IDs are."""
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


def trace_id() -> str:
    """An X-Ray trace header: ``Root=1-<epoch hex>-<96 bits>;Parent=<64 bits>;Sampled=0``."""
    return f"Root=1-{int(time.time()):08x}-{_rng.getrandbits(96):024x};Parent={_rng.getrandbits(64):016x};Sampled=0"


def short_id(nbytes: int = 10) -> str:
    """``JKJaXmPLvHcESHA=``: base64 of random bytes (HTTP APIs' request IDs)."""
    return base64.b64encode(_rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big")).decode()
