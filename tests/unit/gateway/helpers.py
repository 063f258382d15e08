"""A request factory for the payload tests: AWS-like defaults, override what a test is about."""

from __future__ import annotations

from typing import Any

from cumulo.gateway.payload import HttpRequest

EPOCH_MS = 1583348638390          # 04/Mar/2020:19:03:58 +0000


def make_request(**overrides: Any) -> HttpRequest:
    fields: dict[str, Any] = {
        "method": "GET", "raw_path": "/my/path", "raw_query": "", "headers": [("user-agent", "agent")],
        "body": b"", "source_ip": "192.168.0.1", "request_id": "JKJaXmPLvHcESHA=", "time_epoch_ms": EPOCH_MS,
        "api_id": "abc123", "domain_name": "abc123.execute-api.localhost:8080", "stage": "$default",
    }
    fields.update(overrides)
    return HttpRequest(**fields)

