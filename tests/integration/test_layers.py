"""Layers as a boto3 user meets them: a real ``cumulo up``, PublishLayerVersion and friends,
functions using layers (imports, overrides, /opt/bin tools), deletes and limits."""

from __future__ import annotations

import base64
import hashlib
import io
import stat
import textwrap
import zipfile
from typing import Any, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.integration.test_server import CumuloServer, create, error_of, invoke, unique, zip_of

APP = '''
import os, subprocess
def handler(event, context):
    out = {}
    if "module" in event:
        out["who"] = __import__(event["module"]).WHO
    if "tool" in event:
        out["tool"] = subprocess.run([event["tool"]], capture_output=True, text=True).stdout.strip()
    return out
'''


def layer_zip(files: dict[str, str], executable: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | (0o755 if name in executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, textwrap.dedent(text))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("layers") / "home")
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def lam(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.client()
    yield client
    client.close()


def publish(lam: BaseClient, name: str, data: bytes, **options: Any) -> dict[str, Any]:
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": data}, **options)


def test_publish_get_list_and_delete_layer_versions(lam: BaseClient) -> None:
    name = unique("layer")
    data = layer_zip({"python/mylib.py": "WHO = 1\n"})
    first = publish(lam, name, data, CompatibleRuntimes=["python3.11", "python3.12"], Description="first",
                    LicenseInfo="MIT", CompatibleArchitectures=["x86_64"])
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["LayerArn"] == f"arn:aws:lambda:us-east-1:{first['LayerArn'].split(':')[4]}:layer:{name}"
    assert first["LayerVersionArn"] == f"{first['LayerArn']}:1"
    assert first["Version"] == 1
    assert first["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert first["Content"]["CodeSize"] == len(data)
    assert first["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert first["CompatibleArchitectures"] == ["x86_64"]
    assert first["LicenseInfo"] == "MIT" and first["Description"] == "first"
    assert first["CreatedDate"]
    second = publish(lam, name, layer_zip({"python/mylib.py": "WHO = 2\n"}), CompatibleRuntimes=["python3.12"])
    assert second["Version"] == 2

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert {k: got[k] for k in ("LayerVersionArn", "Version", "Content", "Description")} == \
        {k: first[k] for k in ("LayerVersionArn", "Version", "Content", "Description")}
    by_arn = lam.get_layer_version_by_arn(Arn=first["LayerVersionArn"])
    assert by_arn["Version"] == 1 and by_arn["Content"]["CodeSha256"] == first["Content"]["CodeSha256"]
    # a LayerName may be the layer's ARN
    assert lam.get_layer_version(LayerName=first["LayerArn"], VersionNumber=2)["Version"] == 2

    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.11")
            ["LayerVersions"]] == [1]
    listed = {item["LayerName"]: item for item in lam.list_layers()["Layers"]}
    assert listed[name]["LayerArn"] == first["LayerArn"]
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2
    matching = {i["LayerName"]: i for i in lam.list_layers(CompatibleRuntime="python3.11")["Layers"]}
    assert matching[name]["LatestMatchingVersion"]["Version"] == 1

    lam.delete_layer_version(LayerName=name, VersionNumber=1)
    lam.delete_layer_version(LayerName=name, VersionNumber=1)   # idempotent
    with pytest.raises(ClientError) as info:
        lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert error_of(info) == ("ResourceNotFoundException", 404)
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [2]
    assert publish(lam, name, layer_zip({"x": ""}))["Version"] == 3      # numbers are never reused
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    lam.delete_layer_version(LayerName=name, VersionNumber=3)
    assert name not in {i["LayerName"] for i in lam.list_layers()["Layers"]}


def test_paginators_walk_layers(lam: BaseClient) -> None:
    prefix = unique("page")
    for i in range(3):
        publish(lam, f"{prefix}-{i}", layer_zip({f"f{i}": ""}))
    names = [item["LayerName"] for page in lam.get_paginator("list_layers").paginate(PaginationConfig={"PageSize": 1})
             for item in page["Layers"]]
    assert [n for n in names if n.startswith(prefix)] == [f"{prefix}-{i}" for i in range(3)]


def test_function_uses_layers_in_order(lam: BaseClient) -> None:
    base = publish(lam, unique("base"), layer_zip({"python/mylib.py": "WHO = 'base'\n",
                                                   "bin/greet": "#!/bin/sh\necho hi from /opt/bin\n"},
                                                  executable=("bin/greet",)))
    top = publish(lam, unique("top"), layer_zip({"python/mylib.py": "WHO = 'top'\n"}))
    name = unique()
    made = create(lam, name, zip_of(**{"app.py": APP}), Layers=[base["LayerVersionArn"]])
    assert made["Layers"] == [{"Arn": base["LayerVersionArn"], "CodeSize": base["Content"]["CodeSize"]}]
    _, out = invoke(lam, name, {"module": "mylib", "tool": "greet"})
    assert out == {"who": "base", "tool": "hi from /opt/bin"}

    updated = lam.update_function_configuration(FunctionName=name,
                                                Layers=[base["LayerVersionArn"], top["LayerVersionArn"]])
    assert [layer["Arn"] for layer in updated["Layers"]] == [base["LayerVersionArn"], top["LayerVersionArn"]]
    assert invoke(lam, name, {"module": "mylib"})[1] == {"who": "top"}
    assert [layer["Arn"] for layer in lam.get_function(FunctionName=name)["Configuration"]["Layers"]] == \
        [base["LayerVersionArn"], top["LayerVersionArn"]]

    # deleting a layer version a function uses is allowed; the function keeps working
    lam.delete_layer_version(LayerName=top["LayerArn"].rsplit(":", 1)[1], VersionNumber=1)
    lam.update_function_configuration(FunctionName=name, MemorySize=256)   # fresh environments
    assert invoke(lam, name, {"module": "mylib"})[1] == {"who": "top"}

    cleared = lam.update_function_configuration(FunctionName=name, Layers=[])
    assert "Layers" not in cleared
    assert invoke(lam, name, {"tool": "true"})[1] == {"tool": ""}


def test_function_layer_limits(lam: BaseClient) -> None:
    arns = [publish(lam, unique("lim"), layer_zip({f"f{i}": "x"}))["LayerVersionArn"] for i in range(6)]
    with pytest.raises(ClientError) as info:
        create(lam, unique(), zip_of(**{"app.py": APP}), Layers=arns)
    assert error_of(info) == ("InvalidParameterValueException", 400)
    assert "more than 5 layers" in info.value.response["Error"]["Message"]
    name = unique()
    create(lam, name, zip_of(**{"app.py": APP}), Layers=arns[:5])
    missing = arns[0][:-1] + "7"
    with pytest.raises(ClientError) as info:
        lam.update_function_configuration(FunctionName=name, Layers=[missing])
    assert error_of(info) == ("InvalidParameterValueException", 400)
    assert info.value.response["Error"]["Message"] == f"Layer version {missing} does not exist."


@pytest.mark.parametrize("member", ["../escape.py", "/etc/evil", "python/../../x"])
def test_hostile_layer_zips_are_refused(lam: BaseClient, member: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(member, "x")
    with pytest.raises(ClientError) as info:
        publish(lam, unique("evil"), buffer.getvalue())
    assert error_of(info) == ("InvalidParameterValueException", 400)


def test_symlink_and_duplicate_entries_are_refused(lam: BaseClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        link = zipfile.ZipInfo("python/passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ClientError) as info:
        publish(lam, unique("link"), buffer.getvalue())
    assert error_of(info) == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as info:
        create(lam, unique(), zip_of(**{"app.py": APP, "./app.py": "x"}))
    assert error_of(info) == ("InvalidParameterValueException", 400)


def test_unknown_layer_version_by_arn_is_not_found(lam: BaseClient) -> None:
    with pytest.raises(ClientError) as info:
        lam.get_layer_version_by_arn(Arn="arn:aws:lambda:us-east-1:123456789012:layer:nothing:1")
    assert error_of(info)[1] == 404


def test_layer_version_permissions_over_boto3(lam: BaseClient) -> None:
    import json

    name = unique("perm")
    publish(lam, name, layer_zip({"x": ""}))
    added = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="all",
                                             Action="lambda:GetLayerVersion", Principal="*")
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"])["Sid"] == "all"
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["all"]
    assert policy["RevisionId"] == added["RevisionId"]
    with pytest.raises(ClientError) as info:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="all",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert error_of(info) == ("ResourceConflictException", 409)
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="all")
    with pytest.raises(ClientError) as info:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error_of(info) == ("ResourceNotFoundException", 404)
