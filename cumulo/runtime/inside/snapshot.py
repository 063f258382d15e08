"""Fork templates, inside the environment process: Cumulo's SnapStart.

A *template* is an environment that ran Init (the handler module's import) and its
before-snapshot hooks, and then, instead of serving invocations, serves ``spawn`` requests
on its channel: each forks a new environment that starts with the template's memory —
modules imported, module-level state initialised — so a cold start no longer pays for Init.

Correctness, as AWS documents for SnapStart:

- The template must stay single-threaded and share no open descriptors: after Init and the
  before-snapshot hooks, a template with a second thread or any descriptor beyond 0–3 is
  *refused*. The process then runs its after-restore hooks and serves invocations as an
  ordinary (on-demand) environment, and the supervisor stops trying for that version.
- Each forked environment redoes what is per environment — its own session and process group,
  memory cgroup, log pipe and channel, TMPDIR, environment variables — re-seeds ``random``'s
  global instance, runs the after-restore hooks in registration order, and only then reports
  ``ready``. A failing hook is reported as ``restore_error`` (the Invoke answers
  SnapStartException, as AWS's does) and the environment is discarded.
- The template reports each child it forks (``spawned``) and reaps its children, reporting
  their exits on its channel (``exit`` frames), as the zygote does; asked to retire (or when its channel closes) it forks no more and exits
  once its last child has ended, so retiring a template never kills a serving environment.
  Its children die with it if it is killed (``PR_SET_PDEATHSIG``), as environments die with
  the zygote: nothing outlives the supervisor.

Standard library only (it runs in every environment's process).
"""

from __future__ import annotations

import gc
import os
import random
import select
import signal
import socket
import struct
import sys
import tempfile
import time
from typing import Any, Callable

from cumulo.runtime.inside import bootstrap, landlock, linux, protocol, scratch, seccomp

__all__ = ["run_template", "refusal"]

_CHAN_FD = 3
_STATUS_FD = 4   # an init's: where it writes its environment's wait status (see serve_as_init)
_INIT_FD = 5     # the init program (tinyinit.py), held by whoever will be or make an init
pid_namespaces = False   # set by the zygote once it found its templates' children can have their own


def run_template(chan: socket.socket, handler_name: str, max_response: int, init_started: float,
                 fallback_env: dict[str, str] | None = None) -> None:
    loaded = bootstrap.initialise(chan, handler_name)
    if loaded is None:
        return
    handler, request_filter = loaded
    hooks = sys.modules.get("snapshot_restore_py")
    try:
        _run_hooks(getattr(hooks, "get_before_snapshot", list)())
    except Exception as exc:   # a before-snapshot hook is part of Init: it fails like Init
        bootstrap.init_error(chan, bootstrap.error_document(exc, ""))
        return
    init_ms = (time.perf_counter() - init_started) * 1000
    refused = refusal()
    if refused is not None:   # serve as an ordinary environment: the snapshot never happened
        os.environ.update(fallback_env or {})   # on-demand's variables, from here on
        if not _after_restore(chan):
            return
        protocol.send(chan, {"op": "ready", "pid": os.getpid(), "init_ms": init_ms,
                             "maxrss_kb": bootstrap.maxrss_kb(), "refused": refused})
        bootstrap.serve(chan, handler, request_filter, max_response)
        return
    protocol.send(chan, {"op": "template_ready", "pid": os.getpid(), "init_ms": init_ms,
                         "maxrss_kb": bootstrap.maxrss_kb()})
    sys.stdout.flush()
    sys.stderr.flush()
    gc.collect()
    gc.freeze()   # children share the template's pages: keep their collector off them

    template_pid = os.getpid()

    def become(spec: dict, fds: list[int]) -> None:
        restored = _restored(spec, fds, template_pid)
        bootstrap.serve(restored, handler, request_filter, max_response)

    _fork_server(chan, become)


def refusal() -> str | None:
    """Why this process must not be a template, or None: threads or shared descriptors (the init
    program at ``_INIT_FD`` is the platform's, for its children)."""
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:
        return f"Init left {threads - 1} thread(s) running"
    extra = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > _CHAN_FD and not (fd == _INIT_FD and _holds_init_program()):
            try:
                extra.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
            except OSError:   # the descriptor listdir used, closed since
                continue
    if extra:
        return f"Init left file descriptors open ({', '.join(extra[:5])})"
    return None


def _run_hooks(hooks: list[tuple[Callable[..., Any], tuple, dict]]) -> None:
    for func, args, kwargs in hooks:
        func(*args, **kwargs)


