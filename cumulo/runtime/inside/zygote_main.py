"""The zygote: a lean, single-threaded process that forks environments.

Started once per supervisor with the worker runtime already imported, so a new
environment costs a ``fork()`` plus the function's own Init. It obeys one
request (``spawn``, with the environment's channel and log pipe passed as file
descriptors) and reports two events: ``spawned`` (each child's pid, right after
the fork) and ``exit`` (with the wait status of each child it reaps). It dies with its supervisor, and its children die with it.

Inside the child, ``_become_environment`` builds the sandbox in this order:
session and process group → memory cgroup → stdio onto the log pipe, all other
descriptors closed → private mounts (code read-only at /var/task, the
merged layers read-only at /opt, the platform's home hidden, its own /tmp disk
or a size-capped tmpfs, scratch.py) → rlimits → working directory → capabilities dropped /
unprivileged user → a clean environment → ``bootstrap.run`` (Init, then
invocations), or for a Runtime API environment ``exec_runtime.become_runtime``
(its listening socket, then ``execve`` of the runtime).
"""

from __future__ import annotations

import gc
import importlib.machinery
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from typing import Any

from cumulo.runtime.inside import bootstrap, exec_runtime, landlock, linux, protocol, scratch, seccomp, snapshot, tinyinit

RUNTIME_DIR = "/var/runtime"   # AWS's LAMBDA_RUNTIME_DIR
TASK_ROOT = "/var/task"
OPT_DIR = "/opt"               # where layers are, as on AWS
LANG_BIN = "/var/lang/bin"     # where AWS keeps a runtime's interpreter (node)
_CHAN_FD = snapshot._CHAN_FD
_STATUS_FD = snapshot._STATUS_FD
TEMPLATE_UID = snapshot.TEMPLATE_UID
SANDBOX_UID_BASE = 2_000_000   # + the environment's pid: see sandbox_uid
PIDS_MAX = 1024                # processes and threads per environment, as on Lambda
# What AWS's Python runtimes offer every function beside the standard library (their /var/runtime):
# the AWS SDK and what it needs (``_RuntimePackages``).
RUNTIME_PACKAGES = frozenset(("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"))
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "site")


def main() -> None:
    ctl = socket.socket(fileno=int(sys.argv[1]))
    linux.set_parent_death_signal()
    if os.getppid() == 1:
        os._exit(0)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    platform_paths = [SITE_DIR, *_standard_library(sys.path[1:])]   # sys.path[0]: where cumulo is
    runtime_packages = sys.argv[3] if len(sys.argv) > 3 and os.path.isdir(sys.argv[3]) else None
    global _rootless
    # sys.argv[2], where environments' network lives: "host" only when the process level was asked for
    wanted = len(sys.argv) > 2 and sys.argv[2] != "host"
    _rootless = os.geteuid() != 0 and wanted and _enter_own_user_namespace()
    namespaces = _probe_namespaces()
    seccomp.enabled = seccomp.probe()
    if seccomp.enabled:
        seccomp.prepare()   # built once here, inherited by every fork
    isolated = namespaces and len(sys.argv) > 2 and sys.argv[2] in ("isolated", "none") and _isolate_network()
    pid_namespaces = namespaces and _probe_pid_namespace()
    global _init_program
    _init_program = tinyinit.load() if pid_namespaces else None
    template_namespaces = namespaces and _probe_template_namespaces()
    snapshot.pid_namespaces = template_namespaces and pid_namespaces and _probe_template_pid_namespace()
    protocol.send(ctl, {"op": "hello", "pid": os.getpid(), "namespaces": namespaces, "rootless": _rootless,
                        "seccomp": seccomp.enabled,
                        "network_isolated": isolated, "template_namespaces": template_namespaces,
                        "pid_namespaces": pid_namespaces, "template_pid_namespaces": snapshot.pid_namespaces})
    gc.collect()
    gc.freeze()  # keep shared pages shared in children: the collector won't touch frozen objects
    _Forker(ctl, platform_paths, runtime_packages, pid_namespaces, main=True).run()


