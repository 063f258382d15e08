"""The documents store (``store/base.py``'s ``Store``) on PostgreSQL, shared by every node.

The same tables and rules as ``store/sqlite.py``: functions ($LATEST), versions, aliases, tags,
APIs, documents, usage counters, stacks, access keys, concurrency settings, logs; and the code
packages themselves (``code``), so a node that never saw a package fetches it from here once and
keeps it by hash (``store/blobs.py``).

Caching: configurations read on every invoke are cached per node. Every write that may change
what others cached bumps the ``generation`` counter in the database in its own transaction; each
node reads that counter at most every ``RECHECK_S`` and drops its cache when it moved, so a change
made on one node shows on the others within that time, without a query per invoke.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import psycopg

from cumulo.errors import PreconditionFailedException, ResourceConflictException, ResourceNotFoundException
from cumulo.model.alias import Alias
from cumulo.model.function import LATEST, Arns, FunctionConfiguration, is_version_number
from cumulo.store.sealing import SEALED, open_access_key, reseal_access_key, reseal_environment, seal_access_key
from cumulo.store.base import FunctionRecord, LogRecord
from cumulo.store.postgres.database import Database
from cumulo.store.schema import DOCUMENTS_VERSION
from cumulo.store.sqlite import _check_revision, _same_for_publish, _utf8_text

__all__ = ["PostgresStore", "SCHEMA", "RECHECK_S"]

RECHECK_S = 0.1

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    latest TEXT NOT NULL,
    code TEXT NOT NULL,
    reserved_concurrency INTEGER,
    next_version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    config TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS provisioned (
    name TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    requested INTEGER NOT NULL,
    PRIMARY KEY (name, qualifier)
);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (name, alias)
);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);
CREATE TABLE IF NOT EXISTS access_keys (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS apis (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS usage (
    plan TEXT NOT NULL,
    key TEXT NOT NULL,
    day TEXT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (plan, key, day)
);
CREATE TABLE IF NOT EXISTS stacks (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    id BIGSERIAL PRIMARY KEY,
    function TEXT NOT NULL,
    version TEXT NOT NULL,
    stream TEXT NOT NULL,
    request_id TEXT,
    ts BIGINT NOT NULL,
    message BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_function ON logs (function, ts);
-- a row per log stream, kept by append_logs in the batch's transaction (documents schema 3), filled
-- once from the lines already kept when the schema steps to 3
CREATE TABLE IF NOT EXISTS log_streams (
    function TEXT NOT NULL,
    stream TEXT NOT NULL,
    first_ts BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (function, stream)
);
INSERT INTO log_streams (function, stream, first_ts, last_ts, lines, bytes)
    SELECT function, stream, min(ts), max(ts), count(*), sum(length(message)) FROM logs GROUP BY function, stream
    ON CONFLICT (function, stream) DO NOTHING;
CREATE INDEX IF NOT EXISTS functions_by_name_c ON functions (name COLLATE "C");
CREATE INDEX IF NOT EXISTS functions_reserved ON functions (name, reserved_concurrency)
    WHERE reserved_concurrency IS NOT NULL;
-- a log line is kept as its UTF-8 bytes: PostgreSQL's text cannot hold the NUL a function may print
CREATE TABLE IF NOT EXISTS code (
    hex TEXT PRIMARY KEY,
    zip BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS generation (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    value BIGINT NOT NULL
);
INSERT INTO generation VALUES (1, 0) ON CONFLICT DO NOTHING
"""

_C = 'COLLATE "C"'      # SQLite's order of text (by bytes), whatever the database's collation


