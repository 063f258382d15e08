"""Warm invocations driven by an event loop (the gateway's path) mixed with threaded ones.

An environment driven from the loop stays registered with it between invocations; these
tests check the hand-overs a server sees: a thread taking the same environment, the process
dying while idle, output written between invocations, timeouts and reaping; and request frames
that do not fit the channel's buffer at once, whichever driver (and so whichever ``O_NONBLOCK``
setting the loop left behind) writes them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import uvloop

from cumulo import Cumulo
from tests.integration import envid

CODE = """
import os, threading, time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("later"):
        threading.Timer(0.05, lambda: print("written between invocations", flush=True)).start()
    print("in", context.aws_request_id)
    return ENVID
""".replace("ENVID", envid.PYTHON)


class Loop:
    """A uvloop running in its own thread, like `cumulo up`'s."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.executor = ThreadPoolExecutor(4)

    def invoke(self, c: Cumulo, name: str, payload: bytes = b"{}") -> Any:
        return asyncio.run_coroutine_threadsafe(c.invoke_on_loop(name, payload, self.executor), self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.executor.shutdown()


@pytest.fixture
def loop() -> Iterator[Loop]:
    lp = Loop()
    yield lp
    lp.close()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for what the test needs to have happened, however busy the machine (not a guessed sleep)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("Threads:")))


def test_the_same_environment_serves_the_loop_and_threads_in_turn(cumulo: Cumulo, deploy, loop: Loop) -> None:
    name = deploy(CODE)
    first = cumulo.invoke(name).json()                 # a thread starts it
    for _ in range(3):
        on_loop = loop.invoke(cumulo, name)
        assert on_loop.function_error is None and on_loop.json() == first and not on_loop.cold_start
        threaded = cumulo.invoke(name)
        assert threaded.json() == first and not threaded.cold_start
        assert any(line.startswith("in ") for line in threaded.log_lines)


def test_an_environment_that_dies_while_idle_is_replaced_and_freed(cumulo: Cumulo, deploy, loop: Loop) -> None:
    name = deploy(CODE)
    env = loop.invoke(cumulo, name).json()
    loop.invoke(cumulo, name)
    pid = envid.host_pid(env)
    assert pid is not None
    before = _fds()
    os.kill(pid, signal.SIGKILL)
    _until(lambda: _fds() < before)                      # the loop notices the channel closing and closes
                                                         # it and the log pipe
    again = loop.invoke(cumulo, name)
    assert again.function_error is None and again.json() != env and again.cold_start


def test_output_between_invocations_is_kept(cumulo: Cumulo, deploy, loop: Loop) -> None:
    name = deploy(CODE)
    pid = envid.host_pid(loop.invoke(cumulo, name, b'{"later": true}').json())
    assert pid is not None
    _until(lambda: _threads(pid) == 1)                   # the timer thread printed while idle, and ended
    nxt = loop.invoke(cumulo, name)
    assert "written between invocations" in nxt.log_lines   # read while idle, reported with the next one


def test_a_timeout_on_the_loop_kills_and_the_next_call_starts_fresh(cumulo: Cumulo, deploy, loop: Loop) -> None:
    name = deploy(CODE, timeout=1)
    env = loop.invoke(cumulo, name).json()
    pid = envid.host_pid(env)
    assert pid is not None and _alive(pid)
    slow = loop.invoke(cumulo, name, b'{"sleep": 5}')
    assert slow.function_error == "Unhandled" and b"Sandbox.Timedout" in slow.payload
    assert not _alive(pid)                               # answered once the process was reaped
    fresh = loop.invoke(cumulo, name)
    assert fresh.function_error is None and fresh.json() != env


def test_reaping_an_environment_the_loop_watches(home, make_code, loop: Loop) -> None:
    with Cumulo(home=home, idle_timeout_s=0.5) as c:
        c.create_function("f", make_code(app=CODE), "app.handler")
        loop.invoke(c, "f", b'{"later": true}')
        before = _fds()
        deadline = time.monotonic() + 10
        while c.pool.environments("f") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not c.pool.environments("f")
        _until(lambda: _fds() < before)                  # the loop closes the descriptors it watched
        assert loop.invoke(c, "f").cold_start


def test_a_client_context_beyond_what_orjson_encodes_reaches_the_handler(cumulo: Cumulo, deploy, loop: Loop) -> None:
    name = deploy("def handler(event, context):\n    return context.client_context.custom['n']\n")
    huge = 2 ** 70                           # over 64 bits: the frame falls back to the stdlib encoder
    assert cumulo.invoke(name, client_context={"custom": {"n": huge}}).json() == huge
    got = asyncio.run_coroutine_threadsafe(
        cumulo.invoke_on_loop(name, b"{}", loop.executor, client_context={"custom": {"n": huge}}), loop.loop).result(30)
    assert got.json() == huge


