"""Inside a forked environment: become a Runtime API runtime (Node.js, a custom ``bootstrap``).

Runs in the zygote's child after the sandbox is built (mounts, cgroup, rlimits, user),
so an exec'd runtime gets exactly the isolation a Python environment gets. The child
opens the environment's Runtime API socket itself — inside its own network namespace when
it has one — and passes the listening socket to the supervisor, which serves it; then it
``execve``s the runtime with ``AWS_LAMBDA_RUNTIME_API`` pointing there. The channel is
closed by the exec: from then on the supervisor learns of an exit from the zygote.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from typing import NoReturn

from cumulo.runtime.inside import bootstrap, protocol

__all__ = ["become_runtime", "bootstrap_candidates"]


def bootstrap_candidates(task_root: str) -> list[str]:
    """Where AWS looks for a custom runtime's ``bootstrap``, in order."""
    return [os.path.join(task_root, "bootstrap"), "/opt/bootstrap"]


def become_runtime(chan: socket.socket, spec: dict, task_root: str, relocated: dict[str, str],
                   runtime_dir: str | None) -> NoReturn:
    if runtime_dir and spec.get("runtime_dir"):   # where the sandbox put the runtime's folder (/var/runtime)
        relocated = {spec["runtime_dir"]: runtime_dir, **relocated}
        os.environ["LAMBDA_RUNTIME_DIR"] = runtime_dir
    argv = [relocate(a, relocated) for a in spec["entrypoint"]]
    if not argv:
        candidates = bootstrap_candidates(task_root)
        found = next((c for c in candidates if os.path.isfile(c)), None)
        if found is None:
            _init_error(chan, "Runtime.InvalidEntrypoint",
                        f"Couldn't find valid bootstrap(s): [{' '.join(candidates)}]")
        argv = [found]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    os.environ["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:%d" % listener.getsockname()[1]
    protocol.send(chan, {"op": "started", "pid": bootstrap.reported_pid or os.getpid()}, b"", [listener.fileno()])
    listener.close()
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):   # Python ignores these; a runtime must not inherit that
        signal.signal(sig, signal.SIG_DFL)
    os.set_inheritable(chan.fileno(), False)
    try:
        os.execve(argv[0], argv, dict(os.environ))
    except OSError as exc:
        _init_error(chan, "Runtime.InvalidEntrypoint",
                    f"fork/exec {argv[0]}: {(exc.strerror or str(exc)).lower()}")


def relocate(arg: str, relocated: dict[str, str]) -> str:
    """A platform path (our Node.js bootstrap, a package folder) where the namespace moved it."""
    for old, new in relocated.items():
        if old != new and (arg == old or arg.startswith(old + "/")):
            return new + arg[len(old):]
    return arg


def _init_error(chan: socket.socket, error_type: str, message: str) -> NoReturn:
    os.write(1, f"{message}\n".encode())
    doc = {"errorType": error_type, "errorMessage": message}
    try:
        protocol.send(chan, {"op": "init_error"}, json.dumps(doc).encode())
    finally:
        os._exit(1)
