"""The documents store (``store/base.py``'s ``Store``): functions, versions, concurrency settings,
code references and logs. Every test taking ``store`` or ``open_store`` runs on both backends,
SQLite (a file) and PostgreSQL (a fresh database on the session's server, ``tests/postgres.py``);
those taking ``db_path`` are about the SQLite file itself."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cumulo.errors import PreconditionFailedException, ResourceConflictException, ResourceNotFoundException
from cumulo.model.function import LATEST, Arns, FunctionConfiguration
from cumulo.store.base import LogRecord
from cumulo.store.sqlite import SQLiteStore

ARNS = Arns(region="us-east-1", account="123456789012")
NOW = "2024-05-01T10:00:00.000+0000"


def sha(code: bytes) -> str:
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def config(name: str = "orders", code: bytes = b"v1", revision: str = "r1", **changes: object) -> FunctionConfiguration:
    return FunctionConfiguration(
        name=name, handler="app.handler", code_sha256=sha(code), code_size=len(code),
        runtime="python3.12", environment={"TABLE": "t"}, revision_id=revision, last_modified=NOW,
    ).replace(**changes)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "cumulo.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Callable[[], Any]]:
    """Opens another store object on the same state (a file, or a database): what another process
    or another node sees."""
    opened: list[Any] = []
    if request.param == "sqlite":
        def open_one() -> Any:
            opened.append(SQLiteStore(db_path, ARNS))
            return opened[-1]
    else:
        from cumulo.store.postgres import PostgresStore

        url = request.getfixturevalue("postgres").fresh_database()

        def open_one() -> Any:
            opened.append(PostgresStore(url, ARNS))
            return opened[-1]
    yield open_one
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store: Callable[[], Any]) -> Any:
    return open_store()


# -- functions ---------------------------------------------------------------------
def test_created_function_can_be_read_back(store: SQLiteStore) -> None:
    cfg = config()
    store.create_function(cfg)
    record = store.get_function("orders")
    assert record.latest == cfg
    assert record.reserved_concurrency is None


def test_creating_an_existing_function_is_a_conflict(store: SQLiteStore) -> None:
    store.create_function(config())
    with pytest.raises(ResourceConflictException) as info:
        store.create_function(config(code=b"other"))
    assert info.value.message == "Function already exist: orders"
    assert store.get_function("orders").latest.code_sha256 == sha(b"v1")   # first one kept


def test_missing_function_is_not_found_with_its_arn(store: SQLiteStore) -> None:
    with pytest.raises(ResourceNotFoundException) as info:
        store.get_function("ghost")
    assert info.value.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost"


def test_functions_are_listed_by_name(store: SQLiteStore) -> None:
    assert store.list_functions() == [] and store.function_names() == []
    for name in ("zeta", "alpha", "mid"):
        store.create_function(config(name))
    assert [r.latest.name for r in store.list_functions()] == ["alpha", "mid", "zeta"]
    assert store.function_names() == ["alpha", "mid", "zeta"]


def test_functions_are_listed_a_page_after_a_name_and_reserved_concurrency_alone(store: SQLiteStore) -> None:
    for name in ("zeta", "alpha", "mid", "beta", "Zed"):
        store.create_function(config(name))
    assert [r.latest.name for r in store.list_functions(limit=2)] == ["Zed", "alpha"]     # bytewise
    assert [r.latest.name for r in store.list_functions("alpha", 2)] == ["beta", "mid"]
    assert [r.latest.name for r in store.list_functions("mid")] == ["zeta"]
    assert store.list_functions("zeta", 5) == []
    assert store.reserved_concurrencies() == {}
    store.set_reserved_concurrency("mid", 7)
    store.set_reserved_concurrency("zeta", 0)
    assert store.reserved_concurrencies() == {"mid": 7, "zeta": 0}
    store.set_reserved_concurrency("mid", None)
    assert store.reserved_concurrencies() == {"zeta": 0}


def test_sqlite_reads_reserved_concurrency_and_a_page_of_functions_from_indexes(db_path: Path) -> None:
    """What every invoke after a change re-reads (the reserved concurrencies) comes from a partial
    index, and a ListFunctions page is a range of the names' index: neither reads every function."""
    store = SQLiteStore(db_path, ARNS)
    try:
        def plan(sql: str) -> str:
            return " / ".join(r[3] for r in store._db.execute("EXPLAIN QUERY PLAN " + sql))
        reserved = plan("SELECT name, reserved_concurrency FROM functions WHERE reserved_concurrency IS NOT NULL")
        assert reserved == "SCAN functions USING COVERING INDEX functions_reserved", reserved
        page = plan("SELECT latest, reserved_concurrency FROM functions WHERE name > 'm' ORDER BY name LIMIT 50")
        assert page.startswith("SEARCH functions USING INDEX sqlite_autoindex_functions_1 (name>?)"), page
        assert "TEMP B-TREE" not in page, page
    finally:
        store.close()


