"""An event bus's resource-based policy, as EventBridge's PutPermission and RemovePermission write it:
who else may ``events:PutEvents`` to it. Statements as AWS writes them (an account's root, or ``*``
with an organisation condition), or a whole document (``Policy``); read back by DescribeEventBus
(``Policy``) and by enforcement (``Cumulo.resource_policy``). One store document per bus
(``event-bus-policy``), gone with the bus."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from cumulo.errors import ResourceNotFoundException, ValidationException
from cumulo.iam import MalformedPolicyDocument, parse_policy
from cumulo.ports import Documents

__all__ = ["BusPolicies", "POLICY_DOCUMENT"]

POLICY_DOCUMENT = "event-bus-policy"
_PRINCIPAL = re.compile(r"(\d{12}|\*)")
_SID = re.compile(r"[a-zA-Z0-9\-_]{1,64}")


class BusPolicies:
    def __init__(self, documents: Documents, bus_name: Callable[[Any], str], bus_arn: Callable[[str], str]) -> None:
        """``bus_name``: an EventBusName (name or ARN, None for the default bus) to the name of a bus
        that exists (else ResourceNotFoundException); ``bus_arn``: its ARN."""
        self._documents, self._bus_name, self._bus_arn = documents, bus_name, bus_arn

    def put_permission(self, bus: Any = None, action: Any = None, principal: Any = None, statement_id: Any = None,
                       condition: Any = None, policy: Any = None) -> None:
        name = self._bus_name(bus)
        if policy is not None:
            if any(v is not None for v in (action, principal, statement_id, condition)):
                raise ValidationException("Policy cannot be combined with Action, Principal, StatementId or Condition.")
            if not isinstance(policy, str):
                raise ValidationException("Policy must be a JSON policy document.")
            try:
                parse_policy(policy, "resource")
            except MalformedPolicyDocument as exc:
                raise ValidationException(f"Policy is not valid: {exc.message}") from None
            self._documents.put_document(POLICY_DOCUMENT, name, json.loads(policy))
            return
        if action != "events:PutEvents":
            raise ValidationException("Provided value in parameter 'action' is not supported.")
        if not isinstance(principal, str) or not _PRINCIPAL.fullmatch(principal):
            raise ValidationException(f"1 validation error detected: Value '{principal}' at 'principal' failed to "
                                      "satisfy constraint: Member must satisfy regular expression pattern: (\\d{12}|\\*)")
        if not isinstance(statement_id, str) or not _SID.fullmatch(statement_id):
            raise ValidationException(f"1 validation error detected: Value '{statement_id}' at 'statementId' failed "
                                      "to satisfy constraint: Member must satisfy regular expression pattern: "
                                      "[a-zA-Z0-9-_]+")
        statement: dict[str, Any] = {
            "Sid": statement_id, "Effect": "Allow",
            "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
            "Action": "events:PutEvents", "Resource": self._bus_arn(name)}
        if condition is not None:
            if not (isinstance(condition, dict) and condition.get("Type") == "StringEquals"
                    and condition.get("Key") == "aws:PrincipalOrgID" and isinstance(condition.get("Value"), str)):
                raise ValidationException("Condition must be {Type: StringEquals, Key: aws:PrincipalOrgID, Value: "
                                          "<organization id>}.")
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": condition["Value"]}}
        doc = self._documents.get_document(POLICY_DOCUMENT, name) or {"Version": "2012-10-17", "Statement": []}
        statements = [s for s in doc.get("Statement", []) if s.get("Sid") != statement_id] + [statement]
        self._documents.put_document(POLICY_DOCUMENT, name, {**doc, "Statement": statements})

    def remove_permission(self, bus: Any = None, statement_id: Any = None, remove_all: Any = None) -> None:
        name = self._bus_name(bus)
        doc = self._documents.get_document(POLICY_DOCUMENT, name)
        if remove_all:
            if statement_id is not None:
                raise ValidationException("StatementId cannot be combined with RemoveAllPermissions.")
            self._documents.delete_document(POLICY_DOCUMENT, name)
            return
        if doc is None:
            raise ResourceNotFoundException("EventBus does not have a policy.")
        statements = doc.get("Statement", [])
        kept = [s for s in statements if s.get("Sid") != statement_id]
        if len(kept) == len(statements):
            raise ResourceNotFoundException("Statement with the provided id does not exist.")
        if kept:
            self._documents.put_document(POLICY_DOCUMENT, name, {**doc, "Statement": kept})
        else:
            self._documents.delete_document(POLICY_DOCUMENT, name)

    def policy_text(self, bus: Any = None) -> str | None:
        """The bus's policy as DescribeEventBus answers it (JSON text), or None."""
        doc = self._documents.get_document(POLICY_DOCUMENT, self._bus_name(bus))
        return json.dumps(doc, separators=(",", ":")) if doc else None

    def forget(self, name: str) -> None:
        """A deleted bus's policy goes with it."""
        self._documents.delete_document(POLICY_DOCUMENT, name)
