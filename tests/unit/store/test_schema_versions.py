"""Schema versions: both backends record theirs, and refuse a store written by a newer Cumulo
(``store/schema.py``) rather than write into tables they do not understand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cumulo.model.function import Arns
from cumulo.store.schema import DOCUMENTS_VERSION, MESSAGES_VERSION, SHARED_VERSION, SchemaTooNew
from cumulo.store.sqlite import SQLiteStore
from cumulo.store.sqlite_messages import SQLiteMessageStore

ARNS = Arns(region="us-east-1", account="123456789012")


def test_sqlite_files_record_their_version_and_refuse_a_newer_one(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "cumulo.db", ARNS).close()
    SQLiteMessageStore(tmp_path / "queues.db").close()
    for name, version in (("cumulo.db", DOCUMENTS_VERSION), ("queues.db", MESSAGES_VERSION)):
        with sqlite3.connect(tmp_path / name) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == version
            db.execute(f"PRAGMA user_version = {version + 1}")
    with pytest.raises(SchemaTooNew, match=rf"documents schema is at version {DOCUMENTS_VERSION + 1}, newer"):
        SQLiteStore(tmp_path / "cumulo.db", ARNS)
    with pytest.raises(SchemaTooNew, match="messages schema"):
        SQLiteMessageStore(tmp_path / "queues.db")


def test_a_postgresql_database_records_its_versions_and_refuses_a_newer_one(postgres: object) -> None:
    import psycopg

    from cumulo.store.postgres import PostgresMessageStore, PostgresStore

    url = postgres.fresh_database()        # type: ignore[attr-defined]
    PostgresStore(url, ARNS).close()
    PostgresMessageStore(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        assert dict(db.execute("SELECT component, version FROM cumulo_schema").fetchall()) == \
            {"documents": DOCUMENTS_VERSION, "messages": MESSAGES_VERSION, "shared": SHARED_VERSION}
        db.execute("UPDATE cumulo_schema SET version = version + 1")
    with pytest.raises(SchemaTooNew, match=rf"documents schema is at version {DOCUMENTS_VERSION + 1}, newer"):
        PostgresStore(url, ARNS)
    with pytest.raises(SchemaTooNew, match="messages schema"):
        PostgresMessageStore(url)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("UPDATE cumulo_schema SET version = version - 1 WHERE component = 'messages'")
    with pytest.raises(SchemaTooNew, match="shared schema"):      # objects' bodies, metrics, shared keys
        PostgresMessageStore(url)


def test_a_postgresql_database_of_the_schema_before_versioning_upgrades(postgres: object) -> None:
    import psycopg

    from cumulo.store.postgres import PostgresMessageStore

    url = postgres.fresh_database()        # type: ignore[attr-defined]
    with psycopg.connect(url, autocommit=True) as db:    # messages schema 1: objects without version ids
        db.execute("CREATE TABLE cumulo_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        db.execute("INSERT INTO cumulo_schema VALUES ('messages', 1)")
        db.execute("CREATE TABLE buckets (name TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        db.execute('CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, blob TEXT NOT NULL, '
                   "size BIGINT NOT NULL, etag TEXT NOT NULL, modified_ms BIGINT NOT NULL, meta TEXT NOT NULL, "
                   "PRIMARY KEY (bucket, key))")
        db.execute("INSERT INTO buckets VALUES ('b', '{\"Name\": \"b\"}')")
        db.execute("INSERT INTO objects VALUES ('b', 'k', 'blob', 1, '\"e\"', 0, '{}')")
    store = PostgresMessageStore(url)
    try:
        old = store.objects.get_object("b", "k")
        assert old is not None and (old.blob, old.version_id) == ("blob", "null")
        assert [r.version_id for r in store.objects.list_versions("b", "", "", 10)] == ["null"]
    finally:
        store.close()
    with psycopg.connect(url, autocommit=True) as db:
        assert db.execute("SELECT version FROM cumulo_schema WHERE component = 'messages'").fetchone()[0] == \
            MESSAGES_VERSION
