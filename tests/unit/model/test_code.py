"""Code packages: deterministic packing, loading from folder/zip/bytes, and the zip checks."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.errors import (
    CodeStorageExceededException,
    CumuloError,
    InvalidParameterValueException,
)
from cumulo.model import limits
from cumulo.model.code import CodePackage, check_zip, load_code, pack_directory


# -- helpers ----------------------------------------------------------------------
def make_zip(members: dict[str, bytes], mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def fake_declared_sizes(data: bytes, size: int) -> bytes:
    """Rewrite every member's declared uncompressed size (central directory and local header)."""
    out = bytearray(data)
    pos = 0
    while (pos := out.find(b"PK\x01\x02", pos)) >= 0:
        struct.pack_into("<I", out, pos + 24, size)
        local = struct.unpack_from("<I", out, pos + 42)[0]
        struct.pack_into("<I", out, local + 22, size)
        pos += 4
    return bytes(out)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def names(data: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


TREE = {
    "app.py": b"def handler(event, context):\n    return event\n",
    "pkg/__init__.py": b"",
    "pkg/util.py": b"X = 1\n",
    "data/config.json": b'{"a": 1}',
}


# -- pack_directory ------------------------------------------------------------------
def test_same_tree_gives_same_bytes_despite_mtimes(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    first = pack_directory(root)
    for i, path in enumerate(sorted(root.rglob("*"))):
        os.utime(path, (1_000_000 + i * 7777, 1_500_000_000 + i * 12345))
    assert pack_directory(root) == first


def test_same_tree_in_another_place_written_in_another_order_gives_same_sha(tmp_path: Path) -> None:
    a = write_tree(tmp_path / "a", TREE)
    b = write_tree(tmp_path / "elsewhere" / "b", dict(reversed(list(TREE.items()))))
    assert load_code(a).sha256_hex == load_code(b).sha256_hex


def test_changed_content_changes_the_sha(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    before = load_code(root).code_sha256
    (root / "pkg" / "util.py").write_bytes(b"X = 2\n")
    assert load_code(root).code_sha256 != before


def test_packed_members_are_relative_posix_paths_with_their_content(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    zf = zipfile.ZipFile(io.BytesIO(pack_directory(root)))
    assert sorted(zf.namelist()) == sorted(TREE)
    for name, data in TREE.items():
        assert zf.read(name) == data


def test_entries_are_in_sorted_walk_order(tmp_path: Path) -> None:
    folders = ["zz", "m", "a", "q7", "b2", "k", "c", "x1", "d", "y"]
    root = write_tree(tmp_path / "src", {"top.py": b"", **{f"{d}/f{i}.py": b"" for d in folders for i in (2, 1)}})
    expected = ["top.py"] + [f"{d}/f{i}.py" for d in sorted(folders) for i in (1, 2)]
    assert names(pack_directory(root)) == expected


def test_caches_and_vcs_folders_are_skipped(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {
        **TREE,
        "__pycache__/app.cpython-311.pyc": b"junk",
        "pkg/__pycache__/util.cpython-311.pyc": b"junk",
        ".git/HEAD": b"ref: refs/heads/main",
        ".venv/bin/python": b"",
        ".cumulo/store.db": b"",
    })
    assert sorted(names(pack_directory(root))) == sorted(TREE)


def test_skipping_pycache_does_not_change_the_sha(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    before = pack_directory(root)
    write_tree(root, {"__pycache__/app.cpython-311.pyc": b"compiled"})
    assert pack_directory(root) == before


def test_executable_bit_is_kept(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"bin/tool": b"#!/bin/sh\necho hi\n", "app.py": b""})
    (root / "bin" / "tool").chmod(0o755)
    (root / "app.py").chmod(0o644)
    infos = {i.filename: i for i in zipfile.ZipFile(io.BytesIO(pack_directory(root))).infolist()}
    assert (infos["bin/tool"].external_attr >> 16) & 0o777 == 0o755
    assert (infos["app.py"].external_attr >> 16) & 0o777 == 0o644
    assert stat.S_ISREG(infos["app.py"].external_attr >> 16)


def test_making_a_file_executable_changes_the_sha(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"run.sh": b"echo\n"})
    before = pack_directory(root)
    (root / "run.sh").chmod(0o755)
    assert pack_directory(root) != before


def test_link_inside_the_folder_is_packed_as_its_target_content(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"real.py": b"R = 1\n"})
    (root / "alias.py").symlink_to("real.py")
    zf = zipfile.ZipFile(io.BytesIO(pack_directory(root)))
    assert zf.read("alias.py") == b"R = 1\n"
    assert not stat.S_ISLNK(zf.getinfo("alias.py").external_attr >> 16)


def test_link_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"password")
    root = write_tree(tmp_path / "src", {"app.py": b""})
    (root / "leak.txt").symlink_to(secret)
    with pytest.raises(InvalidParameterValueException) as info:
        pack_directory(root)
    assert "leak.txt" in info.value.message


def test_packing_stops_once_the_zip_is_over_the_upload_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "ZIP_MAX_BYTES", 4096)
    root = write_tree(tmp_path / "src", {"random.bin": os.urandom(10_000)})
    with pytest.raises(CodeStorageExceededException):
        pack_directory(root)


