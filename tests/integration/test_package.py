"""``cumulo package``: a real pip install of requirements.txt (offline, from a wheel built here),
a deterministic zip cached by content, and the zip deployed and invoked as a function or a layer."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.errors import InvalidParameterValueException
from cumulo.packaging import build_package, pip_command


def make_wheel(folder: Path, name: str = "tinypkg", version: str = "1.0", value: str = "tiny") -> Path:
    """A pure-Python wheel, written by hand: a wheel is a zip with a .dist-info folder."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: cumulo-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture
def project(tmp_path: Path) -> Path:
    src = tmp_path / "project"
    src.mkdir()
    (src / "app.py").write_text("import tinypkg\n\ndef handler(event, context):\n    return tinypkg.VALUE\n")
    (src / "requirements.txt").write_text("tinypkg==1.0\n")
    make_wheel(tmp_path / "wheels")
    return src


def offline(tmp_path: Path) -> list[str]:
    return ["--no-index", f"--find-links={tmp_path / 'wheels'}"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_package_installs_requirements_and_caches_by_content(project: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out.zip"
    pip = [f"--pip-arg={a}" for a in offline(tmp_path)]
    first = cli("package", str(project), "-o", str(out), "--cache-dir", str(cache), *pip, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "(cached)" not in first.stdout
    names = zipfile.ZipFile(out).namelist()
    assert "app.py" in names and "tinypkg/__init__.py" in names and "tinypkg-1.0.dist-info/METADATA" in names
    built = out.read_bytes()

    again = cli("package", str(project), "-o", str(out), "--cache-dir", str(cache), *pip, cwd=tmp_path)
    assert again.returncode == 0 and "(cached)" in again.stdout
    assert out.read_bytes() == built

    make_wheel(tmp_path / "wheels", version="2.0", value="two")
    (project / "requirements.txt").write_text("tinypkg==2.0\n")          # changed requirements: rebuilt
    third = cli("package", str(project), "-o", str(out), "--cache-dir", str(cache), *pip, cwd=tmp_path)
    assert third.returncode == 0 and "(cached)" not in third.stdout
    assert "tinypkg-2.0.dist-info/METADATA" in zipfile.ZipFile(out).namelist()
    assert len(list(cache.glob("*.zip"))) == 2


def test_default_output_is_the_folder_name_in_the_working_directory(project: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = cli("package", str(project), "--cache-dir", str(tmp_path / "cache"),
               *[f"--pip-arg={a}" for a in offline(tmp_path)], cwd=work)
    assert done.returncode == 0, done.stderr
    assert zipfile.ZipFile(work / "project.zip").namelist()


def test_packaged_zip_runs_as_a_function(project: Path, tmp_path: Path, cumulo: Cumulo) -> None:
    result = build_package(project, cache_dir=tmp_path / "cache", pip_args=offline(tmp_path))
    cumulo.create_function("pkg", result.zip_path, "app.handler")
    assert cumulo.invoke("pkg", b"{}").json() == "tiny"


def test_packaged_layer_puts_everything_under_python(project: Path, tmp_path: Path, cumulo: Cumulo,
                                                     make_code) -> None:
    result = build_package(project, cache_dir=tmp_path / "cache", layer=True, pip_args=offline(tmp_path))
    names = zipfile.ZipFile(result.zip_path).namelist()
    assert "python/tinypkg/__init__.py" in names and "python/app.py" in names
    arn = cumulo.publish_layer_version("deps", result.zip_path, ["python3.11"])["LayerVersionArn"]
    code = make_code(app="import tinypkg\ndef handler(event, context):\n    return 'layer:' + tinypkg.VALUE\n")
    cumulo.create_function("uses-layer", code, "app.handler", layers=[arn])
    assert cumulo.invoke("uses-layer", b"{}").json() == "layer:tiny"


def test_a_folder_without_requirements_is_just_zipped(tmp_path: Path) -> None:
    src = tmp_path / "plain"
    src.mkdir()
    (src / "app.py").write_text("x = 1\n")
    result = build_package(src, cache_dir=tmp_path / "cache")
    assert zipfile.ZipFile(io.BytesIO(result.zip_path.read_bytes())).namelist() == ["app.py"]


def test_pip_failure_is_reported(project: Path, tmp_path: Path) -> None:
    (project / "requirements.txt").write_text("no-such-package-anywhere==9.9\n")
    with pytest.raises(InvalidParameterValueException) as info:
        build_package(project, cache_dir=tmp_path / "cache", pip_args=offline(tmp_path))
    assert "pip could not install requirements.txt" in info.value.message
    assert list((tmp_path / "cache").glob("*.zip")) == []


def test_another_python_version_asks_pip_for_its_binary_wheels(tmp_path: Path) -> None:
    host = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert "--platform" not in pip_command(tmp_path / "r.txt", tmp_path, host, [])
    other = "python3.12" if host != "python3.12" else "python3.13"
    command = pip_command(tmp_path / "r.txt", tmp_path, other, [])
    assert command[command.index("--python-version") + 1] == other.removeprefix("python")
    assert "--only-binary=:all:" in command
    assert command[command.index("--platform") + 1] == "manylinux2014_x86_64"


def test_runtimes_without_a_build_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException, match="Python and Node.js"):
        build_package(tmp_path, "provided.al2023", cache_dir=tmp_path / "cache")


def test_a_nodejs_layer_is_laid_out_under_nodejs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.js").write_text("exports.x = 1;\n")
    result = build_package(src, "nodejs20.x", cache_dir=tmp_path / "cache", layer=True)
    names = zipfile.ZipFile(result.zip_path).namelist()
    assert "nodejs/index.js" in names and all(n.startswith("nodejs/") for n in names)


def test_layer_cli_publish_use_list_delete(tmp_path: Path) -> None:
    home = tmp_path / "home"
    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    (layer / "mylib.py").write_text("WHO = 'from the cli layer'\n")
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import mylib\ndef handler(e, c):\n    return mylib.WHO\n")

    published = cli("--home", str(home), "layer", "publish", "clilayer", "--content", str(tmp_path / "layer"),
                    "--runtime", "python3.11", "--description", "via cli", cwd=tmp_path)
    assert published.returncode == 0, published.stderr
    import json

    arn = json.loads(published.stdout)["LayerVersionArn"]
    assert arn.endswith(":layer:clilayer:1")
    created = cli("--home", str(home), "function", "create", "clifn", "--code", str(code), "--handler",
                  "app.handler", "--layer", arn, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["Layers"][0]["Arn"] == arn
    invoked = cli("--home", str(home), "invoke", "clifn", cwd=tmp_path)
    assert invoked.returncode == 0 and "from the cli layer" in invoked.stdout
    assert arn in cli("--home", str(home), "layer", "list", cwd=tmp_path).stdout
    assert "via cli" in cli("--home", str(home), "layer", "versions", "clilayer", cwd=tmp_path).stdout
    assert cli("--home", str(home), "layer", "delete", "clilayer", "1", cwd=tmp_path).returncode == 0
    missing = cli("--home", str(home), "layer", "get", "clilayer", "1", cwd=tmp_path)
    assert missing.returncode == 3 and "ResourceNotFoundException" in missing.stderr
    bad = cli("--home", str(home), "function", "create", "other", "--code", str(code), "--handler", "app.handler",
              "--layer", arn, cwd=tmp_path)
    assert bad.returncode == 3 and f"Layer version {arn} does not exist." in bad.stderr


def test_output_inside_the_folder_is_not_packaged_into_itself(project: Path, tmp_path: Path) -> None:
    pip = [f"--pip-arg={a}" for a in offline(tmp_path)]
    for _ in range(2):
        done = cli("package", ".", "-o", "build.zip", "--cache-dir", str(tmp_path / "cache"), *pip, cwd=project)
        assert done.returncode == 0, done.stderr
    assert "(cached)" in done.stdout
    assert "build.zip" not in zipfile.ZipFile(project / "build.zip").namelist()