def test_update_replaces_latest(store: SQLiteStore) -> None:
    store.create_function(config())
    store.update_latest(config(code=b"v2", revision="r2", timeout=60))
    latest = store.get_function("orders").latest
    assert (latest.code_sha256, latest.revision_id, latest.timeout) == (sha(b"v2"), "r2", 60)


def test_update_with_matching_revision_succeeds(store: SQLiteStore) -> None:
    store.create_function(config())
    store.update_latest(config(revision="r2", memory_size=512), expected_revision="r1")
    assert store.get_function("orders").latest.memory_size == 512


def test_update_with_stale_revision_fails_its_precondition_and_changes_nothing(store: SQLiteStore) -> None:
    store.create_function(config())
    store.update_latest(config(revision="r2"))
    with pytest.raises(PreconditionFailedException) as info:
        store.update_latest(config(revision="r3", memory_size=512), expected_revision="r1")
    assert "The Revision Id provided does not match the latest Revision Id" in info.value.message
    latest = store.get_function("orders").latest
    assert (latest.revision_id, latest.memory_size) == ("r2", 128)


def test_update_of_missing_function_is_not_found(store: SQLiteStore) -> None:
    with pytest.raises(ResourceNotFoundException):
        store.update_latest(config("ghost"))


def test_delete_removes_function_versions_and_provisioned(store: SQLiteStore) -> None:
    store.create_function(config())
    store.publish_version("orders", None, "rv1", NOW)
    store.set_provisioned_concurrency("orders", "1", 2)
    store.delete_function("orders")
    with pytest.raises(ResourceNotFoundException):
        store.get_function("orders")
    assert store.list_functions() == []
    assert store.list_provisioned_concurrency() == []
    assert store.get_provisioned_concurrency("orders", "1") is None


def test_delete_of_missing_function_is_not_found(store: SQLiteStore) -> None:
    with pytest.raises(ResourceNotFoundException):
        store.delete_function("ghost")


def test_recreated_function_starts_versions_at_one_again(store: SQLiteStore) -> None:
    store.create_function(config())
    store.publish_version("orders", None, "rv1", NOW)
    store.update_latest(config(code=b"v2"))
    store.publish_version("orders", None, "rv2", NOW)
    store.delete_function("orders")
    store.create_function(config(code=b"v3"))
    assert [v.version for v in store.list_versions("orders")] == [LATEST]
    assert store.publish_version("orders", None, "rv3", NOW).version == "1"


# -- versions ----------------------------------------------------------------------
def test_versions_are_numbered_one_two_three(store: SQLiteStore) -> None:
    store.create_function(config())
    published = []
    for i in range(1, 4):
        store.update_latest(config(code=f"v{i}".encode()))
        published.append(store.publish_version("orders", None, f"rv{i}", NOW).version)
    assert published == ["1", "2", "3"]


def test_published_version_freezes_latest_with_its_own_revision(store: SQLiteStore) -> None:
    store.create_function(config(timeout=10))
    v1 = store.publish_version("orders", "first", "rv1", "2024-06-01T00:00:00.000+0000")
    assert (v1.version, v1.revision_id, v1.last_modified, v1.description) == (
        "1", "rv1", "2024-06-01T00:00:00.000+0000", "first")
    assert (v1.timeout, v1.code_sha256, v1.environment) == (10, sha(b"v1"), {"TABLE": "t"})
    store.update_latest(config(code=b"v2", timeout=20))
    assert store.get_version("orders", "1") == v1
    assert store.get_version("orders", LATEST).timeout == 20
    assert store.get_function("orders").latest.description == ""   # the description went to the version only