# -- load_code and CodePackage --------------------------------------------------------------
def test_code_sha256_is_base64_of_the_raw_digest() -> None:
    data = make_zip({"app.py": b"x = 1\n"})
    package = CodePackage.from_zip(data)
    assert package.sha256_hex == hashlib.sha256(data).hexdigest()
    assert package.code_sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert len(package.code_sha256) == 44 and package.code_sha256.endswith("=")
    assert package.size == len(data)
    assert package.zip_bytes == data


def test_unzipped_size_is_the_sum_of_member_sizes() -> None:
    package = CodePackage.from_zip(make_zip({"a": b"x" * 1000, "b/c": b"y" * 234, "d": b""}))
    assert package.unzipped_size == 1234


def test_folder_zip_path_and_bytes_load_the_same_package(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    from_folder = load_code(root)
    zip_path = tmp_path / "code.zip"
    zip_path.write_bytes(from_folder.zip_bytes)
    from_path = load_code(zip_path)
    from_str_path = load_code(str(zip_path))
    from_bytes = load_code(from_folder.zip_bytes)
    from_bytearray = load_code(bytearray(from_folder.zip_bytes))
    assert {p.code_sha256 for p in (from_folder, from_path, from_str_path, from_bytes, from_bytearray)} == {
        from_folder.code_sha256
    }
    assert from_path.unzipped_size == sum(len(v) for v in TREE.values())


def test_zip_is_taken_as_is_and_hashed_over_its_bytes(tmp_path: Path) -> None:
    data = make_zip({"app.py": b"print(1)\n"})
    (tmp_path / "f.zip").write_bytes(data)
    assert load_code(tmp_path / "f.zip").sha256_hex == hashlib.sha256(data).hexdigest()


def test_missing_location_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        load_code(tmp_path / "nope")
    assert "nope" in info.value.message


def test_zip_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "code.zip"
    path.write_text("def handler(e, c): pass\n")
    with pytest.raises(InvalidParameterValueException):
        load_code(path)


def test_zip_file_over_the_upload_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip({"r": os.urandom(3000)})
    monkeypatch.setattr(limits, "ZIP_MAX_BYTES", len(data) - 1)
    path = tmp_path / "code.zip"
    path.write_bytes(data)
    with pytest.raises(CodeStorageExceededException):
        load_code(path)
    with pytest.raises(CodeStorageExceededException):
        load_code(data)


def test_zip_exactly_at_the_upload_limit_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip({"r": os.urandom(3000)})
    monkeypatch.setattr(limits, "ZIP_MAX_BYTES", len(data))
    assert load_code(data).size == len(data)


# -- check_zip --------------------------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"hello world", b"PK\x03\x04" + b"\0" * 40, make_zip({"a": b"x" * 100})[:60]])
def test_not_a_zip_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(data)
    assert info.value.message.startswith("Could not unzip uploaded file.")
    assert info.value.status == 400


@given(st.binary(max_size=512))
def test_arbitrary_bytes_give_a_size_or_a_platform_error(data: bytes) -> None:
    try:
        assert check_zip(data) >= 0
    except CumuloError:
        pass


VALID = make_zip({"app.py": b"def handler(e, c):\n    return 1\n", "lib/x.py": b"Y = 2\n" * 20})


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_corrupted_zip_gives_a_size_or_a_platform_error(flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID)
    for pos, value in flips:
        data[pos] = value
    try:
        assert check_zip(bytes(data)) >= 0
    except CumuloError:
        pass


def test_zip_declaring_an_unsupported_zip_version_is_an_invalid_zip() -> None:
    data = bytearray(make_zip({"app.py": b"x = 1\n"}))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 6, 99)     # "version needed to extract": 9.9
    with pytest.raises(InvalidParameterValueException):
        check_zip(bytes(data))


