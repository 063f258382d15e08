"""Function URLs: Lambda's Create/Get/Update/Delete/ListFunctionUrlConfig(s).

A function URL is a dedicated HTTP endpoint for a function (unqualified) or one of its aliases
(``Qualifier``; versions cannot have one). Each is a document (``function-url``, id = the URL's
id) holding the function, qualifier, ``AuthType`` (``NONE`` | ``AWS_IAM``), ``Cors`` (as Lambda's
API spells it: ``AllowCredentials``, ``AllowHeaders``, ``AllowMethods``, ``AllowOrigins``,
``ExposeHeaders``, ``MaxAge``) and ``InvokeMode`` (``BUFFERED`` | ``RESPONSE_STREAM``).

The URL's id is 32 characters of ``[a-z0-9]`` like AWS's, but derived from the account, the
function and the qualifier instead of drawn at random, so a template's ``!GetAtt Url.FunctionUrl``
is known before the deploy and the same on every machine and after a re-create. AWS's URL is
``https://<url-id>.lambda-url.<region>.on.aws/``; the gateway serves it locally (edge/gateway.py,
docs/gateway.md). A URL goes with its function or alias.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from cumulo.errors import (
    InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException, ValidationException,
)
from cumulo.model import function as fn
from cumulo.model.function import LATEST, Arns
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, Functions

__all__ = ["FunctionUrl", "FunctionUrls", "KIND", "url_id_for", "check_cors", "AUTH_TYPES", "INVOKE_MODES"]

KIND = "function-url"
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
_CORS_KEYS = {"AllowCredentials": bool, "AllowHeaders": list, "AllowMethods": list, "AllowOrigins": list,
              "ExposeHeaders": list, "MaxAge": int}
_METHODS = {"GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"}


def url_id_for(account: str, name: str, qualifier: str | None) -> str:
    digest = hashlib.sha256(f"{account}/{name}/{qualifier or ''}".encode()).digest()
    return base64.b32encode(digest).decode().lower().replace("=", "")[:32]


@dataclass(frozen=True)
class FunctionUrl:
    url_id: str
    function: str
    qualifier: str | None
    auth_type: str
    cors: dict[str, Any] | None
    invoke_mode: str
    created: str
    modified: str

    def url(self, region: str) -> str:
        return f"https://{self.url_id}.lambda-url.{region}.on.aws/"

    def describe(self, arns: Arns) -> dict[str, Any]:
        """The FunctionUrlConfig as Lambda's API answers it."""
        doc: dict[str, Any] = {"FunctionUrl": self.url(arns.region), "FunctionArn": arns.function(self.function,
                                                                                                  self.qualifier),
                               "AuthType": self.auth_type, "CreationTime": self.created,
                               "LastModifiedTime": self.modified, "InvokeMode": self.invoke_mode}
        if self.cors is not None:
            doc["Cors"] = self.cors
        return doc


def check_cors(cors: Any) -> dict[str, Any] | None:
    """Lambda's ``Cors`` object, checked as the API checks it (ValidationException)."""
    if cors is None:
        return None
    if not isinstance(cors, dict):
        raise ValidationException("Cors must be an object")
    for key, value in cors.items():
        kind = _CORS_KEYS.get(key)
        if kind is None:
            raise ValidationException(f"Cors has an unknown member {key!r}")
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 1024 for v in value) \
                    or len(value) > 100:
                raise ValidationException(f"Cors.{key} must be a list of at most 100 non-empty strings")
        elif kind is bool and not isinstance(value, bool):
            raise ValidationException(f"Cors.{key} must be true or false")
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 86400):
            raise ValidationException(f"1 validation error detected: Value '{value}' at 'cors.maxAge' failed to "
                                      "satisfy constraint: Member must have value less than or equal to 86400")
    bad = [m for m in cors.get("AllowMethods", []) if m.upper() not in _METHODS]
    if bad:
        raise ValidationException(f"Cors.AllowMethods has an unknown method {bad[0]!r}")
    if cors.get("AllowCredentials") and "*" in cors.get("AllowOrigins", []):
        raise ValidationException("Cors.AllowOrigins cannot be '*' when AllowCredentials is true")
    return dict(cors)