def test_version_without_description_keeps_latest_description(store: SQLiteStore) -> None:
    store.create_function(config(description="the orders function"))
    assert store.publish_version("orders", None, "rv1", NOW).description == "the orders function"


def test_publishing_unchanged_latest_returns_the_last_version(store: SQLiteStore) -> None:
    store.create_function(config())
    v1 = store.publish_version("orders", None, "rv1", NOW)
    again = store.publish_version("orders", None, "rv-other", "2030-01-01T00:00:00.000+0000")
    assert again == v1
    assert [v.version for v in store.list_versions("orders")] == [LATEST, "1"]


def test_new_revision_with_same_code_and_settings_is_not_a_change(store: SQLiteStore) -> None:
    store.create_function(config())
    store.publish_version("orders", None, "rv1", NOW)
    store.update_latest(config(revision="r-new", last_modified="2030-01-01T00:00:00.000+0000"))
    assert store.publish_version("orders", None, "rv2", NOW).version == "1"


@pytest.mark.parametrize("change", [{"code": b"v2"}, {"timeout": 99}, {"memory_size": 1024},
                                    {"environment": {"TABLE": "u"}}, {"handler": "app.other"}])
def test_changed_code_or_settings_publish_a_new_version(store: SQLiteStore, change: dict[str, object]) -> None:
    store.create_function(config())
    store.publish_version("orders", None, "rv1", NOW)
    store.update_latest(config(**change))
    assert store.publish_version("orders", None, "rv2", NOW).version == "2"


def test_publish_with_stale_revision_fails_its_precondition(store: SQLiteStore) -> None:
    store.create_function(config())
    with pytest.raises(PreconditionFailedException):
        store.publish_version("orders", None, "rv1", NOW, expected_revision="not-r1")
    assert [v.version for v in store.list_versions("orders")] == [LATEST]
    assert store.publish_version("orders", None, "rv1", NOW, expected_revision="r1").version == "1"


def test_publish_of_missing_function_is_not_found(store: SQLiteStore) -> None:
    with pytest.raises(ResourceNotFoundException):
        store.publish_version("ghost", None, "rv1", NOW)


def test_list_versions_gives_latest_then_versions_in_order(store: SQLiteStore) -> None:
    store.create_function(config())
    for i in range(1, 12):
        store.update_latest(config(code=f"v{i}".encode()))
        store.publish_version("orders", None, f"rv{i}", NOW)
    assert [v.version for v in store.list_versions("orders")] == [LATEST] + [str(i) for i in range(1, 12)]


def test_missing_version_is_not_found_with_qualified_arn(store: SQLiteStore) -> None:
    store.create_function(config())
    with pytest.raises(ResourceNotFoundException) as info:
        store.get_version("orders", "3")
    assert info.value.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:orders:3"
    with pytest.raises(ResourceNotFoundException):
        store.get_version("orders", "live")
    with pytest.raises(ResourceNotFoundException):
        store.get_version("ghost", LATEST)


def test_deleted_version_is_gone_and_its_number_is_never_reused(store: SQLiteStore) -> None:
    store.create_function(config())
    store.publish_version("orders", None, "rv1", NOW)
    store.update_latest(config(code=b"v2"))
    store.publish_version("orders", None, "rv2", NOW)
    store.delete_version("orders", "2")
    with pytest.raises(ResourceNotFoundException):
        store.get_version("orders", "2")
    assert [v.version for v in store.list_versions("orders")] == [LATEST, "1"]
    assert store.publish_version("orders", None, "rv3", NOW).version == "3"


