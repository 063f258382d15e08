"""STS sessions: temporary credentials issued and checked with the server's key, nothing stored.

The key is 32 random bytes in ``<home>/sts.key`` (0600, made once by whichever process needs it
first), or on a PostgreSQL store the one every node shares (``store/postgres/keys.py``);
``cumulo.iam.tokens`` says what a token holds. A session is refused when its token was not
issued with this key for its access key id (``BadToken``), when it has expired
(``SessionExpired``), or when it was revoked: its role was deleted since (or deleted and made
again: the role's id differs), or the owner key a GetSessionToken session came from is gone.

Functions' sessions (``for_function``): one per role and function, valid ``FUNCTION_TTL_S``
(12 h) and reused while issued less than ``FUNCTION_REUSE_S`` (1 h) ago, so a cold start costs a
dictionary lookup, and the credentials an environment gets always have at least 11 h left, more
than an environment lives (``Settings.environment_max_age_s``).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import Callable

from cumulo.iam.tokens import KEY_BYTES, BadToken, Session, issue, read

__all__ = ["Sessions", "SessionExpired", "BadToken", "Session", "FUNCTION_TTL_S", "FUNCTION_REUSE_S"]

FUNCTION_TTL_S = 12 * 3600
FUNCTION_REUSE_S = 3600
_CHECKED_MAX = 4096


class SessionExpired(Exception):
    """A session whose expiry has passed."""


def load_key(path: Path) -> bytes:
    """The server's key at ``path``, made (0600) if there is none yet."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(fresh, path)     # fails if another process made it first: then theirs is the key
        except FileExistsError:
            pass
        finally:
            os.unlink(fresh)
        key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise RuntimeError(f"{path} is damaged ({len(key)} bytes, not {KEY_BYTES}); delete it to make a new one "
                           "(every session issued with it is then refused)")
    return key


class Sessions:
    def __init__(self, key_path: Path | Callable[[], bytes], account: str, role_id_of: Callable[[str], str | None],
                 owner_key_exists: Callable[[str], bool], clock: Callable[[], float] = time.time) -> None:
        self._key_path = key_path
        self._key: bytes | None = None
        self._account = account
        self._role_id_of = role_id_of
        self._owner_key_exists = owner_key_exists
        self._clock = clock
        self._lock = threading.Lock()
        self._functions: dict[tuple[str, str], Session] = {}
        self._checked: dict[tuple[str, str], Session] = {}     # (key id, token) -> session: read once

    @property
    def key(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    path = self._key_path     # a file, or what answers a cluster's shared key
                    self._key = load_key(path) if isinstance(path, Path) else path()
        return self._key

    # -- issuing -------------------------------------------------------------------------------
    def for_role(self, role_arn: str, session_name: str, duration_s: int) -> Session:
        """A session of ``role_arn`` (which need not be stored: then it has no id, and no policies)."""
        now = int(self._clock())
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 and role_arn.split(":")[4] else self._account
        return issue(self.key, account=account, role_arn=role_arn, role_id=self._role_id_of(role_arn) or "",
                     session_name=session_name, issued=now, expires=now + duration_s)

    def for_owner(self, owner_key: str, duration_s: int) -> Session:
        now = int(self._clock())
        return issue(self.key, account=self._account, role_arn="", role_id="", session_name="", issued=now,
                     expires=now + duration_s, owner_key=owner_key)

    def for_function(self, role_arn: str, function: str) -> Session:
        """The session a function's environments run as (session name: the function's name, as on AWS)."""
        now = self._clock()
        cached = self._functions.get((role_arn, function))
        if cached is not None and now - cached.issued < FUNCTION_REUSE_S and self._current(cached):
            return cached
        session = self.for_role(role_arn, function, FUNCTION_TTL_S)
        self._functions[(role_arn, function)] = session
        return session

    # -- checking ------------------------------------------------------------------------------
    def check(self, key_id: str, token: str) -> Session:
        """The live session ``token`` stands for; ``BadToken`` (forged, another key id, revoked) or
        ``SessionExpired``."""
        session = self._checked.get((key_id, token))
        if session is None:
            session = read(self.key, key_id, token)
            if len(self._checked) >= _CHECKED_MAX:
                self._checked.clear()
            self._checked[(key_id, token)] = session
        if session.expired(self._clock()):
            raise SessionExpired(key_id)
        if not self._current(session):
            raise BadToken("revoked")
        return session

    def _current(self, session: Session) -> bool:
        """Not revoked: its role is still the one it was issued for; its owner key still exists."""
        if session.role_arn:
            return not session.role_id or self._role_id_of(session.role_arn) == session.role_id
        return self._owner_key_exists(session.owner_key)
