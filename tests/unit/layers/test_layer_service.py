"""Layer versions (numbering, immutability, filters, deletes) and the merged /opt tree."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from cumulo.errors import InvalidParameterValueException, ResourceNotFoundException, ValidationException
from cumulo.functions.layers import LayerService
from cumulo.model.function import Arns
from cumulo.store.blobs import CodeBlobs
from cumulo.store.sqlite import SQLiteStore

ARNS = Arns("us-east-1", "123456789012")


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | (0o755 if name.startswith("bin/") else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


@pytest.fixture
def service(tmp_path: Path) -> LayerService:
    store = SQLiteStore(tmp_path / "db.sqlite", ARNS)
    in_use: set[str] = set()
    svc = LayerService(store, CodeBlobs(tmp_path / "layers"), tmp_path / "opt", ARNS, in_use=in_use.__contains__)
    svc.in_use_set = in_use  # type: ignore[attr-defined]
    return svc


def test_versions_are_numbered_from_one_and_never_reused(service: LayerService) -> None:
    assert service.publish("lib", zip_of({"python/a.py": b"A = 1\n"})).version == 1
    assert service.publish("lib", zip_of({"python/a.py": b"A = 2\n"})).version == 2
    service.delete("lib", 2)
    assert service.publish("lib", zip_of({"python/a.py": b"A = 3\n"})).version == 3
    assert [v.version for v in service.versions("lib")] == [3, 1]   # newest first, as AWS lists them
    assert service.publish("other", zip_of({"x": b""})).version == 1


def test_a_published_version_is_immutable_and_fully_described(service: LayerService) -> None:
    data = zip_of({"python/a.py": b"A = 1\n"})
    item = service.publish("lib", data, ["python3.11", "python3.12"], ["x86_64"], "my lib", "MIT")
    doc = service.to_aws(item)
    assert doc["LayerArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:lib"
    assert doc["LayerVersionArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:lib:1"
    assert doc["Version"] == 1 and doc["Description"] == "my lib" and doc["LicenseInfo"] == "MIT"
    assert doc["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert doc["CompatibleArchitectures"] == ["x86_64"]
    assert doc["Content"]["CodeSize"] == len(data)
    assert Path(doc["Content"]["Location"]).read_bytes() == data
    assert doc["CreatedDate"].endswith("+0000")
    service.publish("lib", zip_of({"python/a.py": b"A = 2\n"}))
    assert service.to_aws(service.get("lib", 1)) == doc
    assert service.get_by_arn("arn:aws:lambda:us-east-1:123456789012:layer:lib:1") == item


def test_unknown_versions_are_not_found(service: LayerService) -> None:
    with pytest.raises(ResourceNotFoundException):
        service.get("nope", 1)
    service.publish("lib", zip_of({"a": b""}))
    for version in (0, 2):
        with pytest.raises(ResourceNotFoundException):
            service.get("lib", version)
    with pytest.raises(ResourceNotFoundException):
        service.get_by_arn("arn:aws:lambda:eu-west-1:123456789012:layer:lib:1")   # another region's


@pytest.mark.parametrize("kwargs", [
    {"name": "bad name"}, {"name": "x" * 141}, {"compatible_runtimes": ["cobol1"]},
    {"compatible_runtimes": ["python3.11"] * 16}, {"compatible_architectures": ["sparc"]},
    {"license_info": "x" * 513}, {"description": "d" * 257},
])
def test_invalid_parameters_are_refused(service: LayerService, kwargs: dict) -> None:
    args = {"name": "lib", "content": zip_of({"a": b""}), **kwargs}
    with pytest.raises(ValidationException):
        service.publish(**args)


def test_layer_content_is_checked_as_hostile_input(service: LayerService, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException):
        service.publish("lib", zip_of({"../../escape": b"x"}))
    assert service.versions("lib") == []
    assert not (tmp_path / "escape").exists()


def test_filters_by_runtime_and_architecture(service: LayerService) -> None:
    service.publish("a", zip_of({"1": b""}), ["python3.11"], ["x86_64"])
    service.publish("a", zip_of({"2": b""}), ["python3.12"], ["arm64"])
    service.publish("b", zip_of({"3": b""}), ["python3.11"])
    assert [(n, v.version) for n, v in service.layers()] == [("a", 2), ("b", 1)]
    assert [(n, v.version) for n, v in service.layers("python3.11")] == [("a", 1), ("b", 1)]
    assert [(n, v.version) for n, v in service.layers(architecture="arm64")] == [("a", 2)]
    assert [v.version for v in service.versions("a", "python3.12")] == [2]
    assert service.layers("nodejs20.x") == []


def test_delete_is_idempotent_and_keeps_blobs_still_in_use(service: LayerService, tmp_path: Path) -> None:
    one = service.publish("lib", zip_of({"python/a.py": b"A = 1\n"}))
    two = service.publish("lib", zip_of({"python/a.py": b"A = 2\n"}))
    service.in_use_set.add(one.code_hex)  # type: ignore[attr-defined]
    service.delete("lib", 1)
    service.delete("lib", 1)
    assert (tmp_path / "layers" / f"{one.code_hex}.zip").exists()      # a function still uses it
    service.delete("lib", 2)
    assert not (tmp_path / "layers" / f"{two.code_hex}.zip").exists()
    assert service.layers() == []


def test_resolve_checks_existence_count_and_duplicates(service: LayerService) -> None:
    arns = [service.to_aws(service.publish(f"l{i}", zip_of({f"f{i}": b"x"})))["LayerVersionArn"] for i in range(6)]
    refs = service.resolve(arns[:5])
    assert [r.arn for r in refs] == arns[:5]
    with pytest.raises(InvalidParameterValueException) as info:
        service.resolve(arns)
    assert info.value.message == "Cannot reference more than 5 layers."
    missing = "arn:aws:lambda:us-east-1:123456789012:layer:l0:9"
    with pytest.raises(InvalidParameterValueException) as info:
        service.resolve([missing])
    assert info.value.message == f"Layer version {missing} does not exist."
    with pytest.raises(InvalidParameterValueException) as info:
        service.resolve(["arn:aws:lambda:us-east-1:999999999999:layer:l0:1"])
    assert "does not exist" in info.value.message
    service.publish("l0", zip_of({"again": b""}))
    with pytest.raises(InvalidParameterValueException) as info:
        service.resolve([arns[0], arns[0][:-1] + "2"])
    assert "same layer" in info.value.message
    with pytest.raises(ValidationException):
        service.resolve(["not-an-arn"])


def test_merged_tree_later_layers_override_earlier_ones(service: LayerService) -> None:
    first = service.publish("base", zip_of({"python/common.py": b"WHO = 'base'\n", "python/only_base.py": b"",
                                            "bin/tool": b"#!/bin/sh\necho base\n", "clash": b"a file"}))
    second = service.publish("top", zip_of({"python/common.py": b"WHO = 'top'\n", "lib/libx.so": b"\x7fELF",
                                            "clash/inside": b"now a folder"}))
    refs = service.resolve([service.to_aws(first)["LayerVersionArn"], service.to_aws(second)["LayerVersionArn"]])
    tree = service.merged(refs)
    assert tree is not None
    assert (tree / "python/common.py").read_text() == "WHO = 'top'\n"
    assert (tree / "python/only_base.py").exists()
    assert (tree / "lib/libx.so").read_bytes() == b"\x7fELF"
    assert (tree / "clash/inside").read_text() == "now a folder"
    assert os.access(tree / "bin/tool", os.X_OK)
    assert stat.S_IMODE((tree / "python").stat().st_mode) == 0o555
    assert stat.S_IMODE((tree / "python/common.py").stat().st_mode) & 0o222 == 0
    reversed_tree = service.merged(tuple(reversed(refs)))
    assert reversed_tree != tree
    assert reversed_tree is not None and (reversed_tree / "python/common.py").read_text() == "WHO = 'base'\n"
    assert (reversed_tree / "clash").read_text() == "a file"
    assert service.merged(refs) == tree          # built once per ordered list
    assert service.merged(()) is None


def test_account_usage_counts_layer_archives(tmp_path: Path) -> None:
    from cumulo import Cumulo

    with Cumulo(home=tmp_path / "home") as c:
        before = c.get_account_settings()["AccountUsage"]["TotalCodeSize"]
        data = zip_of({"python/a.py": b"A = 1\n"})
        c.publish_layer_version("one", data)
        c.publish_layer_version("same-bytes", data)      # one archive, counted once
        assert c.get_account_settings()["AccountUsage"]["TotalCodeSize"] == before + len(data)


def test_layer_version_permissions(service: LayerService) -> None:
    import json

    from cumulo.errors import PreconditionFailedException, ResourceConflictException

    service.publish("shared", zip_of({"a": b""}))
    with pytest.raises(ResourceNotFoundException, match="No policy"):
        service.get_policy("shared", 1)
    added = service.add_permission("shared", 1, "everyone", "lambda:GetLayerVersion", "*", "o-abcdefghij")
    statement = json.loads(added["Statement"])
    assert statement == {"Sid": "everyone", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion",
                         "Resource": "arn:aws:lambda:us-east-1:123456789012:layer:shared:1",
                         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}
    second = service.add_permission("shared", 1, "one-account", "lambda:GetLayerVersion", "210987654321",
                                    revision_id=added["RevisionId"])
    assert json.loads(second["Statement"])["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    policy = service.get_policy("shared", 1)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["everyone", "one-account"]
    assert policy["RevisionId"] == second["RevisionId"]
    with pytest.raises(ResourceConflictException):
        service.add_permission("shared", 1, "everyone", "lambda:GetLayerVersion", "*")
    with pytest.raises(PreconditionFailedException):
        service.remove_permission("shared", 1, "everyone", revision_id=added["RevisionId"])   # stale
    service.remove_permission("shared", 1, "everyone")
    with pytest.raises(ResourceNotFoundException):
        service.remove_permission("shared", 1, "everyone")
    for bad in [("bad id!", "lambda:GetLayerVersion", "*"), ("ok", "lambda:InvokeFunction", "*"),
                ("ok", "lambda:GetLayerVersion", "someone")]:
        with pytest.raises(ValidationException):
            service.add_permission("shared", 1, *bad)
    with pytest.raises(InvalidParameterValueException):
        service.add_permission("shared", 1, "org", "lambda:GetLayerVersion", "210987654321", "o-abcdefghij")
    with pytest.raises(ResourceNotFoundException):
        service.add_permission("shared", 2, "x", "lambda:GetLayerVersion", "*")
    service.delete("shared", 1)
    service.publish("shared", zip_of({"b": b""}))
    with pytest.raises(ResourceNotFoundException):
        service.get_policy("shared", 2)


def test_layer_folder_with_a_link_leaving_it_is_refused(service: LayerService, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("platform secret")
    folder = tmp_path / "layer" / "python"
    folder.mkdir(parents=True)
    (folder / "ok.py").write_text("X = 1\n")
    (folder / "leak.txt").symlink_to(secret)
    with pytest.raises(InvalidParameterValueException, match="link leaving"):
        service.publish("leaky", tmp_path / "layer")
    assert service.versions("leaky") == []
