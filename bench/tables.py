"""Tables: PutItem, GetItem, Query and their PartiQL SELECTs per second, and a stream's PutItem → function latency, against
baselines measured in the same run on the same SQLite file.

    python bench/tables.py [--items N] [--ops N] [--http]

Measured:
- baseline: the same rows read and written with plain SQLite on the same database (a primary-key
  SELECT of the item's JSON and json.loads; INSERT OR REPLACE in its own transaction; an indexed
  range SELECT of 100 rows of one partition);
- the table service in process (``Cumulo.tables.call``: validation, expressions, key encoding, the
  store), one caller;
- with ``--http``: boto3's ``dynamodb`` client against ``cumulo up --no-auth`` (what most of the
  time there is boto3's own signing and parsing), beside boto3 calling a no-op operation
  (``DescribeLimits``) of the same server;
- PutItem → stream → function handler running (a mapping with BatchSize 1), idle, p50/p99.
Not a test: nothing asserts; targets are read by people (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.tables.values import key_bytes  # noqa: E402

PARTITIONS = 10_000     # set from --items: 100 items per partition


def _rate(label: str, count: int, seconds: float, baseline: float | None = None) -> float:
    rate = count / seconds
    line = f"{label:<56} {rate:10.0f} /s"
    if baseline:
        line += f"   {rate / baseline:5.2f}x the baseline"
    print(line, flush=True)
    return rate


def _fill(c: Cumulo, items: int) -> None:
    c.tables.call("CreateTable", {
        "TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "N"}]})
    db = c.messages.tables
    t = time.perf_counter()
    batch = []
    for i in range(items):
        pk = {"S": f"p{i % PARTITIONS}"}
        sk = {"N": str(i // PARTITIONS)}
        item = {"pk": pk, "sk": sk, "payload": {"S": "x" * 100}, "n": {"N": str(i)}}
        batch.append((key_bytes(pk), key_bytes(sk), json.dumps(item, separators=(",", ":"))))
        if len(batch) == 5000:
            with db.transaction() as tx:
                for p, s, raw in batch:
                    tx.put("bench", p, s, raw)
            batch.clear()
    if batch:
        with db.transaction() as tx:
            for p, s, raw in batch:
                tx.put("bench", p, s, raw)
    print(f"filled {items} items in {time.perf_counter() - t:.1f} s ({PARTITIONS} partitions)", flush=True)


def _pair(base_label: str, base: "callable", label: str, ours: "callable", count: int,  # type: ignore[valid-type]
          rounds: int = 5) -> None:
    """Baseline and ours, alternated ``rounds`` times (the machine's load moves between them); the best
    round of each, and their ratio."""
    best_base = best_ours = 0.0
    for r in range(rounds):
        t = time.perf_counter()
        base(r)
        best_base = max(best_base, count / (time.perf_counter() - t))
        t = time.perf_counter()
        ours(r)
        best_ours = max(best_ours, count / (time.perf_counter() - t))
    print(f"{base_label:<56} {best_base:10.0f} /s", flush=True)
    print(f"{label:<56} {best_ours:10.0f} /s   {best_ours / best_base:5.2f}x the baseline", flush=True)


def bench_in_process(c: Cumulo, items: int, ops: int) -> None:
    per_partition = items // PARTITIONS
    db = sqlite3.connect(c.settings.messages_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    keys = [(f"p{(i * 7919) % PARTITIONS}", (i * 31) % max(per_partition, 1)) for i in range(ops)]
    encoded = [(key_bytes({"S": p}), key_bytes({"N": str(s)})) for p, s in keys]

    def base_get(_: int) -> None:
        for pk, sk in encoded:
            row = db.execute("SELECT item FROM ddb_items WHERE tbl = ? AND pk = ? AND sk = ?",
                             ("bench", pk, sk)).fetchone()
            json.loads(row[0])

    def get(_: int) -> None:
        for p, s in keys:
            c.tables.call("GetItem", {"TableName": "bench", "Key": {"pk": {"S": p}, "sk": {"N": str(s)}}})

    _pair("baseline: primary-key SELECT + json.loads", base_get, "GetItem (in process)", get, ops)

    def select(_: int) -> None:
        for p, s in keys:
            c.tables.call("ExecuteStatement", {"Statement": 'SELECT * FROM "bench" WHERE pk = ? AND sk = ?',
                                               "Parameters": [{"S": p}, {"N": str(s)}]})

    _pair("baseline: primary-key SELECT + json.loads", base_get, "PartiQL SELECT by key (in process)", select, ops)

    def base_put(r: int) -> None:
        for i in range(ops):
            raw = json.dumps({"pk": {"S": f"w{r}-{i}"}, "sk": {"N": "1"}, "payload": {"S": "x" * 100}})
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR REPLACE INTO ddb_items (tbl, pk, sk, seg, expires, item) VALUES (?, ?, ?, 0, NULL, ?)",
                       ("bench-base", key_bytes({"S": f"w{r}-{i}"}), key_bytes({"N": "1"}), raw))
            db.execute("COMMIT")

    def put(r: int) -> None:
        for i in range(ops):
            c.tables.call("PutItem", {"TableName": "bench", "Item": {"pk": {"S": f"w{r}-{i}"}, "sk": {"N": "1"},
                                                                      "payload": {"S": "x" * 100}}})

    _pair("baseline: INSERT OR REPLACE, a transaction each", base_put, "PutItem (in process)", put, ops)

    queries = max(ops // 20, 50)
    limit = min(100, per_partition)

    def base_query(_: int) -> None:
        for i in range(queries):
            pk = key_bytes({"S": f"p{(i * 7919) % PARTITIONS}"})
            rows = db.execute("SELECT item FROM ddb_items WHERE tbl = ? AND pk = ? AND sk >= ? ORDER BY sk LIMIT ?",
                              ("bench", pk, key_bytes({"N": "0"}), limit)).fetchall()
            [json.loads(r[0]) for r in rows]

    def query(_: int) -> None:
        for i in range(queries):
            got = c.tables.call("Query", {"TableName": "bench", "KeyConditionExpression": "pk = :p AND sk >= :z",
                                          "ExpressionAttributeValues": {":p": {"S": f"p{(i * 7919) % PARTITIONS}"},
                                                                        ":z": {"N": "0"}}, "Limit": limit})
            assert got["Count"] == limit, got["Count"]

    _pair(f"baseline: indexed range SELECT of {limit} rows", base_query, f"Query of {limit} items (in process)",
          query, queries)

    def partiql_query(_: int) -> None:
        for i in range(queries):
            got = c.tables.call("ExecuteStatement", {"Statement": 'SELECT * FROM "bench" WHERE pk = ? AND sk >= ?',
                                                     "Parameters": [{"S": f"p{(i * 7919) % PARTITIONS}"}, {"N": "0"}],
                                                     "Limit": limit})
            assert len(got["Items"]) == limit, len(got["Items"])

    _pair(f"baseline: indexed range SELECT of {limit} rows", base_query,
          f"PartiQL SELECT of {limit} items (in process)", partiql_query, queries)
    db.close()


def bench_http(c: Cumulo, home: Path, ops: int) -> None:
    import subprocess

    import boto3
    from botocore.config import Config

    c.close()
    proc = subprocess.Popen([sys.executable, "-m", "cumulo", "--home", str(home), "up", "--port", "0",
                             "--gateway-port", "0", "--no-auth"], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    endpoint = None
    for line in proc.stderr:
        if "AWS Lambda API at" in line:
            endpoint = line.rsplit(" ", 1)[1].strip()
            break
    try:
        ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="y", config=Config(retries={"max_attempts": 0}))
        n = max(ops // 5, 200)
        t = time.perf_counter()
        for _ in range(n):
            ddb.describe_limits()
        base = _rate("baseline: boto3 DescribeLimits (no-op) over HTTP", n, time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(n):
            ddb.get_item(TableName="bench", Key={"pk": {"S": f"p{i % PARTITIONS}"}, "sk": {"N": "0"}})
        _rate("boto3 GetItem over HTTP", n, time.perf_counter() - t, base)
        t = time.perf_counter()
        for i in range(n):
            ddb.put_item(TableName="bench", Item={"pk": {"S": f"h{i}"}, "sk": {"N": "0"}, "v": {"S": "x" * 100}})
        _rate("boto3 PutItem over HTTP", n, time.perf_counter() - t, base)
    finally:
        proc.terminate()
        proc.wait()


STAMP = "import time\ndef handler(event, context):\n    print('T', time.time())\n"


def bench_stream_latency(folder: Path, rounds: int) -> None:
    with Cumulo(home=folder / "latency") as c:
        (folder / "fn").mkdir()
        (folder / "fn" / "app.py").write_text(STAMP)
        c.create_function("stamp", folder / "fn", "app.handler")
        c.tables.call("CreateTable", {
            "TableName": "lat", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}})
        arn = c.tables.call("DescribeTable", {"TableName": "lat"})["Table"]["LatestStreamArn"]
        c.mappings.create(EventSourceArn=arn, FunctionName="stamp", StartingPosition="LATEST", BatchSize=1)
        c.start_workers()
        c.invoke("stamp", b"{}")               # warm
        time.sleep(1.0)
        latencies = []
        for i in range(rounds):
            since = int(time.time() * 1000)
            sent = time.time()
            c.tables.call("PutItem", {"TableName": "lat", "Item": {"id": {"S": f"i{i}"}}})
            deadline = time.monotonic() + 5
            stamp = None
            while stamp is None and time.monotonic() < deadline:
                for record in c.get_logs("stamp", since_ms=since):
                    if record.message.startswith("T ") and float(record.message.split()[1]) >= sent:
                        stamp = float(record.message.split()[1])
                time.sleep(0.002)
            if stamp is not None:
                latencies.append((stamp - sent) * 1000)
            time.sleep(0.05)
        c.stop_workers()
    if latencies:
        latencies.sort()
        print(f"{'PutItem -> stream -> handler running, idle':<56} p50 {statistics.median(latencies):.2f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.2f} ms ({len(latencies)} of {rounds})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200_000, help="items in the table (100 per partition)")
    parser.add_argument("--ops", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--http", action="store_true")
    args = parser.parse_args()
    global PARTITIONS
    PARTITIONS = max(args.items // 100, 1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        c = Cumulo(home=folder / "home")
        _fill(c, args.items)
        bench_in_process(c, args.items, args.ops)
        if args.http:
            bench_http(c, folder / "home", args.ops)
        else:
            c.close()
        bench_stream_latency(folder, args.rounds)


if __name__ == "__main__":
    main()
