"""Access keys of the control plane: AWS-shaped IDs and secrets, held in the store."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timezone

from cumulo.api.sigv4 import Key
from cumulo.store.base import Store

__all__ = ["AccessKey", "OwnerKeys", "create_key", "first_key"]

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


class OwnerKeys:
    """The key lookup (``sigv4.Keys``) of a store's owner keys: each is the account's root,
    ``arn:aws:iam::<account>:root``, as AWS names an account's own access keys."""

    def __init__(self, store: Store, account: str, partition: str = "aws") -> None:
        self._store = store
        self.root_arn = f"arn:{partition}:iam::{account}:root"

    def __call__(self, key_id: str, token: str | None) -> Key | None:
        secret = self._store.access_key_secret(key_id)
        return Key(secret, self.root_arn) if secret is not None else None
