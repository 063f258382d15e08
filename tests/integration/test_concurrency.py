"""Concurrency: the account pool, reserved and provisioned concurrency, throttling."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cumulo import Cumulo
from cumulo.errors import InvalidParameterValueException, TooManyRequestsException
from tests.integration import envid

SLOW = ("import time, os\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return "
        + envid.PYTHON + "\n")


def _parallel(c: Cumulo, name: str, n: int, sleep: float) -> tuple[list[str], list[TooManyRequestsException]]:
    barrier = threading.Barrier(n)

    def call(_: int) -> object:
        barrier.wait()
        try:
            return c.invoke(name, f'{{"sleep": {sleep}}}'.encode()).json()
        except TooManyRequestsException as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(call, range(n)))
    ran = [r for r in results if isinstance(r, str)]
    throttled = [r for r in results if isinstance(r, TooManyRequestsException)]
    return ran, throttled


def test_reserved_concurrency_runs_exactly_k_and_throttles_the_rest(cumulo: Cumulo, deploy) -> None:
    name = deploy(SLOW)
    cumulo.put_function_concurrency(name, 3)
    started = time.monotonic()
    ran, throttled = _parallel(cumulo, name, 3 + 5, sleep=1.5)
    assert len(ran) == 3 and len(set(ran)) == 3
    assert len(throttled) == 5
    assert all(t.reason == "ReservedFunctionConcurrentInvocationLimitExceeded" and t.status == 429 for t in throttled)
    assert time.monotonic() - started < 5, "throttled calls must fail at once, not wait"


def test_reserved_zero_disables_the_function(cumulo: Cumulo, deploy) -> None:
    name = deploy(SLOW)
    cumulo.put_function_concurrency(name, 0)
    with pytest.raises(TooManyRequestsException) as info:
        cumulo.invoke(name)
    assert info.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    cumulo.delete_function_concurrency(name)
    assert isinstance(cumulo.invoke(name).json(), str)


def test_account_pool_limit(home, make_code) -> None:
    with Cumulo(home=home, account_concurrency=4, unreserved_min=1) as c:
        c.create_function("a", make_code(app=SLOW), "app.handler")
        ran, throttled = _parallel(c, "a", 6, sleep=1.0)
        assert len(ran) == 4 and len(throttled) == 2
        assert {t.reason for t in throttled} == {"ConcurrentInvocationLimitExceeded"}
        with pytest.raises(InvalidParameterValueException, match="UnreservedConcurrentExecution below its minimum"):
            c.put_function_concurrency("a", 4)


def test_reservation_takes_from_the_unreserved_pool(home, make_code) -> None:
    with Cumulo(home=home, account_concurrency=5, unreserved_min=1) as c:
        c.create_function("reserved", make_code(app=SLOW), "app.handler")
        c.create_function("shared", make_code(app=SLOW), "app.handler")
        c.put_function_concurrency("reserved", 3)
        ran, throttled = _parallel(c, "shared", 4, sleep=1.0)
        assert len(ran) == 2 and len(throttled) == 2


def test_reserved_concurrency_persists(home, make_code) -> None:
    with Cumulo(home=home) as c:
        c.create_function("p", make_code(app=SLOW), "app.handler")
        c.put_function_concurrency("p", 0)
    with Cumulo(home=home) as c:
        assert c.get_function_concurrency("p") == 0
        with pytest.raises(TooManyRequestsException):
            c.invoke("p")


def test_provisioned_environments_are_ready_before_the_first_call(cumulo: Cumulo, deploy) -> None:
    name = deploy("import os\nprint('init', os.getpid())\ndef handler(e, c):\n"
                  "    return [" + envid.PYTHON + ", os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']]\n", snap_start="None")
    version = cumulo.publish_version(name).version
    with pytest.raises(InvalidParameterValueException):
        cumulo.put_provisioned_concurrency_config(name, "$LATEST", 2)
    cumulo.put_provisioned_concurrency_config(name, version, 2)
    status = cumulo.wait_provisioned(name, version)
    assert status["Status"] == "READY" and status["AvailableProvisionedConcurrentExecutions"] == 2
    result = cumulo.invoke(name, qualifier=version)
    env, init_type = result.json()
    assert not result.cold_start and init_type == "provisioned-concurrency"
    assert not any(l.startswith("REPORT") and "Init Duration" in l for l in result.log_lines)
    # an unqualified call runs $LATEST on demand
    assert cumulo.invoke(name).json()[1] == "on-demand"
    # a provisioned environment that dies is replaced (the supervisor knows it by ``pid``)
    host, pid = envid.host_pid(env), envid.environment_pid(env)
    assert host is not None and pid in _provisioned_pids(cumulo, name, version)
    os.kill(host, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if cumulo.get_provisioned_concurrency_config(name, version)["AvailableProvisionedConcurrentExecutions"] == 2 \
                and pid not in _provisioned_pids(cumulo, name, version):
            break
        time.sleep(0.1)
    assert pid not in _provisioned_pids(cumulo, name, version)
    assert cumulo.get_provisioned_concurrency_config(name, version)["AvailableProvisionedConcurrentExecutions"] == 2


def _provisioned_pids(c: Cumulo, name: str, version: str) -> set[int]:
    return {e.pid for e in c.pool.environments(name, version) if e.provisioned and not e.dead}


def test_a_burst_on_the_event_loop_reuses_released_environments(cumulo: Cumulo, deploy) -> None:
    """Callers on an event loop (the gateway) that find every environment busy wait on the loop
    for a release when that is sooner than a cold start; none is lost or answered twice."""
    import asyncio
    import json

    import uvloop

    name = deploy("import os\ndef handler(event, context):\n    return [event['i'], " + envid.PYTHON + "]\n")
    cumulo.invoke(name, b'{"i": -1}')     # the pool learns what a cold start and an invocation cost
    cumulo.invoke(name, b'{"i": -2}')

    async def burst() -> list[object]:
        with ThreadPoolExecutor(8) as executor:
            calls = [cumulo.invoke_on_loop(name, json.dumps({"i": i}).encode(), executor) for i in range(64)]
            return [r.json() for r in await asyncio.gather(*calls)]

    results = uvloop.run(burst())
    assert [r[0] for r in results] == list(range(64))      # type: ignore[index]
    assert len({r[1] for r in results}) < 64                # type: ignore[index]


def test_a_burst_on_the_event_loop_above_the_reservation_is_throttled_as_on_aws(cumulo: Cumulo, deploy) -> None:
    """A caller waiting on the loop for a released environment is in flight, as AWS counts a
    request from its arrival: a burst of 64 on a function reserved at 2 runs 2 and throttles 62
    at once. (Waiting callers used to hold no slot: all 64 ran, one after another, within the limit.)"""
    import asyncio
    import json

    import uvloop

    name = deploy("import os\ndef handler(event, context):\n    return [event['i'], " + envid.PYTHON + "]\n")
    cumulo.put_function_concurrency(name, 2)
    cumulo.invoke(name, b'{"i": -1}')     # the pool learns what a cold start and an invocation cost:
    cumulo.invoke(name, b'{"i": -2}')     # a caller finding it busy waits for its release

    async def burst() -> list[object]:
        with ThreadPoolExecutor(8) as executor:
            calls = [cumulo.invoke_on_loop(name, json.dumps({"i": i}).encode(), executor) for i in range(64)]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    results = uvloop.run(burst())
    ran = [r.json() for r in results if not isinstance(r, BaseException)]   # type: ignore[attr-defined]
    throttled = [r for r in results if isinstance(r, TooManyRequestsException)]
    assert len(ran) == 2 and len(throttled) == 62, [type(r).__name__ for r in results][:5]
    assert all(t.reason == "ReservedFunctionConcurrentInvocationLimitExceeded" and t.status == 429 for t in throttled)


SLOW_INIT = "import os, time\ntime.sleep(0.1)\ndef handler(event, context):\n    return " + envid.PYTHON + "\n"


def test_a_steady_load_on_an_event_loop_grows_the_environments_to_match_it(cumulo: Cumulo, deploy) -> None:
    # The gateway's path. Invocations far shorter than a cold start (a 100 ms Init) make a caller
    # that finds every environment busy wait for a release rather than start one, and releases
    # come so fast that no wait runs out: without growing, one environment served all 16 callers
    # for the whole run, each request waiting its turn. A load that lasts makes the pool grow in
    # the background.
    import asyncio

    name = deploy(SLOW_INIT, snap_start="None")
    cumulo.invoke(name, b"{}")

    async def main() -> list[str]:
        stop = time.monotonic() + 4.0
        executor = ThreadPoolExecutor(4)

        async def caller() -> list[str]:
            pids = []
            while time.monotonic() < stop:
                pids.append((await cumulo.invoke_on_loop(name, b"{}", executor)).json())
            return pids

        try:
            return [pid for pids in await asyncio.gather(*(caller() for _ in range(16))) for pid in pids]
        finally:
            executor.shutdown()

    pids = asyncio.run(main())
    assert cumulo.pool.idle_count(function=name) >= 12, f"{len(set(pids))} environments served 16 steady callers"
