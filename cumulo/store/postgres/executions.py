"""Standard state-machine executions on PostgreSQL (``ports.Executions``): every step durable, so
an execution a dead node was running resumes on another from its last committed step."""

from __future__ import annotations

import json
from typing import Any, Sequence

from cumulo.store.ports import Wakeups
from cumulo.store.postgres.database import Database

__all__ = ["PostgresExecutions", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    machine TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    stopped_ms BIGINT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (machine, started_ms);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
CREATE INDEX IF NOT EXISTS executions_by_machine_status ON executions (machine, status, started_ms);
CREATE TABLE IF NOT EXISTS history (
    arn TEXT NOT NULL,
    id BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (arn, id)
);
CREATE TABLE IF NOT EXISTS timers (
    arn TEXT NOT NULL,
    timer_id TEXT NOT NULL,
    fire_ms BIGINT NOT NULL,
    PRIMARY KEY (arn, timer_id)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (fire_ms);
CREATE TABLE IF NOT EXISTS task_tokens (
    token TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    task_id TEXT NOT NULL
);
"""


class PostgresExecutions:
    def __init__(self, database: Database, wakeups: Wakeups) -> None:
        self._database, self._tx = database, database.tx
        self._wakeups = wakeups

    def insert_execution(self, arn: str, machine: str, name: str, started_ms: int, doc: dict[str, Any]) -> bool:
        with self._tx() as db:
            inserted = db.execute("INSERT INTO executions VALUES (%s, %s, %s, 'RUNNING', %s, NULL, %s) "
                                  "ON CONFLICT (arn) DO NOTHING RETURNING arn",
                                  (arn, machine, name, started_ms, json.dumps(doc))).fetchone()
        if inserted is None:
            return False
        self._wakeups.notify()
        return True

    def get_execution(self, arn: str) -> tuple[str, str, int, int | None, dict[str, Any]] | None:
        row = self._database.one("SELECT status, name, started_ms, stopped_ms, doc FROM executions WHERE arn = %s",
                                 (arn,))
        return (row[0], row[1], int(row[2]), None if row[3] is None else int(row[3]), json.loads(row[4])) if row else None

    def list_executions(self, machine: str, status: str | None = None, after: tuple[int, str] | None = None,
                        limit: int | None = None) -> list[tuple[str, str, str, int, int | None]]:
        """As SQLite's: one range of ``executions_by_machine`` (``…_status`` with a status) per page."""
        sql = "SELECT arn, name, status, started_ms, stopped_ms FROM executions WHERE machine = %s"
        args: list[Any] = [machine]
        if status:
            sql += " AND status = %s"
            args.append(status)
        if after is not None:
            sql += " AND started_ms <= %s AND (started_ms < %s OR arn COLLATE \"C\" > %s)"
            args += [after[0], after[0], after[1]]
        sql += " ORDER BY started_ms DESC, arn COLLATE \"C\""
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [(r[0], r[1], r[2], int(r[3]), None if r[4] is None else int(r[4])) for r in self._database.all(sql, args)]

    def redrives(self, machine: str, arns: Sequence[str] | None = None) -> dict[str, tuple[int, float]]:
        sql = ("SELECT arn, doc::jsonb -> 'redriveCount', doc::jsonb -> 'redriveDate' "
               "FROM executions WHERE strpos(doc, '\"redriveCount\"') > 0 AND ")
        args: list[Any] = []
        if arns is None:
            sql += "machine = %s"
            args.append(machine)
        else:       # the page's ARNs by the primary key, not every row of the machine
            sql += "arn = ANY(%s)"
            args.append(list(arns))
        rows = self._database.all(sql, args)
        return {r[0]: (int(r[1]), float(r[2] or 0)) for r in rows if isinstance(r[1], int) and r[1] > 0}

    def running_executions(self) -> list[str]:
        return [r[0] for r in self._database.all("SELECT arn FROM executions WHERE status = 'RUNNING'")]

    def save_step(self, arn: str, status: str, stopped_ms: int | None, doc: dict[str, Any] | str,
                  events: list[tuple[int, str]], timers_add: list[tuple[str, int]], timers_del: list[str],
                  tokens_add: list[tuple[str, str]]) -> None:
        with self._tx() as db:
            db.execute("UPDATE executions SET status = %s, stopped_ms = %s, doc = %s WHERE arn = %s",
                       (status, stopped_ms, doc if isinstance(doc, str) else json.dumps(doc), arn))
            with db.cursor() as cur:
                if events:
                    cur.executemany("INSERT INTO history VALUES (%s, %s, %s) ON CONFLICT (arn, id) "
                                    "DO UPDATE SET event = excluded.event", [(arn, i, e) for i, e in events])
                if timers_add:
                    cur.executemany("INSERT INTO timers VALUES (%s, %s, %s) ON CONFLICT (arn, timer_id) "
                                    "DO UPDATE SET fire_ms = excluded.fire_ms", [(arn, t, ms) for t, ms in timers_add])
                if timers_del:
                    cur.execute("DELETE FROM timers WHERE arn = %s AND timer_id = ANY(%s)", (arn, timers_del))
                if tokens_add:
                    cur.executemany("INSERT INTO task_tokens VALUES (%s, %s, %s) ON CONFLICT (token) "
                                    "DO UPDATE SET arn = excluded.arn, task_id = excluded.task_id",
                                    [(token, arn, task) for token, task in tokens_add])
            if status != "RUNNING":
                db.execute("DELETE FROM timers WHERE arn = %s", (arn,))
                db.execute("DELETE FROM task_tokens WHERE arn = %s", (arn,))

    def history(self, arn: str, after_id: int = 0, limit: int = 1000, reverse: bool = False) -> list[str]:
        if reverse:
            rows = self._database.all("SELECT event FROM history WHERE arn = %s AND id < %s ORDER BY id DESC LIMIT %s",
                                      (arn, after_id or 2 ** 62, limit))
        else:
            rows = self._database.all("SELECT event FROM history WHERE arn = %s AND id > %s ORDER BY id LIMIT %s",
                                      (arn, after_id, limit))
        return [r[0] for r in rows]

    def due_timers(self, now_ms: int) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._database.all(
            "SELECT arn, timer_id FROM timers WHERE fire_ms <= %s ORDER BY fire_ms LIMIT 500", (now_ms,))]

    def next_timer_ms(self) -> int | None:
        row = self._database.one("SELECT MIN(fire_ms) FROM timers")
        return None if row[0] is None else int(row[0])

    def delete_timer(self, arn: str, timer_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM timers WHERE arn = %s AND timer_id = %s", (arn, timer_id))

    def task_token(self, token: str) -> tuple[str, str] | None:
        row = self._database.one("SELECT arn, task_id FROM task_tokens WHERE token = %s", (token,))
        return (row[0], row[1]) if row else None

    def delete_task_token(self, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM task_tokens WHERE token = %s", (token,))