def _after_restore(chan: socket.socket) -> bool:
    hooks = sys.modules.get("snapshot_restore_py")
    try:
        _run_hooks(getattr(hooks, "get_after_restore", list)())
    except Exception as exc:
        bootstrap.init_error(chan, bootstrap.error_document(exc, ""), op="restore_error")
        return False
    return True


def _fork_server(ctl: socket.socket, become: Callable[[dict, list[int]], None]) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    relays: dict[int, int] = {}
    retiring = False
    while not (retiring and not children):
        try:
            ready, _, _ = select.select([wake_r] if retiring else [ctl.fileno(), wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
            reap(ctl, children, tolerate_closed=True, relays=relays)
        if retiring or ctl.fileno() not in ready:
            continue
        try:
            header, _, fds = protocol.recv(ctl, 0)
        except (EOFError, OSError, protocol.ProtocolError):
            retiring = True
            continue
        if header.get("op") == "spawn":
            own_pids = pid_namespaces and bool(header.get("namespaces"))
            status_r, status_w = os.pipe() if own_pids else (-1, -1)
            try:
                pid = linux.fork(_child_namespaces(header) if own_pids else 0)
            except OSError:
                pid = -1
            if pid == 0:
                os.close(wake_r)
                os.close(wake_w)
                if own_pids:
                    os.close(status_r)
                    header = {**header, "status_fd": status_w}
                become(header, fds)
                return
            if own_pids:
                os.close(status_w)
                if pid > 0:
                    relays[pid] = status_r
                else:
                    os.close(status_r)
            if pid < 0:
                for fd in fds:
                    os.close(fd)
                continue
            children.add(pid)
            try:   # before any exit of this pid: the supervisor forgets an older process's exit under it
                protocol.send(ctl, {"op": "spawned", "pid": pid})
            except OSError:
                pass
        elif header.get("op") == "retire":
            retiring = True
        for fd in fds:
            os.close(fd)
    os._exit(0)


def reap(ctl: socket.socket, children: set[int], tolerate_closed: bool = False,
         relays: dict[int, int] | None = None) -> None:
    """Collect exited children and report each exit status over ``ctl`` (the zygote's and a
    template's loop). ``tolerate_closed``: a supervisor that has gone is not an error. A child
    that was the init of an environment's pid namespace (``relays``: its status pipe) is reported
    with the status of the environment's process, which the init wrote there."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        relay = relays.pop(pid, None) if relays is not None else None
        if relay is not None:
            status = _relayed_status(relay, status)
        try:
            protocol.send(ctl, {"op": "exit", "pid": pid, "status": status})
        except OSError:
            if not tolerate_closed:
                raise


def _become_init(status_fd: int) -> None:
    """Split in two: the child returns to run the function as pid 2; this process stays as its
    pid namespace's init, holding nothing of the environment's, not dumpable, ignoring signals
    (pid 1 gets only those it handles): it execs the init program (tinyinit.py) where it holds
    one at ``_INIT_FD``, else serves as the init itself (``serve_as_init``)."""
    child = os.fork()
    if child == 0:
        os.close(status_fd)
        try:
            os.close(_INIT_FD)
        except OSError:
            pass
        return
    linux.set_dumpable(False)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    os.closerange(0, status_fd)
    os.closerange(status_fd + 1, _INIT_FD)
    os.closerange(_INIT_FD + 1, 1 << 16)
    if child == 2 and status_fd == _STATUS_FD and _holds_init_program():
        try:
            os.execve(_INIT_FD, ["cumulo-init"], {})
        except OSError:
            pass
    try:
        os.close(_INIT_FD)
    except OSError:
        pass
    serve_as_init(child, status_fd)


def _holds_init_program() -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{_INIT_FD}").startswith("/memfd:cumulo-init")
    except OSError:
        return False


def _relayed_status(fd: int, own: int) -> int:
    """The wait status an init wrote to its status pipe, else its own (killed before it could)."""
    try:
        os.set_blocking(fd, False)
        data = os.read(fd, 8)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    return struct.unpack("i", data[:4])[0] if len(data) >= 4 else own


def serve_as_init(child: int, status_fd: int) -> None:
    """Be the init of an environment's pid namespace (the caller has closed everything else):
    reap every process of the namespace until ``child`` (the environment) has ended, write its
    wait status to ``status_fd``, exit. Never returns."""
    status = None
    while status is None:
        try:
            pid, code = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == child:
            status = code
    if status is not None:
        try:
            os.write(status_fd, struct.pack("i", status))
        except OSError:
            pass
    os._exit(0)


def private_proc(read_only_sys: bool = True, at: str = "/proc") -> None:
    """Mount a /proc for this process's pid namespace showing only its own uid's processes
    (``hidepid=invisible``): not the server, the zygote, other functions or the host's. Its kernel
    settings (/proc/sys) read-only, though root's files are not its to write anyway — but not in a
    template's (``read_only_sys=False``): the kernel lets its children, unprivileged, mount a /proc
    for their own pid namespace only where the one they see has nothing mounted over it."""
    linux.mount("proc", at, "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, "hidepid=invisible")
    if not read_only_sys:
        return
    linux.mount(f"{at}/sys", f"{at}/sys", None, linux.MS_BIND | linux.MS_REC)
    linux.mount(None, f"{at}/sys", None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID
                | linux.MS_NODEV | linux.MS_NOEXEC)


def _child_namespaces(spec: dict) -> int:
    """The namespaces a template's child is forked into, all owned by a new user namespace."""
    return (linux.CLONE_NEWUSER | linux.CLONE_NEWNS | linux.CLONE_NEWPID
            | (linux.CLONE_NEWNET if spec.get("no_network") else 0))


TEMPLATE_UID = 1000   # a template's uid inside its user namespace (uid 0 outside); its children are 0 again


def _private_namespaces(spec: dict) -> None:
    """The namespace level: a nested user namespace owning a new mount namespace (and network
    namespace, without network), where this environment attaches its own /tmp (scratch.py). The
    mounts copied from the template's namespace are locked there: the code stays read-only and
    the platform's home hidden. Forked into them with a pid namespace too (``spec["status_fd"]``),
    it mounts a /proc of its own. Then every capability is dropped again."""
    if spec.get("status_fd") is not None:     # already in them: forked so
        linux.write_id_maps(0, TEMPLATE_UID)
    else:
        flags = linux.CLONE_NEWNS | (linux.CLONE_NEWNET if spec.get("no_network") else 0)
        linux.enter_user_namespace(0, TEMPLATE_UID, flags)
    scratch.mount_tmp(spec)   # its own disk (or a tmpfs), EphemeralStorage in size
    if spec.get("status_fd") is not None:
        private_proc()
    linux.drop_capabilities()


def _restored(spec: dict, fds: list[int], template_pid: int) -> socket.socket:
    """Make this fresh fork of the template one environment of its own, then run after-restore hooks."""
    started = time.perf_counter()
    try:
        chan_fd, log_fd, *group_fds = fds
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        status_fd = spec.get("status_fd")
        own_pid = linux.host_pid() if status_fd is not None else os.getpid()   # before a /proc of its own
        os.setsid()
        for fd in group_fds:   # its memory and pids cgroups (opened by the supervisor)
            os.write(fd, b"0")
            os.close(fd)
        landlock.scope()   # nested in the template's: no signal or ptrace to it or its other children
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.dup2(chan_fd, _CHAN_FD)   # replaces the template's control channel
        if status_fd is not None:
            os.dup2(status_fd, _STATUS_FD)
            spec = {**spec, "status_fd": _STATUS_FD}
        if status_fd is not None:   # it will be an init: the init program at _INIT_FD stays
            os.closerange(_STATUS_FD + 1, _INIT_FD)
            os.closerange(_INIT_FD + 1, 1 << 16)
        else:
            os.closerange(_CHAN_FD + 1, 1 << 16)
        tmp = spec["tmp_dir"]
        if spec.get("namespaces"):
            _private_namespaces(spec)
            tmp = "/tmp"
        if seccomp.enabled:
            seccomp.install()   # on top of the template's: no more namespaces or mounts from here
        linux.set_parent_death_signal()   # after the namespaces: a change of credentials clears it
        # The template died before that: so do we. (In a pid namespace of its own the parent is
        # out of sight, pid 0, whoever it is.)
        if os.getppid() != (0 if status_fd is not None else template_pid):
            os._exit(0)
        task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
        os.environ.clear()
        os.environ.update(spec["env"])
        os.environ.update({"LAMBDA_TASK_ROOT": task_root, "TMPDIR": tmp, "HOME": tmp})
        tempfile.tempdir = None
        if status_fd is not None:
            _become_init(_STATUS_FD)   # returns in the child that goes on to be the environment
        random.seed()   # CPython reseeds after fork too; say it here, where it matters
        chan = socket.socket(fileno=_CHAN_FD)
    except BaseException as exc:
        os.write(2, f"Cumulo restore failed: {exc!r}\n".encode())
        os._exit(70)
    bootstrap.reported_pid = own_pid
    protocol.send(chan, {"op": "started", "pid": own_pid})
    if not _after_restore(chan):
        sys.stdout.flush()
        os._exit(0)
    protocol.send(chan, {"op": "ready", "pid": os.getpid(), "restore_ms": (time.perf_counter() - started) * 1000,
                         "maxrss_kb": bootstrap.maxrss_kb()})
    return chan
