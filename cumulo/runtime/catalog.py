"""The runtimes Cumulo runs and how each one starts.

Python runtimes are forked from the zygote (``Environment``); every other runtime is a
process speaking the Runtime API (``ProcessEnvironment``): ``nodejsNN.x`` runs our Node.js
bootstrap (``node/bootstrap.js``) on the machine's ``node`` when its major version is NN, else on
Node.js NN from Cumulo's cache (``provide`` installs it there once: node_versions.py),
``provided``/``provided.al2``/``provided.al2023`` run the function's own ``bootstrap``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cumulo.runtime import node_versions

__all__ = ["Runtime", "runtime_of", "unavailable", "provide", "node_for", "runtime_version_arn", "NODE_BOOTSTRAP", "node_version",
           "host_architecture", "interpreter_note", "runtime_packages_dir", "uses_runtime_sdk"]

NODE_BOOTSTRAP = Path(__file__).resolve().parent / "inside" / "node" / "bootstrap.js"
PROVIDED = frozenset({"provided", "provided.al2", "provided.al2023"})
_AWS_RUNTIME_DIR = "/var/runtime"
log = logging.getLogger("cumulo.runtime")


@dataclass(frozen=True)
class Runtime:
    name: str
    entrypoint: tuple[str, ...] | None     # None: forked Python; (): the function's own bootstrap
    execution_env: str | None              # AWS_EXECUTION_ENV (none for custom runtimes)
    environment: dict[str, str] = field(default_factory=dict)
    version: str = ""                      # what actually runs it, for RuntimeVersionConfig
    runtime_dir: Path | None = None        # shown at /var/runtime at the namespace level


def runtime_packages_dir() -> str | None:
    """Where this interpreter has boto3 installed (the folder that holds what AWS's Python runtime
    offers functions, ``zygote_main.RUNTIME_PACKAGES``), found without importing it; None where
    it is missing."""
    import importlib.util

    spec = importlib.util.find_spec("boto3")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))


def interpreter_note(runtime: str) -> str | None:
    """Why a Python runtime does not run on its own version here, or None when it does. Python
    environments are forked from the interpreter Cumulo itself runs on."""
    if not runtime.startswith("python"):
        return None
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = runtime.removeprefix("python")
    if wanted == host:
        return None
    return (f"Runtime {runtime} runs on this host's Python {host} (Cumulo forks Python functions from the "
            f"interpreter it runs on; run Cumulo on Python {wanted} to get that version)")


@functools.cache
def host_architecture() -> str:
    """The machine's architecture in Lambda's words (``x86_64``, ``arm64``): what every function
    runs on here, whatever its ``Architectures`` asks."""
    import platform

    machine = platform.machine().lower()
    return {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


@functools.cache
def node_version() -> tuple[str, str] | None:
    """(path of ``node``, its version like ``v20.20.2``), or None where Node.js is missing."""
    node = shutil.which("node", path=os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    if node is None:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return os.path.realpath(node), out.stdout.strip()


def _node_major(name: str) -> int | None:
    if name.startswith("nodejs") and name.endswith(".x") and name[6:-2].isdigit():
        return int(name[6:-2])
    return None


def node_for(major: int) -> tuple[str, str] | None:
    """(path of a ``node`` of this major, its version): the machine's own, else the cache's."""
    found = node_version()
    if found is not None and found[1].startswith(f"v{major}."):
        return found
    return node_versions.binary(major)


def unavailable(name: str) -> str | None:
    """Why runtime ``name`` cannot run on this machine now, or None when it can (``provide`` installs
    a missing Node.js major)."""
    major = _node_major(name)
    if major is None or node_for(major) is not None:
        return None
    found = node_version()
    has = f"this machine has Node.js {found[1]}" if found is not None else "no 'node' is installed here"
    return f"the runtime {name} needs Node.js {major}; {has}, and Cumulo's cache has no Node.js {major}"


def provide(name: str) -> str | None:
    """As ``unavailable``, once a missing Node.js major was installed into Cumulo's cache from the npm
    registry (once per user; this waits for it, and says so on the server's log)."""
    why = unavailable(name)
    major = _node_major(name)
    if why is None or major is None:
        return why
    log.warning("runtime %s: installing Node.js %d into %s from the npm registry (once)",
                name, major, node_versions.cache.root() / "node")
    found, failed = node_versions.install(major, host_architecture())
    if found is None:
        log.warning("runtime %s: Node.js %d could not be installed: %s", name, major, failed)
        return f"{why} (installing it from the npm registry failed: {failed})"
    log.warning("runtime %s: Node.js %s installed at %s", name, found[1], found[0])
    return None


def runtime_of(name: str) -> Runtime:
    if name in PROVIDED:
        return Runtime(name, (), None, {"LAMBDA_RUNTIME_DIR": _AWS_RUNTIME_DIR}, "provided")
    major = _node_major(name)
    if major is not None:
        found = node_for(major)
        node, version = found if found is not None else ("node", "unknown")
        # NODE_PATH depends on where /opt and the code are: the invoker sets it (cumulo.invoke.invoker).
        return Runtime(name, (node, str(NODE_BOOTSTRAP)), f"AWS_Lambda_{name}",
                       {"LAMBDA_RUNTIME_DIR": str(NODE_BOOTSTRAP.parent)}, f"node {version}", NODE_BOOTSTRAP.parent)
    return Runtime(name, None, f"AWS_Lambda_{name}", {}, f"python {sys.version.split()[0]}")


def runtime_version_arn(region: str, name: str) -> str:
    """A stable ARN naming the runtime build, in AWS's shape (``arn:aws:lambda:<region>::runtime:<hash>``)."""
    digest = hashlib.sha256(f"{name}|{runtime_of(name).version}".encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


_SDK_IMPORT = re.compile(rb"^[ \t]*(?:import|from)[ \t]+(?:boto3|botocore)\b", re.M)
_SDK_PACKAGES = ("boto3", "botocore")


@functools.lru_cache(maxsize=1024)
def uses_runtime_sdk(code_dir: Path, layers_dir: Path | None = None) -> bool:
    """Whether a Python function imports the AWS SDK that the runtime provides: some module of its
    code says ``import boto3`` (or botocore) and neither its code nor its layers bring their own.
    Such functions are forked from a zygote that has it imported and warm (zygote_main's SDK
    zygote); the others from the lean one, whose forks stay cheaper. Code folders are
    content-addressed, so the answer for one never changes."""
    bundled = [code_dir]
    if layers_dir is not None:
        bundled += [layers_dir / "python", *sorted((layers_dir / "python" / "lib").glob("python3*/site-packages"))]
    if any((folder / name).is_dir() for folder in bundled for name in _SDK_PACKAGES):
        return False
    seen = 0
    for path in code_dir.rglob("*.py"):
        seen += 1
        if seen > 2000:    # a vendored tree: not worth reading further
            return False
        try:
            with path.open("rb") as f:
                if _SDK_IMPORT.search(f.read(256 * 1024)):
                    return True
        except OSError:
            continue
    return False
