"""A small signed client of a running ``cumulo up``, used by the CLI.

When a server owns the store, ``cumulo invoke`` goes through it, so the call
shares the server's warm environments and concurrency limits instead of
starting environments of its own. Requests are signed with the store's first
access key (SigV4), like any other client's.
"""

from __future__ import annotations

import base64
import http.client
import json
from datetime import datetime, timezone
from urllib.parse import quote, urlencode, urlsplit

from cumulo.api import sigv4
from cumulo.errors import CumuloError, ServiceException
from cumulo.invoke.invoker import InvocationResult

__all__ = ["ServerClient", "RemoteError"]


class RemoteError(CumuloError):
    """An error answered by the server, carrying its AWS error type."""

    def __init__(self, error_type: str, message: str, status: int) -> None:
        super().__init__(message)
        self._type, self.status = error_type, status

    @property
    def type(self) -> str:
        return self._type


class ServerClient:
    def __init__(self, endpoint: str, key_id: str, secret: str, region: str) -> None:
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.key_id, self.secret, self.region = key_id, secret, region

    def invoke(self, name: str, payload: bytes, qualifier: str | None = None,
               log_type: str = "None", invocation_type: str = "RequestResponse") -> InvocationResult:
        path = f"/2015-03-31/functions/{quote(name, safe='')}/invocations"
        query = urlencode({"Qualifier": qualifier}) if qualifier else ""
        status, headers, body = self._request("POST", path, query, payload, {"x-amz-log-type": log_type,
                                                                             "x-amz-invocation-type": invocation_type})
        if status >= 300:
            _raise(status, headers, body)
        log = headers.get("x-amz-log-result")
        return InvocationResult(status, body, headers.get("x-amz-executed-version", ""),
                                headers.get("x-amzn-requestid", ""), headers.get("x-amz-function-error"),
                                base64.b64decode(log).decode(errors="replace") if log else None,
                                log_lines=base64.b64decode(log).decode(errors="replace").splitlines() if log else [])

    def _request(self, method: str, path: str, query: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        host = f"{self.host}:{self.port}"
        base = [("host", host), *headers.items()]
        signed = sigv4.sign(sigv4.IncomingRequest(method, path, query, base, body), self.key_id, self.secret,
                            self.region, "lambda", datetime.now(timezone.utc))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=960)
        try:
            conn.request(method, f"{path}?{query}" if query else path, body, dict(base[1:] + signed))
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except OSError as exc:
            raise ServiceException(f"cannot reach the Cumulo server at {host}: {exc}") from exc
        finally:
            conn.close()


def _raise(status: int, headers: dict[str, str], body: bytes) -> None:
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {}
    error_type = headers.get("x-amzn-errortype", "ServiceException").split(":")[0]
    raise RemoteError(error_type, doc.get("message") or doc.get("Message") or body.decode(errors="replace"), status)
