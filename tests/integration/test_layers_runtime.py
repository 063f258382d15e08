"""Layers in real environments, through the Python API, at every sandbox level this machine has."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from cumulo import Cumulo
from cumulo.errors import InvalidParameterValueException
from cumulo.model import limits
from cumulo.runtime.sandbox import SandboxLevel

LEVELS = ["process", "namespace"] if os.geteuid() == 0 else ["process"]
# Without root the namespace level's cases are still generated, and skip (a failure under
# CUMULO_REQUIRE=namespace, see tests/conftest.py), rather than silently not existing.
LEVEL_PARAMS = ["process", pytest.param("namespace", marks=pytest.mark.skipif(
    os.geteuid() != 0, reason="[namespace] the namespace level needs root"))]

HANDLER = """
import os, subprocess, sys
def handler(event, context):
    out = {"path": sys.path[:4], "env_path": os.environ["PATH"], "ld": os.environ["LD_LIBRARY_PATH"]}
    if "module" in event:
        mod = __import__(event["module"])
        out["who"] = mod.WHO
        out["file"] = mod.__file__
    if "tool" in event:
        out["tool"] = subprocess.run([event["tool"]], capture_output=True, text=True).stdout.strip()
    if "listdir" in event:
        out["listdir"] = sorted(os.listdir(event["listdir"])) if os.path.isdir(event["listdir"]) else None
    if "write" in event:
        try:
            open(event["write"], "w").write("x")
            out["wrote"] = True
        except OSError as exc:
            out["wrote"] = type(exc).__name__
    return out
