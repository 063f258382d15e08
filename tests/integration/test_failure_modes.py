"""Every way a function can fail: a clear AWS-shaped error, and a fresh environment next time."""

from __future__ import annotations

import json

import pytest

from cumulo import Cumulo
from tests.integration import envid

OK_AFTER = """
import os
def ok(event, context):
    return {"env": ENVID}
""".replace("ENVID", envid.PYTHON)


def _error(result) -> dict:
    assert result.status_code == 200 and result.function_error == "Unhandled", result.payload
    return json.loads(result.payload)


def test_handler_exception_gives_error_document_and_keeps_environment(cumulo: Cumulo, deploy) -> None:
    name = deploy("""
        import os
        class PaymentDeclined(Exception):
            pass
        def handler(event, context):
            if event.get("fail"):
                raise PaymentDeclined("card 42 declined")
            return ENVID
    """.replace("ENVID", envid.PYTHON))
    env = cumulo.invoke(name).json()
    result = cumulo.invoke(name, b'{"fail": true}')
    doc = _error(result)
    assert doc["errorType"] == "PaymentDeclined" and doc["errorMessage"] == "card 42 declined"
    assert doc["requestId"] == result.request_id
    assert any('app.py", line 7, in handler' in frame for frame in doc["stackTrace"])
    assert any(l.startswith("[ERROR] PaymentDeclined: card 42 declined") for l in result.log_lines)
    assert cumulo.invoke(name).json() == env, "a handled exception must not cost the environment"


@pytest.mark.parametrize("source, handler, error_type, message", [
    ("import not_a_module_anywhere\n", "app.handler", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'not_a_module_anywhere'"),
    ("x = 1\n", "missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'"),
    ("def other(e, c):\n    pass\n", "app.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'"),
    ("def handler(e, c)\n    pass\n", "app.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app'"),
    ("def handler(e, c):\n    pass\n", "apphandler", "Runtime.MalformedHandlerName", "Bad handler 'apphandler'"),
    ("raise RuntimeError('config missing')\n", "app.handler", "RuntimeError", "config missing"),
])
def test_init_failures(cumulo: Cumulo, deploy, make_code, source, handler, error_type, message) -> None:
    name = deploy(source, handler=handler)
    result = cumulo.invoke(name)
    doc = _error(result)
    assert doc["errorType"] == error_type
    assert doc["errorMessage"].startswith(message)
    assert any(l.startswith("INIT_REPORT") and f"Error Type: {error_type}" in l for l in result.log_lines)
    # fixing the code gives a working function: the failed environment was not kept
    cumulo.update_function_code(name, make_code(app="def handler(e, c):\n    return 'fixed'\n",
                                                missing="def handler(e, c):\n    return 'fixed'\n",
                                                apphandler="def handler(e, c):\n    return 'fixed'\n"))
    if handler != "apphandler":
        assert cumulo.invoke(name).json() == "fixed"


@pytest.mark.parametrize("code, reason", [
    ("import sys\n    sys.exit(3)", "exit status 3"),
    ("import os\n    os._exit(7)", "exit status 7"),
    ("import ctypes\n    ctypes.string_at(0)", "signal: segmentation fault"),
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGABRT)", "signal: aborted"),
])
def test_process_exits_in_handler(cumulo: Cumulo, deploy, code, reason) -> None:
    body = code.replace("\n    ", "\n        ")      # every line of it under the if
    name = deploy(f"import os\ndef handler(event, context):\n    if event.get('die'):\n        {body}\n    return {envid.PYTHON}\n")
    first = cumulo.invoke(name)
    assert first.function_error is None, first.payload
    env = first.json()
    assert envid.alive(env)
    result = cumulo.invoke(name, b'{"die": true}')
    doc = _error(result)
    assert doc["errorType"] == "Runtime.ExitError"
    assert doc["errorMessage"] == f"RequestId: {result.request_id} Error: Runtime exited with error: {reason}"
    assert not envid.alive(env)
    after = cumulo.invoke(name)
    assert after.cold_start and after.json() != env


