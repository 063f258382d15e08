"""Fork templates (Cumulo's SnapStart): environments forked from an initialised template.

Each test runs at the process sandbox level and, as root, at the namespace level too.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import pytest

from cumulo import Cumulo
import signal

from cumulo.errors import SnapStartException, SnapStartTimeoutException
from cumulo.invoke import pool
from cumulo.invoke.pool import PoolKey
from tests.integration import envid

STATE = """
import os, random
from snapshot_restore_py import register_before_snapshot, register_after_restore
print("init ran")
INIT_ENV = ENVID   # the template's process
INIT_RANDOM = random.random()
events = []

@register_before_snapshot
def first():
    print("before 1")

@register_before_snapshot
def second():
    print("before 2")

def after(tag, suffix=""):
    events.append(tag + suffix)
    print("after", tag + suffix)

register_after_restore(after, "a")
register_after_restore(after, "b", suffix="!")

def handler(event, context):
    return {"env": ENVID, "init_env": INIT_ENV, "init_random": INIT_RANDOM, "random": random.random(),
            "events": events, "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
            "tmp": os.environ["TMPDIR"], "stream": "AWS_LAMBDA_LOG_STREAM_NAME" in os.environ}
""".replace("ENVID", envid.PYTHON)


@pytest.fixture(params=["process", "namespace"])
def snap(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cumulo]:
    if request.param == "namespace" and os.geteuid() != 0:
        pytest.skip("[namespace] the namespace level needs root")
    with Cumulo(home=tmp_path / "snap-home", sandbox=request.param) as c:
        if not c.snapstart_available:
            pytest.skip(f"[snapstart] no SnapStart at the {request.param} level here")
        yield c


@pytest.fixture
def sdeploy(snap: Cumulo, make_code: Callable[..., Path]) -> Callable[..., str]:
    counter = iter(range(10_000))

    def create(source: str, **options: object) -> str:
        name = f"snap{next(counter)}"
        snap.create_function(name, make_code(app=source), "app.handler", **options)
        return name

    return create


def _cold(c: Cumulo, name: str, qualifier: str | None = None):   # type: ignore[no-untyped-def]
    c.pool.drop_idle(name)
    result = c.invoke(name, qualifier=qualifier)
    assert result.cold_start
    return result


def _report(result) -> str:   # type: ignore[no-untyped-def]
    return next(l for l in result.log_lines if l.startswith("REPORT"))


def _parent(pid: int | None) -> int | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def test_environments_are_forked_from_the_template(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(STATE)
    first, second = _cold(snap, name), _cold(snap, name)
    a, b = first.json(), second.json()
    assert a["env"] != b["env"] and a["init_env"] == b["init_env"] not in (a["env"], b["env"])
    # Init ran in the template, which forked the environment (at the namespace level, its init)
    [template] = snap.pool.template_stats()
    assert envid.host_pid(a["init_env"]) == template.pid
    assert _parent(envid.environment_pid(b["env"])) == template.pid
    assert a["init_random"] == b["init_random"]          # module state comes from the template's one Init
    assert a["type"] == b["type"] == "snap-start"
    assert not a["stream"]                                # AWS: no LOG_STREAM_NAME variable under SnapStart
    assert a["tmp"] != b["tmp"] or a["tmp"] == "/tmp"     # its own TMPDIR, or its own /tmp mount
    logs = first.log_lines + second.log_lines
    assert logs.count("init ran") == 1                    # Init ran once, in the template
    assert first.log_lines[0].startswith("INIT_START")
    assert any(l.startswith("INIT_REPORT Init Duration: ") for l in first.log_lines)
    assert not any(l.startswith("INIT_") for l in second.log_lines)
    for result in (first, second):
        report = _report(result)
        assert "\tRestore Duration: " in report and "\tBilled Restore Duration: " in report
        assert "Init Duration" not in report
        assert any(l.startswith("RESTORE_START Runtime Version: ") for l in result.log_lines)
        assert any(l.startswith("RESTORE_REPORT Restore Duration: ") for l in result.log_lines)
    warm = snap.invoke(name)
    assert not warm.cold_start and "Restore Duration" not in _report(warm)


def test_random_differs_between_restored_environments(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(STATE)
    draws = {_cold(snap, name).json()["random"] for _ in range(3)}
    assert len(draws) == 3


def test_hooks_run_in_aws_order_before_snapshot_once_after_restore_per_environment(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(STATE)
    first, second = _cold(snap, name), _cold(snap, name)
    assert first.log_lines.index("before 2") < first.log_lines.index("before 1")   # reverse registration
    assert "before 1" not in second.log_lines
    for result in (first, second):
        assert result.json()["events"] == ["a", "b!"]                               # registration order
        lines = result.log_lines
        assert lines.index("after a") < lines.index("after b!") < next(
            i for i, l in enumerate(lines) if l.startswith("RESTORE_REPORT"))


def test_apply_on_none_disables_templates(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(STATE, snap_start="None")
    first, second = _cold(snap, name), _cold(snap, name)
    assert first.json()["type"] == second.json()["type"] == "on-demand"
    assert (first.log_lines + second.log_lines).count("init ran") == 2
    assert "Init Duration: " in _report(second) and "Restore" not in _report(second)
    assert snap.get_function_configuration(name).to_aws(snap.arns)["SnapStart"] == {
        "ApplyOn": "None", "OptimizationStatus": "Off"}
    assert snap.pool.template_stats() == []


def test_published_versions_only_when_asked_as_on_aws(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(STATE, snap_start="PublishedVersions")
    version = snap.publish_version(name).version
    assert _cold(snap, name).json()["type"] == "on-demand"
    assert _cold(snap, name, version).json()["type"] == "snap-start"
    doc = snap.get_function_configuration(name, version).to_aws(snap.arns)
    assert doc["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}


def test_code_update_invalidates_the_template(snap: Cumulo, sdeploy, make_code) -> None:
    name = sdeploy(STATE)
    old = _cold(snap, name).json()
    [before] = snap.pool.template_stats()
    snap.update_function_code(name, make_code(app=STATE.replace("init ran", "init v2")))
    after = _cold(snap, name)
    assert "init v2" in after.log_lines and after.json()["init_env"] != old["init_env"]
    [now] = snap.pool.template_stats()
    assert now.key != before.key and now.pid != before.pid


def test_a_failing_after_restore_hook_fails_the_invoke_with_snapstart_exception(snap: Cumulo, sdeploy) -> None:
    name = sdeploy("""
        from snapshot_restore_py import register_after_restore
        @register_after_restore
        def broken():
            raise RuntimeError("cannot reconnect")
        def handler(event, context):
            return "unreachable"
    """)
    with pytest.raises(SnapStartException) as err:
        snap.invoke(name)
    assert err.value.status == 400
    text = [r.message for r in snap.get_logs(name)]
    assert "[ERROR] RuntimeError: cannot reconnect" in text
    assert any(t.startswith("RESTORE_REPORT") and "Error Type: RuntimeError" in t for t in text)


def test_a_failing_before_snapshot_hook_is_an_init_error(snap: Cumulo, sdeploy) -> None:
    name = sdeploy("""
        from snapshot_restore_py import register_before_snapshot
        register_before_snapshot(lambda: 1 / 0)
        def handler(event, context):
            return "unreachable"
    """)
    result = snap.invoke(name)
    assert result.function_error == "Unhandled" and result.json()["errorType"] == "ZeroDivisionError"


def test_a_template_with_a_background_thread_falls_back_to_on_demand(snap: Cumulo, sdeploy) -> None:
    name = sdeploy("""
        import os, threading, time
        print("init ran")
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        def handler(event, context):
            return [ENVID, os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "AWS_LAMBDA_LOG_STREAM_NAME" in os.environ]
    """.replace("ENVID", envid.PYTHON))
    first = _cold(snap, name)
    assert first.function_error is None and "Init Duration: " in _report(first)
    assert first.json()[1:] == ["on-demand", True]
    config = snap.get_function_configuration(name)
    reason = snap.pool.template_refused(PoolKey(name, config.version, config.revision_id))
    assert reason is not None and "thread" in reason
    second = _cold(snap, name)
    assert "Init Duration: " in _report(second) and second.log_lines.count("init ran") == 1
    assert second.json() != first.json() and snap.pool.template_stats() == []


def test_a_template_with_an_open_socket_falls_back(snap: Cumulo, sdeploy) -> None:
    name = sdeploy("""
        import socket
        LISTENER = socket.socket()
        def handler(event, context):
            return 1
    """)
    assert "Init Duration: " in _report(_cold(snap, name))
    config = snap.get_function_configuration(name)
    assert "descriptors" in (snap.pool.template_refused(PoolKey(name, config.version, config.revision_id)) or "")


def test_idle_templates_are_retired(tmp_path: Path, make_code) -> None:
    with Cumulo(home=tmp_path / "h", sandbox="process", idle_timeout_s=0.3) as c:
        c.create_function("f", make_code(app=STATE), "app.handler")
        c.invoke("f")
        assert len(c.pool.template_stats()) == 1
        deadline = time.monotonic() + 5
        while c.pool.template_stats() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.pool.template_stats() == []


def test_templates_over_the_memory_budget_are_retired_and_memory_is_reported(tmp_path: Path, make_code) -> None:
    with Cumulo(home=tmp_path / "h", sandbox="process", template_budget_mb=0) as c:
        c.create_function("f", make_code(app=STATE), "app.handler")
        assert c.invoke("f").json()["type"] == "snap-start"
        [stats] = c.pool.template_stats() or [None]
        assert stats is None or stats.rss_kb > 0 and 0 < stats.pss_kb <= stats.rss_kb
        deadline = time.monotonic() + 5
        while c.pool.template_stats() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.pool.template_stats() == []
        assert c.invoke("f").json()["type"] == "snap-start"   # the warm environment outlived its template


def test_each_restored_environment_has_its_own_tmp_and_the_sandbox_holds(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(f"""
        import os, tempfile
        open(os.path.join(tempfile.gettempdir(), "from-init"), "w").write("t")
        def handler(event, context):
            tmp = tempfile.gettempdir()
            env = {envid.PYTHON}
            open(os.path.join(tmp, "mine-" + env.replace("/", "-")), "w").write("x")
            return {{"env": env, "tmp": sorted(os.listdir(tmp)),
                    "code_writable": os.access(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "app.py"), os.W_OK),
                    "home": os.listdir({str(snap.home)!r}) if os.path.isdir({str(snap.home)!r}) else None}}
    """)
    a, b = _cold(snap, name).json(), _cold(snap, name).json()
    assert a["env"] != b["env"]
    for doc in (a, b):           # nothing shared, not even Init's
        assert doc["tmp"] == ["mine-" + doc["env"].replace("/", "-")]
    if snap.sandbox.level.value == "namespace":
        assert not a["code_writable"] and not b["code_writable"]
        assert not b["home"]                                                       # still hidden


def test_a_restore_past_its_time_limit_is_snapstart_timeout(snap: Cumulo, sdeploy,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "RESTORE_TIMEOUT_S", 0.5)   # AWS's is 10 s
    name = sdeploy("""
        import time
        from snapshot_restore_py import register_after_restore
        register_after_restore(time.sleep, 30)
        def handler(event, context):
            return 1
    """)
    with pytest.raises(SnapStartTimeoutException) as err:
        snap.invoke(name)
    assert err.value.status == 408


def test_a_dead_template_is_replaced(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(STATE)
    first = _cold(snap, name).json()
    [template] = snap.pool.template_stats()
    os.kill(template.pid, signal.SIGKILL)   # its environments die with it, as with the zygote
    deadline = time.monotonic() + 5
    while any(s.pid == template.pid for s in snap.pool.template_stats()) and time.monotonic() < deadline:
        time.sleep(0.02)
    while snap.pool.idle_count(function=name) and time.monotonic() < deadline:
        time.sleep(0.02)
    again = snap.invoke(name)
    assert again.cold_start and again.function_error is None
    assert again.json()["init_env"] != first["init_env"] and "init ran" in again.log_lines


def test_a_restored_environment_that_exits_is_reported_with_its_status(snap: Cumulo, sdeploy) -> None:
    name = sdeploy("""
        import os
        def handler(event, context):
            os._exit(3)
    """)
    result = snap.invoke(name)
    assert result.function_error == "Unhandled"
    assert result.json()["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert result.json()["errorType"] == "Runtime.ExitError"


def test_each_restored_environment_has_its_own_memory_limit(snap: Cumulo, sdeploy) -> None:
    if snap.memory_enforcement != "cgroup":
        pytest.skip("[cgroup] no writable memory cgroup here")
    name = sdeploy("""
        BALLAST = bytearray(40 * 1024 * 1024)   # in the template: shared, not charged to the children
        def handler(event, context):
            global grown
            grown = bytearray(event["mb"] * 1024 * 1024)
            return len(grown)
    """)
    assert snap.invoke(name, b'{"mb": 20}').function_error is None
    snap.pool.drop_idle(name)
    result = snap.invoke(name, b'{"mb": 300}')
    assert result.json()["errorType"] == "Runtime.OutOfMemory"
    assert snap.invoke(name, b'{"mb": 20}').function_error is None   # the next environment is unharmed


def test_a_burst_of_restores_at_the_smallest_memory_size_all_succeed(snap: Cumulo, sdeploy) -> None:
    # Each child is charged to the template's cgroup for what it touches before moving into its
    # own; under the function's 128 MB, ~90 of them at once used to OOM-kill restores.
    name = sdeploy("""
        import os, time
        def handler(event, context):
            time.sleep(event["hold"])
            return ENVID
    """.replace("ENVID", envid.PYTHON), memory_size=128, timeout=30)
    snap.invoke(name, b'{"hold": 0}')             # the template exists
    with ThreadPoolExecutor(120) as pool_:
        results = list(pool_.map(lambda _: snap.invoke(name, b'{"hold": 3.0}'), range(120)))
    assert all(r.function_error is None for r in results), [r.payload for r in results if r.function_error][:3]
    # Nearly every caller had its own environment, restored at once: a caller may still get one that
    # finished its hold when restores are slower than that (burst_wait, on a loaded machine).
    assert len({r.json() for r in results}) >= 90


def test_no_network_holds_for_restored_environments(tmp_path: Path, make_code) -> None:
    with Cumulo(home=tmp_path / "h", sandbox="process" if os.geteuid() else "namespace", no_network=True) as c:
        if not c.snapstart_available or c.sandbox.level.value != "namespace":
            pytest.skip("no_network needs the namespace level")
        c.create_function("f", make_code(app="""
            import os, socket
            def handler(event, context):
                try:
                    socket.create_connection(("1.1.1.1", 53), timeout=1).close()
                    reached = True
                except OSError:
                    reached = False
                return [os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], reached, sorted(name for _, name in socket.if_nameindex())]
        """), "app.handler")
        c.invoke("f")
        c.pool.drop_idle("f")
        init_type, reached, _ = c.invoke("f").json()
        assert init_type == "snap-start" and reached is False


def test_publishing_a_version_builds_its_template_as_aws_snapshots_it(snap: Cumulo, sdeploy) -> None:
    name = sdeploy(STATE)
    snap.invoke(name)                                  # the runtime is running
    version = snap.publish_version(name)
    key = PoolKey(name, version.version, version.revision_id)
    deadline = time.monotonic() + 10
    while not any(s.key == key for s in snap.pool.template_stats()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(s.key == key for s in snap.pool.template_stats())
    first = snap.invoke(name, qualifier=version.version)
    assert first.cold_start and "Restore Duration: " in _report(first)
    assert first.log_lines.count("init ran") == 1 and any(l.startswith("INIT_REPORT") for l in first.log_lines)
    second = _cold(snap, name, version.version)
    assert "init ran" not in second.log_lines and not any(l.startswith("INIT_") for l in second.log_lines)


def test_layers_are_at_opt_and_on_sys_path_for_the_template_init(snap: Cumulo, sdeploy, tmp_path: Path) -> None:
    layer = tmp_path / "quote-layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "quotes.py").write_text("WHO = 'the layer'\n")
    (layer / "bin").mkdir()
    (layer / "bin" / "shout").write_text("#!/bin/sh\necho LOUD\n")
    (layer / "bin" / "shout").chmod(0o755)
    arn = snap.publish_layer_version("quotes", layer, ["python3.11"])["LayerVersionArn"]
    name = sdeploy("""
        import os, subprocess, quotes   # a layer's module and tool, at Init: in the template
        AT_INIT = subprocess.run(["shout"], capture_output=True, text=True).stdout.strip()
        def handler(event, context):
            return {"who": quotes.WHO, "at_init": AT_INIT, "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
                    "now": subprocess.run(["shout"], capture_output=True, text=True).stdout.strip()}
    """, layers=[arn])
    for result in (_cold(snap, name), _cold(snap, name)):
        assert "Restore Duration: " in _report(result)
        assert result.json() == {"who": "the layer", "at_init": "LOUD", "type": "snap-start", "now": "LOUD"}


def test_runtime_api_functions_never_use_templates(snap: Cumulo, tmp_path: Path) -> None:
    code = tmp_path / "custom-runtime"
    code.mkdir()
    (code / "bootstrap").write_text(
        '#!/bin/sh\n'
        'api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"\n'
        'while true; do\n'
        '  id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d \'\\r\' | sed -n \'s/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p\')\n'
        '  curl -sS -X POST "$api/$id/response" -d "\\"$AWS_LAMBDA_INITIALIZATION_TYPE\\"" > /dev/null\n'
        'done\n')
    (code / "bootstrap").chmod(0o755)
    config = snap.create_function("custom", code, "unused.handler", runtime="provided.al2023")
    assert config.to_aws(snap.arns)["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    for _ in range(2):
        result = _cold(snap, "custom")
        assert result.json() == "on-demand"
        assert "Restore Duration" not in _report(result) and any(l.startswith("INIT_START") for l in result.log_lines)
    assert snap.pool.template_stats() == []


def test_host_mounts_are_read_only_in_restored_environments(snap: Cumulo, sdeploy) -> None:
    if snap.sandbox.level.value != "namespace":
        pytest.skip("read-only host mounts are the namespace level's")
    target = Path("/usr/local") / f"cumulo-snap-world-writable-{os.getpid()}"   # a folder it sees
    target.write_text("the host's")
    target.chmod(0o666)   # anyone may write it: only the read-only mount protects it
    try:
        name = sdeploy(f"""
            def handler(event, context):
                out = {{}}
                for path in ["/etc/passwd", "{target}", "/tmp/mine"]:
                    try:
                        with open(path, "a") as f:
                            f.write("")
                        out[path] = "written"
                    except OSError as exc:
                        out[path] = type(exc).__name__
                return out
        """)
        for result in (_cold(snap, name), _cold(snap, name)):
            assert "Restore Duration: " in _report(result)
            # /etc/passwd is root's (the environment runs as a uid of its own); the other file, an EROFS
            assert result.json() == {"/etc/passwd": "PermissionError", str(target): "OSError", "/tmp/mine": "written"}
        assert target.read_text() == "the host's"
    finally:
        target.unlink()