"""


@pytest.fixture(params=LEVEL_PARAMS)
def sandboxed(request: pytest.FixtureRequest, home: Path) -> Cumulo:
    with Cumulo(home=home, sandbox=request.param) as c:
        yield c


def tree(root: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        if rel in executable:
            path.chmod(0o755)
    return root


def publish(c: Cumulo, tmp_path: Path, name: str, files: dict[str, str], executable: tuple[str, ...] = ()) -> str:
    folder = tree(tmp_path / f"layer-{name}-{len(list(tmp_path.iterdir()))}", files, executable)
    return c.publish_layer_version(name, folder, ["python3.11"])["LayerVersionArn"]


def test_function_imports_from_layers_later_ones_win(sandboxed: Cumulo, tmp_path: Path,
                                                     make_code: Callable[..., Path]) -> None:
    base = publish(sandboxed, tmp_path, "base", {"python/mylib.py": "WHO = 'base'\n",
                                                 "python/baseonly.py": "WHO = 'baseonly'\n"})
    top = publish(sandboxed, tmp_path, "top", {"python/lib/python3.11/site-packages/mylib.py": "WHO = 'top'\n"})
    sandboxed.create_function("f", make_code(app=HANDLER), "app.handler", layers=[base])
    out = sandboxed.invoke("f", b'{"module": "mylib"}').json()
    assert out["who"] == "base"
    if sandboxed.sandbox.level is SandboxLevel.NAMESPACE:
        assert out["file"] == "/opt/python/mylib.py"
        assert out["path"][:3] == ["/var/task", "/opt/python/lib/python3.11/site-packages", "/opt/python"]
    sandboxed.update_function_configuration("f", layers=[base, top])
    # site-packages comes before /opt/python on AWS's sys.path
    assert sandboxed.invoke("f", b'{"module": "mylib"}').json()["who"] == "top"
    assert sandboxed.invoke("f", b'{"module": "baseonly"}').json()["who"] == "baseonly"
    config = sandboxed.get_function_configuration("f").to_aws(sandboxed.arns)
    assert [layer["Arn"] for layer in config["Layers"]] == [base, top]
    assert all(layer["CodeSize"] > 0 for layer in config["Layers"])


def test_a_later_layer_overrides_the_same_file(sandboxed: Cumulo, tmp_path: Path,
                                               make_code: Callable[..., Path]) -> None:
    one = publish(sandboxed, tmp_path, "one", {"python/mylib.py": "WHO = 'one'\n"})
    two = publish(sandboxed, tmp_path, "two", {"python/mylib.py": "WHO = 'two'\n"})
    sandboxed.create_function("a", make_code(app=HANDLER), "app.handler", layers=[one, two])
    sandboxed.create_function("b", make_code(app=HANDLER), "app.handler", layers=[two, one])
    assert sandboxed.invoke("a", b'{"module": "mylib"}').json()["who"] == "two"
    assert sandboxed.invoke("b", b'{"module": "mylib"}').json()["who"] == "one"


def test_function_code_comes_before_layers(sandboxed: Cumulo, tmp_path: Path,
                                           make_code: Callable[..., Path]) -> None:
    arn = publish(sandboxed, tmp_path, "lib", {"python/mylib.py": "WHO = 'layer'\n"})
    sandboxed.create_function("f", make_code(app=HANDLER, mylib="WHO = 'code'\n"), "app.handler", layers=[arn])
    assert sandboxed.invoke("f", b'{"module": "mylib"}').json()["who"] == "code"


def test_bin_is_on_path_and_lib_on_ld_library_path(sandboxed: Cumulo, tmp_path: Path,
                                                   make_code: Callable[..., Path]) -> None:
    arn = publish(sandboxed, tmp_path, "tools", {"bin/layertool": "#!/bin/sh\necho hello from the layer\n"},
                  executable=("bin/layertool",))
    sandboxed.create_function("f", make_code(app=HANDLER), "app.handler", layers=[arn])
    out = sandboxed.invoke("f", b'{"tool": "layertool"}').json()
    assert out["tool"] == "hello from the layer"
    if sandboxed.sandbox.level is SandboxLevel.NAMESPACE:
        assert out["env_path"].endswith(":/opt/bin") and out["ld"] == "/opt/lib"
    else:
        assert out["env_path"].endswith("/bin") and out["ld"].endswith("/lib")


@pytest.mark.skipif("namespace" not in LEVELS, reason="[namespace] needs root and mount namespaces")
def test_opt_is_read_only_and_empty_without_layers(home: Path, tmp_path: Path, make_code: Callable[..., Path]) -> None:
    with Cumulo(home=home, sandbox="namespace") as c:
        arn = publish(c, tmp_path, "lib", {"python/mylib.py": "WHO = 1\n"})
        c.create_function("with", make_code(app=HANDLER), "app.handler", layers=[arn])
        c.create_function("without", make_code(app=HANDLER), "app.handler")
        out = c.invoke("with", b'{"listdir": "/opt", "write": "/opt/python/new.py"}').json()
        assert out["listdir"] == ["python"]
        assert out["wrote"] in ("OSError", "PermissionError")
        assert c.invoke("without", b'{"listdir": "/opt"}').json()["listdir"] == []


def test_deleted_layer_version_keeps_working_for_functions_using_it(sandboxed: Cumulo, tmp_path: Path,
                                                                    make_code: Callable[..., Path]) -> None:
    arn = publish(sandboxed, tmp_path, "lib", {"python/mylib.py": "WHO = 'kept'\n"})
    sandboxed.create_function("f", make_code(app=HANDLER), "app.handler", layers=[arn])
    sandboxed.delete_layer_version("lib", 1)
    assert sandboxed.list_layers() == []
    sandboxed.update_function_configuration("f", memory_size=256)   # new environment, same layers
    assert sandboxed.invoke("f", b'{"module": "mylib"}').json()["who"] == "kept"
    with pytest.raises(InvalidParameterValueException) as info:
        sandboxed.create_function("g", make_code(app=HANDLER), "app.handler", layers=[arn])
    assert info.value.message == f"Layer version {arn} does not exist."


def test_unzipped_limit_counts_code_and_layers(cumulo: Cumulo, tmp_path: Path, make_code: Callable[..., Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    arn = publish(cumulo, tmp_path, "big", {"python/big.py": "X = 1\n" * 1000})   # 6,000 bytes
    code = make_code(app=HANDLER)
    monkeypatch.setattr(limits, "UNZIPPED_MAX_BYTES", 6_500)
    with pytest.raises(InvalidParameterValueException) as info:
        cumulo.create_function("f", code, "app.handler", layers=[arn])
    assert info.value.message.startswith("Function code combined with layers exceeds the maximum allowed size of 6500 bytes")
    cumulo.create_function("f", code, "app.handler")
    with pytest.raises(InvalidParameterValueException):
        cumulo.update_function_configuration("f", layers=[arn])
    assert "Layers" not in cumulo.get_function_configuration("f").to_aws(cumulo.arns)


def test_a_deleted_layers_blob_and_trees_go_once_no_function_uses_it(cumulo: Cumulo, tmp_path: Path,
                                                                     make_code: Callable[..., Path]) -> None:
    arn = publish(cumulo, tmp_path, "lib", {"python/mylib.py": "WHO = 'gone'\n"})
    code_hex = cumulo.layers.get("lib", 1).code_hex
    cumulo.create_function("f", make_code(app=HANDLER), "app.handler", layers=[arn])
    cumulo.publish_version("f")
    assert cumulo.invoke("f", b'{"module": "mylib"}').json()["who"] == "gone"
    cumulo.delete_layer_version("lib", 1)
    blob = cumulo.home / "layers" / f"{code_hex}.zip"
    assert blob.exists()
    cumulo.update_function_configuration("f", layers=[])
    assert blob.exists(), "version 1 of the function still uses the layer"
    cumulo.delete_function("f")
    assert not blob.exists()
    assert list((cumulo.home / "opt").iterdir()) == []
