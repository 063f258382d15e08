"""``AWS::SecretsManager::Secret``: a secret, with ``SecretString`` or ``GenerateSecretString``
(``SecretStringTemplate`` and ``GenerateStringKey`` together, or neither; ``PasswordLength``,
``ExcludeCharacters``, ``ExcludeLowercase``, ``ExcludeNumbers``, ``ExcludePunctuation``,
``ExcludeUppercase``, ``IncludeSpace``, ``RequireEachIncludedType``), ``Name`` (or
``<LogicalId>-<suffix>``), ``Description``, ``KmsKeyId``, ``Tags``; ``ReplicaRegions`` is accepted
with a warning. A generated value is made once: a deploy makes a new one only when
``GenerateSecretString`` changes (the record keeps a digest of its settings, never the value); a
changed ``SecretString`` (against the version the last deploy put, as CloudFormation compares
templates: a rotated value is not put back) is a new ``AWSCURRENT`` version. A secret the template drops is deleted
without a recovery window, so a later deploy may use the name again.

``Ref`` and ``Fn::GetAtt Id`` are the secret's ARN.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.model import secrets as sm
from cumulo.model.function import Arns

__all__ = ["Secret", "SECRET_TYPE"]

SECRET_TYPE = "AWS::SecretsManager::Secret"
_KNOWN = {"Name", "Description", "KmsKeyId", "SecretString", "GenerateSecretString", "Tags", "ReplicaRegions"}
_GENERATE = {"SecretStringTemplate", "GenerateStringKey", "PasswordLength", "ExcludeCharacters", "ExcludeLowercase",
             "ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase", "IncludeSpace", "RequireEachIncludedType"}


@dataclass(frozen=True)
class SecretSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    secret_string: str | None = None
    generate: dict[str, Any] | None = None
    description: str | None = None
    kms_key_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """What decides whether a generated value is made again (never the value itself)."""
        return hashlib.sha256(json.dumps(self.generate, sort_keys=True).encode()).hexdigest()[:16]


def _name(load: Load, entry: Entry) -> str:
    try:
        given = resolve(entry.properties.get("Name", NO_VALUE), load.plain)
    except IntrinsicError as exc:
        raise property_error(entry, exc) from None
    if given is NO_VALUE:
        suffix = hashlib.sha256(f"{load.stack}:{entry.logical_id}".encode()).hexdigest()[:12]
        return f"{entry.logical_id}-{suffix}"
    try:
        return sm.check_name(to_str(given))
    except sm.SecretsError as exc:
        raise error(entry.where, f"property Name: {exc.message}", entry.logical_id,
                    entry.properties.line_of("Name")) from None


def _bool(props: dict[str, Any], key: str, default: bool) -> bool:
    if key not in props:
        return default
    return to_str(props[key]).lower() == "true"


def generate(settings: dict[str, Any]) -> str:
    """A value as GenerateSecretString makes it: a password, alone or under a key of the template's JSON."""
    length = int(to_str(settings.get("PasswordLength", 32)))
    password = sm.random_password(length, to_str(settings.get("ExcludeCharacters", "")),
                                  not _bool(settings, "ExcludeNumbers", False),
                                  not _bool(settings, "ExcludeUppercase", False),
                                  not _bool(settings, "ExcludeLowercase", False),
                                  not _bool(settings, "ExcludePunctuation", False),
                                  _bool(settings, "IncludeSpace", False),
                                  _bool(settings, "RequireEachIncludedType", True))
    template = settings.get("SecretStringTemplate")
    if template is None:
        return password
    doc = json.loads(template)
    doc[settings["GenerateStringKey"]] = password
    return json.dumps(doc)


