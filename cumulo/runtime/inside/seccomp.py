"""A seccomp filter for environments: the system calls a Lambda sandbox never needs fail with EPERM.

Denied: tracing and reading other processes (``ptrace``, ``process_vm_readv/writev``), mounts and
the new mount API, kernel modules, ``kexec``, ``reboot``, swap, kernel keyrings, ``bpf``,
``perf_event_open``, ``userfaultfd``, ``io_uring``, the system clock, the kernel log, quotas,
file handles (``open_by_handle_at``, the classic container escape) and I/O ports; for
environments that serve invocations also ``unshare``, ``setns`` and ``clone`` with a new-namespace
flag (a template keeps them: its children are forked into namespaces of their own, then install
the full filter themselves); ``clone3`` answers ENOSYS (its flags are out of a filter's reach). 32-bit
and x32 system calls are refused outright, so the list cannot be side-stepped through another ABI.

The filter is installed after the sandbox is built and before user code runs; ``no_new_privs``
is already set, as the kernel requires of an unprivileged process. Standard library only.
x86_64 only for now: on another architecture no filter is installed (``install`` says so).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

__all__ = ["install", "DENIED", "supported", "probe", "enabled"]

enabled = False   # set by the zygote once it found filters work here (``probe``); inherited by forks

# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl).
DENIED: dict[str, int] = {
    "ptrace": 101, "syslog": 103, "uselib": 134, "adjtimex": 159, "acct": 163, "settimeofday": 164,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "nfsservctl": 180, "lookup_dcookie": 212,
    "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
    "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304, "clock_adjtime": 305,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "pivot_root": 155, "vhangup": 153,
}
NAMESPACE_CALLS: dict[str, int] = {"unshare": 272, "setns": 308}
CLONE, CLONE3 = 56, 435
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
# Kept for templates only: their children build their own namespaces after the fork.
TEMPLATE_ALLOWS = frozenset({"unshare", "setns", "mount", "move_mount"})   # move_mount: /tmp's disk (scratch.py)

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_KILL_PROCESS = 0x80000000
# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def supported() -> bool:
    return platform.machine() in ("x86_64", "AMD64", "amd64")


def program(template: bool = False) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions: another ABI killed, each denied call EPERM."""
    numbers = sorted({nr for name, nr in {**DENIED, **NAMESPACE_CALLS}.items()
                      if not (template and name in TEMPLATE_ALLOWS)})
    eperm = _SECCOMP_RET_ERRNO | errno.EPERM
    prog = [
        (_LD_W_ABS, 0, 0, 4),                              # seccomp_data.arch
        (_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS),         # i386 entry points and the like
        (_LD_W_ABS, 0, 0, 0),                              # seccomp_data.nr
        (_JGE_K, 0, 1, _X32_SYSCALL_BIT),
        (_RET_K, 0, 0, eperm),                             # the x32 ABI
        # clone with a CLONE_NEW* flag is how namespaces are made without unshare: refused, but a
        # template's (its children are forked into theirs)
        (_JEQ_K, 0, 4, CLONE),
        (_LD_W_ABS, 0, 0, 16),                             # seccomp_data.args[0], its low word: flags
        (_JSET_K, 0, 1, 0 if template else CLONE_NAMESPACE_FLAGS),
        (_RET_K, 0, 0, eperm),
        (_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        # clone3 passes its flags in memory a filter cannot read: "not implemented", as container
        # runtimes answer, and the C library falls back to clone for threads
        (_JEQ_K, 0, 1, CLONE3),
        (_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.ENOSYS),
        # The hot calls (read, write, poll, sendto, recvfrom, mmap …) are numbered below every
        # denied one: allowed after one comparison instead of a walk through the list.
        (_JGE_K, 1, 0, numbers[0]),
        (_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    count = len(numbers)
    for i, nr in enumerate(numbers):
        # equal: jump to the EPERM return after the remaining comparisons and the ALLOW
        prog.append((_JEQ_K, count - i, 0, nr))
    prog.append((_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    prog.append((_RET_K, 0, 0, eperm))
    return prog


def install(template: bool = False) -> bool:
    """Install the filter on this process (and everything it forks or execs); False where the
    architecture has no filter here. Needs ``no_new_privs`` (or CAP_SYS_ADMIN)."""
    if not supported():
        return False
    fprog = prepare()[template]
    if _libc.prctl(_PR_SET_SECCOMP, ctypes.c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {errno.errorcode.get(err, err)}")
    return True


_libc = ctypes.CDLL(None, use_errno=True)
_prepared: dict[bool, _SockFprog] = {}


def prepare() -> dict[bool, _SockFprog]:
    """Both filters (an environment's, a template's) built once: the zygote calls this before it
    forks, so installing one in a new environment is a single prctl."""
    if not _prepared:
        for template in (False, True):
            prog = program(template)
            array = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
            _prepared[template] = _SockFprog(len(prog), array)
            _prepared[template]._keep = array   # type: ignore[attr-defined]  # the pointer's target lives on
    return _prepared


def encode(prog: list[tuple[int, int, int, int]]) -> bytes:
    """The raw ``struct sock_filter`` array (for tests and inspection)."""
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


def probe() -> bool:
    """Whether a filter can be installed here: tried in a throwaway child."""
    import os

    if not supported():
        return False
    pid = os.fork()
    if pid == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(38, ctypes.c_ulong(1), 0, 0, 0)   # PR_SET_NO_NEW_PRIVS
            install()
            os._exit(0 if libc.ptrace(16, os.getppid(), None, None) == -1 and ctypes.get_errno() == errno.EPERM else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
