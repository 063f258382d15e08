"""Cumulo's ``snapshot_restore_py``: SnapStart runtime hooks, importable in every Python environment.

AWS's Python runtimes make the open-source ``snapshot-restore-py`` package importable without
bundling it; Cumulo does the same with this module of the same API (written here, not copied):

    from snapshot_restore_py import register_before_snapshot, register_after_restore

    @register_before_snapshot          # decorator form: no arguments
    def close_pool(): ...

    register_after_restore(reconnect, "db", retries=3)   # call form: func, *args, **kwargs

Before-snapshot hooks run in the template after Init, in the reverse order of registration;
after-restore hooks run in each environment forked from it, before its first invocation, in the
order of registration (AWS's documented order). Both forms return ``func`` unchanged.
Standard library only, and nothing at import time: user code pays for it in every Init.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

__all__ = ["register_before_snapshot", "register_after_restore", "get_before_snapshot", "get_after_restore"]

F = TypeVar("F", bound=Callable[..., Any])
Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []


def register_before_snapshot(func: F, *args: Any, **kwargs: Any) -> F:
    """Run ``func(*args, **kwargs)`` before the environment is snapshotted (templated)."""
    _before_snapshot.append((_callable(func), args, kwargs))
    return func


def register_after_restore(func: F, *args: Any, **kwargs: Any) -> F:
    """Run ``func(*args, **kwargs)`` in each environment restored (forked) from the snapshot."""
    _after_restore.append((_callable(func), args, kwargs))
    return func


def get_before_snapshot() -> list[Hook]:
    """The before-snapshot hooks in the order they run (reverse registration)."""
    return list(reversed(_before_snapshot))


def get_after_restore() -> list[Hook]:
    """The after-restore hooks in the order they run (registration)."""
    return list(_after_restore)


def _callable(func: Any) -> Callable[..., Any]:
    if not callable(func):
        raise TypeError(f"a runtime hook must be callable, not {type(func).__name__}")
    return func
