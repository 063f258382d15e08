"""The store's files and disk failing under a real ``cumulo up``: damaged databases, a full disk.

- A damaged ``cumulo.db`` or ``queues.db`` (truncated, garbage bytes, a garbage page) stops
  ``cumulo up`` (and any CLI command) with exit code 3 and a message naming the file and what to
  do; no traceback, and the file is left as it was (nothing written into it).
- A full disk (the server's RLIMIT_FSIZE, or a tiny tmpfs home when root) answers writes 503
  "the store's disk is full" in each protocol's shape, reads go on, and everything accepted
  before is there, after a restart too.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer, app_zip, create


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a function, a queue of 200 messages and a stream: both files well filled."""
    home = tmp_path_factory.mktemp("sound") / "home"
    from cumulo import Cumulo

    with Cumulo(home=home) as c:
        c.queues.create_queue("jobs", None, None, "http://x")
        for i in range(200):
            c.queues.send_message("jobs", f"job {i} " + "x" * 1000)
        c.streams.create_stream("clicks", 1)
    assert cli(home, "keys", "create").returncode == 0
    return home


def _damage(path: Path, how: str) -> None:
    size = path.stat().st_size
    if how == "truncated":
        os.truncate(path, size // 3)
    elif how == "garbage":
        path.write_bytes(os.urandom(size))
    elif how == "garbage-page":          # the header is sound: only SQLite's check finds it
        with open(path, "r+b") as f:
            f.seek(4096 * 3)
            f.write(os.urandom(4096 * 2))
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncated", "garbage", "garbage-page"])
@pytest.mark.parametrize("name", ["cumulo.db", "queues.db"])
def test_up_refuses_a_damaged_store_naming_the_file_and_what_to_do(sound: Path, tmp_path: Path, name: str,
                                                                   how: str) -> None:
    home = tmp_path / "home"
    shutil.copytree(sound, home)
    _damage(home / name, how)
    damaged = (home / name).read_bytes()
    up = cli(home, "up", "--port", "0", "--gateway-port", "0", "--console-port", "0")
    assert up.returncode == 3, up.stderr
    assert "Traceback" not in up.stderr
    assert f"the store's database {home / name} is damaged" in up.stderr
    assert f"mv {home / name} {home / name}.damaged" in up.stderr and ".recover" in up.stderr
    assert (home / name).read_bytes() == damaged, "nothing was written into the damaged file"
    assert not (home / "server.json").exists()
    # The way out the message gives: move it aside, and Cumulo starts with an empty one.
    for suffix in ("", "-wal", "-shm"):
        if (home / f"{name}{suffix}").exists():
            (home / f"{name}{suffix}").rename(home / f"{name}{suffix}.damaged")
    listed = cli(home, "queue", "list")
    assert listed.returncode == 0, listed.stderr


def test_other_commands_on_a_damaged_store_say_so_too(sound: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(sound, home)
    _damage(home / "queues.db", "garbage")
    for args in (["queue", "list"], ["function", "list"]):
        run = cli(home, *args)
        assert run.returncode == 3 and "Traceback" not in run.stderr, run.stderr
        assert f"{home / 'queues.db'} is damaged" in run.stderr


def test_the_check_at_start_up_costs_little_on_a_realistic_store(sound: Path) -> None:
    """PRAGMA quick_check of both files, as `cumulo up` runs it (see docs/store.md for
    its cost on a 240 MB store: 0.33 s warm, 3.7 s cold; past 5 s it is skipped with a notice)."""
    import time

    from cumulo import Cumulo

    with Cumulo(home=sound) as c:
        started = time.monotonic()
        assert c.check_store() == []
        assert time.monotonic() - started < 2.0


# -- a full disk ----------------------------------------------------------------------------------------
class _Limited(subprocess.Popen):   # type: ignore[type-arg]
    """``cumulo up`` with a file size limit: its writes past it fail as on a full disk (EFBIG)."""

    limit = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        limit = self.limit
        kwargs["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        super().__init__(*args, **kwargs)


def _server(home: Path, monkeypatch: pytest.MonkeyPatch, limit: int | None = None) -> CumuloServer:
    if limit is None:
        return CumuloServer(home)
    _Limited.limit = limit
    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", _Limited)
        return CumuloServer(home)


def _fill(server: CumuloServer) -> tuple[list[str], ClientError]:
    """Send 100 KB messages until the store refuses one; the bodies accepted, and the refusal."""
    sqs = server.aws("sqs")
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    accepted = []
    for i in range(2000):
        body = f"{i:05d} {uuid.uuid4().hex} " + "x" * 100_000
        try:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        except ClientError as exc:
            return accepted, exc
        accepted.append(body)
    raise AssertionError("the disk never filled up")


def _drain(server: CumuloServer) -> list[str]:
    sqs = server.aws("sqs")
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    got: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
        if not messages:
            return got
        got += [m["Body"] for m in messages]


def _check_full_disk(home: Path, server: CumuloServer, whole_disk: bool = False) -> list[str]:
    try:
        accepted, refusal = _fill(server)
        response = refusal.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 503, response
        assert response["Error"]["Code"] == "ServiceUnavailableException"
        assert "The store's disk is full" in response["Error"]["Message"]
        assert "what was accepted before is intact" in response["Error"]["Message"]
        assert len(accepted) >= 3
        # the server keeps serving: reads, and Lambda's protocol says the same for its writes
        sqs = server.aws("sqs")
        url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
        count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert int(count["Attributes"]["ApproximateNumberOfMessages"]) == 200 + len(accepted)
        lam = server.client()
        if whole_disk:      # the file size limit is per file: only a full disk refuses every file's writes
            with pytest.raises(ClientError) as info:
                create(lam, f"fn-{uuid.uuid4().hex[:8]}", app_zip(os.urandom(2_000_000).hex()))
            assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503, info.value.response
            assert "The store's disk is full" in info.value.response["Error"]["Message"]
        assert lam.list_functions()["Functions"] == []
        assert "Traceback" not in server.output, server.output[-3000:]
    finally:
        server.close()
    for db in ("cumulo.db", "queues.db"):
        with sqlite3.connect(home / db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    return accepted


def test_a_full_disk_is_a_503_and_loses_nothing_accepted(sound: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    shutil.copytree(sound, home)
    before = max((home / db).stat().st_size for db in ("cumulo.db", "queues.db"))
    accepted = _check_full_disk(home, _server(home, monkeypatch, limit=before + 3_000_000))
    again = _server(home, monkeypatch)       # room again: everything accepted is there, and writes work
    try:
        bodies = _drain(again)
        assert sorted(b for b in bodies if not b.startswith("job ")) == sorted(accepted)
        assert len([b for b in bodies if b.startswith("job ")]) == 200
        sqs = again.aws("sqs")
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="jobs")["QueueUrl"], MessageBody="after")
    finally:
        again.close()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="[root] mounts a tmpfs: root only")
def test_a_full_tmpfs_home_is_a_503_and_loses_nothing_accepted(sound: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"[root] tmpfs not mountable here: {mounted.stderr.decode().strip()}")
    try:
        home = disk / "home"
        shutil.copytree(sound, home, ignore=shutil.ignore_patterns("code", "layers", "opt"))
        accepted = _check_full_disk(home, _server(home, monkeypatch), whole_disk=True)
        kept = tmp_path / "kept"                  # the disk grows: the same store, elsewhere
        shutil.copytree(home, kept, ignore=shutil.ignore_patterns("server.lock", "server.json"))
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    again = _server(kept, monkeypatch)
    try:
        bodies = _drain(again)
        assert sorted(b for b in bodies if not b.startswith("job ")) == sorted(accepted)
    finally:
        again.close()