@pytest.mark.parametrize(
    "member",
    ["../evil.py", "a/../../evil.py", "/etc/cron.d/evil", "..\\evil.py", "lib/..\\..\\evil.py", ".."],
)
def test_members_escaping_the_code_folder_are_refused(member: str) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(make_zip({"app.py": b"", member: b"x"}))
    assert "unsafe path" in info.value.message


def test_ordinary_nested_members_are_accepted() -> None:
    assert check_zip(make_zip({"a/b/c/d.py": b"abc", "./e.py": b"", "f..g.py": b"1"})) == 4


def test_symlink_entry_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", b"")
        link = zipfile.ZipInfo("config")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, b"/etc/passwd")
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(buf.getvalue())
    assert "symbolic link" in info.value.message


def test_encrypted_entry_is_refused() -> None:
    data = bytearray(make_zip({"secret.py": b"x = 1\n"}))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, struct.unpack_from("<H", data, central + 8)[0] | 0x1)
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(bytes(data))
    assert "encrypted" in info.value.message


def test_declared_unzipped_size_over_250mb_is_refused() -> None:
    data = fake_declared_sizes(make_zip({"big.bin": b"0" * 100}), limits.UNZIPPED_MAX_BYTES + 1)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("big.bin").file_size == 250 * 1024 * 1024 + 1
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(data)
    assert info.value.message == "Unzipped size must be smaller than 262144000 bytes"


def test_sizes_of_all_members_count_towards_the_limit() -> None:
    each = limits.UNZIPPED_MAX_BYTES // 2 + 1
    data = fake_declared_sizes(make_zip({"a.bin": b"0", "b.bin": b"1"}), each)
    with pytest.raises(InvalidParameterValueException):
        check_zip(data)


def test_declared_size_that_lies_is_refused_even_under_the_limit() -> None:
    data = fake_declared_sizes(make_zip({"big.bin": b"0" * 100}), limits.UNZIPPED_MAX_BYTES - 1)
    with pytest.raises(InvalidParameterValueException):
        check_zip(data)


def test_real_unzipped_size_is_returned() -> None:
    assert check_zip(make_zip({"a.bin": b"0" * 3_000_000, "b.py": b"x = 1\n"})) == 3_000_006


