"""Environments: cold and warm starts, reuse, reaping, and the contract with handler code."""

from __future__ import annotations

import json
import os
import time

import pytest

from cumulo import Cumulo
from tests.integration import envid

COUNTER = """
import os
count = 0
def handler(event, context):
    global count
    count += 1
    return {"count": count, "env": ENVID, "echo": event}
""".replace("ENVID", envid.PYTHON)


def test_second_call_is_warm_and_reuses_the_environment(cumulo: Cumulo, deploy) -> None:
    name = deploy(COUNTER)
    first = cumulo.invoke(name, b'{"a": 1}')
    second = cumulo.invoke(name, b'{"a": 2}')
    assert first.cold_start and not second.cold_start
    assert first.json()["count"] == 1 and second.json()["count"] == 2
    assert first.json()["env"] == second.json()["env"]
    assert second.json()["echo"] == {"a": 2}


def test_report_line_has_init_duration_on_cold_start_only(cumulo: Cumulo, deploy) -> None:
    name = deploy(COUNTER, snap_start="None")   # on-demand Init (SnapStart's REPORT: test_snapstart.py)
    cold = [l for l in cumulo.invoke(name).log_lines if l.startswith("REPORT")]
    warm = [l for l in cumulo.invoke(name).log_lines if l.startswith("REPORT")]
    assert len(cold) == 1 and "Init Duration: " in cold[0]
    assert len(warm) == 1 and "Init Duration" not in warm[0]
    for field in ("Duration: ", "Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: "):
        assert field in warm[0]


def test_log_lines_follow_aws_order(cumulo: Cumulo, deploy) -> None:
    name = deploy("def handler(e, c):\n    print('inside')\n    return 1\n")
    result = cumulo.invoke(name, log_type="Tail")
    rid = result.request_id
    lines = result.log_lines
    assert lines[0].startswith("INIT_START")
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    assert lines[start + 1] == "inside"
    assert lines[start + 2] == f"END RequestId: {rid}"
    assert lines[start + 3].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert result.log_result is not None and result.log_result.endswith(lines[-1] + "\n")


def test_environments_of_different_functions_and_revisions_are_not_shared(cumulo: Cumulo, deploy) -> None:
    a, b = deploy(COUNTER), deploy(COUNTER)
    env_a = cumulo.invoke(a).json()["env"]
    assert cumulo.invoke(b).json()["env"] != env_a
    cumulo.update_function_configuration(a, timeout=5)
    after = cumulo.invoke(a)
    assert after.cold_start and after.json()["count"] == 1 and after.json()["env"] != env_a


def test_published_version_runs_its_own_snapshot(cumulo: Cumulo, deploy, make_code) -> None:
    name = deploy("def handler(e, c):\n    return 'v1'\n")
    v1 = cumulo.publish_version(name)
    cumulo.update_function_code(name, make_code(app="def handler(e, c):\n    return 'v2'\n"))
    assert cumulo.invoke(name, qualifier=v1.version).json() == "v1"
    assert cumulo.invoke(name).json() == "v2"
    assert cumulo.invoke(f"{name}:{v1.version}").executed_version == "1"