class Secret(Kind):
    name = "secret"
    types = (SECRET_TYPE,)
    listed = 23
    record_key = "secrets"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named = {entry.logical_id: _name(load, entry) for entry in entries}
        attributes: Attributes = {}
        for lid, name in named.items():
            arn = sm.secret_arn(load.region, load.account, name)
            attributes.update({(lid, "Ref"): arn, (lid, "Id"): arn})
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                unknown = sorted(set(props) - _KNOWN)
                if unknown:
                    raise IntrinsicError(f"property {unknown[0]}: not a property of {SECRET_TYPE}")
                if "SecretString" in props and "GenerateSecretString" in props:
                    raise IntrinsicError("property GenerateSecretString: give SecretString or GenerateSecretString, "
                                         "not both")
                gen = props.get("GenerateSecretString")
                if gen is not None:
                    if not isinstance(gen, dict) or set(gen) - _GENERATE:
                        raise IntrinsicError(f"property GenerateSecretString: unknown member "
                                             f"{sorted(set(gen) - _GENERATE)[0] if isinstance(gen, dict) else gen}")
                    if ("SecretStringTemplate" in gen) != ("GenerateStringKey" in gen):
                        raise IntrinsicError("property GenerateSecretString: SecretStringTemplate and "
                                             "GenerateStringKey go together")
                    if "SecretStringTemplate" in gen:
                        try:
                            loaded = json.loads(to_str(gen["SecretStringTemplate"]))
                        except ValueError:
                            loaded = None
                        if not isinstance(loaded, dict):
                            raise IntrinsicError("property GenerateSecretString.SecretStringTemplate: must be a "
                                                 "JSON object")
                    try:
                        generate(gen)             # its settings hold: the deploy will not fail on them
                    except (sm.SecretsError, ValueError) as exc:
                        raise IntrinsicError(f"property GenerateSecretString: {exc}") from None
                elif "SecretString" not in props:
                    gen = {}                      # CloudFormation generates a 32-character password
                tags = props.get("Tags") or []
                if not isinstance(tags, list) or not all(isinstance(t, dict) and {"Key", "Value"} <= set(t)
                                                         for t in tags):
                    raise IntrinsicError("property Tags: must be a list of {Key, Value}")
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            notes = ("ReplicaRegions: secrets are not replicated on Cumulo",) if "ReplicaRegions" in props else ()
            specs.append(SecretSpec(
                entry.logical_id, entry.line, name, sm.secret_arn(load.region, load.account, name),
                to_str(props["SecretString"]) if "SecretString" in props else None, gen,
                to_str(props["Description"]) if "Description" in props else None,
                to_str(props["KmsKeyId"]) if "KmsKeyId" in props else None,
                tuple((to_str(t["Key"]), to_str(t["Value"])) for t in tags), notes))
        return specs

    def attributes(self, spec: SecretSpec, arns: Arns) -> Attributes:
        return {(spec.logical_id, "Ref"): spec.arn, (spec.logical_id, "Id"): spec.arn}

    def _details(self, spec: SecretSpec, deploy: Deploy) -> list[str] | None:
        try:
            described = deploy.c.secrets.describe_secret(spec.name)
        except CumuloError:
            return None
        details = []
        if described.get("DeletedDate") is not None:
            return None
        if (described.get("Description") or None) != spec.description:
            details.append("Description")
        before = (deploy.before(self) or {}).get(spec.logical_id) or {}
        if spec.secret_string is not None:
            # the version the last deploy put, as CloudFormation compares templates (a rotation moves
            # AWSCURRENT on, and its value is not put back); the current one when that is not known
            try:
                current = deploy.c.secrets.get_secret_value(spec.name, before.get("version"))
            except CumuloError:
                try:
                    current = deploy.c.secrets.get_secret_value(spec.name)
                except CumuloError:
                    current = {}
            if current.get("SecretString") != spec.secret_string:
                details.append("SecretString")
        else:
            if before.get("generated") != spec.digest:
                details.append("GenerateSecretString")
        return details

    def plan(self, spec: SecretSpec, deploy: Deploy) -> Change:
        details = self._details(spec, deploy)
        if details is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def apply(self, spec: SecretSpec, change: Change | None, deploy: Deploy) -> str | None:
        """The id of the version holding the template's value (the record's ``version``)."""
        details = self._details(spec, deploy)
        kept = ((deploy.before(self) or {}).get(spec.logical_id) or {}).get("version")
        secrets = deploy.c.secrets
        value = spec.secret_string if spec.secret_string is not None else None
        if details is None:
            try:       # a secret of that name scheduled for deletion: the template's wins
                if secrets.describe_secret(spec.name).get("DeletedDate") is not None:
                    secrets.delete_secret(spec.name, force=True)
            except CumuloError:
                pass
            made = secrets.create_secret(spec.name, value if value is not None else generate(spec.generate or {}),
                                         None, spec.description, spec.kms_key_id,
                                         [{"Key": k, "Value": v} for k, v in spec.tags] or None)
            deploy.undo.append(lambda: quietly(secrets.delete_secret, spec.name, None, True))
            return made.get("VersionId")
        if not details:
            return kept
        if "Description" in details:
            secrets.update_secret(spec.name, description=spec.description or "")
        if "SecretString" in details or "GenerateSecretString" in details:
            made = secrets.put_secret_value(spec.name, value if value is not None else generate(spec.generate or {}))
            undo_to = next((v for v, labels in secrets.describe_secret(spec.name).get("VersionIdsToStages", {}).items()
                            if sm.PREVIOUS in labels), None)
            if undo_to is not None:
                deploy.undo.append(lambda: quietly(secrets.update_version_stage, spec.name, sm.CURRENT,
                                                   made["VersionId"], undo_to))
            return made["VersionId"]  # type: ignore[no-any-return]
        return kept

    def record(self, applied: list[tuple[SecretSpec, Any]]) -> dict[str, Any]:
        return {spec.logical_id: {"name": spec.name, "generated": spec.digest if spec.secret_string is None else None,
                                  "version": version}
                for spec, version in applied}

    def removed(self, specs: list[SecretSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(lid, kept["name"], "delete", kind=self.name)
                for lid, kept in sorted((deploy.before(self) or {}).items()) if kept["name"] not in wanted]

    def remove(self, previous: Any, current: dict[str, Any], deploy: Deploy) -> None:
        wanted = {kept["name"] for kept in current.values()}
        for kept in (previous or {}).values():
            if kept["name"] not in wanted:
                quietly(deploy.c.secrets.delete_secret, kept["name"], None, True)

    def summary(self, spec: SecretSpec) -> list[str]:
        how = "generated" if spec.secret_string is None else "given"
        return [f"secret {spec.name} ({spec.logical_id}): value {how}, {spec.arn}"]