def _check(auth_type: Any, invoke_mode: Any) -> None:
    if auth_type not in AUTH_TYPES:
        raise ValidationException(f"1 validation error detected: Value '{auth_type}' at 'authType' failed to satisfy "
                                  "constraint: Member must satisfy enum value set: [AWS_IAM, NONE]")
    if invoke_mode not in INVOKE_MODES:
        raise ValidationException(f"1 validation error detected: Value '{invoke_mode}' at 'invokeMode' failed to "
                                  "satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")


class FunctionUrls:
    def __init__(self, store: Documents, functions: Functions, arns: Arns, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._functions, self._arns, self._clock = store, functions, arns, clock
        self._lock = threading.Lock()
        self._by_id: dict[str, FunctionUrl] = {}
        self._generation = -1

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock.now(), timezone.utc).isoformat(timespec="microseconds") \
            .replace("+00:00", "Z")

    def _target(self, ref: str, qualifier: str | None) -> tuple[str, str | None]:
        """(name, qualifier) of an existing function or alias; a version or $LATEST is refused, as AWS does."""
        name, q = fn.parse_function_ref(ref, qualifier)
        if q == LATEST or (q is not None and q.isdigit()):
            raise InvalidParameterValueException("Function URLs can only be created for an alias or the unqualified "
                                                 "function, not a version")
        self._functions.get(name, q)        # ResourceNotFoundException when it is not there
        return name, q

    def _find(self, name: str, qualifier: str | None) -> FunctionUrl | None:
        doc = self._store.get_document(KIND, url_id_for(self._arns.account, name, qualifier))
        return None if doc is None else FunctionUrl(**doc)

    def create(self, ref: str, qualifier: str | None, auth_type: Any, cors: Any = None,
               invoke_mode: Any = "BUFFERED") -> FunctionUrl:
        name, q = self._target(ref, qualifier)
        _check(auth_type, invoke_mode)
        checked = check_cors(cors)
        with self._lock:
            if self._find(name, q) is not None:
                raise ResourceConflictException(
                    f"Failed to create function url config for [functionArn = {self._arns.function(name, q)}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function")
            now = self._now()
            url = FunctionUrl(url_id_for(self._arns.account, name, q), name, q, auth_type, checked, invoke_mode,
                              now, now)
            self._store.put_document(KIND, url.url_id, asdict(url))
        return url

    def get(self, ref: str, qualifier: str | None) -> FunctionUrl:
        name, q = self._target(ref, qualifier)
        found = self._find(name, q)
        if found is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return found

    _KEEP: Any = object()

    def update(self, ref: str, qualifier: str | None, auth_type: Any = None, cors: Any = _KEEP,
               invoke_mode: Any = None) -> FunctionUrl:
        with self._lock:
            current = self.get(ref, qualifier)
            auth = current.auth_type if auth_type is None else auth_type
            mode = current.invoke_mode if invoke_mode is None else invoke_mode
            _check(auth, mode)
            new_cors = current.cors if cors is self._KEEP else check_cors(cors)
            url = FunctionUrl(current.url_id, current.function, current.qualifier, auth, new_cors, mode,
                              current.created, self._now())
            self._store.put_document(KIND, url.url_id, asdict(url))
        return url

    def delete(self, ref: str, qualifier: str | None) -> None:
        url = self.get(ref, qualifier)
        self._store.delete_document(KIND, url.url_id)

    def list(self, ref: str) -> list[FunctionUrl]:
        name, _ = fn.parse_function_ref(ref, None)
        self._functions.get(name, None)
        return sorted((FunctionUrl(**d) for d in self._store.list_documents(KIND) if d["function"] == name),
                      key=lambda u: u.qualifier or "")

    def forget(self, name: str, qualifier: str | None) -> None:
        """Drop the URLs of a deleted function (every one of them) or alias."""
        for doc in self._store.list_documents(KIND):
            if doc["function"] == name and (qualifier is None or doc["qualifier"] == qualifier):
                self._store.delete_document(KIND, doc["url_id"])

    def by_id(self, url_id: str) -> FunctionUrl | None:
        """The URL with this id (the gateway's lookup per request), cached until the store changes."""
        generation = self._store.generation
        if generation != self._generation:
            self._by_id = {}
            self._generation = generation
        found = self._by_id.get(url_id)
        if found is None:
            doc = self._store.get_document(KIND, url_id)
            if doc is None:
                return None
            found = self._by_id[url_id] = FunctionUrl(**doc)
        return found
