"""IAM roles: trust policy, inline policies, attached managed policies (one document per role).

A role is stored under ``iam-role`` by its name in lower case (IAM's role names are unique
without regard to case) and holds what GetRole shows plus its inline policies (name -> document
text, as given) and the ARNs of the managed policies attached to it, in attachment order.
Documents are checked with ``cumulo.iam.parse_policy`` (``MalformedPolicyDocument``) and IAM's
size quotas before anything is stored. What IAM answers with, it raises: ``NoSuchEntity``,
``EntityAlreadyExists``, ``DeleteConflict``, ``LimitExceeded``, ``ValidationError``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Mapping

from cumulo.iam import check_inline_size, check_trust_size, parse_policy
from cumulo.identity.errors import (
    DeleteConflict, EntityAlreadyExists, IamLimitExceeded, IamValidationError, InvalidInput, NoSuchEntity,
)
from cumulo.identity.names import check_int, check_name, check_path, check_text, new_id, timestamp
from cumulo.ports import Documents

__all__ = ["Roles", "ROLE", "role_name_of", "document_text", "MAX_ATTACHED"]

ROLE = "iam-role"
MAX_ATTACHED = 20          # managed policies per role (IAM's quota, raised to its maximum)
_HIDDEN = ("InlinePolicies", "AttachedPolicies")


def role_name_of(arn: str) -> str:
    """``arn:aws:iam::123456789012:role/path/name`` -> ``name`` ('' if not a role ARN)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return ""
    return parts[5].rsplit("/", 1)[-1]


def document_text(document: str | bytes | Mapping[str, Any]) -> str:
    """A policy document as stored and answered: the text given, or a mapping as compact JSON."""
    if isinstance(document, bytes):
        return document.decode()
    if isinstance(document, str):
        return document
    return json.dumps(document, separators=(",", ":"))


