"""Sandboxing: private /tmp, read-only code, the platform's state out of reach."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.runtime.sandbox import SandboxLevel
from tests.integration import envid

WRITER = """
import os, tempfile
def handler(event, context):
    tmp = tempfile.gettempdir()
    if "write" in event:
        with open(os.path.join(tmp, "secret.txt"), "w") as f:
            f.write(event["write"])
    return {"tmp": tmp, "files": sorted(os.listdir(tmp)), "env": ENVID}
""".replace("ENVID", envid.PYTHON)

LEVELS = ["process", "namespace"] if os.geteuid() == 0 else ["process"]
# Without root the namespace level's cases are still generated, and skip (a failure under
# CUMULO_REQUIRE=namespace, see tests/conftest.py), rather than silently not existing.
LEVEL_PARAMS = ["process", pytest.param("namespace", marks=pytest.mark.skipif(
    os.geteuid() != 0, reason="[namespace] the namespace level needs root"))]


@pytest.fixture(params=LEVEL_PARAMS)
def sandboxed(request, home) -> Cumulo:
    with Cumulo(home=home, sandbox=request.param) as c:
        yield c


def test_tmp_is_private_between_functions(sandboxed: Cumulo, make_code) -> None:
    sandboxed.create_function("a", make_code(app=WRITER), "app.handler")
    sandboxed.create_function("b", make_code(app=WRITER), "app.handler")
    wrote = sandboxed.invoke("a", b'{"write": "from a"}').json()
    assert "secret.txt" in wrote["files"]
    seen = sandboxed.invoke("b", b"{}").json()
    assert "secret.txt" not in seen["files"]
    assert sandboxed.invoke("a", b"{}").json()["files"] == ["secret.txt"], "a warm environment keeps its /tmp"


def test_tmp_is_private_between_environments_of_one_function(sandboxed: Cumulo, make_code) -> None:
    import threading

    sandboxed.create_function("w", make_code(app=WRITER + "\nimport time\ntime.sleep(0)\n"), "app.handler")
    slow = make_code(app=WRITER.replace('return {', 'import time; time.sleep(event.get("sleep", 0))\n    return {'))
    sandboxed.update_function_code("w", slow)
    results = {}

    def call(key: str, payload: bytes) -> None:
        results[key] = sandboxed.invoke("w", payload).json()

    t = threading.Thread(target=call, args=("first", b'{"write": "x", "sleep": 1}'))
    t.start()
    call("second", b'{"sleep": 0.2}')
    t.join()
    assert results["first"]["env"] != results["second"]["env"]
    assert "secret.txt" not in results["second"]["files"]


def test_tmp_is_capped_at_ephemeral_storage(home, make_code) -> None:
    if os.geteuid() != 0:
        pytest.skip("[namespace] the /tmp size cap needs a private tmpfs (root with mount namespaces)")
    with Cumulo(home=home, sandbox="namespace") as c:
        c.create_function("fill", make_code(app="""
            def handler(event, context):
                written = 0
                try:
                    with open("/tmp/fill", "wb") as f:
                        while True:
                            f.write(b"x" * (1 << 20))
                            f.flush()
                            written += 1
                except OSError as exc:
                    return {"mb": written, "error": exc.errno}
        """), "app.handler", ephemeral_storage=512, memory_size=1024, timeout=30)
        doc = c.invoke("fill").json()
        assert 500 <= doc["mb"] <= 512 and doc["error"] == 28  # ENOSPC


def test_code_cannot_be_modified(sandboxed: Cumulo, make_code) -> None:
    if sandboxed.sandbox.level is SandboxLevel.PROCESS and os.geteuid() == 0:
        pytest.skip("as root, only the namespace level protects code (read-only mount)")
    sandboxed.create_function("mod", make_code(app="""
        import os
        def handler(event, context):
            try:
                with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "app.py"), "a") as f:
                    f.write("# changed")
            except OSError as exc:
                return {"refused": exc.errno}
            return {"refused": None}
    """), "app.handler")
    assert sandboxed.invoke("mod").json()["refused"] is not None


def test_platform_state_is_hidden(home: Path, make_code) -> None:
    if os.geteuid() != 0:
        pytest.skip("[namespace] hiding the platform's folder needs mount namespaces")
    with Cumulo(home=home, sandbox="namespace") as c:
        c.create_function("peek", make_code(app=f"""
            import os
            def handler(event, context):
                return {{"listing": os.listdir({str(home.resolve())!r}) if os.path.isdir({str(home.resolve())!r}) else None,
                         "task_root": os.environ["LAMBDA_TASK_ROOT"], "caps": open("/proc/self/status").read()}}
        """), "app.handler")
        doc = c.invoke("peek").json()
        assert not doc["listing"], "the store and other functions' code must not be visible"
        assert doc["task_root"] == "/var/task"
        cap_eff = next(l for l in doc["caps"].splitlines() if l.startswith("CapEff:"))
        assert cap_eff.split()[1] == "0000000000000000"


def test_environment_runs_in_its_own_process_group(sandboxed: Cumulo, make_code) -> None:
    """A session and process group of its own, led by the process the supervisor started (the one
    it signals): the function's own at the process level; at the namespace level its pid
    namespace's init (pid 1 there, the function pid 2 in its session). Nothing else is in that
    session: not the server, the zygote or another environment."""
    cumulo = sandboxed
    name = "group"
    cumulo.create_function(name, make_code(app="import os\ndef handler(e, c):\n    return [" + envid.PYTHON
                                           + ", os.getpid(), os.getpgid(0), os.getsid(0)]\n"), "app.handler")
    cumulo.create_function("other", make_code(app="def handler(e, c):\n    return 1\n"), "app.handler")
    ident, pid, pgid, sid = cumulo.invoke(name).json()
    assert cumulo.invoke("other").json() == 1
    [env] = cumulo.pool.environments(name)
    host = envid.host_pid(ident)
    assert host is not None
    assert os.getpgid(host) == os.getsid(host) == env.pid          # as the host numbers them
    assert env.pid not in (os.getpgid(0), os.getsid(0), cumulo.pool.zygote().pid)
    members = [p for p in _pids() if _session(p) == env.pid]
    if envid.pid_namespace(ident) == os.readlink("/proc/self/ns/pid"):     # the process level
        assert pid == pgid == sid == host == env.pid
        assert members == [host]
    else:
        assert (pid, pgid, sid) == (2, 1, 1)
        assert sorted(members) == sorted([env.pid, host])
        assert envid.environment_pid(ident) == env.pid
        assert all(os.readlink(f"/proc/{p}/ns/pid") == envid.pid_namespace(ident) for p in members)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _session(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError):
        return None


CHILD = """
import subprocess, time
def handler(event, context):
    p = subprocess.Popen(["sleep", "300"])
    if event.get("hang"):
        print("child", CHILD, flush=True)
        time.sleep(100)
    return CHILD
