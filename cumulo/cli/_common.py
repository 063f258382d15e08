"""What the ``cumulo`` command's modules share: opening the store, AWS-style errors, parsing."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click

from cumulo.errors import CumuloError

__all__ = ["EXIT_FUNCTION_ERROR", "EXIT_PLATFORM_ERROR", "open_cumulo", "server_client", "aws_errors",
           "print_json", "parse_pairs", "read_payload", "parse_since"]

EXIT_FUNCTION_ERROR = 1
EXIT_PLATFORM_ERROR = 3


def open_cumulo(ctx: click.Context) -> Any:
    """The Cumulo of ``--home``; a damaged store file, a full disk or a wrong or missing master key
    exits 3, saying which file and what to do (``store/health.py``, ``keyring.py``), instead of a traceback."""
    from cumulo.app import Cumulo
    from cumulo.keyring import KeyringError
    from cumulo.store.health import StoreDamaged, StoreFull
    from cumulo.store.schema import SchemaTooNew

    if "cumulo" not in ctx.obj:
        try:
            ctx.obj["cumulo"] = ctx.with_resource(Cumulo(home=ctx.obj["home"], **ctx.obj.get("settings", {})))
        except (StoreDamaged, StoreFull, KeyringError, SchemaTooNew) as exc:
            click.echo(f"cumulo: {exc}", err=True)
            sys.exit(EXIT_PLATFORM_ERROR)
    return ctx.obj["cumulo"]


def server_client(ctx: click.Context) -> Any:
    """A client of the server running on this store, signed with its first key; None if none runs."""
    from cumulo.api.server import ServerLock

    info = ServerLock(ctx.obj["home"]).running_server()
    if info is None:
        return None
    from cumulo.api.client import ServerClient
    from cumulo.api.keys import first_key

    c = open_cumulo(ctx)
    key, _ = first_key(c.store)
    return ServerClient(info["endpoint"], key.id, key.secret, c.arns.region)


def aws_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print platform errors the way the AWS CLI does, with exit code 3."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlite3

        from cumulo.store import health

        try:
            return fn(*args, **kwargs)
        except CumuloError as err:
            click.echo(f"An error occurred ({err.type}): {err.message}", err=True)
            sys.exit(EXIT_PLATFORM_ERROR)
        except (sqlite3.DatabaseError, OSError, health.StoreDamaged, health.StoreFull) as exc:
            ctx = click.get_current_context(silent=True)
            home = Path(ctx.obj["home"]) if ctx is not None and ctx.obj and "home" in ctx.obj else Path(".cumulo")
            fault = health.fault(exc, home)
            if fault is None:
                raise
            click.echo(f"An error occurred ({fault.type}): {fault.message}", err=True)
            sys.exit(EXIT_PLATFORM_ERROR)

    return wrapper


def print_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2))


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        key, value = pair.split("=", 1)
        env[key] = value
    return env


def read_payload(payload: str | None) -> bytes:
    if payload is None:
        return b""
    if payload.startswith("@"):
        path = Path(payload[1:])
        if not path.is_file():
            raise click.BadParameter(f"file not found: {path}", param_hint="--payload")
        return path.read_bytes()
    return payload.encode()


_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> int:
    """``10m``, ``2h``, ``1d`` ago, or an ISO-8601 instant; returns epoch milliseconds."""
    now = time.time() if now is None else now
    m = _DURATION.match(text.strip())
    if m:
        return int((now - int(m.group(1)) * _UNITS[m.group(2)]) * 1000)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r}: use a duration like 10m, 2h, 1d or an ISO-8601 time",
                                 param_hint="--since") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