def test_deleting_a_version_drops_its_provisioned_setting_only(store: SQLiteStore) -> None:
    store.create_function(config())
    store.publish_version("orders", None, "rv1", NOW)
    store.update_latest(config(code=b"v2"))
    store.publish_version("orders", None, "rv2", NOW)
    store.set_provisioned_concurrency("orders", "1", 3)
    store.set_provisioned_concurrency("orders", "2", 4)
    store.delete_version("orders", "1")
    assert store.list_provisioned_concurrency() == [("orders", "2", 4)]


def test_deleting_a_missing_version_is_not_found(store: SQLiteStore) -> None:
    store.create_function(config())
    with pytest.raises(ResourceNotFoundException):
        store.delete_version("orders", "1")
    with pytest.raises(ResourceNotFoundException):
        store.delete_version("ghost", "1")


# -- concurrency settings ------------------------------------------------------------
def test_reserved_concurrency_is_set_and_cleared(store: SQLiteStore) -> None:
    store.create_function(config())
    store.set_reserved_concurrency("orders", 0)
    assert store.get_function("orders").reserved_concurrency == 0
    store.set_reserved_concurrency("orders", 25)
    assert store.list_functions()[0].reserved_concurrency == 25
    store.set_reserved_concurrency("orders", None)
    assert store.get_function("orders").reserved_concurrency is None


def test_reserved_concurrency_survives_updates_of_latest(store: SQLiteStore) -> None:
    store.create_function(config())
    store.set_reserved_concurrency("orders", 5)
    store.update_latest(config(code=b"v2"))
    assert store.get_function("orders").reserved_concurrency == 5


def test_reserved_concurrency_of_missing_function_is_not_found(store: SQLiteStore) -> None:
    with pytest.raises(ResourceNotFoundException):
        store.set_reserved_concurrency("ghost", 1)


def test_provisioned_concurrency_is_upserted_per_qualifier_and_removed(store: SQLiteStore) -> None:
    store.create_function(config())
    assert store.get_provisioned_concurrency("orders", "1") is None
    store.set_provisioned_concurrency("orders", "1", 2)
    store.set_provisioned_concurrency("orders", "live", 5)
    store.set_provisioned_concurrency("orders", "1", 7)
    assert store.get_provisioned_concurrency("orders", "1") == 7
    assert sorted(store.list_provisioned_concurrency()) == [("orders", "1", 7), ("orders", "live", 5)]
    store.set_provisioned_concurrency("orders", "1", None)
    assert store.get_provisioned_concurrency("orders", "1") is None
    assert store.list_provisioned_concurrency() == [("orders", "live", 5)]


def test_provisioned_concurrency_of_missing_function_is_not_found(store: SQLiteStore) -> None:
    with pytest.raises(ResourceNotFoundException):
        store.set_provisioned_concurrency("ghost", "1", 1)


# -- code references -------------------------------------------------------------------
def test_code_in_use_follows_latest_and_versions(store: SQLiteStore) -> None:
    v1_hex, v2_hex = hashlib.sha256(b"v1").hexdigest(), hashlib.sha256(b"v2").hexdigest()
    assert not store.code_in_use(v1_hex)
    store.create_function(config())
    assert store.code_in_use(v1_hex)
    store.publish_version("orders", None, "rv1", NOW)
    store.update_latest(config(code=b"v2"))
    assert store.code_in_use(v1_hex)           # still held by version 1
    assert store.code_in_use(v2_hex)
    store.delete_version("orders", "1")
    assert not store.code_in_use(v1_hex)
    store.delete_function("orders")
    assert not store.code_in_use(v2_hex)


def test_code_shared_by_two_functions_stays_in_use_until_both_go(store: SQLiteStore) -> None:
    code_hex = hashlib.sha256(b"v1").hexdigest()
    store.create_function(config("a"))
    store.create_function(config("b"))
    store.delete_function("a")
    assert store.code_in_use(code_hex)
    store.delete_function("b")
    assert not store.code_in_use(code_hex)


# -- logs -----------------------------------------------------------------------------
def log(message: str, ts: int, function: str = "orders", request_id: str | None = "req-1") -> LogRecord:
    return LogRecord(function=function, version=LATEST, stream="2024/05/01/[$LATEST]abc",
                     request_id=request_id, timestamp_ms=ts, message=message)


