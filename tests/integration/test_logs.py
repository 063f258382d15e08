"""Logs are captured per request, stored, and survive interleaving and restarts."""

from __future__ import annotations

import threading
import time

import pytest

from cumulo import Cumulo

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

CHATTY = """
import time
def handler(event, context):
    for i in range(event["n"]):
        print(f"{event['tag']} line {i}")
        time.sleep(0.01)
    return event["tag"]
"""


def test_logs_of_interleaved_invocations_stay_with_their_request(cumulo: Cumulo, deploy) -> None:
    name = deploy(CHATTY)
    results = {}

    def call(tag: str) -> None:
        results[tag] = cumulo.invoke(name, f'{{"tag": "{tag}", "n": 30}}'.encode())

    threads = [threading.Thread(target=call, args=(t,)) for t in ("alpha", "beta", "gamma")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tag, result in results.items():
        records = cumulo.get_logs(name, request_id=result.request_id)
        output = [r.message for r in records if " line " in r.message]
        assert output == [f"{tag} line {i}" for i in range(30)]
        assert records[-1].message.startswith(f"REPORT RequestId: {result.request_id}")
        assert len({r.stream for r in records}) == 1


def test_large_output_does_not_block_the_function(cumulo: Cumulo, deploy) -> None:
    name = deploy("def handler(e, c):\n    for i in range(20000):\n        print('x' * 100, i)\n    return 'done'\n",
                  timeout=30)
    result = cumulo.invoke(name)
    assert result.json() == "done"
    assert sum(1 for l in result.log_lines if l.startswith("x" * 100)) == 20000


def test_partial_last_line_and_stderr_are_kept(cumulo: Cumulo, deploy) -> None:
    name = deploy("import sys\ndef handler(e, c):\n    sys.stderr.write('to stderr\\n')\n    sys.stdout.write('no newline')\n    return 1\n")
    lines = cumulo.invoke(name).log_lines
    assert "to stderr" in lines
    assert lines[lines.index("to stderr") + 1] == "no newline"


def test_logs_persist_and_filter_by_time(home, make_code, new_store) -> None:
    store = new_store() or None     # the same store again after the restart
    with Cumulo(home=home, store=store) as c:
        c.create_function("p", make_code(app="def handler(e, c):\n    print('kept')\n"), "app.handler")
        rid = c.invoke("p").request_id
    with Cumulo(home=home, store=store) as c:
        records = c.get_logs("p")
        assert any(r.message == "kept" and r.request_id == rid for r in records)
        assert c.get_logs("p", since_ms=int(time.time() * 1000) + 60_000) == []
