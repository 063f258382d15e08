"""Versions and aliases: immutable snapshots, and weighted routing between two versions."""

from __future__ import annotations

import pytest

from cumulo import Cumulo
from cumulo.errors import (
    InvalidParameterValueException, PreconditionFailedException, ResourceConflictException, ResourceNotFoundException, ValidationException,
)

pytestmark = pytest.mark.both_stores     # each test on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture
def versions(cumulo: Cumulo, deploy, make_code) -> str:
    name = deploy("def handler(e, c):\n    return 'one'\n")
    assert cumulo.publish_version(name).version == "1"
    cumulo.update_function_code(name, make_code(app="def handler(e, c):\n    return 'two'\n"))
    assert cumulo.publish_version(name).version == "2"
    return name


def test_alias_points_at_a_version(cumulo: Cumulo, versions: str) -> None:
    alias = cumulo.create_alias(versions, "live", "1", description="production")
    result = cumulo.invoke(versions, qualifier="live")
    assert result.json() == "one" and result.executed_version == "1"
    assert cumulo.invoke(f"{versions}:live").json() == "one"
    updated = cumulo.update_alias(versions, "live", function_version="2")
    assert updated.revision_id != alias.revision_id
    assert cumulo.invoke(versions, qualifier="live").json() == "two"
    assert [a.name for a in cumulo.list_aliases(versions)] == ["live"]
    doc = updated.to_aws(cumulo.arns)
    assert doc["AliasArn"].endswith(f":function:{versions}:live") and doc["FunctionVersion"] == "2"


def test_weighted_routing_splits_traffic(cumulo: Cumulo, versions: str) -> None:
    cumulo.create_alias(versions, "canary", "1", routing_weights={"2": 0.3})
    seen = [cumulo.invoke(versions, qualifier="canary").executed_version for _ in range(300)]
    share = seen.count("2") / len(seen)
    assert set(seen) == {"1", "2"} and 0.18 < share < 0.42
    context_arn = cumulo.invoke(versions, qualifier="canary")
    assert context_arn.executed_version in ("1", "2")


def test_alias_errors(cumulo: Cumulo, versions: str) -> None:
    cumulo.create_alias(versions, "live", "1")
    with pytest.raises(ResourceConflictException):
        cumulo.create_alias(versions, "live", "1")
    with pytest.raises(ResourceNotFoundException):
        cumulo.create_alias(versions, "other", "9")
    with pytest.raises(ValidationException):
        cumulo.create_alias(versions, "123", "1")
    with pytest.raises(InvalidParameterValueException):
        cumulo.create_alias(versions, "two-way", "1", routing_weights={"2": 0.5, "1": 0.1})
    with pytest.raises(ValidationException):
        cumulo.create_alias(versions, "heavy", "1", routing_weights={"2": 1.5})
    with pytest.raises(ResourceConflictException, match="aliases reference it"):
        cumulo.delete_function(versions, qualifier="1")
    with pytest.raises(PreconditionFailedException):
        cumulo.update_alias(versions, "live", function_version="2", revision_id="stale")
    cumulo.delete_alias(versions, "live")
    with pytest.raises(ResourceNotFoundException):
        cumulo.invoke(versions, qualifier="live")
    cumulo.delete_function(versions, qualifier="1")
    with pytest.raises(ResourceNotFoundException):
        cumulo.invoke(versions, qualifier="1")


def test_versions_are_immutable_snapshots(cumulo: Cumulo, versions: str) -> None:
    cumulo.update_function_configuration(versions, timeout=9)
    assert cumulo.get_function_configuration(versions, "1").timeout == 3
    assert cumulo.get_function_configuration(versions).timeout == 9
    with pytest.raises(InvalidParameterValueException):
        cumulo.update_function_configuration(f"{versions}:1", timeout=5)
    # publishing with nothing changed returns the last version
    v3 = cumulo.publish_version(versions)
    assert v3.version == "3" and cumulo.publish_version(versions).version == "3"
    listed = [v.version for v in cumulo.list_versions_by_function(versions)]
    assert listed == ["$LATEST", "1", "2", "3"]


def test_tags_and_account_settings(cumulo: Cumulo, versions: str) -> None:
    arn = cumulo.arns.function(versions)
    cumulo.tag_resource(arn, {"team": "payments", "env": "dev"})
    cumulo.untag_resource(arn, ["env"])
    assert cumulo.list_tags(arn) == {"team": "payments"}
    with pytest.raises(ResourceNotFoundException):
        cumulo.list_tags(cumulo.arns.function("nope"))
    settings = cumulo.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] == 1 and settings["AccountUsage"]["TotalCodeSize"] > 0
    cumulo.delete_function(versions)