def test_logs_come_back_in_order_with_increasing_ids(store: SQLiteStore) -> None:
    store.append_logs([log("START", 1000), log("hello", 1001), log("END", 1002)])
    records = store.query_logs("orders")
    assert [r.message for r in records] == ["START", "hello", "END"]
    assert [r.timestamp_ms for r in records] == [1000, 1001, 1002]
    assert records[0].id > 0 and [r.id for r in records] == sorted({r.id for r in records})
    assert records[1].stream == "2024/05/01/[$LATEST]abc"
    assert records[1].version == LATEST
    assert records[1].request_id == "req-1"


def test_logs_of_other_functions_are_not_returned(store: SQLiteStore) -> None:
    store.append_logs([log("mine", 1), log("theirs", 2, function="other")])
    assert [r.message for r in store.query_logs("orders")] == ["mine"]
    assert [r.message for r in store.query_logs("other")] == ["theirs"]


def test_logs_since_a_time_include_that_millisecond(store: SQLiteStore) -> None:
    store.append_logs([log("old", 999), log("edge", 1000), log("new", 1001)])
    assert [r.message for r in store.query_logs("orders", since_ms=1000)] == ["edge", "new"]


def test_logs_after_an_id_resume_a_tail(store: SQLiteStore) -> None:
    store.append_logs([log("a", 1), log("b", 2)])
    last = store.query_logs("orders")[-1].id
    store.append_logs([log("c", 3)])
    assert [r.message for r in store.query_logs("orders", after_id=last)] == ["c"]


def test_logs_filtered_by_request_id(store: SQLiteStore) -> None:
    store.append_logs([log("one", 1, request_id="r1"), log("two", 2, request_id="r2"),
                       log("init", 0, request_id=None), log("one-more", 3, request_id="r1")])
    assert [r.message for r in store.query_logs("orders", request_id="r1")] == ["one", "one-more"]
    assert len(store.query_logs("orders")) == 4


def test_logs_limit(store: SQLiteStore) -> None:
    store.append_logs([log(str(i), i) for i in range(10)])
    assert [r.message for r in store.query_logs("orders", limit=3)] == ["0", "1", "2"]


def test_appending_no_logs_is_harmless(store: SQLiteStore) -> None:
    store.append_logs([])
    store.append_logs(iter(()))
    assert store.query_logs("orders") == []


def test_log_messages_keep_unicode_and_tabs(store: SQLiteStore) -> None:
    message = "REPORT RequestId: x\tDuration: 1.00 ms\t — ünïcødé 🚀"
    store.append_logs([log(message, 5)])
    assert store.query_logs("orders")[0].message == message


def test_a_large_batch_keeps_order_types_and_special_text(store: SQLiteStore) -> None:
    texts = ['{"quoted": "json", "n": 1}', "back\\slash and \"quotes\"", "", "nul \x00 inside", "9007199254740993"]
    batch = [log(texts[i % len(texts)] + str(i), 1_700_000_000_000 + i, request_id=None if i % 7 == 0 else f"r{i}")
             for i in range(5000)]
    store.append_logs(batch)
    got = store.query_logs("orders")
    assert [(r.message, r.timestamp_ms, r.request_id) for r in got] == \
        [(b.message, b.timestamp_ms, b.request_id) for b in batch]
    assert all(isinstance(r.timestamp_ms, int) for r in got)


def test_a_message_orjson_refuses_is_stored_all_the_same(store: SQLiteStore) -> None:
    # A lone surrogate has no UTF-8 form: it becomes U+FFFD, and the rest of the batch is kept.
    store.append_logs([log("before", 1), log("lone \ud800 surrogate", 2), log("after", 3)])
    assert [r.message for r in store.query_logs("orders")] == ["before", "lone \ufffd surrogate", "after"]


