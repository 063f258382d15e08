"""SAM's ``FunctionUrlConfig`` and an ``AWS::Lambda::Url``'s members, read and checked (pure)."""

from __future__ import annotations

from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.errors import CumuloError
from cumulo.functions.urls import AUTH_TYPES, INVOKE_MODES, check_cors

__all__ = ["read_url_config"]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_url_config(value: Any) -> dict[str, Any]:
    """A ``FunctionUrlConfig`` (or an ``AWS::Lambda::Url``'s own members), checked as Lambda's API checks them."""
    doc = _plain(value)
    if not isinstance(doc, dict):
        raise IntrinsicError("must be a map")
    unknown = sorted(set(doc) - {"AuthType", "Cors", "InvokeMode"})
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}'")
    auth = doc.get("AuthType")
    if auth not in AUTH_TYPES:
        raise IntrinsicError(f"AuthType must be one of {', '.join(AUTH_TYPES)}, not {auth!r}")
    mode = doc.get("InvokeMode", "BUFFERED")
    if mode not in INVOKE_MODES:
        raise IntrinsicError(f"InvokeMode must be one of {', '.join(INVOKE_MODES)}, not {mode!r}")
    try:
        cors = check_cors(doc.get("Cors"))
    except CumuloError as exc:
        raise IntrinsicError(f"Cors: {exc.message}") from None
    return {"AuthType": auth, "Cors": cors, "InvokeMode": mode}
