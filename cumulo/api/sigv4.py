"""Verify AWS Signature Version 4 on an incoming HTTP request (pure: no I/O, no clock).

The client signed the request; we redo its computation from what arrived and compare:

1. Find the claim: the ``Authorization`` header (``AWS4-HMAC-SHA256 Credential=AKID/
   YYYYMMDD/region/service/aws4_request, SignedHeaders=a;b, Signature=hex``) or, for a
   presigned URL, the ``X-Amz-*`` query parameters. The request time comes from
   ``X-Amz-Date`` (header or query), else the ``Date`` header; its day must be the scope's.
2. Canonical request, one part per line: METHOD; canonical URI (the wire path with dot
   segments and empty segments removed, then percent-encoded *again* with safe ``/~`` --
   botocore double-encodes, so ``%24LATEST`` is signed as ``%2524LATEST``; S3 signs the
   wire path as is); canonical query (each ``name=value`` URL-decoded, ``+`` as space, then
   re-encoded with safe ``-_.~``, sorted by name then value, ``X-Amz-Signature`` left out);
   one ``name:value`` line per signed header (lower-cased names, values trimmed with inner
   whitespace runs collapsed, repeats joined with ``,``) and a blank line; the signed header
   names joined with ``;``; the payload hash (``x-amz-content-sha256`` if sent, else the
   body's sha256; presigned URLs may also use ``UNSIGNED-PAYLOAD``).
3. String to sign: ``AWS4-HMAC-SHA256``, the timestamp, the scope, hex sha256 of step 2.
4. Signing key: HMAC-SHA256 chained from ``"AWS4" + secret`` over date, region, service
   and ``aws4_request``; the signature is hex HMAC of step 3, compared in constant time.

Every ``x-amz-*`` header the request carries must be among the signed headers, as AWS
requires (its SDKs sign every one they send): an unsigned ``X-Amz-Target`` or
``X-Amz-Invocation-Type`` would let anyone who sees a signed request replay it as another
operation or invocation type. ``x-amzn-*`` headers (``X-Amzn-Trace-Id``) are another prefix.

Two steps, so that a server can refuse a request before reading its body: ``admit`` needs
only the head (method, path, query, headers) and checks the claim's form, the signed
headers, the clock and the key; ``check`` then needs the body and compares the signature.
``verify`` is both.

Errors (all ``CumuloError``)::

    MissingAuthenticationTokenException  403  no Authorization header, no X-Amz-Signature
    IncompleteSignatureException         400  malformed claim, missing/unparseable date
    UnrecognizedClientException          403  unknown access key, a session token not ours or revoked
    ExpiredTokenException                403  a session token past its expiry
    InvalidSignatureException            403  mismatch, skew/expiry, scope date != request date,
                                              an x-amz-* header not signed
    XAmzContentSHA256Mismatch            400  signed x-amz-content-sha256 != sha256(body)

The content-hash check runs only after the signature verified, so an unauthenticated
caller never learns more than "not authenticated". Which region and service the caller
accepts is the caller's business: both are returned in the ``Principal``.

Who the key belongs to is the key lookup's answer (``Keys``: the key id and the request's
``X-Amz-Security-Token``, header or query, to a ``Key`` or a bare secret, or None): the
``Principal`` carries the caller's ARN (``arn:aws:iam::<account>:root`` for the store's owner
keys, ``arn:aws:sts::<account>:assumed-role/<role>/<session>`` for a role's session), the role's
ARN and the session's name. A lookup may raise (an expired or forged session token).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from cumulo.errors import CumuloError

__all__ = ["decode_chunked", "IncomingRequest", "Principal", "ANONYMOUS_ARN", "anonymous", "Key", "Keys", "Admitted", "admit", "check", "verify", "sign",
           "MissingAuthenticationTokenException", "IncompleteSignatureException", "UnrecognizedClientException",
           "InvalidSignatureException", "XAmzContentSHA256Mismatch", "ExpiredTokenException"]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"              # S3: aws-chunked, each chunk signed
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"    # aws-chunked, a checksum trailer
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_TIMESTAMP_RE = re.compile(r"\d{8}T\d{6}Z")
_MAX_EXPIRES = 7 * 24 * 3600
_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                 "X-Amz-SignedHeaders", "X-Amz-Expires")
_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
             "Check your AWS Secret Access Key and signing method. "
             "Consult the service documentation for details.")


class MissingAuthenticationTokenException(CumuloError):
    status = 403


class IncompleteSignatureException(CumuloError):
    status = 400


class UnrecognizedClientException(CumuloError):
    status = 403


class InvalidSignatureException(CumuloError):
    status = 403


class ExpiredTokenException(CumuloError):
    """A session token past its expiry (the key lookup raises it)."""

    status = 403
    code = "ExpiredToken"          # the query protocol's name (STS, IAM; SQS's legacy code)


class XAmzContentSHA256Mismatch(CumuloError):
    status = 400


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    raw_path: str  # as on the wire, still percent-encoded
    query_string: str  # as on the wire, without '?'
    headers: list[tuple[str, str]]  # as received; any case; repeats repeated
    body: bytes


@dataclass(frozen=True)
class Key:
    """What the key lookup knows of an access key: its secret and whose it is."""

    secret: str
    arn: str = ""                     # the caller's ARN (see ``Principal.arn``)
    role_arn: str | None = None       # a role session's role
    session_name: str | None = None   # a role session's name


# key id, session token (None when the request has none) -> the key, its bare secret, or None
Keys = Callable[[str, str | None], Key | str | None]


@dataclass(frozen=True)
class Principal:
    """Who signed a request, with which scope."""

    access_key_id: str
    region: str
    service: str
    arn: str = ""                     # arn:aws:iam::<account>:root (owner keys) or
                                      # arn:aws:sts::<account>:assumed-role/<role>/<session>
    role_arn: str | None = None       # arn:aws:iam::<account>:role/<path><role>; None for owner keys
    session_name: str | None = None   # a role session's name (a function's name); None for owner keys

    @property
    def account(self) -> str:
        """The caller's account ('' when the lookup did not say whose the key is)."""
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else ""


