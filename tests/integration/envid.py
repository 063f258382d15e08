"""Which environment answered: an identity a function reports, and the host process it stands for.

At the namespace level every environment has a pid namespace of its own (its init is pid 1, the
function's process pid 2), so the pid a function sees tells neither which environment it is nor
which process on the host. A function reports instead (``PYTHON``, ``NODE``, ``SHELL``, ``C``)::

    <its pid namespace>/<its pid there>/<its start time>/<a token>    e.g. pid:[4026532240]/2/885867/9f3a61c0

- the pid namespace (as ``/proc/<pid>/ns/pid`` names it) with the pid tells apart the processes
  alive at one time, at both levels (at the process level every environment is in the host's
  namespace and the pid is the host's);
- the start time (clock ticks since boot, field 22 of ``/proc/<pid>/stat``) and the token (random,
  drawn once per process) tell apart processes that lived at different times: the kernel gives a
  new namespace the number of one just freed, and environments that replace one another can start
  within the same tick.

``host_pid`` finds the process on the host (by its namespace, its pid there — the last field of
``NSpid:`` in ``/proc/<pid>/status`` — and its start time): to signal it, read its ``/proc`` files,
or see whether it still runs.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PYTHON", "python_process", "NODE", "SHELL", "C", "host_pid", "alive", "environment_pid", "pid_namespace"]


def python_process(pid: str) -> str:
    """A Python expression: the identity (without a token) of a process of the environment, ``pid``
    an expression for its pid as the environment sees it (a child the function started)."""
    return ("(lambda os, p: '/'.join([os.readlink('/proc/%d/ns/pid' % p), str(p), "
            "open('/proc/%d/stat' % p).read().rsplit(')', 1)[1].split()[19]]))(__import__('os'), " + pid + ")")


# The function's own process. The token is kept in the os module, per identity: a process forked
# from a template (which may have reported its own at Init) draws its own.
PYTHON = ("(lambda os, k: k + '/' + vars(os).setdefault('_cumulo_test_tokens', {}).setdefault(k, os.urandom(4).hex()))"
          "(__import__('os'), " + python_process("__import__('os').getpid()") + ")")

# Node.js (CommonJS; an ES module defines ``require`` with module.createRequire first). Node.js
# processes are never forked from a template: the token is kept in a global.
NODE = ("(globalThis.__cumuloTestEnvId ??= [require('fs').readlinkSync('/proc/self/ns/pid'), process.pid, "
        "require('fs').readFileSync('/proc/self/stat', 'latin1').split(') ').pop().split(' ')[19], "
        "require('crypto').randomBytes(4).toString('hex')].join('/'))")

# A shell word for the shell's identity (``$$``), to use in double quotes: ``ENVID="<SHELL>"`` once,
# at the top of a bootstrap.
SHELL = ("$(readlink /proc/self/ns/pid)/$$/$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)"
         "/$(od -An -N4 -tx1 /dev/urandom | tr -d ' \\n')")

# C: ``const char *envid(void)``, the process's identity (computed once).
C = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

static const char *envid(void) {
    static char id[160];
    if (id[0]) return id;
    char ns[64] = "", stat[1024] = "";
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t got = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
    if (f) fclose(f);
    stat[got] = 0;
    char *p = strrchr(stat, ')');
    for (int i = 0; p && i < 20; i++) p = strchr(p + 1, ' ');   /* to field 22, the start time */
    unsigned char token[4] = {0};
    if (getrandom(token, sizeof token, 0) != (ssize_t)sizeof token) return "getrandom failed";
    snprintf(id, sizeof id, "%s/%d/%.*s/%02x%02x%02x%02x", ns, (int)getpid(), p ? (int)strcspn(p + 1, " ") : 0,
             p ? p + 1 : "", token[0], token[1], token[2], token[3]);
    return id;
}
"""


def _parts(identity: str) -> tuple[str, str, str]:
    ns, pid, start, *_ = identity.split("/")
    return ns, pid, start


def pid_namespace(identity: str) -> str:
    """The pid namespace an identity names (as ``/proc/<pid>/ns/pid`` reads)."""
    return _parts(identity)[0]


def _start(pid: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _inner_pid(pid: str) -> str | None:
    """The last field of NSpid: the pid in the process's own (innermost) pid namespace."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return line.split()[-1]
    except OSError:
        return None
    return None


def host_pid(identity: str) -> int | None:
    """The host pid of the process ``identity`` names, or None once it has ended (a zombie, whose
    namespaces are gone, included)."""
    ns, pid, start = _parts(identity)
    for name in os.listdir("/proc"):
        if not name.isdigit() or _start(name) != start:
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") != ns:
                continue
        except OSError:
            continue
        if _inner_pid(name) == pid and _start(name) == start:
            return int(name)
    return None


def alive(identity: str) -> bool:
    return host_pid(identity) is not None


def environment_pid(identity: str) -> int | None:
    """The host pid the supervisor knows the environment by (``Environment.pid``): the function's
    own at the process level, its pid namespace's init's where it has a namespace of its own."""
    found = host_pid(identity)
    if found is None or pid_namespace(identity) == os.readlink("/proc/self/ns/pid"):
        return found
    for line in Path(f"/proc/{found}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            parent = line.split()[1]
            assert _inner_pid(parent) == "1", f"{identity}: its parent {parent} is not its namespace's init"
            return int(parent)
    return None
