"""Templates shaped like the public serverless-patterns applications that ``bench/template_corpus.py``
found refused (tests/corpus/patterns): each is planned (``--dry-run``) and deployed for real on a store of
its own, and what it made is used through the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import DeployResult, deploy
from cumulo.errors import CumuloError

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "patterns"


def _deploy(c: Cumulo, name: str, stack: str = "sam-app", **parameters: str) -> DeployResult:
    """The plan, then the deploy: both pass, with the same warnings."""
    path = CORPUS / name / "template.yaml"
    planned = deploy(c, path, parameters, stack_name=stack, dry_run=True, build=False)
    result = deploy(c, path, parameters, stack_name=stack, build=False)
    assert sorted(planned.warnings) == sorted(result.warnings)
    return result


def test_a_durable_function_deploys_as_an_ordinary_one_and_says_so(tmp_path: Path) -> None:
    """lambda-durable-*: DurableConfig, and DependsOn naming the alias, role and stage SAM makes."""
    with Cumulo(home=tmp_path / "home") as c:
        result = _deploy(c, "durable-orders")
        durable = [w for w in result.warnings if "DurableConfig" in w]
        assert len(durable) == 1 and "OrderProcessor" in durable[0]
        assert "3600 s" in durable[0] and "7 days" in durable[0] and "ordinary" in durable[0]
        name = result.outputs["ProcessorAlias"].split(":")[-2]
        answer = c.invoke(name, json.dumps({"order": 7}), qualifier="live")
        assert answer.function_error is None
        assert json.loads(answer.payload) == {"order": 7, "durable": False}


@pytest.mark.parametrize("config, message", [
    ("{RetentionPeriodInDays: 7}", "ExecutionTimeout is required"),
    ("{ExecutionTimeout: 31622401}", "less than or equal to 31622400"),
    ("{ExecutionTimeout: 0}", "greater than or equal to 1"),
    ("{ExecutionTimeout: 60, RetentionPeriodInDays: 91}", "less than or equal to 90"),
    ("{ExecutionTimeout: 60, Mode: fast}", "unknown key 'Mode'"),
])
def test_a_durable_config_out_of_lambdas_range_is_refused_by_plan_and_deploy(tmp_path: Path, config: str,
                                                                            message: str) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    path = app / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
                    "    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.12\n"
                    f"      DurableConfig: {config}\n")
    with Cumulo(home=tmp_path / "home") as c:
        for dry_run in (True, False):
            with pytest.raises(CumuloError, match=message):
                deploy(c, path, stack_name="s", dry_run=dry_run, build=False)
