"""One install of the AWS SDK for JavaScript at a time per cache, across processes (node_sdk.install):
every `cumulo up` of a user would otherwise start its own npm install into the same folder."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from cumulo.runtime import node_sdk


def test_a_second_process_does_not_start_another_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("npm") is None:
        pytest.skip("[node] npm is not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "cumulo" / "node-sdk"
    cache.mkdir(parents=True)
    holder = os.open(cache / f".{node_sdk.VERSION}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)     # as another process installing now would hold it
        done, why = node_sdk.install(wait=False)
        assert done is None and why is not None and "another Cumulo process is installing the AWS SDK" in why
        assert sorted(p.name for p in cache.iterdir()) == [f".{node_sdk.VERSION}.lock"]   # no npm work folder made
    finally:
        os.close(holder)


def test_a_waiting_process_uses_what_the_holder_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("npm") is None:
        pytest.skip("[node] npm is not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = tmp_path / "cumulo" / "node-sdk" / node_sdk.VERSION
    (root / "node_modules").mkdir(parents=True)      # what the other process left, complete
    (root / ".cumulo-complete").write_text("done\n")
    assert node_sdk.install(wait=True) == (root / "node_modules", None)


def test_npm_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A server killed mid-install leaves no npm behind (each killed server used to leave one running)."""
    import signal
    import subprocess
    import sys
    import time

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "npm.pid"
    fake = bin_dir / "npm"
    fake.write_text(f"#!/bin/sh\necho $$ > {marker}\nexec sleep 60\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    installer = subprocess.Popen([sys.executable, "-c", "from cumulo.runtime import node_sdk; node_sdk.install()"],
                                 env=env, cwd=Path(__file__).resolve().parents[3])
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        npm = int(marker.read_text())
        os.kill(installer.pid, signal.SIGKILL)      # as a server is killed
        installer.wait(10)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{npm}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{npm}").exists() or Path(f"/proc/{npm}/stat").read_text().split()[2] == "Z"
    finally:
        installer.kill()
        installer.wait()
