"""CORS as HTTP APIs apply a CorsConfiguration: preflights answered by the gateway, headers on responses."""

from __future__ import annotations

import pytest

from cumulo.gateway.cors import CorsConfig, apply_cors, is_preflight, preflight
from cumulo.gateway.responses import GatewayResponse

CONFIG = CorsConfig(allow_origins=("https://app.example.com",), allow_methods=("GET", "POST"),
                    allow_headers=("content-type", "authorization"), expose_headers=("x-request-id",),
                    max_age=600, allow_credentials=True)


def _preflight_headers(origin: str = "https://app.example.com", method: str = "POST",
                       headers: str | None = "content-type") -> list[tuple[str, str]]:
    out = [("Origin", origin), ("Access-Control-Request-Method", method)]
    if headers:
        out.append(("Access-Control-Request-Headers", headers))
    return out


def test_a_preflight_is_an_options_request_with_origin_and_requested_method() -> None:
    assert is_preflight("OPTIONS", _preflight_headers())
    assert not is_preflight("OPTIONS", [("Origin", "https://a")])
    assert not is_preflight("GET", _preflight_headers())


def test_allowed_preflight_gets_204_with_the_configured_headers() -> None:
    response = preflight(CONFIG, _preflight_headers())
    headers = dict(response.headers)
    assert response.status == 204 and response.body == b""
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-allow-headers"] == "content-type,authorization"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["vary"] == "origin"


@pytest.mark.parametrize("origin,method", [("https://evil.example.com", "POST"), ("https://app.example.com", "DELETE")])
def test_refused_preflight_gets_no_cors_headers(origin: str, method: str) -> None:
    response = preflight(CONFIG, _preflight_headers(origin, method))
    assert response.status == 204 and response.headers == []


def test_wildcards_admit_what_the_browser_asks_for() -> None:
    config = CorsConfig(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    headers = dict(preflight(config, _preflight_headers("https://x.test", "PATCH", "x-one,x-two")).headers)
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "PATCH"
    assert headers["access-control-allow-headers"] == "x-one,x-two"
    assert "vary" not in headers and "access-control-allow-credentials" not in headers


def test_responses_get_the_apis_cors_headers_and_lose_the_integrations() -> None:
    backend = GatewayResponse(200, [("content-type", "text/plain"), ("Access-Control-Allow-Origin", "*")], b"hi")
    out = apply_cors(CONFIG, [("origin", "https://app.example.com")], backend)
    assert dict(out.headers) == {
        "content-type": "text/plain", "access-control-allow-origin": "https://app.example.com", "vary": "origin",
        "access-control-expose-headers": "x-request-id", "access-control-allow-credentials": "true"}
    assert out.body == b"hi" and out.status == 200


def test_a_disallowed_origin_gets_no_cors_headers_at_all() -> None:
    backend = GatewayResponse(200, [("access-control-allow-origin", "*")], b"")
    assert apply_cors(CONFIG, [("origin", "https://evil.example.com")], backend).headers == []
    plain = GatewayResponse(200, [("content-type", "text/plain")], b"")
    assert apply_cors(CONFIG, [], plain) is plain


@pytest.mark.parametrize("kwargs,message", [
    ({"allow_origins": ("*",), "allow_credentials": True}, "AllowCredentials"),
    ({"max_age": 86_401}, "MaxAge"),
    ({"allow_methods": ("FETCH",)}, "AllowMethods"),
    ({"allow_headers": ("",)}, "AllowHeaders"),
])
def test_invalid_configurations_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CorsConfig(**kwargs)
