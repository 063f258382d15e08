"""Temporary credentials the server can check without remembering them (pure: no I/O, no clock).

A session (what STS's AssumeRole gives, and what a function's execution role runs as) is an
access key id (``ASIA`` + 16 characters, as AWS's temporary keys), a secret access key, a session
token and an expiry. Nothing is stored per session: the token *is* the session, authenticated by
the server's key::

    token  = base64url(payload) "." base64url(HMAC-SHA256(server key, "cumulo-sts-1" NUL payload))
    payload = compact JSON {"v": 1, "k": key id, "a": account, "r": role ARN, "i": role id,
                            "s": session name, "t": issued (epoch s), "x": expires (epoch s),
                            "o": owner key id}
    secret = base64url(HMAC-SHA256(server key, "cumulo-sts-secret" NUL mac))[:40]

``read`` gives the session back from a key id and a token, or raises ``BadToken`` for anything
the server did not issue for that key id (a changed byte anywhere, another key id, another
server's key, not a token at all); whether it has expired is the caller's question (``Session.
expired``), as is whether its role still exists with the same id (revocation).

A role session (``r`` set) is ``arn:aws:sts::<account>:assumed-role/<role>/<session>``; a
session of the owner's own keys (GetSessionToken; ``r`` empty, ``o`` the owner key it came from)
is the account's root, as AWS names it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

__all__ = ["Session", "BadToken", "issue", "read", "key_id_of", "new_key_id", "KEY_BYTES"]

KEY_BYTES = 32              # the server key's length
_MAC_CONTEXT = b"cumulo-sts-1\0"
_SECRET_CONTEXT = b"cumulo-sts-secret\0"
_ID_ALPHABET = string.ascii_uppercase + "234567"
_MAX_TOKEN = 4096           # longer than any this module issues (a role ARN is at most 2,048 characters)


class BadToken(ValueError):
    """Not a token this server issued for this access key id."""


@dataclass(frozen=True)
class Session:
    key_id: str
    secret: str
    token: str
    account: str
    role_arn: str           # '' for a session of the owner's own keys
    role_id: str            # the role's unique id when it was issued ('' when the role was not known)
    session_name: str
    issued: int             # epoch seconds
    expires: int            # epoch seconds
    owner_key: str = ""     # the owner key a GetSessionToken session came from

    def expired(self, now: float) -> bool:
        return now >= self.expires

    @property
    def arn(self) -> str:
        """The caller's ARN: the assumed-role session's, or the account's root."""
        partition = self.role_arn.split(":")[1] if self.role_arn.count(":") >= 5 else "aws"
        if not self.role_arn:
            return f"arn:{partition}:iam::{self.account}:root"
        role_name = self.role_arn.partition(":role/")[2].rsplit("/", 1)[-1]
        return f"arn:{partition}:sts::{self.account}:assumed-role/{role_name}/{self.session_name}"


def new_key_id() -> str:
    return "ASIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64_CHARS for c in text) or len(text) % 4 == 1:
        raise BadToken("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadToken("not base64url") from None
    if _b64(raw) != text:    # one encoding per value: no second spelling of the same bytes
        raise BadToken("not canonical base64url")
    return raw


_B64_CHARS = frozenset(string.ascii_letters + string.digits + "-_")


def _mac(server_key: bytes, payload: bytes) -> bytes:
    return hmac.new(server_key, _MAC_CONTEXT + payload, hashlib.sha256).digest()


def _secret(server_key: bytes, mac: bytes) -> str:
    return _b64(hmac.new(server_key, _SECRET_CONTEXT + mac, hashlib.sha256).digest())[:40]


def issue(server_key: bytes, *, account: str, role_arn: str, role_id: str, session_name: str, issued: int,
          expires: int, owner_key: str = "", key_id: str | None = None) -> Session:
    """A new session, signed with ``server_key``. For an owner's session (no role) pass ``role_arn``
    '' and the owner key it came from as ``owner_key``."""
    key_id = key_id or new_key_id()
    body: dict[str, Any] = {"v": 1, "k": key_id, "a": account, "r": role_arn, "i": role_id, "s": session_name,
                            "t": int(issued), "x": int(expires), "o": owner_key}
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()
    mac = _mac(server_key, payload)
    return Session(key_id, _secret(server_key, mac), f"{_b64(payload)}.{_b64(mac)}", account, role_arn, role_id,
                   session_name, int(issued), int(expires), owner_key)


def key_id_of(token: str) -> str:
    """The access key id a token says it was issued for, unchecked (``read`` checks it); '' when it
    says none. For callers that are given only the token (the secrets extension's header)."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or token.count(".") != 1:
        return ""
    try:
        body = json.loads(_unb64(token.split(".")[0]))
    except (ValueError, BadToken):
        return ""
    return body.get("k", "") if isinstance(body, dict) and isinstance(body.get("k"), str) else ""


def read(server_key: bytes, key_id: str, token: str) -> Session:
    """The session ``token`` stands for, if this server issued it for ``key_id``; else ``BadToken``."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise BadToken("malformed")
    payload_text, mac_text = token.split(".")
    payload, mac = _unb64(payload_text), _unb64(mac_text)
    if not hmac.compare_digest(mac, _mac(server_key, payload)):
        raise BadToken("not issued here")
    try:
        body = json.loads(payload)
    except ValueError:
        raise BadToken("malformed payload") from None
    fields = {"v": int, "k": str, "a": str, "r": str, "i": str, "s": str, "t": int, "x": int, "o": str}
    if not isinstance(body, dict) or set(body) != set(fields) or body["v"] != 1 or \
            any(type(body[name]) is not kind for name, kind in fields.items()):
        raise BadToken("malformed payload")
    if not hmac.compare_digest(body["k"].encode(), key_id.encode()):
        raise BadToken("issued for another access key")
    return Session(key_id, _secret(server_key, mac), token, body["a"], body["r"], body["i"], body["s"], body["t"], body["x"],
                   body["o"])
