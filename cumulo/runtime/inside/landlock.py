"""Landlock scoping for the zygote: everything it forks stays inside one Landlock domain.

Landlock (Linux 5.13+, signal scoping since ABI 6, Linux 6.12) lets any process, root or not,
restrict itself and its descendants. The zygote restricts itself before it forks anything, so
every environment (and anything a function forks) lives in its domain, where

- signals reach only processes of the domain (``LANDLOCK_SCOPE_SIGNAL``): a function cannot
  signal the server, the CLI, or any other process of the server's user outside the domain,
  even at the ``process`` level, where it runs as that same user;
- abstract unix sockets outside the domain cannot be connected to
  (``LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET``);
- ptrace, and the ``/proc/<pid>/mem``, ``environ`` and ``fd`` that follow ptrace's rules, reach only
  processes of the domain: Landlock always refuses them towards a less restricted process.

Processes inside the domain (the zygote, templates, the environments) still reach each other.
No file system or network access is restricted here (mounts stay possible: the namespace level
builds its sandbox after this). Run as ``python -c`` before the zygote's ``main``; needs no
privilege (``no_new_privs`` is set first where the process is not root).
"""

from __future__ import annotations

import ctypes
import os
import struct

__all__ = ["abi", "SCOPES_SIGNALS", "scope"]

_CREATE_RULESET, _RESTRICT_SELF = 444, 446      # the same number on every architecture (asm-generic)
_CREATE_RULESET_VERSION = 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2
_PR_SET_NO_NEW_PRIVS = 38
SCOPES_SIGNALS = 6                               # the first ABI with LANDLOCK_SCOPE_SIGNAL

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


_abi: int | None = None


def abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled (asked once:
    forks inherit the answer)."""
    global _abi
    if _abi is None:
        version = _libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
        _abi = max(int(version), 0)
    return _abi


def scope() -> bool:
    """Put this process (and all it will fork) in a Landlock domain that scopes signals and
    abstract unix sockets to it. False, with nothing changed, where the kernel's ABI is older than
    ``SCOPES_SIGNALS``; raises OSError if a capable kernel refuses."""
    if abi() < SCOPES_SIGNALS:
        return False
    # struct landlock_ruleset_attr {handled_access_fs, handled_access_net, scoped}: only scopes
    attr = ctypes.create_string_buffer(struct.pack("=QQQ", 0, 0, _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET), 24)
    if os.geteuid() != 0 and _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _raise("prctl(PR_SET_NO_NEW_PRIVS)")
    fd = _libc.syscall(_CREATE_RULESET, attr, ctypes.c_size_t(24), ctypes.c_uint32(0))
    if fd < 0:
        _raise("landlock_create_ruleset")
    try:
        if _libc.syscall(_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            _raise("landlock_restrict_self")
    finally:
        os.close(fd)
    return True


def _raise(call: str) -> None:
    errno = ctypes.get_errno()
    raise OSError(errno, f"{call}: {os.strerror(errno)}")