def test_exit_during_init(cumulo: Cumulo, deploy) -> None:
    name = deploy("import sys\nsys.exit(2)\ndef handler(e, c):\n    return 1\n")
    doc = _error(cumulo.invoke(name))
    assert doc["errorType"] == "Runtime.ExitError" and doc["errorMessage"].endswith("exit status 2")


def test_unserialisable_result(cumulo: Cumulo, deploy) -> None:
    name = deploy("import os\ndef handler(e, c):\n    return {1, 2} if e.get('set') else " + envid.PYTHON + "\n")
    env = cumulo.invoke(name).json()
    doc = _error(cumulo.invoke(name, b'{"set": true}'))
    assert doc["errorType"] == "Runtime.MarshalError"
    assert doc["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert cumulo.invoke(name).json() == env


def test_decimal_results_serialise_like_aws(cumulo: Cumulo, deploy) -> None:
    name = deploy("from decimal import Decimal\ndef handler(e, c):\n    return {'n': Decimal('3'), 'f': Decimal('1.5')}\n")
    assert cumulo.invoke(name).json() == {"n": 3, "f": 1.5}


def test_result_over_6_mb(cumulo: Cumulo, deploy) -> None:
    name = deploy("def handler(e, c):\n    return 'x' * (6 * 1024 * 1024 + 1)\n")
    doc = _error(cumulo.invoke(name))
    assert doc["errorType"] == "Function.ResponseSizeTooLarge"
    assert "6291556 bytes" in doc["errorMessage"]


def test_result_just_under_6_mb_is_returned(cumulo: Cumulo, deploy) -> None:
    name = deploy("def handler(e, c):\n    return 'x' * (6 * 1024 * 1024 - 10)\n")
    result = cumulo.invoke(name)
    assert result.function_error is None and len(result.payload) == 6 * 1024 * 1024 - 8


def test_invalid_json_payload_is_refused(cumulo: Cumulo, deploy) -> None:
    from cumulo.errors import InvalidRequestContentException

    name = deploy("def handler(e, c):\n    return e\n")
    with pytest.raises(InvalidRequestContentException, match="Could not parse request body into json"):
        cumulo.invoke(name, b"{not json")
    assert cumulo.invoke(name, b"[1]").json() == [1]


ORPHANING = """
import os, time
def handler(event, context):
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    with open("/tmp/child", "w") as f:
        f.write(str(child))
    os._exit(3)
"""


@pytest.mark.parametrize("snap_start", [None, "None"], ids=["forked", "on-demand"])
def test_a_crash_is_reported_when_the_handler_dies_not_when_its_child_does(cumulo: Cumulo, deploy,
                                                                            snap_start) -> None:
    """The child holds the channel open for 30 s; the death is seen when the handler's process
    dies (its pidfd), and what it left running is ended with it, as Lambda resets the sandbox."""
    import time

    name = deploy(ORPHANING, timeout=60, **({"snap_start": snap_start} if snap_start else {}))
    started = time.monotonic()
    result = cumulo.invoke(name, b"{}")
    assert time.monotonic() - started < 10
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result.json()["errorMessage"]
    assert cumulo.invoke(name, b"{}").json()["errorType"] == "Runtime.ExitError"   # and again, cold


def test_the_same_through_the_server_s_event_loop(tmp_path) -> None:
    """Invoke over HTTP drives a warm environment from the event loop (its pidfd is one of the
    loop's readers)."""
    import time

    from tests.integration.test_server import CumuloServer, create, invoke, unique, zip_of

    server = CumuloServer(tmp_path / "home")
    try:
        lam = server.client()
        name = unique()
        create(lam, name, zip_of(**{"app.py": ORPHANING.replace("os._exit(3)", "if event.get('crash'):\n"
                                                                               "        os._exit(3)\n"
                                                                               "    return 'warm'")}),
               Timeout=60)
        assert invoke(lam, name)[1] == "warm"         # warm now: the next call is driven by the loop
        started = time.monotonic()
        resp, payload = invoke(lam, name, {"crash": True})
        assert time.monotonic() - started < 10
        assert resp["FunctionError"] == "Unhandled" and "exit status 3" in payload["errorMessage"]
    finally:
        server.close()
