"""Templates with ``AWS::Serverless::LayerVersion`` and functions' ``Layers: [!Ref MyLayer]``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.deploy.template import TemplateError, load_template
from cumulo.errors import CumuloError, InvalidParameterValueException

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared
      ContentUri: layer/
      CompatibleRuntimes: [python3.11]
      Description: shared code
      RetentionPolicy: RETENTION
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Layers:
        - !Ref SharedLayer
Outputs:
  LayerArn:
    Value: !Ref SharedLayer
"""
APP = "import shared\ndef handler(e, c):\n    return shared.WHO\n"


def stack(tmp_path: Path, retention: str = "Retain", who: str = "v1") -> Path:
    root = tmp_path / "stack"
    (root / "fn").mkdir(parents=True, exist_ok=True)
    (root / "layer" / "python").mkdir(parents=True, exist_ok=True)
    (root / "fn" / "app.py").write_text(APP)
    (root / "layer" / "python" / "shared.py").write_text(f"WHO = {who!r}\n")
    path = root / "template.yaml"
    path.write_text(textwrap.dedent(TEMPLATE).replace("RETENTION", retention))
    return path


def test_layer_is_published_and_ref_resolves_to_its_version_arn(cumulo: Cumulo, tmp_path: Path) -> None:
    path = stack(tmp_path)
    result = deploy(cumulo, path)
    arn = cumulo.arns.layer("shared", 1)
    assert {(c.kind, c.logical_id, c.action) for c in result.changes} >= {("layer", "SharedLayer", "create"),
                                                                           ("function", "Fn", "create")}
    assert result.outputs["LayerArn"] == arn
    config = cumulo.get_function_configuration("stack-Fn")
    assert [r.arn for r in config.layers] == [arn]
    assert cumulo.invoke("stack-Fn").json() == "v1"
    version = cumulo.get_layer_version("shared", 1)
    assert version["Description"] == "shared code" and version["CompatibleRuntimes"] == ["python3.11"]

    again = deploy(cumulo, path)
    assert not again.changed
    assert [v["Version"] for v in cumulo.list_layer_versions("shared")] == [1]

    (path.parent / "layer" / "python" / "shared.py").write_text("WHO = 'v2'\n")
    updated = deploy(cumulo, path)
    changes = {(c.kind, c.logical_id): c for c in updated.changes}
    assert changes[("layer", "SharedLayer")].action == "update"
    assert changes[("function", "Fn")].action == "update" and "layers" in changes[("function", "Fn")].details
    assert [r.arn for r in cumulo.get_function_configuration("stack-Fn").layers] == [cumulo.arns.layer("shared", 2)]
    assert cumulo.invoke("stack-Fn").json() == "v2"
    assert [v["Version"] for v in cumulo.list_layer_versions("shared")] == [2, 1]   # Retain keeps version 1


def test_delete_retention_removes_replaced_versions(cumulo: Cumulo, tmp_path: Path) -> None:
    path = stack(tmp_path, retention="Delete")
    deploy(cumulo, path)
    (path.parent / "layer" / "python" / "shared.py").write_text("WHO = 'v2'\n")
    deploy(cumulo, path)
    assert [v["Version"] for v in cumulo.list_layer_versions("shared")] == [2]
    assert cumulo.invoke("stack-Fn").json() == "v2"


def test_layer_content_may_be_a_zip(cumulo: Cumulo, tmp_path: Path) -> None:
    import zipfile

    path = stack(tmp_path)
    with zipfile.ZipFile(path.parent / "layer.zip", "w") as zf:
        zf.writestr("python/shared.py", "WHO = 'zipped'\n")
    path.write_text(path.read_text().replace("ContentUri: layer/", "ContentUri: layer.zip"))
    deploy(cumulo, path)
    assert cumulo.invoke("stack-Fn").json() == "zipped"


