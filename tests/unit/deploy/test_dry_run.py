"""``cumulo deploy --dry-run`` passes no template the real deploy then refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.errors import CumuloError
from cumulo.runtime.catalog import node_version


def _template(tmp_path: Path, runtime: str) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "index.js").write_text("exports.handler = async () => 'ok';\n")
    path = tmp_path / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
                    f"    Properties: {{CodeUri: src/, Handler: index.handler, Runtime: {runtime}}}\n")
    return path


def test_a_node_runtime_this_machine_cannot_have_fails_the_plan_as_it_fails_the_deploy(
        cumulo: Cumulo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A major neither installed nor installable (no npm, an empty cache): a plan would install it as
    the deploy does (runtime/node_versions.py), and here refuses as the deploy does."""
    host = node_version()
    runtime = "nodejs22.x" if host is not None and host[1].startswith("v18.") else "nodejs18.x"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", "/nonexistent")
    path = _template(tmp_path, runtime)
    with pytest.raises(CumuloError) as planned:
        deploy(cumulo, path, dry_run=True, build=False)
    assert planned.value.message.startswith(f"Resource Fn (line 3): property Runtime: {runtime} cannot be "
                                            "used here: the runtime")
    with pytest.raises(CumuloError) as deployed:
        deploy(cumulo, path, build=False)
    assert deployed.value.type == planned.value.type == "InvalidParameterValueException"


def test_reservations_are_planned_together_as_the_deploy_makes_them(cumulo: Cumulo, tmp_path: Path) -> None:
    each = cumulo.limiter.account_limit // 2          # each alone fits; both leave less than the unreserved minimum
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    path = tmp_path / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(
        f"  F{i}:\n    Type: AWS::Serverless::Function\n    Properties: {{CodeUri: src/, Handler: app.handler, "
        f"Runtime: python3.12, ReservedConcurrentExecutions: {each}}}\n" for i in (1, 2)))
    with pytest.raises(CumuloError, match=r"Resource F2 \(line 6\): property ReservedConcurrentExecutions: Specified "
                                          r"ReservedConcurrentExecutions for function decreases account's "
                                          r"UnreservedConcurrentExecution below its minimum"):
        deploy(cumulo, path, dry_run=True, build=False)
    with pytest.raises(CumuloError, match="UnreservedConcurrentExecution below its minimum"):
        deploy(cumulo, path, build=False)
    assert cumulo.list_functions() == []                # rolled back


def test_a_layer_that_is_not_published_here_fails_the_plan(cumulo: Cumulo, tmp_path: Path) -> None:
    foreign = "arn:aws:lambda:us-east-1:175033217214:layer:graphicsmagick:2"     # another account's
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    path = tmp_path / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
                    "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12, "
                    f"Layers: ['{foreign}']}}\n")
    with pytest.raises(CumuloError, match=rf"Resource Fn \(line 3\): property Layers: Layer version {foreign} does "
                                          "not exist"):
        deploy(cumulo, path, dry_run=True, build=False)


def test_version_description_describes_the_published_version(cumulo: Cumulo, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    path = tmp_path / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
                    "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12, AutoPublishAlias: live, "
                    "VersionDescription: first release}\n")
    deploy(cumulo, path, stack_name="s", build=False)
    assert cumulo.get_function_configuration("s-Fn", "1").description == "first release"
