"""The supervisor's handle on the zygote process (see ``zygote_main``).

Thread-safe: any thread may ask for a spawn. A reader thread collects the
zygote's ``exit`` reports so that whoever sees an environment's channel close
can learn how the process ended (exit code, signal).
"""

from __future__ import annotations

import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from cumulo.runtime import catalog
from cumulo.runtime.inside import landlock, linux, protocol

__all__ = ["ExitTable", "Zygote", "ZygoteError"]

_STARTUP_TIMEOUT_S = 30.0
_EXIT_MEMORY = 4096  # exit statuses kept for late readers


class ZygoteError(RuntimeError):
    pass


class ExitTable:
    """Exit statuses a forking process (the zygote, a template) reports, kept until asked for.

    Fed the ``spawned`` and ``exit`` frames of its control channel by one reader thread."""

    def __init__(self, on_exit: Callable[[int], None] = lambda pid: None) -> None:
        self._exits: dict[int, int] = {}
        self.cond = threading.Condition()
        self._on_exit = on_exit    # called with ``cond`` held

    def handle(self, header: dict) -> None:
        if header.get("op") == "spawned":   # a reused pid: an earlier process's exit is not this one's
            with self.cond:
                self._exits.pop(header["pid"], None)
        elif header.get("op") == "exit":
            with self.cond:
                if len(self._exits) > _EXIT_MEMORY:
                    self._exits.pop(next(iter(self._exits)))
                self._exits[header["pid"]] = header["status"]
                self._on_exit(header["pid"])
                self.cond.notify_all()

    def wait(self, pid: int, timeout: float, alive: Callable[[], bool]) -> int | None:
        """``pid``'s raw wait status, waiting up to ``timeout`` while the reporter is ``alive()``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while pid not in self._exits:
                left = deadline - time.monotonic()
                if left <= 0 or not alive():
                    return self._exits.get(pid)
                self.cond.wait(left)
            return self._exits.pop(pid)

    def __contains__(self, pid: int) -> bool:
        return pid in self._exits     # no lock: a dict lookup is atomic, and the pool asks on the warm path


class Zygote:
    def __init__(self, log_path: Path, network: str = "host") -> None:
        """``network``: ``host`` (environments share the host's network), ``isolated`` (a
        network namespace of their own, away from the host's loopback, with outbound access through
        slirp4netns where it is installed) or ``none`` (isolated, no outbound access)."""
        self._log_path = log_path
        self.network_request = network
        self.network = "host"              # what environments got: host, isolated, isolated-offline
        self._slirp: subprocess.Popen[bytes] | None = None
        self._slirp_exit = -1   # the write end of slirp4netns's --exit-fd pipe
        self._lock = threading.Lock()
        self._exits = ExitTable(on_exit=self._exited)
        self._watchers: dict[int, int] = {}   # pid -> write end of a pipe closed when it exits
        self._listening: "queue.Queue[tuple[dict, list[int]]]" = queue.Queue()   # the zygote's answers to "listen"
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self.namespaces = False
        self.rootless = False              # it runs in a user namespace of its own (an ordinary user's server)
        self.template_namespaces = False   # templates can isolate their children at the namespace level
        self.seccomp = False               # environments get the seccomp filter (runtime/inside/seccomp.py)
        self.pid_namespaces = False        # environments forked by the zygote are pid 1 of their own
        self.template_pid_namespaces = False   # and those forked by a template
        self.cpus: set[int] | None = None  # where it and everything it forks may run (None: anywhere)
        # environments cannot signal (or ptrace) anything outside the zygote's tree (runtime/inside/landlock.py)
        self.signals_scoped = landlock.abi() >= landlock.SCOPES_SIGNALS

    def start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        package_root = str(Path(__file__).resolve().parents[2])
        # Before anything is forked: a Landlock domain for everything the zygote forks, where signals,
        # ptrace and abstract sockets reach only the domain (runtime/inside/landlock.py); required where the
        # kernel has it, so ``signals_scoped`` (read here) is what environments got.
        code = ("import sys; sys.path.insert(0, sys.argv.pop(2)); "
                "from cumulo.runtime.inside import landlock; landlock.scope(); "
                "from cumulo.runtime.inside.zygote_main import main; main()")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        started = threading.Event()
        failure: list[BaseException] = []

        def parent_thread() -> None:
            # The zygote asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG), and Linux means
            # the parent *thread*: so it is started from a thread of ours that lives exactly as long
            # as the zygote, never from whichever (perhaps short-lived) thread first invoked.
            try:
                with open(self._log_path, "ab") as log:
                    self._proc = subprocess.Popen(
                        [sys.executable, "-I", "-S", "-c", code, str(child.fileno()), package_root,
                         self.network_request, catalog.runtime_packages_dir() or ""],
                        pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                        close_fds=True,
                    )
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            proc = self._proc
            started.set()
            proc.wait()

        threading.Thread(target=parent_thread, name="cumulo-zygote-parent", daemon=True).start()
        started.wait()
        if failure:
            raise failure[0]
        assert self._proc is not None
        child.close()
        if self.cpus:
            self.place(self.cpus)
        parent.settimeout(_STARTUP_TIMEOUT_S)
        try:
            hello, _, _ = protocol.recv(parent, 0)
        except (EOFError, OSError, protocol.ProtocolError) as exc:
            self._proc.kill()
            raise ZygoteError(f"the zygote did not start; see {self._log_path}") from exc
        parent.settimeout(None)
        self.namespaces = bool(hello.get("namespaces"))
        self.rootless = bool(hello.get("rootless"))
        self.template_namespaces = bool(hello.get("template_namespaces"))
        self.seccomp = bool(hello.get("seccomp"))
        self.pid_namespaces = bool(hello.get("pid_namespaces"))
        self.template_pid_namespaces = bool(hello.get("template_pid_namespaces"))
        self.network = "host"
        if hello.get("network_isolated"):
            self.network = "isolated" if self.network_request == "isolated" and self._start_slirp() else "isolated-offline"
        self._sock = parent
        threading.Thread(target=self._read_exits, name="cumulo-zygote-reader", daemon=True).start()

    def _start_slirp(self) -> bool:
        """Outbound network for the environments' namespace: slirp4netns on the zygote's, with
        the host's loopback out of reach (``--disable-host-loopback``). False where it is not
        installed or did not come up."""
        slirp = shutil.which("slirp4netns", path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        if slirp is None or self._proc is None:
            return False
        ready_r, ready_w = os.pipe()
        # It exits when the write end, which only this process holds, closes: also when this
        # process is killed with kill -9 (no slirp4netns outlives its server).
        exit_r, self._slirp_exit = os.pipe()
        try:
            with open(self._log_path, "ab") as log:
                self._slirp = subprocess.Popen(
                    [slirp, "--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd", str(ready_w),
                     "--exit-fd", str(exit_r), str(self._proc.pid), "tap0"], pass_fds=[ready_w, exit_r],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True, start_new_session=True)
        except OSError:
            for fd in (ready_r, ready_w, exit_r, self._slirp_exit):
                os.close(fd)
            self._slirp_exit = -1
            return False
        os.close(ready_w)
        os.close(exit_r)
        try:
            ready, _, _ = select.select([ready_r], [], [], _STARTUP_TIMEOUT_S)
            ok = bool(ready) and os.read(ready_r, 1) == b"1"
        finally:
            os.close(ready_r)
        if not ok:
            self._stop_slirp()
        return ok

    def _stop_slirp(self) -> None:
        if self._slirp_exit >= 0:
            os.close(self._slirp_exit)
            self._slirp_exit = -1
        if self._slirp is not None:
            self._slirp.kill()
            self._slirp.wait()
            self._slirp = None

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else 0

    def listen_inside(self, port: int, udp: bool = False) -> socket.socket:
        """A listening socket on 127.0.0.1:``port`` *in the environments' network namespace*: the
        one door from functions to the platform (the server serves its API there, signed requests
        only). The zygote makes it in its namespace and sends it back: a server that is not root
        could not enter that namespace itself (setns needs a capability in its own user namespace).
        ``udp``: a datagram socket bound there instead (the X-Ray daemon's port)."""
        if self.network == "host" or self._proc is None:
            raise ZygoteError("environments share the host's network: there is no namespace to listen in")
        with self._lock:
            if self._sock is None:
                raise ZygoteError("zygote not started")
            protocol.send(self._sock, {"op": "listen", "port": port, "udp": udp})
        try:
            answer, fds = self._listening.get(timeout=_STARTUP_TIMEOUT_S)
        except queue.Empty:
            raise ZygoteError("the zygote did not answer 'listen'") from None
        if answer.get("error") or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise ZygoteError(f"cannot listen in the environments' network namespace: {answer.get('error')}")
        return socket.socket(fileno=fds[0])

    def place(self, cpus: set[int]) -> None:
        """Run the zygote, and the templates and environments it forks from now on, on ``cpus``."""
        self.cpus = cpus
        if self._proc is not None:
            try:
                os.sched_setaffinity(self._proc.pid, cpus)
            except OSError:
                pass

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def spawn(self, spec: dict, chan_fd: int, log_fd: int, extra_fds: tuple[int, ...] = ()) -> None:
        with self._lock:
            if self._sock is None:
                raise ZygoteError("zygote not started")
            try:
                protocol.send(self._sock, {"op": "spawn", **spec}, b"", [chan_fd, log_fd, *extra_fds])
            except OSError as exc:
                raise ZygoteError("the zygote is gone") from exc

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        """The raw wait status of environment ``pid``, once the zygote reaped it."""
        return self._exits.wait(pid, timeout, lambda: self.alive)

    def has_exited(self, pid: int) -> bool:
        """Whether the zygote has reported ``pid`` as ended (without consuming the report). No lock:
        a dict lookup is atomic, and this is on the warm path (the pool asks before reusing)."""
        return pid in self._exits

    def exit_fd(self, pid: int) -> int:
        """A descriptor that becomes readable (end of file) once ``pid`` has exited; the caller closes it.

        For environments whose process has no channel to watch (an exec'd runtime)."""
        r, w = os.pipe()
        with self._exits.cond:
            if pid in self._exits or not self.alive:
                os.close(w)
            else:
                self._watchers[pid] = w
        return r

    def _read_exits(self) -> None:
        sock = self._sock
        assert sock is not None
        while True:
            try:
                header, _, fds = protocol.recv(sock, 0)
            except (EOFError, OSError, protocol.ProtocolError):
                break
            if header.get("op") == "listening":
                self._listening.put((header, fds))
                continue
            for fd in fds:
                os.close(fd)
            self._exits.handle(header)
        with self._exits.cond:
            for watcher in self._watchers.values():
                os.close(watcher)
            self._watchers.clear()
            self._exits.cond.notify_all()

    def _exited(self, pid: int) -> None:
        watcher = self._watchers.pop(pid, None)
        if watcher is not None:
            os.close(watcher)

    def stop(self) -> None:
        """Close the control socket: the zygote kills its children and exits."""
        with self._lock:
            if self._sock is not None:
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._sock.close()
                self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        self._stop_slirp()


def describe_exit(status: int | None) -> str:
    """Go-style wording of a wait status, as AWS's runtime reports it."""
    if status is None:
        return "exit status unknown"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"signal: {_SIGNAL_WORDS.get(sig, f'signal {sig}')}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


_SIGNAL_WORDS = {
    1: "hangup", 2: "interrupt", 3: "quit", 4: "illegal instruction", 5: "trace/breakpoint trap",
    6: "aborted", 7: "bus error", 8: "floating point exception", 9: "killed", 11: "segmentation fault",
    13: "broken pipe", 14: "alarm clock", 15: "terminated", 24: "CPU time limit exceeded",
    25: "file size limit exceeded",
}
