"""The environments' pid-namespace init program (runtime/inside/tinyinit.py), run as the kernel runs it."""

from __future__ import annotations

import os
import signal
import struct
import time

import pytest

from cumulo.runtime.inside import linux, tinyinit

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the init program is x86_64 code")


def test_it_is_a_small_static_x86_64_program() -> None:
    data = tinyinit.program()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1      # 64-bit, little-endian
    assert struct.unpack_from("<HH", data, 16) == (2, 62)                # an executable, for x86_64
    assert struct.unpack_from("<H", data, 56)[0] == 1                    # one segment: no interpreter
    assert len(data) < 512


def test_its_memfd_is_sealed_and_out_of_the_way() -> None:
    fd = tinyinit.load()
    assert fd is not None and fd >= tinyinit.FD_FLOOR
    try:
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"\x90", 100)                                  # F_SEAL_WRITE
        again = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)
        try:
            with pytest.raises(PermissionError):
                os.write(again, b"\x90")                                 # however it is opened
        finally:
            os.close(again)
        assert os.pread(fd, 4, 0) == b"\x7fELF"
    finally:
        os.close(fd)


def _as_init(environment: str) -> tuple[int, int | None]:
    """Run the program as pid 1 of a new pid namespace (owned by a new user namespace, so no
    root is needed) whose pid 2 runs ``environment``; its own wait status and the one it relayed.

    ``linux.fork`` is for single-threaded processes, as the zygote is (its raw clone skips libc's
    fork handlers: a child of a process whose other thread held malloc's lock would wait forever).
    The test process has threads, so the clone is made from a single-threaded child of it."""
    results, done = os.pipe()
    outer = os.fork()
    if outer == 0:
        try:
            os.close(results)
            try:
                own, status = _as_init_here(environment)
                os.write(done, struct.pack("iii", 0, own, -1 if status is None else status))
            except OSError as exc:
                os.write(done, struct.pack("iii", 1, exc.errno or 0, 0))
        finally:
            os._exit(0)
    os.close(done)
    data = os.read(results, 12)
    os.close(results)
    os.waitpid(outer, 0)
    failed, own, status = struct.unpack("iii", data)
    if failed:
        pytest.skip(f"no user and pid namespaces for this user here: errno {own}")
    return own, None if status == -1 else status


def _as_init_here(environment: str) -> tuple[int, int | None]:
    program = tinyinit.load()
    assert program is not None
    r, w = os.pipe()
    pid = linux.fork(linux.CLONE_NEWUSER | linux.CLONE_NEWPID)
    if pid == 0:
        try:
            child = os.fork()
            if child == 0:
                if environment == "orphan":
                    if os.fork() == 0:        # outlives its parent: the init must reap it
                        time.sleep(0.2)
                        os._exit(0)
                    os._exit(7)
                if environment == "killed":
                    os.kill(os.getpid(), signal.SIGKILL)
                os._exit(int(environment))
            os.dup2(w, 4)
            os.dup2(program, 5)
            os.execve(5, ["cumulo-init"], {})
        finally:
            os._exit(99)
    os.close(w)
    os.close(program)
    _, own = os.waitpid(pid, 0)
    data = os.read(r, 8)
    os.close(r)
    return own, (struct.unpack("i", data[:4])[0] if len(data) >= 4 else None)


@pytest.mark.parametrize("environment, relayed", [("0", 0), ("3", 3 << 8), ("orphan", 7 << 8),
                                                  ("killed", signal.SIGKILL)])
def test_it_relays_pid_2s_exact_wait_status_then_exits(environment: str, relayed: int) -> None:
    own, status = _as_init(environment)
    assert os.waitstatus_to_exitcode(own) == 0
    assert status == relayed
