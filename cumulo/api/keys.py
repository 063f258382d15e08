"""Access keys of the control plane: the owner's (AWS-shaped IDs and secrets, held in the store)
and STS sessions' (``ASIA…`` with a session token, checked by ``identity.sessions``)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timezone

from cumulo.api.sigv4 import ExpiredTokenException, Key
from cumulo.identity.service import Identity
from cumulo.identity.sessions import BadToken, SessionExpired
from cumulo.store.base import Store

__all__ = ["AccessKey", "AccountKeys", "create_key", "first_key"]

_ID_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class AccessKey:
    id: str
    secret: str
    created: str


def create_key(store: Store) -> AccessKey:
    key = AccessKey(
        id="AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16)),
        secret=secrets.token_urlsafe(30)[:40],
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    store.add_access_key(key.id, key.secret, key.created)
    return key


def first_key(store: Store) -> tuple[AccessKey, bool]:
    """The oldest key, creating one if there is none; and whether it was just created."""
    keys = store.list_access_keys()
    if keys:
        return AccessKey(*keys[0]), False
    return create_key(store), True


class AccountKeys:
    """The key lookup (``sigv4.Keys``) of one store. Without a session token: the owner's keys, each
    the account's root (``arn:aws:iam::<account>:root``, as AWS names an account's own keys).
    With one: an STS session (``ASIA…``), whose token must be this server's for that key id, not
    expired (``ExpiredTokenException``) and not revoked; a long-term key with a token, or a session
    key without one, is not recognised, as on AWS."""

    def __init__(self, store: Store, identity: Identity) -> None:
        self._store = store
        self._identity = identity
        self._owner: dict[str, Key] = {}      # the last answer for each owner key, while its secret is the same

    def __call__(self, key_id: str, token: str | None) -> Key | None:
        if token is None:
            secret = self._store.access_key_secret(key_id)   # the store's answer, whatever was asked before
            if secret is None:
                return None
            found = self._owner.get(key_id)
            if found is None or found.secret != secret:
                if len(self._owner) >= 1024:
                    self._owner.clear()
                found = self._owner[key_id] = Key(secret, self._identity.root_arn)
            return found
        if not key_id.startswith("ASIA"):
            return None
        try:
            session = self._identity.sessions.check(key_id, token)
        except BadToken:
            return None
        except SessionExpired:
            raise ExpiredTokenException("The security token included in the request is expired") from None
        return Key(session.secret, session.arn, session.role_arn or None, session.session_name or None)