class _Forker:
    """A zygote's loop: fork an environment for each ``spawn``, report ``spawned`` and ``exit``.

    The main zygote also answers ``listen`` (the door), and hands ``spawn`` requests marked
    ``sdk`` (``catalog.uses_runtime_sdk``) to the SDK zygote: its own child, started at the first
    such request, which has imported the runtime's AWS SDK and warmed a default session
    (``_warm_sdk``) and then forks those environments the same way, its reports relayed upward.
    A function importing boto3 then pays nothing for it; the others are forked from this lean
    zygote, whose smaller copy forks faster (~0.2 ms against ~0.9 ms with the SDK loaded)."""

    def __init__(self, ctl: socket.socket, platform_paths: list[str], runtime_packages: str | None,
                 pid_namespaces: bool, main: bool) -> None:
        self.ctl, self.main = ctl, main
        self.platform_paths, self.runtime_packages, self.pid_namespaces = platform_paths, runtime_packages, pid_namespaces
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.children: set[int] = set()
        self.relays: dict[int, int] = {}   # child pid -> where its init writes the environment's wait status
        self.sdk: socket.socket | None = None
        self.sdk_pid = 0

    def run(self) -> None:
        while True:
            watched = [self.ctl.fileno(), self.wake_r] + ([self.sdk.fileno()] if self.sdk is not None else [])
            try:
                ready, _, _ = select.select(watched, [], [])
            except InterruptedError:
                continue
            if self.wake_r in ready:
                os.read(self.wake_r, 4096)
                snapshot.reap(self.ctl, self.children, relays=self.relays)
                self._reap_sdk()
            if self.sdk is not None and self.sdk.fileno() in ready:
                self._relay_sdk()
            if self.ctl.fileno() in ready:
                try:
                    header, _, fds = protocol.recv(self.ctl, 0)
                except (EOFError, ConnectionError, protocol.ProtocolError):
                    break
                if header.get("op") == "listen" and self.main:   # the door (Zygote.listen_inside)
                    _listen(self.ctl, int(header["port"]), bool(header.get("udp")))
                elif header.get("op") == "spawn":
                    if not (header.get("sdk") and self.main and self._to_sdk(header, fds)):
                        self.spawn(header, fds)
                for fd in fds:
                    os.close(fd)
        for pid in self.children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    def spawn(self, header: dict, fds: list[int]) -> None:
        # At the namespace level every environment but a template (whose children's pids
        # must be the host's) is pid 1 of a pid namespace of its own: its init (snapshot._become_init).
        own_pids = self.pid_namespaces and bool(header.get("namespaces")) and not header.get("template")
        status_r, status_w = os.pipe() if own_pids else (-1, -1)
        # Rootless, each environment also gets a user namespace of its own (its process
        # limit counts its own processes only; see _become_unprivileged).
        own_user = _rootless and bool(header.get("namespaces"))
        pid = linux.fork((linux.CLONE_NEWPID if own_pids else 0) | (linux.CLONE_NEWUSER if own_user else 0))
        if pid == 0:
            self.ctl.close()
            if self.sdk is not None:
                self.sdk.close()
            os.close(self.wake_r)
            os.close(self.wake_w)
            if own_pids:
                os.close(status_r)
            if own_user:
                linux.write_id_maps(0, 0)   # root of its own namespace, this zygote's root outside
            _become_environment(header, fds, self.platform_paths, self.runtime_packages, status_w)  # never returns
        if own_pids:
            os.close(status_w)
            self.relays[pid] = status_r
        self.children.add(pid)
        # before any exit of this pid: the supervisor forgets an older process's exit under it
        protocol.send(self.ctl, {"op": "spawned", "pid": pid})

    def _to_sdk(self, header: dict, fds: list[int]) -> bool:
        """Hand a spawn to the SDK zygote (started now if need be); False where there is none."""
        if self.sdk is None and self.runtime_packages is not None:
            self._start_sdk()
        if self.sdk is None:
            return False
        try:
            protocol.send(self.sdk, header, b"", fds)
        except OSError:
            self._drop_sdk()
            return False
        return True

    def _start_sdk(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:
                self.ctl.close()
                ours.close()
                os.close(self.wake_r)
                os.close(self.wake_w)
                linux.set_parent_death_signal()
                assert self.runtime_packages is not None
                _warm_sdk(self.runtime_packages)
                gc.collect()
                gc.freeze()
                _Forker(theirs, self.platform_paths, self.runtime_packages, self.pid_namespaces, main=False).run()
            finally:
                os._exit(70)
        theirs.close()
        self.sdk, self.sdk_pid = ours, pid

    def _relay_sdk(self) -> None:
        """The SDK zygote's reports (spawned, exit), passed on as they are."""
        assert self.sdk is not None
        try:
            header, body, fds = protocol.recv(self.sdk, 0)
        except (EOFError, ConnectionError, protocol.ProtocolError):
            self._drop_sdk()
            return
        for fd in fds:
            os.close(fd)
        protocol.send(self.ctl, header, body)

    def _drop_sdk(self) -> None:
        if self.sdk is not None:
            self.sdk.close()
            self.sdk = None

    def _reap_sdk(self) -> None:
        if self.sdk_pid:
            try:
                pid, _ = os.waitpid(self.sdk_pid, os.WNOHANG)
            except ChildProcessError:
                pid = self.sdk_pid
            if pid == self.sdk_pid:    # gone: its environments went with it; the next spawn starts another
                self.sdk_pid = 0
                self._drop_sdk()


# Services whose clients functions make most: their models are loaded once in the SDK zygote.
_WARM_SERVICES = ("sqs", "sns", "s3", "dynamodb", "events", "stepfunctions", "lambda", "sts", "kinesis",
                  "secretsmanager", "ssm")


_GATEWAY_SEND = "before-send.apigatewaymanagementapi"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _loopback_gateway(request: Any, **_: Any) -> None:
    """WebSocket APIs' ``@connections`` from a function: apps build the endpoint as
    ``https://{requestContext.domainName}/{stage}``; here ``domainName`` is the gateway's loopback
    address (reached through the functions' door, docs/gateway.md), which speaks plain HTTP. An
    ``https://`` URL to a loopback address can only mean that gateway (no AWS endpoint is there), so
    it is sent as ``http://``; the signature does not cover the scheme."""
    url = request.url
    if url.startswith("https://"):
        host = url[8:].split("/", 1)[0]
        if host.rsplit(":", 1)[0] in _LOOPBACK:
            request.url = "http://" + url[8:]


class _AfterExec:
    """``botocore.handlers``' loader, then ``_loopback_gateway`` among its built-in handlers."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> Any:     # get_source, get_code, is_package … as the loader has them
        return getattr(self.loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)    # type: ignore[no-any-return]

    def exec_module(self, module: types.ModuleType) -> None:
        self.loader.exec_module(module)
        handlers = getattr(module, "BUILTIN_HANDLERS", None)
        if isinstance(handlers, list):
            handlers.append((_GATEWAY_SEND, _loopback_gateway))


class _GatewayOverHttp:
    """First on ``sys.meta_path``: whichever botocore a function imports (the runtime's, preloaded or
    not, or its own), every session it makes sends ``https://`` management calls to a loopback address
    as plain HTTP (``_loopback_gateway``)."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != "botocore.handlers" or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _AfterExec(spec.loader)   # type: ignore[assignment]
        return spec

    def invalidate_caches(self) -> None:
        pass


def _warm_sdk(folder: str) -> None:
    """Import the runtime's AWS SDK from ``folder`` and warm boto3's default session: the service
    models, endpoint rules and client classes of the most used services, loaded once here instead
    of in every function's Init (~50 ms for a first client). Nothing of the machine's own AWS
    configuration or credentials is read: no config or credentials file, explicit keys for the
    clients made here, which are dropped. A function's ``boto3.client(...)`` then takes its
    region, endpoint (AWS_ENDPOINT_URL) and credentials from its own environment, as it would."""
    saved = dict(os.environ)
    os.environ.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                       "AWS_EC2_METADATA_DISABLED": "true"})
    sys.path.insert(0, folder)
    try:
        sys.meta_path.insert(0, _GatewayOverHttp())
        import boto3

        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        for name in _WARM_SERVICES:
            try:
                session.client(name, region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                               aws_access_key_id="warm", aws_secret_access_key="warm")
            except Exception:   # a service this SDK version lacks: skip it
                continue
        # The credential provider chain, built once here (~3 ms and two SSL contexts in each
        # function's first client otherwise): its environment provider reads the function's
        # variables when the client asks; no instance metadata provider (Lambda has none).
        session._session.get_component("credential_provider")
    except Exception as exc:    # an SDK that does not import: environments import it themselves
        os.write(2, f"Cumulo: the runtime's AWS SDK could not be preloaded: {exc!r}\n".encode())
    finally:
        sys.path.remove(folder)
        os.environ.clear()
        os.environ.update(saved)


