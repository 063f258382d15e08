"""Attacks from inside a function, as an untrusted tenant would try them (issue 17's list).

Each test deploys an ordinary function whose handler attempts one attack and reports what
happened, then checks the attack was denied *and* the platform and a bystander function still
work. They run at the sandbox level this machine gives (``namespace`` as root) and for every kind
of environment that takes a different path: forked from a template, on-demand (``ApplyOn: None``),
and — where Node.js is installed — a Runtime API process.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cumulo import Cumulo
from tests.integration import envid

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="[namespace] the namespace level needs root; see test_first_hour")

PROBE = r'''
import ctypes, errno, json, os, signal

def attempt(action):
    try:
        return {"ok": True, "value": action()}
    except OSError as exc:
        return {"ok": False, "error": errno.errorcode.get(exc.errno, str(exc.errno))}

def write(path, data="1"):
    def go():
        with open(path, "w") as f:
            f.write(data)
    return go

def read(path):
    def go():
        with open(path, "rb") as f:
            return len(f.read(4096))
    return go

def handler(event, context):
    out = {"uid": os.getuid(), "env": ENVID}
    for name, spec in event.items():
        kind, arg = spec
        if kind == "write":
            out[name] = attempt(write(arg))
        elif kind == "read":
            out[name] = attempt(read(arg))
        elif kind == "listdir":
            out[name] = attempt(lambda: sorted(os.listdir(arg)))
        elif kind == "kill":
            out[name] = attempt(lambda: os.kill(arg, 0))
        elif kind == "sigkill":
            out[name] = attempt(lambda: os.kill(arg, signal.SIGKILL))
        elif kind == "procs":
            import subprocess
            child = subprocess.Popen(["sleep", "30"])
            try:
                out[name] = {"ok": True, "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                             "self": os.getpid(), "child": child.pid}
            finally:
                child.kill()
                child.wait()
        elif kind == "ptrace":
            libc = ctypes.CDLL(None, use_errno=True)
            rc = libc.ptrace(16, arg, None, None)     # PTRACE_ATTACH
            out[name] = {"ok": rc == 0, "error": errno.errorcode.get(ctypes.get_errno(), "")}
            if rc == 0:
                libc.ptrace(17, arg, None, None)      # PTRACE_DETACH
        elif kind == "threads":
            import threading
            stop = threading.Event()
            started = 0
            try:
                for _ in range(arg):
                    threading.Thread(target=stop.wait, daemon=True).start()
                    started += 1
            except RuntimeError:
                pass
            stop.set()
            out[name] = {"ok": started == arg, "started": started}
        elif kind == "syscall":
            libc = ctypes.CDLL(None, use_errno=True)
            number, *args = arg
            rc = libc.syscall(number, *args)
            out[name] = {"ok": rc != -1, "error": errno.errorcode.get(ctypes.get_errno(), "")}
        elif kind == "connect":
            import socket
            def go():
                with socket.create_connection(tuple(arg), timeout=2) as conn:
                    return conn.recv(16).decode()
            try:
                out[name] = {"ok": True, "value": go()}
            except OSError as exc:
                out[name] = {"ok": False, "error": errno.errorcode.get(exc.errno, type(exc).__name__)}
        elif kind == "routes":
            with open("/proc/net/route") as f:
                out[name] = [line.split()[0] for line in f.readlines()[1:] if line.split()[1] == "00000000"]
        elif kind == "environ":
            out[name] = os.environ.get(arg)
    return out
'''.replace("ENVID", envid.PYTHON)

VICTIM = '''
import os
SECRET = os.environ["SECRET"]
def handler(event, context):
    with open("/tmp/victim-file", "w") as f:
        f.write(SECRET)
    return {"env": ENVID, "uid": os.getuid()}
'''.replace("ENVID", envid.PYTHON)

KINDS = ["forked", "on-demand"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cumulo]:
    home = tmp_path_factory.mktemp("attacks") / "home"
    with Cumulo(home=home, sandbox="namespace") as c:
        yield c


@pytest.fixture(scope="module")
def functions(platform: Cumulo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An attacker of each kind, and a victim holding a secret (on-demand: no template)."""
    code = tmp_path_factory.mktemp("code")
    (code / "probe").mkdir()
    (code / "probe" / "app.py").write_text(PROBE)
    (code / "victim").mkdir()
    (code / "victim" / "app.py").write_text(VICTIM)
    names = {}
    for kind in KINDS:
        snap = {} if kind == "forked" else {"snap_start": "None"}
        platform.create_function(f"attacker-{kind}", code / "probe", "app.handler", timeout=30, **snap)
        names[kind] = f"attacker-{kind}"
    platform.create_function("victim", code / "victim", "app.handler", environment={"SECRET": "s3cr3t-value"},
                             snap_start="None")
    platform.create_function("bystander", code / "victim", "app.handler", environment={"SECRET": "fine"})
    return names


