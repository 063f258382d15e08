"""The AWS SDK for JavaScript v3 as AWS's Node.js runtimes offer it: installed once from the npm
registry into Cumulo's cache, then shown to every Node.js environment at ``/var/runtime/node_modules``
(AWS's place for it, on ``NODE_PATH``) and ``/node_modules`` (where an ES module's ``import`` of a
bare name looks last) at the namespace level, and on ``NODE_PATH`` at the process level.

Pinned: one version of every client below, so what functions get does not change under them. A
function's own copy in its code or a layer comes first, as on AWS.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Callable

from cumulo.runtime import cache

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
_WHAT = f"the AWS SDK for JavaScript v{VERSION}"


def _root() -> Path:
    return cache.root() / "node-sdk" / VERSION


def folder() -> Path | None:
    """The installed SDK's ``node_modules``, or None while it is not (completely) installed."""
    modules = _root() / "node_modules"
    return modules if cache.complete(_root()) and modules.is_dir() else None


def install(timeout_s: float = 600.0, wait: bool = True) -> tuple[Path | None, str | None]:
    """Install the SDK unless it is there: ``(node_modules, None)``, or ``(None, why not)``. Once per
    cache, renamed into place when npm succeeded (cache.install_once); ``wait=False`` gives up at
    once when another thread or process is installing it."""
    done = folder()
    if done is not None:
        return done, None
    npm = shutil.which("npm", path=os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    if npm is None:
        return None, "npm is not installed (it installs the AWS SDK for JavaScript once)"

    def fill(work: Path) -> str | None:
        result = cache.run_tool([npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--no-save",
                                 "--prefix", str(work), *PACKAGES], timeout_s)
        return None if result.returncode == 0 else cache.failure(result, "npm install")

    why = cache.install_once(_root(), fill, _WHAT, wait)
    return (folder(), None) if why is None else (None, why)


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
