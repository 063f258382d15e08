"""/tmp is storage, not memory (issue 17): at the namespace level each environment's /tmp is a disk
of its own (runtime/inside/scratch.py), EphemeralStorage in size, for environments forked from a template
(SnapStart, the default) and on-demand ones alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.runtime.inside import scratch

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or scratch.unavailable() is not None,
                                reason=f"/tmp disks need root and loop devices ({scratch.unavailable()})")

KINDS = ["forked", "on-demand"]
ROOT = Path(__file__).resolve().parents[2]

STORAGE = """
import errno, hashlib, os, tempfile

def handler(event, context):
    tmp = tempfile.gettempdir()
    out = {"pid": os.getpid(), "tmp": tmp, "found": sorted(os.listdir(tmp)),
           "fs": [line.split(" - ")[1].split()[0] for line in open("/proc/self/mountinfo")
                  if line.split()[4] == "/tmp"][-1:]}
    held = bytearray(event.get("hold_mb", 0) << 20)
    for i in range(0, len(held), 4096):      # touched: resident, charged to the memory cgroup
        held[i] = 1
    if event.get("remove"):
        os.remove(os.path.join(tmp, "big"))
    if "write_mb" in event:
        digest = hashlib.sha256()
        written = 0
        try:
            with open(os.path.join(tmp, "big"), "wb") as f:
                for i in range(event["write_mb"]):
                    chunk = bytes([i % 251]) * (1 << 20)
                    f.write(chunk)
                    f.flush()
                    digest.update(chunk)
                    written += 1
        except OSError as exc:
            out["errno"] = exc.errno
        out["written_mb"] = written
        out["sha"] = digest.hexdigest()
    if event.get("read"):
        digest = hashlib.sha256()
        size = 0
        with open(os.path.join(tmp, "big"), "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        out["read_mb"] = size / (1 << 20)
        out["read_sha"] = digest.hexdigest()
    if "mark" in event:
        open(os.path.join(tmp, event["mark"]), "w").write("mine")
    return out
"""


def _create(c: Cumulo, make_code, name: str, kind: str, **options: object) -> None:
    snap = {} if kind == "forked" else {"snap_start": "None"}
    c.create_function(name, make_code(app=STORAGE), "app.handler", timeout=60, **snap, **options)


def _invoke(c: Cumulo, name: str, event: dict) -> dict:
    result = c.invoke(name, json.dumps(event).encode())
    assert result.function_error is None, (result.payload, result.log_lines[-5:])
    return result.json()


def _cold(c: Cumulo, name: str, event: dict, kind: str) -> dict:
    """Invoke on a new environment (of ``kind``)."""
    c.pool.drop_idle(name)
    result = c.invoke(name, json.dumps(event).encode())
    assert result.cold_start and result.function_error is None, (result.payload, result.log_lines[-5:])
    report = next(line for line in result.log_lines if line.startswith("REPORT"))
    assert ("Restore Duration" in report) == (kind == "forked"), report
    return result.json()


def _loops_reading(folder: Path) -> list[str]:
    """Loop devices whose backing file is (or was, deleted since) in ``folder``."""
    prefix = str(folder.resolve()) + "/"
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            if backing.read_text().startswith(prefix):
                found.append(backing.parent.parent.name)
        except OSError:
            pass
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_a_256_mb_function_writes_200_mb_to_tmp_and_reads_it_back(home, make_code, kind) -> None:
    """With 150 MB of its memory in use besides: a tmpfs /tmp (350 MB in all) was an OOM kill (see
    the tmpfs test below); a disk's page cache is written back and reclaimed within the limit."""
    with Cumulo(home=home, sandbox="namespace") as c:
        _create(c, make_code, "big", kind, memory_size=256)
        wrote = _cold(c, "big", {"write_mb": 200, "hold_mb": 150}, kind)
        assert wrote["fs"] == ["ext4"] and "errno" not in wrote and wrote["written_mb"] == 200
        again = _invoke(c, "big", {"read": True, "hold_mb": 150})   # the same (warm) environment: its /tmp kept
        assert again["pid"] == wrote["pid"] and again["found"] == ["big"]
        assert again["read_mb"] == 200 and again["read_sha"] == wrote["sha"]
        # Twice more in the same environment, well past its memory size in all
        for _ in range(2):
            more = _invoke(c, "big", {"remove": True, "write_mb": 200, "hold_mb": 150})
            assert more["pid"] == wrote["pid"] and more["written_mb"] == 200 and "errno" not in more
        assert _invoke(c, "big", {"read": True})["read_sha"] == more["sha"]


@pytest.mark.parametrize("kind", KINDS)
def test_writing_past_ephemeral_storage_gets_enospc(home, make_code, kind) -> None:
    with Cumulo(home=home, sandbox="namespace") as c:
        _create(c, make_code, "fill", kind, memory_size=128, ephemeral_storage=600)
        full = _cold(c, "fill", {"write_mb": 700}, kind)
        assert full["errno"] == 28                        # ENOSPC, answered by the function itself
        assert 590 <= full["written_mb"] <= 600
        # The environment goes on: the space comes back once the file is removed
        after = _invoke(c, "fill", {"remove": True, "write_mb": 100})
        assert after["pid"] == full["pid"] and after["written_mb"] == 100 and "errno" not in after


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_environment_finds_its_tmp_empty(home, make_code, kind) -> None:
    with Cumulo(home=home, sandbox="namespace") as c:
        _create(c, make_code, "leak", kind)
        first = _cold(c, "leak", {"mark": "secret", "write_mb": 10}, kind)
        assert first["found"] == []
        assert _invoke(c, "leak", {})["found"] == ["big", "secret"]
        for _ in range(3):      # each new environment (reusing loop devices freed meanwhile) starts empty
            fresh = _cold(c, "leak", {}, kind)
            assert fresh["found"] == [] and fresh["fs"] == ["ext4"] and fresh["tmp"] == "/tmp"


def test_disks_are_freed_with_their_environments_and_the_server(home, make_code) -> None:
    with Cumulo(home=home, sandbox="namespace") as c:
        _create(c, make_code, "a", "forked")
        _create(c, make_code, "b", "on-demand")
        folder = c.sandbox.scratch.folder
        for name in ("a", "b"):
            _invoke(c, name, {"write_mb": 20})
        in_use = len(_loops_reading(folder))
        assert in_use >= 3     # two environments and a template, besides spare disks
        c.pool.drop_idle("a")
        c.pool.drop_idle("b")
        deadline = time.monotonic() + 5
        while len(_loops_reading(folder)) > in_use - 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_loops_reading(folder)) <= in_use - 2
        assert not [p for p in folder.iterdir() if p.name.startswith("disk-")]   # unlinked once attached
    deadline = time.monotonic() + 5
    while _loops_reading(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _loops_reading(folder) == [] and not folder.exists()


SERVER = """
import json, sys, time
sys.path.insert(0, {root!r})
from cumulo import Cumulo
c = Cumulo(home={home!r}, sandbox="namespace")
c.create_function("f", {code!r}, "app.handler")
c.invoke("f", b'{{"write_mb": 5}}')
print(json.dumps(str(c.sandbox.scratch.folder)), flush=True)
time.sleep(600)
"""


@pytest.mark.slow      # kill -9
def test_a_killed_server_leaves_no_loop_device_and_its_folder_goes_at_the_next_start(home, make_code) -> None:
    code = make_code(app=STORAGE)
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), home=str(home), code=str(code))],
                            stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(json.loads(proc.stdout.readline()))
        assert _loops_reading(folder)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    deadline = time.monotonic() + 5     # its environments die with it, and their disks with them
    while _loops_reading(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _loops_reading(folder) == [] and folder.exists()
    # What a crash in the middle of making a disk leaves: an image attached to a loop device
    stray = folder / "disk-stray.img"
    stray.write_bytes(b"\0" * (1 << 20))
    device = subprocess.run(["losetup", "--find", "--show", str(stray)], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert _loops_reading(folder) == [Path(device).name]
    with Cumulo(home=home, sandbox="namespace") as c:
        assert c.sandbox.scratch is not None
        assert not folder.exists() and _loops_reading(folder) == []
        assert _invoke(c, "f", {})["found"] == []


def test_without_loop_devices_tmp_is_a_tmpfs_and_cumulo_says_so(home, make_code, monkeypatch) -> None:
    monkeypatch.setattr(scratch, "LOOP_CONTROL", "/dev/no-loop-control-here")
    with Cumulo(home=home, sandbox="namespace") as c:
        assert c.sandbox.scratch is None
        line = next(text for text in c.isolation() if text.startswith("/tmp:"))
        assert "tmpfs" in line and "memory" in line and "loop" in line, line
        for kind in KINDS:
            _create(c, make_code, kind, kind, memory_size=1024)
            full = _cold(c, kind, {"write_mb": 600}, kind)
            assert full["fs"] == ["tmpfs"] and full["errno"] == 28 and 500 <= full["written_mb"] <= 512
            # and it is memory: 150 MB held and 200 MB in /tmp do not fit 256 MB
            c.update_function_configuration(kind, memory_size=256)
            killed = c.invoke(kind, b'{"write_mb": 200, "hold_mb": 150}')
            assert killed.function_error == "Unhandled" and killed.json()["errorType"] == "Runtime.OutOfMemory"


def test_cumulo_up_says_tmp_is_a_disk(home) -> None:
    with Cumulo(home=home, sandbox="namespace") as c:
        line = next(text for text in c.isolation() if text.startswith("/tmp:"))
        assert "disk" in line and "not counted as its memory" in line, line


def test_a_bad_frame_instead_of_the_disk_fails_the_sandbox_not_silently() -> None:
    """The environment's side refuses anything but the disk it expects on its channel."""
    code = textwrap.dedent(f"""
        import os, socket, sys
        sys.path.insert(0, {str(ROOT)!r})
        from cumulo.runtime.inside import protocol, scratch
        a, b = socket.socketpair()
        ours = a.dup()              # fd 3 may be a's: it is the channel's end now
        os.dup2(b.fileno(), 3)
        protocol.send(ours, {{"op": "invoke"}}, b"", [0])   # a frame, with a descriptor even
        try:
            scratch._receive_disk()
        except OSError as exc:
            print(exc.errno)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "71", done.stderr      # EPROTO
