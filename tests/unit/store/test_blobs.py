"""Content-addressed code blobs: idempotent put, read-only extraction, removal, limits on extraction."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from cumulo.errors import InvalidParameterValueException, CumuloError
from cumulo.model import limits
from cumulo.model.code import CodePackage, load_code
from cumulo.store.blobs import CodeBlobs


def make_zip(members: dict[str, tuple[bytes, int]], dirs: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for d in dirs:
            zf.writestr(zipfile.ZipInfo(d), b"")
        for name, (data, mode) in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, data)
    return buf.getvalue()


PACKAGE = CodePackage.from_zip(make_zip({
    "app.py": (b"def handler(e, c):\n    return 1\n", 0o644),
    "lib/helper.py": (b"H = 1\n", 0o600),
    "bin/tool": (b"#!/bin/sh\necho tool\n", 0o755),
}))


@pytest.fixture
def blobs(tmp_path: Path) -> CodeBlobs:
    return CodeBlobs(tmp_path / "code")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(blobs: CodeBlobs) -> list[str]:
    return sorted(p.name for p in blobs.root.iterdir() if p.name.startswith("."))


# -- put / read --------------------------------------------------------------------
def test_put_stores_the_zip_under_its_hex_digest(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    assert blobs.zip_path(PACKAGE.sha256_hex) == blobs.root / f"{PACKAGE.sha256_hex}.zip"
    assert blobs.read(PACKAGE.sha256_hex) == PACKAGE.zip_bytes
    assert leftovers(blobs) == []


def test_put_is_idempotent(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    path = blobs.zip_path(PACKAGE.sha256_hex)
    inode = path.stat().st_ino
    blobs.put(PACKAGE)
    assert path.stat().st_ino == inode          # not rewritten
    assert blobs.read(PACKAGE.sha256_hex) == PACKAGE.zip_bytes
    assert sorted(p.name for p in blobs.root.iterdir()) == [f"{PACKAGE.sha256_hex}.zip"]


def test_different_packages_get_different_blobs(blobs: CodeBlobs) -> None:
    other = CodePackage.from_zip(make_zip({"app.py": (b"other", 0o644)}))
    blobs.put(PACKAGE)
    blobs.put(other)
    assert blobs.read(PACKAGE.sha256_hex) == PACKAGE.zip_bytes
    assert blobs.read(other.sha256_hex) == other.zip_bytes


def test_reading_a_missing_blob_fails(blobs: CodeBlobs) -> None:
    with pytest.raises(FileNotFoundError):
        blobs.read("00" * 32)


# -- extraction --------------------------------------------------------------------
def test_extracted_folder_holds_the_files(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    folder = blobs.extracted(PACKAGE.sha256_hex)
    assert folder == blobs.root / PACKAGE.sha256_hex
    assert (folder / "app.py").read_bytes() == b"def handler(e, c):\n    return 1\n"
    assert (folder / "lib" / "helper.py").read_bytes() == b"H = 1\n"
    assert (folder / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho tool\n"
    assert leftovers(blobs) == []


def test_extracted_tree_is_read_only_and_keeps_the_executable_bit(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    folder = blobs.extracted(PACKAGE.sha256_hex)
    assert mode(folder / "app.py") == 0o444
    assert mode(folder / "lib" / "helper.py") == 0o444        # readable by others even if 0600 in the zip
    assert mode(folder / "bin" / "tool") == 0o555
    assert mode(folder) == 0o555
    assert mode(folder / "lib") == 0o555
    assert mode(folder / "bin") == 0o555


def test_extracting_again_reuses_the_folder(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    first = blobs.extracted(PACKAGE.sha256_hex)
    inode = (first / "app.py").stat().st_ino
    second = blobs.extracted(PACKAGE.sha256_hex)
    assert second == first
    assert (second / "app.py").stat().st_ino == inode


def test_directory_entries_in_the_zip_are_created(blobs: CodeBlobs) -> None:
    package = CodePackage.from_zip(make_zip({"pkg/mod.py": (b"M = 1\n", 0o644)}, dirs=("pkg/", "empty/")))
    blobs.put(package)
    folder = blobs.extracted(package.sha256_hex)
    assert (folder / "empty").is_dir()
    assert (folder / "pkg" / "mod.py").read_bytes() == b"M = 1\n"
    assert mode(folder / "empty") == 0o555


def test_packed_folder_round_trips_through_the_store(blobs: CodeBlobs, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "app.py").write_text("A = 1\n")
    (src / "pkg" / "run").write_text("#!/bin/sh\n")
    (src / "pkg" / "run").chmod(0o755)
    package = load_code(src)
    blobs.put(package)
    folder = blobs.extracted(package.sha256_hex)
    assert (folder / "app.py").read_text() == "A = 1\n"
    assert os.access(folder / "pkg" / "run", os.X_OK)
    assert mode(folder / "app.py") & 0o222 == 0


def test_extraction_enforces_the_unzipped_limit_on_bytes_written(blobs: CodeBlobs, monkeypatch: pytest.MonkeyPatch) -> None:
    package = CodePackage.from_zip(make_zip({"a.bin": (b"a" * 600, 0o644), "b.bin": (b"b" * 600, 0o644)}))
    blobs.put(package)
    monkeypatch.setattr(limits, "UNZIPPED_MAX_BYTES", 1000)
    with pytest.raises(InvalidParameterValueException) as info:
        blobs.extracted(package.sha256_hex)
    assert "Unzipped size must be smaller than 1000 bytes" in info.value.message
    assert not (blobs.root / package.sha256_hex).exists()
    assert leftovers(blobs) == []                        # the half-extracted staging folder is gone


def test_extraction_refuses_a_zip_whose_declared_sizes_lie(blobs: CodeBlobs, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member declaring 10 bytes but holding 5,000: never a folder, and a platform error."""
    honest = make_zip({"a.bin": (b"a" * 5000, 0o644)})
    data = bytearray(honest)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)
    struct.pack_into("<I", data, struct.unpack_from("<I", data, central + 42)[0] + 22, 10)
    with pytest.raises(InvalidParameterValueException):
        CodePackage.from_zip(bytes(data))   # refused at upload …
    package = CodePackage(bytes(data), hashlib.sha256(bytes(data)).hexdigest(), 10)
    blobs.put(package)                      # … and, were it stored anyway, at extraction
    monkeypatch.setattr(limits, "UNZIPPED_MAX_BYTES", 1000)
    with pytest.raises(CumuloError):
        blobs.extracted(package.sha256_hex)
    assert not (blobs.root / package.sha256_hex).exists()
    assert leftovers(blobs) == []


