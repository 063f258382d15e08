"""Deploys build functions as `sam build` does: requirements.txt installed with pip, package.json's
dependencies with npm (both offline here: a wheel and a tarball made by the test), a BuildMethod
Cumulo cannot run refused by name, and --no-build deploying the folder as it is."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.deploy.template import TemplateError

from tests.integration.test_package import make_wheel

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: py/
      Handler: app.handler
      Runtime: python3.11
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CUMULO_PACKAGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _python_stack(folder: Path, extra: str = "") -> Path:
    code = folder / "py"
    code.mkdir(parents=True)
    (code / "app.py").write_text("import tinypkg\n\ndef handler(event, context):\n    return tinypkg.VALUE\n")
    make_wheel(code / "wheels", value="from the wheel")
    # A path relative to the folder that holds requirements.txt, as sam build reads it.
    (code / "requirements.txt").write_text("./wheels/tinypkg-1.0-py3-none-any.whl\n")
    (folder / "template.yaml").write_text(TEMPLATE + extra)
    return folder / "template.yaml"


def test_requirements_are_installed_into_the_deployed_code(cumulo: Cumulo, tmp_path: Path, cache: Path) -> None:
    path = _python_stack(tmp_path / "stack")
    deploy(cumulo, path)
    assert cumulo.invoke("stack-Py", b"{}").json() == "from the wheel"
    assert list(cache.glob("*.zip")), "the build is cached by content"
    again = deploy(cumulo, path)
    assert [c.action for c in again.changes if c.kind == "function"] == ["unchanged"]


def test_no_build_deploys_the_folder_as_it_is(cumulo: Cumulo, tmp_path: Path, cache: Path) -> None:
    deploy(cumulo, _python_stack(tmp_path / "stack"), build=False)
    result = cumulo.invoke("stack-Py", b"{}")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'tinypkg'" in result.json()["errorMessage"]


@pytest.mark.parametrize("method", ["rust-cargolambda", "go1.x", "esbuild", "java21"])
def test_a_build_method_cumulo_cannot_run_is_refused_by_name(cumulo: Cumulo, tmp_path: Path, cache: Path,
                                                             method: str) -> None:
    path = _python_stack(tmp_path / "stack", f"    Metadata:\n      BuildMethod: {method}\n")
    with pytest.raises(TemplateError, match=f"Resource Py .*BuildMethod '{method}' cannot be run"):
        deploy(cumulo, path)
    assert cumulo.list_functions() == []


def test_a_failing_build_names_the_function(cumulo: Cumulo, tmp_path: Path, cache: Path) -> None:
    path = _python_stack(tmp_path / "stack")
    (path.parent / "py" / "requirements.txt").write_text("./wheels/missing-1.0-py3-none-any.whl\n")
    with pytest.raises(TemplateError, match="Resource Py .*build failed: pip could not install"):
        deploy(cumulo, path)


def _tarball(folder: Path, name: str) -> Path:
    """An npm package tarball (package/ inside), as `npm pack` writes it."""
    files = {"package/package.json": json.dumps({"name": name, "version": "1.0.0", "main": "index.js"}),
             "package/index.js": f"module.exports = (who) => `hello ${{who}} from {name}`;\n"}
    path = folder / f"{name}-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None, reason="[node] Node.js/npm not installed")
def test_package_json_dependencies_are_installed_with_npm(cumulo: Cumulo, tmp_path: Path, cache: Path) -> None:
    from cumulo.runtime.catalog import node_version

    found = node_version()
    assert found is not None
    runtime = f"nodejs{found[1].lstrip('v').split('.')[0]}.x"
    code = tmp_path / "stack" / "node"
    code.mkdir(parents=True)
    _tarball(code, "greet")
    _tarball(code, "devonly")
    (code / "package.json").write_text(json.dumps({
        "name": "app", "version": "1.0.0",
        "dependencies": {"greet": "file:greet-1.0.0.tgz"},
        "devDependencies": {"devonly": "file:devonly-1.0.0.tgz"}}))
    (code / "index.js").write_text(textwrap.dedent("""\
        const greet = require('greet');
        exports.handler = async (event) => {
          let dev = true;
          try { require.resolve('devonly'); } catch (e) { dev = false; }
          return {greeting: greet(event.who), dev};
        };
    """))
    (tmp_path / "stack" / "template.yaml").write_text(textwrap.dedent(f"""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Node:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: node/
              Handler: index.handler
              Runtime: {runtime}
    """))
    deploy(cumulo, tmp_path / "stack" / "template.yaml")
    assert cumulo.invoke("stack-Node", b'{"who": "Ada"}').json() == {"greeting": "hello Ada from greet", "dev": False}
    assert not (code / "node_modules").exists(), "the build happens in a copy, never in the sources"


def test_cli_up_and_deploy_take_no_build(tmp_path: Path, cache: Path) -> None:
    path = _python_stack(tmp_path / "stack")
    env_home = ["--home", str(tmp_path / "home")]
    done = subprocess.run([sys.executable, "-m", "cumulo", *env_home, "deploy", str(path), "--no-build"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "cumulo", *env_home, "invoke", "stack-Py"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Runtime.ImportModuleError" in done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "cumulo", *env_home, "deploy", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "cumulo", *env_home, "invoke", "stack-Py"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "from the wheel" in done.stdout, done.stdout + done.stderr
