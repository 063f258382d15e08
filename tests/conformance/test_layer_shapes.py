"""Layer documents against botocore's model of the Lambda API: every field we answer with is one
AWS defines, with AWS's type (what boto3 would silently drop or mis-parse otherwise)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from cumulo import Cumulo

MODEL = botocore.session.get_session().get_service_model("lambda")
_SCALARS = {"string": str, "integer": int, "long": int, "boolean": bool, "timestamp": str}


def conforms(value: Any, shape: Shape, where: str = "") -> None:
    if isinstance(shape, StructureShape):
        assert isinstance(value, dict), f"{where}: expected an object"
        for key, item in value.items():
            assert key in shape.members, f"{where}.{key} is not a member of {shape.name}"
            conforms(item, shape.members[key], f"{where}.{key}")
        for key in shape.required_members:
            assert key in value, f"{where}.{key} is required by {shape.name}"
    elif isinstance(shape, MapShape):
        assert isinstance(value, dict), f"{where}: expected a map"
        for key, item in value.items():
            conforms(key, shape.key, f"{where} key")
            conforms(item, shape.value, f"{where}.{key}")
    elif isinstance(shape, ListShape):
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            conforms(item, shape.member, f"{where}[{i}]")
    else:
        assert isinstance(value, _SCALARS[shape.type_name]), f"{where}: expected {shape.type_name}, got {value!r}"
        if getattr(shape, "enum", None):
            assert value in shape.enum, f"{where}: {value!r} is not one of {shape.enum}"


def output(operation: str) -> Shape:
    shape = MODEL.operation_model(operation).output_shape
    assert shape is not None
    return shape


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/mod.py", "X = 1\n")
    return buf.getvalue()


@pytest.fixture
def published(cumulo: Cumulo) -> dict[str, Any]:
    return cumulo.publish_layer_version("shapes", _zip(), ["python3.11"], "described", ["x86_64"], "MIT")


def test_publish_and_get_layer_version_documents(cumulo: Cumulo, published: dict[str, Any]) -> None:
    conforms(published, output("PublishLayerVersion"), "PublishLayerVersion")
    conforms(cumulo.get_layer_version("shapes", 1), output("GetLayerVersion"), "GetLayerVersion")
    conforms(cumulo.get_layer_version_by_arn(published["LayerVersionArn"]), output("GetLayerVersionByArn"),
             "GetLayerVersionByArn")


def test_list_documents(cumulo: Cumulo, published: dict[str, Any]) -> None:
    conforms({"Layers": cumulo.list_layers()}, output("ListLayers"), "ListLayers")
    conforms({"LayerVersions": cumulo.list_layer_versions("shapes")}, output("ListLayerVersions"), "ListLayerVersions")


def test_function_configuration_with_layers(cumulo: Cumulo, published: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    config = cumulo.create_function("shaped", tmp_path, "app.handler", layers=[published["LayerVersionArn"]])
    conforms(config.to_aws(cumulo.arns), output("CreateFunction"), "FunctionConfiguration")


def test_layer_version_arns_match_aws_pattern(published: dict[str, Any]) -> None:
    import re

    pattern = MODEL.shape_for("LayerVersionArn").metadata["pattern"]
    assert re.fullmatch(pattern, published["LayerVersionArn"])
    assert re.fullmatch(MODEL.shape_for("LayerArn").metadata["pattern"], published["LayerArn"])


def test_policy_documents(cumulo: Cumulo, published: dict[str, Any]) -> None:
    added = cumulo.add_layer_version_permission("shapes", 1, "all", "lambda:GetLayerVersion", "*")
    conforms(added, output("AddLayerVersionPermission"), "AddLayerVersionPermission")
    conforms(cumulo.get_layer_version_policy("shapes", 1), output("GetLayerVersionPolicy"), "GetLayerVersionPolicy")