class PostgresStore:
    def __init__(self, url: str, arns: Arns, database: Database | None = None) -> None:
        self._database = database if database is not None else Database(url)
        self._owns_database = database is None
        self.path = self._database.path
        self._arns = arns
        self._sealer: Any = None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], Any] = {}
        self._seen = -1
        self._generation = 0
        self._recheck_at = 0.0
        try:
            self._database.apply_schema("documents", DOCUMENTS_VERSION, SCHEMA)
        except BaseException:
            self.close()
            raise

    def quick_check(self, budget_s: float = 0.0) -> bool:
        return True         # PostgreSQL checks its own pages; there is no file of ours to check

    # -- plumbing -------------------------------------------------------------
    @contextmanager
    def _tx(self, invalidates: bool = True) -> Iterator[psycopg.Connection[Any]]:
        with self._database.tx() as db:
            yield db
            if invalidates:
                db.execute("UPDATE generation SET value = value + 1 WHERE one = 1")
        if invalidates:
            self._invalidate()

    def _invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._generation += 1

    @property
    def generation(self) -> int:
        self._recheck()
        return self._generation

    def _recheck(self) -> None:
        now = time.monotonic()
        if now < self._recheck_at:
            return
        self._recheck_at = now + RECHECK_S
        value = int(self._database.one("SELECT value FROM generation WHERE one = 1")[0])
        if value != self._seen:
            self._seen = value
            self._invalidate()

    def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        self._recheck()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        generation = self._generation
        value = load()
        with self._lock:
            if generation == self._generation:
                self._cache[key] = value
        return value

    def _not_found(self, name: str, qualifier: str | None = None) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"Function not found: {self._arns.function(name, qualifier)}")

    def _latest_row(self, db: Any, name: str, lock: bool = False) -> tuple[str, int | None, int]:
        row = db.execute("SELECT latest, reserved_concurrency, next_version FROM functions WHERE name = %s"
                         + (" FOR UPDATE" if lock else ""), (name,)).fetchone()
        if row is None:
            raise self._not_found(name)
        return row

    # -- functions ------------------------------------------------------------
    def seal_environments(self, sealer: Any) -> None:
        self._sealer = sealer

    def reseal(self, documents: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]],
               reseal: Any, shared_keys: Callable[[str, bytes], bytes] | None = None) -> dict[str, int]:
        """A master key rotation's writes in one transaction, as ``SQLiteStore.reseal``; and the
        cluster's shared keys (``keys.py``) given to ``shared_keys(name, kept)``. The tables are
        locked against other writers (EXCLUSIVE: reads go on) so that no node seals with the old key
        meanwhile."""
        counts: dict[str, int] = {}
        shared = shared_keys is not None and self._database.one("SELECT to_regclass('shared_keys')")[0] is not None
        with self._tx() as db:
            db.execute("LOCK TABLE documents, functions, versions, access_keys" + (", shared_keys" if shared else "")
                       + " IN EXCLUSIVE MODE")
            for kind, rewrite in documents.items():
                for doc_id, text in db.execute("SELECT id, doc FROM documents WHERE kind = %s", (kind,)).fetchall():
                    db.execute("UPDATE documents SET doc = %s WHERE kind = %s AND id = %s",
                               (json.dumps(rewrite(json.loads(text))), kind, doc_id))
                    counts[kind] = counts.get(kind, 0) + 1
            for name, text in db.execute("SELECT name, latest FROM functions").fetchall():
                changed = reseal_environment(text, reseal)
                if changed is not None:
                    db.execute("UPDATE functions SET latest = %s WHERE name = %s", (changed, name))
                    counts["lambda-environment"] = counts.get("lambda-environment", 0) + 1
            for name, version, text in db.execute("SELECT name, version, config FROM versions").fetchall():
                changed = reseal_environment(text, reseal)
                if changed is not None:
                    db.execute("UPDATE versions SET config = %s WHERE name = %s AND version = %s",
                               (changed, name, version))
                    counts["lambda-environment"] = counts.get("lambda-environment", 0) + 1
            for key_id, secret in db.execute("SELECT id, secret FROM access_keys").fetchall():
                db.execute("UPDATE access_keys SET secret = %s WHERE id = %s",
                           (reseal_access_key(key_id, secret, reseal), key_id))
                counts["access-key"] = counts.get("access-key", 0) + 1
            if shared and shared_keys is not None:
                for name, value in db.execute("SELECT name, value FROM shared_keys").fetchall():
                    db.execute("UPDATE shared_keys SET value = %s WHERE name = %s",
                               (shared_keys(name, bytes(value)), name))
                    counts["shared-key"] = counts.get("shared-key", 0) + 1
        return counts

    def _dump(self, config: FunctionConfiguration) -> str:
        doc = config.to_dict()
        if self._sealer is not None and doc["environment"]:
            doc["environment"] = {SEALED: self._sealer.seal(json.dumps(doc["environment"]).encode(),
                                                             f"lambda-environment:{config.name}")}
        return json.dumps(doc)

    def _load(self, text: str) -> FunctionConfiguration:
        doc = json.loads(text)
        env = doc.get("environment")
        if isinstance(env, dict) and SEALED in env:
            if self._sealer is None:
                raise RuntimeError(f"{self.path}: function {doc.get('name')}'s environment is sealed and no key "
                                   "was given to open it")
            doc["environment"] = json.loads(self._sealer.open_sealed(env[SEALED],
                                                                     f"lambda-environment:{doc['name']}"))
        return FunctionConfiguration.from_dict(doc)

    def create_function(self, config: FunctionConfiguration) -> None:
        with self._tx() as db:
            inserted = db.execute("INSERT INTO functions (name, latest, code) VALUES (%s, %s, %s) "
                                  "ON CONFLICT (name) DO NOTHING RETURNING name",
                                  (config.name, self._dump(config), config.code_hex)).fetchone()
            if inserted is None:
                raise ResourceConflictException(f"Function already exist: {config.name}")

    def get_function(self, name: str) -> FunctionRecord:
        def load() -> FunctionRecord:
            with self._database.connection() as db:
                latest, reserved, _ = self._latest_row(db, name)
            return FunctionRecord(self._load(latest), reserved)

        return self._cached(("f", name), load)

    def list_functions(self, after: str | None = None, limit: int | None = None) -> list[FunctionRecord]:
        sql, args = "SELECT latest, reserved_concurrency FROM functions", []
        if after is not None:
            sql, args = sql + f" WHERE name {_C} > %s", [after]
        sql += f" ORDER BY name {_C}" + ("" if limit is None else f" LIMIT {int(limit)}")
        rows = self._database.all(sql, args)
        return [FunctionRecord(self._load(r[0]), r[1]) for r in rows]

    def reserved_concurrencies(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._database.all(
            "SELECT name, reserved_concurrency FROM functions WHERE reserved_concurrency IS NOT NULL")}

    def function_names(self) -> list[str]:
        return [r[0] for r in self._database.all(f"SELECT name FROM functions ORDER BY name {_C}")]

    def update_latest(self, config: FunctionConfiguration, expected_revision: str | None = None) -> None:
        with self._tx() as db:
            current = self._load(self._latest_row(db, config.name, lock=True)[0])
            _check_revision(current, expected_revision)
            db.execute("UPDATE functions SET latest = %s, code = %s WHERE name = %s",
                       (self._dump(config), config.code_hex, config.name))

    def delete_function(self, name: str) -> None:
        with self._tx() as db:
            self._latest_row(db, name, lock=True)
            for table in ("functions", "versions", "provisioned", "aliases"):
                db.execute(f"DELETE FROM {table} WHERE name = %s", (name,))
            prefix = self._arns.function(name)
            db.execute("DELETE FROM tags WHERE arn = %s OR starts_with(arn, %s)", (prefix, prefix + ":"))

    # -- versions -------------------------------------------------------------
    def publish_version(self, name: str, description: str | None, revision_id: str, now: str,
                        expected_revision: str | None = None) -> FunctionConfiguration:
        with self._tx() as db:
            latest_json, _, next_version = self._latest_row(db, name, lock=True)
            latest = self._load(latest_json)
            _check_revision(latest, expected_revision)
            last = db.execute("SELECT config FROM versions WHERE name = %s ORDER BY version DESC LIMIT 1",
                              (name,)).fetchone()
            if last is not None:
                previous = self._load(last[0])
                if _same_for_publish(previous, latest):
                    return previous
            version = latest.replace(
                version=str(next_version), revision_id=revision_id, last_modified=now,
                description=latest.description if description is None else description,
            )
            db.execute("INSERT INTO versions (name, version, config, code) VALUES (%s, %s, %s, %s)",
                       (name, next_version, self._dump(version), version.code_hex))
            db.execute("UPDATE functions SET next_version = %s WHERE name = %s", (next_version + 1, name))
            return version

    def get_version(self, name: str, version: str) -> FunctionConfiguration:
        if version == LATEST:
            return self.get_function(name).latest

        def load() -> FunctionConfiguration:
            row = self._database.one("SELECT config FROM versions WHERE name = %s AND version = %s",
                                     (name, int(version) if is_version_number(version) and len(version) < 10 else -1))
            if row is None:
                raise self._not_found(name, version)
            return self._load(row[0])

        return self._cached((name, version), load)

    def list_versions(self, name: str) -> list[FunctionConfiguration]:
        with self._database.connection() as db:
            latest = self._load(self._latest_row(db, name)[0])
            rows = db.execute("SELECT config FROM versions WHERE name = %s ORDER BY version", (name,)).fetchall()
        return [latest] + [self._load(r[0]) for r in rows]

    def delete_version(self, name: str, version: str) -> None:
        with self._tx() as db:
            self._latest_row(db, name, lock=True)
            for (doc,) in db.execute("SELECT doc FROM aliases WHERE name = %s", (name,)).fetchall():
                alias = json.loads(doc)
                if version == alias["function_version"] or version in alias["weights"]:
                    raise ResourceConflictException(
                        f"Unable to delete version because the following aliases reference it: [{alias['name']}]")
            cur = db.execute("DELETE FROM versions WHERE name = %s AND version = %s",
                             (name, int(version) if is_version_number(version) and len(version) < 10 else -1))
            if cur.rowcount == 0:
                raise self._not_found(name, version)
            db.execute("DELETE FROM provisioned WHERE name = %s AND qualifier = %s", (name, version))

    # -- aliases --------------------------------------------------------------
    def put_alias(self, alias: Alias, create: bool, expected_revision: str | None = None) -> None:
        with self._tx() as db:
            self._latest_row(db, alias.function, lock=True)
            row = db.execute("SELECT doc FROM aliases WHERE name = %s AND alias = %s",
                             (alias.function, alias.name)).fetchone()
            if create and row is not None:
                raise ResourceConflictException(f"Alias already exists: {self._arns.function(alias.function, alias.name)}")
            if not create and row is None:
                raise ResourceNotFoundException(f"Alias not found: {self._arns.function(alias.function, alias.name)}")
            if row is not None and expected_revision is not None and json.loads(row[0])["revision_id"] != expected_revision:
                raise PreconditionFailedException(
                    "The Revision Id provided does not match the latest Revision Id. "
                    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
            db.execute("INSERT INTO aliases (name, alias, doc) VALUES (%s, %s, %s) ON CONFLICT (name, alias) "
                       "DO UPDATE SET doc = excluded.doc",
                       (alias.function, alias.name, json.dumps(dataclasses.asdict(alias))))

    def get_alias(self, name: str, alias: str) -> Alias:
        def load() -> Alias:
            with self._database.connection() as db:
                self._latest_row(db, name)
                row = db.execute("SELECT doc FROM aliases WHERE name = %s AND alias = %s", (name, alias)).fetchone()
            if row is None:
                raise ResourceNotFoundException(f"Alias not found: {self._arns.function(name, alias)}")
            return Alias(**json.loads(row[0]))

        return self._cached(("a:" + name, alias), load)

    def list_aliases(self, name: str) -> list[Alias]:
        with self._database.connection() as db:
            self._latest_row(db, name)
            rows = db.execute(f"SELECT doc FROM aliases WHERE name = %s ORDER BY alias {_C}", (name,)).fetchall()
        return [Alias(**json.loads(r[0])) for r in rows]

    def delete_alias(self, name: str, alias: str) -> None:
        with self._tx() as db:
            self._latest_row(db, name, lock=True)
            db.execute("DELETE FROM aliases WHERE name = %s AND alias = %s", (name, alias))
            db.execute("DELETE FROM provisioned WHERE name = %s AND qualifier = %s", (name, alias))

    # -- tags -----------------------------------------------------------------
    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with self._tx() as db:
            for k, v in tags.items():
                db.execute("INSERT INTO tags (arn, key, value) VALUES (%s, %s, %s) ON CONFLICT (arn, key) "
                           "DO UPDATE SET value = excluded.value", (arn, k, v))

    def untag(self, arn: str, keys: list[str]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM tags WHERE arn = %s AND key = ANY(%s)", (arn, list(keys)))

    def list_tags(self, arn: str) -> dict[str, str]:
        return dict(self._database.all(f"SELECT key, value FROM tags WHERE arn = %s ORDER BY key {_C}", (arn,)))

    # -- HTTP APIs --------------------------------------------------------------
    def put_api(self, api_id: str, doc: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO apis (id, doc) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                       (api_id, json.dumps(doc)))

    def get_api(self, api_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            row = self._database.one("SELECT doc FROM apis WHERE id = %s", (api_id,))
            if row is None:
                raise ResourceNotFoundException(f"Invalid API identifier specified {self._arns.account}:{api_id}")
            return dict(json.loads(row[0]))

        return dict(self._cached(("api", api_id), load))

    def list_apis(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._database.all(f"SELECT doc FROM apis ORDER BY id {_C}")]

    def delete_api(self, api_id: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM apis WHERE id = %s", (api_id,)).rowcount == 0:
                raise ResourceNotFoundException(f"Invalid API identifier specified {self._arns.account}:{api_id}")

    # -- documents --------------------------------------------------------------
    def put_document(self, kind: str, doc_id: str, doc: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO documents (kind, id, doc) VALUES (%s, %s, %s) ON CONFLICT (kind, id) "
                       "DO UPDATE SET doc = excluded.doc", (kind, doc_id, json.dumps(doc)))

    def get_document(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        row = self._database.one("SELECT doc FROM documents WHERE kind = %s AND id = %s", (kind, doc_id))
        return None if row is None else dict(json.loads(row[0]))

    def list_documents(self, kind: str) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._database.all(
            f"SELECT doc FROM documents WHERE kind = %s ORDER BY id {_C}", (kind,))]

    def delete_document(self, kind: str, doc_id: str) -> bool:
        with self._tx() as db:
            return bool(db.execute("DELETE FROM documents WHERE kind = %s AND id = %s", (kind, doc_id)).rowcount > 0)

    # -- usage counters -----------------------------------------------------------
    def add_usage(self, rows: Iterable[tuple[str, str, str, int]]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self._tx(invalidates=False) as db:
            with db.cursor() as cur:
                cur.executemany("INSERT INTO usage (plan, key, day, used) VALUES (%s, %s, %s, %s) "
                                "ON CONFLICT (plan, key, day) DO UPDATE SET used = usage.used + excluded.used", rows)

    def get_usage(self, plan: str, first_day: str, last_day: str, key: str | None = None) -> list[tuple[str, str, int]]:
        sql = "SELECT key, day, used FROM usage WHERE plan = %s AND day >= %s AND day <= %s"
        args: list[object] = [plan, first_day, last_day]
        if key is not None:
            sql += " AND key = %s"
            args.append(key)
        return [(r[0], r[1], int(r[2])) for r in self._database.all(sql + f" ORDER BY key {_C}, day {_C}", args)]

    # -- stacks ---------------------------------------------------------------
    def get_stack(self, name: str) -> dict[str, Any] | None:
        row = self._database.one("SELECT doc FROM stacks WHERE name = %s", (name,))
        return None if row is None else json.loads(row[0])

    def put_stack(self, name: str, doc: dict[str, Any]) -> None:
        with self._tx(invalidates=False) as db:
            db.execute("INSERT INTO stacks (name, doc) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
                       (name, json.dumps(doc)))

    def list_stacks(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r[0], json.loads(r[1])) for r in self._database.all(f"SELECT name, doc FROM stacks ORDER BY name {_C}")]

    # -- access keys ----------------------------------------------------------
    def add_access_key(self, key_id: str, secret: str, created: str) -> None:
        with self._tx(invalidates=False) as db:
            db.execute("INSERT INTO access_keys (id, secret, created) VALUES (%s, %s, %s)",
                       (key_id, seal_access_key(key_id, secret, self._sealer), created))

    def access_key_secret(self, key_id: str) -> str | None:
        row = self._database.one("SELECT secret FROM access_keys WHERE id = %s", (key_id,))
        return None if row is None else open_access_key(key_id, str(row[0]), self._sealer)

    def list_access_keys(self) -> list[tuple[str, str, str]]:
        return [(r[0], open_access_key(r[0], r[1], self._sealer), r[2]) for r in self._database.all(
            f"SELECT id, secret, created FROM access_keys ORDER BY created {_C}, id {_C}")]

    def delete_access_key(self, key_id: str) -> bool:
        with self._tx(invalidates=False) as db:
            return bool(db.execute("DELETE FROM access_keys WHERE id = %s", (key_id,)).rowcount > 0)

    # -- concurrency settings -------------------------------------------------
    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        with self._tx() as db:
            self._latest_row(db, name, lock=True)
            db.execute("UPDATE functions SET reserved_concurrency = %s WHERE name = %s", (value, name))

    def set_provisioned_concurrency(self, name: str, qualifier: str, value: int | None) -> None:
        with self._tx() as db:
            self._latest_row(db, name, lock=True)
            if value is None:
                db.execute("DELETE FROM provisioned WHERE name = %s AND qualifier = %s", (name, qualifier))
            else:
                db.execute("INSERT INTO provisioned (name, qualifier, requested) VALUES (%s, %s, %s) "
                           "ON CONFLICT (name, qualifier) DO UPDATE SET requested = excluded.requested",
                           (name, qualifier, value))

    def get_provisioned_concurrency(self, name: str, qualifier: str) -> int | None:
        row = self._database.one("SELECT requested FROM provisioned WHERE name = %s AND qualifier = %s",
                                 (name, qualifier))
        return None if row is None else int(row[0])

    def list_provisioned_concurrency(self) -> list[tuple[str, str, int]]:
        return [(r[0], r[1], int(r[2])) for r in self._database.all("SELECT name, qualifier, requested FROM provisioned")]

    def code_in_use(self, code_hex: str) -> bool:
        return self._database.one(
            "SELECT 1 FROM functions WHERE code = %s UNION ALL SELECT 1 FROM versions WHERE code = %s LIMIT 1",
            (code_hex, code_hex)) is not None

    # -- code packages, for nodes that do not have them yet (store/blobs.py) ----------------------
    def put_code(self, code_hex: str, zip_bytes: bytes) -> None:
        with self._tx(invalidates=False) as db:
            db.execute("INSERT INTO code (hex, zip) VALUES (%s, %s) ON CONFLICT (hex) DO NOTHING", (code_hex, zip_bytes))

    def get_code(self, code_hex: str) -> bytes | None:
        row = self._database.one("SELECT zip FROM code WHERE hex = %s", (code_hex,))
        return None if row is None else bytes(row[0])

    def delete_code(self, code_hex: str) -> None:
        with self._tx(invalidates=False) as db:
            db.execute("DELETE FROM code WHERE hex = %s", (code_hex,))

    # -- logs -----------------------------------------------------------------
    def append_logs(self, records: Iterable[LogRecord]) -> None:
        rows = [(r.function, r.version, r.stream, r.request_id, r.timestamp_ms, _utf8_text(r.message).encode())
                for r in records]
        if not rows:
            return
        # log_streams: one upsert per distinct stream of the batch, in its transaction, in a fixed
        # order (two writers' batches lock the same rows in the same order: no deadlock)
        streams: dict[tuple[str, str], list[int]] = {}
        for function, _, stream, _, ts, message in rows:
            entry = streams.get((function, stream))
            if entry is None:
                streams[(function, stream)] = [ts, ts, 1, len(message)]
            else:
                entry[0], entry[1] = min(entry[0], ts), max(entry[1], ts)
                entry[2] += 1
                entry[3] += len(message)
        with self._tx(invalidates=False) as db:
            with db.cursor() as cur:
                cur.executemany("INSERT INTO logs (function, version, stream, request_id, ts, message) "
                                "VALUES (%s, %s, %s, %s, %s, %s)", rows)
                cur.executemany(
                    "INSERT INTO log_streams AS s (function, stream, first_ts, last_ts, lines, bytes) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (function, stream) DO UPDATE SET "
                    "first_ts = least(s.first_ts, excluded.first_ts), last_ts = greatest(s.last_ts, excluded.last_ts), "
                    "lines = s.lines + excluded.lines, bytes = s.bytes + excluded.bytes",
                    [(*key, *value) for key, value in sorted(streams.items())])

    def prune_logs(self, function: str, before_ms: int | None) -> int:
        """As ``SQLiteStore.prune_logs``, ``log_streams`` following in the same transaction."""
        with self._tx(invalidates=False) as db:
            if before_ms is None:
                db.execute("DELETE FROM log_streams WHERE function = %s", (function,))
                return int(db.execute("DELETE FROM logs WHERE function = %s", (function,)).rowcount)
            gone = db.execute("WITH d AS (DELETE FROM logs WHERE function = %s AND ts < %s "
                              "RETURNING stream, length(message) AS b) "
                              "SELECT stream, count(*), sum(b) FROM d GROUP BY stream ORDER BY stream",
                              (function, before_ms)).fetchall()
            if not gone:
                return 0
            deleted = sum(int(n) for _, n, _ in gone)
            with db.cursor() as cur:
                cur.executemany("UPDATE log_streams SET lines = lines - %s, bytes = bytes - %s "
                                "WHERE function = %s AND stream = %s", [(n, b, function, st) for st, n, b in gone])
                cur.execute("DELETE FROM log_streams WHERE function = %s AND lines <= 0", (function,))
                cur.executemany(
                    "UPDATE log_streams SET first_ts = (SELECT ts FROM logs WHERE function = %s AND ts >= %s "
                    "AND stream = %s ORDER BY ts LIMIT 1) WHERE function = %s AND stream = %s",
                    [(function, before_ms, st, function, st) for st, _, _ in gone])
            return deleted

    # -- the log store as CloudWatch Logs reads it (store.base.LogEvents) ------------------------
    def log_group_keys(self) -> list[str]:
        """The distinct groups holding events, one index probe each (a loose index scan)."""
        rows = self._database.all(
            "WITH RECURSIVE g(k) AS (SELECT min(function) FROM logs UNION ALL "
            "SELECT (SELECT min(function) FROM logs WHERE function > g.k) FROM g WHERE g.k IS NOT NULL) "
            "SELECT k FROM g WHERE k IS NOT NULL")
        return [str(r[0]) for r in rows]

    def log_streams(self, group: str, prefix: str = "") -> list[tuple[str, int, int]]:
        """As ``SQLiteStore.log_streams``: a range of ``log_streams``, in bytewise name order."""
        sql, args = "SELECT stream, first_ts, last_ts FROM log_streams WHERE function = %s", [group]
        if prefix:
            sql, args = sql + " AND starts_with(stream, %s)", args + [prefix]
        rows = self._database.all(sql + f" ORDER BY stream {_C}", args)
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    def scan_logs(self, group: str, start_ms: int, end_ms: int, after: tuple[int, int] | None = None,
                  before: tuple[int, int] | None = None, streams: Sequence[str] | None = None,
                  contains: Sequence[str] = (), lacks: Sequence[str] = (), limit: int = 10_000) -> list[LogRecord]:
        """As ``SQLiteStore.scan_logs``: the messages are bytes here, so ``contains``/``lacks`` are
        looked for as their UTF-8 bytes (``position`` in the bytea)."""
        sql = ["SELECT id, function, version, stream, request_id, ts, message FROM logs "
               "WHERE function = %s AND ts >= %s AND ts < %s"]
        args: list[Any] = [group, start_ms, end_ms]
        if after is not None:
            sql.append("AND (ts, id) > (%s, %s)")
            args += [after[0], after[1]]
        if before is not None:
            sql.append("AND (ts, id) < (%s, %s)")
            args += [before[0], before[1]]
        if streams is not None:
            sql.append("AND stream = ANY(%s)")
            args.append(list(streams))
        for text in contains:
            sql.append("AND position(%s::bytea in message) > 0")
            args.append(text.encode())
        for text in lacks:
            sql.append("AND position(%s::bytea in message) = 0")
            args.append(text.encode())
        sql.append("ORDER BY ts DESC, id DESC LIMIT %s" if before is not None else "ORDER BY ts, id LIMIT %s")
        args.append(limit)
        rows = self._database.all(" ".join(sql), args)
        if before is not None:
            rows = list(reversed(rows))
        return [LogRecord(id=int(r[0]), function=r[1], version=r[2], stream=r[3], request_id=r[4],
                          timestamp_ms=int(r[5]), message=bytes(r[6]).decode()) for r in rows]

    def delete_log_stream(self, group: str, stream: str) -> int:
        with self._tx(invalidates=False) as db:
            db.execute("DELETE FROM log_streams WHERE function = %s AND stream = %s", (group, stream))
            return int(db.execute("DELETE FROM logs WHERE function = %s AND stream = %s", (group, stream)).rowcount)

    def count_logs(self, group: str | None = None) -> int:
        if group is None:
            row = self._database.one("SELECT count(*) FROM logs")
        else:
            row = self._database.one("SELECT count(*) FROM logs WHERE function = %s", (group,))
        return int(row[0]) if row else 0

    def query_logs(self, function: str, since_ms: int = 0, after_id: int = 0, limit: int = 10_000,
                   request_id: str | None = None) -> list[LogRecord]:
        sql = ("SELECT id, function, version, stream, request_id, ts, message FROM logs "
               "WHERE function = %s AND ts >= %s AND id > %s")
        args: list[object] = [function, since_ms, after_id]
        if request_id is not None:
            sql += " AND request_id = %s"
            args.append(request_id)
        sql += " ORDER BY id LIMIT %s"
        args.append(limit)
        return [LogRecord(id=int(r[0]), function=r[1], version=r[2], stream=r[3], request_id=r[4],
                          timestamp_ms=int(r[5]), message=bytes(r[6]).decode()) for r in self._database.all(sql, args)]

    def close(self) -> None:
        if self._owns_database:
            self._database.close()
