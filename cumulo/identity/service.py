"""The identity service: roles, managed policies and STS sessions of one store, and the lookup
authorisation asks on every request: ``policies_for(role_arn)``, the role's identity-based policies
as one ``PolicySet`` (its inline policies, then its attached managed policies' default versions).

Lookups are cached and thrown away whenever the store may have changed (``Store.generation``: our
own writes at once, another process's — ``cumulo iam …`` beside a server — within 0.1 s).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from cumulo.iam import PolicySet, Principal, evaluate, parse_policy
from cumulo.iam import Request as IamRequest
from cumulo.iam.policy import Policy
from cumulo.iam.tokens import Session
from cumulo.identity.errors import AccessDenied, IamValidationError
from cumulo.identity.names import check_int, check_name
from cumulo.identity.policies import Policies
from cumulo.identity.roles import Roles
from cumulo.identity.sessions import Sessions
from cumulo.store.base import Store

__all__ = ["Identity"]

log = logging.getLogger("cumulo.identity")
_EMPTY = PolicySet(())


class Identity:
    def __init__(self, store: Store, home: Path, account: str, clock: Callable[[], float] = time.time,
                 partition: str = "aws", sts_key: Callable[[], bytes] | None = None) -> None:
        self._store = store
        self.account = account
        self.partition = partition
        self.roles: Roles = Roles(store, account, lambda arn: self.policies.exists(arn), clock, partition)
        self.policies: Policies = Policies(store, account, self.roles.attached_to, clock, partition)
        self.sessions = Sessions(sts_key or home / "sts.key", account, self.role_id,
                                 lambda key_id: store.access_key_secret(key_id) is not None, clock)
        self._lock = threading.Lock()
        self._generation = -1
        self._sets: dict[str, PolicySet] = {}
        self._ids: dict[str, str | None] = {}

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"

    def _fresh(self) -> None:
        generation = self._store.generation
        if generation != self._generation:
            with self._lock:
                self._sets, self._ids = {}, {}
                self._generation = generation

    def role_id(self, role_arn: str) -> str | None:
        """The stored role's unique id (None: no such role)."""
        self._fresh()
        found = self._ids.get(role_arn, "")
        if found == "":
            doc = self.roles.by_arn(role_arn)
            found = self._ids[role_arn] = doc["RoleId"] if doc is not None else None
        return found

    def policies_for(self, role_arn: str) -> PolicySet:
        """The role's identity-based policies; an empty set for a role that is not stored (a
        function may name any role ARN: it then runs with no permissions)."""
        self._fresh()
        found = self._sets.get(role_arn)
        if found is None:
            found = self._sets[role_arn] = self._load(role_arn)
        return found

    def trust_policy(self, role_arn: str) -> Policy | None:
        doc = self.roles.by_arn(role_arn)
        return parse_policy(doc["AssumeRolePolicyDocument"], "trust", name=role_arn) if doc is not None else None

    def _load(self, role_arn: str) -> PolicySet:
        doc = self.roles.by_arn(role_arn)
        if doc is None:
            return _EMPTY
        policies: list[Policy] = []
        for name, text in doc["InlinePolicies"].items():
            policies.append(parse_policy(text, "identity", name=name))
        for arn in doc["AttachedPolicies"]:
            parsed = self.policies.parsed(arn)
            if parsed is None:      # deleted while attached (another process): nothing it allowed is left
                log.warning("role %s: attached policy %s is gone", role_arn, arn)
                continue
            policies.append(parsed)
        return PolicySet(policies)

    # -- STS -------------------------------------------------------------------------------------
    def principal(self, arn: str, role_arn: str | None, session_name: str | None) -> Principal:
        """The caller as IAM's evaluation sees it (``cumulo.iam.Principal``): the account's root for
        the owner's keys, else a session of its role."""
        if not role_arn:
            return Principal.root(arn.split(":")[4] if arn.count(":") >= 5 else self.account,
                                  partition=self.partition)
        parts = role_arn.split(":", 5)
        path_name = parts[5][len("role"):] if len(parts) == 6 else "/"
        path, _, name = path_name.rpartition("/")
        return Principal.assumed_role(parts[4] if len(parts) == 6 else self.account, name, session_name or "",
                                      path=path + "/", partition=parts[1] if len(parts) == 6 else self.partition,
                                      role_id=self.role_id(role_arn) or _stand_in_id(role_arn))

    def user_id(self, role_arn: str | None, session_name: str | None) -> str:
        """GetCallerIdentity's UserId: the account for its root, ``<role id>:<session>`` for a session."""
        if not role_arn:
            return self.account
        return f"{self.role_id(role_arn) or _stand_in_id(role_arn)}:{session_name}"

    def assume_role(self, caller: Principal, caller_role_arn: str | None, role_arn: Any, session_name: Any,
                    duration_s: Any) -> Session:
        """STS's AssumeRole: the caller must be the account's root (the owner's keys) or be allowed
        by the role's trust policy (and, when the trust policy names the account, by its own
        policies). ``DurationSeconds`` 900–43,200 and at most the role's MaxSessionDuration; 1 hour
        at most for a session assuming a role (role chaining), as STS has it."""
        if not isinstance(role_arn, str) or not 20 <= len(role_arn) <= 2048:
            raise IamValidationError(f"1 validation error detected: Value '{str(role_arn)[:256]}' at 'roleArn' failed to "
                                     "satisfy constraint: Member must have length greater than or equal to 20")
        name = check_name(session_name, "roleSessionName", 64)
        if len(name) < 2:
            raise IamValidationError(f"1 validation error detected: Value '{name}' at 'roleSessionName' failed to "
                                     "satisfy constraint: Member must have length greater than or equal to 2")
        duration = check_int(duration_s, "durationSeconds", 900, 43200) or 3600
        denied = AccessDenied(f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
        role = self.roles.by_arn(role_arn)
        if role is None:
            raise denied
        if caller.type != "Account":
            trust = parse_policy(role["AssumeRolePolicyDocument"], "trust", name=role_arn)
            own = self.policies_for(caller_role_arn) if caller_role_arn else _EMPTY
            decision = evaluate(IamRequest(caller, "sts:AssumeRole", role_arn), own, trust)
            if not decision:
                raise AccessDenied(decision.message)
        if duration > role["MaxSessionDuration"]:
            raise IamValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        if caller.type == "AssumedRole" and duration > 3600:
            raise IamValidationError("The requested DurationSeconds exceeds the 1 hour session limit for roles "
                                     "assumed by role chaining.")
        return self.sessions.for_role(role_arn, name, duration)

    def session_token(self, caller: Principal, owner_key: str, duration_s: Any) -> Session:
        """STS's GetSessionToken, for the owner's long-term keys (900 s to 36 h, 12 h by default)."""
        duration = check_int(duration_s, "durationSeconds", 900, 129600) or 43200
        if caller.type != "Account" or not owner_key.startswith("AKIA"):
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        return self.sessions.for_owner(owner_key, duration)


def _stand_in_id(role_arn: str) -> str:
    """A role id for a role that is not stored (a function naming any role ARN): stable per ARN."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "AROA" + "".join(alphabet[b % 32] for b in hashlib.sha256(role_arn.encode()).digest()[:17])
