"""Functions' resource-based policies: Lambda's AddPermission, RemovePermission and GetPolicy.

A function has one policy for its unqualified ARN and one per version or alias it was given with
``Qualifier`` (AWS: "the permission applies only to the ARN used in the AddPermission request"), each
kept as a document (``function-policy``, id ``<name>`` or ``<name>:<qualifier>``) with its own
RevisionId. ``policy_for(arn)`` answers the parsed policy (``cumulo.iam.Policy``) of the ARN a request
acts on, cached until the store says something changed, so enforcement (``api/authorize.py``) and the
platform's deliveries pay a dict lookup per request. Policies go with their function, version or alias.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from cumulo import iam
from cumulo.errors import (
    InvalidParameterValueException, PreconditionFailedException, ResourceConflictException, ResourceNotFoundException,
)
from cumulo.model import function as fn
from cumulo.model.function import LATEST, Arns
from cumulo.model.permission import permission_statement, policy_document
from cumulo.ports import Documents, Functions

__all__ = ["FunctionPolicies", "KIND"]

KIND = "function-policy"


class FunctionPolicies:
    def __init__(self, store: Documents, functions: Functions, arns: Arns) -> None:
        self._store, self._functions, self._arns = store, functions, arns
        self._lock = threading.Lock()
        self._parsed: dict[str, iam.Policy | None] = {}
        self._generation = -1

    def _target(self, ref: str, qualifier: str | None) -> tuple[str, str | None]:
        """(name, qualifier) of an existing function, version or alias; $LATEST is refused, as AWS does."""
        name, q = fn.parse_function_ref(ref, qualifier)
        if q == LATEST:
            raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
        self._functions.get(name, q)        # ResourceNotFoundException when it is not there
        return name, q

    def _doc(self, name: str, qualifier: str | None, revision_id: str | None) -> dict[str, Any] | None:
        doc = self._store.get_document(KIND, _doc_id(name, qualifier))
        if revision_id is not None and (doc or {}).get("revision_id") != revision_id:
            raise PreconditionFailedException("The Revision Id provided does not match the latest Revision Id. "
                                              "Call the GetPolicy API to retrieve the latest Revision Id")
        return doc

    def add_permission(self, ref: str, qualifier: str | None, request: dict[str, Any]) -> dict[str, str]:
        """AddPermission: ``{"Statement": <the statement as JSON text>}``."""
        name, q = self._target(ref, qualifier)
        statement = permission_statement(self._arns.function(name, q), request)
        with self._lock:
            doc = self._doc(name, q, request.get("RevisionId")) or {"statements": []}
            if any(s["Sid"] == statement["Sid"] for s in doc["statements"]):
                raise ResourceConflictException(
                    f"The statement id ({statement['Sid']}) provided already exists. Please provide a new statement "
                    "id, or remove the existing statement.")
            self._store.put_document(KIND, _doc_id(name, q), {
                "name": name, "qualifier": q, "statements": [*doc["statements"], statement],
                "revision_id": str(uuid.uuid4())})
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    def remove_permission(self, ref: str, qualifier: str | None, statement_id: str,
                          revision_id: str | None = None) -> None:
        name, q = self._target(ref, qualifier)
        with self._lock:
            doc = self._doc(name, q, revision_id)
            if doc is None or not doc["statements"]:
                raise ResourceNotFoundException("No policy is associated with the given resource.")
            kept = [s for s in doc["statements"] if s["Sid"] != statement_id]
            if len(kept) == len(doc["statements"]):
                raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")
            if kept:
                self._store.put_document(KIND, _doc_id(name, q), {**doc, "statements": kept,
                                                                  "revision_id": str(uuid.uuid4())})
            else:
                self._store.delete_document(KIND, _doc_id(name, q))

    def get_policy(self, ref: str, qualifier: str | None) -> dict[str, str]:
        """GetPolicy: ``{"Policy": <JSON text>, "RevisionId"}``."""
        name, q = fn.parse_function_ref(ref, qualifier)
        self._functions.get(name, None if q == LATEST else q)
        doc = self._store.get_document(KIND, _doc_id(name, None if q == LATEST else q))
        if doc is None or not doc["statements"]:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return {"Policy": json.dumps(policy_document(doc["statements"]), separators=(",", ":")),
                "RevisionId": doc["revision_id"]}

    def forget(self, name: str, qualifier: str | None = None) -> None:
        """Drop the policies of a deleted function (every qualifier) or of one deleted version or alias."""
        if qualifier is not None:
            self._store.delete_document(KIND, _doc_id(name, qualifier))
            return
        for doc in self._store.list_documents(KIND):
            if doc.get("name") == name:
                self._store.delete_document(KIND, _doc_id(name, doc.get("qualifier")))

    # -- for authorization -----------------------------------------------------
    def policy_for(self, arn: str) -> iam.Policy | None:
        """The parsed policy of a function ARN (qualified or not; ``:$LATEST`` is the unqualified one)."""
        generation = self._store.generation
        if generation != self._generation:
            self._parsed = {}
            self._generation = generation
        try:
            return self._parsed[arn]
        except KeyError:
            pass
        parts = arn.split(":")
        found = None
        if len(parts) in (7, 8) and parts[5] == "function":
            qualifier = parts[7] if len(parts) == 8 and parts[7] != LATEST else None
            doc = self._store.get_document(KIND, _doc_id(parts[6], qualifier))
            if doc is not None and doc["statements"]:
                found = iam.parse_policy(policy_document(doc["statements"]), "resource", name=f"{parts[6]} policy")
        if len(self._parsed) >= 4096:
            self._parsed = {}
        self._parsed[arn] = found
        return found


def _doc_id(name: str, qualifier: str | None) -> str:
    return f"{name}:{qualifier}" if qualifier else name