""".replace("CHILD", envid.python_process("p.pid"))


def test_children_of_a_timed_out_function_die_with_it(sandboxed: Cumulo, make_code) -> None:
    sandboxed.create_function("parent", make_code(app=CHILD), "app.handler", timeout=1)
    earlier = sandboxed.invoke("parent").json()          # left running by an invocation that returned
    assert envid.alive(earlier)
    result = sandboxed.invoke("parent", b'{"hang": true}')
    assert result.json()["errorType"] == "Sandbox.Timedout"
    child = next(l.split()[1] for l in result.log_lines if l.startswith("child "))
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (envid.alive(child) or envid.alive(earlier)):
        time.sleep(0.05)
    assert not envid.alive(child) and not envid.alive(earlier)


HOST_WRITER = """
def handler(event, context):
    out = {}
    for path in event["paths"]:
        try:
            with open(path, "a") as f:
                f.write("")
            out[path] = "written"
        except OSError as exc:
            out[path] = type(exc).__name__
    return out
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="[namespace] the namespace level needs root")
def test_host_files_are_read_only(home: Path, make_code) -> None:
    """At the namespace level an environment runs as an unprivileged uid of its own (root's files
    are not its to write), the host's system folders are mounted read-only (even a file anyone may
    write is not written), its root is read-only, and the rest of the host is not there at all."""
    shown = Path("/usr/local") / f"cumulo-world-writable-{os.getpid()}"
    absent = Path("/var/tmp") / f"cumulo-world-writable-{os.getpid()}"
    for target in (shown, absent):
        target.write_text("the host's")
        target.chmod(0o666)
    try:
        with Cumulo(home=home, sandbox="namespace") as c:
            c.create_function("w", make_code(app=HOST_WRITER), "app.handler")
            paths = ["/etc/passwd", str(shown), str(absent), "/new-file", "/tmp/mine"]
            result = c.invoke("w", json.dumps({"paths": paths}).encode()).json()
        assert result["/etc/passwd"] == "PermissionError"       # not its file
        assert result[str(shown)] == "OSError"                  # EROFS: a read-only mount
        assert result[str(absent)] == "FileNotFoundError"       # /var/tmp is not in its tree
        assert result["/new-file"] == "OSError"                 # EROFS: its root is read-only too
        assert result["/tmp/mine"] == "written"                 # its own /tmp stays writable
        assert shown.read_text() == absent.read_text() == "the host's"
    finally:
        shown.unlink()
        absent.unlink()


