"""The pure side of layers: ARNs, function Layers checks, configurations old and new, and the
environment an invocation gets (paths standing in for /opt at each sandbox level)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo.errors import InvalidParameterValueException, ValidationException
from cumulo.invoke.invoker import Invoker
from cumulo.model.function import Arns, FunctionConfiguration
from cumulo.model.layer import LayerRef, check_function_layers, parse_layer_version_arn, validate_layer_name
from cumulo.runtime.sandbox import SandboxLevel, SandboxPolicy

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"
REF = LayerRef(ARN, 1234, "ab" * 32, 5678)


def test_layer_arns() -> None:
    arns = Arns("us-east-1", "123456789012")
    assert arns.layer("deps") == "arn:aws:lambda:us-east-1:123456789012:layer:deps"
    assert arns.layer("deps", 3) == ARN
    assert parse_layer_version_arn(ARN) == ("deps", 3)
    assert validate_layer_name("arn:aws:lambda:us-east-1:123456789012:layer:deps") == "deps"
    for bad in ["deps:3", "arn:aws:lambda:us-east-1:123456789012:layer:deps", "arn:aws:lambda:us-east-1:1:layer:x:1", ""]:
        with pytest.raises(ValidationException):
            parse_layer_version_arn(bad)
    with pytest.raises(InvalidParameterValueException):
        parse_layer_version_arn(ARN, "eu-west-1", "123456789012")


def test_function_layers_shape() -> None:
    assert check_function_layers([]) == []
    five = [f"arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1" for i in range(5)]
    assert check_function_layers(five) == five
    with pytest.raises(InvalidParameterValueException, match="Cannot reference more than 5 layers."):
        check_function_layers(five + ["arn:aws:lambda:us-east-1:123456789012:layer:l5:1"])
    with pytest.raises(InvalidParameterValueException, match="same layer"):
        check_function_layers([ARN, ARN[:-1] + "4"])
    with pytest.raises(InvalidParameterValueException, match="more than once"):
        check_function_layers([ARN, ARN])
    with pytest.raises(InvalidParameterValueException):
        check_function_layers("not a list")  # type: ignore[arg-type]


def test_configurations_without_layers_still_load_and_report_none() -> None:
    old_row = {"name": "f", "handler": "app.handler", "code_sha256": "q83v", "code_size": 3}
    config = FunctionConfiguration.from_dict(old_row)
    assert config.layers == ()
    assert "Layers" not in config.to_aws(Arns("us-east-1", "123456789012"))


def test_layers_round_trip_through_the_stored_form() -> None:
    config = FunctionConfiguration("f", "app.handler", "q83v", 3, layers=(REF,))
    again = FunctionConfiguration.from_dict(config.to_dict())
    assert again == config
    assert config.to_aws(Arns("us-east-1", "123456789012"))["Layers"] == [{"Arn": ARN, "CodeSize": 1234}]


def _spec(level: SandboxLevel, runtime: str, layers_dir: Path | None, tmp_path: Path):
    policy = SandboxPolicy(level, ())
    invoker = Invoker(None, None, None, Arns("us-east-1", "123456789012"),  # type: ignore[arg-type]
                      lambda code_hex: tmp_path / "code", lambda: policy, tmp_path, 6 << 20,
                      layers_dir=lambda refs: layers_dir if refs else None)
    config = FunctionConfiguration("f", "app.handler", "q83v", 3, runtime=runtime, layers=(REF,))
    return invoker.spec(config, "on-demand")


def test_namespace_environment_names_opt(tmp_path: Path) -> None:
    spec = _spec(SandboxLevel.NAMESPACE, "python3.12", tmp_path / "merged", tmp_path)
    assert spec.env["PATH"].endswith(":/opt/bin") and spec.env["LD_LIBRARY_PATH"] == "/opt/lib"
    assert spec.layer_python_paths() == ["/opt/python/lib/python3.12/site-packages", "/opt/python"]
    wire = spec.wire(None, None, None)
    assert wire["opt_dir"] == str(tmp_path / "merged")
    assert "NODE_PATH" not in spec.env


def test_process_environment_names_the_merged_tree(tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    spec = _spec(SandboxLevel.PROCESS, "python3.11", merged, tmp_path)
    assert spec.env["PATH"].endswith(f":{merged}/bin") and spec.env["LD_LIBRARY_PATH"] == f"{merged}/lib"
    assert spec.layer_python_paths() == [f"{merged}/python/lib/python3.11/site-packages", f"{merged}/python"]
    assert spec.wire(None, None, None)["opt_dir"] is None     # nothing is mounted at this level


def test_node_runtimes_get_node_path(tmp_path: Path) -> None:
    spec = _spec(SandboxLevel.NAMESPACE, "nodejs20.x", tmp_path / "merged", tmp_path)
    assert spec.env["NODE_PATH"] == ("/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:"
                                     "/var/runtime/node_modules:/var/runtime:/var/task")
