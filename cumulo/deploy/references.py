"""Dynamic references (``{{resolve:…}}``) and ``AWS::SSM::Parameter::Value<…>`` parameters: values a
template reads from Parameter Store and Secrets Manager when it is deployed.

CloudFormation's forms (User Guide, "Get values stored in other services using dynamic references"):

- ``{{resolve:ssm:name}}``, ``{{resolve:ssm:name:version}}``: a ``String`` or ``StringList``
  parameter (its latest version unless one is named);
- ``{{resolve:ssm-secure:name}}``, ``{{resolve:ssm-secure:name:version}}``: a ``SecureString``;
- ``{{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}``: a secret
  (a name or its whole ARN); every part after the id may be left empty or out; without a json-key
  the whole string, with one that member of the secret's JSON (``AWSCURRENT`` unless a stage or a
  version id is named; not both).

They are resolved in the strings of a template's ``Resources``, before intrinsic functions, once,
when the template is read for a deploy (or a dry run): the values are read from the store, never
written into the stack's record. The parameters and secrets must exist before the deploy, as on
AWS (one made by the same template cannot be referenced).
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

__all__ = ["Lookup", "ReferenceError_", "resolve_references", "REFERENCE"]

REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^{}]*)\}\}")
_STAGE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,256}")


class ReferenceError_(Exception):
    """A dynamic reference that cannot be resolved: its message says which and why."""


class Lookup(Protocol):
    """Where references are read (the deploy engine gives the store's services)."""

    def parameter(self, name: str, secure: bool) -> str:
        """A parameter's value (``name`` may carry ``:version``): ``secure`` wants a SecureString."""

    def secret(self, secret_id: str, stage: str | None, version_id: str | None) -> str:
        """A secret's string."""


def _secret(body: str, lookup: Lookup, text: str) -> str:
    if body.startswith("arn:"):
        parts = body.split(":")
        if len(parts) < 7:
            raise ReferenceError_(f"{text}: '{body}' is not a secret's ARN")
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, *rest = body.split(":")
    rest += [""] * (4 - len(rest))
    if len(rest) > 4:
        raise ReferenceError_(f"{text}: too many parts (secret-id:SecretString:json-key:version-stage:version-id)")
    kind, key, stage, version = rest
    if not secret_id:
        raise ReferenceError_(f"{text}: the secret's id is missing")
    if kind not in ("", "SecretString"):
        raise ReferenceError_(f"{text}: the second part must be SecretString, not '{kind}'")
    if stage and version:
        raise ReferenceError_(f"{text}: name a version stage or a version id, not both")
    if stage and _STAGE.fullmatch(stage) is None:
        raise ReferenceError_(f"{text}: '{stage}' is not a version stage")
    value = lookup.secret(secret_id, stage or None, version or None)
    if not key:
        return value
    try:
        doc = json.loads(value)
    except ValueError:
        raise ReferenceError_(f"{text}: the secret's value is not JSON, so it has no key '{key}'") from None
    if not isinstance(doc, dict) or key not in doc:
        raise ReferenceError_(f"{text}: the secret's JSON has no key '{key}'")
    member = doc[key]
    return member if isinstance(member, str) else json.dumps(member)


def _one(match: re.Match[str], lookup: Lookup) -> str:
    service, body = match.group(1), match.group(2)
    text = match.group(0)
    if service == "secretsmanager":
        return _secret(body, lookup, text)
    if not body or body.count(":") > 1 and not body.startswith("arn:"):
        raise ReferenceError_(f"{text}: expected {{{{resolve:{service}:name}}}} or "
                              f"{{{{resolve:{service}:name:version}}}}")
    name, _, version = body.partition(":") if not body.startswith("arn:") else (body, "", "")
    if version and not version.isdigit():
        raise ReferenceError_(f"{text}: the version must be a number, not '{version}'")
    return lookup.parameter(f"{name}:{version}" if version else name, service == "ssm-secure")


def resolve_references(value: Any, lookup: Lookup | None) -> Any:
    """``value`` (a template's part) with every dynamic reference in its strings replaced, in place for
    mappings and lists (``Node``s keep their lines); a string is answered anew."""
    if isinstance(value, str):
        if "{{resolve:" not in value:
            return value
        if lookup is None:
            found = REFERENCE.search(value)
            raise ReferenceError_(f"{found.group(0) if found else value}: dynamic references are resolved only "
                                  "when a template is deployed to a store")
        return REFERENCE.sub(lambda m: _one(m, lookup), value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = resolve_references(value[key], lookup)
        return value
    if isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = resolve_references(item, lookup)
        return value
    return value


class StoreLookup:
    """References read from a store's Parameter Store and Secrets Manager (``Cumulo.parameters``,
    ``Cumulo.secrets``), with CloudFormation's rules: ``ssm`` never reads a SecureString and
    ``ssm-secure`` only one; a secret's value must be a string."""

    def __init__(self, parameters: Any, secrets: Any) -> None:
        self.parameters, self.secrets = parameters, secrets

    def parameter(self, name: str, secure: bool) -> str:
        from cumulo.errors import CumuloError

        try:
            found = self.parameters.get(name, decrypt=secure)
        except CumuloError as exc:
            raise ReferenceError_(f"parameter {name}: {exc.type}: {exc.message}") from None
        if secure and found["Type"] != "SecureString":
            raise ReferenceError_(f"parameter {name}: ssm-secure reads SecureString parameters, and this one is a "
                                  f"{found['Type']}")
        if not secure and found["Type"] == "SecureString":
            raise ReferenceError_(f"parameter {name}: a SecureString is read with {{{{resolve:ssm-secure:…}}}}, not ssm")
        return str(found["Value"])

    def secret(self, secret_id: str, stage: str | None, version_id: str | None) -> str:
        from cumulo.errors import CumuloError

        try:
            found = self.secrets.get_secret_value(secret_id, version_id, stage)
        except CumuloError as exc:
            raise ReferenceError_(f"secret {secret_id}: {exc.type}: {exc.message}") from None
        if "SecretString" not in found:
            raise ReferenceError_(f"secret {secret_id}: its value is binary; a dynamic reference reads SecretString")
        return str(found["SecretString"])