ROOT_VIEW = """
import os, sys
def handler(event, context):
    return {"top": sorted(os.listdir("/")), "exists": {p: os.path.exists(p) for p in event["paths"]},
            "var": sorted(os.listdir("/var")), "executable": os.path.exists(sys.executable),
            "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="[namespace] the namespace level needs root")
@pytest.mark.parametrize("snap_start", [False, True], ids=["on-demand", "from-template"])
def test_the_root_is_a_minimal_tree(home: Path, make_code, snap_start: bool) -> None:
    """An environment's / holds the system folders, its code, layers, /tmp, /dev and /proc, and
    the folders leading to the interpreter — not the host's homes, the store, /sys or /var/tmp."""
    with Cumulo(home=home, sandbox="namespace") as c:
        c.create_function("v", make_code(app=ROOT_VIEW), "app.handler", snap_start=None if snap_start else "None")
        probes = [str(home), str(home.parent), "/sys/kernel", "/var/tmp", "/home", "/run/user", "/var/task/app.py"]
        result = c.invoke("v", json.dumps({"paths": probes}).encode()).json()
    assert result["type"] == ("snap-start" if snap_start else "on-demand")
    assert set(result["top"]) >= {"usr", "etc", "var", "opt", "tmp", "dev", "proc"}
    assert not set(result["top"]) & {"sys", "home", "run", "srv", "mnt", "media", "boot"}
    assert result["var"] == ["runtime", "task"]
    assert result["exists"] == {**{p: False for p in probes}, "/var/task/app.py": True}
    assert result["executable"] is True


IMPORTS = """
import importlib, sys
def handler(event, context):
    found = {}
    for name in event["modules"]:
        try:
            importlib.import_module(name)
            found[name] = True
        except ImportError:
            found[name] = False
    return {"found": found, "path": sys.path}
"""


@pytest.mark.parametrize("snapstart", [True, False], ids=["forked", "on-demand"])
def test_nothing_of_the_platforms_own_environment_is_importable(home: Path, make_code, snapstart: bool) -> None:
    # Installed in Cumulo's virtualenv only (its own dependencies and the test tools), never given to functions.
    own = ["click", "yaml", "orjson", "uvloop", "jwt", "pytest", "hypothesis", "cumulo", "cumulo.runtime"]
    for level in LEVELS:
        with Cumulo(home=home / level, sandbox=level, snapstart=snapstart) as c:
            c.create_function("probe", make_code(app=IMPORTS), "app.handler")
            # AWS's Python runtime offers the SDK (boto3 and its dependencies) beside the standard library
            offered = ["json", "sqlite3", "snapshot_restore_py", "boto3", "botocore", "dateutil"]
            seen = c.invoke("probe", json_bytes({"modules": [*own, *offered]})).json()
        assert {m for m, ok in seen["found"].items() if ok} == {"json", "sqlite3", "snapshot_restore_py", "boto3",
                                                                "botocore", "dateutil"}, level
        assert not [p for p in seen["path"] if "site-packages" in p and not p.startswith("/opt/")], seen["path"]


def json_bytes(value: object) -> bytes:
    import json
    return json.dumps(value).encode()


def test_a_function_s_own_boto3_comes_before_the_runtime_s(home: Path, make_code) -> None:
    """As on AWS: the function's code (and layers) first, then what the runtime offers."""
    with Cumulo(home=home) as c:
        code = make_code(app="import boto3\ndef handler(e, c):\n    return boto3.MINE\n")
        (code / "boto3").mkdir()
        (code / "boto3" / "__init__.py").write_text("MINE = 'bundled'\n")
        c.create_function("own", code, "app.handler")
        assert c.invoke("own", b"{}").json() == "bundled"
        c.create_function("sdk", make_code(app="import boto3, botocore\ndef handler(e, c):\n"
                                               "    return [boto3.__version__, botocore.__version__]\n"), "app.handler")
        import boto3
        import botocore
        assert c.invoke("sdk", b"{}").json() == [boto3.__version__, botocore.__version__]


@pytest.mark.skipif(shutil.which("node") is None, reason="[node] Node.js is not installed")
def test_a_checkout_under_tmp_runs_runtime_api_functions(tmp_path: Path) -> None:
    """CI clones into a folder under /tmp, which each environment's private /tmp covers: the
    runtime's own files (our Node.js bootstrap) must still be where the runtime looks."""
    import subprocess
    import sys
    import tempfile

    checkout = Path(tempfile.mkdtemp(prefix="cumulo-checkout-"))
    try:
        shutil.copytree(Path(__file__).resolve().parents[2] / "cumulo", checkout / "cumulo",
                        ignore=shutil.ignore_patterns("__pycache__"))
        code = tmp_path / "node"
        code.mkdir()
        (code / "index.js").write_text("exports.handler = async (e) => ({ok: e.n + 1});\n")
        program = ("import sys, json; from cumulo import Cumulo\n"
                   "assert Cumulo.__module__ and sys.modules['cumulo'].__file__.startswith(sys.argv[3])\n"
                   "with Cumulo(home=sys.argv[1]) as c:\n"
                   "    c.create_function('n', sys.argv[2], 'index.handler', runtime='nodejs%s.x' % sys.argv[4])\n"
                   "    print(c.invoke('n', b'{\"n\": 41}').payload.decode())\n")
        from cumulo.runtime.catalog import node_version

        found = node_version()
        assert found is not None
        done = subprocess.run([sys.executable, "-c", program, str(tmp_path / "home"), str(code), str(checkout),
                               found[1].lstrip("v").split(".")[0]],
                              env={**os.environ, "PYTHONPATH": str(checkout)}, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == '{"ok":42}', done.stdout + done.stderr
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