# -- durability --------------------------------------------------------------------------
def test_everything_survives_reopening_the_store(open_store: Callable[[], Any]) -> None:
    first = open_store()
    first.create_function(config())
    first.publish_version("orders", "v one", "rv1", NOW)
    first.update_latest(config(code=b"v2", revision="r2"))
    first.set_reserved_concurrency("orders", 4)
    first.set_provisioned_concurrency("orders", "1", 2)
    first.append_logs([log("kept", 7)])
    first.close()

    second = open_store()
    try:
        record = second.get_function("orders")
        assert (record.latest.revision_id, record.reserved_concurrency) == ("r2", 4)
        assert second.get_version("orders", "1").description == "v one"
        assert second.get_provisioned_concurrency("orders", "1") == 2
        assert [r.message for r in second.query_logs("orders")] == ["kept"]
        store_v = second.publish_version("orders", None, "rv2", NOW)
        assert store_v.version == "2"                 # the counter survived too
    finally:
        second.close()


def test_two_store_objects_on_one_file_see_each_other(open_store: Callable[[], Any]) -> None:
    import time

    a, b = open_store(), open_store()
    a.create_function(config())
    assert b.get_function("orders").latest == config()
    with pytest.raises(ResourceConflictException):
        b.create_function(config())
    generation = a.generation
    b.update_latest(config(code=b"v2", revision="r2"))    # another process's (another node's) commit
    deadline = time.monotonic() + 10
    while a.generation == generation:                     # noticed within the re-check interval
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert a.get_function("orders").latest.revision_id == "r2"


def test_a_failed_transaction_leaves_the_store_usable(store: SQLiteStore) -> None:
    store.create_function(config())
    with pytest.raises(ResourceConflictException):
        store.create_function(config())
    store.create_function(config("second"))
    assert [r.latest.name for r in store.list_functions()] == ["orders", "second"]


def test_a_change_made_elsewhere_is_seen_and_the_check_never_waits_for_a_writer(db_path: Path) -> None:
    import threading
    import time

    server, cli = SQLiteStore(db_path, ARNS), SQLiteStore(db_path, ARNS)
    try:
        server.create_function(config())
        assert server.get_function("orders").latest.revision_id == "r1"
        cli.update_latest(config(code=b"v2", revision="r2"))   # another process's commit
        time.sleep(0.15)                                      # past the re-check interval
        held, release = threading.Event(), threading.Event()

        def writer() -> None:                                 # the log writer's batch, long
            with server._lock:
                held.set()
                release.wait(5)

        threading.Thread(target=writer).start()
        held.wait(5)
        started = time.monotonic()
        stale = server.get_function("orders").latest.revision_id
        waited = time.monotonic() - started
        release.set()
        assert waited < 0.5 and stale == "r1"                 # answered from the cache at once
        time.sleep(0.05)
        assert server.get_function("orders").latest.revision_id == "r2"   # the next call checks
    finally:
        server.close()
        cli.close()


def test_the_log_store_as_cloudwatch_logs_reads_it(store: Any) -> None:
    """``LogEvents`` on both backends (CloudWatch Logs' API and the retention sweep read it): the
    groups holding events, their streams, scans in (ts, id) order with positions, streams and
    substring filters, counts, and a stream deleted."""
    def rec(group: str, stream: str, ts: int, message: str) -> LogRecord:
        return LogRecord(function=group, version="$LATEST", stream=stream, request_id="r", timestamp_ms=ts,
                         message=message)

    store.append_logs([rec("/aws/lambda/a", "s1", 10, "START one"), rec("/aws/lambda/a", "s1", 20, "ERROR two"),
                       rec("/aws/lambda/a", "s2", 15, "hello \u00e9\u00e8 three"), rec("/aws/lambda/b", "s9", 5, "b")])
    assert store.log_group_keys() == ["/aws/lambda/a", "/aws/lambda/b"]
    assert sorted(store.log_streams("/aws/lambda/a")) == [("s1", 10, 20), ("s2", 15, 15)]
    everything = store.scan_logs("/aws/lambda/a", 0, 100)
    assert [r.message for r in everything] == ["START one", "hello \u00e9\u00e8 three", "ERROR two"]
    first = everything[0]
    assert [r.message for r in store.scan_logs("/aws/lambda/a", 0, 100, after=(first.timestamp_ms, first.id))] == \
        ["hello \u00e9\u00e8 three", "ERROR two"]
    assert [r.message for r in store.scan_logs("/aws/lambda/a", 0, 100, before=(20, everything[2].id), limit=1)] == \
        ["hello \u00e9\u00e8 three"]
    assert [r.message for r in store.scan_logs("/aws/lambda/a", 0, 100, streams=["s2"])] == ["hello \u00e9\u00e8 three"]
    assert [r.message for r in store.scan_logs("/aws/lambda/a", 0, 100, contains=["\u00e9\u00e8"])] == \
        ["hello \u00e9\u00e8 three"]
    assert [r.message for r in store.scan_logs("/aws/lambda/a", 0, 100, lacks=["o"])] == []
    assert [r.message for r in store.scan_logs("/aws/lambda/a", 12, 20)] == ["hello \u00e9\u00e8 three"]
    assert (store.count_logs(), store.count_logs("/aws/lambda/a")) == (4, 3)
    assert store.delete_log_stream("/aws/lambda/a", "s1") == 2
    assert store.count_logs("/aws/lambda/a") == 1
    assert store.prune_logs("/aws/lambda/b", None) == 1
    assert store.log_group_keys() == ["/aws/lambda/a"]


