"""What both stores seal with the master key themselves (given a ``keyring.Keyring`` as their sealer):
functions' environment variables and the control plane's access-key secrets; and how a master key
rotation (``keyring.Resealer``) seals them again. Values written in the clear before sealing began
are read as they are, and sealed by the next rotation."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SEALED", "seal_access_key", "open_access_key", "reseal_access_key", "reseal_environment"]

SEALED = "$sealed"    # a function's sealed environment: {"$sealed": "<keyring.seal's text>"} (no variable is named so)
_SEALED_KEY = "$sealed:"    # an access key's sealed secret: "$sealed:<keyring.seal's text>" (a secret has no "$")


def seal_access_key(key_id: str, secret: str, sealer: Any) -> str:
    """An access key's secret as the store keeps it: sealed, bound to its id (in the clear without a sealer)."""
    return secret if sealer is None else _SEALED_KEY + sealer.seal(secret.encode(), f"access-key:{key_id}")


def open_access_key(key_id: str, kept: str, sealer: Any) -> str:
    """What ``seal_access_key`` kept (a secret written in the clear before is read as it is)."""
    if not kept.startswith(_SEALED_KEY):
        return kept
    if sealer is None:
        raise RuntimeError(f"access key {key_id}'s secret is sealed and no key was given to open it")
    return str(sealer.open_sealed(kept[len(_SEALED_KEY):], f"access-key:{key_id}").decode())


def reseal_access_key(key_id: str, kept: str, reseal: Any) -> str:
    """An access key's kept secret sealed again by ``reseal`` (``keyring.Resealer``; one in the clear: sealed)."""
    context = f"access-key:{key_id}"
    if kept.startswith(_SEALED_KEY):
        return _SEALED_KEY + reseal(kept[len(_SEALED_KEY):], context)
    return _SEALED_KEY + reseal.seal(kept.encode(), context)


def reseal_environment(text: str, reseal: Any) -> str | None:
    """A configuration's JSON with its environment sealed again (None: it has none)."""
    doc = json.loads(text)
    env = doc.get("environment")
    if not env:
        return None
    context = f"lambda-environment:{doc['name']}"
    if isinstance(env, dict) and SEALED in env:
        doc["environment"] = {SEALED: reseal(env[SEALED], context)}
    else:           # written in the clear before sealing: sealed now
        doc["environment"] = {SEALED: reseal.seal(json.dumps(env).encode(), context)}
    return json.dumps(doc)
