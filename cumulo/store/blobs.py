"""Content-addressed code: ``<hex>.zip`` and its read-only extraction ``<hex>/``.

A blob is written once under a temporary name and renamed into place, so a
crash never leaves a half-written package under its final name; the same
holds for extraction. Extracted trees are made read-only (files 0444, or 0555
when executable; folders 0555) so an environment running as an unprivileged
user cannot change the code another environment runs.

With a ``remote`` (a store shared by several nodes: PostgreSQL), every package is also put there,
and a node that lacks one fetches it from there the first time it is needed and keeps it by hash,
like any other: the files under ``root`` are then a per-node cache.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Protocol

from cumulo.errors import InvalidParameterValueException, InvalidZipFileException
from cumulo.model import limits
from cumulo.model.code import CodePackage, safe_member_path

__all__ = ["CodeBlobs", "make_read_only", "remove_tree"]

_CHUNK = 1 << 16


class RemoteCode(Protocol):
    """Where packages are shared between nodes (``store/postgres/documents.py``)."""

    def put_code(self, key: str, zip_bytes: bytes) -> None: ...
    def get_code(self, key: str) -> bytes | None: ...
    def delete_code(self, key: str) -> None: ...


class CodeBlobs:
    def __init__(self, root: Path, remote: RemoteCode | None = None) -> None:
        self.root = root
        self._remote = remote
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)

    def _key(self, code_hex: str) -> str:
        return f"{self.root.name}/{code_hex}"     # functions' code and layers' apart

    def zip_path(self, code_hex: str) -> Path:
        path = self.root / f"{code_hex}.zip"
        if self._remote is not None and not path.exists():
            data = self._remote.get_code(self._key(code_hex))
            if data is not None:
                self._write(path, data)
        return path

    def _write(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def put(self, package: CodePackage) -> None:
        if self._remote is not None:
            self._remote.put_code(self._key(package.sha256_hex), package.zip_bytes)
        target = self.root / f"{package.sha256_hex}.zip"
        if target.exists():
            return
        self._write(target, package.zip_bytes)

    def read(self, code_hex: str) -> bytes:
        return self.zip_path(code_hex).read_bytes()

    def extracted(self, code_hex: str) -> Path:
        """The folder holding the package's files, extracting it on first use."""
        folder = self.root / code_hex
        if folder.is_dir():
            return folder
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".extract-"))
        try:
            data = self.zip_path(code_hex).read_bytes()
            try:
                _extract(data, staging)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError) as exc:
                raise InvalidZipFileException(f"Stored code package {code_hex} cannot be extracted: {exc}") from exc
            make_read_only(staging)
            try:
                os.rename(staging, folder)
            except OSError:
                if not folder.is_dir():   # somebody else won the race: theirs is identical
                    raise
        finally:
            if staging.exists():
                remove_tree(staging)
        return folder

    def unzipped_size(self, code_hex: str) -> int:
        """The stored package's unzipped size (its declared sizes, verified when it was stored)."""
        with zipfile.ZipFile(self.zip_path(code_hex)) as zf:
            return sum(info.file_size for info in zf.infolist())

    def remove(self, code_hex: str) -> None:
        if self._remote is not None:
            self._remote.delete_code(self._key(code_hex))
        (self.root / f"{code_hex}.zip").unlink(missing_ok=True)
        folder = self.root / code_hex
        if folder.exists():
            remove_tree(folder)


def _extract(data: bytes, dest: Path) -> None:
    """Extract with the unzipped limit enforced on bytes actually written."""
    written = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            rel = safe_member_path(info.filename)
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > limits.UNZIPPED_MAX_BYTES:
                        raise InvalidParameterValueException(
                            f"Unzipped size must be smaller than {limits.UNZIPPED_MAX_BYTES} bytes")
                    out.write(chunk)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, 0o555 if mode & 0o111 else 0o444)


def make_read_only(root: Path) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o555)
    os.chmod(root, 0o555)


def remove_tree(root: Path) -> None:
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, stat.S_IRWXU)   # a read-only folder's entries cannot be unlinked
    shutil.rmtree(root)

