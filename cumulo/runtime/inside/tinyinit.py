"""An environment's pid-namespace init as a 203-byte static program (x86_64), built from its
machine code below and run from a sealed memfd.

Pid 1 of an environment's pid namespace reaps what is orphaned there and, when the function's
process (pid 2, its first child) ends, writes that wait status to fd 4 (``snapshot._STATUS_FD``)
and exits; the kernel then ends whatever is left. ``snapshot.serve_as_init`` does the same in
Python, but a Python init is a copy of the environment's whole interpreter: every page the function
then writes is copied, at the cost of a page fault and a 4 KiB copy each, while the init sleeps on
its copy. Exec'ing this program instead drops that copy at once. It also makes itself not dumpable
(nothing of it to read or trace), and as a pid-namespace init it gets no signal it does not handle.

The memfd is sealed (no write, grow or shrink, and no more seals): an environment that holds it
(a template, for its children) can read and run it, never change what other environments run.
"""

from __future__ import annotations

import fcntl
import os
import struct

__all__ = ["load", "program", "FD_FLOOR"]

FD_FLOOR = 100   # where the zygote keeps it: above the descriptors environments are given (0-5)

_SYS = {"prctl": 157, "wait4": 61, "write": 1, "exit_group": 231}
_PR_SET_DUMPABLE = 4
_EINTR = 4
_STATUS_FD = 4
_ENVIRONMENT_PID = 2


def _code() -> bytes:
    """x86_64 machine code, each instruction commented with its assembly."""
    code = bytearray()

    def emit(*data: int) -> int:
        at = len(code)
        code.extend(bytes(data))
        return at

    def imm32(value: int) -> tuple[int, ...]:
        return tuple(struct.pack("<i", value))

    emit(0xBF, *imm32(_PR_SET_DUMPABLE))         # mov edi, PR_SET_DUMPABLE
    emit(0x31, 0xF6)                             # xor esi, esi                      (0: not dumpable)
    emit(0xB8, *imm32(_SYS["prctl"]))            # mov eax, SYS_prctl
    emit(0x0F, 0x05)                             # syscall
    loop = emit(0xBF, *imm32(-1))                # loop: mov edi, -1                 (any child)
    emit(0x48, 0x8D, 0x74, 0x24, 0xF8)           # lea rsi, [rsp-8]                  (&status)
    emit(0x31, 0xD2)                             # xor edx, edx                      (options 0)
    emit(0x45, 0x31, 0xD2)                       # xor r10d, r10d                    (no rusage)
    emit(0xB8, *imm32(_SYS["wait4"]))            # mov eax, SYS_wait4
    emit(0x0F, 0x05)                             # syscall
    emit(0x83, 0xF8, _ENVIRONMENT_PID)           # cmp eax, 2
    to_found = emit(0x74, 0)                     # je found
    emit(0x85, 0xC0)                             # test eax, eax
    to_loop = emit(0x79, 0)                      # jns loop                          (an orphan reaped)
    emit(0x83, 0xF8, (-_EINTR) & 0xFF)           # cmp eax, -EINTR
    to_loop_again = emit(0x74, 0)                # je loop
    to_exit = emit(0xEB, 0)                      # jmp exit                          (ECHILD: nothing left)
    found = emit(0xBF, *imm32(_STATUS_FD))       # found: mov edi, 4
    emit(0x48, 0x8D, 0x74, 0x24, 0xF8)           # lea rsi, [rsp-8]
    emit(0xBA, *imm32(4))                        # mov edx, 4                        (the int status)
    emit(0xB8, *imm32(_SYS["write"]))            # mov eax, SYS_write
    emit(0x0F, 0x05)                             # syscall
    done = emit(0x31, 0xFF)                      # exit: xor edi, edi
    emit(0xB8, *imm32(_SYS["exit_group"]))       # mov eax, SYS_exit_group
    emit(0x0F, 0x05)                             # syscall
    for jump, target in ((to_found, found), (to_loop, loop), (to_loop_again, loop), (to_exit, done)):
        code[jump + 1] = (target - (jump + 2)) & 0xFF    # rel8 from the next instruction
    return bytes(code)


def program() -> bytes:
    """The whole static ELF: its header, one loadable read+execute segment, the code."""
    code = _code()
    base, header_size, entry_size = 0x400000, 64, 56
    entry = base + header_size + entry_size
    header = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0,   # 64-bit, little-endian, SysV
                         2, 62, 1, entry, header_size, 0, 0,                       # executable, x86_64
                         header_size, entry_size, 1, 0, 0, 0)
    size = header_size + entry_size + len(code)
    segment = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)   # PT_LOAD, R+X
    return header + segment + code


def load() -> int | None:
    """A sealed memfd holding ``program()``, at a descriptor of ``FD_FLOOR`` or above; None where
    it cannot run (another architecture) or be made."""
    if os.uname().machine != "x86_64":
        return None
    try:
        fd = os.memfd_create("cumulo-init", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except (OSError, AttributeError):
        return None
    try:
        os.write(fd, program())
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FD_FLOOR)
    except OSError:
        os.close(fd)
        return None
    os.close(fd)
    return high
