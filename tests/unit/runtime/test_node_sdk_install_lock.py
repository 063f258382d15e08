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
    holder = os.open(cache / ".install.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)     # as another process installing now would hold it
        done, why = node_sdk.install(wait=False)
        assert done is None and why is not None and "another Cumulo process is installing it" in why
        assert sorted(p.name for p in cache.iterdir()) == [".install.lock"]   # no npm work folder made
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