class _RuntimePackages:
    """The AWS SDK as AWS's Python runtime offers it: the RUNTIME_PACKAGES (boto3 and what it
    needs) are importable from the folder of the interpreter's packages, and nothing else there
    is. Last on ``sys.meta_path``: the function's code and layers are searched first."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if path is not None or name not in RUNTIME_PACKAGES:
            return None   # submodules are found through their package's own __path__
        return importlib.machinery.PathFinder.find_spec(name, [self.folder])

    def invalidate_caches(self) -> None:
        pass


# What a function's environment may set that changes where boto3's default session reads its
# configuration and credentials from. The preloaded session was built with none of them (and with no
# configuration file), so a function that sets one gets a new session, which reads them as on AWS.
_SDK_SETTINGS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CREDENTIAL_EXPIRATION",
                 "AWS_METADATA_SERVICE_TIMEOUT", "AWS_METADATA_SERVICE_NUM_ATTEMPTS")


def _own_sdk_settings() -> None:
    boto3 = sys.modules.get("boto3")
    if boto3 is not None and any(name in os.environ for name in _SDK_SETTINGS):
        setattr(boto3, "DEFAULT_SESSION", None)   # the next boto3.client() makes a session of the function's own


def _forget_bundled(folders: list[str]) -> None:
    """Drop the preloaded runtime packages (the SDK zygote's) that the function's code or layers
    bring a copy of: its ``import urllib3`` finds its own, as on AWS, where /var/task comes first."""
    for name in RUNTIME_PACKAGES:
        if any(os.path.isdir(os.path.join(f, name)) or os.path.isfile(os.path.join(f, name + ".py")) for f in folders):
            for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[module]


def _relocate_preloaded(old: str, new: str) -> None:
    """The preloaded SDK's paths after its folder was bound at ``new`` (a platform installed under
    /tmp or /opt, whose own folders an environment's /tmp and /opt cover): the modules' files and
    package paths, the path constants botocore computed at import (its data folder, its CA bundle)
    and the default session's data search paths. Without this, every service model not preloaded
    (``boto3.client("codedeploy")``) was not found."""
    def moved(value: object) -> object:
        if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
            return new + value[len(old):]
        return value

    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in RUNTIME_PACKAGES:
            continue
        names = vars(module)
        for key, value in list(names.items()):
            if isinstance(value, str):
                names[key] = moved(value)
            elif isinstance(value, list) and key == "__path__":
                value[:] = [moved(p) for p in value]
            elif isinstance(value, type) and value.__module__ == name:
                for attr, held in list(vars(value).items()):
                    if isinstance(held, str) and moved(held) != held:
                        setattr(value, attr, moved(held))
        spec = getattr(module, "__spec__", None)
        if spec is not None and isinstance(spec.origin, str):
            spec.origin = str(moved(spec.origin))
        if spec is not None and isinstance(spec.submodule_search_locations, list):
            spec.submodule_search_locations[:] = [str(moved(p)) for p in spec.submodule_search_locations]
    boto3 = sys.modules.get("boto3")
    session = getattr(boto3, "DEFAULT_SESSION", None) if boto3 is not None else None
    if session is not None:
        loader = session._session.get_component("data_loader")
        loader.search_paths[:] = [str(moved(p)) for p in loader.search_paths]
    importlib.invalidate_caches()


def _standard_library(paths: list[str]) -> list[str]:
    """What a function may import besides its code, its layers and SITE_DIR: the interpreter's own
    library. The zygote runs without ``site`` (``-S``), so no site-packages folder or ``.pth``
    hook of the platform's environment is there to leak; any that is there anyway is left out."""
    return [p for p in paths if p and os.path.isabs(p) and not p.endswith(("site-packages", "dist-packages"))]


_rootless = False   # this zygote runs in a user namespace of its own, made by an ordinary user
_init_program: int | None = None   # the init program's sealed memfd (tinyinit.load), where there is one


def _enter_own_user_namespace() -> bool:
    """Rootless: become root of a user namespace of this zygote's own (mapped to the server's
    uid), so that environments can get mount, pid and network namespaces as they do under root —
    everything but an unprivileged uid of their own (the kernel maps only this one)."""
    try:
        linux.enter_user_namespace(0, os.geteuid(), outside_gid=os.getegid())
    except OSError:
        return False
    return True


def _listen(ctl: socket.socket, port: int, udp: bool = False) -> None:
    """A listening socket on 127.0.0.1:``port`` in this zygote's network namespace, sent back (or
    why not): the door from functions to the platform; ``udp``: a datagram socket bound there
    (the X-Ray daemon's port)."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        if not udp:
            sock.listen(1024)
    except OSError as exc:
        protocol.send(ctl, {"op": "listening", "error": str(exc)})
        return
    try:
        protocol.send(ctl, {"op": "listening"}, b"", [sock.fileno()])
    finally:
        sock.close()


def _isolate_network() -> bool:
    """Move the zygote, and so every environment it will fork, into a network namespace of its
    own: the host's loopback services (the control plane, the gateway, other stores, anything on
    127.0.0.1) are not there. Only loopback is up; the supervisor may add outbound access."""
    try:
        linux.unshare(linux.CLONE_NEWNET)
        linux.loopback_up()
    except OSError:
        return False
    return True


def _probe_namespaces() -> bool:
    """Whether a child can get a private mount namespace (root, no seccomp ban)."""
    if os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            linux.mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m")
        except OSError:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _probe_pid_namespace() -> bool:
    """Whether a child can be pid 1 of a pid namespace of its own, with its own /proc."""
    try:
        pid = linux.fork(linux.CLONE_NEWPID)
    except OSError:
        return False
    if pid == 0:
        try:
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
            os._exit(0 if os.getpid() == 1 and os.listdir("/proc/1") else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _probe_template_pid_namespace() -> bool:
    """Whether a template's children can each be pid 1 of a pid namespace of their own: made by
    an unprivileged process together with a user namespace, with a /proc of its own (which the
    kernel allows only where the template's /proc is not partly covered)."""
    pid = os.fork()
    if pid == 0:
        try:
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            _template_proc("/proc")
            _become_unprivileged(os.getpid(), template=True)
            child = linux.fork(linux.CLONE_NEWUSER | linux.CLONE_NEWNS | linux.CLONE_NEWPID)
            if child == 0:
                try:
                    linux.write_id_maps(0, TEMPLATE_UID)
                    snapshot.private_proc()
                    linux.drop_capabilities()
                    os._exit(0 if os.getpid() == 1 and os.listdir("/proc/1") else 1)
                except BaseException:
                    os._exit(1)
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status))
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _probe_template_namespaces() -> bool:
    """Whether a template at the namespace level can give each environment forked from it a
    private /tmp: the template in a user namespace of its own, each child in a nested one."""
    pid = os.fork()
    if pid == 0:
        try:
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            _become_unprivileged(os.getpid(), template=True)
            child = os.fork()
            if child == 0:
                try:
                    linux.enter_user_namespace(0, TEMPLATE_UID, linux.CLONE_NEWNS)
                    linux.mount("tmpfs", "/tmp", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=1m")
                    linux.drop_capabilities()
                except OSError:
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status))
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _become_environment(spec: dict, fds: list[int], platform_paths: list[str], runtime_packages: str | None,
                        status_fd: int = -1) -> None:
    """The zygote's child. With ``status_fd`` it is pid 1 of a pid namespace of its own: it builds
    the sandbox, then stays as the namespace's init (snapshot._become_init) while its child runs the function."""
    init_started = time.perf_counter()
    try:
        chan_fd, log_fd, *group_fds = fds
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        host_pid = linux.host_pid() if status_fd >= 0 else os.getpid()   # before a /proc of its own
        os.setsid()
        linux.set_parent_death_signal()
        for fd in group_fds:   # its memory and pids cgroups (opened by the supervisor)
            os.write(fd, b"0")
            os.close(fd)
        landlock.scope()   # a domain of its own: no signal or ptrace to the zygote or other environments
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.dup2(chan_fd, _CHAN_FD)
        if status_fd >= 0:
            os.dup2(status_fd, _STATUS_FD)
            status_fd = _STATUS_FD
        first = max(_CHAN_FD, status_fd) + 1
        if _init_program is not None and (status_fd >= 0 or spec.get("template")):
            os.dup2(_init_program, snapshot._INIT_FD)   # for its own init, or a template's children's
            os.closerange(first, snapshot._INIT_FD)
            os.closerange(snapshot._INIT_FD + 1, 1 << 16)
        else:
            os.closerange(first, 1 << 16)
        shown = platform_paths + ([runtime_packages] if runtime_packages else [])
        task_root, tmp, moved_paths, runtime_dir = _isolate_filesystem(spec, shown)
        relocated = dict(zip(shown, moved_paths))
        platform_paths = moved_paths[:len(platform_paths)]
        runtime_packages = moved_paths[-1] if runtime_packages else None
        _set_rlimits(spec)
        os.chdir(task_root)
        if spec.get("namespaces"):
            _become_unprivileged(host_pid, bool(spec.get("template")))
            linux.set_parent_death_signal()   # the change of uid cleared it
        else:
            linux.set_no_new_privs()
        if seccomp.enabled:
            seccomp.install(template=bool(spec.get("template")))
        os.environ.clear()
        os.environ.update(spec["env"])
        os.environ.update({"LAMBDA_TASK_ROOT": task_root, "TMPDIR": tmp, "HOME": tmp})
        sys.path[:] = [task_root, *spec.get("python_paths", ["/opt/python"]), *platform_paths]
        if runtime_packages:
            sys.meta_path.append(_RuntimePackages(runtime_packages))
        sys.meta_path.insert(0, _GatewayOverHttp())
        if spec.get("sdk"):   # forked from the SDK zygote: what the function brings itself wins
            _forget_bundled(sys.path[:-len(platform_paths) or None])
            if runtime_packages and shown[-1] != runtime_packages:
                _relocate_preloaded(shown[-1], runtime_packages)
            _own_sdk_settings()
        for name in [m for m in sys.modules if m == "cumulo" or m.startswith("cumulo.")]:
            del sys.modules[name]   # the runtime keeps its references; a function cannot import it
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        tempfile.tempdir = None   # recomputed from TMPDIR on first use
        bootstrap.reported_pid = host_pid
        if status_fd >= 0:
            snapshot._become_init(status_fd)   # returns in the child that goes on to be the environment
        chan = socket.socket(fileno=_CHAN_FD)
    except BaseException as exc:  # the sandbox could not be built: say so on the log and die
        os.write(2, f"Cumulo sandbox setup failed: {exc!r}\n".encode())
        os._exit(70)
    if spec.get("entrypoint") is not None:
        exec_runtime.become_runtime(chan, spec, task_root, relocated, runtime_dir)  # never returns
    # The zygote's objects stay frozen: a collection would touch (and so copy) every page of them.
    code = 0
    try:
        if spec.get("template"):
            snapshot.run_template(chan, spec["handler"], spec["max_response"], init_started, spec.get("fallback_env"))
        else:
            bootstrap.run(chan, spec["handler"], spec["max_response"], init_started)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def sandbox_uid(pid: int) -> int:
    """The host uid (and gid) an environment runs as at the namespace level: one of its own,
    derived from its pid (unique among live processes), owned by no account and by no file."""
    return SANDBOX_UID_BASE + pid


