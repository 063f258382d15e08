"""S3 and SNS, in process, against baselines measured in the same run.

    python bench/objects.py [--n N]

- baseline: write a 1 KB file (no fsync), rename it into place, and insert one SQLite row (WAL,
  synchronous=NORMAL), N times; then PutObject of 1 KB objects (``ObjectService.put_object``:
  checks, body file, the row) and GetObject (row read, file open and read);
- Publish to a topic with 10 queue subscriptions (each publish commits 10 outbox deliveries), and
  publish -> delivered to all 10 queues (the outbox worker sending through the router).
Not a test: nothing here asserts; the ratios are read by people.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.objects.service import Content  # noqa: E402
from cumulo.outbox import OUTBOX_QUEUE  # noqa: E402


def baseline(folder: Path, n: int) -> float:
    db = sqlite3.connect(folder / "b.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    (folder / "files").mkdir()
    data = os.urandom(1024)
    start = time.perf_counter()
    for i in range(n):
        tmp = folder / "files" / f".{i}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / "files" / uuid.uuid4().hex)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (f"k{i}", "{}"))
        db.execute("COMMIT")
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(Path(tmp), n)
        with Cumulo(home=Path(tmp) / "home") as c:
            c.objects.create_bucket("bench")
            data = os.urandom(1024)
            start = time.perf_counter()
            for i in range(n):
                c.objects.put_object("bench", f"k{i}", data, Content())
            put = n / (time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(n):
                row, f = c.objects.open("bench", f"k{i}")
                with f:
                    f.read()
            get = n / (time.perf_counter() - start)
            print(f"baseline file+rename+SQLite insert: {base:8.0f}/s")
            print(f"PutObject 1 KB:                     {put:8.0f}/s  ({put / base:.2f}x baseline; issue target >= 0.5x)")
            print(f"GetObject 1 KB:                     {get:8.0f}/s  ({get / base:.2f}x baseline)")
            topic = c.topics.create_topic("bench")
            urls = []
            for q in range(10):
                url = c.queues.create_queue(f"sub{q}", None, None, "http://x")
                urls.append(url)
                c.topics.subscribe(topic, "sqs", f"arn:aws:sqs:{c.arns.region}:{c.arns.account}:sub{q}")
            m = max(n // 4, 100)
            start = time.perf_counter()
            for i in range(m):
                c.topics.publish(topic, f"message {i}")
            pub = m / (time.perf_counter() - start)
            print(f"Publish, 10 queue subscribers:      {pub:8.0f}/s  (accepted: 10 deliveries committed each)")
            c.start_workers()
            start = time.perf_counter()
            while c.messages.queues.counts(OUTBOX_QUEUE, int(time.time() * 1000))[:2] != (0, 0):
                time.sleep(0.01)
            delivered = m / (time.perf_counter() - start)
            print(f"  ... delivered to all 10 queues:   {delivered:8.0f} publishes/s (issue target >= 3,000)")


if __name__ == "__main__":
    main()
