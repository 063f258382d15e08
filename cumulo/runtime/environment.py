"""One execution environment: a forked process serving one invocation at a time.

The calling thread drives an invocation itself: it writes the request frame,
then ``poll``s the channel and the log pipe until the result frame arrives or
the deadline passes, at which point it kills the process group. No other
thread touches an environment while it is busy, so the warm path has no
thread hop and no lock beyond the pool's.

Whoever drives an invocation, the channel's ``O_NONBLOCK`` flag is nobody's contract: an event
loop that watches the channel sets it (uvloop, like libuv, makes every descriptor it polls
non-blocking, and never clears it), a worker thread may drive the same environment next, and a
template's reader thread reads its channel blocking. So no operation on the warm path relies on
the flag either way: each ``send`` and ``recv`` says ``MSG_DONTWAIT`` and waits for readiness
itself (``poll`` on a thread, the loop's reader and writer callbacks on a loop), and a request
frame that does not fit the socket's buffer at once is finished piece by piece as the
environment reads it. (A blocking ``sendall`` of a frame larger than the buffer, after the loop
had driven the environment, failed with ``EAGAIN``, and the healthy environment was thrown away
as "exit status unknown".)
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import select
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from cumulo.runtime.inside import protocol, scratch
from cumulo.runtime.interfaces import (
    Crashed, EnvironmentSpec, InitFailed, InvalidPayload, LogLine, Outcome, RestoreFailed, Spawner, Succeeded,
    FunctionFailed, TimedOut,
)
from cumulo.runtime.sandbox import MemoryCgroups, SandboxLevel
from cumulo.runtime.zygote import describe_exit

__all__ = ["Environment", "LOOP_PAYLOAD_MAX"]

# Larger payloads are invoked from a worker thread: building and copying a frame of megabytes would
# hold up the loop's other requests. (Either driver writes any frame size: what does not fit the
# socket's buffer at once is sent as the environment reads.)
LOOP_PAYLOAD_MAX = 128 * 1024

_READ_CHUNK = 1 << 16
_EXIT_WAIT_S = 2.0
_F_SETPIPE_SZ = 1031


@dataclass
class Environment:
    spec: EnvironmentSpec
    pid: int
    chan: socket.socket
    log_fd: int
    cgroup: Path | None
    cgroups: MemoryCgroups | None
    zygote: Spawner            # whoever forked the process and reports its exit: the zygote or a template
    init_ms: float
    tmp_dir: Path | None
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    invocations: int = 0
    dead: bool = False
    maxrss_kb: int = 0
    timed_out: bool = False
    provisioned: bool = False
    init_lines: list[LogLine] = field(default_factory=list)
    template: bool = False             # Init done, now a template serving spawn requests (snapshot.py)
    refused: str | None = None         # why it could not be a template (it serves invocations instead)
    restore_ms: float | None = None    # forked from a template: spawn request to ready
    billed_restore_ms: float | None = None   # of which the environment's own work (after-restore hooks)
    template_init_ms: float | None = None    # this environment's cold start created the template, whose Init took this
    template_init_lines: list[LogLine] = field(default_factory=list)
    _released: bool = False
    _frames: list[tuple[dict, bytes]] = field(default_factory=list)
    _reader: protocol.FrameReader | None = None
    _log_partial: bytearray = field(default_factory=bytearray)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Driven by an event loop: the channel and log pipe stay registered with it between
    # invocations (no epoll changes per invocation); ``_call`` is the invocation in progress.
    _loop: asyncio.AbstractEventLoop | None = None
    _call: "_LoopInvocation | None" = None
    _idle_lines: list[LogLine] = field(default_factory=list)   # written between invocations
    _log_eof: bool = False
    _last_ms: float = 0.0              # the last invocation's duration (whether spinning can pay off)
    # Readable once the process has exited (a pidfd): a child it forked may hold the channel open
    # long after, and the death must be seen when the process dies, not when that child exits.
    _exit_fd: int | None = None

    # -- creation -------------------------------------------------------------
    @classmethod
    def start(cls, spec: EnvironmentSpec, zygote: Spawner, cgroups: MemoryCgroups | None,
              deadline: float, template: bool = False) -> tuple["Environment | None", Outcome | None]:
        """Fork a new environment and run its Init (with ``template``, one that becomes a template).

        Returns the ready environment, or None and the outcome that explains why
        Init failed (the caller reports it as the invocation's result).
        """
        extra = {"template": True, "fallback_env": {   # if refused, it serves as an on-demand environment
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function}",
            "AWS_LAMBDA_LOG_STREAM_NAME": spec.stream}} if template else {}
        return cls._launch(spec, zygote, cgroups, deadline, extra, False)

    @classmethod
    def restore(cls, spec: EnvironmentSpec, template: Spawner, cgroups: MemoryCgroups | None,
                deadline: float) -> tuple["Environment | None", Outcome | None]:
        """Fork a new environment from a template; any failure is a ``RestoreFailed``."""
        return cls._launch(spec, template, cgroups, deadline, {}, True)

    @classmethod
    def _launch(cls, spec: EnvironmentSpec, spawner: Spawner, cgroups: MemoryCgroups | None, deadline: float,
                extra: dict, restoring: bool) -> tuple["Environment | None", Outcome | None]:
        started = time.perf_counter()
        parent, log_r, cgroup, tmp_dir = spawn_process(spec, spawner, cgroups, _rlimit_as(spec.memory_mb), extra)
        env = cls(spec=spec, pid=0, chan=parent, log_fd=log_r, cgroup=cgroup, cgroups=cgroups,
                  zygote=spawner, init_ms=0.0, tmp_dir=tmp_dir)
        lines: list[LogLine] = []
        frame = env._await_frame(deadline, lines)
        if frame is not None and frame[0].get("op") == "started":
            env.pid = frame[0]["pid"]
            parent_pid = _parent_of(env.pid) if restoring else spawner.pid   # a template is user code: check what it says
            if parent_pid == 0:
                # Gone already (a failing after-restore hook ends it at once): nothing left to check or
                # watch, and its pid is not to be trusted; what it sent before it went tells the rest.
                env.pid = 0
            elif parent_pid != spawner.pid:
                env.pid = 0
                env.kill()
                return None, RestoreFailed(_doc("Runtime.RestoreError", "the restored environment is not the template's child"),
                                           lines, (time.perf_counter() - started) * 1000)
            else:
                env._watch_exit()
            frame = env._await_frame(deadline, lines)
        op = frame[0].get("op") if frame is not None else None
        elapsed_ms = (time.perf_counter() - started) * 1000
        if frame is not None and op in ("ready", "template_ready"):
            head = frame[0]
            env.maxrss_kb = head.get("maxrss_kb", 0)
            env.init_lines = lines
            env.template = op == "template_ready"
            env.refused = head.get("refused")
            if restoring:
                env.restore_ms = elapsed_ms
                env.billed_restore_ms = float(head.get("restore_ms", elapsed_ms))
            else:
                env.init_ms = elapsed_ms
            return env, None
        if frame is None:
            outcome = env._death_outcome(lines, elapsed_ms / 1000, deadline)
        elif op in ("init_error", "restore_error"):
            outcome = InitFailed(frame[1], lines, elapsed_ms, env._peak_kb(frame[0].get("maxrss_kb", 0)))
            env.kill()
        else:
            outcome = Crashed(f"unexpected frame {op!r}", False, lines, elapsed_ms)
            env.kill()
        if restoring:
            if isinstance(outcome, InitFailed):
                return None, RestoreFailed(outcome.payload, outcome.lines, elapsed_ms)
            if isinstance(outcome, TimedOut):
                return None, RestoreFailed(b"", outcome.lines, elapsed_ms, timed_out=True)
            reason = outcome.reason if isinstance(outcome, Crashed) else "restore failed"
            return None, RestoreFailed(_doc("Runtime.ExitError", f"Runtime exited with error: {reason}"),
                                       outcome.lines, elapsed_ms)
        return None, outcome

    # -- invocation -----------------------------------------------------------
    def invoke(self, header: dict, payload: bytes, deadline: float) -> Outcome:
        """Run one invocation; ``deadline`` is a ``time.monotonic()`` instant."""
        self._detach()            # last driven by an event loop: this thread polls from now on
        lines: list[LogLine] = self._take_idle_lines()
        self._drain_logs(lines)   # what background threads wrote since the last call
        started = time.perf_counter()
        self.invocations += 1
        spin = self._spin_header(header)
        if not self._send_frame(_invoke_frame(header, payload), deadline, lines):
            return self._death_outcome(lines, (time.perf_counter() - started) / 1000, deadline)
        frame = self._await_frame(deadline, lines, spin)
        duration_ms = self._last_ms = (time.perf_counter() - started) * 1000
        self.last_used = time.monotonic()
        if frame is None:
            return self._death_outcome(lines, duration_ms / 1000, deadline)
        return self._result_outcome(frame, lines, duration_ms)

    def _send_frame(self, frame: bytes, deadline: float, lines: list[LogLine]) -> bool:
        """Write a request frame from this thread: one non-blocking ``send`` when it fits the socket's
        buffer (the warm path's only system call here), else the rest as the environment reads it,
        draining the log pipe meanwhile (a process blocked writing its output reads nothing). False
        if the process is gone, or the deadline passed (then it is killed: ``timed_out``)."""
        send = self.chan.send
        try:
            sent = send(frame, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False
        if sent == len(frame):
            return True
        rest = memoryview(frame)[sent:]
        poller = select.poll()
        poller.register(self.chan, select.POLLOUT)
        poller.register(self.log_fd, select.POLLIN)
        chan_fd = self.chan.fileno()
        while rest:
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                self.kill()
                self._drain_logs(lines)
                return False
            for fd, events in poller.poll(left * 1000):
                if fd == chan_fd:      # writable, or hung up / failed: the send says which
                    try:
                        rest = rest[send(rest, socket.MSG_DONTWAIT):]
                    except BlockingIOError:
                        pass
                    except OSError:
                        return False
                else:
                    if events & (select.POLLHUP | select.POLLERR) and not events & select.POLLIN:
                        poller.unregister(self.log_fd)
                    self._drain_logs(lines)
        return True

    def invoke_on_loop(self, header: dict, payload: bytes, deadline: float, loop: asyncio.AbstractEventLoop,
                       busy: Callable[[], bool] | None = None) -> "asyncio.Future[Outcome]":
        """The same invocation, driven by an event loop instead of a blocked thread.

        The loop watches the channel and the log pipe; nothing blocks it: the request frame goes
        in one non-blocking ``send`` when it fits the socket's buffer, else the rest from a writer
        callback as the environment reads it (callers keep payloads small, ``LOOP_PAYLOAD_MAX``,
        so the loop never copies megabytes). A death is examined in a worker thread (waiting for
        the exit status blocks).
        """
        return _LoopInvocation(self, loop, header, payload, deadline, busy).future

    def _result_outcome(self, frame: tuple[dict, bytes], lines: list[LogLine], duration_ms: float) -> Outcome:
        head, body = frame
        self.maxrss_kb = max(self.maxrss_kb, head.get("maxrss_kb", 0))
        op = head.get("op")
        if op == "result":
            if head.get("status") == "ok":
                return Succeeded(body, lines, duration_ms)
            return FunctionFailed(body, lines, duration_ms)
        if op == "invalid_payload":
            return InvalidPayload(body.decode(errors="replace"), lines, duration_ms)
        self.kill()
        return Crashed(f"unexpected frame {op!r}", False, lines, duration_ms)

    def _await_frame(self, deadline: float, lines: list[LogLine], spin_us: int = 0) -> tuple[dict, bytes] | None:
        """Poll channel and log pipe until one frame arrives; None on death or deadline."""
        if self._frames:
            return self._frames.pop(0)
        if self._reader is None:
            self._reader = protocol.FrameReader(self.spec.max_frame, orjson.loads)
        reader = self._reader
        early = self._spin_for_answer(spin_us)
        if early is not None:
            ended, frame = self._take(early, lines)
            if ended:
                return frame
        poller = select.poll()
        poller.register(self.chan, select.POLLIN)
        poller.register(self.log_fd, select.POLLIN)
        if self._exit_fd is not None:
            poller.register(self._exit_fd, select.POLLIN)
        chan_fd = self.chan.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                self.kill()
                self._drain_logs(lines)
                return None
            for fd, events in poller.poll(left * 1000):
                if fd == self._exit_fd:
                    poller.unregister(fd)
                    self._end_orphans()   # the channel then ends: what the process sent is read first
                    continue
                if fd == chan_fd:
                    try:
                        data = self.chan.recv(_READ_CHUNK if reader.pending < 1 << 20 else 1 << 22,
                                              socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    ended, frame = self._take(data, lines)
                    if ended:
                        return frame
                else:
                    if events & (select.POLLHUP | select.POLLERR) and not events & select.POLLIN:
                        poller.unregister(self.log_fd)
                    self._drain_logs(lines)

    def _take(self, data: bytes, lines: list[LogLine]) -> tuple[bool, tuple[dict, bytes] | None]:
        """Feed what the channel gave (b"": end of file): ``(True, frame)`` once a frame is whole,
        ``(True, None)`` if the process is gone or broke the protocol, ``(False, None)`` for more."""
        assert self._reader is not None
        if not data:
            self.dead = True
            self._drain_logs(lines)
            return True, None
        try:
            frames = self._reader.feed(data)
        except protocol.ProtocolError:
            self.kill()
            return True, None
        if not frames:
            return False, None
        self._drain_logs(lines)
        self._flush_partial_line(lines)   # the runtime flushed before answering
        self._frames.extend(frames[1:])
        return True, frames[0]

    def _spin_header(self, header: dict) -> int:
        """The caller's poll window for this invocation (``header["spin"]``, set by the invoker when
        nothing else is in flight). The environment polls for its next request after answering only
        if this request came within the window after the last answer: sparse traffic never spins."""
        spin = header.get("spin", 0)
        if spin and time.monotonic() - self.last_used > spin / 1e6:
            del header["spin"]
        return spin

    def _spin_for_answer(self, spin_us: int, busy: Callable[[], bool] | None = None) -> bytes | None:
        """Poll the channel without sleeping for up to ``spin_us``, if the last invocation was
        shorter than that: what arrived (b"" at end of file), or None.

        Asked for only when nothing else is in flight: a sleeping thread is woken by an
        inter-processor interrupt, which costs tens of microseconds on a virtual machine, more
        than a short invocation itself. Each try is a non-blocking ``recv``, which also lets
        other threads take the interpreter lock.
        """
        if not spin_us or self._last_ms * 1000 > spin_us:
            return None
        recv, clock = self.chan.recv, time.perf_counter_ns
        end = clock() + spin_us * 1000
        tries = 0
        while True:
            try:
                return recv(_READ_CHUNK, socket.MSG_DONTWAIT)
            except BlockingIOError:
                tries += 1
                if clock() >= end or (busy is not None and not tries & 7 and busy()):
                    return None
            except OSError:
                return b""

    def _take_idle_lines(self) -> list[LogLine]:
        lines, self._idle_lines = self._idle_lines, []
        return lines

    # -- event-loop registration ----------------------------------------------
    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Register channel and log pipe with ``loop`` (on its thread), once for many invocations."""
        if self._loop is loop:
            return
        if self._loop is not None:
            self._detach()
        loop.add_reader(self.chan.fileno(), self._on_channel_ready)
        if not self._log_eof:
            loop.add_reader(self.log_fd, self._on_logs_ready)
        if self._exit_fd is not None:
            loop.add_reader(self._exit_fd, self._on_exit)
        self._loop = loop

    def _unregister(self) -> None:
        """On the loop's thread: forget the readers (and the writer of a request still going out)."""
        if self._call is not None:
            self._call._stop_writing()
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed() or self._released:
            return
        loop.remove_reader(self.chan.fileno())
        if not self._log_eof:
            loop.remove_reader(self.log_fd)
        if self._exit_fd is not None:
            loop.remove_reader(self._exit_fd)

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _detach(self) -> None:
        """Stop being watched by an event loop, from any thread (waits for the loop to do it)."""
        loop = self._loop
        if loop is None:
            return
        if self._on_loop_thread() or loop.is_closed() or not loop.is_running():
            self._unregister()
            return
        done = threading.Event()

        def unregister() -> None:
            try:
                self._unregister()
            finally:
                done.set()

        try:
            loop.call_soon_threadsafe(unregister)
        except RuntimeError:      # closed meanwhile
            self._loop = None
            return
        if not done.wait(5):
            self._loop = None     # the loop is stuck or gone: its readers die with it

    def _on_exit(self) -> None:
        if self._loop is not None and self._exit_fd is not None:
            self._loop.remove_reader(self._exit_fd)
        self._end_orphans()

    def _watch_exit(self) -> None:
        """Open a pidfd for the process just reported ``started`` (Linux ≥ 5.3)."""
        try:
            self._exit_fd = os.pidfd_open(self.pid)
        except (OSError, AttributeError):
            self._exit_fd = None

    def _end_orphans(self) -> None:
        """The process has exited: SIGKILL what it left running (its process group, its cgroup), as
        Lambda resets the whole sandbox when its runtime dies. Their copies of the channel close,
        so the death is then read from the channel as any other (after what the process sent)."""
        if self._released:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.cgroup is not None and self.cgroups is not None:
            self.cgroups.kill_members(self.cgroup)

    def _on_channel_ready(self) -> None:
        if self._call is not None:
            self._call._on_channel()
            return
        # Between invocations: the process ended (EOF), or sent something unasked.
        try:
            data = self.chan.recv(_READ_CHUNK, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:           # ended while idle: free what it held (the pool drops it)
            self.kill()
            return
        if self._reader is None:
            self._reader = protocol.FrameReader(self.spec.max_frame, orjson.loads)
        try:
            self._frames.extend(self._reader.feed(data))
        except protocol.ProtocolError:
            self.kill()

    def _on_logs_ready(self) -> None:
        lines = self._call.lines if self._call is not None else self._idle_lines
        if self._drain_logs(lines):     # EOF: the process is gone; stop watching the pipe
            self._log_eof = True
            if self._loop is not None and not self._released:
                self._loop.remove_reader(self.log_fd)

    def _drain_logs(self, lines: list[LogLine]) -> bool:
        """Read what the process wrote into ``lines``; True at end of file."""
        while True:
            try:
                data = os.read(self.log_fd, _READ_CHUNK)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EBADF,):
                    break
                raise
            if not data:
                if self.dead:
                    self._flush_partial_line(lines)
                return True
            now = int(time.time() * 1000)
            self._log_partial += data
            *complete, rest = self._log_partial.split(b"\n")
            self._log_partial = bytearray(rest)
            lines.extend(LogLine(now, c.decode(errors="replace")) for c in complete)
        if self.dead:
            self._flush_partial_line(lines)
        return False

    def _flush_partial_line(self, lines: list[LogLine]) -> None:
        if self._log_partial:
            lines.append(LogLine(int(time.time() * 1000), self._log_partial.decode(errors="replace")))
            self._log_partial.clear()

    def _death_outcome(self, lines: list[LogLine], elapsed_s: float, deadline: float) -> Outcome:
        if self.timed_out:
            self.await_death()
            return TimedOut(lines, elapsed_s * 1000)
        self.dead = True
        status = self.zygote.wait_exit(self.pid, _EXIT_WAIT_S) if self.pid else None
        oom = bool(self.cgroup and self.cgroups and self.cgroups.oom_killed(self.cgroup))
        # A dead process reports nothing: REPORT's Max Memory Used is its memory cgroup's peak,
        # read before kill removes the group (an out-of-memory kill's peak is what the limit let through).
        self.maxrss_kb = max(self.maxrss_kb, self._peak_kb(0))
        self._drain_logs(lines)
        self.kill()
        if status is None:
            return Crashed("signal: killed" if oom else "exit status unknown", oom, lines, elapsed_s * 1000)
        return Crashed(describe_exit(status), oom, lines, elapsed_s * 1000)

    # -- ending ---------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL the whole environment (process group and cgroup) and free its resources.

        Watched by an event loop and called from another thread: the signal goes now, and the
        descriptors are freed on the loop's thread, which must stop watching them first (this
        never waits for the loop, so it is safe to call holding any lock)."""
        loop = self._loop
        if loop is not None and loop.is_running() and not self._on_loop_thread():
            self._signal_kill()
            try:
                loop.call_soon_threadsafe(self._release_on_loop)
                return
            except RuntimeError:     # the loop closed meanwhile: nothing watches the descriptors
                self._loop = None
        elif loop is not None:
            self._unregister()
        self._signal_kill()
        with self._lock:
            self._release()

    def _signal_kill(self) -> None:
        with self._lock:
            if self.pid and not self._released:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            self.dead = True

    def _release_on_loop(self) -> None:
        self._unregister()
        with self._lock:
            self._release()

    def collect_logs(self) -> list[LogLine]:
        """Whatever the process wrote since the last invocation (e.g. during Shutdown)."""
        self._detach()          # the loop must not read the pipe while we do
        lines: list[LogLine] = self._take_idle_lines()
        if not self._released:
            was_dead, self.dead = self.dead, True   # flush a last line without its newline too
            self._drain_logs(lines)
            self.dead = was_dead
        return lines

    def terminate(self) -> None:
        """Ask the environment to stop (SIGTERM to its process group): the Shutdown phase."""
        if self.pid and not self.dead:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except OSError:
                pass

    def await_exit(self, timeout_s: float) -> None:
        if self.pid and not self.dead:
            self.zygote.wait_exit(self.pid, timeout_s)

    def await_death(self) -> None:
        """After the kill at a deadline: return once whoever forked the process has reaped it, so
        that no code of a timed-out invocation still runs when its caller gets the answer (a retry
        never overlaps it). Bounded: a process stuck in the kernel is not waited for past
        ``_EXIT_WAIT_S``."""
        if self.pid:
            self.zygote.wait_exit(self.pid, _EXIT_WAIT_S)

    def shutdown(self, grace_s: float) -> None:
        """SIGTERM, wait up to ``grace_s`` for the process to exit, then SIGKILL."""
        self.terminate()
        self.await_exit(grace_s)
        self.kill()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            self.chan.close()
        finally:
            for fd in (self.log_fd, self._exit_fd):
                try:
                    if fd is not None:
                        os.close(fd)
                except OSError:
                    pass
        if self.cgroup is not None and self.cgroups is not None:
            self.cgroups.destroy(self.cgroup)
        if self.tmp_dir is not None:
            import shutil

            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    @property
    def max_memory_mb(self) -> int:
        """Peak resident memory of the environment's process, in MB (rounded up)."""
        return -(-self.maxrss_kb // 1024)

    def _peak_kb(self, reported_kb: int) -> int:
        """The process's own peak RSS (what it reported), else its memory cgroup's peak: read
        before ``kill`` removes the cgroup."""
        if reported_kb > 0 or self.cgroup is None or self.cgroups is None:
            return reported_kb
        peak = self.cgroups.peak_bytes(self.cgroup)
        return 0 if peak is None else peak // 1024


class _LoopInvocation:
    """One invocation watched by an event loop: the environment's readers (registered once, see
    ``Environment._attach``) route to it while it runs; a timer enforces the deadline."""

    def __init__(self, env: Environment, loop: asyncio.AbstractEventLoop, header: dict, payload: bytes,
                 deadline: float, busy: Callable[[], bool] | None = None) -> None:
        self.env, self.loop, self.deadline = env, loop, deadline
        self.future: asyncio.Future[Outcome] = loop.create_future()
        self.lines: list[LogLine] = env._take_idle_lines()
        self.watching = False
        self.unsent: memoryview | None = None     # the request frame's rest, while a writer sends it
        if env._loop is not loop:     # (a loop watching the pipe already collects it into _idle_lines)
            env._drain_logs(self.lines)   # what background threads wrote since the last call
        if env._reader is None:
            env._reader = protocol.FrameReader(env.spec.max_frame, orjson.loads)
        self.started = time.perf_counter()
        env.invocations += 1
        if env._frames:               # a frame that arrived early (never, in practice)
            self._done(env._result_outcome(env._frames.pop(0), self.lines, 0.0))
            return
        if env.dead:
            self._examine_death()
            return
        spin = env._spin_header(header)
        frame = _invoke_frame(header, payload)
        try:
            sent = env.chan.send(frame, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._examine_death()
            return
        env._attach(loop)
        env._call = self
        self.watching = True
        self.timer = loop.call_later(max(deadline - time.monotonic(), 0), self._on_deadline)
        if sent < len(frame):         # the socket's buffer is full: the rest as the environment reads
            self.unsent = memoryview(frame)[sent:]
            loop.add_writer(env.chan.fileno(), self._on_writable)
            return
        if spin and (busy is None or not busy()):
            # Blocks the loop for at most ``spin`` µs: nothing else is in flight, and it stops as
            # soon as ``busy`` says the loop has something to read.
            early = env._spin_for_answer(spin, busy)
            if early is not None:
                self._took(early)

    def _on_writable(self) -> None:
        if self.unsent is None:
            return
        try:
            sent = self.env.chan.send(self.unsent, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:               # the process is gone
            self.env.dead = True
            self._examine_death()
            return
        self.unsent = self.unsent[sent:]
        if not self.unsent:
            self._stop_writing()

    def _stop_writing(self) -> None:
        """On the loop's thread, before the channel may close."""
        if self.unsent is not None:
            self.unsent = None
            if not self.loop.is_closed() and not self.env._released:
                self.loop.remove_writer(self.env.chan.fileno())

    def _stop_watching(self) -> None:
        self._stop_writing()
        if self.watching:
            self.watching = False
            self.env._call = None
            self.timer.cancel()

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def _done(self, outcome: Outcome) -> None:
        self._stop_watching()
        self.env.last_used = time.monotonic()
        self.env._last_ms = outcome.duration_ms
        if not self.future.done():
            self.future.set_result(outcome)

    def _on_channel(self) -> None:
        env = self.env
        assert env._reader is not None
        try:
            data = env.chan.recv(_READ_CHUNK if env._reader.pending < 1 << 20 else 1 << 22, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self._took(data)

    def _took(self, data: bytes) -> None:
        env = self.env
        assert env._reader is not None
        if not data:
            env.dead = True
            self._examine_death()
            return
        try:
            frames = env._reader.feed(data)
        except protocol.ProtocolError:
            self._stop_watching()
            env.kill()
            self._done(Crashed("protocol error", False, self.lines, self._elapsed_ms()))
            return
        if frames:
            env._drain_logs(self.lines)
            env._flush_partial_line(self.lines)
            env._frames.extend(frames[1:])
            self._done(env._result_outcome(frames[0], self.lines, self._elapsed_ms()))

    def _on_deadline(self) -> None:
        self._stop_watching()
        self.env.timed_out = True
        self.env._drain_logs(self.lines)
        self.env.kill()
        timed_out = TimedOut(self.lines, self._elapsed_ms())
        # Answered once the process is reaped, as on the threaded path; waiting blocks: a worker's job.
        work = self.loop.run_in_executor(None, self.env.await_death)
        work.add_done_callback(lambda _: self._done(timed_out))

    def _examine_death(self) -> None:
        self._stop_watching()
        self.env._unregister()        # on the loop's thread: its descriptors are about to close
        elapsed_s = self._elapsed_ms() / 1000
        work = self.loop.run_in_executor(None, self.env._death_outcome, self.lines, elapsed_s, self.deadline)
        work.add_done_callback(lambda f: self._done(f.result()))


def _invoke_frame(header: dict, payload: bytes) -> bytes:
    """An ``invoke`` request frame (``protocol``'s format; orjson for the platform's own fields)."""
    frame = {"op": "invoke", **header}
    if "client_context" in header or "identity" in header:
        # The caller's own JSON: the stdlib keeps what orjson would not (integers over 64 bits,
        # NaN and Infinity, which orjson writes as null).
        head = json.dumps(frame, separators=(",", ":")).encode()
    else:
        head = orjson.dumps(frame)
    return protocol.PREFIX.pack(len(head), len(payload)) + head + payload


def _parent_of(pid: int) -> int:
    """The parent pid the kernel reports for ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def _doc(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def spawn_process(spec: EnvironmentSpec, spawner: Spawner, cgroups: MemoryCgroups | None, rlimit_as: int,
                  extra: dict | None = None) -> tuple[socket.socket, int, Path | None, Path | None]:
    """Have ``spawner`` fork an environment's process: its cgroup, channel, log pipe and private
    TMPDIR, or at the namespace level its /tmp disk (``scratch``: sent on the channel ahead of
    everything else; the environment's mount namespace holds it from then on, and the kernel
    frees it with the namespace). Returns (channel, non-blocking log pipe, cgroup, tmp dir);
    nothing is left behind if the spawn fails. ``rlimit_as`` caps the address space where no
    cgroup caps memory."""
    env_id = uuid.uuid4().hex
    cgroup = cgroups.new(f"env-{env_id}", spec.memory_mb * 1024 * 1024) if cgroups else None
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    log_r, log_w = os.pipe()
    try:
        fcntl.fcntl(log_r, _F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass
    tmp_dir = None
    if spec.tmp_root is not None:
        tmp_dir = spec.tmp_root / env_id
        tmp_dir.mkdir(parents=True, mode=0o700)
    wire = spec.wire(tmp_dir, cgroup, rlimit_as=None if cgroup else rlimit_as)
    wire.update(extra or {})
    # The environment joins its cgroups through descriptors opened here: it runs as another user,
    # may no longer see /sys/fs/cgroup, and must never be able to open them itself.
    groups = [os.open(os.path.join(g, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
              for g in (cgroups.members(cgroup) if cgroup is not None and cgroups is not None else [])]
    disk = _scratch_disk(spec)
    try:
        if disk is not None:
            wire["scratch"] = True
            scratch.send_disk(parent, disk)
        spawner.spawn(wire, child.fileno(), log_w, tuple(groups))
    except BaseException:
        parent.close()
        os.close(log_r)
        if cgroup is not None and cgroups is not None:
            cgroups.destroy(cgroup)
        raise
    finally:
        child.close()
        os.close(log_w)
        for fd in groups:
            os.close(fd)
        if disk is not None:
            os.close(disk)
    os.set_blocking(log_r, False)
    return parent, log_r, cgroup, tmp_dir


def _scratch_disk(spec: EnvironmentSpec) -> int | None:
    """A ready /tmp disk of the function's ephemeral storage (namespace level), or None: then its
    /tmp is a tmpfs, as where loop devices are not available (``ScratchDisks.failures`` counts)."""
    disks = spec.sandbox.scratch
    if disks is None or spec.sandbox.level is not SandboxLevel.NAMESPACE:
        return None
    try:
        return disks.take(spec.ephemeral_mb)
    except (OSError, RuntimeError):
        return None


def _rlimit_as(memory_mb: int) -> int:
    # Address space is not memory: the interpreter maps more than it touches.
    return (memory_mb + 512) * 1024 * 1024