def test_extracting_an_unknown_blob_fails_without_leaving_anything(blobs: CodeBlobs) -> None:
    with pytest.raises(FileNotFoundError):
        blobs.extracted("ab" * 32)
    assert list(blobs.root.iterdir()) == []


# -- removal ------------------------------------------------------------------------
def test_remove_deletes_zip_and_read_only_tree(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    folder = blobs.extracted(PACKAGE.sha256_hex)
    blobs.remove(PACKAGE.sha256_hex)
    assert not folder.exists()
    assert not blobs.zip_path(PACKAGE.sha256_hex).exists()
    assert list(blobs.root.iterdir()) == []


def test_remove_of_never_extracted_or_missing_blob_is_harmless(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    blobs.remove(PACKAGE.sha256_hex)
    blobs.remove(PACKAGE.sha256_hex)
    blobs.remove("cd" * 32)
    assert list(blobs.root.iterdir()) == []


def test_removed_blob_can_be_put_and_extracted_again(blobs: CodeBlobs) -> None:
    blobs.put(PACKAGE)
    blobs.extracted(PACKAGE.sha256_hex)
    blobs.remove(PACKAGE.sha256_hex)
    blobs.put(PACKAGE)
    assert (blobs.extracted(PACKAGE.sha256_hex) / "app.py").is_file()


def test_remove_leaves_other_blobs_alone(blobs: CodeBlobs) -> None:
    other = CodePackage.from_zip(make_zip({"app.py": (b"other", 0o644)}))
    for p in (PACKAGE, other):
        blobs.put(p)
        blobs.extracted(p.sha256_hex)
    blobs.remove(PACKAGE.sha256_hex)
    assert (blobs.extracted(other.sha256_hex) / "app.py").read_bytes() == b"other"
    assert blobs.read(other.sha256_hex) == other.zip_bytes


def test_store_root_is_created_world_readable(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "code"
    CodeBlobs(root)
    assert root.is_dir()
    assert mode(root) == 0o755