ANONYMOUS_ARN = "anonymous"


def anonymous(region: str) -> Principal:
    """The caller of an unsigned request S3 serves because a bucket policy allows everyone
    (``api/gate.py`` admits it; ``api/authorize.py`` decides it by that policy alone)."""
    return Principal("", region, "s3", ANONYMOUS_ARN)


@dataclass(frozen=True)
class _Claim:
    """What the client says it signed, and when."""

    access_key_id: str
    scope: str  # date/region/service/aws4_request
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: datetime
    expires: timedelta | None  # set for presigned URLs only
    stamp: str = ""            # the timestamp as signed (YYYYMMDDTHHMMSSZ)


@dataclass(frozen=True)
class Admitted:
    """A request whose head passed ``admit``: what is left to check is the signature, over the body."""

    claim: _Claim
    key: bytes  # the signing key of the claim's secret and scope
    query: list[tuple[str, str]]
    who: Key | None = None


def admit(request: IncomingRequest, keys: Keys, now: datetime,
          max_skew: timedelta = timedelta(minutes=15)) -> Admitted:
    """Check everything the head decides (``request.body`` is not read): the claim's form, that every
    ``x-amz-*`` header is signed, the clock, the key (and its session token). Naive ``now`` is UTC."""
    if now.tzinfo is not timezone.utc:
        now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)
    query = [pair.partition("=")[::2] for pair in request.query_string.split("&")] if request.query_string else []
    head = _Head(request.headers)
    claim = _find_claim(head, query)
    _check_signed_headers(claim, head.amz)
    _check_time(claim, now, max_skew)
    token = head.get("x-amz-security-token")
    if token is None and claim.expires is not None:
        token = next((_decode(v) for k, v in query if _decode(k) == "X-Amz-Security-Token"), None)
    found = keys(claim.access_key_id, token)
    if found is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    who = found if isinstance(found, Key) else Key(found)
    return Admitted(claim, _signing_key(who.secret, claim.scope), query, who)


def check(request: IncomingRequest, admitted: Admitted) -> Principal:
    """The rest of ``verify`` once ``admit`` passed on the same head: the signature, over the body."""
    claim, query = admitted.claim, admitted.query
    declared = _header(request.headers, "x-amz-content-sha256")
    body_hash = hashlib.sha256(request.body).hexdigest()
    hashes = [declared] if declared is not None else [body_hash]
    if declared is None and claim.expires is not None:
        hashes.append(UNSIGNED_PAYLOAD)  # presigned: botocore hashes the (empty) body, S3-style signers do not
    canonical = _canonical_head(request, query, claim)     # once, whichever payload hash was signed
    given = claim.signature.encode()
    if not any(hmac.compare_digest(_signed(admitted.key, claim, canonical + payload_hash).encode(), given)
               for payload_hash in hashes):
        raise InvalidSignatureException(_MISMATCH)
    if declared == STREAMING_SIGNED or declared == STREAMING_SIGNED_TRAILER:
        decode_chunked(request.body, (admitted.key, claim.stamp, claim.scope, claim.signature))
    elif declared not in (None, UNSIGNED_PAYLOAD, body_hash, STREAMING_UNSIGNED_TRAILER):
        raise XAmzContentSHA256Mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.")
    who = admitted.who or Key("")
    return Principal(claim.access_key_id, claim.region, claim.service, who.arn, who.role_arn, who.session_name)