class Roles:
    def __init__(self, store: Documents, account: str, policy_exists: Callable[[str], bool],
                 clock: Callable[[], float] = time.time, partition: str = "aws") -> None:
        self._store = store
        self._account = account
        self._partition = partition
        self._policy_exists = policy_exists
        self._clock = clock
        self._lock = threading.Lock()     # read-modify-write of one role's document

    # -- reading -------------------------------------------------------------------------------
    def _doc(self, name: Any) -> dict[str, Any]:
        name = check_name(name, "roleName", 64)
        doc = self._store.get_document(ROLE, name.lower())
        if doc is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return doc

    @staticmethod
    def view(doc: dict[str, Any]) -> dict[str, Any]:
        """What GetRole shows of a stored role."""
        return {k: v for k, v in doc.items() if k not in _HIDDEN}

    def get_role(self, name: Any) -> dict[str, Any]:
        return self.view(self._doc(name))

    def list_roles(self, path_prefix: Any = None) -> list[dict[str, Any]]:
        prefix = check_path(path_prefix, "pathPrefix") if path_prefix is not None else "/"
        roles = [self.view(d) for d in self._store.list_documents(ROLE) if d["Path"].startswith(prefix)]
        return sorted(roles, key=lambda r: r["RoleName"].lower())

    def by_arn(self, arn: str) -> dict[str, Any] | None:
        """The stored role this ARN names (its path and account must be the role's), or None."""
        name = role_name_of(arn)
        if not name:
            return None
        doc = self._store.get_document(ROLE, name.lower())
        return doc if doc is not None and doc["Arn"] == arn else None

    def all(self) -> list[dict[str, Any]]:
        return self._store.list_documents(ROLE)

    # -- roles ---------------------------------------------------------------------------------
    def create_role(self, name: Any, trust_policy: Any, path: Any = None, description: Any = None,
                    max_session_duration: Any = None, tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
        name = check_name(name, "roleName", 64)
        path = check_path(path)
        description = check_text(description, "description", 1000)
        duration = check_int(max_session_duration, "maxSessionDuration", 3600, 43200) or 3600
        trust = self._trust(trust_policy)
        doc: dict[str, Any] = {
            "Path": path, "RoleName": name, "RoleId": new_id("AROA"),
            "Arn": f"arn:{self._partition}:iam::{self._account}:role{path}{name}",
            "CreateDate": timestamp(self._clock()), "AssumeRolePolicyDocument": trust,
            "MaxSessionDuration": duration,
            **({"Description": description} if description is not None else {}),
            **({"Tags": list(tags)} if tags else {}),
            "InlinePolicies": {}, "AttachedPolicies": [],
        }
        with self._lock:
            if self._store.get_document(ROLE, name.lower()) is not None:
                raise EntityAlreadyExists(f"Role with name {name} already exists.")
            self._store.put_document(ROLE, name.lower(), doc)
        return self.view(doc)

    def delete_role(self, name: Any) -> None:
        with self._lock:
            doc = self._doc(name)
            if doc["InlinePolicies"]:
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            if doc["AttachedPolicies"]:
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            self._store.delete_document(ROLE, doc["RoleName"].lower())

    def update_role(self, name: Any, description: Any = None, max_session_duration: Any = None) -> None:
        description = check_text(description, "description", 1000)
        duration = check_int(max_session_duration, "maxSessionDuration", 3600, 43200)
        with self._lock:
            doc = self._doc(name)
            if description is not None:
                doc["Description"] = description
            if duration is not None:
                doc["MaxSessionDuration"] = duration
            self._store.put_document(ROLE, doc["RoleName"].lower(), doc)

    def update_assume_role_policy(self, name: Any, trust_policy: Any) -> None:
        trust = self._trust(trust_policy)
        with self._lock:
            doc = self._doc(name)
            doc["AssumeRolePolicyDocument"] = trust
            self._store.put_document(ROLE, doc["RoleName"].lower(), doc)

    @staticmethod
    def _trust(document: Any) -> str:
        if document is None:
            raise IamValidationError("1 validation error detected: Value null at 'assumeRolePolicyDocument' failed "
                                     "to satisfy constraint: Member must not be null")
        text = document_text(document)
        check_trust_size(parse_policy(text, "trust"))
        return text

    # -- inline policies -----------------------------------------------------------------------
    def put_role_policy(self, role: Any, policy_name: Any, document: Any) -> None:
        policy_name = check_name(policy_name, "policyName", 128)
        if document is None:
            raise IamValidationError("1 validation error detected: Value null at 'policyDocument' failed to satisfy "
                                     "constraint: Member must not be null")
        text = document_text(document)
        parse_policy(text, "identity", name=policy_name)
        with self._lock:
            doc = self._doc(role)
            inline = dict(doc["InlinePolicies"])
            inline[policy_name] = text
            check_inline_size(inline.values(), "role", doc["RoleName"])
            doc["InlinePolicies"] = inline
            self._store.put_document(ROLE, doc["RoleName"].lower(), doc)

    def get_role_policy(self, role: Any, policy_name: Any) -> tuple[str, str, str]:
        policy_name = check_name(policy_name, "policyName", 128)
        doc = self._doc(role)
        text = doc["InlinePolicies"].get(policy_name)
        if text is None:
            raise NoSuchEntity(f"The role policy with name {policy_name} cannot be found.")
        return doc["RoleName"], policy_name, text

    def list_role_policies(self, role: Any) -> list[str]:
        return sorted(self._doc(role)["InlinePolicies"])

    def delete_role_policy(self, role: Any, policy_name: Any) -> None:
        policy_name = check_name(policy_name, "policyName", 128)
        with self._lock:
            doc = self._doc(role)
            if policy_name not in doc["InlinePolicies"]:
                raise NoSuchEntity(f"The role policy with name {policy_name} cannot be found.")
            del doc["InlinePolicies"][policy_name]
            self._store.put_document(ROLE, doc["RoleName"].lower(), doc)

    # -- attached managed policies -------------------------------------------------------------
    def attach_role_policy(self, role: Any, policy_arn: Any) -> None:
        arn = _arn(policy_arn)
        if not self._policy_exists(arn):
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        with self._lock:
            doc = self._doc(role)
            if arn in doc["AttachedPolicies"]:
                return
            if len(doc["AttachedPolicies"]) >= MAX_ATTACHED:
                raise IamLimitExceeded(f"Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED}")
            doc["AttachedPolicies"] = [*doc["AttachedPolicies"], arn]
            self._store.put_document(ROLE, doc["RoleName"].lower(), doc)

    def detach_role_policy(self, role: Any, policy_arn: Any) -> None:
        arn = _arn(policy_arn)
        with self._lock:
            doc = self._doc(role)
            if arn not in doc["AttachedPolicies"]:
                raise NoSuchEntity(f"Policy {arn} was not found.")
            doc["AttachedPolicies"] = [a for a in doc["AttachedPolicies"] if a != arn]
            self._store.put_document(ROLE, doc["RoleName"].lower(), doc)

    def list_attached_role_policies(self, role: Any, path_prefix: Any = None) -> list[tuple[str, str]]:
        """(policy name, ARN) of each policy attached, in attachment order."""
        prefix = check_path(path_prefix, "pathPrefix") if path_prefix is not None else "/"
        out = []
        for arn in self._doc(role)["AttachedPolicies"]:
            path_name = arn.split(":", 5)[5][len("policy"):]
            path, _, name = path_name.rpartition("/")
            if (path + "/").startswith(prefix):
                out.append((name, arn))
        return out

    def attached_to(self, policy_arn: str) -> list[str]:
        """The names of the roles a managed policy is attached to."""
        return [d["RoleName"] for d in self._store.list_documents(ROLE) if policy_arn in d["AttachedPolicies"]]


def _arn(value: Any) -> str:
    if not isinstance(value, str) or not 20 <= len(value) <= 2048:
        raise InvalidInput(f"ARN {str(value)[:256]} is not valid.")
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("policy/"):
        raise InvalidInput(f"ARN {value} is not valid.")
    return value
