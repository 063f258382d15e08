"""KMS, a minimal subset: symmetric customer keys whose material is 32 random bytes kept sealed with
the store's master key (``keyring.py``; document ``kms-key``), aliases (``kms-alias``), and envelope
operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext) with AES-256-GCM.

A ciphertext blob is ``b"CK1"``, the key's id (36 ASCII characters), a 96-bit nonce, then the
ciphertext and its tag; the encryption context (its pairs sorted, as JSON) is the authenticated
data, so Decrypt needs the same context and no KeyId, as on AWS. Keys are enabled, disabled or
pending deletion (7 to 30 days; the material is dropped once the date has passed, read lazily).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import uuid
from typing import Any, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cumulo import iam
from cumulo.errors import ServiceError
from cumulo.keyring import Keyring
from cumulo.kms import grants as gr
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents

__all__ = ["KeyService", "KmsError", "KEY_DOCUMENT", "ALIAS_DOCUMENT", "GRANT_DOCUMENT", "key_id_of_blob"]

KEY_DOCUMENT, ALIAS_DOCUMENT = "kms-key", "kms-alias"
MAX_GRANTS = 50_000                # per key, as AWS's quota
GRANT_DOCUMENT = "kms-grants"      # one per key: {"Grants": [...]}, the key's grants
_MAGIC = b"CK1"
_ID_LEN = 36
_NONCE = 12
_DAY = 86_400
_ALIAS = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")
MAX_PLAINTEXT = 4096
MAX_POLICY = 32_768
_POLICY_NAME = "default"


def default_policy(account: str) -> str:
    """The key policy KMS gives a key made without one (KMS Developer Guide, "Default key policy"):
    the account's root may do everything, which hands the key's use to IAM policies."""
    return json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}, indent=2)


class KmsError(ServiceError):
    """KMS's errors, by the name boto3 reports."""


def key_id_of_blob(blob: bytes) -> str | None:
    """The id of the key a ciphertext blob of ours was made with (None for anything else)."""
    if len(blob) < len(_MAGIC) + _ID_LEN + _NONCE + 16 or not blob.startswith(_MAGIC):
        return None
    try:
        return blob[len(_MAGIC):len(_MAGIC) + _ID_LEN].decode("ascii")
    except UnicodeDecodeError:
        return None


def _context(context: Any) -> bytes:
    if context is None:
        return b""
    if not isinstance(context, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in context.items()):
        raise KmsError("ValidationException", "EncryptionContext must be a map of strings to strings.")
    return json.dumps(sorted(context.items()), separators=(",", ":")).encode()