def verify(request: IncomingRequest, keys: Keys, now: datetime,
           max_skew: timedelta = timedelta(minutes=15)) -> Principal:
    """Return who signed ``request``, or raise why it is not authenticated. Naive ``now`` is UTC."""
    return check(request, admit(request, keys, now, max_skew))


def _check_signed_headers(claim: _Claim, amz: list[str]) -> None:
    """Every ``x-amz-*`` header sent must be signed, and none is exempt: the real clients sign every
    one they send. botocore (boto3, the AWS CLI) signs all headers but ``user-agent``, ``expect``,
    ``transfer-encoding`` and ``x-amzn-trace-id`` (``amz-sdk-invocation-id`` and ``amz-sdk-request``
    are added after signing: not ``x-amz-``); the JavaScript SDK v3 signs ``x-amz-user-agent``,
    ``x-amz-content-sha256``, ``x-amz-log-type``, ``x-amz-client-context``,
    ``x-amz-invocation-type`` and ``x-amz-target`` (seen against a running server); v2's signer
    leaves out only ``authorization``, ``content-type``, ``content-length``, ``user-agent``,
    ``expect``, ``presigned-expires`` and ``x-amzn-trace-id``; Cumulo's own client signs all."""
    unsigned = sorted({name for name in amz if name not in claim.signed_headers})
    if unsigned:
        raise InvalidSignatureException(
            f"There were headers present in the request which were not signed: {', '.join(unsigned)}. "
            "Every x-amz-* header a request carries must be one of its SignedHeaders.")