def test_context_object_and_environment_variables(cumulo: Cumulo, deploy) -> None:
    name = deploy("""
        import os
        def handler(event, context):
            return {
                "ctx": {k: getattr(context, k) for k in ("function_name", "function_version", "invoked_function_arn",
                        "memory_limit_in_mb", "aws_request_id", "log_group_name", "log_stream_name")},
                "remaining": context.get_remaining_time_in_millis(),
                "identity": context.identity.cognito_identity_id,
                "client": context.client_context.custom if context.client_context else None,
                "env": dict(os.environ),
                "cwd": os.getcwd(),
            }
    """, memory_size=256, timeout=7, environment={"MY_SETTING": "on"}, snap_start="None")
    result = cumulo.invoke(name, client_context={"custom": {"k": "v"}},
                           identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    doc = result.json()
    ctx, env = doc["ctx"], doc["env"]
    assert ctx["function_name"] == name and ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert ctx["memory_limit_in_mb"] == "256" and ctx["aws_request_id"] == result.request_id
    assert ctx["log_group_name"] == f"/aws/lambda/{name}"
    assert ctx["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"] and "[$LATEST]" in ctx["log_stream_name"]
    assert 6000 < doc["remaining"] <= 7000
    assert doc["identity"] == "id-1" and doc["client"] == {"k": "v"}
    expected = {
        "_HANDLER": "app.handler", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "TZ": ":UTC", "MY_SETTING": "on", "LAMBDA_RUNTIME_DIR": "/var/runtime",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert env["LAMBDA_TASK_ROOT"] == doc["cwd"]
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_platform_environment_and_files_do_not_leak(cumulo: Cumulo, deploy, monkeypatch) -> None:
    monkeypatch.setenv("CUMULO_SECRET_OF_THE_PLATFORM", "do-not-leak")
    name = deploy("""
        import os
        def handler(event, context):
            fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
            return {"env": dict(os.environ), "fds": fds,
                    "targets": [os.readlink(f"/proc/self/fd/{f}") for f in fds if os.path.exists(f"/proc/self/fd/{f}")]}
    """)
    doc = cumulo.invoke(name).json()
    assert "CUMULO_SECRET_OF_THE_PLATFORM" not in doc["env"]
    assert not any(k.startswith(("CUMULO", "PYTEST", "VIRTUAL_ENV")) for k in doc["env"])
    # stdin, stdout, stderr, the invocation channel, and the fd listing /proc/self/fd itself
    assert len(doc["fds"]) <= 5, doc["targets"]
    assert not any("cumulo.db" in t for t in doc["targets"])


def test_idle_environments_are_reaped(home, make_code) -> None:
    with Cumulo(home=home, idle_timeout_s=0.5, shutdown_grace_s=0.5) as c:
        c.create_function("idle", make_code(app=COUNTER), "app.handler")
        pid = envid.host_pid(c.invoke("idle").json()["env"])
        assert pid is not None and _alive(pid)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)
        again = c.invoke("idle")
        assert again.cold_start and again.json()["count"] == 1


def test_shutdown_phase_sends_sigterm_and_keeps_its_output(home, make_code) -> None:
    source = """
        import signal, sys
        def on_term(signum, frame):
            print("SIGTERM received")
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
        def handler(e, c):
            return "ok"
    """
    with Cumulo(home=home, idle_timeout_s=0.3, shutdown_grace_s=2) as c:
        c.create_function("term", make_code(app=source), "app.handler")
        c.invoke("term")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and c.pool.idle_count(function="term"):
            time.sleep(0.1)
        assert c.pool.idle_count(function="term") == 0
        # Taken off the idle list first, then SIGTERM, the exit and its output: wait for the output.
        while time.monotonic() < deadline and not any(r.message == "SIGTERM received" for r in c.get_logs("term")):
            time.sleep(0.05)
        shutdown = [r for r in c.get_logs("term") if r.message == "SIGTERM received"]
        assert len(shutdown) == 1 and shutdown[0].request_id is None


def test_init_runs_once_per_environment(cumulo: Cumulo, deploy) -> None:
    name = deploy("""
        import time
        INIT_AT = time.time()
        print("init ran")
        def handler(e, c):
            return INIT_AT
    """)
    first, second = cumulo.invoke(name), cumulo.invoke(name)
    assert first.json() == second.json()
    assert "init ran" in first.log_lines and "init ran" not in second.log_lines


def test_logging_module_uses_aws_format(cumulo: Cumulo, deploy) -> None:
    name = deploy("""
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def handler(e, c):
            logger.info("structured %s", "hello")
            return None
    """)
    result = cumulo.invoke(name)
    line = next(l for l in result.log_lines if l.startswith("[INFO]"))
    level, ts, rid, msg = line.split("\t")
    assert rid == result.request_id and msg == "structured hello"
    assert ts.endswith("Z") and "T" in ts
    assert result.payload == b"null"


def test_payload_passes_through_unchanged(cumulo: Cumulo, deploy) -> None:
    name = deploy("def handler(e, c):\n    return e\n")
    event = {"unicode": "héllo ✓", "nested": {"list": [1, 2.5, None, True]}, "big": "x" * 100_000}
    assert cumulo.invoke(name, json.dumps(event).encode()).json() == event
    assert cumulo.invoke(name, b"").json() == {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sandbox", ["process", "auto"])
def test_both_sandbox_levels_run_functions(home, make_code, sandbox) -> None:
    with Cumulo(home=home, sandbox=sandbox) as c:
        c.create_function("s", make_code(app=COUNTER), "app.handler")
        assert c.invoke("s").json()["count"] == 1
