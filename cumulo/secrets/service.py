"""Secrets Manager: secrets as store documents (``secretsmanager-secret``, one per name), each
version's value sealed with the store's master key (``keyring.py``; the context is the secret's ARN
and the version's id, so a value copied elsewhere does not open). The rules of staging labels and
names are ``model/secrets.py``'s. A secret scheduled for deletion refuses everything but
Describe, Restore and a forced Delete, and is gone once its date has passed (read lazily: the next
call that looks for it removes it).

Rotation (docs/secrets.md): RotateSecret keeps a rotation function and rules on the secret, stages
an empty ``AWSPENDING`` version (the rotation's ``ClientRequestToken``) and invokes the function
(``ports.Invoke``) with the four steps in order, outside the service's lock: the function calls the
API back with its role's session. Only a ``finishSecret`` that left ``AWSCURRENT`` on the new
version is a rotation; anything else leaves ``AWSCURRENT`` where it was and ``AWSPENDING`` on the
new version, which a later RotateSecret refuses as AWS does. ``RotationWorker``
(``secrets/rotation.py``) starts the rotations whose window has opened, on the service's clock.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import uuid
from typing import Any, Callable

from cumulo import iam
from cumulo.keyring import Keyring
from cumulo.model import secrets as sm
from cumulo.model.s3public import is_public
from cumulo.model.secrets import SecretsError, invalid_parameter, invalid_request, not_found
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, Invoke

__all__ = ["SecretService", "SECRET_DOCUMENT", "MayInvoke"]

log = logging.getLogger("cumulo.secrets")
# whether a service principal (``secretsmanager.amazonaws.com``) may invoke a function ARN for a
# source ARN (the secret's): the function's resource policy decides; False for no such function
MayInvoke = Callable[[str, str, str], bool]
SERVICE_PRINCIPAL = "secretsmanager.amazonaws.com"

SECRET_DOCUMENT = "secretsmanager-secret"
MAX_POLICY = 20_480          # a resource policy's characters, as AWS's quota
_DAY = 86_400
_TOKEN = re.compile(r"[A-Za-z0-9-]{32,64}")
_FILTER_KEYS = {"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class SecretService:
    def __init__(self, documents: Documents, keyring: Callable[[], Keyring], region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK, invoke: Invoke | None = None, may_invoke: MayInvoke | None = None) -> None:
        self.documents, self._keyring, self.region, self.account, self.clock = documents, keyring, region, account, clock
        self._invoke, self._may_invoke = invoke, may_invoke
        self._lock = threading.RLock()

    # -- finding -----------------------------------------------------------------------------------
    def arn(self, name: str) -> str:
        return sm.secret_arn(self.region, self.account, name)

    def _get(self, secret_id: Any, deleted_ok: bool = False) -> dict[str, Any]:
        if not isinstance(secret_id, str) or not secret_id:
            raise invalid_parameter("You must specify a SecretId.")
        name = sm.name_of(secret_id, self.account)
        doc = self.documents.get_document(SECRET_DOCUMENT, name)
        if doc is not None and secret_id.startswith("arn:") and secret_id != doc["ARN"] and secret_id != doc["ARN"][:-7]:
            doc = None
        if doc is not None and doc.get("DeletionDate") is not None and doc["DeletionDate"] <= self.clock.now():
            self.documents.delete_document(SECRET_DOCUMENT, name)      # its recovery window has passed
            doc = None
        if doc is None:
            raise not_found()
        if doc.get("DeletedDate") is not None and not deleted_ok:
            raise sm.marked_for_deletion()
        return doc

    def _context(self, doc: dict[str, Any], version_id: str) -> str:
        return f"secretsmanager:{doc['ARN']}:{version_id}"

    def reseal_document(self, doc: dict[str, Any], reseal: Callable[[str, str], str]) -> dict[str, Any]:
        """A master key rotation's rewrite of a kept secret: each version's value sealed again."""
        for vid, version in doc.get("Versions", {}).items():
            if "sealed" in version:
                version["sealed"] = reseal(version["sealed"], self._context(doc, vid))
        return doc

    def _value(self, secret_string: Any, secret_binary: Any, required: bool) -> tuple[bytes, str] | None:
        if secret_string is not None and secret_binary is not None:
            raise invalid_parameter("You can't specify both a binary secret value and a string secret value in "
                                    "the same secret.")
        if secret_string is None and secret_binary is None:
            if required:
                raise invalid_request("You must provide either SecretString or SecretBinary.")
            return None
        if secret_string is not None:
            if not isinstance(secret_string, str):
                raise invalid_parameter("SecretString must be a string.")
            raw, kind = secret_string.encode(), "string"
        else:
            raw = base64.b64decode(secret_binary) if isinstance(secret_binary, str) else bytes(secret_binary)
            kind = "binary"
        if not raw or len(raw) > sm.MAX_VALUE_BYTES:
            raise invalid_parameter(f"The secret value must be 1 to {sm.MAX_VALUE_BYTES} bytes.")
        return raw, kind

    def _token(self, token: Any) -> str:
        if token is None:
            return str(uuid.uuid4())
        if not isinstance(token, str) or _TOKEN.fullmatch(token) is None:
            raise invalid_parameter("ClientRequestToken must be 32 to 64 letters, digits or hyphens.")
        return token

    # -- versions ----------------------------------------------------------------------------------
    def _add_version(self, doc: dict[str, Any], token: str, value: tuple[bytes, str],
                     stages: list[str] | None) -> bool:
        """A new version (False: the same token and value again, which changes nothing)."""
        raw, kind = value
        versions: dict[str, Any] = doc["Versions"]
        if token in versions and "sealed" not in versions[token]:      # a rotation's empty AWSPENDING version
            versions[token].update(sealed=self._keyring().seal(raw, self._context(doc, token)), kind=kind)
            for stage in sorted(stages if stages is not None else [sm.CURRENT], key=lambda s: s != sm.CURRENT):
                sm.move_stage(doc["Stages"], stage, token)
            doc["LastChangedDate"] = self.clock.now()
            return True
        if token in versions:
            old = versions[token]
            if old["kind"] == kind and self._keyring().open_sealed(old["sealed"], self._context(doc, token)) == raw:
                return False
            raise sm.exists(f"You can't modify an existing version, you can only create a new version. "
                            f"VersionId: {token}")
        now = self.clock.now()
        versions[token] = {"sealed": self._keyring().seal(raw, self._context(doc, token)), "kind": kind,
                           "CreatedDate": now}
        doc["Order"].append(token)
        sm.stage_new_version(doc["Stages"], token, stages)
        for gone in sm.prune(versions, doc["Order"], doc["Stages"]):
            del versions[gone]
            doc["Stages"].pop(gone, None)
            doc["Order"].remove(gone)
        doc["LastChangedDate"] = now
        return True

    def _manual_rotation(self, doc: dict[str, Any], token: str) -> None:
        """A value put by hand (PutSecretValue, UpdateSecret) that became ``AWSCURRENT`` counts as a
        rotation for an ``AutomaticallyAfterDays`` schedule, as AWS documents (RotationRulesType: "Manually
        updating the secret value by calling PutSecretValue or UpdateSecret is considered a valid
        rotation"): ``LastRotatedDate`` is now and the next window counts from it. A schedule by
        ``ScheduleExpression`` keeps its windows; a version staged only ``AWSPENDING`` (a rotation
        function's createSecret) is no rotation."""
        rotation = doc.get("Rotation") or {}
        rules = rotation.get("Rules") or {}
        if not rotation.get("Enabled") or "AutomaticallyAfterDays" not in rules \
                or sm.CURRENT not in doc["Stages"].get(token, []):
            return
        now = self.clock.now()
        rotation["LastRotatedDate"] = now
        rotation["Next"] = sm.rotation_window(rules, now, now)[0]

    # -- operations --------------------------------------------------------------------------------
    def create_secret(self, name: Any, secret_string: Any = None, secret_binary: Any = None,
                      description: Any = None, kms_key_id: Any = None, tags: Any = None,
                      token: Any = None) -> dict[str, Any]:
        name = sm.check_name(name)
        value = self._value(secret_string, secret_binary, required=False)
        token = self._token(token)
        with self._lock:
            existing = self.documents.get_document(SECRET_DOCUMENT, name)
            if existing is not None and existing.get("DeletionDate") is not None and \
                    existing["DeletionDate"] <= self.clock.now():
                self.documents.delete_document(SECRET_DOCUMENT, name)
                existing = None
            if existing is not None:
                if existing.get("DeletedDate") is not None:
                    raise invalid_request("You can't create this secret because a secret with this name is already "
                                          "scheduled for deletion.")
                raise sm.exists(f"The operation failed because the secret {name} already exists.")
            now = self.clock.now()
            doc: dict[str, Any] = {"Name": name, "ARN": self.arn(name), "Description": description,
                                   "KmsKeyId": kms_key_id, "Tags": _tags(tags), "CreatedDate": now,
                                   "LastChangedDate": now, "Versions": {}, "Stages": {}, "Order": []}
            if value is not None:
                self._add_version(doc, token, value, None)
            self.documents.put_document(SECRET_DOCUMENT, name, doc)
        out = {"ARN": doc["ARN"], "Name": name}
        if value is not None:
            out["VersionId"] = token
        return out

    def put_secret_value(self, secret_id: Any, secret_string: Any = None, secret_binary: Any = None,
                         stages: Any = None, token: Any = None) -> dict[str, Any]:
        value = self._value(secret_string, secret_binary, required=True)
        assert value is not None
        token = self._token(token)
        wanted = sm.check_stages(stages) if stages is not None else None
        with self._lock:
            doc = self._get(secret_id)
            if self._add_version(doc, token, value, wanted):
                self._manual_rotation(doc, token)
                self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        return {"ARN": doc["ARN"], "Name": doc["Name"], "VersionId": token,
                "VersionStages": list(doc["Stages"].get(token, []))}

    def update_secret(self, secret_id: Any, secret_string: Any = None, secret_binary: Any = None,
                      description: Any = None, kms_key_id: Any = None, token: Any = None) -> dict[str, Any]:
        value = self._value(secret_string, secret_binary, required=False)
        token = self._token(token)
        with self._lock:
            doc = self._get(secret_id)
            if description is not None:
                doc["Description"] = description
            if kms_key_id is not None:
                doc["KmsKeyId"] = kms_key_id
            doc["LastChangedDate"] = self.clock.now()
            if value is not None and self._add_version(doc, token, value, None):
                self._manual_rotation(doc, token)
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        out = {"ARN": doc["ARN"], "Name": doc["Name"]}
        if value is not None:
            out["VersionId"] = token
        return out

    def get_secret_value(self, secret_id: Any, version_id: Any = None, stage: Any = None) -> dict[str, Any]:
        with self._lock:
            doc = self._get(secret_id)
            vid = self._pick(doc, version_id, stage)
            version = doc["Versions"][vid]
            raw = self._keyring().open_sealed(version["sealed"], self._context(doc, vid))
            today = int(self.clock.now()) // _DAY * _DAY      # AWS keeps the day of the last access
            if doc.get("LastAccessedDate") != today:
                doc["LastAccessedDate"] = today
                self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        out: dict[str, Any] = {"ARN": doc["ARN"], "Name": doc["Name"], "VersionId": vid,
                               "VersionStages": list(doc["Stages"].get(vid, [])),
                               "CreatedDate": version["CreatedDate"]}
        if version["kind"] == "string":
            out["SecretString"] = raw.decode()
        else:
            out["SecretBinary"] = raw
        return out

    def _pick(self, doc: dict[str, Any], version_id: Any, stage: Any) -> str:
        if version_id is not None:
            if "sealed" not in doc["Versions"].get(version_id, {}):
                raise not_found(f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
            if stage is not None and stage not in doc["Stages"].get(version_id, []):
                raise not_found(f"Secrets Manager can't find the specified secret value for VersionId: {version_id} "
                                f"and staging label: {stage}")
            return str(version_id)
        label = stage if stage is not None else sm.CURRENT
        for vid, labels in doc["Stages"].items():
            if label in labels and "sealed" in doc["Versions"][vid]:
                return str(vid)
        raise not_found(f"Secrets Manager can't find the specified secret value for staging label: {label}")

    def kms_key_of(self, name: str) -> str | None:
        """The secret's ``KmsKeyId`` (None: the AWS-managed ``aws/secretsmanager``)."""
        doc = self.documents.get_document(SECRET_DOCUMENT, name)
        return (doc or {}).get("KmsKeyId") or None

    def rotation_function_of(self, arn: str) -> str | None:
        """The rotation function of the secret ``arn`` names (its ``RotationLambdaARN``), or None: IAM's
        ``secretsmanager:resource/AllowRotationLambdaArn``. Nothing is removed or changed on the way."""
        try:
            name = sm.name_of(arn, self.account)
        except SecretsError:
            return None
        doc = self.documents.get_document(SECRET_DOCUMENT, name)
        if doc is None or (arn != doc["ARN"] and arn != doc["ARN"][:-7]):
            return None
        return (doc.get("Rotation") or {}).get("LambdaARN") or None

    def describe_secret(self, secret_id: Any) -> dict[str, Any]:
        return self._describe(self._get(secret_id, deleted_ok=True), "VersionIdsToStages")

    def _describe(self, doc: dict[str, Any], stages_key: str) -> dict[str, Any]:
        rotation = doc.get("Rotation") or {}
        out: dict[str, Any] = {"ARN": doc["ARN"], "Name": doc["Name"], "RotationEnabled": bool(rotation.get("Enabled")),
                               "CreatedDate": doc["CreatedDate"], "LastChangedDate": doc["LastChangedDate"],
                               "Tags": doc["Tags"]}
        for key in ("Description", "KmsKeyId", "LastAccessedDate", "DeletedDate"):
            if doc.get(key) is not None:
                out[key] = doc[key]
        if rotation.get("LambdaARN"):
            out["RotationLambdaARN"] = rotation["LambdaARN"]
        if rotation.get("Rules"):
            rules = dict(rotation["Rules"])
            expression = rules.get("ScheduleExpression", "")
            found = re.fullmatch(r"rate\((\d+) days?\)", expression)
            if found:                    # as AWS answers it: the days a rate in days means
                rules["AutomaticallyAfterDays"] = int(found.group(1))
            out["RotationRules"] = rules
        if rotation.get("LastRotatedDate") is not None:
            out["LastRotatedDate"] = rotation["LastRotatedDate"]
        if rotation.get("Enabled") and rotation.get("Next") is not None:
            out["NextRotationDate"] = rotation["Next"]
        staged = {vid: labels for vid, labels in doc["Stages"].items() if labels}
        if staged:
            out[stages_key] = staged
        return out

    def list_secrets(self, filters: Any = None, include_deleted: bool = False,
                     sort_order: Any = None) -> list[dict[str, Any]]:
        checks = _filters(filters)
        now = self.clock.now()
        docs = [d for d in self.documents.list_documents(SECRET_DOCUMENT)
                if (include_deleted or d.get("DeletedDate") is None)
                and (d.get("DeletionDate") is None or d["DeletionDate"] > now)
                and all(match(d) for match in checks)]
        docs.sort(key=lambda d: (d["CreatedDate"], d["Name"]), reverse=sort_order == "desc")
        return [self._describe(d, "SecretVersionsToStages") for d in docs]

    def list_versions(self, secret_id: Any, include_deprecated: bool = False) -> dict[str, Any]:
        doc = self._get(secret_id, deleted_ok=True)
        versions = [{"VersionId": vid, "VersionStages": doc["Stages"].get(vid, []),
                     "CreatedDate": doc["Versions"][vid]["CreatedDate"]}
                    for vid in reversed(doc["Order"]) if include_deprecated or doc["Stages"].get(vid)]
        return {"ARN": doc["ARN"], "Name": doc["Name"], "Versions": versions}

    def update_version_stage(self, secret_id: Any, stage: Any, remove_from: Any = None,
                             move_to: Any = None) -> dict[str, Any]:
        sm.check_stages([stage])
        with self._lock:
            doc = self._get(secret_id)
            for vid in (remove_from, move_to):
                if vid is not None and vid not in doc["Versions"]:
                    raise invalid_parameter(f"The version {vid} doesn't exist for this secret.")
            holder = next((v for v, labels in doc["Stages"].items() if stage in labels), None)
            if holder is not None and holder != move_to and remove_from != holder:
                raise invalid_parameter(f"The staging label {stage} is currently attached to version {holder}, "
                                        "but you have not specified RemoveFromVersionId.")
            if remove_from is not None and holder != remove_from:
                raise invalid_parameter(f"The staging label {stage} is not attached to version {remove_from}.")
            if move_to is None and stage == sm.CURRENT:
                raise invalid_parameter("You can't remove the staging label AWSCURRENT without moving it to "
                                        "another version (MoveToVersionId).")
            sm.move_stage(doc["Stages"], stage, move_to, remove_from)
            doc["LastChangedDate"] = self.clock.now()
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        return {"ARN": doc["ARN"], "Name": doc["Name"]}

    def delete_secret(self, secret_id: Any, recovery_days: Any = None, force: Any = None) -> dict[str, Any]:
        if force and recovery_days is not None:
            raise invalid_parameter("You can't use ForceDeleteWithoutRecovery in conjunction with "
                                    "RecoveryWindowInDays.")
        days = 30 if recovery_days is None else recovery_days
        if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 30:
            raise invalid_parameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
        with self._lock:
            doc = self._get(secret_id, deleted_ok=True)
            now = self.clock.now()
            if force:
                self.documents.delete_document(SECRET_DOCUMENT, doc["Name"])
                return {"ARN": doc["ARN"], "Name": doc["Name"], "DeletionDate": now}
            if doc.get("DeletedDate") is not None:
                raise invalid_request("You can't perform this operation on the secret because it was already "
                                      "scheduled for deletion.")
            doc["DeletedDate"], doc["DeletionDate"] = now, now + days * _DAY
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        return {"ARN": doc["ARN"], "Name": doc["Name"], "DeletionDate": doc["DeletionDate"]}

    def restore_secret(self, secret_id: Any) -> dict[str, Any]:
        with self._lock:
            doc = self._get(secret_id, deleted_ok=True)
            doc["DeletedDate"] = doc["DeletionDate"] = None
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        return {"ARN": doc["ARN"], "Name": doc["Name"]}

    def tag(self, secret_id: Any, tags: Any) -> None:
        with self._lock:
            doc = self._get(secret_id)
            mine = {t["Key"]: t["Value"] for t in doc["Tags"]}
            mine.update({t["Key"]: t["Value"] for t in _tags(tags)})
            doc["Tags"] = [{"Key": k, "Value": v} for k, v in mine.items()]
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)

    def untag(self, secret_id: Any, keys: Any) -> None:
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise invalid_parameter("TagKeys must be a list of tag keys.")
        with self._lock:
            doc = self._get(secret_id)
            doc["Tags"] = [t for t in doc["Tags"] if t["Key"] not in keys]
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)

    # -- resource policies -------------------------------------------------------------------------
    def _checked_policy(self, policy: Any) -> tuple[str, list[dict[str, str]]]:
        """The policy's text and what IAM's grammar finds wrong with it (nothing: it is kept as it is)."""
        if not isinstance(policy, str) or not 1 <= len(policy) <= MAX_POLICY:
            raise invalid_parameter(f"ResourcePolicy must be 1 to {MAX_POLICY} characters.")
        try:
            iam.parse_policy(policy, "resource")
        except iam.MalformedPolicyDocument as exc:
            return policy, [{"CheckName": "SYNTAX_CHECK", "ErrorMessage": str(getattr(exc, "message", exc))}]
        return policy, []

    def put_resource_policy(self, secret_id: Any, policy: Any, block_public: Any = None) -> dict[str, Any]:
        """PutResourcePolicy: the policy (IAM's grammar for resource policies, ≤ 20,480 characters) is
        kept on the secret and decides with the caller's own policies; ``BlockPublicPolicy`` refuses
        one that lets everyone in (``PublicPolicyException``; public as S3 defines it)."""
        text, errors = self._checked_policy(policy)
        if errors:
            raise SecretsError("MalformedPolicyDocumentException", errors[0]["ErrorMessage"])
        if block_public is True and is_public(json.loads(text)):
            raise SecretsError("PublicPolicyException", "This resource policy contains a public policy.")
        with self._lock:
            doc = self._get(secret_id)
            doc["ResourcePolicy"] = text
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        return {"ARN": doc["ARN"], "Name": doc["Name"]}

    def get_resource_policy(self, secret_id: Any) -> dict[str, Any]:
        doc = self._get(secret_id)
        out = {"ARN": doc["ARN"], "Name": doc["Name"]}
        if doc.get("ResourcePolicy"):
            out["ResourcePolicy"] = doc["ResourcePolicy"]
        return out

    def delete_resource_policy(self, secret_id: Any) -> dict[str, Any]:
        with self._lock:
            doc = self._get(secret_id)
            if doc.pop("ResourcePolicy", None) is not None:
                self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        return {"ARN": doc["ARN"], "Name": doc["Name"]}

    def validate_resource_policy(self, secret_id: Any, policy: Any) -> dict[str, Any]:
        """ValidateResourcePolicy: IAM's grammar (``SYNTAX_CHECK``) and, as AWS's second check,
        whether it would be public (``BROAD_ACCESS_CHECK``)."""
        if secret_id is not None:
            self._get(secret_id)
        text, errors = self._checked_policy(policy)
        if not errors and is_public(json.loads(text)):
            errors = [{"CheckName": "BROAD_ACCESS_CHECK", "ErrorMessage": "This resource policy contains a public "
                                                                           "policy."}]
        return {"PolicyValidationPassed": not errors, "ValidationErrors": errors}

    def policy_text(self, arn: str) -> str | None:
        """The resource policy of the secret ``arn`` names (None: none, or no such secret); read for IAM."""
        try:
            name = sm.name_of(arn, self.account)
        except SecretsError:
            return None
        doc = self.documents.get_document(SECRET_DOCUMENT, name)
        if doc is None or (arn != doc["ARN"] and arn != doc["ARN"][:-7]):
            return None
        return doc.get("ResourcePolicy") or None

    # -- rotation ----------------------------------------------------------------------------------
    def rotate_secret(self, secret_id: Any, lambda_arn: Any = None, rules: Any = None, immediately: Any = None,
                      token: Any = None, run_here: bool = True) -> dict[str, Any]:
        """RotateSecret: keep the function and rules given (else those kept), then start a rotation in the
        background unless ``immediately`` is false (the next window is then the first). ``run_here``
        False (a process that serves no API, whose functions could not call it back): the rotation is
        left due now, for the server's ``RotationWorker``."""
        token = self._token(token)
        checked = sm.check_rotation_rules(rules) if rules is not None else None
        if lambda_arn is not None and (not isinstance(lambda_arn, str) or not lambda_arn.startswith("arn:")
                                       or ":lambda:" not in lambda_arn or ":function:" not in lambda_arn):
            raise invalid_parameter("RotationLambdaARN must be a Lambda function's ARN.")
        now_rotate = immediately is not False and run_here
        with self._lock:
            doc = self._get(secret_id)
            rotation = dict(doc.get("Rotation") or {})
            function = lambda_arn or rotation.get("LambdaARN")
            if not function:
                raise invalid_request("No Lambda rotation function ARN is associated with this secret.")
            if checked is None and not rotation.get("Rules"):
                raise invalid_request("The secret has no rotation schedule: give RotationRules.")
            self._check_invoke(function, doc["ARN"])
            if now_rotate:
                self._start(doc, token)
            now = self.clock.now()
            rotation.update(Enabled=True, LambdaARN=function)
            if checked is not None:
                rotation["Rules"] = checked
            base = rotation.get("LastRotatedDate") or now
            rotation["Next"] = None if now_rotate else now if immediately is not False else \
                sm.rotation_window(rotation["Rules"], base, now)[0]
            doc["Rotation"] = rotation
            doc["LastChangedDate"] = now
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        if now_rotate:
            threading.Thread(target=self.run_rotation, args=(doc["Name"], token), daemon=True,
                             name="cumulo-secret-rotation").start()
        out = {"ARN": doc["ARN"], "Name": doc["Name"]}
        if now_rotate:
            out["VersionId"] = token
        return out

    def cancel_rotate_secret(self, secret_id: Any) -> dict[str, Any]:
        """CancelRotateSecret: no more scheduled rotations; an unfinished rotation's ``AWSPENDING``
        version stays (AWS leaves it for the caller to remove)."""
        with self._lock:
            doc = self._get(secret_id)
            rotation = dict(doc.get("Rotation") or {})
            rotation.update(Enabled=False, Next=None)
            doc["Rotation"] = rotation
            pending = self._pending(doc)
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        out = {"ARN": doc["ARN"], "Name": doc["Name"]}
        if pending is not None:
            out["VersionId"] = pending
        return out

    def _check_invoke(self, function: str, secret_arn: str) -> None:
        if self._may_invoke is not None and not self._may_invoke(function, SERVICE_PRINCIPAL, secret_arn):
            raise SecretsError("AccessDeniedException", "Secrets Manager cannot invoke the specified Lambda function. "
                               "Ensure that the function policy grants access to the principal "
                               f"{SERVICE_PRINCIPAL}.")

    @staticmethod
    def _pending(doc: dict[str, Any]) -> str | None:
        """The version an unfinished rotation left ``AWSPENDING`` on (None when it is also AWSCURRENT's)."""
        for vid, labels in doc["Stages"].items():
            if sm.PENDING in labels and sm.CURRENT not in labels:
                return str(vid)
        return None

    def _start(self, doc: dict[str, Any], token: str) -> None:
        """Stage the new rotation's empty ``AWSPENDING`` version ``token`` (in place, under the lock)."""
        pending = self._pending(doc)
        if pending is not None:
            raise invalid_request("A previous rotation isn't complete. That rotation will be reattempted.")
        if token in doc["Versions"]:
            raise sm.exists(f"A version with the ClientRequestToken {token} already exists.")
        doc["Versions"][token] = {"CreatedDate": self.clock.now()}
        doc["Order"].append(token)
        doc["Stages"][token] = []
        sm.move_stage(doc["Stages"], sm.PENDING, token)

    def due_rotations(self) -> list[str]:
        """The secrets whose next rotation window has opened."""
        now = self.clock.now()
        return [d["Name"] for d in self.documents.list_documents(SECRET_DOCUMENT)
                if (d.get("Rotation") or {}).get("Enabled") and d["Rotation"].get("Next") is not None
                and d["Rotation"]["Next"] <= now and d.get("DeletedDate") is None]

    def rotate_due(self, name: str) -> bool:
        """Start the scheduled rotation of ``name`` if its window has opened (a rotation left
        unfinished is reattempted with its own version); whether one ran and succeeded."""
        with self._lock:
            try:
                doc = self._get(name)
            except SecretsError:
                return False
            rotation = doc.get("Rotation") or {}
            now = self.clock.now()
            if not rotation.get("Enabled") or rotation.get("Next") is None or rotation["Next"] > now:
                return False
            token = self._pending(doc) or str(uuid.uuid4())
            if token not in doc["Versions"]:
                self._start(doc, token)
            # the window after this one, whatever this rotation's outcome: a failing function is not
            # invoked again at every look
            rotation["Next"] = sm.rotation_window(rotation["Rules"], now, now)[0]
            self.documents.put_document(SECRET_DOCUMENT, doc["Name"], doc)
        return self.run_rotation(name, token)

    def run_rotation(self, name: str, token: str) -> bool:
        """Invoke the rotation function with the four steps for version ``token``; True when
        ``AWSCURRENT`` ended on it. A failure is logged and changes nothing more."""
        with self._lock:
            doc = self._get(name)
            function = (doc.get("Rotation") or {}).get("LambdaARN")
        if self._invoke is None or not function:
            log.warning("secret %s: no rotation function to invoke", name)
            return False
        for step in sm.STEPS:
            event = json.dumps({"SecretId": doc["ARN"], "ClientRequestToken": token, "Step": step})
            try:
                result = self._invoke(function, event)
            except Exception as exc:          # the function is gone, throttled, …: the rotation failed
                return self._failed(name, token, f"{step}: {exc}")
            if result.function_error:
                payload = result.payload.decode(errors="replace")[:1000]
                return self._failed(name, token, f"{step}: the rotation function failed: {payload}")
        with self._lock:
            doc = self._get(name)
            labels = doc["Stages"].get(token, [])
            if sm.CURRENT not in labels:
                return self._failed(name, token, "finishSecret did not move AWSCURRENT to the new version")
            if sm.PENDING in labels:
                labels.remove(sm.PENDING)
            rotation = doc.setdefault("Rotation", {})
            now = self.clock.now()
            rotation["LastRotatedDate"] = now
            rotation.pop("LastFailure", None)
            if rotation.get("Enabled") and rotation.get("Rules"):
                rotation["Next"] = sm.rotation_window(rotation["Rules"], now, now)[0]
            self.documents.put_document(SECRET_DOCUMENT, name, doc)
        log.info("secret %s rotated to version %s", name, token)
        return True

    def last_rotation_failure(self, secret_id: Any) -> dict[str, Any] | None:
        """Why the last rotation failed (its version, reason and date), while no rotation has succeeded
        since: what AWS reports as a CloudTrail ``RotationFailed`` event."""
        doc = self._get(secret_id, deleted_ok=True)
        failure = (doc.get("Rotation") or {}).get("LastFailure")
        return dict(failure) if failure else None

    def _failed(self, name: str, token: str, why: str) -> bool:
        log.warning("secret %s: rotation to version %s failed: %s", name, token, why)
        with self._lock:
            try:
                doc = self._get(name)
            except SecretsError:
                return False
            doc.setdefault("Rotation", {})["LastFailure"] = {"VersionId": token, "Reason": why,
                                                             "Date": self.clock.now()}
            self.documents.put_document(SECRET_DOCUMENT, name, doc)
        return False

    def value_of(self, secret_id: str, stage: str | None = None, version_id: str | None = None) -> str | bytes:
        """A secret's value (templates' dynamic references): its string, or its bytes."""
        found = self.get_secret_value(secret_id, version_id, stage)
        return found["SecretString"] if "SecretString" in found else found["SecretBinary"]  # type: ignore[no-any-return]


def _tags(tags: Any) -> list[dict[str, str]]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("Key"), str)
                                             and isinstance(t.get("Value", ""), str) for t in tags):
        raise invalid_parameter("Tags must be a list of {Key, Value} strings.")
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for t in tags]


