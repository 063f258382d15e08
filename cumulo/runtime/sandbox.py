"""What isolation an environment gets, decided once per supervisor.

Levels, strongest available first (``SandboxLevel``):

- ``namespace``: root on Linux with mount namespaces. Code bind-mounted
  read-only at /var/task, the platform's home hidden under an empty tmpfs, a
  private /tmp of EphemeralStorage's size (a disk of its own, ``scratch``, where
  loop devices work; else a tmpfs), ``no_new_privs``, and either an unprivileged
  user (when the interpreter is readable by one) or uid 0 with every
  capability dropped (so read-only mounts stay read-only).
- ``process``: own session and process group, own working directory and TMPDIR,
  a cleared environment, rlimits (files, file size, core dumps).

Independently, memory is capped by a memory cgroup (v1 or v2) where the
supervisor can create one, else by RLIMIT_AS.
"""

from __future__ import annotations

import enum
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cumulo.runtime.inside.zygote_main import PIDS_MAX   # what the environment's RLIMIT_NPROC says too

if TYPE_CHECKING:
    from cumulo.runtime.inside.scratch import ScratchDisks

__all__ = ["SandboxLevel", "SandboxPolicy", "MemoryCgroups"]


class SandboxLevel(enum.Enum):
    NAMESPACE = "namespace"
    PROCESS = "process"


@dataclass(frozen=True)
class SandboxPolicy:
    level: SandboxLevel
    hide: tuple[str, ...]    # folders hidden from environments (the platform's home)
    no_network: bool = False
    # An empty folder (in the home) where each environment puts its root together before pivot_root.
    staging: str = ""
    rootless: bool = False   # the server is not root: namespaces come from a user namespace of its own
    # Where each environment's /tmp comes from at the namespace level: disks of their own (None: a tmpfs).
    scratch: "ScratchDisks | None" = field(default=None, compare=False)

    @classmethod
    def decide(cls, requested: str, namespaces_work: bool, home: Path, no_network: bool = False,
               rootless: bool = False) -> "SandboxPolicy":
        if requested not in ("auto", "namespace", "process"):
            raise ValueError(f"unknown sandbox level {requested!r}")
        use_ns = namespaces_work and requested in ("auto", "namespace")
        if requested == "namespace" and not namespaces_work:
            raise RuntimeError("sandbox level 'namespace' needs mount, pid and user namespaces (root, or "
                               "unprivileged user namespaces)")
        if not use_ns:
            return cls(SandboxLevel.PROCESS, ())
        staging = home.resolve() / "sandbox-root"
        staging.mkdir(mode=0o700, exist_ok=True)
        # As root each environment picks its own unprivileged uid (zygote_main.sandbox_uid).
        return cls(SandboxLevel.NAMESPACE, (str(home.resolve()),), no_network, staging=str(staging), rootless=rootless)