def test_a_key_deleted_or_replaced_by_another_process_is_refused_at_once(db_path: Path) -> None:
    """The server keeps opened secrets (every signed request reads one), but never serves one that
    another process's commit removed or changed: the very next lookup answers from the file."""
    server, cli = SQLiteStore(db_path, ARNS), SQLiteStore(db_path, ARNS)
    try:
        cli.add_access_key("AKIAFIRST", "first-secret", "2026-01-01T00:00:00Z")
        cli.add_access_key("AKIASECOND", "second-secret", "2026-01-01T00:00:01Z")
        assert server.access_key_secret("AKIAFIRST") == "first-secret"
        assert server.access_key_secret("AKIAFIRST") == "first-secret"     # (now from what it kept)
        assert cli.delete_access_key("AKIAFIRST")                          # `cumulo keys delete`, beside it
        assert server.access_key_secret("AKIAFIRST") is None
        assert server.access_key_secret("AKIASECOND") == "second-secret"
        cli.delete_access_key("AKIASECOND")                                # the same id with another secret
        cli.add_access_key("AKIASECOND", "rotated-secret", "2026-01-01T00:00:02Z")
        assert server.access_key_secret("AKIASECOND") == "rotated-secret"
        server.delete_access_key("AKIASECOND")                             # and its own deletion
        assert server.access_key_secret("AKIASECOND") is None
    finally:
        server.close()
        cli.close()


def _rec(group: str, stream: str, ts: int, message: str) -> LogRecord:
    return LogRecord(function=group, version="$LATEST", stream=stream, request_id="r", timestamp_ms=ts, message=message)


def _streams_from_lines(store: Any, group: str) -> list[tuple[str, int, int]]:
    spans: dict[str, tuple[int, int]] = {}
    for r in store.scan_logs(group, -(2**62), 2**62):
        lo, hi = spans.get(r.stream, (r.timestamp_ms, r.timestamp_ms))
        spans[r.stream] = (min(lo, r.timestamp_ms), max(hi, r.timestamp_ms))
    return sorted((s, lo, hi) for s, (lo, hi) in spans.items())


