"""The request as the gateway received it, and the pieces both payload formats derive from it.

Pure functions over ``HttpRequest``; the two event builders (``payload_v1``,
``payload_v2``) only arrange what these return into AWS's two shapes, so the
formats cannot drift apart on how a header, a query string or a body is read.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote_plus

__all__ = [
    "HttpRequest", "header_groups", "query_pairs", "encode_body", "request_time", "domain_prefix",
    "stage_path", "header_value",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Media types API Gateway hands to functions as text. Everything else (images,
# octet-stream, multipart and url-encoded forms ...) arrives base64-encoded.
_TEXT_TYPES = frozenset({
    "application/json", "application/xml", "application/javascript", "application/ecmascript",
    "application/x-javascript", "application/graphql", "application/yaml", "application/x-yaml",
    "application/x-ndjson",
})
_TEXT_SUFFIXES = ("+json", "+xml", "+yaml")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str              # percent-encoded, as received, WITHOUT the stage prefix
    raw_query: str             # as received, without '?'
    headers: list[tuple[str, str]]   # as received (any case); repeated headers repeat
    body: bytes
    source_ip: str
    request_id: str
    time_epoch_ms: int
    api_id: str
    domain_name: str           # Host header value, e.g. "abc123.execute-api.localhost:8080"
    stage: str                 # "$default" or a name
    account_id: str = "000000000000"

    # The headers are read in one pass, once per request, however many times the gateway asks
    # (the event, its body's content type, the user agent, CORS, an API key ...). Kept in the
    # instance's __dict__ by hand: functools.cached_property takes a lock on each first use.
    @property
    def groups(self) -> dict[str, list[str]]:
        """``header_groups(self.headers)``, made once: callers must not change it."""
        return self._index()[0]

    @property
    def lowered(self) -> dict[str, list[str]]:
        """The same values by lower-cased name (the same lists as ``groups``'): do not change them."""
        return self._index()[1]

    def header(self, name: str) -> str | None:
        """``header_value(self.headers, name)``: the last value of header ``name`` (any case), or None."""
        values = self._index()[1].get(name.lower())
        return None if values is None else values[-1]

    def _index(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        index = self.__dict__.get("_headers_index")
        if index is None:
            groups: dict[str, list[str]] = {}
            lowered: dict[str, list[str]] = {}
            for name, value in self.headers:
                key = name.lower()
                values = lowered.get(key)
                if values is None:
                    values = lowered[key] = groups[name] = []
                values.append(value)
            index = self.__dict__["_headers_index"] = (groups, lowered)
        return index


def header_groups(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Values per header name, in arrival order, names compared case-insensitively.

    Keys keep the spelling of the first occurrence; payload 2.0 lower-cases them itself.
    """
    spelling: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for name, value in headers:
        key = spelling.setdefault(name.lower(), name)
        groups.setdefault(key, []).append(value)
    return groups


def header_value(headers: list[tuple[str, str]], name: str) -> str | None:
    """The last value of header ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    found = None
    for key, value in headers:
        if key.lower() == wanted:
            found = value
    return found


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decoded ``(name, value)`` pairs in order: form decoding, so ``+`` is a space.

    LocalStack's AWS-recorded events show API Gateway decoding ``+`` to a space and
    ``%2B`` to ``+``. A name without ``=`` has the value ``""``. Decoding is lenient
    (a stray ``%`` stays as it is): the raw string is always in the event as well.
    """
    pairs = []
    for piece in raw_query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """``(body, isBase64Encoded)``: text when the body is UTF-8 of a textual media type.

    Our rule, since AWS documents none for HTTP APIs: an empty body is ``None``; a
    body whose content type is absent, ``text/*``, JSON, XML, JavaScript, YAML or
    GraphQL (incl. ``+json``/``+xml`` suffixes) and which decodes as UTF-8 goes as
    text; anything else — binary types, url-encoded and multipart forms, undecodable
    bytes — goes base64-encoded, which frameworks (Mangum, Powertools) decode.
    """
    if not body:
        return None, False
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _is_text(content_type: str | None) -> bool:
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return (media.startswith("text/") or media in _TEXT_TYPES or media.endswith(_TEXT_SUFFIXES)
            or media == "")


def request_time(epoch_ms: int) -> str:
    """``12/Mar/2020:19:03:58 +0000``: the CLF-style time AWS puts in both payloads.

    Always UTC with English month names, whatever the host's locale (``%b`` is not).
    """
    return _second_text(epoch_ms // 1000)


@functools.lru_cache(maxsize=4)
def _second_text(epoch_s: int) -> str:
    t = _EPOCH + timedelta(seconds=epoch_s)
    return f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year:04d}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000"


@functools.lru_cache(maxsize=1024)
def domain_prefix(domain_name: str) -> str:
    """The first label of the host, as AWS defines ``domainPrefix``; an IP address stays whole.

    The port (present locally, never on AWS's 443) is not part of any label.
    """
    host = domain_name
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return host.split(".", 1)[0]


def stage_path(req: HttpRequest) -> str:
    """The path as AWS reports it: a named stage's segment stays in front, ``$default`` adds none."""
    return req.raw_path if req.stage == "$default" else f"/{req.stage}{req.raw_path}"