class _Head:
    """The request's headers that ``admit`` reads, found in one pass: the first value of each of
    ``_READ`` by lower-cased name, and the lower-cased names of every ``x-amz-*`` header."""

    __slots__ = ("values", "amz")
    _READ = frozenset(("authorization", "x-amz-date", "date", "x-amz-security-token"))

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        values: dict[str, str] = {}
        amz: list[str] = []
        read = self._READ
        for name, value in headers:
            low = name.lower()
            if low[:6] == "x-amz-":
                amz.append(low)
            if low in read and low not in values:
                values[low] = value
        self.values, self.amz = values, amz

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def _find_claim(head: _Head, query: list[tuple[str, str]]) -> _Claim:
    authorization = head.get("authorization")
    presigned = bool(query) and any(_decode(name) in ("X-Amz-Signature", "X-Amz-Algorithm") for name, _ in query)
    if authorization is not None and presigned:
        raise IncompleteSignatureException("Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                                           "parameter or the Authorization header should be specified")
    if authorization is not None:
        return _claim_from_header(authorization, head.get("x-amz-date"), head.get("date"))
    if presigned:
        return _claim_from_query({_decode(k): _decode(v) for k, v in reversed(query)})  # first one wins
    raise MissingAuthenticationTokenException("Missing Authentication Token")


def _claim_from_header(authorization: str, amz_date: str | None, date: str | None) -> _Claim:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm.startswith("AWS4-") and algorithm != ALGORITHM:
        raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    params: dict[str, str] = {}
    # items split at runs of commas and whitespace (str.split's whitespace is the regex's \s)
    for item in rest.replace(",", " ").split() if algorithm == ALGORITHM else ():
        name, equals, value = item.partition("=")
        if not equals:
            raise IncompleteSignatureException(f"'{item}' not a valid key=value pair (missing equal-sign) "
                                               f"in Authorization header: '{authorization}'.")
        params[name] = value
    problems = [f"Authorization header requires '{p}' parameter."
                for p in ("Credential", "Signature", "SignedHeaders") if p not in params]
    if amz_date is None and date is None:
        problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if problems:
        raise IncompleteSignatureException(" ".join(problems) + f" Authorization={authorization}")
    return _claim(params["Credential"], params["SignedHeaders"], params["Signature"],
                  *_parse_timestamp(amz_date, date), None)


def _claim_from_query(params: dict[str, str]) -> _Claim:
    if any(name not in params for name in _QUERY_PARAMS):
        names = ", ".join(f"'{name}'" for name in _QUERY_PARAMS)
        raise IncompleteSignatureException(f"AWS query-string parameters must include {names}. "
                                           "Re-examine the query-string parameters.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'.")
    expires = params["X-Amz-Expires"]
    if not expires.isdigit() or not 0 < int(expires) <= _MAX_EXPIRES:
        raise IncompleteSignatureException(f"X-Amz-Expires must be a number of seconds from 1 to {_MAX_EXPIRES} "
                                           f"(7 days), not '{expires}'.")
    return _claim(params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Signature"],
                  *_parse_timestamp(params["X-Amz-Date"], None), timedelta(seconds=int(expires)))


def _claim(credential: str, signed_headers: str, signature: str, timestamp: datetime, stamp: str,
           expires: timedelta | None) -> _Claim:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise IncompleteSignatureException("Credential must have exactly 5 slash-delimited elements, "
                                           f"e.g. keyid/date/region/service/term, got '{credential}'")
    key_id, scope_date, region, service, terminator = parts
    if terminator != "aws4_request":
        raise IncompleteSignatureException(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'.")
    names = tuple(signed_headers.lower().split(";"))
    if "host" not in names:
        raise IncompleteSignatureException("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    if scope_date != stamp[:8]:
        raise InvalidSignatureException("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                                        f"date from HTTP: '{scope_date}' != '{stamp[:8]}', from '{stamp}'.")
    return _Claim(key_id, "/".join(parts[1:]), region, service, names, signature, timestamp, expires, stamp)


def _parse_timestamp(amz_date: str | None, date: str | None) -> tuple[datetime, str]:
    """``X-Amz-Date`` (ISO 8601 basic) wins over ``Date`` (RFC 7231), as AWS documents. The
    time, and as it is signed (``YYYYMMDDTHHMMSSZ``)."""
    value = amz_date if amz_date is not None else date or ""
    try:
        if amz_date is not None:
            if not _TIMESTAMP_RE.fullmatch(amz_date):
                raise ValueError(amz_date)
            d = amz_date   # YYYYMMDDTHHMMSSZ, checked: strptime would take 15 µs of every request
            return _at(int(d[:4]), int(d[4:6]), int(d[6:8]), int(d[9:11]), int(d[11:13]), int(d[13:15])), d
        parsed = parsedate_to_datetime(value)
        parsed = parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
        return parsed, parsed.strftime(_TIMESTAMP)
    except (TypeError, ValueError):
        raise IncompleteSignatureException(f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
                                           "See http://en.wikipedia.org/wiki/ISO_8601") from None


@lru_cache(maxsize=64)
def _at(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


def _check_time(claim: _Claim, now: datetime, max_skew: timedelta) -> None:
    signed, span = claim.stamp, f"{int(max_skew.total_seconds()) // 60} min."
    if claim.timestamp - now > max_skew:
        raise InvalidSignatureException(f"Signature not yet current: {signed} is still later than "
                                        f"{(now + max_skew).strftime(_TIMESTAMP)} ({now.strftime(_TIMESTAMP)} + {span})")
    if claim.expires is not None:
        if now - claim.timestamp > claim.expires:
            raise InvalidSignatureException("Request has expired")
    elif now - claim.timestamp > max_skew:
        raise InvalidSignatureException(f"Signature expired: {signed} is now earlier than "
                                        f"{(now - max_skew).strftime(_TIMESTAMP)} ({now.strftime(_TIMESTAMP)} - {span})")


def _signature(key: bytes, request: IncomingRequest, query: list[tuple[str, str]], claim: _Claim,
               payload_hash: str) -> str:
    return _signed(key, claim, _canonical_head(request, query, claim) + payload_hash)


def _canonical_head(request: IncomingRequest, query: list[tuple[str, str]], claim: _Claim) -> str:
    """The canonical request up to its last line, the payload hash: method, URI, query, one
    ``name:value`` line per signed header (the values of a repeated header joined with ``,``, each
    trimmed with inner whitespace runs collapsed), a blank line, the signed header names."""
    signed = claim.signed_headers
    values: dict[str, list[str]] = {}
    for name, value in request.headers:
        low = name.lower()
        if low in signed:
            values.setdefault(low, []).append(" ".join(value.split()))
    lines = "".join(f"{name}:{','.join(values.get(name, ()))}\n" for name in signed)
    return (f"{request.method.upper()}\n{_canonical_uri(request.raw_path, claim.service)}\n"
            f"{_canonical_query(query, presigned=claim.expires is not None)}\n{lines}\n{';'.join(signed)}\n")


def _signed(key: bytes, claim: _Claim, canonical: str) -> str:
    """The signature of a canonical request: HMAC of the string to sign."""
    string_to_sign = f"{ALGORITHM}\n{claim.stamp}\n{claim.scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.digest(key, string_to_sign.encode(), "sha256").hex()


def sign(request: IncomingRequest, access_key_id: str, secret: str, region: str, service: str,
         now: datetime) -> list[tuple[str, str]]:
    """The headers to add so that ``request`` verifies: X-Amz-Date, X-Amz-Content-SHA256, Authorization.
    ``request.headers`` must already hold ``host``; every header given is signed."""
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)
    stamp = now.strftime(_TIMESTAMP)
    payload_hash = hashlib.sha256(request.body).hexdigest()
    extra = [("x-amz-date", stamp), ("x-amz-content-sha256", payload_hash)]
    headers = [(k.lower(), v) for k, v in request.headers] + extra
    signed = tuple(sorted({k for k, _ in headers}))
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    claim = _Claim(access_key_id, scope, region, service, signed, "", now, None, stamp)
    query = [pair.partition("=")[::2] for pair in request.query_string.split("&")] if request.query_string else []
    signature = _signature(_signing_key(secret, scope), IncomingRequest(
        request.method, request.raw_path, request.query_string, headers, request.body), query, claim, payload_hash)
    authorization = (f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={';'.join(signed)}, "
                     f"Signature={signature}")
    return extra + [("authorization", authorization)]


@lru_cache(maxsize=256)
def _signing_key(secret: str, scope: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@lru_cache(maxsize=256)      # (only signed requests get here: a known key's)
def _canonical_uri(raw_path: str, service: str) -> str:
    if service == "s3":
        return raw_path or "/"
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            segments = segments[:-1]
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = "/" if raw_path.endswith("/") and segments else ""
    return quote("/" + "/".join(segments) + trailing, safe="/~")


def _canonical_query(query: list[tuple[str, str]], presigned: bool) -> str:
    pairs = sorted((_encode(name), _encode(value)) for name, value in query
                   if not (presigned and _decode(name) == "X-Amz-Signature"))
    return "&".join(f"{name}={value}" for name, value in pairs)


def _decode(component: str) -> str:
    return unquote_to_bytes(component.replace("+", " ")).decode("utf-8", "replace")


def _encode(component: str) -> str:
    return quote(unquote_to_bytes(component.replace("+", " ")), safe="-_.~")


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def decode_chunked(body: bytes, signing: tuple[bytes, str, str, str] | None = None) -> tuple[bytes, dict[str, str]]:
    """An ``aws-chunked`` body (S3's streaming uploads) to its data and its trailing headers
    (``x-amz-checksum-crc32: …``, names lower-cased). Each chunk is ``<hex size>[;chunk-signature=
    <sig>]\r\n<data>\r\n``; the last has size 0 and is followed by the trailer lines and a blank
    line. With ``signing`` (the signing key, the request's timestamp and scope, and the seed
    signature of its head) every chunk's signature is checked in turn, each over the previous
    one's ("AWS4-HMAC-SHA256-PAYLOAD"); a mismatch is ``InvalidSignatureException``, a malformed
    body ``IncompleteSignatureException``."""
    out = bytearray()
    trailers: dict[str, str] = {}
    pos = 0
    previous = signing[3] if signing is not None else ""
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0 or eol - pos > 4096:
            raise IncompleteSignatureException("The aws-chunked body is malformed: a chunk header is missing.")
        head = body[pos:eol].decode("latin-1")
        size_text, _, ext = head.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise IncompleteSignatureException("The aws-chunked body is malformed: a chunk size is not hexadecimal.") \
                from None
        start, end = eol + 2, eol + 2 + size
        if size < 0 or end > len(body):
            raise IncompleteSignatureException("The aws-chunked body is malformed: a chunk is shorter than its size.")
        data = body[start:end]
        if signing is not None:
            given = ext.partition("chunk-signature=")[2]
            key, stamp, scope = signing[0], signing[1], signing[2]
            to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, _EMPTY_SHA256,
                                  hashlib.sha256(data).hexdigest()])
            expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected.encode(), given.encode()):
                raise InvalidSignatureException(_MISMATCH)
            previous = expected
        out += data
        if size == 0:
            pos = start
            break
        if body[end:end + 2] != b"\r\n":
            raise IncompleteSignatureException("The aws-chunked body is malformed: a chunk does not end with CRLF.")
        pos = end + 2
    if not body[pos:].endswith(b"\r\n"):
        raise IncompleteSignatureException("The aws-chunked body is malformed: it does not end with CRLF.")
    for line in body[pos:].split(b"\r\n"):
        if not line:
            continue
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise IncompleteSignatureException("The aws-chunked body is malformed: a trailer is not 'name:value'.")
        trailers[name.strip().lower()] = value.strip()
    return bytes(out), trailers
