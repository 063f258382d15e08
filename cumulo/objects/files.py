"""Objects' bytes: one file each under ``<home>/objects``, named by a random id, written whole.

A body is written to a temporary file and renamed into place before the metadata that names it
commits, so a reader never sees part of an object and a crash leaves at most a file no row names
(``sweep`` removes those at startup). With ``fsync`` (durability "full") the file is flushed to
disk before the rename. Replacing or deleting an object removes its old file once the store
committed; a reader that opened it first keeps reading it (POSIX keeps an open file's bytes).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO, Iterable

__all__ = ["BodyFiles"]

_CHUNK = 1 << 20


class BodyFiles:
    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        self._tmp = root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name

    def _place(self, tmp: Path, fd: int) -> str:
        if self.fsync:
            os.fsync(fd)
        os.close(fd)
        name = uuid.uuid4().hex
        target = self.path(name)
        target.parent.mkdir(exist_ok=True, mode=0o700)
        os.replace(tmp, target)
        return name

    def _open_tmp(self) -> tuple[Path, int]:
        tmp = self._tmp / uuid.uuid4().hex
        return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, data: bytes) -> tuple[str, bytes]:
        """A new file holding ``data``: its name and the data's MD5."""
        tmp, fd = self._open_tmp()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return self._place(tmp, fd), hashlib.md5(data).digest()

    def join(self, names: Iterable[str], ranges: Iterable[tuple[int, int]] | None = None) -> tuple[str, int]:
        """A new file of the named files' bytes, one after another, copied in the kernel
        (``copy_file_range``; never held in memory); with ``ranges``, (start, length) of each."""
        tmp, fd = self._open_tmp()
        total = 0
        try:
            spans = list(ranges) if ranges is not None else None
            for i, name in enumerate(names):
                with open(self.path(name), "rb") as src:
                    start, length = spans[i] if spans is not None else (0, os.fstat(src.fileno()).st_size)
                    total += _copy(src, fd, start, length)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return self._place(tmp, fd), total

    def open(self, name: str) -> BinaryIO:
        return open(self.path(name), "rb")

    def delete(self, *names: str) -> None:
        for name in names:
            try:
                os.unlink(self.path(name))
            except FileNotFoundError:
                pass

    def sweep(self, keep: set[str]) -> int:
        """Remove files no row names (left by a crash between a write and its commit); how many."""
        gone = 0
        for tmp in self._tmp.iterdir():
            tmp.unlink(missing_ok=True)
            gone += 1
        for folder in self.root.iterdir():
            if folder.name == ".tmp" or not folder.is_dir():
                continue
            for f in folder.iterdir():
                if f.name not in keep:
                    f.unlink(missing_ok=True)
                    gone += 1
        return gone


def _copy(src: BinaryIO, fd: int, start: int, length: int) -> int:
    done = 0
    offset = start
    while done < length:
        try:
            n = os.copy_file_range(src.fileno(), fd, min(length - done, 1 << 30), offset)
        except OSError:
            src.seek(offset)
            chunk = src.read(min(length - done, _CHUNK))
            n = len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        if n == 0:
            break
        done += n
        offset += n
    return done
