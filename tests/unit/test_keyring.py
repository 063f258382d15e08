"""The master key and sealing (``cumulo/keyring.py``)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.keyring import Keyring, KeyringError, SealedValueError


class Docs:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}

    def get_document(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        return self.docs.get((kind, doc_id))

    def put_document(self, kind: str, doc_id: str, doc: dict[str, Any]) -> None:
        self.docs[(kind, doc_id)] = doc


RING = Keyring(bytes(range(32)))


@given(st.binary(max_size=2000), st.text(max_size=50))
def test_sealed_values_open_in_their_context_only(plain: bytes, context: str) -> None:
    sealed = RING.seal(plain, context)
    assert RING.open_sealed(sealed, context) == plain
    assert plain not in base64.b64decode(sealed) or len(plain) < 4
    with pytest.raises(SealedValueError):
        RING.open_sealed(sealed, context + "x")
    with pytest.raises(SealedValueError):
        Keyring(bytes(32)).open_sealed(sealed, context)


def test_the_key_is_made_once_0600_and_checked_at_each_start(tmp_path: Path) -> None:
    docs, path = Docs(), tmp_path / "master.key"
    ring = Keyring.open(docs, path)             # type: ignore[arg-type]
    assert path.stat().st_mode & 0o777 == 0o600
    sealed = ring.seal(b"v", "c")
    assert Keyring.open(docs, path).open_sealed(sealed, "c") == b"v"   # type: ignore[arg-type]
    with pytest.raises(KeyringError, match="not the one"):
        Keyring.open(docs, path, base64.b64encode(bytes(32)).decode())   # type: ignore[arg-type]
    path.unlink()
    with pytest.raises(KeyringError, match="missing"):
        Keyring.open(docs, path)                # type: ignore[arg-type]
    assert not path.exists()
    with pytest.raises(KeyringError, match="not a master key"):
        Keyring.open(Docs(), path, "short")     # type: ignore[arg-type]


def test_a_rotation_that_committed_before_its_key_was_put_in_place_is_finished_at_the_next_start(
        tmp_path: Path) -> None:
    """The process died between the commit and renaming ``master.key.next`` over ``master.key``: the
    store's check value opens with the staged key only, and the next start puts it in place."""
    from cumulo.keyring import Resealer, next_key_path, reseal_check, stage_key_file

    docs, path = Docs(), tmp_path / "master.key"
    old = Keyring.open(docs, path)              # type: ignore[arg-type]
    sealed = old.seal(b"value", "ctx")
    new_key = bytes(range(1, 33))
    stage_key_file(next_key_path(path), new_key)
    reseal = Resealer(old, Keyring(new_key))
    docs.docs[("keyring", "check")] = reseal_check(docs.docs[("keyring", "check")], reseal, "2026-12-07T00:00:00Z")
    moved = reseal(sealed, "ctx")               # "committed"; then killed before the rename
    ring = Keyring.open(docs, path)             # type: ignore[arg-type]
    assert ring.open_sealed(moved, "ctx") == b"value"
    assert not next_key_path(path).exists() and base64.b64decode(path.read_bytes()) == new_key
    with pytest.raises(SealedValueError):
        ring.open_sealed(sealed, "ctx")


def test_a_staged_key_of_a_rotation_that_never_committed_is_left_and_the_old_key_goes_on(tmp_path: Path) -> None:
    from cumulo.keyring import next_key_path, stage_key_file

    docs, path = Docs(), tmp_path / "master.key"
    old = Keyring.open(docs, path)              # type: ignore[arg-type]
    sealed = old.seal(b"value", "ctx")
    before = path.read_bytes()
    stage_key_file(next_key_path(path), bytes(range(1, 33)))
    assert Keyring.open(docs, path).open_sealed(sealed, "ctx") == b"value"   # type: ignore[arg-type]
    assert path.read_bytes() == before


def test_a_rotation_stops_at_a_value_the_current_key_does_not_open() -> None:
    from cumulo.keyring import Resealer

    reseal = Resealer(RING, Keyring(bytes(range(1, 33))))
    with pytest.raises(SealedValueError, match="'elsewhere'"):
        reseal(Keyring(bytes(32)).seal(b"x", "elsewhere"), "elsewhere")
