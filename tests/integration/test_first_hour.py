"""README's first hour as a newcomer lives it: `cumulo up` of the example with the default
(relative) home, from the example's folder, then `cumulo invoke --tail` and a request to the
URL it printed — as root at the `process` sandbox level, and as an ordinary user.

Regression: at the `process` level the environment changed into its code folder and resolved the
relative home `./.cumulo` a second time (``Runtime.ImportModuleError: No module named 'app'``).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import pwd
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NEWCOMER = "cumulo-newcomer"
API_URL = re.compile(r"GET /hello -> \S+ at (http://\S+)")


class _Up:
    """`cumulo up TEMPLATE` in ``cwd`` with no --home; its stderr drained by a thread."""

    def __init__(self, python: str, cwd: Path, env: dict[str, str], user: str | None) -> None:
        self.lines: list[str] = []
        self._seen: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [python, "-m", "cumulo", "up", "template.yaml", "--no-auth", "--port", "0", "--gateway-port", "0", "--console-port", "0"],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            **_user(user))
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self._seen.put(line)
        self._seen.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if m := pattern.search(line):
                    return m
            try:
                if self._seen.get(timeout=max(deadline - time.monotonic(), 0.001)) is None:
                    raise AssertionError(f"`cumulo up` exited with {self.proc.wait()}:\n" + "\n".join(self.lines))
            except queue.Empty:
                raise AssertionError(f"no {pattern.pattern!r} within {timeout} s:\n" + "\n".join(self.lines)) from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(30)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def _requirements(name: str) -> set[str]:
    """The distributions ``name`` needs to run (its extras' only where asked: ``pyjwt[crypto]``)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        dist = md.distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen.add(key)
        for req in dist.requires or []:
            spec, _, marker = req.partition(";")
            wanted = re.match(r"[A-Za-z0-9._-]+", spec.strip())
            extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)", marker)
            if wanted and (extra is None or (key, extra.group(1)) in {("pyjwt", "crypto")}):
                todo.append(wanted.group(0))
    return seen


def _portable_install(into: Path) -> Path:
    """Cumulo and what it needs to run, copied into a folder anyone can read (this checkout's own
    interpreter and virtualenv may live in a folder only its owner reaches, e.g. /root)."""
    site = into / "site"
    shutil.copytree(Path(__file__).resolve().parents[2] / "cumulo", site / "cumulo",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in _requirements("cumulo") - {"cumulo"}:
        dist = md.distribution(name)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file))).resolve()
            if ".." in file.parts or not source.is_file():
                continue
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for path in [into, *into.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site


def _system_python() -> str:
    """An interpreter of this minor version that every user may run (Debian's /usr/bin/python3.11)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}", shutil.which(version) or ""):
        if candidate and os.access(candidate, os.X_OK) and os.stat(candidate).st_mode & 0o001:
            return candidate
    pytest.skip(f"[nonroot] no {version} that other users may run is installed")


def _newcomer() -> str:
    """An ordinary user (created when missing), or a skip saying why there can be none."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(NEWCOMER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("[nonroot] useradd is not installed: cannot create an ordinary user")
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NEWCOMER],
                              capture_output=True, text=True)
        if made.returncode == 9:     # already exists: another test process made it meanwhile (pytest -n)
            pwd.getpwnam(NEWCOMER)
        elif made.returncode != 0:
            raise RuntimeError(f"useradd {NEWCOMER} failed ({made.returncode}): {made.stderr}")
    return NEWCOMER


def _user(user: str | None) -> dict[str, object]:
    """Popen's arguments to run as ``user`` (every uid, so no capability survives an exec)."""
    if user is None or os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _first_hour(tmp_path: Path, sandbox: str | None, user: str | None) -> None:
    app = tmp_path / "hello-sam"
    shutil.copytree(EXAMPLES / "hello-sam", app)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUMULO_", "PYTHON", "VIRTUAL_ENV"))}
    python = sys.executable
    if sandbox:
        env["CUMULO_SANDBOX"] = sandbox
    if user:
        python = _system_python()
        env["PYTHONPATH"] = str(_portable_install(tmp_path / "install"))
        env["HOME"] = str(tmp_path / "home")
        for path in [app, *app.rglob("*"), tmp_path]:
            shutil.chown(path, user)
    up = _Up(python, app, env, user)
    try:
        url = up.wait_for(API_URL).group(1)
        # `cumulo up` says which level it runs at and what that guarantees: the process level when
        # asked for; an ordinary user's server the namespace level where the kernel lets it make user
        # namespaces (rootless), else the process level
        if any(line.startswith("  sandbox     namespace (rootless: this server is not root)") for line in up.lines):
            assert user is not None and sandbox is None, up.lines
            assert any(line.startswith("              network: isolated from the host's loopback")
                       for line in up.lines), up.lines
        else:
            assert any(line.startswith("  sandbox     process: environments run as this server's user")
                       for line in up.lines), up.lines
            assert any(line.startswith("              guaranteed: each environment has its own session")
                       for line in up.lines), up.lines
            assert any(line.startswith("              network: the host's (functions can reach services on "
                                       "127.0.0.1)") for line in up.lines), up.lines
        invoked = subprocess.run([python, "-m", "cumulo", "invoke", "hello-sam-HelloWorldFunction", "--tail"],
                                 cwd=app, env=env, capture_output=True, text=True, timeout=60, **_user(user))
        assert invoked.returncode == 0, invoked.stderr + invoked.stdout
        assert '"statusCode": 200' in invoked.stdout and "hello world" in invoked.stdout
        assert "REPORT RequestId" in invoked.stderr + invoked.stdout
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
            assert resp.read() == b'{"message": "hello world"}'
        assert (app / ".cumulo" / "cumulo.db").exists()   # the relative default home, where it was started
    finally:
        up.close()


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Outside pytest's own temporary root (0700), so another user can reach it.
    folder = Path(tempfile.mkdtemp(prefix="cumulo-first-hour-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_readme_example_with_the_relative_default_home_at_the_process_level(scratch: Path) -> None:
    _first_hour(scratch, "process", None)


def test_readme_example_as_an_ordinary_user(scratch: Path) -> None:
    _first_hour(scratch, None, _newcomer())


def test_a_python_runtime_logs_the_interpreter_that_runs_it(tmp_path: Path) -> None:
    """A python3.X function on a host with another Python: deployed with a warning, and INIT_START
    names the version that actually runs it."""
    from cumulo import Cumulo
    from cumulo.deploy.engine import deploy

    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    other = "3.14" if host != "3.14" else "3.13"
    (tmp_path / "stack" / "src").mkdir(parents=True)
    (tmp_path / "stack" / "src" / "app.py").write_text(
        "import sys\ndef handler(e, c):\n    return '%d.%d' % sys.version_info[:2]\n")
    (tmp_path / "stack" / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        f"    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python{other}\n")
    with Cumulo(home=tmp_path / "home") as c:
        result = deploy(c, tmp_path / "stack" / "template.yaml")
        assert any(f"python{other} runs on this host's Python {host}" in w for w in result.warnings), result.warnings
        invoked = c.invoke("stack-Fn", b"{}", log_type="Tail")
        assert invoked.json() == host
        assert f"INIT_START Runtime Version: python:{host}.cumulo" in invoked.log_result
        assert c.get_function("stack-Fn")["Configuration"]["Runtime"] == f"python{other}"   # kept as asked