def _filters(filters: Any) -> list[Callable[[dict[str, Any]], bool]]:
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise invalid_parameter("Filters must be a list.")
    out: list[Callable[[dict[str, Any]], bool]] = []
    for f in filters:
        key, values = (f.get("Key"), f.get("Values")) if isinstance(f, dict) else (None, None)
        if key not in _FILTER_KEYS or not isinstance(values, list) or not values:
            raise SecretsError("InvalidParameterException", f"Invalid filter key: {key}")
        out.append(_filter(key, [str(v) for v in values]))
    return out


def _filter(key: str, values: list[str]) -> Callable[[dict[str, Any]], bool]:
    def fields(doc: dict[str, Any]) -> list[str]:
        if key == "name":
            return [doc["Name"]]
        if key == "description":
            return [doc.get("Description") or ""]
        if key == "tag-key":
            return [t["Key"] for t in doc["Tags"]]
        if key == "tag-value":
            return [t["Value"] for t in doc["Tags"]]
        return []

    def one(value: str, doc: dict[str, Any]) -> bool:
        negate = value.startswith("!")
        value = value[1:] if negate else value
        if key == "all":
            words = _words(" ".join([doc["Name"], doc.get("Description") or ""]
                                    + [t["Key"] + " " + t["Value"] for t in doc["Tags"]]))
            hit = all(any(w.startswith(q) for w in words) for q in _words(value))
        elif key == "description":
            hit = any(f.lower().startswith(value.lower()) for f in fields(doc))
        else:
            hit = any(f.startswith(value) for f in fields(doc))
        return hit != negate

    return lambda doc: any(one(v, doc) for v in values)
