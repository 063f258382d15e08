"""The console's HTML: every value is escaped unless it is ``Safe`` (markup this package made).

``render(template, **values)`` fills ``{name}`` slots; a value that is not ``Safe`` goes through
``html.escape`` (quotes too, so it is safe inside attributes). Lists of fragments are joined with
``join``. There is no other way to put text on a page, so a function name, a log line or a payload
is always text, never markup (tests/unit/test_console_html.py tries hostile strings).
"""

from __future__ import annotations

import html
from typing import Any, Iterable
from urllib.parse import quote, urlencode

__all__ = ["Safe", "esc", "render", "join", "url", "page"]


class Safe(str):
    """Markup made by the console's own templates."""


def esc(value: Any) -> Safe:
    """``value`` as text in HTML (element content or a quoted attribute)."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if value is None else str(value), quote=True))


class _Escaping(dict):     # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        raise KeyError(f"template slot {{{key}}} has no value")


def render(template: str, **values: Any) -> Safe:
    """``template`` (a literal of this package) with each ``{slot}`` filled by its escaped value."""
    return Safe(template.format_map(_Escaping({k: esc(v) for k, v in values.items()})))


def join(parts: Iterable[Safe], sep: str = "") -> Safe:
    out = []
    for part in parts:
        if not isinstance(part, Safe):
            part = esc(part)
        out.append(part)
    return Safe(sep.join(out))


def url(*segments: str, **params: Any) -> str:
    """A console path from segments (each percent-encoded whole: ARNs' ':' and '/' included) and
    query parameters; still to be escaped where it is put in an attribute (``render`` does)."""
    path = "/" + "/".join(quote(str(s), safe="") for s in segments)
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(query) if query else "")


_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Cumulo</title><link rel="stylesheet" href="/static/console.css">
<script src="/static/console.js" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Sections"><strong class="brand">Cumulo</strong>
<a href="/functions"{f}>Functions</a><a href="/logs"{l}>Logs</a><a href="/states"{s}>State machines</a>
<a href="/queues"{q}>Queues</a><a href="/buses"{b}>Buses</a><a href="/streams"{k}>Streams</a>
<a href="/tables"{t}>Tables</a><a href="/apis"{a}>APIs</a><a href="/metrics"{m}>Metrics</a>
<a href="/stacks"{d}>Stacks</a>{logout}</nav></header>
<main id="main"><h1>{title}</h1>{flash}{body}</main></body></html>"""


def page(title: str, body: Safe, section: str = "", csrf: str = "", flash: Safe | None = None,
         logout: bool = True) -> bytes:
    current = {k: Safe(' aria-current="page"') if k == section else Safe("") for k in "flsqbktamd"}
    out = render("<form method=\"post\" action=\"/logout\" class=\"logout\">"
                 "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button>Log out</button></form>",
                 csrf=csrf) if logout and csrf else Safe("")
    return render(_LAYOUT, title=title, body=body, flash=flash or Safe(""), logout=out, **current).encode()