def test_log_streams_stay_true_across_writes_retention_and_deletion(store: Any) -> None:
    """The streams DescribeLogStreams lists (kept per stream by the log writer, not read from the
    lines) are always what the lines say: across batches (an older event arriving later, a NUL
    that SQLite writes row by row), a prefix, retention keeping part of a stream or none of it,
    a stream deleted, and the group deleted."""
    g, other = "/aws/lambda/a", "/aws/lambda/b"
    store.append_logs([_rec(g, "s1", 50, "x"), _rec(g, "s2", 10, "y"), _rec(g, "s1", 40, "z"),
                       _rec(other, "s1", 1, "other"), _rec(g, "Z", 5, "upper")])
    store.append_logs([_rec(g, "s1", 30, "late arrival"), _rec(g, "s1", 60, "\u00e9 and a \x00")])
    store.append_logs([_rec(g, "s3", 70, "a"), _rec(g, "s2", 20, "b")])
    assert store.log_streams(g) == [("Z", 5, 5), ("s1", 30, 60), ("s2", 10, 20), ("s3", 70, 70)]   # bytewise
    assert store.log_streams(g) == _streams_from_lines(store, g)
    assert store.log_streams(g, "s") == [("s1", 30, 60), ("s2", 10, 20), ("s3", 70, 70)]
    assert store.log_streams(g, "s1") == [("s1", 30, 60)]
    assert store.log_streams(g, "t") == [] and store.log_streams("/aws/lambda/none") == []
    assert store.prune_logs(g, 35) == 4          # Z, s1 at 30, s2 at 10 and 20
    assert store.log_streams(g) == [("s1", 40, 60), ("s3", 70, 70)] == _streams_from_lines(store, g)
    assert store.prune_logs(g, 35) == 0
    store.append_logs([_rec(g, "s2", 80, "back")])
    assert store.log_streams(g) == [("s1", 40, 60), ("s2", 80, 80), ("s3", 70, 70)]
    assert store.prune_logs(g, 61) == 3          # all of s1
    assert store.log_streams(g) == [("s2", 80, 80), ("s3", 70, 70)] == _streams_from_lines(store, g)
    assert store.delete_log_stream(g, "s3") == 1
    assert store.log_streams(g) == [("s2", 80, 80)]
    store.append_logs([_rec(g, "s3", 90, "again")])
    assert store.log_streams(g) == [("s2", 80, 80), ("s3", 90, 90)]
    assert store.prune_logs(g, None) == 2
    assert store.log_streams(g) == [] and store.log_streams(other) == [("s1", 1, 1)]


def test_log_streams_are_filled_from_the_lines_kept_before_them(open_store: Callable[[], Any]) -> None:
    """A store written by the previous schema (documents 2, no log_streams) lists the streams of
    the lines it kept once opened by this one, and keeps them from then on."""
    store = open_store()
    g = "/aws/lambda/a"
    store.append_logs([_rec(g, "s1", 50, "x"), _rec(g, "s1", 40, "z"), _rec(g, "s2", 10, "y")])
    if isinstance(store, SQLiteStore):
        store._db.execute("DROP TABLE log_streams")
        store._db.execute("PRAGMA user_version = 2")
    else:
        with store._database.tx() as db:
            db.execute("DROP TABLE log_streams")
            db.execute("UPDATE cumulo_schema SET version = 2 WHERE component = 'documents'")
    reopened = open_store()
    assert reopened.log_streams(g) == [("s1", 40, 50), ("s2", 10, 10)]
    reopened.append_logs([_rec(g, "s1", 60, "more")])
    assert reopened.prune_logs(g, 45) == 2
    assert reopened.log_streams(g) == [("s1", 50, 60)]


def test_sqlite_lists_log_streams_without_reading_the_lines(db_path: Path) -> None:
    """DescribeLogStreams' store read is a range of log_streams' key, and the log writer's upsert
    reads back only the batch it wrote (a range of ids): neither visits the group's other lines."""
    store = SQLiteStore(db_path, ARNS)
    try:
        seen: list[str] = []
        store._db.set_trace_callback(seen.append)
        store.append_logs([_rec("/aws/lambda/a", "s1", 1, "x"), _rec("/aws/lambda/a", "s2", 2, "y")])
        store.log_streams("/aws/lambda/a")
        store.log_streams("/aws/lambda/a", "s")
        store._db.set_trace_callback(None)
        plans = [" / ".join(r[3] for r in store._db.execute("EXPLAIN QUERY PLAN " + sql))
                 for sql in seen if "log_streams" in sql]
        assert len(plans) == 3, seen
        upsert, listing, prefixed = plans
        assert upsert.startswith("SEARCH logs USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), upsert
        assert listing == "SEARCH log_streams USING PRIMARY KEY (function=?)", listing
        assert prefixed == "SEARCH log_streams USING PRIMARY KEY (function=? AND stream>?)", prefixed
    finally:
        store.close()