def test_nan_and_infinity_in_a_client_context_reach_the_handler_as_sent(cumulo: Cumulo, deploy) -> None:
    name = deploy("import math\ndef handler(event, context):\n"
                  "    v = context.client_context.custom\n    return [math.isnan(v['a']), v['b'] == math.inf]\n")
    assert cumulo.invoke(name, client_context={"custom": {"a": float("nan"), "b": float("inf")}}).json() == [True, True]


ECHO = """
import os
def handler(event, context):
    size = event.get("size")
    return {"env": ENVID, "data": "y" * size if size else event.get("data", "")}
""".replace("ENVID", envid.PYTHON)


class _CountingChannel(socket.socket):
    """An environment's channel recording which threads' sends took only part of what they were given."""

    def __init__(self, fileno: int) -> None:
        super().__init__(fileno=fileno)
        self.partial: list[int] = []

    def send(self, data: Any, flags: int = 0) -> int:
        sent = super().send(data, flags)
        if sent < len(data):
            self.partial.append(threading.get_ident())
        return sent


def _text(n: int, seed: int) -> str:
    unit = "".join(chr(33 + (seed * 7 + k) % 90) for k in range(997)).replace('"', "#").replace("\\", "/")
    return (unit * (n // len(unit) + 1))[:n]


def test_partial_writes_and_large_answers_on_the_loop_and_on_threads(cumulo: Cumulo, deploy, loop: Loop) -> None:
    """A channel whose buffer holds 8 KB: every request frame goes out in pieces, from the loop's
    writer callback (100 KB, under LOOP_PAYLOAD_MAX) and from a worker thread (2 MB), in turn on
    one environment, with 3 MB answers read by each driver too."""
    name = deploy(ECHO, memory_size=512)
    ident = cumulo.invoke(name).json()["env"]                # a thread starts it
    [env] = cumulo.pool.environments(name)
    chan = _CountingChannel(env.chan.detach())
    chan.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    env.chan = chan                                          # type: ignore[attr-defined]
    for i in range(8):
        data = _text(100_000, i)
        on_loop = loop.invoke(cumulo, name, json.dumps({"data": data}).encode())
        assert on_loop.function_error is None and on_loop.json() == {"env": ident, "data": data}
        data = _text(2_000_000, i)
        threaded = cumulo.invoke(name, json.dumps({"data": data}))
        assert threaded.function_error is None and threaded.json() == {"env": ident, "data": data}
        big = 3_000_000 + i
        on_loop = loop.invoke(cumulo, name, json.dumps({"size": big}).encode())
        assert on_loop.function_error is None and on_loop.json() == {"env": ident, "data": "y" * big}
        threaded = cumulo.invoke(name, json.dumps({"size": big}))
        assert threaded.function_error is None and threaded.json() == {"env": ident, "data": "y" * big}
        assert not on_loop.cold_start and not threaded.cold_start
    assert chan.partial.count(loop.thread.ident) >= 8                 # each 100 KB frame went out in pieces
    assert chan.partial.count(threading.get_ident()) >= 8             # and each 2 MB one


def test_the_deadline_holds_while_a_request_is_going_out(cumulo: Cumulo, deploy, loop: Loop) -> None:
    """An environment that stops reading (SIGSTOP) mid-request: the caller gets Sandbox.Timedout at
    the deadline instead of blocking in a send forever (a worker thread, or the whole loop)."""
    name = deploy(ECHO, timeout=1)
    pid = envid.host_pid(cumulo.invoke(name).json()["env"])    # the function's process, which reads requests
    [env] = cumulo.pool.environments(name)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    stopped = loop.executor.submit(cumulo.invoke, name, json.dumps({"data": _text(3_000_000, 1)})).result(30)
    assert stopped.function_error == "Unhandled" and b"Sandbox.Timedout" in stopped.payload
    assert not _alive(pid) and not _alive(env.pid)

    pid = envid.host_pid(cumulo.invoke(name).json()["env"])    # a fresh environment, then the loop drives it
    [env] = cumulo.pool.environments(name)
    assert pid is not None
    env.chan.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)    # 100 KB no longer fits at once
    os.kill(pid, signal.SIGSTOP)
    stopped = loop.invoke(cumulo, name, json.dumps({"data": _text(100_000, 2)}).encode())
    assert stopped.function_error == "Unhandled" and b"Sandbox.Timedout" in stopped.payload
    assert not _alive(pid) and not _alive(env.pid)
    fresh = loop.invoke(cumulo, name, b'{"data": "again"}')
    assert fresh.function_error is None and fresh.json()["data"] == "again"
