"""API destinations: HTTP endpoints as event-bus targets, with connections holding their auth.

A *connection* holds how to authorise (``API_KEY``, ``BASIC`` or
``OAUTH_CLIENT_CREDENTIALS``) plus extra header/query/body parameters; its secrets
stay in the store, sealed with the store's master key (``keyring.py``; bound to the
connection's ARN), and are never answered back. An *API destination* names a
connection, an endpoint (``*`` wildcards filled from the target's
``HttpParameters.PathParameterValues``), a method and a rate limit.

Delivery (``ApiDestinations.invoke``) is one HTTP request with a 5-second
timeout, as on AWS. 2xx is success; 401, 407, 409, 429 and 5xx (and network
errors) are retried by the delivery worker; any other status goes straight to
the target's dead-letter queue. OAuth tokens are fetched with the client
credentials, cached until they expire, and refreshed after a 401.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Callable

from cumulo.errors import ResourceNotFoundException, ValidationException
from cumulo.events.bus import ResourceAlreadyExistsException
from cumulo.keyring import Keyring, Resealer
from cumulo.model.function import Arns
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, TargetFailed

__all__ = ["ApiDestinations", "TargetFailed", "check_connection", "check_api_destination", "CONNECTION_DOCUMENT"]

CONNECTION_DOCUMENT = "event-connection"
_SEALED = "$sealed"      # a connection's sealed auth: {"$sealed": "<keyring.seal's text>"}

TIMEOUT_S = 5.0
_NAME_RE = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
_METHODS = ("POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")
_RETRIED = {401, 407, 409, 429}
USER_AGENT = "Amazon/EventBridge/ApiDestinations"


class ApiDestinations:
    def __init__(self, store: Documents, arns: Arns, clock: Clock = SYSTEM_CLOCK,
                 keyring: Callable[[], Keyring] | None = None) -> None:
        self._store, self._arns, self._clock = store, arns, clock
        self._keyring = keyring
        self._tokens: dict[str, tuple[str, float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._flights: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _seal(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` as kept: its auth sealed, bound to the connection's ARN."""
        if self._keyring is None:
            return doc
        sealed = self._keyring().seal(json.dumps(doc["auth"]).encode(), f"events-connection:{doc['ConnectionArn']}")
        return {**doc, "auth": {_SEALED: sealed}}

    def opened(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A kept connection with its auth opened (one kept in the clear, from before sealing, as it is)."""
        auth = doc.get("auth")
        if not (isinstance(auth, dict) and _SEALED in auth):
            return doc
        if self._keyring is None:
            raise RuntimeError(f"connection {doc.get('Name')}'s auth is sealed and no key was given to open it")
        plain = self._keyring().open_sealed(auth[_SEALED], f"events-connection:{doc['ConnectionArn']}")
        return {**doc, "auth": json.loads(plain)}

    @staticmethod
    def reseal_document(doc: dict[str, Any], reseal: Resealer) -> dict[str, Any]:
        """A master key rotation's rewrite of a kept connection (one in the clear: sealed now)."""
        context = f"events-connection:{doc['ConnectionArn']}"
        auth = doc.get("auth")
        if isinstance(auth, dict) and _SEALED in auth:
            return {**doc, "auth": {_SEALED: reseal(auth[_SEALED], context)}}
        return {**doc, "auth": {_SEALED: reseal.seal(json.dumps(auth or {}).encode(), context)}}

    def _arn(self, kind: str, name: str, suffix: str) -> str:
        return f"arn:aws:events:{self._arns.region}:{self._arns.account}:{kind}/{name}/{suffix}"

    # -- connections ----------------------------------------------------------
    def create_connection(self, name: str, authorization_type: str, auth_parameters: Any,
                          description: str | None = None, update: bool = False,
                          arn_suffix: str | None = None) -> dict[str, Any]:
        """``arn_suffix``: the last part of a new connection's ARN (a template's, known before it is made);
        a random one otherwise, as EventBridge gives."""
        check_connection(name)
        current = self._store.get_document(CONNECTION_DOCUMENT, name)
        if current is not None:
            current = self.opened(current)
        if current is not None and not update:
            raise ResourceAlreadyExistsException(f"Connection {name} already exists.")
        if current is None and update:
            raise ResourceNotFoundException(f"Failed to describe the connection(s). Connection '{name}' does not exist.")
        kind = authorization_type or (current or {}).get("AuthorizationType")
        params = auth_parameters if auth_parameters is not None else (current or {}).get("auth", {})
        _check_auth(kind, params)
        now = self._clock.now()
        doc = {"Name": name, "ConnectionArn": (current or {}).get("ConnectionArn") or self._arn(
            "connection", name, arn_suffix or str(uuid.uuid4())), "ConnectionState": "AUTHORIZED", "AuthorizationType": kind,
            "auth": params, "CreationTime": (current or {}).get("CreationTime", now), "LastModifiedTime": now,
            "LastAuthorizedTime": now}
        if description:
            doc["Description"] = description
        self._store.put_document(CONNECTION_DOCUMENT, name, self._seal(doc))
        return {k: doc[k] for k in ("ConnectionArn", "ConnectionState", "CreationTime", "LastModifiedTime")}

    def _connection(self, ref: str) -> dict[str, Any]:
        name = ref.split(":connection/", 1)[1].split("/", 1)[0] if ":connection/" in ref else ref
        doc = self._store.get_document(CONNECTION_DOCUMENT, name)
        if doc is None:
            raise ResourceNotFoundException(f"Failed to describe the connection(s). Connection '{name}' does not exist.")
        return self.opened(doc)

    def describe_connection(self, name: str) -> dict[str, Any]:
        doc = self._connection(name)
        out = {k: v for k, v in doc.items() if k != "auth"}
        out["AuthParameters"] = _redacted(doc["AuthorizationType"], doc["auth"])
        return out

    def list_connections(self, prefix: str | None = None) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k != "auth"} for d in self._store.list_documents(CONNECTION_DOCUMENT)
                if d["Name"].startswith(prefix or "")]

    def delete_connection(self, name: str) -> dict[str, Any]:
        doc = self._connection(name)
        if any(d["ConnectionArn"] == doc["ConnectionArn"] for d in self._store.list_documents("api-destination")):
            raise ValidationException(f"Connection {name} is used by an API destination.")
        self._store.delete_document(CONNECTION_DOCUMENT, doc["Name"])
        return {"ConnectionArn": doc["ConnectionArn"], "ConnectionState": "DELETING"}

    # -- API destinations -----------------------------------------------------------
    def create_api_destination(self, name: str, connection_arn: str, endpoint: Any, method: Any,
                               rate_limit: int | None = None, description: str | None = None,
                               update: bool = False, arn_suffix: str | None = None) -> dict[str, Any]:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValidationException("API destination names are 1-64 letters, digits, '.', '-' or '_'.")
        current = self._store.get_document("api-destination", name)
        if current is not None and not update:
            raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.")
        if current is None and update:
            raise ResourceNotFoundException(f"An api-destination '{name}' does not exist.")
        connection = self._connection(connection_arn or (current or {}).get("ConnectionArn", ""))
        endpoint = endpoint or (current or {}).get("InvocationEndpoint")
        method = method or (current or {}).get("HttpMethod")
        rate = rate_limit if rate_limit is not None else (current or {}).get("InvocationRateLimitPerSecond", 300)
        check_api_destination(name, endpoint, method, rate)
        now = self._clock.now()
        doc = {"Name": name, "ApiDestinationArn": (current or {}).get("ApiDestinationArn") or self._arn(
            "api-destination", name, arn_suffix or str(uuid.uuid4())), "ApiDestinationState": "ACTIVE",
            "ConnectionArn": connection["ConnectionArn"], "InvocationEndpoint": endpoint, "HttpMethod": method,
            "InvocationRateLimitPerSecond": rate, "CreationTime": (current or {}).get("CreationTime", now),
            "LastModifiedTime": now}
        if description:
            doc["Description"] = description
        self._store.put_document("api-destination", name, doc)
        return {k: doc[k] for k in ("ApiDestinationArn", "ApiDestinationState", "CreationTime", "LastModifiedTime")}

    def _destination(self, ref: str) -> dict[str, Any]:
        name = ref.split(":api-destination/", 1)[1].split("/", 1)[0] if ":api-destination/" in ref else ref
        doc = self._store.get_document("api-destination", name)
        if doc is None:
            raise ResourceNotFoundException(f"An api-destination '{name}' does not exist.")
        return doc

    def describe_api_destination(self, name: str) -> dict[str, Any]:
        return dict(self._destination(name))

    def list_api_destinations(self, prefix: str | None = None) -> list[dict[str, Any]]:
        return [d for d in self._store.list_documents("api-destination") if d["Name"].startswith(prefix or "")]

    def delete_api_destination(self, name: str) -> None:
        doc = self._destination(name)
        self._store.delete_document("api-destination", doc["Name"])

    # -- delivery -------------------------------------------------------------
    def invoke(self, arn: str, payload: str, http_parameters: dict[str, Any] | None) -> None:
        try:
            destination = self._destination(arn)
            connection = self._connection(destination["ConnectionArn"])
        except ResourceNotFoundException as err:
            raise TargetFailed(err.message, retryable=False) from None
        self._throttle(destination)
        params = http_parameters or {}
        url = destination["InvocationEndpoint"]
        for value in params.get("PathParameterValues") or []:
            url = url.replace("*", urllib.parse.quote(str(value), safe=""), 1)
        auth = connection["auth"]
        invocation = auth.get("InvocationHttpParameters") or {}
        query = {**_pairs(invocation.get("QueryStringParameters")), **(params.get("QueryStringParameters") or {})}
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   **_pairs(invocation.get("HeaderParameters")), **(params.get("HeaderParameters") or {})}
        body: bytes | None = payload.encode()
        extra_body = _pairs(invocation.get("BodyParameters"))
        if extra_body and body is not None:
            try:
                doc = json.loads(payload)
                if isinstance(doc, dict):
                    body = json.dumps({**doc, **extra_body}).encode()
            except ValueError:
                pass
        if destination["HttpMethod"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            body = None
        for attempt in (1, 2):
            headers.update(self._auth_headers(connection, refresh=attempt == 2))
            status, text = _request(destination["HttpMethod"], _with_query(url, query), headers, body)
            if status == 401 and connection["AuthorizationType"] == "OAUTH_CLIENT_CREDENTIALS" and attempt == 1:
                continue
            break
        if 200 <= status < 300:
            return
        retry = status == 0 or status >= 500 or status in _RETRIED
        raise TargetFailed(f"{destination['HttpMethod']} {url} answered {status or 'no response'}: {text[:200]}",
                           retry)

    def _throttle(self, destination: dict[str, Any]) -> None:
        """A token bucket per destination at its InvocationRateLimitPerSecond (waits, in this worker)."""
        rate = float(destination["InvocationRateLimitPerSecond"])
        while True:
            with self._lock:
                tokens, at = self._buckets.get(destination["Name"], (rate, self._clock.monotonic()))
                now = self._clock.monotonic()
                tokens = min(rate, tokens + (now - at) * rate)
                if tokens >= 1:
                    self._buckets[destination["Name"]] = (tokens - 1, now)
                    return
                self._buckets[destination["Name"]] = (tokens, now)
                wait = (1 - tokens) / rate
            self._clock.sleep(wait)

    def _auth_headers(self, connection: dict[str, Any], refresh: bool) -> dict[str, str]:
        kind, auth = connection["AuthorizationType"], connection["auth"]
        if kind == "API_KEY":
            key = auth["ApiKeyAuthParameters"]
            return {key["ApiKeyName"]: key["ApiKeyValue"]}
        if kind == "BASIC":
            basic = auth["BasicAuthParameters"]
            return {"Authorization": "Basic " + base64.b64encode(
                f"{basic['Username']}:{basic['Password']}".encode()).decode()}
        return {"Authorization": f"Bearer {self._token(connection, refresh)}"}

    def _token(self, connection: dict[str, Any], refresh: bool) -> str:
        """The connection's access token: one fetch at a time per connection (single flight)."""
        name = connection["Name"]
        with self._lock:
            flight = self._flights.setdefault(name, threading.Lock())
            stale = self._tokens.get(name) if refresh else None
        with flight:
            with self._lock:
                cached = self._tokens.get(name)
            if cached and cached != stale and cached[1] > self._clock.now() + 5:
                return cached[0]
            return self._fetch_token(connection)

    def _fetch_token(self, connection: dict[str, Any]) -> str:
        name = connection["Name"]
        oauth = connection["auth"]["OAuthParameters"]
        client = oauth["ClientParameters"]
        extra = oauth.get("OAuthHttpParameters") or {}
        form = {"grant_type": "client_credentials", **_pairs(extra.get("BodyParameters"))}
        headers = {"Authorization": "Basic " + base64.b64encode(
            f"{client['ClientID']}:{client['ClientSecret']}".encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT,
            **_pairs(extra.get("HeaderParameters"))}
        url = _with_query(oauth["AuthorizationEndpoint"], _pairs(extra.get("QueryStringParameters")))
        status, text = _request(oauth.get("HttpMethod", "POST"), url, headers, urllib.parse.urlencode(form).encode())
        try:
            doc = json.loads(text) if 200 <= status < 300 else None
            token = doc["access_token"] if isinstance(doc, dict) else None
        except (ValueError, KeyError):
            token = None
        if not isinstance(token, str):
            raise TargetFailed(f"the OAuth endpoint of connection {name} answered {status or 'no response'} "
                               "without an access_token", retryable=True)
        expires = self._clock.now() + float(doc.get("expires_in", 3600)) if isinstance(doc, dict) else self._clock.now()
        with self._lock:
            self._tokens[name] = (token, expires)
        return token


def _pairs(items: Any) -> dict[str, str]:
    return {str(p["Key"]): str(p["Value"]) for p in (items or []) if isinstance(p, dict) and "Key" in p}


def _with_query(url: str, query: dict[str, str]) -> str:
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(query)


def _request(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, response.read(64 * 1024).decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read(64 * 1024).decode(errors="replace")
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        return 0, str(err)


def check_connection(name: Any, kind: Any = None, params: Any = None) -> None:
    """A connection's name, and its authorization when given, as CreateConnection checks them."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValidationException("Connection names are 1-64 letters, digits, '.', '-' or '_'.")
    if kind is not None or params is not None:
        _check_auth(kind, params)


def check_api_destination(name: Any, endpoint: Any, method: Any, rate: Any) -> None:
    """An API destination's settings, as CreateApiDestination checks them."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValidationException("API destination names are 1-64 letters, digits, '.', '-' or '_'.")
    if not isinstance(endpoint, str) or not re.match(r"^https?://[^\s]+$", endpoint):
        raise ValidationException("InvocationEndpoint must be an http:// or https:// URL.")
    if method not in _METHODS:
        raise ValidationException(f"HttpMethod must be one of {', '.join(_METHODS)}.")
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 300:
        raise ValidationException("InvocationRateLimitPerSecond must be between 1 and 300.")


def _check_auth(kind: Any, params: Any) -> None:
    if kind not in ("API_KEY", "BASIC", "OAUTH_CLIENT_CREDENTIALS"):
        raise ValidationException("AuthorizationType must be API_KEY, BASIC or OAUTH_CLIENT_CREDENTIALS.")
    if not isinstance(params, dict):
        raise ValidationException("AuthParameters are required.")

    def need(doc: Any, *keys: str) -> None:
        if not isinstance(doc, dict) or any(not isinstance(doc.get(k), str) or not doc.get(k) for k in keys):
            raise ValidationException(f"AuthParameters for {kind} need {', '.join(keys)}.")

    if kind == "API_KEY":
        need(params.get("ApiKeyAuthParameters"), "ApiKeyName", "ApiKeyValue")
    elif kind == "BASIC":
        need(params.get("BasicAuthParameters"), "Username", "Password")
    else:
        oauth = params.get("OAuthParameters")
        need(oauth, "AuthorizationEndpoint")
        need((oauth or {}).get("ClientParameters"), "ClientID", "ClientSecret")
        if not re.match(r"^https?://", str((oauth or {})["AuthorizationEndpoint"])):
            raise ValidationException("AuthorizationEndpoint must be an http:// or https:// URL.")


def _redacted(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """AuthParameters as DescribeConnection shows them: names, never secret values."""
    out: dict[str, Any] = {}
    if kind == "API_KEY":
        out["ApiKeyAuthParameters"] = {"ApiKeyName": params["ApiKeyAuthParameters"]["ApiKeyName"]}
    elif kind == "BASIC":
        out["BasicAuthParameters"] = {"Username": params["BasicAuthParameters"]["Username"]}
    else:
        oauth = params["OAuthParameters"]
        out["OAuthParameters"] = {"ClientParameters": {"ClientID": oauth["ClientParameters"]["ClientID"]},
                                  "AuthorizationEndpoint": oauth["AuthorizationEndpoint"],
                                  "HttpMethod": oauth.get("HttpMethod", "POST")}
    if params.get("InvocationHttpParameters"):
        out["InvocationHttpParameters"] = params["InvocationHttpParameters"]
    return out
