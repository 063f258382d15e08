"""Deploying SAM templates: create, re-deploy with no changes, update, roll back, delete removed."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.errors import CumuloError, InvalidParameterValueException, ResourceNotFoundException

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-sam"


def _template(folder: Path, body: str, **code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in code.items():
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "app.py").write_text(textwrap.dedent(source))
    path = folder / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\n" + textwrap.dedent(body))
    return path


TWO = """
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        STAGE: dev
Resources:
  First:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: first/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
  Second:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: second/
      Handler: app.handler
      Runtime: python3.11
      MemorySize: 256
      ReservedConcurrentExecutions: RESERVED
"""
HANDLER = "import os\ndef handler(e, c):\n    return ['{tag}', os.environ['STAGE']]\n"


def test_sam_init_hello_world_deploys_and_runs(cumulo: Cumulo, tmp_path: Path) -> None:
    app = tmp_path / "hello-sam"
    shutil.copytree(EXAMPLE, app)
    result = deploy(cumulo, app / "template.yaml")
    assert [(c.kind, c.action) for c in result.changes] == [("function", "create"), ("role", "create")]
    assert result.outputs["HelloWorldFunction"] == cumulo.arns.function("hello-sam-HelloWorldFunction")
    assert not result.warnings
    api = cumulo.apis.list_apis()[0]
    assert [(r.route_key, r.function, r.payload_version) for r in api.routes] == [
        ("GET /hello", "hello-sam-HelloWorldFunction", "1.0")]
    assert result.outputs["HelloWorldApi"] == f"https://{api.api_id}.execute-api.us-east-1.amazonaws.com/Prod/hello/"
    payload = cumulo.invoke("hello-sam-HelloWorldFunction").json()
    assert payload["statusCode"] == 200 and "hello world" in payload["body"]
    assert cumulo.get_function_configuration("hello-sam-HelloWorldFunction").timeout == 3


def test_redeploy_update_and_remove(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _template(tmp_path / "stack", TWO.replace("RESERVED", "5"),
                     first=HANDLER.format(tag="first-v1"), second=HANDLER.format(tag="second-v1"))
    first = deploy(cumulo, path)
    assert {c.function: c.action for c in first.changes if c.kind == "function"} == {
        "stack-First": "create", "stack-Second": "create"}
    assert cumulo.invoke("stack-First", qualifier="live").json() == ["first-v1", "dev"]
    assert cumulo.get_function_concurrency("stack-Second") == 5
    assert cumulo.get_function_configuration("stack-Second").memory_size == 256
    revision = cumulo.get_function_configuration("stack-First").revision_id

    again = deploy(cumulo, path)
    assert not again.changed and [c.action for c in again.changes] == ["unchanged"] * 4     # functions, roles
    assert cumulo.get_function_configuration("stack-First").revision_id == revision
    assert [v.version for v in cumulo.list_versions_by_function("stack-First")] == ["$LATEST", "1"]

    (tmp_path / "stack" / "first" / "app.py").write_text(HANDLER.format(tag="first-v2"))
    updated = deploy(cumulo, path)
    assert {c.function: c.action for c in updated.changes if c.kind == "function"} == {
        "stack-First": "update", "stack-Second": "unchanged"}
    assert cumulo.invoke("stack-First", qualifier="live").json() == ["first-v2", "dev"]
    assert cumulo.get_alias("stack-First", "live").function_version == "2"

    path.write_text(path.read_text().split("  Second:")[0])
    removed = deploy(cumulo, path)
    assert [(c.kind, c.action) for c in removed.changes] == [("function", "unchanged"), ("function", "delete"),
                                                             ("role", "unchanged"), ("role", "delete")]
    with pytest.raises(ResourceNotFoundException):
        cumulo.get_function_configuration("stack-Second")


def test_failure_rolls_back_everything(cumulo: Cumulo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _template(tmp_path / "stack", TWO.replace("RESERVED", "5"),
                     first=HANDLER.format(tag="first-v1"), second=HANDLER.format(tag="second-v1"))
    deploy(cumulo, path)
    before = cumulo.get_function_configuration("stack-First")
    (tmp_path / "stack" / "first" / "app.py").write_text(HANDLER.format(tag="first-v2"))
    path.write_text(path.read_text().replace("ReservedConcurrentExecutions: 5", "ReservedConcurrentExecutions: 5000")
                    .replace("MemorySize: 256", "MemorySize: 512"))
    with pytest.raises(CumuloError, match="ReservedConcurrentExecutions"):   # more than the account has: the plan
        deploy(cumulo, path)                                                  # refuses it, nothing is touched
    assert cumulo.get_function_configuration("stack-First").code_sha256 == before.code_sha256
    # The first function changes fine, then the second's concurrency is refused at apply time (another
    # process took the account's concurrency in between, say): everything is put back.
    path.write_text(path.read_text().replace("ReservedConcurrentExecutions: 5000", "ReservedConcurrentExecutions: 6"))
    taken = cumulo.put_function_concurrency

    def refuse_the_second(name: str, reserved: int) -> int:
        if name == "stack-Second" and reserved == 6:
            raise InvalidParameterValueException("Specified ReservedConcurrentExecutions for function decreases "
                                                 "account's UnreservedConcurrentExecution below its minimum value")
        return taken(name, reserved)

    monkeypatch.setattr(cumulo, "put_function_concurrency", refuse_the_second)
    with pytest.raises(CumuloError, match="rolled back"):
        deploy(cumulo, path)
    after = cumulo.get_function_configuration("stack-First")
    assert after.code_sha256 == before.code_sha256
    assert cumulo.invoke("stack-First", qualifier="live").json() == ["first-v1", "dev"]
    assert cumulo.get_alias("stack-First", "live").function_version == "1"
    assert cumulo.get_function_configuration("stack-Second").memory_size == 256
    assert cumulo.get_function_concurrency("stack-Second") == 5


def test_failed_first_deploy_leaves_nothing(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _template(tmp_path / "fresh", TWO.replace("RESERVED", "5000"),
                     first=HANDLER.format(tag="a"), second=HANDLER.format(tag="b"))
    with pytest.raises(CumuloError):
        deploy(cumulo, path)
    assert cumulo.list_functions() == []


def test_template_errors_name_the_resource_and_line(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _template(tmp_path / "bad", """
        Resources:
          Broken:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: code/
              Handler: app.handler
              Runtime: python3.11
              Timeot: 3
        """, code="def handler(e, c):\n    return 1\n")
    with pytest.raises(CumuloError) as info:
        deploy(cumulo, path)
    assert "Broken" in info.value.message and "line" in info.value.message and "Timeot" in info.value.message
    assert cumulo.list_functions() == []


def test_dry_run_changes_nothing(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _template(tmp_path / "dry", TWO.replace("RESERVED", "5"),
                     first=HANDLER.format(tag="a"), second=HANDLER.format(tag="b"))
    result = deploy(cumulo, path, dry_run=True)
    assert not result.applied and [c.action for c in result.changes] == ["create"] * 4     # functions, roles
    assert cumulo.list_functions() == [] and cumulo.identity.roles.list_roles() == []


API_TEMPLATE = """
Resources:
  Shop:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: v1
  Web:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: web/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Items: {Type: HttpApi, Properties: {ApiId: !Ref Shop, Path: /items, Method: GET}}
        Legacy: {Type: Api, Properties: {Path: /old, Method: get}}