def test_failed_deploy_removes_the_layer_versions_it_published(cumulo: Cumulo, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = stack(tmp_path)
    path.write_text(path.read_text().replace("      Runtime: python3.11\n      Layers:",
                                             "      Runtime: python3.11\n      ReservedConcurrentExecutions: 5\n"
                                             "      Layers:"))

    def refused(name: str, reserved: int) -> int:      # at apply time (another process took the concurrency)
        raise InvalidParameterValueException("Specified ReservedConcurrentExecutions for function decreases "
                                             "account's UnreservedConcurrentExecution below its minimum value")

    monkeypatch.setattr(cumulo, "put_function_concurrency", refused)
    with pytest.raises(CumuloError, match="rolled back"):
        deploy(cumulo, path)
    assert cumulo.list_layers() == []
    assert cumulo.list_functions() == []


def test_dry_run_publishes_nothing(cumulo: Cumulo, tmp_path: Path) -> None:
    result = deploy(cumulo, stack(tmp_path), dry_run=True)
    assert ("layer", "create") in {(c.kind, c.action) for c in result.changes}
    assert cumulo.list_layers() == []


@pytest.mark.parametrize(("old", "new", "message"), [
    ("ContentUri: layer/", "ContentUri: missing/", "does not exist"),
    ("ContentUri: layer/", "ContentUri: s3://bucket/key.zip", "S3"),
    ("RetentionPolicy: Retain", "RetentionPolicy: Forever", "Retain or Delete"),
    ("CompatibleRuntimes: [python3.11]", "CompatibleRuntimes: [cobol]", "compatibleRuntimes"),
    ("Description: shared code", "Colour: blue", "Colour"),
])
def test_layer_properties_are_checked(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = stack(tmp_path)
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert message in info.value.message and "SharedLayer" in info.value.message


def test_layer_name_defaults_to_the_logical_id(cumulo: Cumulo, tmp_path: Path) -> None:
    path = stack(tmp_path)
    path.write_text(path.read_text().replace("      LayerName: shared\n", ""))
    deploy(cumulo, path)
    assert [r.arn for r in cumulo.get_function_configuration("stack-Fn").layers] == [cumulo.arns.layer("SharedLayer", 1)]


def test_layers_example_deploys_and_runs(cumulo: Cumulo, tmp_path: Path) -> None:
    import shutil

    example = Path(__file__).resolve().parents[2] / "examples" / "layers-sam"
    app = tmp_path / "layers-sam"
    shutil.copytree(example, app)
    result = deploy(cumulo, app / "template.yaml")
    assert result.outputs["SharedLayerVersion"] == cumulo.arns.layer("layers-sam-shared", 1)
    assert cumulo.invoke("layers-sam-QuoteFunction", b'{"n": 1}').json() == {
        "quote": "Readability counts.", "loud": "READABILITY COUNTS."}


def test_globals_layer_version_applies_to_every_layer(tmp_path: Path) -> None:
    path = stack(tmp_path)
    text = path.read_text().replace("Resources:\n", "Globals:\n  LayerVersion:\n    CompatibleRuntimes: [python3.12]\n"
                                    "    LicenseInfo: MIT\nResources:\n", 1)
    path.write_text(text)
    layer = load_template(path).layers[0]
    assert layer.compatible_runtimes == ("python3.12", "python3.11")     # SAM: global list, then the resource's
    assert layer.license_info == "MIT"
    path.write_text(text.replace("    LicenseInfo: MIT\n", "    ContentUri: elsewhere/\n"))
    with pytest.raises(TemplateError, match="cannot be set in Globals"):
        load_template(path)


def test_ref_of_a_layer_in_an_environment_variable_is_its_arn(cumulo: Cumulo, tmp_path: Path) -> None:
    path = stack(tmp_path)
    path.write_text(path.read_text().replace("      Layers:\n", "      Environment:\n        Variables:\n"
                                             "          LAYER: !Ref SharedLayer\n      Layers:\n"))
    deploy(cumulo, path)
    assert cumulo.get_function_configuration("stack-Fn").environment == {"LAYER": cumulo.arns.layer("shared", 1)}
    assert not deploy(cumulo, path).changed


def test_build_method_installs_the_layers_requirements(cumulo: Cumulo, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.test_package import make_wheel

    make_wheel(tmp_path / "wheels", value="built into the layer")
    monkeypatch.setenv("PIP_NO_INDEX", "1")                       # offline: pip reads its options from the env
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    monkeypatch.setenv("CUMULO_PACKAGE_CACHE", str(tmp_path / "cache"))
    path = stack(tmp_path)
    layer = path.parent / "layer"
    (layer / "python" / "shared.py").unlink()
    (layer / "python").rmdir()
    (layer / "requirements.txt").write_text("tinypkg==1.0\n")
    (layer / "shared.py").write_text("import tinypkg\nWHO = tinypkg.VALUE\n")    # SAM puts it under python/
    path.write_text(path.read_text().replace("      RetentionPolicy: RETENTION\n", "")
                    .replace("    Type: AWS::Serverless::LayerVersion\n",
                             "    Type: AWS::Serverless::LayerVersion\n    Metadata:\n      BuildMethod: python3.11\n"))
    deploy(cumulo, path)
    assert cumulo.invoke("stack-Fn").json() == "built into the layer"
    assert not deploy(cumulo, path).changed          # the cached build has the same hash


def test_unsupported_build_method_is_refused(tmp_path: Path) -> None:
    path = stack(tmp_path)
    path.write_text(path.read_text().replace("    Type: AWS::Serverless::LayerVersion\n",
                                             "    Type: AWS::Serverless::LayerVersion\n    Metadata:\n"
                                             "      BuildMethod: esbuild\n"))
    with pytest.raises(TemplateError, match="BuildMethod 'esbuild' is not supported"):
        load_template(path)


def test_layers_whose_logical_ids_prefix_each_other_get_their_own_arns(cumulo: Cumulo, tmp_path: Path) -> None:
    path = stack(tmp_path)
    (path.parent / "tools" / "python").mkdir(parents=True)
    (path.parent / "tools" / "python" / "tools.py").write_text("NAME = 'tools'\n")
    path.write_text(path.read_text().replace("  Fn:\n", "  SharedLayerTools:\n    Type: AWS::Serverless::LayerVersion\n"
                                             "    Properties: {LayerName: tools, ContentUri: tools/}\n  Fn:\n", 1)
                    .replace("        - !Ref SharedLayer\n", "        - !Ref SharedLayer\n        - !Ref SharedLayerTools\n"
                             "      Environment:\n        Variables:\n          BOTH: !Sub '${SharedLayer} ${SharedLayerTools}'\n"))
    deploy(cumulo, path)
    config = cumulo.get_function_configuration("stack-Fn")
    shared, tools = cumulo.arns.layer("shared", 1), cumulo.arns.layer("tools", 1)
    assert [r.arn for r in config.layers] == [shared, tools]
    assert config.environment == {"BOTH": f"{shared} {tools}"}
