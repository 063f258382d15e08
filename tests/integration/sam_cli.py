"""The AWS SAM CLI (``sam``), for tests that deploy the way SAM users do.

It is a PyPI package with many pinned dependencies of its own, so it lives in a virtualenv of its
own: the first test that needs it creates ``~/.cache/cumulo-tests/sam-cli`` (or ``CUMULO_SAM_CLI``)
and installs ``aws-sam-cli`` there with pip; later runs reuse it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["sam_cli"]

PACKAGE = "aws-sam-cli"


def _folder() -> Path:
    return Path(os.environ.get("CUMULO_SAM_CLI") or Path.home() / ".cache" / "cumulo-tests" / "sam-cli")


def sam_cli() -> tuple[Path | None, str]:
    """The ``sam`` program, installed once; or None and why not."""
    folder = _folder()
    venv = folder / "venv"
    program, done = venv / "bin" / "sam", folder / "installed"
    if done.exists():
        return program, ""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # one xdist worker installs; the other waits for it
        if done.exists():
            return program, ""
        # the scripts name the virtualenv's path: built in place, marked whole only at the end
        made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True,
                              timeout=300)
        if made.returncode != 0:
            return None, f"python -m venv failed: {made.stderr[-500:]}"
        got = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", PACKAGE],
                             capture_output=True, text=True, timeout=1800)
        if got.returncode != 0 or not program.exists():
            return None, f"pip install {PACKAGE} failed: {got.stderr[-800:]}"
        done.write_text(PACKAGE + "\n")
    return program, ""
