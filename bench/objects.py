"""S3 and SNS, in process, against baselines measured in the same run.

    python bench/objects.py [--n N]

- baseline: write a 1 KB file (no fsync), rename it into place, and insert one SQLite row (WAL,
  synchronous=NORMAL), N times; then PutObject of 1 KB objects (``ObjectService.put_object``:
  checks, body file, the row), GetObject (row read, file open and read), and PutObject into a
  versioned bucket (each write also moves the version it replaces);
- Publish to a topic with 10 standard-queue subscriptions until all 10 queues hold every message
  (each publish enqueues its 10 copies in its own transaction), from one thread and from 8 at once
  (as the server's worker pool publishes; concurrent publishes share commits), against SendMessage
  of one message and against the store's floor for the same writes (one commit of 10 rows); medians
  of 5 rounds. ``--fan-out-only`` runs just these.
Not a test: nothing here asserts; the ratios are read by people.
"""

from __future__ import annotations

import argparse
import statistics
import os
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.objects.service import Content  # noqa: E402
from cumulo.outbox import OUTBOX_QUEUE  # noqa: E402
from cumulo.store.ports import NewMessage  # noqa: E402


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
    parser.add_argument("--fan-out-only", action="store_true", help="only the Publish measurements")
    args = parser.parse_args()
    n = args.n
    if args.fan_out_only:
        with tempfile.TemporaryDirectory() as tmp, Cumulo(home=Path(tmp) / "home") as c:
            fan_out(c, max(n // 4, 200))
        return
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
            c.objects.create_bucket("bench-versions")
            c.objects.put_versioning("bench-versions", "Enabled")
            start = time.perf_counter()
            for i in range(n):          # ten versions of each key: every write keeps the one before
                c.objects.put_object("bench-versions", f"k{i % (n // 10 or 1)}", data, Content())
            versioned = n / (time.perf_counter() - start)
            print(f"baseline file+rename+SQLite insert: {base:8.0f}/s")
            print(f"PutObject 1 KB:                     {put:8.0f}/s  ({put / base:.2f}x baseline; issue target >= 0.5x)")
            print(f"GetObject 1 KB:                     {get:8.0f}/s  ({get / base:.2f}x baseline)")
            print(f"PutObject 1 KB, versioned bucket:   {versioned:8.0f}/s  ({versioned / base:.2f}x baseline)")
            fan_out(c, max(n // 4, 200))


def fan_out(c: Cumulo, m: int, rounds: int = 5, publishers: int = 8) -> None:
    """Publish to 10 standard queues, against SendMessage of one message and the store's own floor
    (one transaction inserting 10 rows of the envelope's size), alternating in the same minutes."""
    c.start_workers()       # the outbox's, for anything not enqueued directly
    topic = c.topics.create_topic("bench")
    for q in range(10):
        c.queues.create_queue(f"sub{q}", None, None, "http://x")
        c.topics.subscribe(topic, "sqs", f"arn:aws:sqs:{c.arns.region}:{c.arns.account}:sub{q}")
    c.queues.create_queue("single", None, None, "http://x")
    body = b"x" * 900
    rates: dict[str, list[float]] = {"send": [], "floor": [], "publish": [], "concurrent": []}
    for r in range(rounds):
        start = time.perf_counter()
        for i in range(m):
            c.queues.send_message("single", f"message {i}")
        rates["send"].append(m / (time.perf_counter() - start))
        start = time.perf_counter()
        for i in range(m):
            c.messages.queues.send_many({f"sub{q}": [NewMessage(str(uuid.uuid4()), body)] for q in range(10)},
                                        int(time.time() * 1000))
        rates["floor"].append(m / (time.perf_counter() - start))
        for q in range(10):
            c.messages.queues.purge(f"sub{q}")
        for key, threads in (("publish", 1), ("concurrent", publishers)):
            start = time.perf_counter()
            share = m // threads
            workers = [threading.Thread(target=_publish, args=(c, topic, share)) for _ in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            # delivered: every queue holds its copy (standard queues are enqueued with the publish itself)
            while any(c.messages.queues.counts(f"sub{q}", int(time.time() * 1000))[0] < share * threads
                      for q in range(10)) or c.messages.queues.counts(OUTBOX_QUEUE, int(time.time() * 1000))[:2] != (0, 0):
                time.sleep(0.001)
            rates[key].append(share * threads / (time.perf_counter() - start))
            for q in range(10):
                c.messages.queues.purge(f"sub{q}")
    send, floor, pub, conc = (statistics.median(rates[k]) for k in ("send", "floor", "publish", "concurrent"))
    print(f"SendMessage (baseline):             {send:8.0f}/s")
    print(f"store floor, 10 rows per commit:    {floor:8.0f}/s")
    print(f"Publish -> 10 queues delivered:     {pub:8.0f}/s  ({pub / send:.2f}x SendMessage, {pub / floor:.2f}x the "
          f"floor; one publisher)   medians of {rounds}")
    print(f"  the same, {publishers} publishers at once: {conc:8.0f}/s  ({conc / floor:.2f}x the floor; issue target "
          f">= 3,000/s)")


def _publish(c: Cumulo, topic: str, count: int) -> None:
    for i in range(count):
        c.topics.publish(topic, f"message {i}")


if __name__ == "__main__":
    main()
