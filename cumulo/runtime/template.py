"""The supervisor's handle on a template: an initialised environment that forks environments.

A ``Template`` wraps the ``Environment`` whose process ran Init and answered
``template_ready`` (see ``snapshot.py``). It is a ``Spawner``: ``Environment.restore``
asks it to fork, and a reader thread collects the ``exit`` reports it sends for its
children. Thread-safe. ``retire`` asks it to fork no more; the process exits once its
last child has ended, and its resources (log pipe, cgroup, TMPDIR) are freed then.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from cumulo.runtime.inside import protocol
from cumulo.runtime.environment import Environment
from cumulo.runtime.interfaces import LogLine
from cumulo.runtime.zygote import ExitTable, ZygoteError

__all__ = ["Template", "TemplateMemory"]


@dataclass(frozen=True)
class TemplateMemory:
    rss_kb: int     # resident pages, shared ones included
    pss_kb: int     # proportional share: shared pages divided among the processes mapping them


class Template:
    def __init__(self, env: Environment) -> None:
        assert env.template
        self.env = env
        self.init_ms = env.init_ms
        self.created = time.monotonic()
        self.last_used = self.created
        self.restores = 0
        self.retired = False
        self._init_lines: list[LogLine] = env.init_lines
        self._init_reported = False
        env.init_lines = []
        self._lock = threading.Lock()
        self._exits = ExitTable()
        self._open = True
        threading.Thread(target=self._read, name=f"cumulo-template-{env.pid}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.env.pid

    @property
    def alive(self) -> bool:
        return self._open and not self.retired and not self.env.zygote.has_exited(self.env.pid)

    def take_init(self) -> tuple[float, list[LogLine]] | None:
        """The Init's duration and output, once: for the first environment forked from it."""
        with self._lock:
            if self._init_reported:
                return None
            self._init_reported = True
            lines, self._init_lines = self._init_lines, []
        return self.init_ms, lines

    def spawn(self, spec: dict, chan_fd: int, log_fd: int, extra_fds: tuple[int, ...] = ()) -> None:
        with self._lock:
            if not self._open or self.retired:
                raise ZygoteError("the template is retired")
            try:
                protocol.send(self.env.chan, {"op": "spawn", **spec}, b"", [chan_fd, log_fd, *extra_fds])
            except OSError as exc:
                raise ZygoteError("the template is gone") from exc
            self.restores += 1
            self.last_used = time.monotonic()

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        return self._exits.wait(pid, timeout, lambda: self._open)

    def has_exited(self, pid: int) -> bool:
        """Reported ended — or the template is gone, which takes its children with it (PDEATHSIG).
        No lock (atomic lookups): the pool asks on the warm path."""
        return pid in self._exits or not self._open

    def memory(self) -> TemplateMemory:
        """The template process's memory now (from /proc/<pid>/smaps_rollup; zeros once it is gone)."""
        rss = pss = 0
        try:
            with open(f"/proc/{self.pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss = int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss = int(line.split()[1])
        except (OSError, ValueError):
            pass
        return TemplateMemory(rss, pss)

    def retire(self) -> None:
        """Fork no more; the process exits after its last environment (which keeps running)."""
        with self._lock:
            if self.retired:
                return
            self.retired = True
            try:
                protocol.send(self.env.chan, {"op": "retire"})
            except OSError:
                pass

    def _read(self) -> None:
        sock = self.env.chan
        while True:
            try:
                header, _, _ = protocol.recv(sock, 0)
            except (EOFError, OSError, protocol.ProtocolError):
                break
            self._exits.handle(header)
        with self._exits.cond:
            self._open = False
            self._exits.cond.notify_all()
        self.env.collect_logs()
        self.env.kill()   # its own process group only: its environments have sessions of their own