def _empty_members(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(count):
            zf.writestr(f"f/{i}", b"")
    return buf.getvalue()


def test_more_than_20000_entries_is_refused() -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(_empty_members(limits.ZIP_MAX_ENTRIES + 1))
    assert "20001 entries" in info.value.message
    assert "20000" in info.value.message


def test_exactly_20000_entries_is_accepted() -> None:
    assert limits.ZIP_MAX_ENTRIES == 20_000
    assert check_zip(_empty_members(20_000)) == 0


# -- hostile zips: each attack is refused before anything is extracted --------------------
def _raw_zip(entries: list[tuple[str, bytes, int]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip with exactly these (name, data, st_mode) entries, duplicates allowed."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # zipfile warns about duplicate names
        with zipfile.ZipFile(buf, "w", method) as zf:
            for name, data, st_mode in entries:
                info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
                info.external_attr = st_mode << 16
                info.compress_type = method
                zf.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize("entries", [
    [("app.py", b"1", stat.S_IFREG | 0o644), ("app.py", b"2", stat.S_IFREG | 0o644)],
    [("app.py", b"1", stat.S_IFREG | 0o644), ("./app.py", b"2", stat.S_IFREG | 0o644)],
    [("lib/x.py", b"1", stat.S_IFREG | 0o644), ("lib//x.py", b"2", stat.S_IFREG | 0o644)],
], ids=["same-name", "dot-slash-alias", "double-slash-alias"])
def test_duplicate_entries_are_refused(entries: list[tuple[str, bytes, int]]) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(_raw_zip(entries))
    assert "more than once" in info.value.message


@pytest.mark.parametrize("entries", [
    [("lib", b"file", stat.S_IFREG | 0o644), ("lib/x.py", b"1", stat.S_IFREG | 0o644)],
    [("lib/x.py", b"1", stat.S_IFREG | 0o644), ("lib", b"file", stat.S_IFREG | 0o644)],
    [("lib/", b"", stat.S_IFDIR | 0o755), ("lib", b"file", stat.S_IFREG | 0o644)],
], ids=["file-then-child", "child-then-file", "folder-then-file"])
def test_a_path_that_is_both_file_and_folder_is_refused(entries: list[tuple[str, bytes, int]]) -> None:
    with pytest.raises(InvalidParameterValueException):
        check_zip(_raw_zip(entries))


def test_repeated_folder_entries_are_harmless() -> None:
    assert check_zip(_raw_zip([("lib/", b"", stat.S_IFDIR | 0o755), ("lib/", b"", stat.S_IFDIR | 0o755),
                               ("lib/x.py", b"12", stat.S_IFREG | 0o644)])) == 2


@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK])
def test_device_fifo_and_socket_entries_are_refused(kind: int) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(_raw_zip([("dev", b"", kind | 0o644)]))
    assert "not a regular file" in info.value.message


def test_symlink_pointing_out_of_the_tree_is_refused_with_invalid_parameter_value() -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(_raw_zip([("python/evil", b"../../../../etc/shadow", stat.S_IFLNK | 0o777)]))
    assert info.value.type == "InvalidParameterValueException"
    assert "symbolic link" in info.value.message


@pytest.mark.parametrize("member", ["a" * 256, "/".join(["d"] * 600)])
def test_overlong_names_are_refused(member: str) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(make_zip({member: b"x"}))
    assert "unsafe path" in info.value.message


def test_high_compression_ratio_is_refused_as_a_zip_bomb() -> None:
    bomb = _raw_zip([("bomb.bin", b"\0" * (8 << 20), stat.S_IFREG | 0o644)])   # zeros deflate ~1000:1
    assert zipfile.ZipFile(io.BytesIO(bomb)).infolist()[0].compress_size < 10_000
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(bomb)
    assert "zip bomb" in info.value.message


def test_small_very_compressible_files_are_fine() -> None:
    assert check_zip(make_zip({"spaces.txt": b" " * 500_000})) == 500_000


def test_compressible_but_ordinary_ratio_is_accepted() -> None:
    text = b"".join(b"line %d of some ordinary python source\n" % i for i in range(60_000))
    assert len(text) > 1 << 20
    data = _raw_zip([("big.py", text, stat.S_IFREG | 0o644)])
    assert zipfile.ZipFile(io.BytesIO(data)).infolist()[0].compress_size < len(text) // 5
    assert check_zip(data) == len(text)


def test_total_uncompressed_size_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "UNZIPPED_MAX_BYTES", 3 << 20)
    data = make_zip({f"part{i}.bin": os.urandom(1 << 20) for i in range(4)})
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(data)
    assert "Unzipped size must be smaller than" in info.value.message


def test_overlapping_entries_bomb_is_refused() -> None:
    """Two central-directory entries pointing at the same local data (the non-recursive bomb)."""
    data = bytearray(_raw_zip([("a.bin", b"x" * 1000, stat.S_IFREG | 0o644), ("b.bin", b"x" * 1000, stat.S_IFREG | 0o644)]))
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    struct.pack_into("<I", data, second + 42, struct.unpack_from("<I", data, first + 42)[0])
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(bytes(data))
    assert "overlapping" in info.value.message


