"""What isolation an environment gets, decided once per supervisor.

Levels, strongest available first (``SandboxLevel``):

- ``namespace``: root on Linux with mount namespaces. Code bind-mounted
  read-only at /var/task, the platform's home hidden under an empty tmpfs, a
  private size-capped tmpfs /tmp, ``no_new_privs``, and either an unprivileged
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
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxLevel", "SandboxPolicy", "MemoryCgroups", "world_readable"]

_NOBODY = 65534


class SandboxLevel(enum.Enum):
    NAMESPACE = "namespace"
    PROCESS = "process"


@dataclass(frozen=True)
class SandboxPolicy:
    level: SandboxLevel
    uid: int | None          # drop to this user (namespace level), or stay uid 0 without capabilities
    hide: tuple[str, ...]    # folders hidden from environments (the platform's home)
    no_network: bool = False

    @classmethod
    def decide(cls, requested: str, namespaces_work: bool, home: Path, no_network: bool = False) -> "SandboxPolicy":
        if requested not in ("auto", "namespace", "process"):
            raise ValueError(f"unknown sandbox level {requested!r}")
        use_ns = namespaces_work and requested in ("auto", "namespace")
        if requested == "namespace" and not namespaces_work:
            raise RuntimeError("sandbox level 'namespace' needs root and mount namespaces")
        if not use_ns:
            return cls(SandboxLevel.PROCESS, None, ())
        os.makedirs("/var/task", exist_ok=True)   # the mount point AWS's code location needs
        os.makedirs("/var/runtime", exist_ok=True)   # and its runtime's (platform paths under /tmp)
        os.makedirs("/opt", exist_ok=True)           # and the layers'
        paths = [sys.prefix, sys.base_prefix, *[p for p in sys.path if p and os.path.isabs(p)]]
        uid = _NOBODY if all(world_readable(Path(p)) for p in paths if os.path.exists(p)) else None
        return cls(SandboxLevel.NAMESPACE, uid, (str(home.resolve()),), no_network)


def world_readable(path: Path) -> bool:
    """Whether any user can reach ``path`` (every ancestor searchable by others)."""
    for p in [path, *path.resolve().parents]:
        try:
            mode = p.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


class MemoryCgroups:
    """Per-environment memory cgroups under the supervisor's own cgroup."""

    def __init__(self, base: Path, version: int) -> None:
        self.base, self.version = base, version

    @classmethod
    def create(cls) -> "MemoryCgroups | None":
        """A writable memory hierarchy for this process, or None."""
        found = _own_memory_cgroup()
        if found is None:
            return None
        parent, version = found
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
        return cls(base, version)

    def new(self, name: str, limit_bytes: int) -> Path:
        path = self.base / name
        path.mkdir()
        self._limit(path, limit_bytes)
        return path

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

    def destroy(self, path: Path) -> None:
        """Kill whatever is left in the group, then remove it."""
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

    def close(self) -> None:
        for child in self.base.iterdir() if self.base.exists() else []:
            if child.is_dir():
                self.destroy(child)
        _rmdir(self.base)


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