def _become_unprivileged(host_pid: int, template: bool) -> None:
    """From root to the environment's own unprivileged uid, with no capability left (not even
    in the bounding set) and ``no_new_privs``, in a user namespace of its own that maps only that
    uid. A template is TEMPLATE_UID there, so its children can each make a nested one with
    mounts of their own (snapshot.py); outside, all of them are still this uid."""
    linux.set_no_new_privs()
    linux.drop_bounding_set()
    # counted per uid and user namespace: per environment (rootless, each has a user namespace of its own)
    resource.setrlimit(resource.RLIMIT_NPROC, (PIDS_MAX, PIDS_MAX))
    if _rootless:   # no other uid to become: root of its own user namespace, without a capability
        if template:
            linux.enter_user_namespace(TEMPLATE_UID, 0)
        linux.drop_capabilities()
        return
    uid = sandbox_uid(host_pid)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)       # clears the permitted and effective capabilities
    linux.set_dumpable()              # a change of uid cleared it: /proc/self would be root's
    # A user namespace of its own, mapping only that uid (root there, as a template's children
    # are, with no capability left): every other uid, the host's root included, is nobody to it.
    linux.enter_user_namespace(TEMPLATE_UID if template else 0, uid)
    linux.drop_capabilities()


def _isolate_filesystem(spec: dict, platform_paths: list[str]) -> tuple[str, str, list[str], str | None]:
    """Mounts for the namespace level; the task root, /tmp, where the platform's paths are now, and
    where the runtime's own folder is (``spec["runtime_dir"]``, at /var/runtime when it can be).

    The environment's root is a tree of its own (``_minimal_root``), as a container's: the host's
    system folders, the interpreter and the runtime read-only at their paths, its code at
    /var/task, its layers at /opt, its own /tmp, /dev and /proc — and nothing else of the host
    (no home folders, no stores, no /sys, no /run)."""
    if not spec.get("namespaces"):
        return spec["code_dir"], spec["tmp_dir"], platform_paths, spec.get("runtime_dir")
    flags = linux.CLONE_NEWNS | (linux.CLONE_NEWNET if spec.get("no_network") else 0)
    linux.unshare(flags)
    if spec.get("no_network") and spec.get("entrypoint") is not None:
        linux.loopback_up()   # the Runtime API socket lives in this namespace: its loopback must work
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    return _minimal_root(spec, platform_paths)


