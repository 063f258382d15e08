"""FilterLogEvents on a large log group, against a plain indexed SELECT of the same rows in the same run.

    python bench/logs.py [--lines 1000000] [--repeat 5]

One function's group is filled with ``--lines`` lines (the log sink's batches: 100 streams, 1% plain
``ERROR`` lines, 30% JSON lines with a level and a latency, the rest access-log lines). Each case
reads every match (paging with nextToken as a client does) through ``Cumulo.log_groups.filter_events``
(the service: pattern compiled, candidates pushed to SQLite as instr(), matched in Python, events
shaped for the API), and the baseline reads the same rows with one plain SELECT on the same
connection's index (function, ts) — ``instr()`` conditions where the pattern allows them, else every
row of the group. Median of ``--repeat`` runs, milliseconds. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.store.base import LogRecord  # noqa: E402

GROUP = "/aws/lambda/busy"


def fill(c: Cumulo, lines: int) -> int:
    rng = random.Random(7)
    start = int(time.time() * 1000) - lines      # one line a millisecond, ending now
    batch: list[LogRecord] = []
    for i in range(lines):
        roll = rng.random()
        if roll < 0.01:
            message = f"ERROR payment {i} failed: card declined"
        elif roll < 0.31:
            level = "ERROR" if rng.random() < 0.05 else "INFO"
            message = json.dumps({"level": level, "latency": rng.randint(1, 1000), "msg": "served", "n": i})
        else:
            message = f"10.0.{i % 256}.{rng.randint(1, 254)} GET /items/{i} {rng.choice((200, 200, 200, 404, 500))} {rng.randint(1, 9999)}"
        batch.append(LogRecord("busy", "$LATEST", f"2026/01/01/[$LATEST]{i % 100:032x}", None, start + i, message))
        if len(batch) == 10_000:
            c.store.append_logs(batch)
            batch = []
    c.store.append_logs(batch)
    return start


def through_service(c: Cumulo, pattern: str) -> Callable[[], int]:
    def run() -> int:
        token, found = None, 0
        while True:
            answer = c.log_groups.filter_events(GROUP, pattern, token=token)
            found += len(answer["events"])
            token = answer.get("nextToken")
            if token is None:
                return found
    return run


def plain_select(db: sqlite3.Connection, contains: tuple[str, ...], matcher: Callable[[str], bool] | None
                 ) -> Callable[[], int]:
    sql = "SELECT id, stream, ts, message FROM logs WHERE function = ? AND ts >= 0"
    sql += "".join(" AND instr(message, ?) > 0" for _ in contains) + " ORDER BY ts, id"

    def run() -> int:
        rows = db.execute(sql, ("busy", *contains)).fetchall()
        if matcher is None:
            return len(rows)
        return sum(1 for r in rows if matcher(r[3]))
    return run


def timed(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        count = run()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), count


def _json_level_error(message: str) -> bool:
    try:
        doc: Any = json.loads(message)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("level") == "ERROR"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Cumulo(home=Path(tmp) / "home") as c:
        t = time.perf_counter()
        fill(c, args.lines)
        print(f"filled {args.lines:,} lines in {time.perf_counter() - t:.1f} s", flush=True)
        db = sqlite3.connect(c.settings.db_path)
        cases = [
            ("rare term: ERROR -level (1%)", "ERROR -level",
             plain_select(db, ("ERROR",), lambda m: "level" not in m)),
            ('JSON: { $.level = "ERROR" } (1.5%)', '{ $.level = "ERROR" }', plain_select(db, ("ERROR",), _json_level_error)),
            ("phrase: \"card declined\" (1%)", '"card declined"', plain_select(db, ("card declined",), None)),
            ("delimited: [ip, m, path, status = 500, bytes] (14%)", "[ip, m, path, status = 500, bytes]",
             plain_select(db, (" 500 ",), None)),
            ("every line (no pattern)", "", plain_select(db, (), None)),
        ]
        print(f"{'FilterLogEvents, every match paged':<52} {'service':>10} {'baseline':>10} {'ratio':>7} {'matches':>9}")
        for label, pattern, baseline in cases:
            ours, found = timed(through_service(c, pattern), args.repeat)
            base, _ = timed(baseline, args.repeat)
            print(f"{label:<52} {ours:8.0f}ms {base:8.0f}ms {ours / base:6.2f}x {found:9,}", flush=True)
        # the first page only: what `aws logs tail` waits for
        first = lambda: len(c.log_groups.filter_events(GROUP, "ERROR -level", limit=100)["events"])  # noqa: E731
        ours, _ = timed(first, args.repeat)
        base, _ = timed(lambda: len(db.execute(
            "SELECT id, stream, ts, message FROM logs WHERE function = ? AND instr(message, 'ERROR') > 0 "
            "ORDER BY ts, id LIMIT 100", ("busy",)).fetchall()), args.repeat)
        print(f"{'first page of 100 (ERROR -level)':<52} {ours:8.1f}ms {base:8.1f}ms {ours / base:6.2f}x")
        db.close()


if __name__ == "__main__":
    main()
