"""The few Linux system calls the sandbox needs that Python 3.11's ``os`` lacks.

Used inside the zygote and its children only (single-threaded processes).
"""

from __future__ import annotations

import ctypes
import os
import signal

__all__ = [
    "unshare", "mount", "loopback_up", "set_parent_death_signal", "set_no_new_privs", "drop_capabilities",
    "drop_bounding_set", "set_dumpable", "setns", "fork", "write_id_maps", "host_pid",
    "enter_user_namespace", "pivot_root", "CLONE_NEWNS", "CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWUSER", "MS_BIND", "MS_REC", "MS_PRIVATE", "MS_RDONLY", "MS_REMOUNT",
    "MS_NOSUID", "MS_NODEV", "MS_NOEXEC",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_CAP_LAST_FALLBACK = 40

_libc = ctypes.CDLL(None, use_errno=True)
# For the clone system call: called with the GIL held (a PyDLL), between Python's own before- and
# after-fork steps, exactly where os.fork calls fork(2).
_libc_gil = ctypes.PyDLL(None, use_errno=True)
_libc_gil.syscall.restype = ctypes.c_long
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    """Move the calling *thread* into the namespace ``fd`` refers to."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def fork(flags: int = 0) -> int:
    """``os.fork`` whose child starts in new namespaces (``CLONE_NEW*`` flags): with CLONE_NEWPID
    it is pid 1 of a pid namespace of its own, while the parent gets its pid as the parent sees
    it. Only for single-threaded processes (the zygote, a template), as the fork server's own
    fork is. Python's before/after-fork steps run as they do for ``os.fork``."""
    if not flags:
        return os.fork()
    if _SYS_CLONE is None:
        raise OSError(38, "clone with namespace flags: unsupported architecture")
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    # x86_64 and aarch64 alike: flags, child stack (none: a copy of ours), then the tid pointers
    # and TLS, all unused.
    pid = _libc_gil.syscall(ctypes.c_long(_SYS_CLONE), ctypes.c_ulong(flags | signal.SIGCHLD), None, None, None, None)
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


def host_pid() -> int:
    """This process's pid as the host's /proc numbers it (the /proc mounted for the host's pid
    namespace still being there): in a pid namespace of its own ``os.getpid()`` is 1."""
    return int(os.readlink("/proc/self"))


def enter_user_namespace(inside: int, outside: int, flags: int = 0, outside_gid: int | None = None) -> None:
    """Enter a new user namespace (with ``flags``: other new namespaces owned by it) where
    ``inside`` is this process's uid and gid, mapped to ``outside`` (and ``outside_gid``, else
    ``outside`` too) in the current one. Written by the process itself, so only its own ids can
    be mapped (setgroups is denied for good)."""
    unshare(CLONE_NEWUSER | flags)
    write_id_maps(inside, outside, outside_gid)


def write_id_maps(inside: int, outside: int, outside_gid: int | None = None) -> None:
    """Map ``inside`` (uid and gid) to ``outside`` (and ``outside_gid``, else ``outside`` too) in
    the user namespace this process has just entered (by ``unshare`` or a ``fork`` with CLONE_NEWUSER)."""
    gid = outside if outside_gid is None else outside_gid
    for name, text in (("uid_map", f"{inside} {outside} 1"), ("setgroups", "deny"), ("gid_map", f"{inside} {gid} 1")):
        fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
_MNT_DETACH = 2


def pivot_root(new_root: str) -> None:
    """Make ``new_root`` (a mount point) this mount namespace's root and detach the old one, so
    nothing of the host's tree outside what was mounted into ``new_root`` is reachable by path."""
    if _SYS_PIVOT_ROOT is None:
        raise OSError(38, "pivot_root: unsupported architecture")
    os.chdir(new_root)
    # pivot_root(".", "."): the old root ends up stacked on the new one, at "/", and is detached
    _check(int(_libc.syscall(ctypes.c_long(_SYS_PIVOT_ROOT), b".", b".")), "pivot_root")
    _check(_libc.umount2(b".", ctypes.c_int(_MNT_DETACH)), "umount2")
    os.chdir("/")


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    _check(_libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0), "prctl(PDEATHSIG)")


def set_dumpable(dumpable: bool = True) -> None:
    """An ordinary process again after a change of uid: its /proc/self files its own. With
    False: no process of the same uid may trace it or read its memory (an init's)."""
    _check(_libc.prctl(_PR_SET_DUMPABLE, ctypes.c_ulong(int(dumpable)), 0, 0, 0), "prctl(DUMPABLE)")


def set_no_new_privs() -> None:
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), 0, 0, 0), "prctl(NO_NEW_PRIVS)")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_bounding_set() -> None:
    """Empty the capability bounding set (needs CAP_SETPCAP): no exec can bring one back."""
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except OSError:
        last = _CAP_LAST_FALLBACK
    for cap in range(last + 1):
        _libc.prctl(_PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0)


def drop_capabilities() -> None:
    """Leave the process with no capabilities at all, now or after exec."""
    drop_bounding_set()
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 1


def loopback_up() -> None:
    """Bring up ``lo`` in a new network namespace (it starts down), so 127.0.0.1 works inside it."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, _SIOCGIFFLAGS, struct.pack("16sh22x", b"lo", 0))[:18])[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | _IFF_UP))
