"""The store's master key and sealing: what is secret is kept encrypted, never in the clear.

One 256-bit master key per store, outside the databases: ``<home>/master.key`` (0600, made at the
first start), or another file (``CUMULO_MASTER_KEY_FILE``), or the key itself in base64
(``CUMULO_MASTER_KEY``) for deployments that keep it elsewhere. ``seal`` encrypts with AES-256-GCM
(``cryptography``, a vetted library) under a fresh 96-bit nonce; the *context* (e.g. the secret's
ARN and version) is authenticated data, so a sealed value copied into another place does not open.

The store keeps a sealed check value (document ``keyring/check``): a start with another key, or
without the key file where one was used before, is refused (``KeyringError``) — never a new key
over data the old one sealed. docs/secrets.md says what losing the key means and how to rotate it.

Rotating the key (``cumulo store rotate-key``; ``Resealer`` here, ``Store.reseal`` in one transaction)
stages the new key beside the key file as ``<file>.next`` first: a start that finds the store
sealed with the ``.next`` key (the process died between the commit and putting the new key in
place) finishes the switch; one that finds it sealed with the old key (it died before the commit,
which then left nothing) goes on with the old key.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cumulo.ports import Documents

__all__ = ["Keyring", "KeyringError", "SealedValueError", "Resealer", "KEY_BYTES", "load_key", "next_key_path",
           "stage_key_file", "finish_switch", "reseal_check", "CHECK_KIND"]

KEY_BYTES = 32
_VERSION = b"\x01"                 # the format of what seal() answers: version, nonce, ciphertext and tag
_NONCE = 12
_CHECK_KIND, _CHECK_ID = "keyring", "check"
CHECK_KIND = _CHECK_KIND
_CHECK_PLAIN = b"cumulo master key check"


class KeyringError(RuntimeError):
    """The master key is missing, damaged or not the one the store's sealed values were made with."""


class SealedValueError(Exception):
    """A sealed value that does not open with this key in this context (damaged or moved)."""


def _write_private(path: Path, key: bytes) -> Path:
    """``key`` in base64 in a fresh file (0600, synced) beside ``path``; its name."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return fresh


def _sync_folder(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def next_key_path(path: Path) -> Path:
    """Where a rotation stages the key that replaces the one in ``path`` (``<file>.next``)."""
    return path.with_name(path.name + ".next")


def stage_key_file(path: Path, key: bytes) -> None:
    """``key`` written whole to ``path`` (0600, synced, renamed into place over what was there)."""
    fresh = _write_private(path, key)
    os.replace(fresh, path)
    _sync_folder(path)


def finish_switch(path: Path) -> None:
    """A committed rotation's staged key (``<path>.next``) put in place of ``path``."""
    os.replace(next_key_path(path), path)
    _sync_folder(path)


def _make_key_file(path: Path) -> None:
    fresh = _write_private(path, secrets.token_bytes(KEY_BYTES))
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
        """The store's keyring, its key checked against the store's check value (made at the first start).
        A rotation's staged ``<path>.next`` that opens the store (the rotation committed, its process
        died before putting the key in place) is put in place now."""
        check = documents.get_document(_CHECK_KIND, _CHECK_ID)
        pending = next_key_path(path)
        key, _ = load_key(path, create=check is None, inline=inline)
        ring = cls(key)
        if check is None:
            documents.put_document(_CHECK_KIND, _CHECK_ID, {"sealed": ring.seal(_CHECK_PLAIN, "keyring-check")})
            return ring
        if ring.opens(check):       # a staged .next the store does not open: a rotation that never committed
            return ring
        if not inline and pending.exists():
            staged = cls(_decode(pending.read_bytes(), str(pending)))
            if staged.opens(check):         # a rotation committed: finish its switch
                finish_switch(path)
                return staged
        source = "CUMULO_MASTER_KEY" if inline else str(path)
        rotated = f" (its key was rotated on {check['rotated']})" if check.get("rotated") else ""
        raise KeyringError(f"the master key ({source}) is not the one this store's values were sealed with{rotated}; "
                           "refusing to start (give the right key: a new one cannot read them)")

    def opens(self, check: dict[str, Any]) -> bool:
        """Whether this key opens the store's check value (the document ``keyring/check``)."""
        try:
            return self.open_sealed(str(check.get("sealed", "")), "keyring-check") == _CHECK_PLAIN
        except SealedValueError:
            return False

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


class Resealer:
    """What a key rotation does to each sealed value: opened with the old key, sealed again with the
    new one in the same context. A value the old key does not open raises ``SealedValueError``
    naming its context, which rolls the whole rotation back (nothing is half rotated)."""

    def __init__(self, old: Keyring, new: Keyring) -> None:
        self.old, self.new = old, new
        self.count = 0

    def __call__(self, sealed: str, context: str) -> str:
        try:
            plain = self.old.open_sealed(sealed, context)
        except SealedValueError:
            raise SealedValueError(f"a value sealed as {context!r} does not open with the current key") from None
        self.count += 1
        return self.new.seal(plain, context)

    def seal(self, plain: bytes, context: str) -> str:
        """A value kept in the clear until now (written before sealing began), sealed with the new key."""
        self.count += 1
        return self.new.seal(plain, context)


def reseal_check(doc: dict[str, Any], reseal: Resealer, when: str) -> dict[str, Any]:
    """The store's check value, sealed with the new key (and the day of the rotation, for the refusal's text)."""
    return {**doc, "sealed": reseal(str(doc.get("sealed", "")), "keyring-check"), "rotated": when}
