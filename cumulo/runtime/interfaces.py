"""The runtime's seam: what an environment is asked to be, and what an invocation ends as.

``EnvironmentSpec`` is everything the zygote needs to build one environment.
An invocation (or an Init that fails) ends as exactly one ``Outcome``; the
invoke layer turns outcomes into AWS results and log lines. Raw payload bytes
stay bytes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import asyncio
from typing import Callable, NamedTuple, Protocol, Union

from cumulo.runtime.sandbox import SandboxLevel, SandboxPolicy

__all__ = [
    "EnvironmentSpec", "ExecutionEnvironment", "LogLine", "Outcome",
    "Succeeded", "FunctionFailed", "InitFailed", "InvalidPayload", "TimedOut", "Crashed", "RestoreFailed",
    "Spawner",
]


class LogLine(NamedTuple):
    timestamp_ms: int
    message: str


class Spawner(Protocol):
    """What forks environments and reports how they ended: the zygote, or a template (SnapStart).

    ``spawn`` sends one environment's wire spec with its channel and log pipe; ``wait_exit`` is
    the raw wait status of a child once reaped (None after ``timeout``); ``has_exited`` asks
    without waiting or consuming the report."""

    @property
    def pid(self) -> int: ...

    def spawn(self, spec: dict, chan_fd: int, log_fd: int, extra_fds: tuple[int, ...] = ()) -> None: ...

    def wait_exit(self, pid: int, timeout: float) -> int | None: ...

    def has_exited(self, pid: int) -> bool: ...


@dataclass(frozen=True)
class EnvironmentSpec:
    """One function version's environment, as the sandbox builds it."""

    function: str
    version: str
    handler: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    env: dict[str, str]          # the complete process environment (AWS's variables + the function's)
    code_dir: Path
    tmp_root: Path | None         # parent of per-environment TMPDIRs at the process level
    sandbox: SandboxPolicy
    max_response: int
    nofile: int
    log_stream: str = ""          # where its logs go (SnapStart environments have no LOG_STREAM variable)
    layers_dir: Path | None = None   # the merged layers, seen as /opt (namespace level) or in place
    runtime: str = "python3.11"
    # None: a forked Python environment. Otherwise a Runtime API environment exec'ing this command
    # (empty: the function's own ``bootstrap``, looked for where AWS looks).
    entrypoint: tuple[str, ...] | None = None
    runtime_dir: Path | None = None    # the runtime's own files (our Node.js bootstrap): /var/runtime in a namespace
    sdk: bool = False                  # forked from the zygote with the runtime's AWS SDK imported and warm
    node_sdk: Path | None = None       # the AWS SDK for JavaScript's node_modules (runtime/node_sdk.py)

    @property
    def stream(self) -> str:
        return self.log_stream or self.env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")

    def layer_python_paths(self) -> list[str]:
        """What layers add to ``sys.path``, after the code and before the platform, as on AWS."""
        if self.sandbox.level is SandboxLevel.NAMESPACE:
            opt = "/opt"
        elif self.layers_dir is not None:
            opt = str(self.layers_dir)
        else:
            return ["/opt/python"]
        version = self.runtime if self.runtime.startswith("python") else "python3"
        return [f"{opt}/python/lib/{version}/site-packages", f"{opt}/python"]

    @property
    def max_frame(self) -> int:
        return self.max_response + (1 << 20)

    def wire(self, tmp_dir: Path | None, cgroup: Path | None, rlimit_as: int | None) -> dict:
        ns = self.sandbox.level is SandboxLevel.NAMESPACE
        return {
            "handler": self.handler,
            "env": self.env,
            "code_dir": str(self.code_dir),
            "tmp_dir": str(tmp_dir) if tmp_dir else "/tmp",
            "ephemeral_mb": self.ephemeral_mb,
            "max_response": self.max_response,
            "nofile": self.nofile,
            "cgroup": str(cgroup) if cgroup else None,
            "rlimit_as": rlimit_as,
            "namespaces": ns,
            "hide": list(self.sandbox.hide) if ns else [],
            "staging": self.sandbox.staging,
            "no_network": self.sandbox.no_network,
            "opt_dir": str(self.layers_dir) if ns and self.layers_dir is not None else None,
            "python_paths": self.layer_python_paths(),
            "entrypoint": None if self.entrypoint is None else list(self.entrypoint),
            "runtime_dir": str(self.runtime_dir) if self.runtime_dir else None,
            "sdk": self.sdk,
            "node_sdk": str(self.node_sdk) if self.node_sdk is not None and ns else None,
        }


@dataclass(frozen=True)
class Succeeded:
    payload: bytes
    lines: list[LogLine]
    duration_ms: float


@dataclass(frozen=True)
class FunctionFailed:
    """The handler raised, or its result could not be returned: ``payload`` is the error document."""

    payload: bytes
    lines: list[LogLine]
    duration_ms: float


@dataclass(frozen=True)
class InitFailed:
    payload: bytes
    lines: list[LogLine]
    duration_ms: float
    max_memory_kb: int = 0      # the process's peak memory during Init, where it could be measured


@dataclass(frozen=True)
class InvalidPayload:
    reason: str
    lines: list[LogLine]
    duration_ms: float


@dataclass(frozen=True)
class TimedOut:
    lines: list[LogLine]
    duration_ms: float


@dataclass(frozen=True)
class Crashed:
    """The process ended: ``reason`` is Go-style ("exit status 1", "signal: killed")."""

    reason: str
    out_of_memory: bool
    lines: list[LogLine]
    duration_ms: float


@dataclass(frozen=True)
class RestoreFailed:
    """A template-forked environment failed before ``ready``: an after-restore hook raised (``payload``
    is its error document), or, with ``timed_out``, the Restore phase passed its 10 s."""

    payload: bytes
    lines: list[LogLine]
    duration_ms: float
    timed_out: bool = False


Outcome = Union[Succeeded, FunctionFailed, InitFailed, InvalidPayload, TimedOut, Crashed, RestoreFailed]


class ExecutionEnvironment(Protocol):
    """What the pool and the invoker use of an environment, whatever runs inside it.

    Implemented by ``environment.Environment`` (a forked Python runtime on a frame channel) and
    ``process_env.ProcessEnvironment`` (any runtime speaking the Runtime API). One invocation at a
    time; ``invoke`` never raises for what user code does: every ending is an ``Outcome``.
    """

    spec: EnvironmentSpec
    pid: int
    dead: bool
    provisioned: bool
    init_ms: float
    init_lines: list[LogLine]
    created: float          # time.monotonic() when it was started
    last_used: float
    invocations: int

    @property
    def zygote(self) -> Spawner:
        """Whoever forked the process and reports its exit: the zygote, or a template (SnapStart)."""
        ...

    @property
    def max_memory_mb(self) -> int: ...

    def invoke(self, header: dict, payload: bytes, deadline: float) -> Outcome: ...

    def invoke_on_loop(self, header: dict, payload: bytes, deadline: float, loop: asyncio.AbstractEventLoop,
                       busy: Callable[[], bool] | None = None) -> "asyncio.Future[Outcome]": ...

    def kill(self) -> None: ...

    def terminate(self) -> None: ...

    def await_exit(self, timeout_s: float) -> None: ...

    def collect_logs(self) -> list[LogLine]: ...
