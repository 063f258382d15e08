"""Managed policies: the account's own (customer managed, with up to 5 versions) and AWS's.

A customer managed policy is stored under ``iam-policy`` by its name in lower case (names are
unique in the account without regard to case, whatever the path) and holds what GetPolicy
shows plus its versions (``v1``, ``v2``, … never reused; the document text as given). AWS's
managed policies (``cumulo/iam/managed.py``) are read-only and answer GetPolicy,
GetPolicyVersion and ListPolicies (``Scope=AWS``) by ARN; attaching one needs nothing stored.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Callable

from cumulo.iam import Policy, check_managed_size, managed_policy, managed_policy_names, parse_policy
from cumulo.identity.errors import (
    DeleteConflict, EntityAlreadyExists, IamLimitExceeded, IamValidationError, InvalidInput, NoSuchEntity,
)
from cumulo.identity.names import check_name, check_path, check_text, new_id, timestamp
from cumulo.identity.roles import document_text
from cumulo.ports import Documents

__all__ = ["Policies", "POLICY", "MAX_VERSIONS"]

POLICY = "iam-policy"
MAX_VERSIONS = 5
_HIDDEN = ("Versions", "NextVersion")


class Policies:
    def __init__(self, store: Documents, account: str, attached_to: Callable[[str], list[str]],
                 clock: Callable[[], float] = time.time, partition: str = "aws") -> None:
        self._store = store
        self._account = account
        self._partition = partition
        self._attached_to = attached_to
        self._clock = clock
        self._lock = threading.Lock()

    # -- lookups -------------------------------------------------------------------------------
    def _local_name(self, arn: Any) -> str | None:
        """The name of the account's own policy ``arn`` names ('' path check left to the caller)."""
        if not isinstance(arn, str):
            return None
        prefix = f"arn:{self._partition}:iam::{self._account}:policy/"
        return arn[len(prefix):].rsplit("/", 1)[-1] if arn.startswith(prefix) else None

    def _doc(self, arn: Any) -> dict[str, Any]:
        name = self._local_name(arn)
        doc = self._store.get_document(POLICY, name.lower()) if name else None
        if doc is None or doc["Arn"] != arn:
            if not isinstance(arn, str) or not arn.startswith("arn:"):
                raise InvalidInput(f"ARN {str(arn)[:256]} is not valid.")
            raise NoSuchEntity(f"Policy {arn} was not found.")
        return doc

    def exists(self, arn: str) -> bool:
        if managed_policy(arn) is not None:
            return True
        name = self._local_name(arn)
        doc = self._store.get_document(POLICY, name.lower()) if name else None
        return doc is not None and doc["Arn"] == arn

    def parsed(self, arn: str) -> Policy | None:
        """The default version of the policy ``arn``, parsed (None when there is no such policy)."""
        aws = managed_policy(arn)
        if aws is not None:
            return aws.policy
        name = self._local_name(arn)
        doc = self._store.get_document(POLICY, name.lower()) if name else None
        if doc is None or doc["Arn"] != arn:
            return None
        version = next(v for v in doc["Versions"] if v["VersionId"] == doc["DefaultVersionId"])
        return parse_policy(version["Document"], "identity", name=arn)

    def _aws_view(self, arn: str) -> dict[str, Any] | None:
        found = managed_policy(arn)
        if found is None:
            return None
        return {"PolicyName": found.name, "PolicyId": _aws_policy_id(found.name), "Arn": found.arn(self._partition),
                "Path": found.path, "DefaultVersionId": found.version_id,
                "AttachmentCount": len(self._attached_to(found.arn(self._partition))), "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True, "CreateDate": found.updated, "UpdateDate": found.updated}

    def _view(self, doc: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in doc.items() if k not in _HIDDEN}
        view["AttachmentCount"] = len(self._attached_to(doc["Arn"]))
        return view

    # -- policies ------------------------------------------------------------------------------
    def create_policy(self, name: Any, document: Any, path: Any = None, description: Any = None,
                      tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
        name = check_name(name, "policyName", 128)
        path = check_path(path)
        description = check_text(description, "description", 1000)
        text = _document(document, name)
        now = timestamp(self._clock())
        doc: dict[str, Any] = {
            "PolicyName": name, "PolicyId": new_id("ANPA"),
            "Arn": f"arn:{self._partition}:iam::{self._account}:policy{path}{name}", "Path": path,
            "DefaultVersionId": "v1", "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
            **({"Description": description} if description is not None else {}),
            "CreateDate": now, "UpdateDate": now, **({"Tags": list(tags)} if tags else {}),
            "Versions": [{"VersionId": "v1", "Document": text, "CreateDate": now}], "NextVersion": 2,
        }
        with self._lock:
            if self._store.get_document(POLICY, name.lower()) is not None:
                raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.")
            self._store.put_document(POLICY, name.lower(), doc)
        return self._view(doc)

    def get_policy(self, arn: Any) -> dict[str, Any]:
        aws = self._aws_view(arn) if isinstance(arn, str) else None
        return aws if aws is not None else self._view(self._doc(arn))

    def list_policies(self, scope: Any = None, only_attached: bool = False, path_prefix: Any = None) -> list[dict[str, Any]]:
        scope = scope or "All"
        if scope not in ("All", "AWS", "Local"):
            raise InvalidInput(f"1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: "
                               "Member must satisfy enum value set: [All, AWS, Local]")
        prefix = check_path(path_prefix, "pathPrefix") if path_prefix is not None else "/"
        out: list[dict[str, Any]] = []
        if scope in ("All", "AWS"):
            for name in managed_policy_names():
                view = self._aws_view(f"arn:{self._partition}:iam::aws:policy{managed_policy(name).path}{name}")  # type: ignore[union-attr]
                if view is not None:
                    out.append(view)
        if scope in ("All", "Local"):
            out.extend(self._view(d) for d in self._store.list_documents(POLICY))
        out = [p for p in out if p["Path"].startswith(prefix) and (not only_attached or p["AttachmentCount"])]
        return sorted(out, key=lambda p: p["PolicyName"].lower())

    def delete_policy(self, arn: Any) -> None:
        with self._lock:
            doc = self._doc(arn) if managed_policy(str(arn)) is None else _aws_read_only(arn)
            if self._attached_to(doc["Arn"]):
                raise DeleteConflict("Cannot delete a policy attached to entities.")
            if len(doc["Versions"]) > 1:
                raise DeleteConflict("This policy has more than one version. Before you delete a policy, you must "
                                     "delete the policy's versions. The default version is deleted with the policy.")
            self._store.delete_document(POLICY, doc["PolicyName"].lower())

    # -- versions ------------------------------------------------------------------------------
    def create_policy_version(self, arn: Any, document: Any, set_as_default: bool = False) -> dict[str, Any]:
        if isinstance(arn, str) and managed_policy(arn) is not None:
            _aws_read_only(arn)
        with self._lock:
            doc = self._doc(arn)
            text = _document(document, doc["PolicyName"])
            if len(doc["Versions"]) >= MAX_VERSIONS:
                raise IamLimitExceeded(f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
                                       "new version, you must delete an existing version.")
            now = timestamp(self._clock())
            version = {"VersionId": f"v{doc['NextVersion']}", "Document": text, "CreateDate": now}
            doc["NextVersion"] += 1
            doc["Versions"] = [*doc["Versions"], version]
            if set_as_default:
                doc["DefaultVersionId"] = version["VersionId"]
            doc["UpdateDate"] = now
            self._store.put_document(POLICY, doc["PolicyName"].lower(), doc)
        return {"VersionId": version["VersionId"], "IsDefaultVersion": bool(set_as_default), "CreateDate": now}

    def get_policy_version(self, arn: Any, version_id: Any) -> dict[str, Any]:
        aws = managed_policy(arn) if isinstance(arn, str) else None
        if aws is not None:
            if version_id != aws.version_id:
                raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
            return {"Document": document_text(aws.document), "VersionId": aws.version_id, "IsDefaultVersion": True,
                    "CreateDate": aws.updated}
        doc = self._doc(arn)
        version = next((v for v in doc["Versions"] if v["VersionId"] == version_id), None)
        if version is None:
            raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        return {**version, "IsDefaultVersion": version_id == doc["DefaultVersionId"]}

    def list_policy_versions(self, arn: Any) -> list[dict[str, Any]]:
        aws = managed_policy(arn) if isinstance(arn, str) else None
        if aws is not None:
            return [{"VersionId": aws.version_id, "IsDefaultVersion": True, "CreateDate": aws.updated}]
        doc = self._doc(arn)
        return [{"VersionId": v["VersionId"], "IsDefaultVersion": v["VersionId"] == doc["DefaultVersionId"],
                 "CreateDate": v["CreateDate"]} for v in reversed(doc["Versions"])]

    def delete_policy_version(self, arn: Any, version_id: Any) -> None:
        if isinstance(arn, str) and managed_policy(arn) is not None:
            _aws_read_only(arn)
        with self._lock:
            doc = self._doc(arn)
            if not any(v["VersionId"] == version_id for v in doc["Versions"]):
                raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
            if version_id == doc["DefaultVersionId"]:
                raise DeleteConflict("Cannot delete the default version of a policy.")
            doc["Versions"] = [v for v in doc["Versions"] if v["VersionId"] != version_id]
            self._store.put_document(POLICY, doc["PolicyName"].lower(), doc)

    def set_default_policy_version(self, arn: Any, version_id: Any) -> None:
        if isinstance(arn, str) and managed_policy(arn) is not None:
            _aws_read_only(arn)
        with self._lock:
            doc = self._doc(arn)
            if not any(v["VersionId"] == version_id for v in doc["Versions"]):
                raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
            doc["DefaultVersionId"] = version_id
            doc["UpdateDate"] = timestamp(self._clock())
            self._store.put_document(POLICY, doc["PolicyName"].lower(), doc)


def _document(document: Any, name: str) -> str:
    if document is None:
        raise IamValidationError("1 validation error detected: Value null at 'policyDocument' failed to satisfy "
                                 "constraint: Member must not be null")
    text = document_text(document)
    check_managed_size(parse_policy(text, "identity", name=name))
    return text


def _aws_read_only(arn: Any) -> dict[str, Any]:
    raise InvalidInput(f"Policy {arn} is an AWS managed policy: it cannot be changed or deleted.")


def _aws_policy_id(name: str) -> str:
    """A stable id for an AWS managed policy ("ANPA" + 17 characters from its name)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    digest = hashlib.sha256(name.encode()).digest()
    return "ANPA" + "".join(alphabet[b % 32] for b in digest[:17])
