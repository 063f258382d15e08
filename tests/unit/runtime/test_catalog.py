"""Which runtimes run here and how each starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cumulo.runtime import catalog


def test_python_runtimes_fork_and_custom_runtimes_run_their_bootstrap() -> None:
    python = catalog.runtime_of("python3.12")
    assert python.entrypoint is None and python.execution_env == "AWS_Lambda_python3.12"
    for name in ("provided", "provided.al2", "provided.al2023"):
        custom = catalog.runtime_of(name)
        assert custom.entrypoint == () and custom.execution_env is None
        assert custom.environment["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
        assert catalog.unavailable(name) is None


@pytest.mark.skipif(shutil.which("node") is None, reason="[node] Node.js is not installed")
def test_nodejs_runs_our_bootstrap_on_the_machines_node_of_that_major(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))     # no other major in Cumulo's cache
    path, version = catalog.node_version() or ("", "")
    major = version.lstrip("v").split(".")[0]
    node = catalog.runtime_of(f"nodejs{major}.x")
    assert node.entrypoint == (path, str(catalog.NODE_BOOTSTRAP)) and catalog.NODE_BOOTSTRAP.is_file()
    assert node.execution_env == f"AWS_Lambda_nodejs{major}.x" and node.version == f"node {version}"
    assert catalog.unavailable(f"nodejs{major}.x") is None
    other = "nodejs18.x" if major != "18" else "nodejs20.x"
    assert f"this machine has Node.js {version}" in (catalog.unavailable(other) or "")


def test_runtime_version_arns_are_stable_and_per_runtime() -> None:
    a = catalog.runtime_version_arn("eu-west-1", "provided.al2023")
    assert a == catalog.runtime_version_arn("eu-west-1", "provided.al2023")
    assert a.startswith("arn:aws:lambda:eu-west-1::runtime:") and len(a.rsplit(":", 1)[1]) == 64
    assert a != catalog.runtime_version_arn("eu-west-1", "python3.11")
