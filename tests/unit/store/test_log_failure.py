"""Background loops log what fails: a store that cannot write in one line (the loop retries; requests
answer 503 saying so), anything else with its traceback."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from cumulo.store.health import log_failure


@pytest.mark.parametrize("exc", [sqlite3.OperationalError("disk I/O error"),
                                 sqlite3.OperationalError("database or disk is full"),
                                 sqlite3.DatabaseError("database disk image is malformed")])
def test_a_store_that_fails_is_one_line(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("cumulo.test")
    try:
        raise exc
    except sqlite3.Error:
        log_failure(log, "scheduler tick failed")
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == f"scheduler tick failed: the store failed ({exc}); retrying"


def test_anything_else_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("cumulo.test")
    try:
        raise KeyError("bug")
    except KeyError:
        log_failure(log, "mapping %s: poller failed", "uuid-1")
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage() == "mapping uuid-1: poller failed"
