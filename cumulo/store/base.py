"""The durable state of Cumulo behind one interface.

SQLite is the embedded default; PostgreSQL (scale-out) implements the same
``Store`` protocol. Every method is a single transaction: callers never hold a
transaction open across calls. Implementations are safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

from cumulo.model.function import FunctionConfiguration

__all__ = ["FunctionRecord", "LogRecord", "Store"]


@dataclass(frozen=True)
class FunctionRecord:
    """A function: its mutable ``$LATEST`` plus function-wide settings."""

    latest: FunctionConfiguration
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class LogRecord:
    """One line of a function's log, as CloudWatch keeps it."""

    function: str
    version: str
    stream: str
    request_id: str | None
    timestamp_ms: int
    message: str
    id: int = 0


class Store(Protocol):
    # functions ($LATEST)
    def create_function(self, config: FunctionConfiguration) -> None: ...
    def get_function(self, name: str) -> FunctionRecord: ...
    def list_functions(self) -> list[FunctionRecord]: ...
    def update_latest(self, config: FunctionConfiguration, expected_revision: str | None = None) -> None: ...
    def delete_function(self, name: str) -> None: ...
    # versions
    def publish_version(self, name: str, description: str | None, revision_id: str, now: str,
                        expected_revision: str | None = None) -> FunctionConfiguration: ...
    def get_version(self, name: str, version: str) -> FunctionConfiguration: ...
    def list_versions(self, name: str) -> list[FunctionConfiguration]: ...
    def delete_version(self, name: str, version: str) -> None: ...
    # concurrency settings
    def set_reserved_concurrency(self, name: str, value: int | None) -> None: ...
    def set_provisioned_concurrency(self, name: str, qualifier: str, value: int | None) -> None: ...
    def get_provisioned_concurrency(self, name: str, qualifier: str) -> int | None: ...
    def list_provisioned_concurrency(self) -> list[tuple[str, str, int]]: ...
    # code blobs in use
    def code_in_use(self, code_hex: str) -> bool: ...
    # logs
    def append_logs(self, records: Iterable[LogRecord]) -> None: ...
    def query_logs(self, function: str, since_ms: int = 0, after_id: int = 0, limit: int = 10_000,
                   request_id: str | None = None) -> list[LogRecord]: ...
    def close(self) -> None: ...