def test_too_many_files_is_refused_with_invalid_parameter_value() -> None:
    with pytest.raises(InvalidParameterValueException):
        check_zip(_empty_members(limits.ZIP_MAX_ENTRIES + 1))


def test_nothing_is_written_when_a_hostile_zip_is_refused(tmp_path: Path) -> None:
    """load_code checks before anything is stored; the store's extraction never sees it."""
    from cumulo.store.blobs import CodeBlobs

    blobs = CodeBlobs(tmp_path / "code")
    for data in (make_zip({"../escape.py": b"x"}), _raw_zip([("x", b"/etc", stat.S_IFLNK | 0o777)]),
                 _raw_zip([("bomb.bin", b"\0" * (8 << 20), stat.S_IFREG | 0o644)])):
        with pytest.raises(InvalidParameterValueException):
            blobs.put(load_code(data))
    assert sorted(os.listdir(tmp_path / "code")) == []
    assert not (tmp_path / "escape.py").exists()


@pytest.mark.parametrize("entries", [
    [(".", b"data", stat.S_IFREG | 0o644)],
    [("lib", b"", stat.S_IFDIR | 0o755), ("lib/x.py", b"1", stat.S_IFREG | 0o644)],
], ids=["file-named-dot", "folder-mode-without-slash"])
def test_entries_extraction_would_misread_are_refused(entries: list[tuple[str, bytes, int]]) -> None:
    with pytest.raises(InvalidParameterValueException):
        check_zip(_raw_zip(entries))


def test_every_accepted_zip_extracts(tmp_path: Path) -> None:
    """What check_zip accepts, the store can extract: folders given with and without entries."""
    from cumulo.store.blobs import CodeBlobs

    data = _raw_zip([("lib/", b"", stat.S_IFDIR | 0o755), ("lib/a.py", b"A", stat.S_IFREG | 0o644),
                     ("./top.py", b"T", stat.S_IFREG | 0o644), ("deep/er/b.py", b"B", 0)])
    package = load_code(data)
    blobs = CodeBlobs(tmp_path / "code")
    blobs.put(package)
    folder = blobs.extracted(package.sha256_hex)
    assert (folder / "lib/a.py").read_bytes() == b"A" and (folder / "top.py").read_bytes() == b"T"
    assert (folder / "deep/er/b.py").read_bytes() == b"B"


_PART = st.sampled_from(["a", "b", ".", "..", "", "c.py"])
_NAME = st.lists(_PART, min_size=1, max_size=4).map("/".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_NAME, st.sampled_from([stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755, 0])), max_size=6))
def test_whatever_check_zip_accepts_extracts_inside_the_folder(entries: list[tuple[str, int]]) -> None:
    import tempfile

    from cumulo.store.blobs import CodeBlobs

    data = _raw_zip([(name, b"" if mode & stat.S_IFDIR else b"x", mode) for name, mode in entries])
    try:
        package = CodePackage.from_zip(data)
    except InvalidParameterValueException:
        return
    with tempfile.TemporaryDirectory() as tmp:
        blobs = CodeBlobs(Path(tmp) / "code")
        blobs.put(package)
        folder = blobs.extracted(package.sha256_hex)
        for dirpath, _, filenames in os.walk(folder):
            for f in filenames:
                assert Path(dirpath, f).resolve().is_relative_to(folder.resolve())
        assert sorted(os.listdir(Path(tmp) / "code")) == sorted([f"{package.sha256_hex}.zip", package.sha256_hex])


def test_deep_unique_paths_implying_too_many_folders_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few entries, each deep and unique: creating their folders would exhaust inodes."""
    monkeypatch.setattr(limits, "ZIP_MAX_ENTRIES", 100)
    deep = "/".join(["d"] * 60)
    data = _raw_zip([(f"top{i}/{deep}/f.py", b"", stat.S_IFREG | 0o644) for i in range(3)])
    with pytest.raises(InvalidParameterValueException) as info:
        check_zip(data)
    assert "folders" in info.value.message
    assert check_zip(_raw_zip([(f"top{i}/{deep}/f.py", b"", stat.S_IFREG | 0o644) for i in range(1)])) == 0