def _attack(platform: Cumulo, name: str, **attempts: Any) -> dict[str, Any]:
    result = platform.invoke(name, json.dumps(attempts).encode())
    assert result.function_error is None, result.payload
    return result.json()


def _still_fine(platform: Cumulo) -> None:
    """The platform and an unrelated function keep working after an attack."""
    result = platform.invoke("bystander", b"{}")
    assert result.function_error is None and envid.alive(result.json()["env"])
    assert "victim" in [f.name for f in platform.list_functions()]


def _denied(outcome: dict[str, Any]) -> bool:
    return outcome["ok"] is False and outcome["error"] in {"EACCES", "EPERM", "EROFS", "ENOENT", "ESRCH"}


@pytest.mark.parametrize("kind", KINDS)
def test_environments_run_as_an_unprivileged_uid_of_their_own(platform: Cumulo, functions: dict[str, str],
                                                               kind: str) -> None:
    seen = _attack(platform, functions[kind])
    victim = platform.invoke("victim", b"{}").json()
    # Inside a template's user namespace the uid reads 0; from the host it is the template's own uid.
    host_uid = _host_uid(envid.host_pid(seen["env"])) if kind == "on-demand" else None
    if host_uid is not None:
        assert host_uid >= 1_000_000
    assert _host_uid(envid.host_pid(victim["env"])) not in (None, 0, host_uid)


SHELL_RUNTIME = """#!/bin/sh
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
ENVID="SHELL_ENVID"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" -o /dev/null "$API/invocation/next"
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  curl -sS -o /dev/null "$API/invocation/$ID/response" -d "{\\"env\\": \\"$ENVID\\"}"
done
""".replace("SHELL_ENVID", envid.SHELL)


def test_every_environment_has_a_user_namespace_of_its_own(platform: Cumulo, functions: dict[str, str],
                                                           tmp_path: Path) -> None:
    """Forked from a template, on-demand, and a custom runtime's process alike: a user namespace
    that is neither the host's nor another environment's, mapping exactly one uid, an unprivileged
    one of the host's (so the host's root, and every other uid, are nobody inside)."""
    names = [functions["forked"], functions["on-demand"], "victim"]
    if shutil.which("curl") is not None:
        (tmp_path / "bootstrap").write_text(SHELL_RUNTIME)
        (tmp_path / "bootstrap").chmod(0o755)
        platform.create_function("custom-runtime", tmp_path, "function.handler", runtime="provided.al2023")
        names.append("custom-runtime")
    seen: dict[str, str] = {}
    for name in names:
        result = platform.invoke(name, b"{}")
        assert result.function_error is None, result.payload
        pid = envid.host_pid(result.json()["env"])
        assert pid is not None, name
        namespace = os.readlink(f"/proc/{pid}/ns/user")
        [mapping] = Path(f"/proc/{pid}/uid_map").read_text().splitlines()
        inside, outside, count = (int(field) for field in mapping.split())
        assert count == 1 and outside == _host_uid(pid) and outside >= 1_000_000, (name, mapping)
        assert Path(f"/proc/{pid}/gid_map").read_text().split() == [str(inside), str(outside), "1"], name
        seen[name] = namespace
    assert os.readlink("/proc/self/ns/user") not in seen.values()
    assert len(set(seen.values())) == len(names), seen
    _still_fine(platform)


