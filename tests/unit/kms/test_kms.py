"""KMS's service (``kms/service.py``) on an in-memory store: round trips, contexts, states, and the
authorization mapping reading the key a ciphertext names."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.api.authz import Scope
from cumulo.api.authz import kms as authz_kms
from cumulo.keyring import Keyring
from cumulo.kms.service import KeyService, KmsError, key_id_of_blob


class Docs:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}

    def get_document(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        return self.docs.get((kind, doc_id))

    def put_document(self, kind: str, doc_id: str, doc: dict[str, Any]) -> None:
        self.docs[(kind, doc_id)] = dict(doc)

    def list_documents(self, kind: str) -> list[dict[str, Any]]:
        return [d for (k, _), d in self.docs.items() if k == kind]

    def delete_document(self, kind: str, doc_id: str) -> bool:
        return self.docs.pop((kind, doc_id), None) is not None


RING = Keyring(bytes(range(32)))
KMS = KeyService(Docs(), lambda: RING, "us-east-1", "123456789012")   # type: ignore[arg-type]
KEY = KMS.create_key()["KeyId"]
CONTEXTS = st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=4096), CONTEXTS, CONTEXTS)
def test_what_is_encrypted_decrypts_in_its_context_only(plain: bytes, context: dict[str, str],
                                                        other: dict[str, str]) -> None:
    blob = KMS.encrypt(KEY, plain, context)["CiphertextBlob"]
    assert key_id_of_blob(blob) == KEY
    assert KMS.decrypt(base64.b64encode(blob).decode(), dict(reversed(list(context.items()))))["Plaintext"] == plain
    if other != context:
        with pytest.raises(KmsError) as caught:
            KMS.decrypt(blob, other)
        assert caught.value.type == "InvalidCiphertextException"
    # the mapping authorizes a Decrypt without KeyId on the key the blob names
    [check] = authz_kms.decrypt(type("C", (), {"doc": {"CiphertextBlob": base64.b64encode(blob).decode()}})(),
                                Scope("123456789012", "us-east-1"))
    assert check.resource == KMS.arn(KEY)


@given(st.binary(max_size=200))
def test_anything_else_is_not_a_ciphertext(blob: bytes) -> None:
    if key_id_of_blob(blob) == KEY:
        return
    with pytest.raises(KmsError) as caught:
        KMS.decrypt(blob)
    assert caught.value.type in ("InvalidCiphertextException", "NotFoundException")


def test_states_and_limits() -> None:
    key = KMS.create_key()["KeyId"]
    KMS.disable(key)
    with pytest.raises(KmsError, match="disabled"):
        KMS.encrypt(key, b"x")
    KMS.enable(key)
    KMS.schedule_deletion(key, 7)
    with pytest.raises(KmsError) as caught:
        KMS.encrypt(key, b"x")
    assert caught.value.type == "KMSInvalidStateException"
    for bad in (dict(key_spec="AES_512"), dict(number=0), dict(number=1025), dict(key_spec="AES_256", number=3), {}):
        with pytest.raises(KmsError):
            KMS.generate_data_key(KEY, **bad)     # type: ignore[arg-type]
    with pytest.raises(KmsError):
        KMS.encrypt(KEY, b"x" * 4097)
    with pytest.raises(KmsError) as caught:
        KMS.create_alias("alias/aws/mine", KEY)
    assert caught.value.type == "InvalidAliasNameException"
