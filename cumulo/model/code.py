"""Code packages: a zip archive, as Lambda stores it, with its checks.

A folder is packed into a deterministic zip (sorted entries, fixed timestamps)
so the same sources always give the same ``CodeSha256``. A zip is taken as is
and its SHA-256 is that of its bytes, as AWS computes it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cumulo.errors import CodeStorageExceededException, CumuloError, InvalidParameterValueException
from cumulo.model import limits

__all__ = ["CodePackage", "pack_directory", "load_code", "check_zip"]

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".git", ".cumulo", ".venv"}


@dataclass(frozen=True)
class CodePackage:
    zip_bytes: bytes
    sha256_hex: str
    unzipped_size: int

    @property
    def code_sha256(self) -> str:
        """AWS's ``CodeSha256``: base64 of the raw digest."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()

    @property
    def size(self) -> int:
        return len(self.zip_bytes)

    @classmethod
    def from_zip(cls, data: bytes) -> "CodePackage":
        unzipped = check_zip(data)
        return cls(data, hashlib.sha256(data).hexdigest(), unzipped)


def pack_directory(root: Path) -> bytes:
    """Zip a folder deterministically. Symlinks are followed only inside ``root``."""
    root = root.resolve()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for fname in sorted(filenames):
                path = Path(dirpath, fname)
                real = path.resolve()
                if not real.is_relative_to(root):
                    raise InvalidParameterValueException(f"Code folder contains a link leaving it: {path.relative_to(root)}")
                if not real.is_file():
                    continue
                info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _FIXED_DATE)
                mode = 0o755 if os.access(real, os.X_OK) else 0o644
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, real.read_bytes())
                if buf.tell() > limits.ZIP_MAX_BYTES:
                    raise _too_big(buf.tell())
    return buf.getvalue()


def load_code(source: str | os.PathLike[str] | bytes) -> CodePackage:
    """Accept a folder, a zip file's path, or zip bytes."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if path.is_dir():
            data = pack_directory(path)
        elif path.is_file():
            if path.stat().st_size > limits.ZIP_MAX_BYTES:
                raise _too_big(path.stat().st_size)
            data = path.read_bytes()
        else:
            raise InvalidParameterValueException(f"Code location not found: {path}")
    if len(data) > limits.ZIP_MAX_BYTES:
        raise _too_big(len(data))
    return CodePackage.from_zip(data)


def _too_big(size: int) -> CodeStorageExceededException:
    return CodeStorageExceededException(
        f"Unzipped size must be smaller than {limits.UNZIPPED_MAX_BYTES} bytes"
        if size > limits.ZIP_MAX_BYTES * 5
        else f"Request must be smaller than {limits.ZIP_MAX_BYTES} bytes for the CreateFunction operation"
    )


def check_zip(data: bytes) -> int:
    """Validate a zip completely, as hostile input; return its unzipped size.

    Code packages and layers come from callers we do not trust, so nothing is
    extracted until this has passed. Refused, each with an
    ``InvalidParameterValueException`` (the type AWS answers unusable packages
    with): paths that would leave the folder (absolute, ``..``, NUL, over-long
    names), links and other non-regular entries, encrypted entries, the same
    path twice (or a path that is a file in one entry and a folder in another),
    entries sharing their data (the overlapping-entries zip bomb), entries
    expanding more than ``ZIP_MAX_RATIO`` times, more than ``ZIP_MAX_ENTRIES``
    entries, and contents over the unzipped limit. Every member is read and its
    CRC checked, with the limit counted on bytes actually produced (declared
    sizes can lie), so nothing accepted here can fail later at extraction.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
        if len(infos) > limits.ZIP_MAX_ENTRIES:
            raise _refused(f"Zip file has {len(infos)} entries; the limit is {limits.ZIP_MAX_ENTRIES}.")
        _check_entries(infos)
        declared = sum(info.file_size for info in infos)
        if declared > limits.UNZIPPED_MAX_BYTES:
            raise _unzipped_too_big()
        total = 0
        for info in infos:
            produced = 0
            with zf.open(info) as member:
                while chunk := member.read(1 << 20):
                    produced += len(chunk)
                    if total + produced > limits.UNZIPPED_MAX_BYTES:
                        raise _unzipped_too_big()
                    if produced > _RATIO_FLOOR and produced > limits.ZIP_MAX_RATIO * max(info.compress_size, 1):
                        raise _refused(f"Zip entry {info.filename!r} expands more than {limits.ZIP_MAX_RATIO} "
                                       "times its compressed size (a zip bomb?).")
            if produced != info.file_size:
                raise _refused(f"Zip entry {info.filename!r} declares {info.file_size} bytes but holds {produced}.")
            total += produced
    except CumuloError:
        raise
    except Exception as exc:  # BadZipFile, bad CRC, unsupported method/version, truncated data …
        raise _refused(f"Could not unzip uploaded file. Please check your file, then try to upload again. ({exc})") from exc
    return total


# Small entries may compress extremely well (a file of spaces) without being a threat.
_RATIO_FLOOR = 1 << 20
_NAME_MAX = 255        # one path component, as Linux allows it
_PATH_MAX = 1024


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    """Per-entry checks that need no decompression: paths, types, duplicates, shared data."""
    files: set[PurePosixPath] = set()
    folders: set[PurePosixPath] = set()
    offsets: set[int] = set()
    for info in infos:
        path = safe_member_path(info.filename)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise _refused(f"Zip entry {info.filename!r} is a symbolic link; links are not allowed.")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refused(f"Zip entry {info.filename!r} is not a regular file or folder.")
        if info.flag_bits & 0x1:
            raise _refused(f"Zip entry {info.filename!r} is encrypted.")
        if info.header_offset in offsets:
            raise _refused(f"Zip entry {info.filename!r} shares its data with another entry (overlapping entries).")
        offsets.add(info.header_offset)
        is_dir = info.is_dir()          # what extraction goes by: a trailing slash
        if kind == stat.S_IFDIR and not is_dir:
            raise _refused(f"Zip entry {info.filename!r} is marked as a folder but named as a file.")
        if path == PurePosixPath("."):
            if is_dir:
                continue
            raise _refused(f"Zip entry {info.filename!r} has an unsafe path.")
        if path in files or (not is_dir and path in folders):
            raise _refused(f"Zip entry {info.filename!r} appears more than once.")
        (folders if is_dir else files).add(path)
        for parent in path.parents:
            if parent in files:
                raise _refused(f"Zip entry {info.filename!r} is inside {parent.as_posix()!r}, which is a file.")
            folders.add(parent)
        if len(folders) > limits.ZIP_MAX_ENTRIES:   # deep unique paths would make millions of folders
            raise _refused(f"Zip file implies more than {limits.ZIP_MAX_ENTRIES} folders.")
    clash = files & folders
    if clash:
        raise _refused(f"Zip entry {min(clash).as_posix()!r} is both a file and a folder.")


def _refused(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def _unzipped_too_big() -> InvalidParameterValueException:
    return InvalidParameterValueException(f"Unzipped size must be smaller than {limits.UNZIPPED_MAX_BYTES} bytes")


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path a zip member may be written to, or an error."""
    path = PurePosixPath(name.replace("\\", "/"))
    if (path.is_absolute() or ".." in path.parts or not name or "\x00" in name
            or len(name.encode()) > _PATH_MAX or any(len(part.encode()) > _NAME_MAX for part in path.parts)):
        raise _refused(f"Zip entry {name!r} has an unsafe path.")
    return path
