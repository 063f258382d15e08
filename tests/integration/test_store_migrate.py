"""``cumulo store migrate --to postgresql://…`` and ``cumulo store upgrade``, as a user runs them:
a SQLite home with a function (its code, sealed environment, a version), a queue with messages,
logs and a document is copied into an empty database; a Cumulo opened on that database with
another home and the same master key has all of it — the function runs from the code it fetched
from the database — and a second migrate into it is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cumulo import Cumulo
from cumulo.objects.service import Content
from cumulo.store.schema import DOCUMENTS_VERSION, MESSAGES_VERSION, SHARED_VERSION


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def test_a_sqlite_store_migrated_into_postgresql_runs_there(postgres: Any, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import os\ndef handler(e, c):\n    print('ran', e)\n"
                                 "    return {'got': e, 'secret': os.environ['SECRET']}\n")
    with Cumulo(home=old) as c:
        c.create_function("orders", code, "app.handler", environment={"SECRET": "s3"})
        c.publish_version("orders")
        assert c.invoke("orders", b'{"n": 1}').json()["got"] == {"n": 1}
        c.queues.create_queue("jobs")
        for i in range(3):
            c.queues.send_message("jobs", f"job {i}")
        c.logs.flush()
        c.objects.create_bucket("docs")
        big = bytes(range(256)) * 9000      # more than one chunk of the database's bodies
        c.objects.put_object("docs", "big.bin", big, Content())
        c.metrics.put_metric_data("Shop", [{"MetricName": "Orders", "Value": 4.0}])
    url = postgres.fresh_database()

    done = cli(old, "store", "migrate", "--to", url)
    assert done.returncode == 0, done.stderr
    copied = dict(line.split("\t") for line in done.stdout.splitlines())
    assert copied["functions"] == "1" and copied["versions"] == "1" and copied["messages"] == "3"
    assert int(copied["logs"]) >= 3 and copied["code packages"] == "1" and copied["object bodies"] == "1"

    with Cumulo(home=new, store=url, master_key_file=str(old / "master.key")) as c:
        result = c.invoke("orders", b'{"n": 2}', qualifier="1")
        assert result.json() == {"got": {"n": 2}, "secret": "s3"}    # code fetched, environment opened
        bodies = [m["Body"] for m in c.queues.receive_message("jobs", max_messages=10)]
        assert sorted(bodies) == ["job 0", "job 1", "job 2"]
        c.queues.send_message("jobs", "after")            # the counters go on after the copied rows
        assert [m["Body"] for m in c.queues.receive_message("jobs", max_messages=10)] == ["after"]
        assert any("ran {'n': 1}" in r.message for r in c.store.query_logs("orders"))
        row, body = c.objects.open("docs", "big.bin")       # the body file, now rows of the database
        with body:
            assert body.read() == big
        listed = c.metrics.list_metrics({"Namespace": "Shop"})["Metrics"]
        assert [m["MetricName"] for m in listed] == ["Orders"]

    again = cli(old, "store", "migrate", "--to", url)
    assert again.returncode == 3 and "already holds a store" in again.stderr

    versions = cli(new, "store", "upgrade", CUMULO_STORE=url, CUMULO_MASTER_KEY_FILE=str(old / "master.key"))
    assert versions.returncode == 0, versions.stderr
    assert dict(line.split("\t") for line in versions.stdout.splitlines()) == {
        "documents": str(DOCUMENTS_VERSION), "messages": str(MESSAGES_VERSION), "shared": str(SHARED_VERSION)}
