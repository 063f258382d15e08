"""The store's master key and sealing: what is secret is kept encrypted, never in the clear.

One 256-bit master key per store, outside the databases: ``<home>/master.key`` (0600, made at the
first start), or another file (``CUMULO_MASTER_KEY_FILE``), or the key itself in base64
(``CUMULO_MASTER_KEY``) for deployments that keep it elsewhere. ``seal`` encrypts with AES-256-GCM
(``cryptography``, a vetted library) under a fresh 96-bit nonce; the *context* (e.g. the secret's
ARN and version) is authenticated data, so a sealed value copied into another place does not open.

The store keeps a sealed check value (document ``keyring/check``): a start with another key, or
without the key file where one was used before, is refused (``KeyringError``) — never a new key
over data the old one sealed. docs/secrets.md says what losing the key means and how to rotate it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cumulo.ports import Documents

__all__ = ["Keyring", "KeyringError", "SealedValueError", "KEY_BYTES", "load_key"]

KEY_BYTES = 32
_VERSION = b"\x01"                 # the format of what seal() answers: version, nonce, ciphertext and tag
_NONCE = 12
_CHECK_KIND, _CHECK_ID = "keyring", "check"
_CHECK_PLAIN = b"cumulo master key check"


class KeyringError(RuntimeError):
    """The master key is missing, damaged or not the one the store's sealed values were made with."""


class SealedValueError(Exception):
    """A sealed value that does not open with this key in this context (damaged or moved)."""


def _make_key_file(path: Path) -> None:
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(fresh, path)       # another process made it first: theirs is the key
    except FileExistsError:
        pass
    finally:
        os.unlink(fresh)


def _decode(text: bytes, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyringError(f"{where} is not a master key (it must be {KEY_BYTES} bytes in base64)")
    return key


def load_key(path: Path, create: bool, inline: str = "") -> tuple[bytes, bool]:
    """The master key (and whether it was made now): ``inline`` (base64) when given, else the file
    at ``path``, made (0600) when ``create`` and there is none."""
    if inline:
        return _decode(inline.encode(), "CUMULO_MASTER_KEY"), False
    made = False
    if not path.exists():
        if not create:
            raise KeyringError(f"the master key {path} is missing, and this store holds values sealed with it: "
                               "restore the file (or give CUMULO_MASTER_KEY / CUMULO_MASTER_KEY_FILE); "
                               "without it they cannot be read")
        _make_key_file(path)
        made = True
    mode = path.stat().st_mode & 0o777
    if mode & 0o077 and path.stat().st_uid == os.geteuid():
        path.chmod(0o600)      # readable by the server's user only
    return _decode(path.read_bytes(), str(path)), made


class Keyring:
    """Seals and opens values with the store's master key (see the module's text)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyringError(f"a master key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def open(cls, documents: Documents, path: Path, inline: str = "") -> "Keyring":
        """The store's keyring, its key checked against the store's check value (made at the first start)."""
        check = documents.get_document(_CHECK_KIND, _CHECK_ID)
        key, _ = load_key(path, create=check is None, inline=inline)
        ring = cls(key)
        if check is None:
            documents.put_document(_CHECK_KIND, _CHECK_ID, {"sealed": ring.seal(_CHECK_PLAIN, "keyring-check")})
            return ring
        try:
            if ring.open_sealed(str(check.get("sealed", "")), "keyring-check") != _CHECK_PLAIN:
                raise SealedValueError()
        except SealedValueError:
            source = "CUMULO_MASTER_KEY" if inline else str(path)
            raise KeyringError(f"the master key ({source}) is not the one this store's values were sealed with; "
                               "refusing to start (give the right key: a new one cannot read them)") from None
        return ring

    def seal(self, plain: bytes, context: str) -> str:
        """``plain`` encrypted and authenticated, bound to ``context``: base64 text for a document."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, plain, context.encode())
        return base64.b64encode(_VERSION + nonce + sealed).decode()

    def open_sealed(self, sealed: str, context: str) -> bytes:
        """What ``seal(plain, context)`` sealed; ``SealedValueError`` for anything else."""
        try:
            raw = base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            raise SealedValueError("not a sealed value") from None
        if len(raw) < 1 + _NONCE + 16 or raw[:1] != _VERSION:
            raise SealedValueError("not a sealed value")
        try:
            return self._aead.decrypt(raw[1:1 + _NONCE], raw[1 + _NONCE:], context.encode())
        except InvalidTag:
            raise SealedValueError("the sealed value does not open with this key in this context") from None
