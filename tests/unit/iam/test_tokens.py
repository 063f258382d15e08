"""Session tokens (``cumulo.iam.tokens``): what the server issued reads back, and nothing else does."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.iam.tokens import BadToken, Session, issue, read

KEY = bytes(range(32))
ROLE = "arn:aws:iam::123456789012:role/service-role/my-role"


def session(**changes: object) -> Session:
    fields: dict[str, object] = {"account": "123456789012", "role_arn": ROLE, "role_id": "AROAEXAMPLEEXAMPLE123",
                                 "session_name": "my-fn", "issued": 1_700_000_000, "expires": 1_700_043_200}
    fields.update(changes)
    return issue(KEY, **fields)  # type: ignore[arg-type]


def test_a_token_reads_back_as_the_session_it_was_issued_for() -> None:
    s = session()
    assert read(KEY, s.key_id, s.token) == s
    assert s.key_id.startswith("ASIA") and len(s.key_id) == 20 and len(s.secret) == 40
    assert s.arn == "arn:aws:sts::123456789012:assumed-role/my-role/my-fn"
    assert s.expired(1_700_043_200) and not s.expired(1_700_043_199)


def test_an_owner_session_is_the_accounts_root() -> None:
    s = session(role_arn="", role_id="", session_name="", owner_key="AKIAEXAMPLE")
    assert s.arn == "arn:aws:iam::123456789012:root" and read(KEY, s.key_id, s.token).owner_key == "AKIAEXAMPLE"


def test_sessions_differ_in_key_secret_and_token() -> None:
    a, b = session(), session()
    assert len({a.key_id, b.key_id}) == 2 and len({a.secret, b.secret}) == 2 and len({a.token, b.token}) == 2


def test_another_servers_key_or_another_key_id_is_refused() -> None:
    s = session()
    with pytest.raises(BadToken):
        read(secrets.token_bytes(32), s.key_id, s.token)
    with pytest.raises(BadToken):
        read(KEY, session().key_id, s.token)


@settings(max_examples=300)
@given(st.data())
def test_any_change_to_a_token_is_refused(data: st.DataObject) -> None:
    s = session(session_name=data.draw(st.from_regex(r"[\w+=,.@-]{2,64}", fullmatch=True)))
    position = data.draw(st.integers(0, len(s.token) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != s.token[position]))
    tampered = s.token[:position] + replacement + s.token[position + 1:]
    with pytest.raises(BadToken):
        read(KEY, s.key_id, tampered)


@settings(max_examples=200)
@given(st.data())
def test_cutting_or_extending_a_token_is_refused(data: st.DataObject) -> None:
    s = session()
    cut = data.draw(st.integers(0, len(s.token) - 1))
    extra = data.draw(st.text(min_size=1, max_size=8))
    for changed in (s.token[:cut], s.token + extra, extra + s.token):
        with pytest.raises(BadToken):
            read(KEY, s.key_id, changed)


@settings(max_examples=300)
@given(st.text(max_size=600) | st.from_regex(r"[A-Za-z0-9_-]{0,300}\.[A-Za-z0-9_-]{0,60}", fullmatch=True),
       st.text(max_size=24))
def test_anything_not_issued_is_refused_without_another_error(token: str, key_id: str) -> None:
    with pytest.raises(BadToken):
        read(KEY, key_id, token)


def test_a_payload_signed_right_but_shaped_wrong_is_refused() -> None:
    import base64
    import hashlib
    import hmac

    def signed(payload: bytes) -> str:
        mac = hmac.new(KEY, b"cumulo-sts-1\0" + payload, hashlib.sha256).digest()
        enc = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
        return f"{enc(payload)}.{enc(mac)}"
    for payload in (b"[]", b"not json", b'{"v": 2}', b'{"v":1,"k":"ASIAX","a":"1","r":"","i":"","s":"","t":"1","x":2,"o":""}'):
        with pytest.raises(BadToken):
            read(KEY, "ASIAX", signed(payload))
