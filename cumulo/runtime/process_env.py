"""One execution environment whose runtime speaks the Lambda Runtime API (Node.js, a custom bootstrap).

The zygote forks the child and builds its sandbox exactly as for a Python environment; the child
then opens the environment's listening socket, passes it over and ``execve``s the runtime
(``exec_runtime``). The supervisor serves that socket (``RuntimeApiServer``). As with
``Environment``, the calling thread drives an invocation itself: it hands the event to the
runtime's waiting ``next`` and ``poll``s the API's sockets, the log pipe and an exit pipe (closed by
the zygote's reader when the process is reaped) until the runtime posts a response or an error,
the process exits, or the deadline passes — then it kills the process group, as for Python.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import select
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from cumulo.runtime.inside import protocol
from cumulo.runtime.environment import spawn_process
from cumulo.runtime.interfaces import (
    Crashed, EnvironmentSpec, FunctionFailed, InitFailed, InvalidPayload, LogLine, Outcome, Succeeded, TimedOut,
)
from cumulo.runtime.runtime_api import ErrorPosted, InitErrorPosted, Responded, RuntimeApiServer, Signal
from cumulo.runtime.sandbox import MemoryCgroups, SandboxLevel
from cumulo.runtime.zygote import Zygote, describe_exit
from cumulo.runtime.inside.zygote_main import sandbox_uid

__all__ = ["ProcessEnvironment"]

_READ_CHUNK = 1 << 16
_EXIT_WAIT_S = 2.0
_READY, _EXITED, _TIMEOUT = "ready", "exited", "timeout"


@dataclass
class ProcessEnvironment:
    spec: EnvironmentSpec
    pid: int
    log_fd: int
    cgroup: Path | None
    cgroups: MemoryCgroups | None
    zygote: Zygote
    tmp_dir: Path | None
    server: RuntimeApiServer | None = None
    exit_fd: int | None = None
    init_ms: float = 0.0
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    invocations: int = 0
    dead: bool = False
    maxrss_kb: int = 0
    timed_out: bool = False
    provisioned: bool = False
    init_lines: list[LogLine] = field(default_factory=list)
    _chan: socket.socket | None = None     # until the exec closes it: the child's own reports
    _released: bool = False
    _log_partial: bytearray = field(default_factory=bytearray)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- creation -------------------------------------------------------------
    @classmethod
    def start(cls, spec: EnvironmentSpec, zygote: Zygote, cgroups: MemoryCgroups | None,
              deadline: float) -> tuple["ProcessEnvironment | None", Outcome | None]:
        """Fork, exec the runtime and wait for its first ``next`` (the end of Init)."""
        started = time.perf_counter()
        # V8 and the like reserve far more address space than they use: only a cgroup caps memory well.
        parent, log_r, cgroup, tmp_dir = spawn_process(spec, zygote, cgroups, (spec.memory_mb + 4096) * 1024 * 1024)
        env = cls(spec=spec, pid=0, log_fd=log_r, cgroup=cgroup, cgroups=cgroups, zygote=zygote,
                  tmp_dir=tmp_dir, _chan=parent)
        lines: list[LogLine] = []
        outcome = env._init(deadline, lines, started)
        if outcome is not None:
            return None, outcome
        env.init_ms = (time.perf_counter() - started) * 1000
        env.init_lines = lines
        env.maxrss_kb = env._peak_kb()
        return env, None

    def _init(self, deadline: float, lines: list[LogLine], started: float) -> Outcome | None:
        chan = self._chan
        assert chan is not None
        elapsed_ms = lambda: (time.perf_counter() - started) * 1000  # noqa: E731
        chan.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            head, body, fds = protocol.recv(chan, 1 << 20)
        except (EOFError, OSError, protocol.ProtocolError):
            self._drain_logs(lines)
            self.kill()
            return Crashed("exit status unknown", False, lines, elapsed_ms())
        if head.get("op") == "init_error":
            return self._init_failed(body, lines, elapsed_ms())
        if head.get("op") != "started" or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            self.kill()
            return Crashed(f"unexpected frame {head.get('op')!r}", False, lines, elapsed_ms())
        self.pid = head["pid"]
        self.exit_fd = self.zygote.exit_fd(self.pid)
        sandbox = self.spec.sandbox
        # rootless, every environment is this server's uid: the socket's owner is looked up instead
        peer = (self.pid, None if sandbox.rootless else sandbox_uid(self.pid)) \
            if sandbox.level is SandboxLevel.NAMESPACE else None
        self.server = RuntimeApiServer(socket.socket(fileno=fds[0]), self.spec.max_response, peer)
        chan.setblocking(False)
        result = self._serve(deadline, lines, until_ready=True)
        if result == _READY:
            return None
        if isinstance(result, (InitErrorPosted, bytes)):
            doc = result if isinstance(result, bytes) else result.document
            return self._init_failed(doc, lines, elapsed_ms())
        if result == _TIMEOUT:
            return self._timed_out(lines, elapsed_ms())
        return self._exited(lines, elapsed_ms())

    def _init_failed(self, doc: bytes, lines: list[LogLine], duration_ms: float) -> InitFailed:
        self._drain_logs(lines)
        self._flush_partial_line(lines)
        peak_kb = self._peak_kb()      # before kill removes the cgroup
        self.kill()
        return InitFailed(doc, lines, duration_ms, peak_kb)

    # -- invocation -----------------------------------------------------------
    def invoke(self, header: dict, payload: bytes, deadline: float) -> Outcome:
        lines: list[LogLine] = []
        self._drain_logs(lines)
        started = time.perf_counter()
        self.invocations += 1
        body = payload if payload.strip() else b"{}"
        reason = _not_json(body)   # AWS's platform refuses a payload that is not JSON before the runtime sees it
        if reason is not None:
            return InvalidPayload(reason, lines, 0.0)
        assert self.server is not None
        self.server.submit(header["id"], _event_headers(header), body, deadline)
        result = self._serve(deadline, lines, until_ready=False)
        duration_ms = (time.perf_counter() - started) * 1000
        self.last_used = time.monotonic()
        if isinstance(result, Responded):
            self.maxrss_kb = max(self.maxrss_kb, self._peak_kb())
            return Succeeded(result.body, lines, duration_ms)
        if isinstance(result, ErrorPosted):
            self.maxrss_kb = max(self.maxrss_kb, self._peak_kb())
            return FunctionFailed(result.document, lines, duration_ms)
        if result == _TIMEOUT:
            return self._timed_out(lines, duration_ms)
        if result == _EXITED:
            return self._exited(lines, duration_ms)
        self.kill()   # an init error now is refused by the API (403): nothing else can arrive
        return Crashed(f"unexpected {result!r}", False, lines, duration_ms)

    def invoke_on_loop(self, header: dict, payload: bytes, deadline: float, loop: asyncio.AbstractEventLoop,
                       busy: Callable[[], bool] | None = None) -> "asyncio.Future[Outcome]":
        """The event-loop driver's entry: this environment is driven from a worker thread (one hop)."""
        return loop.run_in_executor(None, self.invoke, header, payload, deadline)

    def _serve(self, deadline: float, lines: list[LogLine], until_ready: bool) -> Signal | bytes | str:
        """Serve the Runtime API until something ends the wait.

        Returns a ``Signal``, ``_READY`` (with ``until_ready``: the runtime's ``next`` is waiting),
        the init error document the child reported itself (bytes), ``_EXITED`` or ``_TIMEOUT``.
        """
        server = self.server
        assert server is not None and self.exit_fd is not None
        poller = select.poll()
        watched: set[int] = set()
        poller.register(self.log_fd, select.POLLIN)
        poller.register(self.exit_fd, select.POLLIN)
        chan_fd = self._chan.fileno() if self._chan is not None else -1
        if chan_fd >= 0:
            poller.register(chan_fd, select.POLLIN)
        exited = False
        while True:
            if until_ready and server.waiting_for_event:
                return _READY
            if exited:
                return _EXITED
            left = deadline - time.monotonic()
            if left <= 0:
                return _TIMEOUT
            for fd in server.fds():
                if fd not in watched:
                    poller.register(fd, select.POLLIN)
                    watched.add(fd)
            for fd, events in poller.poll(left * 1000):
                if fd == self.log_fd:
                    if events & (select.POLLHUP | select.POLLERR) and not events & select.POLLIN:
                        poller.unregister(fd)
                    self._drain_logs(lines)
                elif fd == self.exit_fd:
                    poller.unregister(fd)
                    exited = True   # but first serve what it sent before exiting (same batch, or next pass)
                elif fd == chan_fd:
                    doc = self._chan_report()
                    poller.unregister(fd)
                    chan_fd = -1
                    if doc is not None:
                        return doc
                elif events & select.POLLNVAL:
                    poller.unregister(fd)
                    watched.discard(fd)
                else:
                    signals = server.on_readable(fd)
                    if signals:
                        self._drain_logs(lines)
                        self._flush_partial_line(lines)
                        return signals[0]
            if exited:
                self._serve_remaining(server)
                for fd in server.fds():
                    signals = server.on_readable(fd)
                    if signals:
                        self._drain_logs(lines)
                        self._flush_partial_line(lines)
                        return signals[0]
                if until_ready and server.waiting_for_event:
                    return _EXITED

    @staticmethod
    def _serve_remaining(server: RuntimeApiServer) -> None:
        """Accept connections still in the backlog of a runtime that has exited."""
        server.on_readable(server.listener.fileno())

    def _chan_report(self) -> bytes | None:
        """The child's channel: end of file once the exec succeeded, else its init error."""
        chan = self._chan
        assert chan is not None
        self._chan = None
        try:
            chan.setblocking(True)
            chan.settimeout(1.0)
            head, body, _ = protocol.recv(chan, 1 << 20)
        except (EOFError, OSError, protocol.ProtocolError):
            return None
        finally:
            chan.close()
        return body if head.get("op") == "init_error" else None

    def _timed_out(self, lines: list[LogLine], duration_ms: float) -> TimedOut:
        self.timed_out = True
        self.kill()
        self._drain_logs(lines)
        self._flush_partial_line(lines)
        # Answer once the zygote has reaped the process: no code of the timed-out invocation runs
        # after its caller has the answer (bounded, for a process stuck in the kernel).
        if self.pid:
            self.zygote.wait_exit(self.pid, _EXIT_WAIT_S)
        return TimedOut(lines, duration_ms)

    def _exited(self, lines: list[LogLine], duration_ms: float) -> Crashed:
        self.dead = True
        status = self.zygote.wait_exit(self.pid, _EXIT_WAIT_S) if self.pid else None
        oom = bool(self.cgroup and self.cgroups and self.cgroups.oom_killed(self.cgroup))
        self.maxrss_kb = max(self.maxrss_kb, self._peak_kb())    # the cgroup's peak, before kill removes it
        self._drain_logs(lines)
        self._flush_partial_line(lines)
        self.kill()
        if status is None:
            return Crashed("signal: killed" if oom else "exit status unknown", oom, lines, duration_ms)
        return Crashed(describe_exit(status), oom, lines, duration_ms)

    # -- logs and memory ------------------------------------------------------
    def _drain_logs(self, lines: list[LogLine]) -> None:
        while True:
            try:
                data = os.read(self.log_fd, _READ_CHUNK)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EBADF:
                    return
                raise
            if not data:
                return
            now = int(time.time() * 1000)
            self._log_partial += data
            *complete, rest = self._log_partial.split(b"\n")
            self._log_partial = bytearray(rest)
            lines.extend(LogLine(now, c.decode(errors="replace")) for c in complete)

    def _flush_partial_line(self, lines: list[LogLine]) -> None:
        if self._log_partial:
            lines.append(LogLine(int(time.time() * 1000), self._log_partial.decode(errors="replace")))
            self._log_partial.clear()

    def _peak_kb(self) -> int:
        if self.cgroup is not None and self.cgroups is not None:
            peak = self.cgroups.peak_bytes(self.cgroup)
            if peak is not None:
                return peak // 1024
        try:
            with open(f"/proc/{self.pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return self.maxrss_kb

    @property
    def max_memory_mb(self) -> int:
        return -(-self.maxrss_kb // 1024)

    # -- ending ---------------------------------------------------------------
    def kill(self) -> None:
        with self._lock:
            if self.pid:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            self.dead = True
            self._release()

    def collect_logs(self) -> list[LogLine]:
        lines: list[LogLine] = []
        if not self._released:
            self._drain_logs(lines)
            self._flush_partial_line(lines)
        return lines

    def terminate(self) -> None:
        if self.pid and not self.dead:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except OSError:
                pass

    def await_exit(self, timeout_s: float) -> None:
        if self.pid and not self.dead:
            self.zygote.wait_exit(self.pid, timeout_s)

    def shutdown(self, grace_s: float) -> None:
        self.terminate()
        self.await_exit(grace_s)
        self.kill()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        if self.server is not None:
            self.server.close()
        if self._chan is not None:
            self._chan.close()
            self._chan = None
        for fd in (self.log_fd, self.exit_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.cgroup is not None and self.cgroups is not None:
            self.cgroups.destroy(self.cgroup)
        if self.tmp_dir is not None:
            import shutil

            shutil.rmtree(self.tmp_dir, ignore_errors=True)


def _not_json(body: bytes) -> str | None:
    """Why ``body`` is not JSON, or None. orjson first (fast); what it refuses and the standard library
    accepts (a lone surrogate escape, 1e400) is accepted, as the Python runtime accepts it."""
    try:
        orjson.loads(body)
        return None
    except orjson.JSONDecodeError:
        pass
    try:
        json.loads(body)
        return None
    except ValueError as exc:
        return str(exc)


def _event_headers(header: dict) -> tuple[tuple[str, str], ...]:
    """The ``Lambda-Runtime-*`` headers of ``next``'s answer."""
    out = [("Lambda-Runtime-Aws-Request-Id", header["id"]),
           ("Lambda-Runtime-Deadline-Ms", str(header["deadline_ms"])),
           ("Lambda-Runtime-Invoked-Function-Arn", header["arn"]),
           ("Lambda-Runtime-Trace-Id", header.get("trace_id", ""))]
    if header.get("client_context") is not None:
        out.append(("Lambda-Runtime-Client-Context", json.dumps(header["client_context"])))
    if header.get("identity") is not None:
        out.append(("Lambda-Runtime-Cognito-Identity", json.dumps(header["identity"])))
    return tuple(out)