def _host_uid(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.mark.parametrize("kind", KINDS)
def test_host_kernel_settings_are_not_writable(platform: Cumulo, functions: dict[str, str], kind: str) -> None:
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    seen = _attack(platform, functions[kind],
                   core_pattern=["write", "/proc/sys/kernel/core_pattern"],
                   pid_max=["write", "/proc/sys/kernel/pid_max"],
                   drop_caches=["write", "/proc/sys/vm/drop_caches"],
                   ip_forward=["write", "/proc/sys/net/ipv4/ip_forward"],
                   power=["write", "/sys/power/state"],
                   root_cgroup=["write", "/sys/fs/cgroup/memory/cgroup.procs"],
                   root_limit=["write", "/sys/fs/cgroup/memory/memory.limit_in_bytes"],
                   kmsg=["write", "/dev/kmsg"],
                   kmsg_read=["read", "/dev/kmsg"])
    for name in ("core_pattern", "pid_max", "drop_caches", "ip_forward", "power", "root_cgroup", "root_limit",
                 "kmsg", "kmsg_read"):
        assert _denied(seen[name]), (name, seen[name])
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before
    _still_fine(platform)


@pytest.mark.parametrize("kind", KINDS)
def test_functions_cannot_read_or_trace_each_other(platform: Cumulo, functions: dict[str, str], kind: str) -> None:
    # The victim's processes as the host numbers them: its function's, and the one the supervisor
    # knows it by (at the namespace level its pid namespace's init). Neither is in the attacker's
    # pid namespace, which is why most of these fail (ENOENT, ESRCH) there.
    found = platform.invoke("victim", b"{}").json()["env"]
    victim, victim_init = envid.host_pid(found), envid.environment_pid(found)
    assert victim is not None and victim_init is not None
    seen = _attack(platform, functions[kind],
                   environ=["read", f"/proc/{victim}/environ"],
                   mem=["read", f"/proc/{victim}/mem"],
                   root=["listdir", f"/proc/{victim}/root/tmp"],
                   code=["listdir", f"/proc/{victim}/cwd"],
                   signal=["kill", victim],
                   ptrace=["ptrace", victim],
                   init_root=["listdir", f"/proc/{victim_init}/root/tmp"],
                   init_signal=["kill", victim_init],
                   init_ptrace=["ptrace", victim_init])
    for name in ("environ", "mem", "root", "code", "signal", "ptrace", "init_root", "init_signal", "init_ptrace"):
        assert _denied(seen[name]), (name, seen[name])
    assert envid.host_pid(found) == victim
    assert platform.invoke("victim", b"{}").function_error is None
    _still_fine(platform)


@pytest.mark.parametrize("kind", KINDS)
def test_functions_cannot_signal_the_server(platform: Cumulo, functions: dict[str, str], kind: str) -> None:
    zygote = platform.pool.zygote().pid
    seen = _attack(platform, functions[kind], server=["kill", os.getpid()], zygote=["kill", zygote],
                   init=["sigkill", 1], procs=["procs", None])
    for name in ("server", "zygote"):
        assert _denied(seen[name]), (name, seen[name])
    own_pids = envid.pid_namespace(seen["env"]) != os.readlink("/proc/self/ns/pid")
    if platform.pool.zygote().pid_namespaces if kind == "on-demand" else platform.pool.zygote().template_pid_namespaces:
        assert own_pids, seen["env"]
    # It sees only its own processes: itself, the child it started, and its init (pid 1 of its own
    # pid namespace, hidden from it as well, not being its to inspect).
    procs = seen["procs"]
    assert {procs["self"], procs["child"]} <= set(procs["pids"]) <= {1, procs["self"], procs["child"]}, procs
    if own_pids:
        assert procs["self"] == 2
        # pid 1 is its own pid namespace's init, which the kernel sends only signals it handles
        # from inside (SIGKILL included): the call may succeed, but changes nothing
        assert seen["init"]["ok"] or _denied(seen["init"]), seen["init"]
    else:
        assert _denied(seen["init"]), seen["init"]        # the host's init
    after = platform.invoke(functions[kind], b"{}")
    assert after.function_error is None and not after.cold_start and after.json()["env"] == seen["env"]
    assert platform.pool.zygote().pid == zygote and _host_uid(zygote) == 0
    _still_fine(platform)


@pytest.mark.parametrize("kind", KINDS)
def test_the_store_root_and_other_secrets_are_out_of_reach(platform: Cumulo, functions: dict[str, str],
                                                           kind: str) -> None:
    home = platform.settings.home
    seen = _attack(platform, functions[kind],
                   store=["read", str(home / "cumulo.db")],
                   store_dir=["listdir", str(home)],
                   shadow=["read", "/etc/shadow"],
                   root_home=["listdir", "/root"])
    for name in ("store", "store_dir", "shadow"):
        assert _denied(seen[name]), (name, seen[name])
    assert seen["root_home"]["ok"] is False or seen["root_home"]["value"] in ([], [".pyenv"]), seen["root_home"]
    assert (home.stat().st_mode & 0o777) == 0o700
    assert (home / "cumulo.db").stat().st_mode & 0o077 == 0
    _still_fine(platform)


@pytest.mark.parametrize("kind", KINDS)
def test_limits_cannot_be_lifted(platform: Cumulo, functions: dict[str, str], kind: str) -> None:
    own = envid.host_pid(platform.invoke(functions[kind], b"{}").json()["env"])
    groups = [line.split(":", 2)[2] for line in Path(f"/proc/{own}/cgroup").read_text().splitlines()
              if line.split(":")[1] in ("memory", "pids")]
    attempts = {f"raise{i}": ["write", f"/sys/fs/cgroup/{c}{g}/{f}"]
                for i, (c, g, f) in enumerate([("memory", groups[0], "memory.limit_in_bytes"),
                                                ("memory", "", "cgroup.procs")])}
    seen = _attack(platform, functions[kind], threads=["threads", 1500], **attempts)
    for name in attempts:
        assert _denied(seen[name]), (name, seen[name])
    assert not seen["threads"]["ok"] and seen["threads"]["started"] < 1100, seen["threads"]
    _still_fine(platform)


def test_dev_is_private(platform: Cumulo, functions: dict[str, str]) -> None:
    seen = _attack(platform, functions["on-demand"], dev=["listdir", "/dev"], shm=["write", "/dev/shm/x"])
    assert set(seen["dev"]["value"]) <= {"null", "zero", "full", "random", "urandom", "tty", "fd", "stdin",
                                          "stdout", "stderr", "shm"}
    assert seen["shm"]["ok"]
    assert not any(p.name == "x" for p in Path("/dev/shm").iterdir())


# x86_64 numbers; every call below would otherwise get past the uid and namespace checks far
# enough to matter (PTRACE_TRACEME of one's own parent succeeds; a new user namespace is
# unprivileged; keyrings and io_uring are open to every user).
SYSCALLS = {"traceme": [101, 0, 0, 0, 0], "unshare_user": [272, 0x10000000], "keyctl": [250, 0, 0],
            "add_key": [248, 0, 0, 0, 0, 0], "io_uring_setup": [425, 1, 0], "userfaultfd": [323, 0],
            "perf_event_open": [298, 0, 0, -1, -1, 0], "bpf": [321, 0, 0, 0]}


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the seccomp filter is x86_64's")
@pytest.mark.parametrize("kind", KINDS)
def test_the_seccomp_filter_denies_what_lambda_denies(platform: Cumulo, functions: dict[str, str], kind: str) -> None:
    assert platform.pool.zygote().seccomp
    seen = _attack(platform, functions[kind], **{k: ["syscall", v] for k, v in SYSCALLS.items()})
    for name in SYSCALLS:
        assert seen[name] == {"ok": False, "error": "EPERM"}, (name, seen[name])
    _still_fine(platform)


CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, SIGCHLD = 0x10000000, 0x00020000, 0x20000000, 17


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the seccomp filter is x86_64's")
@pytest.mark.parametrize("kind", KINDS)
def test_no_namespaces_can_be_made_from_inside(platform: Cumulo, functions: dict[str, str], kind: str) -> None:
    """unshare, and clone with a CLONE_NEW* flag (the way around unshare), are EPERM; clone3,
    whose flags a filter cannot read, is ENOSYS; threads and subprocesses still work."""
    seen = _attack(platform, functions[kind],
                   unshare=["syscall", [272, CLONE_NEWUSER]],
                   clone_user=["syscall", [56, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0]],
                   clone_pid=["syscall", [56, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0]],
                   clone3=["syscall", [435, 0, 0]],
                   threads=["threads", 8])
    for name in ("unshare", "clone_user", "clone_pid"):
        assert seen[name] == {"ok": False, "error": "EPERM"}, (name, seen[name])
    assert seen["clone3"] == {"ok": False, "error": "ENOSYS"}
    assert seen["threads"]["ok"], seen["threads"]
    _still_fine(platform)


def test_the_hosts_loopback_is_out_of_reach(platform: Cumulo, functions: dict[str, str]) -> None:
    """A service on the host's 127.0.0.1 (the control plane, the gateway, another store's server)
    cannot be reached: environments live in a network namespace of their own."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[object] = []

    def serve() -> None:
        server.settimeout(5)
        try:
            conn, _ = server.accept()
            accepted.append(conn)
            conn.sendall(b"host secret")
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        for kind in KINDS:
            seen = _attack(platform, functions[kind], loopback=["connect", ["127.0.0.1", port]],
                           gateway=["connect", ["10.0.2.2", port]], routes=["routes", None])
            assert _denied(seen["loopback"]) or seen["loopback"]["error"] in ("ECONNREFUSED", "timeout"), seen
            assert not seen["gateway"]["ok"], seen["gateway"]
            if platform.pool.zygote().network == "isolated":   # outbound through slirp4netns
                assert seen["routes"] == ["tap0"]
        assert accepted == []
    finally:
        try:
            server.shutdown(socket.SHUT_RDWR)    # wakes the blocked accept() now, not at its 5 s timeout
        except OSError:
            pass
        server.close()
        thread.join(10)
    _still_fine(platform)


DOOR = r'''
import json, os, urllib.request, urllib.error
def handler(event, context):
    url = os.environ["ENDPOINT"] + "/2015-03-31/functions/"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return {"status": resp.status}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": exc.read().decode()}
    except OSError as exc:
        return {"error": str(exc)}
'''


def test_a_no_auth_server_is_not_open_to_its_functions(tmp_path: Path) -> None:
    """`--no-auth` is for the loopback of the machine; functions reach the server only through the
    door in their own network namespace, which always wants a signature."""
    from tests.integration.test_server import CumuloServer, zip_of

    server = CumuloServer(tmp_path / "home", "--no-auth")
    try:
        lam = server.client()
        lam.create_function(FunctionName="door", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
                            Handler="app.handler", Code={"ZipFile": zip_of(**{"app.py": DOOR})},
                            Environment={"Variables": {"ENDPOINT": server.endpoint}})
        payload = json.loads(lam.invoke(FunctionName="door")["Payload"].read())
        assert payload["status"] == 403, payload
        assert "Missing Authentication Token" in payload["body"], payload
        assert lam.list_functions()["Functions"]          # and from the host it is still open, as asked
    finally:
        server.close()


@pytest.mark.slow      # kill -9
def test_cgroups_left_by_a_killed_server_are_removed_at_the_next_start(tmp_path: Path) -> None:
    """A server killed with kill -9 leaves its cumulo-<pid> groups (memory and pids) behind; the
    next one to start removes them, killing anything still inside."""
    import signal
    import subprocess
    import sys
    import time

    from cumulo.runtime.sandbox import MemoryCgroups

    probe = MemoryCgroups.create()
    if probe is None:
        pytest.skip("[cgroup] no writable memory cgroup here")
    probe.close()
    victim = subprocess.Popen([sys.executable, "-c", "import time; from cumulo.runtime.sandbox import MemoryCgroups\n"
                               "g = MemoryCgroups.create(); p = g.new('env-x', 64 << 20)\n"
                               "print(p, g.pids_base, flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert victim.stdout is not None
    memory, pids_base = victim.stdout.readline().split()
    left = [Path(memory).parent] + ([Path(pids_base)] if pids_base != "None" else [])
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    victim.stdout.close()
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        # nothing removed them: the server was killed (with ``pytest -n``, any Cumulo starting in another
        # test process may remove them from here on, as the next server would)
        assert all(p.exists() for p in left)
    fresh = MemoryCgroups.create()
    assert fresh is not None
    try:
        deadline = time.monotonic() + 5
        while any(p.exists() for p in left) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(p.exists() for p in left)
    finally:
        fresh.close()
