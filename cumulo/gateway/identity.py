"""Identity sources: where an authorizer finds its identity in a request.

HTTP APIs name them with selection expressions: ``$request.header.Name``
(case-insensitive), ``$request.querystring.name``, ``$context.name`` and
``$stageVariables.name``. API Gateway reads every source before calling an
authorizer and answers 401 without calling it when any is missing, null or
empty. Pure.
"""

from __future__ import annotations

from typing import Any

from cumulo.gateway._request import HttpRequest, query_pairs
from cumulo.gateway.model import IDENTITY_SOURCE_RE as _SOURCE_RE

__all__ = ["identity_values"]


def identity_values(sources: tuple[str, ...], req: HttpRequest, stage_variables: dict[str, str],
                    context: dict[str, Any]) -> list[str] | None:
    """The value of each source in order, or None when one is missing or empty."""
    values = []
    for source in sources:
        m = _SOURCE_RE.match(source)
        value = _lookup(m.group(1), m.group(2), req, stage_variables, context) if m else None
        if not value:
            return None
        values.append(value)
    return values


def _lookup(kind: str, name: str, req: HttpRequest, stage_variables: dict[str, str],
            context: dict[str, Any]) -> str | None:
    if kind == "request.header":
        wanted = name.lower()
        found = [",".join(v) for k, v in req.groups.items() if k.lower() == wanted]
        return found[0] if found else None
    if kind == "request.querystring":
        found = [v for k, v in query_pairs(req.raw_query) if k == name]
        return ",".join(found) if found else None
    if kind == "stageVariables":
        return stage_variables.get(name)
    value: Any = context
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return None if value is None else str(value)