# What every environment sees of the host's own tree, read-only at the same path: the system's
# programs, libraries and configuration (links such as /bin -> usr/bin are made again as links).
_SYSTEM = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


def _under(path: str, tops: Sequence[str]) -> bool:
    return any(path == top or path.startswith(top.rstrip("/") + "/") for top in tops)


def _minimal_root(spec: dict, platform_paths: list[str]) -> tuple[str, str, list[str], str | None]:
    """Put the environment's root together on a tmpfs, then ``pivot_root`` into it.

    The platform's own packages (a virtualenv under /tmp or /opt, say) must stay importable once
    its own /tmp (and the layers at /opt) are there, without showing up there: they are bound
    read-only under /var/runtime, where AWS keeps its runtime. So is an exec'd runtime's own
    folder, unless a platform path holds it (a checkout under /tmp). Every other folder the
    environment needs (the interpreter, the SDK's packages, the runtime's folder, a Node.js
    binary's) is bound read-only at its own path, with nothing else of its parents: a pyenv
    interpreter under /root shows /root holding only that."""
    root = spec["staging"]   # an empty folder in the platform's home (SandboxPolicy.staging)
    linux.mount("tmpfs", root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=1m,mode=0755")
    bound: list[str] = []
    for name in _SYSTEM:
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            os.mkdir(root + host)
            _bind_read_only(host, root + host)
            bound.append(host)
    for folder in ("var/task", "var/runtime", "opt", "tmp", "dev", "proc"):
        os.makedirs(f"{root}/{folder}", exist_ok=True)
    runtime_own = spec.get("runtime_dir")
    candidates = platform_paths + ([runtime_own] if runtime_own and not _under(runtime_own, platform_paths) else [])
    held = [p for p in candidates if _under(p, ("/tmp", OPT_DIR)) and os.path.isdir(p)]
    entry = (spec.get("entrypoint") or [None])[0]
    entry = entry if entry and os.path.isabs(entry) else None
    if entry and _under(os.path.realpath(entry), ("/tmp", OPT_DIR)):
        # A Node.js binary under the host's /tmp (or /opt) would be hidden by the environment's own:
        # its folder is shown at /var/lang/bin, where AWS keeps it, and run from there.
        real = os.path.realpath(entry)
        os.makedirs(root + LANG_BIN)
        _bind_read_only(os.path.dirname(real), root + LANG_BIN)
        spec["entrypoint"][0] = f"{LANG_BIN}/{os.path.basename(real)}"
        entry = None
    wanted = [sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)), *platform_paths,
              *([runtime_own] if runtime_own and not held else []),
              *([os.path.dirname(os.path.realpath(entry))] if entry else [])]
    for path in sorted({os.path.realpath(p) for p in wanted if p and os.path.isdir(p)}):
        if _under(path, ("/tmp", OPT_DIR, *bound)):
            continue
        os.makedirs(root + path, exist_ok=True)
        _bind_read_only(path, root + path)
        bound.append(path)
    _resolver(root)
    _bind_read_only(spec["code_dir"], root + TASK_ROOT)
    # layers: the merged tree read-only at /opt; without layers an empty /opt, as on AWS
    if spec.get("opt_dir"):
        linux.mount(spec["opt_dir"], root + OPT_DIR, None, linux.MS_BIND | linux.MS_REC)
    else:
        linux.mount("tmpfs", root + OPT_DIR, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=1m,mode=0755")
    linux.mount(None, root + OPT_DIR, None,
                linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)
    moved: dict[str, str] = {}
    for i, path in enumerate(held):
        target = moved[path] = f"{RUNTIME_DIR}/platform{i}"
        os.mkdir(root + target)
        _bind_read_only(path, root + target)
    runtime_dir = runtime_own
    sdk = spec.get("node_sdk")
    sdk = sdk if sdk and os.path.isdir(sdk) else None
    if runtime_dir and held:
        # The runtime's folder sits in a platform path that moved (a checkout under /tmp): follow it,
        # then show its entries at /var/runtime itself, beside the platformN folders, as AWS has it.
        runtime_dir = exec_runtime.relocate(runtime_dir, moved)
        if os.path.isdir(root + runtime_dir):
            _show_entries(root + runtime_dir, root + RUNTIME_DIR)
            runtime_dir = RUNTIME_DIR
    elif runtime_dir and os.path.isdir(runtime_dir):
        if sdk:   # its entries one by one: /var/runtime/node_modules is the SDK's, as on AWS
            _show_entries(runtime_dir, root + RUNTIME_DIR)
        else:
            _bind_read_only(runtime_dir, root + RUNTIME_DIR)
        runtime_dir = RUNTIME_DIR
    if sdk:   # the AWS SDK for JavaScript (node_sdk.py): on NODE_PATH, and where ES modules' imports end
        for target in (RUNTIME_DIR + "/node_modules", "/node_modules"):
            os.makedirs(root + target, exist_ok=True)
            _bind_read_only(sdk, root + target)
    scratch.mount_tmp(spec, root + "/tmp")   # its own disk (or a tmpfs), EphemeralStorage in size
    if spec.get("template"):
        _template_proc(root + "/proc")
    else:
        snapshot.private_proc(at=root + "/proc")
    _private_dev(root + "/dev")
    interpreter = os.path.realpath(sys.executable)
    linux.pivot_root(root)
    # The interpreter at its own path (a virtualenv's bin/python is a link to it, and the
    # virtualenv is the platform's, not in this tree): what a subprocess of sys.executable runs.
    sys.executable = interpreter
    for hidden in spec.get("hide", []):   # the platform's home, where it lies inside a folder shown
        if _under(hidden, bound) and not _under(hidden, ("/tmp", OPT_DIR)) and os.path.isdir(hidden):
            linux.mount("tmpfs", hidden, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=1m,mode=0755")
    _read_only_host()
    if moved:
        _repoint_packages(moved)
    return TASK_ROOT, "/tmp", [moved.get(p, p) for p in platform_paths], runtime_dir


def _template_proc(at: str) -> None:
    """A template's /proc, for the host's pid namespace, where its children (each in a pid
    namespace of its own) find their host pid and which lets them, unprivileged, mount a /proc of
    their own (the kernel wants one in full view). As root, a fresh mount showing only the
    template's own uid's processes; rootless, the kernel gives no /proc of the host's pid
    namespace but a bind of the host's: the template sees the host's process list as any local
    user does (``ps``), and its Landlock domain keeps what ptrace's rules guard (environ, mem,
    fds) out of its reach."""
    if _rootless:
        linux.mount("/proc", at, None, linux.MS_BIND | linux.MS_REC)
    else:
        snapshot.private_proc(read_only_sys=False, at=at)


def _show_entries(source_dir: str, target_dir: str) -> None:
    """Each entry of ``source_dir`` bound read-only at the same name in ``target_dir``."""
    for name in os.listdir(source_dir):
        source, target = os.path.join(source_dir, name), os.path.join(target_dir, name)
        if os.path.isdir(source):
            os.mkdir(target)
        else:
            open(target, "w").close()
        _bind_read_only(source, target)


def _resolver(root: str) -> None:
    """Where /etc/resolv.conf is a link out of the folders shown (systemd-resolved's under /run),
    the file it names, read-only at its path."""
    try:
        target = os.path.realpath("/etc/resolv.conf")
    except OSError:
        return
    if not os.path.isfile(target) or _under(target, ["/" + name for name in _SYSTEM]):
        return
    os.makedirs(root + os.path.dirname(target), exist_ok=True)
    open(root + target, "w").close()
    _bind_read_only(target, root + target)


# Mounts an environment may still write to: its own /tmp, its own /dev (null, shm for semaphores)
# and /proc (/proc/self). Everything else is read-only, its root too.
_WRITABLE = ("/tmp", "/dev", "/proc")
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _private_dev(at: str) -> None:
    """A /dev of its own, as a container's: the usual character devices (bound from the host's),
    the usual links, and a private /dev/shm. Not the host's disks, /dev/kmsg, /dev/mem or shared
    memory."""
    linux.mount("tmpfs", at, "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "size=64k,mode=0755")
    for name in _DEVICES:
        if os.path.exists(f"/dev/{name}"):
            target = f"{at}/{name}"
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o666))
            linux.mount(f"/dev/{name}", target, None, linux.MS_BIND)
    for link, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2")):
        os.symlink(to, f"{at}/{link}")
    os.mkdir(f"{at}/shm")
    linux.mount("tmpfs", f"{at}/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, "size=64m,mode=1777")
    linux.mount(None, at, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NOEXEC)


def _read_only_host() -> None:
    """Every mount of the new root read-only but /tmp, /dev/shm and /proc: the system folders'
    own submounts (a container's /etc/hosts, say) come along writable with a recursive bind,
    and an environment running as uid 0 without capabilities could otherwise still write
    root-owned files there, since writing what you own needs no capability."""
    with open("/proc/self/mountinfo") as table:
        points = [line.split()[4] for line in table]
    for point in points:
        point = point.encode().decode("unicode_escape")      # mountinfo escapes spaces as \040
        if _under(point, _WRITABLE):
            continue
        try:
            linux.mount(None, point, None,
                        linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)
        except OSError:
            try:      # some mounts refuse nosuid/nodev changes (locked flags): read-only is what matters
                linux.mount(None, point, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)
            except OSError:
                pass


def _bind_read_only(source: str, target: str) -> None:
    """Bind ``source`` at ``target`` (recursively), then make that mount read-only, nosuid, nodev."""
    linux.mount(source, target, None, linux.MS_BIND | linux.MS_REC)
    linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)


def _repoint_packages(moved: dict[str, str]) -> None:
    """Packages imported before the move find their submodules at the new place."""
    def repoint(path: str) -> str:
        return exec_runtime.relocate(path, moved)

    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [repoint(p) for p in search]


def _set_rlimits(spec: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (spec["nofile"], spec["nofile"]))
    if spec.get("rlimit_as"):
        resource.setrlimit(resource.RLIMIT_AS, (spec["rlimit_as"], spec["rlimit_as"]))
    if not spec.get("namespaces"):  # no tmpfs to cap /tmp: cap each file written at least
        size = spec["ephemeral_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


if __name__ == "__main__":
    main()
