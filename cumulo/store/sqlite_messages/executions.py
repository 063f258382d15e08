"""Standard state-machine executions on SQLite (``ports.Executions``): every step durable."""

from __future__ import annotations

import json
from typing import Any, Sequence

from cumulo.store.ports import Wakeups
from cumulo.store.sqlite_messages.database import MessageDatabase

__all__ = ["SQLiteExecutions", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    machine TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    stopped_ms INTEGER,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (machine, started_ms);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
CREATE INDEX IF NOT EXISTS executions_by_machine_status ON executions (machine, status, started_ms);
CREATE TABLE IF NOT EXISTS history (
    arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (arn, id)
);
CREATE TABLE IF NOT EXISTS timers (
    arn TEXT NOT NULL,
    timer_id TEXT NOT NULL,
    fire_ms INTEGER NOT NULL,
    PRIMARY KEY (arn, timer_id)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (fire_ms);
CREATE TABLE IF NOT EXISTS task_tokens (
    token TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    task_id TEXT NOT NULL
);
"""


class SQLiteExecutions:
    def __init__(self, database: MessageDatabase, wakeups: Wakeups) -> None:
        self._lock, self._db, self._tx = database.lock, database.connection, database.tx
        self._wakeups = wakeups

    def insert_execution(self, arn: str, machine: str, name: str, started_ms: int, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM executions WHERE arn = ?", (arn,)).fetchone():
                return False
            db.execute("INSERT INTO executions VALUES (?, ?, ?, 'RUNNING', ?, NULL, ?)",
                       (arn, machine, name, started_ms, json.dumps(doc)))
        self._wakeups.notify()
        return True

    def get_execution(self, arn: str) -> tuple[str, str, int, int | None, dict[str, Any]] | None:
        with self._lock:
            row = self._db.execute("SELECT status, name, started_ms, stopped_ms, doc FROM executions WHERE arn = ?",
                                   (arn,)).fetchone()
        return (row[0], row[1], row[2], row[3], json.loads(row[4])) if row else None

    def list_executions(self, machine: str, status: str | None = None, after: tuple[int, str] | None = None,
                        limit: int | None = None) -> list[tuple[str, str, str, int, int | None]]:
        sql, args = _listing(machine, status, after, limit, "?")
        with self._lock:
            return [tuple(r) for r in self._db.execute(sql, args)]  # type: ignore[misc]

    def redrives(self, machine: str, arns: Sequence[str] | None = None) -> dict[str, tuple[int, float]]:
        sql = ("SELECT arn, json_extract(doc, '$.redriveCount'), json_extract(doc, '$.redriveDate') FROM executions "
               "WHERE instr(doc, '\"redriveCount\"') > 0 AND ")
        args: list[Any] = []
        if arns is None:
            sql += "machine = ?"
            args.append(machine)
        else:       # by the primary key alone: naming the machine too, SQLite read all its documents
            sql += f"arn IN ({', '.join('?' * len(arns))})"
            args += list(arns)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return {r[0]: (int(r[1]), float(r[2] or 0)) for r in rows if isinstance(r[1], int) and r[1] > 0}

    def running_executions(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT arn FROM executions WHERE status = 'RUNNING'")]

    def save_step(self, arn: str, status: str, stopped_ms: int | None, doc: dict[str, Any] | str,
                  events: list[tuple[int, str]], timers_add: list[tuple[str, int]], timers_del: list[str],
                  tokens_add: list[tuple[str, str]]) -> None:
        with self._tx() as db:
            db.execute("UPDATE executions SET status = ?, stopped_ms = ?, doc = ? WHERE arn = ?",
                       (status, stopped_ms, doc if isinstance(doc, str) else json.dumps(doc), arn))
            db.executemany("INSERT OR REPLACE INTO history VALUES (?, ?, ?)", [(arn, i, e) for i, e in events])
            db.executemany("INSERT OR REPLACE INTO timers VALUES (?, ?, ?)", [(arn, t, ms) for t, ms in timers_add])
            db.executemany("DELETE FROM timers WHERE arn = ? AND timer_id = ?", [(arn, t) for t in timers_del])
            db.executemany("INSERT OR REPLACE INTO task_tokens VALUES (?, ?, ?)",
                           [(token, arn, task) for token, task in tokens_add])
            if status != "RUNNING":
                db.execute("DELETE FROM timers WHERE arn = ?", (arn,))
                db.execute("DELETE FROM task_tokens WHERE arn = ?", (arn,))

    def history(self, arn: str, after_id: int = 0, limit: int = 1000, reverse: bool = False) -> list[str]:
        with self._lock:
            if reverse:
                rows = self._db.execute("SELECT event FROM history WHERE arn = ? AND id < ? ORDER BY id DESC LIMIT ?",
                                        (arn, after_id or 2 ** 62, limit))
            else:
                rows = self._db.execute("SELECT event FROM history WHERE arn = ? AND id > ? ORDER BY id LIMIT ?",
                                        (arn, after_id, limit))
            return [r[0] for r in rows]

    def due_timers(self, now_ms: int) -> list[tuple[str, str]]:
        with self._lock:
            return [(r[0], r[1]) for r in self._db.execute(
                "SELECT arn, timer_id FROM timers WHERE fire_ms <= ? ORDER BY fire_ms LIMIT 500", (now_ms,))]

    def next_timer_ms(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(fire_ms) FROM timers").fetchone()
        return row[0]

    def delete_timer(self, arn: str, timer_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM timers WHERE arn = ? AND timer_id = ?", (arn, timer_id))

    def task_token(self, token: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute("SELECT arn, task_id FROM task_tokens WHERE token = ?", (token,)).fetchone()
        return (row[0], row[1]) if row else None

    def delete_task_token(self, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM task_tokens WHERE token = ?", (token,))


def _listing(machine: str, status: str | None, after: tuple[int, str] | None, limit: int | None,
             mark: str) -> tuple[str, list[Any]]:
    """A machine's executions newest first (then by ARN), after the position ``after`` (the started
    ms and ARN of the last row of the page before), at most ``limit``: one range of the index
    ``executions_by_machine`` (``executions_by_machine_status`` with a status), so a page costs
    the same however many executions are kept. ``mark``: the driver's placeholder."""
    sql = f"SELECT arn, name, status, started_ms, stopped_ms FROM executions WHERE machine = {mark}"
    args: list[Any] = [machine]
    if status:
        sql += f" AND status = {mark}"
        args.append(status)
    if after is not None:    # (started_ms, arn) after the position, written so the index is ranged on started_ms
        sql += f" AND started_ms <= {mark} AND (started_ms < {mark} OR arn > {mark})"
        args += [after[0], after[0], after[1]]
    sql += " ORDER BY started_ms DESC, arn"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, args
