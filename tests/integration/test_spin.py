"""Polling before sleeping (``spin_us``): a lone stream of invocations skips the wake-ups, and
an environment never keeps a CPU busy once requests stop or arrive sparsely.

CPU time is read from ``/proc/<pid>/stat`` (user + system, in clock ticks), so these hold on a
loaded machine too: they measure what the environment burnt, not how long anything took.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import uvloop

from cumulo import Cumulo
from tests.integration import envid

NOOP = "import os\ndef handler(event, context):\n    return " + envid.PYTHON + "\n"


def _cpu_ns(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def test_an_environment_stops_polling_once_requests_stop(home: Path, make_code) -> None:
    with Cumulo(home=home, spin_us=2000) as c:
        c.create_function("f", make_code(app=NOOP), "app.handler")
        env = c.invoke("f").json()
        pid = envid.host_pid(env)            # the function's process, as the host numbers it
        assert pid is not None
        for _ in range(200):                 # back to back, alone: each answer is followed by polling
            assert c.invoke("f").json() == env
        time.sleep(0.05)                     # well past the 2 ms window
        before = _cpu_ns(pid)
        time.sleep(0.5)
        assert _cpu_ns(pid) - before < 20_000_000   # asleep: ~0, not the 500 ms a spinner would burn


@pytest.mark.parametrize("path", ["thread", "event loop"])
def test_sparse_requests_are_not_followed_by_polling(home: Path, make_code, path: str) -> None:
    loop = uvloop.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    with Cumulo(home=home, spin_us=20_000) as c, ThreadPoolExecutor(2) as executor:
        def invoke() -> str:
            if path == "thread":
                return c.invoke("f").json()
            call = c.invoke_on_loop("f", b"{}", executor)
            return asyncio.run_coroutine_threadsafe(call, loop).result(30).json()

        c.create_function("f", make_code(app=NOOP), "app.handler")
        env = c.invoke("f").json()
        pid = envid.host_pid(env)
        assert pid is not None
        assert invoke() == env               # warm: the loop path drives this environment from now on
        time.sleep(0.05)
        before = _cpu_ns(pid)
        for _ in range(10):
            time.sleep(0.05)                 # longer than the window: no polling after the answer
            assert invoke() == env
        time.sleep(0.05)
        burnt = _cpu_ns(pid) - before
        assert burnt < 60_000_000, burnt     # 10 no-ops cost a few ms; polling after each would cost 200
    loop.call_soon_threadsafe(loop.stop)
    runner.join(5)
    loop.close()


def test_back_to_back_requests_are_answered_with_polling_and_without_it(home: Path, make_code) -> None:
    for spin in (0, 500):
        with Cumulo(home=home / str(spin), spin_us=spin) as c:
            c.create_function("f", make_code(app="def handler(e, c):\n    return e\n"), "app.handler")
            for i in range(50):
                got = c.invoke("f", f'{{"n": {i}}}'.encode())
                assert got.function_error is None and got.json() == {"n": i}


def test_a_polled_wait_gives_the_loop_back_as_soon_as_it_has_work(home: Path, make_code) -> None:
    # A 2 s window and a 0.3 s handler: waiting for the answer by polling would hold the loop for
    # 0.3 s; with requests waiting to be read (busy), the loop must go on at once.
    loop = uvloop.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    source = "import time\ndef handler(event, context):\n    time.sleep(event['s'])\n    return event['s']\n"
    try:
        with Cumulo(home=home, spin_us=2_000_000) as c, ThreadPoolExecutor(2) as executor:
            c.create_function("f", make_code(app=source), "app.handler")
            c.invoke("f", b'{"s": 0}')

            async def lag_during_invoke(busy: bool) -> float:
                """How late a callback scheduled at the start of a 0.3 s invocation ran, in s."""
                await c.invoke_on_loop("f", b'{"s": 0.3}', executor, busy=lambda: busy)   # its last run: 0.3 s
                asked = time.monotonic()
                ran: list[float] = []
                asyncio.get_running_loop().call_soon(lambda: ran.append(time.monotonic()))
                result = await c.invoke_on_loop("f", b'{"s": 0.3}', executor, busy=lambda: busy)
                assert result.json() == 0.3
                await asyncio.sleep(0)       # answered without yielding (polled): let the callback run
                return ran[0] - asked

            idle = asyncio.run_coroutine_threadsafe(lag_during_invoke(False), loop).result(30)
            busy = asyncio.run_coroutine_threadsafe(lag_during_invoke(True), loop).result(30)
        assert idle > 0.25                   # nothing else to do: the loop polled for the answer
        assert busy < 0.1, busy              # work waiting: it went back to the loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()