def _blob(value: Any, member: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise KmsError("ValidationException", f"{member} must be a base64-encoded blob.")


class KeyService:
    def __init__(self, documents: Documents, keyring: Callable[[], Keyring], region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.documents, self._keyring, self.region, self.account, self.clock = documents, keyring, region, account, clock
        self._lock = threading.Lock()
        self._material: dict[str, AESGCM] = {}

    def arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"

    # -- finding a key -----------------------------------------------------------------------------
    def _doc(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, str) or not ref:
            raise KmsError("ValidationException", "KeyId is required.")
        key_id = ref
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)
            if len(parts) != 6 or parts[2] != "kms":
                raise KmsError("NotFoundException", f"Invalid arn {ref}")
            key_id = parts[5]
        if key_id.startswith("alias/"):
            alias = self.documents.get_document(ALIAS_DOCUMENT, key_id)
            if alias is None:
                raise KmsError("NotFoundException", f"Alias {self.alias_arn(key_id)} is not found.")
            key_id = alias["TargetKeyId"]
        elif key_id.startswith("key/"):
            key_id = key_id[4:]
        doc = self.documents.get_document(KEY_DOCUMENT, key_id)
        if doc is not None and doc.get("DeletionDate") is not None and doc["DeletionDate"] <= self.clock.now():
            self.documents.delete_document(KEY_DOCUMENT, key_id)
            self.documents.delete_document(GRANT_DOCUMENT, key_id)      # its grants go with it
            self._material.pop(key_id, None)
            doc = None
        if doc is None:
            raise KmsError("NotFoundException", f"Key '{self.arn(key_id)}' does not exist")
        return doc

    def _usable(self, ref: Any) -> tuple[dict[str, Any], AESGCM]:
        doc = self._doc(ref)
        if doc["KeyState"] == "Disabled":
            raise KmsError("DisabledException", f"{doc['Arn']} is disabled.")
        if doc["KeyState"] != "Enabled":
            raise KmsError("KMSInvalidStateException", f"{doc['Arn']} is pending deletion.")
        aead = self._material.get(doc["KeyId"])
        if aead is None:
            aead = AESGCM(self._keyring().open_sealed(doc["Material"], f"kms:{doc['Arn']}"))
            self._material[doc["KeyId"]] = aead
        return doc, aead

    # -- grants ------------------------------------------------------------------------------------
    def _grants(self, key_id: str) -> list[dict[str, Any]]:
        found = self.documents.get_document(GRANT_DOCUMENT, key_id)
        return list((found or {}).get("Grants", []))

    def _put_grants(self, key_id: str, grants: list[dict[str, Any]]) -> None:
        if grants:
            self.documents.put_document(GRANT_DOCUMENT, key_id, {"KeyId": key_id, "Grants": grants})
        else:
            self.documents.delete_document(GRANT_DOCUMENT, key_id)

    def create_grant(self, ref: Any, grantee: Any, operations: Any, retiring: Any = None, constraints: Any = None,
                     name: Any = None, tokens: Any = None, issuer_allows: Any = None) -> dict[str, str]:
        """CreateGrant. ``issuer_allows(operations, constraints)``: whether the caller may give this
        grant (the API's check of a grantee creating grants through its own grant's CreateGrant)."""
        grantee = gr.check_principal(grantee, "GranteePrincipal")
        if retiring is not None:
            retiring = gr.check_principal(retiring, "RetiringPrincipal")
        ops = gr.check_operations(operations)
        checked = gr.check_constraints(constraints)
        gr.check_tokens(tokens)
        if name is not None and (not isinstance(name, str) or re.fullmatch(r"[a-zA-Z0-9:/_-]{1,256}", name) is None):
            raise KmsError("ValidationException", "Name must be 1 to 256 letters, digits, ':', '/', '_' or '-'.")
        if issuer_allows is not None and not issuer_allows(ops, checked):
            raise KmsError("AccessDeniedException", "A grant made through a grant may give only operations that grant "
                                                    "allows, with constraints at least as strict.")
        with self._lock:
            doc = self._doc(ref)
            if doc["KeyState"] == "PendingDeletion":
                raise KmsError("KMSInvalidStateException", f"{doc['Arn']} is pending deletion.")
            grants = self._grants(doc["KeyId"])
            wanted = {"GranteePrincipal": grantee, "RetiringPrincipal": retiring, "Operations": ops,
                      "Constraints": checked}
            for grant in grants:
                if name is not None and grant.get("Name") == name and \
                        all(grant.get(k) == v for k, v in wanted.items()):       # a retry: the same grant
                    return {"GrantToken": gr.make_token(doc["KeyId"], grant["GrantId"]), "GrantId": grant["GrantId"]}
            if len(grants) >= MAX_GRANTS:
                raise KmsError("LimitExceededException", f"A key has at most {MAX_GRANTS} grants.")
            grant_id = secrets.token_hex(32)
            grants.append({"GrantId": grant_id, "Name": name or "", "CreationDate": self.clock.now(),
                           "IssuingAccount": f"arn:aws:iam::{self.account}:root", **wanted})
            self._put_grants(doc["KeyId"], grants)
        return {"GrantToken": gr.make_token(doc["KeyId"], grant_id), "GrantId": grant_id}

    def _listed(self, key_arn: str, grant: dict[str, Any]) -> dict[str, Any]:
        out = {"KeyId": key_arn, "GrantId": grant["GrantId"], "Name": grant.get("Name", ""),
               "CreationDate": grant["CreationDate"], "GranteePrincipal": grant["GranteePrincipal"],
               "IssuingAccount": grant["IssuingAccount"], "Operations": list(grant["Operations"])}
        if grant.get("RetiringPrincipal"):
            out["RetiringPrincipal"] = grant["RetiringPrincipal"]
        if grant.get("Constraints"):
            out["Constraints"] = grant["Constraints"]
        return out

    def list_grants(self, ref: Any, grant_id: Any = None, grantee: Any = None) -> list[dict[str, Any]]:
        """ListGrants of a key (all of them; the API pages), optionally one grant or one grantee's."""
        doc = self._doc(ref)
        return [self._listed(doc["Arn"], g) for g in self._grants(doc["KeyId"])
                if (grant_id is None or g["GrantId"] == grant_id) and (grantee is None or g["GranteePrincipal"] == grantee)]

    def list_retirable_grants(self, retiring: Any) -> list[dict[str, Any]]:
        """ListRetirableGrants: every grant whose retiring principal is ``retiring``, on any key."""
        retiring = gr.check_principal(retiring, "RetiringPrincipal")
        out = []
        for holder in self.documents.list_documents(GRANT_DOCUMENT):
            out += [self._listed(self.arn(f"key/{holder['KeyId']}"), g) for g in holder["Grants"]
                    if g.get("RetiringPrincipal") == retiring]
        return out

    def find_grant(self, token: Any = None, ref: Any = None, grant_id: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the key, the grant) a RetireGrant names: by its token, or by its key and id."""
        if token is not None:
            named = gr.read_token(token)
            if named is None:
                raise KmsError("InvalidGrantTokenException", "The grant token is not valid.")
            ref, token_grant = named
            if grant_id is not None and grant_id != token_grant:
                raise KmsError("InvalidGrantIdException", "The grant ID does not match the grant token.")
            grant_id = token_grant
        elif ref is None or grant_id is None:
            raise KmsError("ValidationException", "Give a GrantToken, or a KeyId and a GrantId.")
        doc = self._doc(ref)
        for grant in self._grants(doc["KeyId"]):
            if grant["GrantId"] == grant_id:
                return doc, grant
        raise KmsError("NotFoundException", f"Grant ID {grant_id} not found")

    def remove_grant(self, key_id: str, grant_id: str) -> None:
        """RetireGrant's and RevokeGrant's end (decided by the API): the grant is gone at once."""
        with self._lock:
            grants = self._grants(key_id)
            kept = [g for g in grants if g["GrantId"] != grant_id]
            if len(kept) == len(grants):
                raise KmsError("NotFoundException", f"Grant ID {grant_id} not found")
            self._put_grants(key_id, kept)

    def usable_for_decrypt(self, ref: str) -> tuple[str, str] | None:
        """Why the key ``ref`` names cannot decrypt now, as Lambda says it of a function's
        ``KMSKeyArn`` (its error code and message), or None: enabled, or a key Cumulo does not keep."""
        try:
            doc = self._doc(ref)
        except KmsError:
            return None
        if doc["KeyState"] == "Disabled":
            return ("KMSDisabledException", "Lambda was unable to decrypt the environment variables because the KMS "
                                            "key used is disabled. Please check the function's KMS key settings.")
        if doc["KeyState"] != "Enabled":
            return ("KMSInvalidStateException", "Lambda was unable to decrypt the environment variables because the "
                                                "KMS key used is in an invalid state for Decrypt. Please check the "
                                                "function's KMS key settings.")
        return None

    def grants_on(self, ref: str) -> list[dict[str, Any]]:
        """Every grant on the key ``ref`` names ([] for no such key)."""
        try:
            return self._grants(self._doc(ref)["KeyId"])
        except KmsError:
            return []

    def grants_of(self, callers: tuple[str, ...], ref: str) -> list[dict[str, Any]]:
        """The grants on the key ``ref`` names (an ARN of a key or an alias) whose grantee is one of ``callers``."""
        try:
            doc = self._doc(ref)
        except KmsError:
            return []
        return [g for g in self._grants(doc["KeyId"]) if gr.is_grantee(g["GranteePrincipal"], callers)]

    def grant_allows(self, callers: tuple[str, ...], operation: str, ref: str, context: dict[str, str]) -> bool:
        """Whether a grant on the key lets a caller known as any of ``callers`` do ``operation`` with
        encryption context ``context`` (its constraints met)."""
        return any(operation in g["Operations"] and gr.satisfies(g.get("Constraints") or {}, operation, context)
                   for g in self.grants_of(callers, ref))

    @staticmethod
    def reseal_document(doc: dict[str, Any], reseal: Callable[[str, str], str]) -> dict[str, Any]:
        """A master key rotation's rewrite of a kept key: its material sealed again (the same material:
        ciphertexts made with the key still decrypt)."""
        doc["Material"] = reseal(doc["Material"], f"kms:{doc['Arn']}")
        return doc

    def alias_arn(self, name: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:{name}"

    # -- keys --------------------------------------------------------------------------------------
    def create_key(self, description: Any = None, usage: Any = None, spec: Any = None, tags: Any = None,
                   policy: Any = None, check: Callable[[str, str], None] | None = None,
                   key_id: str | None = None) -> dict[str, Any]:
        """CreateKey; ``check(arn, policy)`` (the lockout safety check, by the API) may refuse the
        ``policy`` given before anything is made. ``key_id``: a template's key (its id derived from
        the stack), else a new one."""
        policy = self._check_policy(policy) if policy is not None else default_policy(self.account)
        if usage not in (None, "ENCRYPT_DECRYPT") or spec not in (None, "SYMMETRIC_DEFAULT"):
            raise KmsError("UnsupportedOperationException", "Cumulo's KMS makes symmetric ENCRYPT_DECRYPT keys "
                                                            "(SYMMETRIC_DEFAULT) only.")
        key_id = key_id or str(uuid.uuid4())
        arn = self.arn(key_id)
        if check is not None:
            check(arn, policy)
        doc = {"KeyId": key_id, "Arn": arn, "AWSAccountId": self.account, "Description": description or "",
               "CreationDate": self.clock.now(), "Enabled": True, "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT",
               "KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "Origin": "AWS_KMS",
               "KeyManager": "CUSTOMER", "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False,
               "Tags": tags if isinstance(tags, list) else [], "Policy": policy,
               "Material": self._keyring().seal(secrets.token_bytes(32), f"kms:{arn}")}
        self.documents.put_document(KEY_DOCUMENT, key_id, doc)
        return self._metadata(doc)

    @staticmethod
    def _metadata(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k not in ("Material", "Tags", "Policy") and v is not None}

    def describe_key(self, ref: Any) -> dict[str, Any]:
        return self._metadata(self._doc(ref))

    def list_keys(self) -> list[dict[str, str]]:
        return [{"KeyId": d["KeyId"], "KeyArn": d["Arn"]} for d in
                sorted(self.documents.list_documents(KEY_DOCUMENT), key=lambda d: d["CreationDate"])]

    def _set_state(self, ref: Any, state: str, **extra: Any) -> dict[str, Any]:
        with self._lock:
            doc = self._doc(ref)
            if doc["KeyState"] == "PendingDeletion" and state != "Disabled":
                raise KmsError("KMSInvalidStateException", f"{doc['Arn']} is pending deletion.")
            doc.update(KeyState=state, Enabled=state == "Enabled", **extra)
            self.documents.put_document(KEY_DOCUMENT, doc["KeyId"], doc)
        return doc

    def update_description(self, ref: Any, description: Any) -> None:
        """UpdateKeyDescription."""
        if not isinstance(description, str) or len(description) > 8192:
            raise KmsError("ValidationException", "Description must be at most 8192 characters.")
        with self._lock:
            doc = self._doc(ref)
            doc["Description"] = description
            self.documents.put_document(KEY_DOCUMENT, doc["KeyId"], doc)

    def enable(self, ref: Any) -> None:
        self._set_state(ref, "Enabled")

    def disable(self, ref: Any) -> None:
        self._set_state(ref, "Disabled")

    def schedule_deletion(self, ref: Any, days: Any = None) -> dict[str, Any]:
        days = 30 if days is None else days
        if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 30:
            raise KmsError("ValidationException", "PendingWindowInDays must be between 7 and 30.")
        doc = self._set_state(ref, "PendingDeletion", DeletionDate=self.clock.now() + days * _DAY)
        return {"KeyId": doc["Arn"], "DeletionDate": doc["DeletionDate"], "KeyState": "PendingDeletion",
                "PendingWindowInDays": days}

    def cancel_deletion(self, ref: Any) -> str:
        with self._lock:
            doc = self._doc(ref)
            if doc["KeyState"] != "PendingDeletion":
                raise KmsError("KMSInvalidStateException", f"{doc['Arn']} is not pending deletion.")
            doc.update(KeyState="Disabled", Enabled=False, DeletionDate=None)
            self.documents.put_document(KEY_DOCUMENT, doc["KeyId"], doc)
        return str(doc["Arn"])

    # -- key policies ------------------------------------------------------------------------------
    def _check_policy(self, policy: Any) -> str:
        if not isinstance(policy, str) or not 1 <= len(policy) <= MAX_POLICY:
            raise KmsError("MalformedPolicyDocumentException", f"The key policy must be 1 to {MAX_POLICY} characters.")
        try:
            iam.parse_policy(policy, "resource")
        except iam.MalformedPolicyDocument as exc:
            raise KmsError("MalformedPolicyDocumentException", getattr(exc, "message", str(exc))) from None
        return policy

    @staticmethod
    def _check_name(name: Any) -> None:
        if name is not None and name != _POLICY_NAME:
            raise KmsError("NotFoundException", "A key has one policy, named default.")

    def put_key_policy(self, ref: Any, policy: Any, name: Any = None,
                       check: Callable[[str, str], None] | None = None) -> None:
        """PutKeyPolicy; ``check(arn, policy)``: the lockout safety check (made by the API)."""
        self._check_name(name)
        text = self._check_policy(policy)
        with self._lock:
            doc = self._doc(ref)
            if check is not None:
                check(doc["Arn"], text)
            doc["Policy"] = text
            self.documents.put_document(KEY_DOCUMENT, doc["KeyId"], doc)

    def get_key_policy(self, ref: Any, name: Any = None) -> dict[str, str]:
        self._check_name(name)
        doc = self._doc(ref)
        return {"Policy": doc.get("Policy") or default_policy(self.account), "PolicyName": _POLICY_NAME}

    def list_key_policies(self, ref: Any) -> list[str]:
        self._doc(ref)
        return [_POLICY_NAME]

    def policy_text(self, arn: str) -> str | None:
        """The policy of the key a key or alias ARN names (IAM evaluation's); None for no such key."""
        try:
            doc = self._doc(arn)
        except KmsError:
            return None
        return str(doc.get("Policy") or default_policy(self.account))

    # -- aliases -----------------------------------------------------------------------------------
    def create_alias(self, name: Any, target: Any) -> None:
        if not isinstance(name, str) or _ALIAS.fullmatch(name) is None or name.startswith("alias/aws/"):
            raise KmsError("InvalidAliasNameException", f"Alias name {name} is not valid: it must begin with "
                                                        "alias/, not alias/aws/, and hold letters, digits, /, _ and -.")
        with self._lock:
            doc = self._doc(target)
            if self.documents.get_document(ALIAS_DOCUMENT, name) is not None:
                raise KmsError("AlreadyExistsException", f"An alias with the name {self.alias_arn(name)} already "
                                                         "exists")
            self.documents.put_document(ALIAS_DOCUMENT, name, {"AliasName": name, "AliasArn": self.alias_arn(name),
                                                               "TargetKeyId": doc["KeyId"],
                                                               "CreationDate": self.clock.now()})

    def delete_alias(self, name: Any) -> None:
        if not isinstance(name, str) or not self.documents.delete_document(ALIAS_DOCUMENT, name):
            raise KmsError("NotFoundException", f"Alias {self.alias_arn(str(name))} is not found.")

    def list_aliases(self, key: Any = None) -> list[dict[str, Any]]:
        target = self._doc(key)["KeyId"] if key is not None else None
        return [a for a in sorted(self.documents.list_documents(ALIAS_DOCUMENT), key=lambda a: a["AliasName"])
                if target is None or a["TargetKeyId"] == target]

    # -- cryptography ------------------------------------------------------------------------------
    def encrypt(self, ref: Any, plaintext: Any, context: Any = None) -> dict[str, Any]:
        raw = _blob(plaintext, "Plaintext")
        if not 1 <= len(raw) <= MAX_PLAINTEXT:
            raise KmsError("ValidationException", f"Plaintext must be 1 to {MAX_PLAINTEXT} bytes.")
        doc, aead = self._usable(ref)
        nonce = secrets.token_bytes(_NONCE)
        blob = _MAGIC + doc["KeyId"].encode() + nonce + aead.encrypt(nonce, raw, _context(context))
        return {"CiphertextBlob": blob, "KeyId": doc["Arn"], "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def decrypt(self, blob: Any, context: Any = None, ref: Any = None) -> dict[str, Any]:
        raw = _blob(blob, "CiphertextBlob")
        key_id = key_id_of_blob(raw)
        if key_id is None:
            raise KmsError("InvalidCiphertextException", "The ciphertext is not one this KMS made.")
        doc, aead = self._usable(key_id)
        if ref is not None and self._doc(ref)["KeyId"] != doc["KeyId"]:
            raise KmsError("IncorrectKeyException", "The key ID in the request does not identify the KMS key that "
                                                    "encrypted the ciphertext.")
        start = len(_MAGIC) + _ID_LEN
        try:
            plain = aead.decrypt(raw[start:start + _NONCE], raw[start + _NONCE:], _context(context))
        except InvalidTag:
            raise KmsError("InvalidCiphertextException", "The ciphertext or its encryption context is not the one "
                                                         "encrypted.") from None
        return {"KeyId": doc["Arn"], "Plaintext": plain, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def re_encrypt(self, blob: Any, destination: Any, source_context: Any = None, destination_context: Any = None,
                   source_key: Any = None) -> dict[str, Any]:
        opened = self.decrypt(blob, source_context, source_key)
        made = self.encrypt(destination, opened["Plaintext"], destination_context)
        return {"CiphertextBlob": made["CiphertextBlob"], "SourceKeyId": opened["KeyId"], "KeyId": made["KeyId"],
                "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def generate_data_key(self, ref: Any, key_spec: Any = None, number: Any = None, context: Any = None,
                          plaintext: bool = True) -> dict[str, Any]:
        if key_spec is not None and number is not None:
            raise KmsError("ValidationException", "Give KeySpec or NumberOfBytes, not both.")
        if key_spec is None and number is None:
            raise KmsError("ValidationException", "KeySpec or NumberOfBytes is required.")
        if key_spec is not None:
            sizes = {"AES_256": 32, "AES_128": 16}
            if key_spec not in sizes:
                raise KmsError("ValidationException", f"KeySpec must be AES_256 or AES_128, not {key_spec}.")
            number = sizes[key_spec]
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 1024:
            raise KmsError("ValidationException", "NumberOfBytes must be between 1 and 1024.")
        data = secrets.token_bytes(number)
        made = self.encrypt(ref, data, context)
        out = {"CiphertextBlob": made["CiphertextBlob"], "KeyId": made["KeyId"]}
        if plaintext:
            out["Plaintext"] = data
        return out
