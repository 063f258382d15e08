"""The embedded store: one SQLite file in WAL mode.

One connection per store object, guarded by a lock: SQLite serialises writers
anyway, and the hot path never waits on it (logs are written by a background
writer, see ``cumulo.observe.logs``). Several processes may open the same file;
``busy_timeout`` makes them queue instead of failing.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import orjson

from cumulo.errors import PreconditionFailedException, ResourceConflictException, ResourceNotFoundException
from cumulo.model.alias import Alias
from cumulo.model.function import LATEST, Arns, FunctionConfiguration, is_version_number
from cumulo.store.sealing import SEALED, open_access_key, reseal_access_key, reseal_environment, seal_access_key
from cumulo.store import health, schema
from cumulo.store.schema import DOCUMENTS_VERSION
from cumulo.store.base import FunctionRecord, LogRecord

__all__ = ["SQLiteStore", "RECHECK_S"]

RECHECK_S = 0.1     # how often readers look for other processes' commits

_SCHEMA = """
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
    used INTEGER NOT NULL,
    PRIMARY KEY (plan, key, day)
);
CREATE TABLE IF NOT EXISTS stacks (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function TEXT NOT NULL,
    version TEXT NOT NULL,
    stream TEXT NOT NULL,
    request_id TEXT,
    ts INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_function ON logs (function, ts);
CREATE TABLE IF NOT EXISTS log_streams (
    function TEXT NOT NULL,
    stream TEXT NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (function, stream)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS functions_reserved ON functions (name, reserved_concurrency)
    WHERE reserved_concurrency IS NOT NULL;
"""

# Fields that make two configurations "the same" for PublishVersion's reuse rule.
_PUBLISH_IGNORED = ("version", "revision_id", "last_modified", "description")



class SQLiteStore:
    def __init__(self, path: Path, arns: Arns) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._arns = arns
        self._lock = threading.RLock()
        self._sealer: Any = None        # seals functions' environment variables (seal_environments)
        with health.opening(path):      # a damaged file or a full disk: said so, naming the file
            self._open(path)

    def _open(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA foreign_keys=ON")
        # Configurations read on every invoke are cached; any commit to the file by another
        # connection bumps PRAGMA data_version, and our own writes clear the cache directly.
        self._cache: dict[tuple[str, str], FunctionRecord | FunctionConfiguration] = {}
        self._data_version = -1
        self._recheck_at = 0.0
        self._generation = 0   # bumped whenever cached state may be stale: readers re-derive theirs
        # Access keys' opened secrets, read on every signed request: kept while PRAGMA data_version
        # (read at each lookup, so another process's deletion counts at once) is the one they were
        # read at; our own writes clear them directly.
        self._secrets: dict[str, str] = {}
        self._secrets_version = -1
        with self._tx():
            found = schema.check_sqlite(self._db, str(self.path), "documents", DOCUMENTS_VERSION)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if found < 3:       # 3: log_streams, filled once from the lines already kept
                self._db.execute(_FILL_LOG_STREAMS)
            if found != DOCUMENTS_VERSION:      # written only when it changes: opening writes nothing
                self._db.execute(f"PRAGMA user_version = {DOCUMENTS_VERSION}")

    def quick_check(self, budget_s: float = health.QUICK_CHECK_BUDGET_S) -> bool:
        """SQLite's ``PRAGMA quick_check`` within ``budget_s`` (``health.quick_check``)."""
        with self._lock:
            return health.quick_check(self._db, self.path, budget_s)

    # -- plumbing -------------------------------------------------------------
    def _tx(self, invalidates: bool = True) -> "_Transaction":
        return _Transaction(self._db, self._lock, self._invalidate if invalidates else None)

    def _invalidate(self) -> None:
        """After a commit, under the lock: no reader can re-cache what the commit replaced."""
        self._cache.clear()
        self._generation += 1

    @property
    def generation(self) -> int:
        """Bumped by every commit of ours at once, and by another process's within ``RECHECK_S``."""
        self._recheck()
        return self._generation

    def _recheck(self) -> None:
        """Other processes' commits (a CLI beside the server) are noticed through ``PRAGMA
        data_version``, checked at most every ``RECHECK_S``, never waiting for the lock: while a
        writer holds it (the log writer's batch, milliseconds), the next call checks instead;
        waiting for it took 3% of the gateway's event loop."""
        now = time.monotonic()
        if now >= self._recheck_at and self._lock.acquire(blocking=False):
            try:
                version = self._db.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:
                    self._invalidate()
                    self._data_version = version
                self._recheck_at = now + RECHECK_S
            finally:
                self._lock.release()

    def _cached(self, key: tuple[str, str], load: "Callable[[], Any]") -> Any:
        """A configuration read on the invoke path, from the cache when nothing changed
        (``_recheck``): so the hot path usually takes no lock and runs no SQL, and a change made
        elsewhere is seen within 0.1 s."""
        self._recheck()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                hit = self._cache[key] = load()
            return hit

    def _not_found(self, name: str, qualifier: str | None = None) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"Function not found: {self._arns.function(name, qualifier)}")

    def _latest_row(self, name: str) -> tuple[str, int | None, int]:
        row = self._db.execute(
            "SELECT latest, reserved_concurrency, next_version FROM functions WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise self._not_found(name)
        return row

    # -- functions ------------------------------------------------------------
    def seal_environments(self, sealer: Any) -> None:
        """Keep functions' environment variables sealed from now on, with ``sealer`` (``keyring.Keyring``:
        ``seal``/``open_sealed``), bound to the function's name: the database alone does not reveal
        them. Configurations written before are read as they are and sealed when next written."""
        self._sealer = sealer

    def reseal(self, documents: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]],
               reseal: Any, shared_keys: Callable[[str, bytes], bytes] | None = None) -> dict[str, int]:
        """A master key rotation's writes, in one transaction (all or nothing): each document of the
        kinds in ``documents`` rewritten by its function; every function configuration's environment
        (``$LATEST`` and versions) and every access key's secret given to ``reseal(sealed, context)``
        (``keyring.Resealer``)
        (those still in the clear are sealed now). ``shared_keys``: none on SQLite (its STS and SNS
        keys are files). Answers how many of each place were rewritten."""
        counts: dict[str, int] = {}
        with self._tx():
            for kind, rewrite in documents.items():
                for doc_id, text in self._db.execute("SELECT id, doc FROM documents WHERE kind = ?", (kind,)).fetchall():
                    self._db.execute("UPDATE documents SET doc = ? WHERE kind = ? AND id = ?",
                                     (json.dumps(rewrite(json.loads(text))), kind, doc_id))
                    counts[kind] = counts.get(kind, 0) + 1
            for table, key in (("functions", "latest"), ("versions", "config")):
                rows = self._db.execute(f"SELECT rowid, {key} FROM {table}").fetchall()
                for rowid, text in rows:
                    changed = reseal_environment(text, reseal)
                    if changed is not None:
                        self._db.execute(f"UPDATE {table} SET {key} = ? WHERE rowid = ?", (changed, rowid))
                        counts["lambda-environment"] = counts.get("lambda-environment", 0) + 1
            self._secrets.clear()
            for key_id, secret in self._db.execute("SELECT id, secret FROM access_keys").fetchall():
                self._db.execute("UPDATE access_keys SET secret = ? WHERE id = ?",
                                 (reseal_access_key(key_id, secret, reseal), key_id))
                counts["access-key"] = counts.get("access-key", 0) + 1
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
        with self._tx():
            try:
                self._db.execute("INSERT INTO functions (name, latest, code) VALUES (?, ?, ?)",
                                 (config.name, self._dump(config), config.code_hex))
            except sqlite3.IntegrityError:
                raise ResourceConflictException(f"Function already exist: {config.name}") from None

    def get_function(self, name: str) -> FunctionRecord:
        def load() -> FunctionRecord:
            latest, reserved, _ = self._latest_row(name)
            return FunctionRecord(self._load(latest), reserved)

        return self._cached(("f", name), load)

    def list_functions(self, after: str | None = None, limit: int | None = None) -> list[FunctionRecord]:
        sql, args = "SELECT latest, reserved_concurrency FROM functions", []
        if after is not None:
            sql, args = sql + " WHERE name > ?", [after]
        sql += " ORDER BY name" + ("" if limit is None else f" LIMIT {int(limit)}")
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [FunctionRecord(self._load(r[0]), r[1]) for r in rows]

    def reserved_concurrencies(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT name, reserved_concurrency FROM functions "
                                         "WHERE reserved_concurrency IS NOT NULL").fetchall())

    def function_names(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM functions ORDER BY name")]

    def update_latest(self, config: FunctionConfiguration, expected_revision: str | None = None) -> None:
        with self._tx():
            current = self._load(self._latest_row(config.name)[0])
            _check_revision(current, expected_revision)
            self._db.execute("UPDATE functions SET latest = ?, code = ? WHERE name = ?",
                             (self._dump(config), config.code_hex, config.name))

    def delete_function(self, name: str) -> None:
        with self._tx():
            self._latest_row(name)
            for table in ("functions", "versions", "provisioned", "aliases"):
                self._db.execute(f"DELETE FROM {table} WHERE name = ?", (name,))
            prefix = self._arns.function(name)
            self._db.execute("DELETE FROM tags WHERE arn = ? OR arn LIKE ?", (prefix, prefix + ":%"))

    # -- versions -------------------------------------------------------------
    def publish_version(self, name: str, description: str | None, revision_id: str, now: str,
                        expected_revision: str | None = None) -> FunctionConfiguration:
        with self._tx():
            latest_json, _, next_version = self._latest_row(name)
            latest = self._load(latest_json)
            _check_revision(latest, expected_revision)
            last = self._db.execute(
                "SELECT config FROM versions WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            ).fetchone()
            if last is not None:
                previous = self._load(last[0])
                if _same_for_publish(previous, latest):
                    return previous
            version = latest.replace(
                version=str(next_version), revision_id=revision_id, last_modified=now,
                description=latest.description if description is None else description,
            )
            self._db.execute("INSERT INTO versions (name, version, config, code) VALUES (?, ?, ?, ?)",
                             (name, next_version, self._dump(version), version.code_hex))
            self._db.execute("UPDATE functions SET next_version = ? WHERE name = ?", (next_version + 1, name))
            return version

    def get_version(self, name: str, version: str) -> FunctionConfiguration:
        if version == LATEST:
            return self.get_function(name).latest

        def load() -> FunctionConfiguration:
            row = self._db.execute("SELECT config FROM versions WHERE name = ? AND version = ?",
                                   (name, int(version) if is_version_number(version) else -1)).fetchone()
            if row is None:
                raise self._not_found(name, version)
            return self._load(row[0])

        return self._cached((name, version), load)

    def list_versions(self, name: str) -> list[FunctionConfiguration]:
        with self._lock:
            latest = self._load(self._latest_row(name)[0])
            rows = self._db.execute("SELECT config FROM versions WHERE name = ? ORDER BY version", (name,)).fetchall()
        return [latest] + [self._load(r[0]) for r in rows]

    def delete_version(self, name: str, version: str) -> None:
        with self._tx():
            self._latest_row(name)
            for (doc,) in self._db.execute("SELECT doc FROM aliases WHERE name = ?", (name,)).fetchall():
                alias = json.loads(doc)
                if version == alias["function_version"] or version in alias["weights"]:
                    raise ResourceConflictException(
                        f"Unable to delete version because the following aliases reference it: [{alias['name']}]")
            cur = self._db.execute("DELETE FROM versions WHERE name = ? AND version = ?",
                                   (name, int(version) if is_version_number(version) else -1))
            if cur.rowcount == 0:
                raise self._not_found(name, version)
            self._db.execute("DELETE FROM provisioned WHERE name = ? AND qualifier = ?", (name, version))

    # -- aliases --------------------------------------------------------------
    def put_alias(self, alias: Alias, create: bool, expected_revision: str | None = None) -> None:
        with self._tx():
            self._latest_row(alias.function)
            row = self._db.execute("SELECT doc FROM aliases WHERE name = ? AND alias = ?",
                                   (alias.function, alias.name)).fetchone()
            if create and row is not None:
                raise ResourceConflictException(f"Alias already exists: {self._arns.function(alias.function, alias.name)}")
            if not create and row is None:
                raise ResourceNotFoundException(f"Alias not found: {self._arns.function(alias.function, alias.name)}")
            if row is not None and expected_revision is not None and json.loads(row[0])["revision_id"] != expected_revision:
                raise PreconditionFailedException(
                    "The Revision Id provided does not match the latest Revision Id. "
                    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
            self._db.execute("INSERT OR REPLACE INTO aliases (name, alias, doc) VALUES (?, ?, ?)",
                             (alias.function, alias.name, json.dumps(dataclasses.asdict(alias))))

    def get_alias(self, name: str, alias: str) -> Alias:
        def load() -> Alias:
            self._latest_row(name)
            row = self._db.execute("SELECT doc FROM aliases WHERE name = ? AND alias = ?", (name, alias)).fetchone()
            if row is None:
                raise ResourceNotFoundException(f"Alias not found: {self._arns.function(name, alias)}")
            return Alias(**json.loads(row[0]))

        return self._cached(("a:" + name, alias), load)

    def list_aliases(self, name: str) -> list[Alias]:
        with self._lock:
            self._latest_row(name)
            rows = self._db.execute("SELECT doc FROM aliases WHERE name = ? ORDER BY alias", (name,)).fetchall()
        return [Alias(**json.loads(r[0])) for r in rows]

    def delete_alias(self, name: str, alias: str) -> None:
        with self._tx():
            self._latest_row(name)
            self._db.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))
            self._db.execute("DELETE FROM provisioned WHERE name = ? AND qualifier = ?", (name, alias))

    # -- tags -----------------------------------------------------------------
    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with self._tx():
            self._db.executemany("INSERT OR REPLACE INTO tags (arn, key, value) VALUES (?, ?, ?)",
                                 [(arn, k, v) for k, v in tags.items()])

    def untag(self, arn: str, keys: list[str]) -> None:
        with self._tx():
            self._db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys])

    def list_tags(self, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM tags WHERE arn = ? ORDER BY key", (arn,)).fetchall())

    # -- HTTP APIs --------------------------------------------------------------
    def put_api(self, api_id: str, doc: dict[str, Any]) -> None:
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO apis (id, doc) VALUES (?, ?)", (api_id, json.dumps(doc)))

    def get_api(self, api_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            row = self._db.execute("SELECT doc FROM apis WHERE id = ?", (api_id,)).fetchone()
            if row is None:
                raise ResourceNotFoundException(f"Invalid API identifier specified {self._arns.account}:{api_id}")
            return dict(json.loads(row[0]))

        return dict(self._cached(("api", api_id), load))

    def list_apis(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM apis ORDER BY id")]

    def delete_api(self, api_id: str) -> None:
        with self._tx():
            if self._db.execute("DELETE FROM apis WHERE id = ?", (api_id,)).rowcount == 0:
                raise ResourceNotFoundException(f"Invalid API identifier specified {self._arns.account}:{api_id}")

    # -- other resources, one JSON document each (API keys, usage plans …) -----
    def put_document(self, kind: str, doc_id: str, doc: dict[str, Any]) -> None:
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO documents (kind, id, doc) VALUES (?, ?, ?)",
                             (kind, doc_id, json.dumps(doc)))

    def get_document(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM documents WHERE kind = ? AND id = ?", (kind, doc_id)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def list_documents(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute(
                "SELECT doc FROM documents WHERE kind = ? ORDER BY id", (kind,))]

    def delete_document(self, kind: str, doc_id: str) -> bool:
        with self._tx():
            return self._db.execute("DELETE FROM documents WHERE kind = ? AND id = ?", (kind, doc_id)).rowcount > 0

    # -- usage counters of usage plans ------------------------------------------
    def add_usage(self, rows: Iterable[tuple[str, str, str, int]]) -> None:
        """Add ``used`` to the counter of each (plan, key, day, used)."""
        rows = list(rows)
        if not rows:
            return
        with self._tx(invalidates=False):
            self._db.executemany(
                "INSERT INTO usage (plan, key, day, used) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (plan, key, day) DO UPDATE SET used = used + excluded.used", rows)

    def get_usage(self, plan: str, first_day: str, last_day: str, key: str | None = None) -> list[tuple[str, str, int]]:
        """(key, day, used) of a plan between two ISO days, inclusive."""
        sql = "SELECT key, day, used FROM usage WHERE plan = ? AND day >= ? AND day <= ?"
        args: list[object] = [plan, first_day, last_day]
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        with self._lock:
            return [(r[0], r[1], int(r[2])) for r in self._db.execute(sql + " ORDER BY key, day", args)]

    # -- stacks (what a template deployed) ------------------------------------
    def get_stack(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM stacks WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_stack(self, name: str, doc: dict[str, Any]) -> None:
        with self._tx(invalidates=False):
            self._db.execute("INSERT OR REPLACE INTO stacks (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))

    def list_stacks(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(r[0], json.loads(r[1])) for r in self._db.execute("SELECT name, doc FROM stacks ORDER BY name")]

    # -- access keys ----------------------------------------------------------
    def add_access_key(self, key_id: str, secret: str, created: str) -> None:
        with self._tx(invalidates=False):
            self._secrets.clear()
            self._db.execute("INSERT INTO access_keys (id, secret, created) VALUES (?, ?, ?)",
                             (key_id, seal_access_key(key_id, secret, self._sealer), created))

    def access_key_secret(self, key_id: str) -> str | None:
        """The key's secret, opened once and kept while no commit of another connection (a ``cumulo
        keys delete`` beside the server) happened since: PRAGMA data_version is read on every call
        (5 µs, where reading and opening the sealed secret took 18), so a deleted key is refused at once."""
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._secrets_version:
                self._secrets.clear()
                self._secrets_version = version
            found = self._secrets.get(key_id)
            if found is not None:
                return found
            row = self._db.execute("SELECT secret FROM access_keys WHERE id = ?", (key_id,)).fetchone()
            if row is None:
                return None
            found = open_access_key(key_id, str(row[0]), self._sealer)
            if len(self._secrets) >= 1024:
                self._secrets.clear()
            self._secrets[key_id] = found
            return found

    def list_access_keys(self) -> list[tuple[str, str, str]]:
        """(id, secret, created) of every key, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, secret, created FROM access_keys ORDER BY created, id").fetchall()
        return [(r[0], open_access_key(r[0], r[1], self._sealer), r[2]) for r in rows]

    def delete_access_key(self, key_id: str) -> bool:
        with self._tx(invalidates=False):
            self._secrets.clear()
            return self._db.execute("DELETE FROM access_keys WHERE id = ?", (key_id,)).rowcount > 0

    # -- concurrency settings -------------------------------------------------
    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        with self._tx():
            self._latest_row(name)
            self._db.execute("UPDATE functions SET reserved_concurrency = ? WHERE name = ?", (value, name))

    def set_provisioned_concurrency(self, name: str, qualifier: str, value: int | None) -> None:
        with self._tx():
            self._latest_row(name)
            if value is None:
                self._db.execute("DELETE FROM provisioned WHERE name = ? AND qualifier = ?", (name, qualifier))
            else:
                self._db.execute(
                    "INSERT INTO provisioned (name, qualifier, requested) VALUES (?, ?, ?) "
                    "ON CONFLICT (name, qualifier) DO UPDATE SET requested = excluded.requested",
                    (name, qualifier, value),
                )

    def get_provisioned_concurrency(self, name: str, qualifier: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT requested FROM provisioned WHERE name = ? AND qualifier = ?",
                                   (name, qualifier)).fetchone()
        return None if row is None else int(row[0])

    def list_provisioned_concurrency(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return [tuple(r) for r in self._db.execute("SELECT name, qualifier, requested FROM provisioned")]  # type: ignore[misc]

    def code_in_use(self, code_hex: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM functions WHERE code = ? UNION ALL SELECT 1 FROM versions WHERE code = ? LIMIT 1",
                (code_hex, code_hex),
            ).fetchone()
        return row is not None

    # -- logs -----------------------------------------------------------------
    def append_logs(self, records: Iterable[LogRecord]) -> None:
        """The whole batch in one statement over a JSON array, which SQLite inserts with the
        interpreter lock released: ``executemany`` binds each row holding it, so the log writer
        thread took the lock back from the server's event loop row by row (four rows per gateway
        request). Row by row still for what the JSON way would not keep: a NUL character (SQLite's
        JSON functions end the text there) and a lone surrogate (not UTF-8: replaced by U+FFFD,
        which before failed the whole batch)."""
        rows = [(r.function, r.version, r.stream, r.request_id, r.timestamp_ms, r.message) for r in records]
        if not rows:
            return
        try:
            batch: bytes | None = orjson.dumps(rows)
        except (TypeError, orjson.JSONEncodeError):
            batch, rows = None, [(*row[:5], _utf8_text(row[5])) for row in rows]
        with self._tx(invalidates=False):
            if batch is not None and b"\\u0000" not in batch:
                last: Any = self._db.execute(_INSERT_LOGS_JSON, (batch.decode(),)).lastrowid
            else:
                self._db.executemany(
                    "INSERT INTO logs (function, version, stream, request_id, ts, message) VALUES (?, ?, ?, ?, ?, ?)",
                    rows)
                last = self._db.execute("SELECT last_insert_rowid()").fetchone()[0]
            # the batch's ids are consecutive (one writer at a time, AUTOINCREMENT): one upsert
            # per distinct stream of the batch, read back from the rows just written
            self._db.execute(_UPSERT_LOG_STREAMS, (int(last) - len(rows), last))

    def prune_logs(self, function: str, before_ms: int | None) -> int:
        """Drop ``function``'s log events older than ``before_ms`` (None: all of them); how many went.
        ``log_streams`` follows in the same transaction: a stream whose lines all went goes, one
        that keeps some gets its new first event (a probe along ``logs_by_function``)."""
        with self._tx(invalidates=False):
            if before_ms is None:
                self._db.execute("DELETE FROM log_streams WHERE function = ?", (function,))
                return self._db.execute("DELETE FROM logs WHERE function = ?", (function,)).rowcount
            gone = self._db.execute(
                "SELECT stream, count(*), sum(length(CAST(message AS BLOB))) FROM logs "
                "WHERE function = ? AND ts < ? GROUP BY stream", (function, before_ms)).fetchall()
            if not gone:
                return 0
            deleted = self._db.execute("DELETE FROM logs WHERE function = ? AND ts < ?", (function, before_ms)).rowcount
            self._db.executemany("UPDATE log_streams SET lines = lines - ?, bytes = bytes - ? "
                                 "WHERE function = ? AND stream = ?", [(n, b, function, st) for st, n, b in gone])
            self._db.execute("DELETE FROM log_streams WHERE function = ? AND lines <= 0", (function,))
            self._db.executemany(
                "UPDATE log_streams SET first_ts = (SELECT ts FROM logs WHERE function = ?1 AND ts >= ?3 "
                "AND stream = ?2 ORDER BY ts LIMIT 1) WHERE function = ?1 AND stream = ?2",
                [(function, st, before_ms) for st, _, _ in gone])
            return deleted

    def log_group_keys(self) -> list[str]:
        """The distinct groups holding events, one index probe each (not a scan of every event)."""
        with self._lock:
            rows = self._db.execute(
                "WITH RECURSIVE g(k) AS (SELECT min(function) FROM logs UNION ALL "
                "SELECT (SELECT min(function) FROM logs WHERE function > g.k) FROM g WHERE g.k IS NOT NULL) "
                "SELECT k FROM g WHERE k IS NOT NULL").fetchall()
        return [r[0] for r in rows]

    def log_streams(self, group: str, prefix: str = "") -> list[tuple[str, int, int]]:
        """(stream, first ts, last ts) of the group's streams named ``prefix``…, in name order: a
        range of ``log_streams``, which the log writer keeps (not a pass over the group's lines)."""
        sql = "SELECT stream, first_ts, last_ts FROM log_streams WHERE function = ?"
        args: list[Any] = [group]
        if prefix:
            sql, args = sql + " AND stream >= ? AND substr(stream, 1, ?) = ?", args + [prefix, len(prefix), prefix]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY stream", args).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def scan_logs(self, group: str, start_ms: int, end_ms: int, after: tuple[int, int] | None = None,
                  before: tuple[int, int] | None = None, streams: Sequence[str] | None = None,
                  contains: Sequence[str] = (), lacks: Sequence[str] = (), limit: int = 10_000) -> list[LogRecord]:
        """A group's events with ``start_ms <= ts < end_ms`` in (ts, id) order: the first ``limit``
        after the position ``after``, or (``before``) the last ``limit`` before it, in ascending order.
        ``contains`` / ``lacks``: substrings the message must / must not hold (SQLite's ``instr``, so
        the rows a filter pattern cannot match never reach Python)."""
        sql = ["SELECT id, function, version, stream, request_id, ts, message FROM logs "
               "WHERE function = ? AND ts >= ? AND ts < ?"]
        args: list[Any] = [group, start_ms, end_ms]
        # (ts, id) > (a, b) written so that SQLite ranges over the index on ts (a row value
        # comparison made it scan the group from its first event at every page)
        if after is not None:
            sql.append("AND ts >= ? AND (ts > ? OR id > ?)")
            args += [after[0], after[0], after[1]]
        if before is not None:
            sql.append("AND ts <= ? AND (ts < ? OR id < ?)")
            args += [before[0], before[0], before[1]]
        if streams is not None:
            sql.append(f"AND stream IN ({', '.join('?' * len(streams))})")
            args += list(streams)
        for text in contains:
            sql.append("AND instr(message, ?) > 0")
            args.append(text)
        for text in lacks:
            sql.append("AND instr(message, ?) = 0")
            args.append(text)
        sql.append("ORDER BY ts DESC, id DESC LIMIT ?" if before is not None else "ORDER BY ts, id LIMIT ?")
        args.append(limit)
        with self._lock:
            rows = self._db.execute(" ".join(sql), args).fetchall()
        if before is not None:
            rows.reverse()
        return [LogRecord(id=r[0], function=r[1], version=r[2], stream=r[3], request_id=r[4],
                          timestamp_ms=r[5], message=r[6]) for r in rows]

    def delete_log_stream(self, group: str, stream: str) -> int:
        with self._tx(invalidates=False):
            self._db.execute("DELETE FROM log_streams WHERE function = ? AND stream = ?", (group, stream))
            return self._db.execute("DELETE FROM logs WHERE function = ? AND stream = ?", (group, stream)).rowcount

    def count_logs(self, group: str | None = None) -> int:
        with self._lock:
            if group is None:
                return int(self._db.execute("SELECT count(*) FROM logs").fetchone()[0])
            return int(self._db.execute("SELECT count(*) FROM logs WHERE function = ?", (group,)).fetchone()[0])

    def query_logs(self, function: str, since_ms: int = 0, after_id: int = 0, limit: int = 10_000,
                   request_id: str | None = None) -> list[LogRecord]:
        sql = "SELECT id, function, version, stream, request_id, ts, message FROM logs WHERE function = ? AND ts >= ? AND id > ?"
        args: list[object] = [function, since_ms, after_id]
        if request_id is not None:
            sql += " AND request_id = ?"
            args.append(request_id)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [LogRecord(id=r[0], function=r[1], version=r[2], stream=r[3], request_id=r[4],
                          timestamp_ms=r[5], message=r[6]) for r in rows]

    def newest_logs(self, function: str, limit: int) -> list[LogRecord]:
        """A function's newest ``limit`` lines, oldest of them first: one walk back along
        ``logs_by_function`` (not a protocol method: the console uses it where a store has it)."""
        sql = ("SELECT id, function, version, stream, request_id, ts, message FROM logs WHERE function = ? "
               "ORDER BY ts DESC LIMIT ?")
        with self._lock:
            rows = self._db.execute(sql, (function, limit)).fetchall()
        rows.sort(key=lambda r: (r[5], r[0]))
        return [LogRecord(id=r[0], function=r[1], version=r[2], stream=r[3], request_id=r[4],
                          timestamp_ms=r[5], message=r[6]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


# One row per element of a JSON array of [function, version, stream, request_id, ts, message],
# in the array's order (so ids follow the batch).
_INSERT_LOGS_JSON = (
    "INSERT INTO logs (function, version, stream, request_id, ts, message) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
    "json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]') "
    "FROM json_each(?) ORDER BY key"
)

# log_streams from the rows with ids in (?1, ?2]: one row per distinct (function, stream)
_UPSERT_LOG_STREAMS = (
    "INSERT INTO log_streams (function, stream, first_ts, last_ts, lines, bytes) "
    "SELECT function, stream, min(ts), max(ts), count(*), sum(length(CAST(message AS BLOB))) FROM logs "
    "WHERE id > ?1 AND id <= ?2 GROUP BY function, stream "
    "ON CONFLICT (function, stream) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), "
    "last_ts = max(last_ts, excluded.last_ts), lines = lines + excluded.lines, bytes = bytes + excluded.bytes"
)
# documents schema 3: log_streams from the lines kept before it existed
_FILL_LOG_STREAMS = (
    "INSERT OR REPLACE INTO log_streams (function, stream, first_ts, last_ts, lines, bytes) "
    "SELECT function, stream, min(ts), max(ts), count(*), sum(length(CAST(message AS BLOB))) FROM logs "
    "GROUP BY function, stream"
)


def _utf8_text(text: str) -> str:
    """``text`` with any lone surrogate (no UTF-8 form) replaced by U+FFFD."""
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the store's lock; rollback on error; then ``on_commit``."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, on_commit: Callable[[], None] | None) -> None:
        self._db, self._lock, self._on_commit = db, lock, on_commit

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type:
                health.rollback(self._db)
                return
            try:
                self._db.execute("COMMIT")
            except BaseException:       # a full disk at commit: nothing of it is kept
                health.rollback(self._db)
                raise
            if self._on_commit is not None:
                self._on_commit()
        finally:
            self._lock.release()


def _check_revision(current: FunctionConfiguration, expected: str | None) -> None:
    if expected is not None and expected != current.revision_id:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )


def _same_for_publish(a: FunctionConfiguration, b: FunctionConfiguration) -> bool:
    da, db = a.to_dict(), b.to_dict()
    for key in _PUBLISH_IGNORED:
        da.pop(key), db.pop(key)
    return da == db
