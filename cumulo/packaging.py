"""``cumulo package``: a deployment zip from a source folder, with its requirements installed.

The folder's files are copied into a scratch build folder, ``requirements.txt``
(when present) is installed into it with pip (``--target``; for a runtime
whose Python version differs from the host's, pip is asked for binary wheels
of that version on ``manylinux2014_x86_64``, as Lambda runs them), and the
result is zipped deterministically (``model.code.pack_directory``) and checked
like any code package. With ``layer=True`` the sources and packages go under
``python/`` (``nodejs/`` for a Node.js runtime, where ``package.json``'s dependencies are installed
with npm), the folders AWS puts on the module path for a layer.

``build_makefile`` is SAM's ``BuildMethod: makefile``: in a copy of the folder, ``make
build-<LogicalId>`` runs with ``ARTIFACTS_DIR`` naming an empty folder, and what the target put there
is the package (for a layer, its whole tree: the makefile writes ``python/``, ``bin/``, ...).

Builds are cached by content: the key hashes every file's path, mode bit and
bytes, the runtime, the layout and the extra pip arguments, so an unchanged
folder is not rebuilt (and a changed requirements file is).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cumulo.errors import InvalidParameterValueException
from cumulo.model import function as fn
from cumulo.model.code import load_code, pack_directory

__all__ = ["PackageResult", "build_package", "build_makefile", "default_cache_dir", "npm_command", "pip_command"]

_FORMAT = "cumulo-package-1"    # bump when the build's layout changes, to drop old cache entries
_SKIP_DIRS = {"__pycache__", ".git", ".cumulo", ".venv", "node_modules"}


@dataclass(frozen=True)
class PackageResult:
    zip_path: Path      # the cached zip
    key: str
    cached: bool        # True when nothing was built
    size: int


def default_cache_dir() -> Path:
    if os.environ.get("CUMULO_PACKAGE_CACHE"):
        return Path(os.environ["CUMULO_PACKAGE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cumulo" / "package"


def _files(src: Path, exclude: frozenset[Path] = frozenset()) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        found.extend(path for f in sorted(filenames) if not f.endswith(".pyc")
                     and (path := Path(dirpath, f)).resolve() not in exclude)
    return found


def cache_key(src: Path, runtime: str, layer: bool, pip_args: list[str],
              exclude: frozenset[Path] = frozenset()) -> str:
    digest = hashlib.sha256()
    for part in (_FORMAT, runtime, "layer" if layer else "function", *pip_args):
        digest.update(part.encode() + b"\0")
    for path in _files(src, exclude):
        rel = path.relative_to(src).as_posix()
        digest.update(rel.encode() + b"\0" + (b"x" if os.access(path, os.X_OK) else b"-"))
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def pip_command(requirements: Path, target: Path, runtime: str, extra: list[str]) -> list[str]:
    """pip's command line for the runtime: binary wheels of its version when it is not the host's."""
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
               "--no-compile", "-r", str(requirements), "--target", str(target)]
    wanted = runtime.removeprefix("python")
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted != host:
        command += ["--python-version", wanted, "--implementation", "cp", "--only-binary=:all:",
                    "--platform", "manylinux2014_x86_64"]
    return command + list(extra)


def build_package(src: Path, runtime: str = "python3.11", cache_dir: Path | None = None, layer: bool = False,
                  pip_args: list[str] | None = None, exclude: list[Path] | None = None) -> PackageResult:
    """Build (or find in the cache) the zip for ``src``; ``exclude`` names files to leave out
    (the output zip, when it is written inside the folder)."""
    src = src.resolve()
    skipped = frozenset(p.resolve() for p in exclude or [])
    if not src.is_dir():
        raise InvalidParameterValueException(f"Not a folder: {src}")
    node = fn.validate_runtime(runtime) in fn.NODE_RUNTIMES
    if not node and runtime not in fn.PYTHON_RUNTIMES:
        raise InvalidParameterValueException(f"cumulo package builds Python and Node.js runtimes, not {runtime}.")
    extra = list(pip_args or [])
    cache = (cache_dir or default_cache_dir()).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    key = cache_key(src, runtime, layer, extra, skipped)
    target = cache / f"{key}.zip"
    if target.is_file():
        return PackageResult(target, key, True, target.stat().st_size)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=cache) as scratch:
        build = Path(scratch, "build")
        root = build / ("nodejs" if node else "python") if layer else build
        root.mkdir(parents=True)
        for path in _files(src, skipped):
            dest = root / path.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        requirements = src / "requirements.txt"
        if node:
            if (src / "package.json").is_file():
                _run(npm_command(root, extra), "npm could not install package.json's dependencies", cwd=root)
        elif requirements.is_file():
            _run(pip_command(requirements, root, runtime, extra), "pip could not install requirements.txt", cwd=src)
        data = pack_directory(build)
        load_code(data)          # the same checks any upload gets (sizes, entries)
        staging = Path(scratch, "out.zip")
        staging.write_bytes(data)
        os.replace(staging, target)
    return PackageResult(target, key, False, target.stat().st_size)


def build_makefile(src: Path, logical_id: str, cache_dir: Path | None = None) -> PackageResult:
    """SAM's ``BuildMethod: makefile``: ``make build-<logical_id>`` in a copy of ``src`` (whose
    ``Makefile`` or ``makefile`` names that target) with ``ARTIFACTS_DIR`` set; the zip of what it put
    there, cached by content as ``build_package`` is."""
    src = src.resolve()
    if not src.is_dir():
        raise InvalidParameterValueException(f"Not a folder: {src}")
    if not any((src / name).is_file() for name in ("GNUmakefile", "makefile", "Makefile")):
        raise InvalidParameterValueException(f"BuildMethod makefile needs a Makefile in {src}, and there is none")
    make = shutil.which("make")
    if make is None:
        raise InvalidParameterValueException("BuildMethod makefile needs make, and no 'make' is installed here")
    cache = (cache_dir or default_cache_dir()).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    key = cache_key(src, "makefile", False, [logical_id])
    target = cache / f"{key}.zip"
    if target.is_file():
        return PackageResult(target, key, True, target.stat().st_size)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=cache) as scratch:
        source, artifacts = Path(scratch, "source"), Path(scratch, "artifacts")
        artifacts.mkdir()
        for path in _files(src):
            dest = source / path.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        source.mkdir(exist_ok=True)
        _run([make, f"build-{logical_id}"], f"make build-{logical_id} failed", cwd=source,
             env={**os.environ, "ARTIFACTS_DIR": str(artifacts)})
        if not any(artifacts.iterdir()):
            raise InvalidParameterValueException(
                f"make build-{logical_id} put nothing in $(ARTIFACTS_DIR): the target must copy what to deploy there")
        data = pack_directory(artifacts)
        load_code(data)
        staging = Path(scratch, "out.zip")
        staging.write_bytes(data)
        os.replace(staging, target)
    return PackageResult(target, key, False, target.stat().st_size)


def npm_command(root: Path, extra: list[str]) -> list[str]:
    """npm's command line: the lock file's exact tree when there is one, production dependencies only."""
    npm = shutil.which("npm")
    if npm is None:
        raise InvalidParameterValueException("building a Node.js function needs npm, and no 'npm' is installed here")
    verb = "ci" if (root / "package-lock.json").is_file() or (root / "npm-shrinkwrap.json").is_file() else "install"
    return [npm, verb, "--omit=dev", "--no-audit", "--no-fund", "--no-update-notifier", *extra]


def _run(command: list[str], failure: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        raise InvalidParameterValueException(f"{failure}: " + " | ".join(output[-5:]))