class MemoryCgroups:
    """Per-environment cgroups under the supervisor's own: memory, and where the hierarchy
    allows it pids (``PIDS_MAX``). Their files belong to the supervisor's user; environments run
    as other users, so they can join them (at spawn, before dropping privileges) but never
    raise a limit or move out."""

    def __init__(self, base: Path, version: int, pids_base: Path | None = None) -> None:
        self.base, self.version, self.pids_base = base, version, pids_base
        self._fast_moves: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls) -> "MemoryCgroups | None":
        """A writable memory hierarchy for this process, or None. Groups left by a supervisor
        that was killed (``kill -9``) are removed first."""
        found = _own_memory_cgroup()
        if found is None:
            return None
        parent, version = found
        _remove_leftovers(parent)
        base = parent / f"cumulo-{os.getpid()}"
        try:
            base.mkdir(exist_ok=True)
            if version == 2:
                (parent / "cgroup.subtree_control").write_text("+memory")
                base.joinpath("cgroup.subtree_control").write_text("+memory")
            probe = base / "probe"
            probe.mkdir(exist_ok=True)
            cls(base, version)._limit(probe, 256 * 1024 * 1024)
            probe.rmdir()
        except OSError:
            _rmdir(base)
            return None
        cgroups = cls(base, version, _pids_base(parent, version))
        cgroups._fast_moves = _favor_moves()
        return cgroups

    def new(self, name: str, limit_bytes: int) -> Path:
        path = self.base / name
        path.mkdir()
        self._limit(path, limit_bytes)
        if self.version == 2:
            try:
                (path / "pids.max").write_text(str(PIDS_MAX))
            except OSError:
                pass
        elif self.pids_base is not None:
            pids = self.pids_base / name
            try:
                pids.mkdir()
                (pids / "pids.max").write_text(str(PIDS_MAX))
            except OSError:
                _rmdir(pids)
        return path

    def members(self, path: Path) -> list[str]:
        """The cgroup folders an environment of group ``path`` joins (memory, then pids)."""
        pids = self.pids_base / path.name if self.pids_base is not None and self.version == 1 else None
        return [str(path)] + ([str(pids)] if pids is not None and pids.is_dir() else [])

    def _limit(self, path: Path, limit_bytes: int) -> None:
        if self.version == 1:
            (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            memsw = path / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(limit_bytes))
        else:
            (path / "memory.max").write_text(str(limit_bytes))
            swap = path / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")

    def raise_limit(self, path: Path, limit_bytes: int) -> None:
        """Raise a cgroup's memory limit (a template's, once its Init is done)."""
        try:
            if self.version == 1:
                memsw = path / "memory.memsw.limit_in_bytes"
                if memsw.exists():      # memory+swap first: it may never be below the memory limit
                    memsw.write_text(str(limit_bytes))
                (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            else:
                (path / "memory.max").write_text(str(limit_bytes))
        except OSError:
            pass

    def oom_killed(self, path: Path) -> bool:
        try:
            if self.version == 1:
                text = (path / "memory.oom_control").read_text()
                for line in text.splitlines():
                    if line.startswith("oom_kill "):
                        return int(line.split()[1]) > 0
                return int((path / "memory.failcnt").read_text()) > 0
            for line in (path / "memory.events").read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1]) > 0
        except (OSError, ValueError):
            pass
        return False

    def peak_bytes(self, path: Path) -> int | None:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((path / name).read_text())
        except (OSError, ValueError):
            return None

    def kill_members(self, path: Path) -> None:
        """SIGKILL every process in the group (and its pids group), leaving the groups in place."""
        for member in self.members(path):
            try:
                pids = [int(p) for p in (Path(member) / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def destroy(self, path: Path) -> None:
        """Kill whatever is left in the group (and its pids group), then remove it."""
        for member in reversed(self.members(path)):
            _destroy(Path(member))

    def close(self) -> None:
        if self._fast_moves is not None:   # its stdin closed: it exits, and its mount goes with it
            holder, self._fast_moves = self._fast_moves, None
            assert holder.stdin is not None
            holder.stdin.close()
            try:
                holder.wait(5)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait()
        for base in (self.base, self.pids_base):
            for child in base.iterdir() if base is not None and base.exists() else []:
                if child.is_dir():
                    _destroy(child)
            if base is not None:
                _rmdir(base)


# A process that holds, in a mount namespace of its own, a cgroup v1 hierarchy with no controllers
# mounted with ``favordynmods``, until its stdin closes (the server closed its cgroups, or died).
_HOLD_FAVOR = """
import os, sys
from cumulo.runtime.inside import linux
linux.unshare(linux.CLONE_NEWNS)
linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
linux.mount("cgroup", "/tmp", "cgroup", 0, "none,name=cumulo,favordynmods")
sys.stdin.buffer.read()
"""


def _favor_moves() -> subprocess.Popen[bytes] | None:
    """Make moving a process into a cgroup cost ~0.1 ms instead of a kernel RCU grace period.

    Every environment joins its cgroups when it starts. The kernel guards such moves with one
    lock shared by every fork and exit on the machine, and by default takes it for writing by
    waiting out an RCU grace period when it has been idle: 8-22 ms per move on this machine's
    6.18 kernel, measured, most of a cold start. Mounting any cgroup hierarchy with the
    ``favordynmods`` option switches that lock, for the whole machine and as long as the
    hierarchy is mounted, to the mode the kernel's documentation describes as reducing "the
    latencies of dynamic cgroup modifications such as task migrations ... at the cost of making
    hot path operations such as forks and exits more expensive" (a shared counter instead of
    per-CPU ones). For a host whose job is starting environments that is the right trade. The
    hierarchy is an empty named one (no controllers), mounted in a mount namespace of a small
    holder process only, so nothing shows in the host's mount table; it goes with that process.
    Needs root; skipped where some cgroup mount already has the option (the kernel may be built
    with it) or the kernel lacks it."""
    try:
        if os.geteuid() != 0 or "favordynmods" in Path("/proc/self/mountinfo").read_text():
            return None
        root = Path(__file__).resolve().parents[2]
        return subprocess.Popen([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(root)!r})"
                                 f"\n{_HOLD_FAVOR}"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None


def _destroy(path: Path) -> None:
    for _ in range(50):
            try:
                pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if _rmdir(path):
                return
            time.sleep(0.01)


def _pids_base(memory_parent: Path, version: int) -> Path | None:
    """``cumulo-<pid>`` in this process's own pids cgroup (v1; in v2 the memory group's
    folder is the same one and gets ``+pids``), or None where none is writable."""
    try:
        if version == 2:
            (memory_parent / "cgroup.subtree_control").write_text("+pids")
            base = memory_parent / f"cumulo-{os.getpid()}"
            base.joinpath("cgroup.subtree_control").write_text("+memory +pids")
            return None   # v2: pids.max lives in the memory group's own folder (see new)
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, rel = line.split(":", 2)
            if "pids" in controllers.split(","):
                parent = Path("/sys/fs/cgroup/pids") / rel.lstrip("/")
                _remove_leftovers(parent)
                base = parent / f"cumulo-{os.getpid()}"
                base.mkdir(exist_ok=True)
                return base
    except OSError:
        pass
    return None


def _remove_leftovers(parent: Path) -> None:
    """Remove ``cumulo-<pid>`` groups whose supervisor is gone (killed before it could)."""
    try:
        children = [c for c in parent.iterdir() if c.name.startswith("cumulo-") and c.name[7:].isdigit()]
    except OSError:
        return
    for child in children:
        if int(child.name[7:]) == os.getpid() or _alive(int(child.name[7:])):
            continue
        for group in [g for g in child.iterdir() if g.is_dir()]:
            _destroy(group)
        _rmdir(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _own_memory_cgroup() -> tuple[Path, int] | None:
    root = Path("/sys/fs/cgroup")
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        if "memory" in controllers.split(","):
            path = root / "memory" / rel.lstrip("/")
            return (path, 1) if path.is_dir() and os.access(path, os.W_OK) else None
    for line in lines:
        if line.startswith("0::") and (root / "cgroup.controllers").exists():
            path = root / line[3:].lstrip("/")
            if "memory" in (root / "cgroup.controllers").read_text().split() and os.access(path, os.W_OK):
                return path, 2
    return None


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
