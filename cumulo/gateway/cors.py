"""CORS for HTTP APIs, as API Gateway applies an API's ``CorsConfiguration``.

From "Configuring CORS for an HTTP API": with CORS configured, the gateway
answers preflight ``OPTIONS`` requests itself — whether or not a route would
match, and before any authorizer — and adds the configured headers to every
response to a CORS request; CORS headers the integration returns are ignored.

Preflight: an ``OPTIONS`` request carrying ``Origin`` and
``Access-Control-Request-Method``. The answer is ``204`` with the
``access-control-allow-*`` headers when the origin is allowed, and a bare
``204`` otherwise (the browser then refuses the call). ``*`` in
``AllowHeaders`` or ``AllowMethods`` admits what the browser asks for.
A wildcard origin cannot be combined with ``AllowCredentials`` (AWS refuses the
configuration); a specific origin is echoed back with ``vary: origin``.
Pure: configuration and request headers in, headers out.
"""

from __future__ import annotations

from dataclasses import dataclass

from cumulo.gateway._request import header_value
from cumulo.gateway.responses import GatewayResponse

__all__ = ["CorsConfig", "is_preflight", "preflight", "apply_cors"]

MAX_AGE_LIMIT = 86_400
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"})


@dataclass(frozen=True)
class CorsConfig:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def __post_init__(self) -> None:
        for name in ("allow_origins", "allow_methods", "allow_headers", "expose_headers"):
            values = getattr(self, name)
            if not all(isinstance(v, str) and v for v in values):
                raise ValueError(f"{_wire(name)} must be a list of non-empty strings")
        bad = [m for m in self.allow_methods if m.upper() not in _METHODS]
        if bad:
            raise ValueError(f"AllowMethods has an unknown method {bad[0]!r}")
        if self.max_age is not None and (isinstance(self.max_age, bool) or not isinstance(self.max_age, int)
                                         or not -1 <= self.max_age <= MAX_AGE_LIMIT):
            raise ValueError(f"MaxAge must be an integer between -1 and {MAX_AGE_LIMIT}")
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("AllowOrigins cannot be '*' when AllowCredentials is true")

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin.lower() in (o.lower() for o in self.allow_origins)

    def allow_origin_headers(self, origin: str) -> list[tuple[str, str]]:
        if "*" in self.allow_origins:
            return [("access-control-allow-origin", "*")]
        return [("access-control-allow-origin", origin), ("vary", "origin")]


def _wire(field: str) -> str:
    return "".join(part.capitalize() for part in field.split("_"))


def is_preflight(method: str, headers: list[tuple[str, str]]) -> bool:
    return (method == "OPTIONS" and header_value(headers, "origin") is not None
            and header_value(headers, "access-control-request-method") is not None)


def preflight(config: CorsConfig, headers: list[tuple[str, str]]) -> GatewayResponse:
    """The gateway's own answer to a preflight request."""
    origin = header_value(headers, "origin") or ""
    method = (header_value(headers, "access-control-request-method") or "").strip().upper()
    if not config.origin_allowed(origin):
        return GatewayResponse(204, [], b"")
    allowed_methods = {m.upper() for m in config.allow_methods}
    if "*" not in allowed_methods and method not in allowed_methods:
        return GatewayResponse(204, [], b"")
    out = config.allow_origin_headers(origin)
    out.append(("access-control-allow-methods", method if "*" in allowed_methods else ",".join(config.allow_methods)))
    requested = header_value(headers, "access-control-request-headers")
    if config.allow_headers:
        if "*" in config.allow_headers:
            if requested:
                out.append(("access-control-allow-headers", requested))
        else:
            out.append(("access-control-allow-headers", ",".join(config.allow_headers)))
    if config.max_age is not None:
        out.append(("access-control-max-age", str(config.max_age)))
    if config.allow_credentials:
        out.append(("access-control-allow-credentials", "true"))
    return GatewayResponse(204, out, b"")


def apply_cors(config: CorsConfig, request_headers: list[tuple[str, str]],
               response: GatewayResponse) -> GatewayResponse:
    """A response to a (non-preflight) request: the integration's CORS headers replaced by the API's."""
    kept = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    origin = header_value(request_headers, "origin")
    if origin is not None and config.origin_allowed(origin):
        kept += config.allow_origin_headers(origin)
        if config.expose_headers:
            kept.append(("access-control-expose-headers", ",".join(config.expose_headers)))
        if config.allow_credentials:
            kept.append(("access-control-allow-credentials", "true"))
    elif len(kept) == len(response.headers):
        return response
    return GatewayResponse(response.status, kept, response.body)
