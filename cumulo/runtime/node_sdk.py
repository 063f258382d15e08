"""The AWS SDK for JavaScript v3 as AWS's Node.js runtimes offer it: installed once from the npm
registry into Cumulo's cache, then shown to every Node.js environment at ``/var/runtime/node_modules``
(AWS's place for it, on ``NODE_PATH``) and ``/node_modules`` (where an ES module's ``import`` of a
bare name looks last) at the namespace level, and on ``NODE_PATH`` at the process level.

Pinned: one version of every client below, so what functions get does not change under them. A
function's own copy in its code or a layer comes first, as on AWS.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

from cumulo.runtime.inside import linux

__all__ = ["VERSION", "PACKAGES", "folder", "install", "install_in_background"]

VERSION = "3.1178.0"
# The clients of the services Cumulo has, and the document client most DynamoDB code uses, each at
# its release of the same day (a client is published only when it changed).
PACKAGES = tuple(f"@aws-sdk/{name}@{version}" for name, version in (
    ("client-sqs", VERSION), ("client-sns", VERSION), ("client-s3", VERSION), ("client-dynamodb", VERSION),
    ("lib-dynamodb", VERSION), ("client-eventbridge", VERSION), ("client-sfn", VERSION),
    ("client-lambda", VERSION), ("client-sts", VERSION), ("client-kinesis", "3.1143.0"),
    ("client-secrets-manager", VERSION), ("client-ssm", VERSION), ("client-iam", VERSION),
    ("client-cloudformation", VERSION)))
_DONE = ".cumulo-complete"
_lock = threading.Lock()


def _root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cumulo" / "node-sdk" / VERSION


def folder() -> Path | None:
    """The installed SDK's ``node_modules``, or None while it is not (completely) installed."""
    modules = _root() / "node_modules"
    return modules if (_root() / _DONE).is_file() and modules.is_dir() else None


def install(timeout_s: float = 600.0, wait: bool = True) -> tuple[Path | None, str | None]:
    """Install the SDK unless it is there: ``(node_modules, None)``, or ``(None, why not)``. Built in
    a folder beside the cache and renamed into place when npm succeeded, so a half-done install is
    never used. One install at a time per cache, across processes (every ``cumulo up`` of a user
    shares it): a lock file beside it; ``wait=False`` gives up at once when another holds it."""
    with _lock:
        done = folder()
        if done is not None:
            return done, None
        npm = shutil.which("npm", path=os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
        if npm is None:
            return None, "npm is not installed (it installs the AWS SDK for JavaScript once)"
        root = _root()
        root.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(root.parent / ".install.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return None, "another Cumulo process is installing it; functions get it once that is done"
            done = folder()    # what the process that held the lock installed
            if done is not None:
                return done, None
            for stale in root.parent.glob(f".{VERSION}-*"):   # left by an install that was killed
                shutil.rmtree(stale, ignore_errors=True)
            return _npm_install(npm, root, timeout_s)
        finally:
            os.close(lock)


def _die_with_parent() -> None:
    linux.set_parent_death_signal()   # (imported before any fork: nothing is imported in the child)


def _npm_install(npm: str, root: Path, timeout_s: float) -> tuple[Path | None, str | None]:
    work = Path(tempfile.mkdtemp(prefix=f".{VERSION}-", dir=root.parent))
    try:
        # npm dies with this process (a server killed mid-install must not leave it running: the next
        # install would remove its folder under it, and every killed server would add one more)
        result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--no-save",
                                 "--prefix", str(work), *PACKAGES], capture_output=True, text=True,
                                timeout=timeout_s, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            return None, "npm install failed: " + " / ".join(tail)
        (work / _DONE).write_text(" ".join(PACKAGES) + "\n")
        for path in [work, *work.rglob("*")]:   # readable by the environments' own uids
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(root, ignore_errors=True)
        os.rename(work, root)
        return folder(), None
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"installing the AWS SDK for JavaScript failed: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def install_in_background(say: Callable[[str], None]) -> None:
    """Start installing the SDK where it is missing, telling ``say`` what happens (``cumulo up``)."""
    if folder() is not None:
        return

    def run() -> None:
        say(f"installing the AWS SDK for JavaScript v{VERSION} for Node.js functions into {_root()} (once)")
        done, why = install(wait=False)
        say(f"AWS SDK for JavaScript ready: {done}" if done is not None else
            f"Node.js functions get no AWS SDK for JavaScript: {why}")

    threading.Thread(target=run, name="cumulo-node-sdk", daemon=True).start()