"""


def test_apis_are_kept_stable_on_redeploy_and_deleted_when_removed(cumulo: Cumulo, tmp_path: Path) -> None:
    path = _template(tmp_path / "stack", API_TEMPLATE, web="def handler(e, c):\n    return {}\n")
    first = deploy(cumulo, path)
    apis = {a.name: a for a in cumulo.apis.list_apis()}
    assert set(apis) == {"stack-Shop", "stack-ServerlessRestApi"}
    shop = apis["stack-Shop"]
    assert [s.name for s in shop.stages] == ["v1"] and [r.route_key for r in shop.routes] == ["GET /items"]
    generation = cumulo.store.generation
    second = deploy(cumulo, path)
    assert cumulo.store.generation == generation, "an unchanged template writes nothing"
    assert second.routes == first.routes
    path.write_text(path.read_text().replace("        Legacy: {Type: Api, Properties: {Path: /old, Method: get}}\n", ""))
    deploy(cumulo, path)
    assert [a.name for a in cumulo.apis.list_apis()] == ["stack-Shop"]


def test_snap_start_from_the_template(cumulo: Cumulo, tmp_path: Path) -> None:
    init = "import os\ndef handler(e, c):\n    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
    text = TWO.replace("RESERVED", "5").replace("      AutoPublishAlias: live\n",
                                                 "      AutoPublishAlias: live\n      SnapStart: {ApplyOn: None}\n")
    path = _template(tmp_path / "stack", text, first=init, second=HANDLER.format(tag="x"))
    deploy(cumulo, path)
    doc = cumulo.get_function("stack-First")
    assert doc["Configuration"]["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert cumulo.invoke("stack-First", qualifier="live").json() == "on-demand"
    assert not deploy(cumulo, path).changed
    path.write_text(path.read_text().replace("ApplyOn: None", "ApplyOn: PublishedVersions"))
    changed = deploy(cumulo, path)
    assert {c.function: c.action for c in changed.changes}["stack-First"] == "update"
    assert cumulo.get_function_configuration("stack-First").snap_start == "PublishedVersions"
