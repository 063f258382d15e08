"""Settings of one Cumulo installation, with their environment-variable overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from cumulo.model import limits

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(".cumulo"))
    region: str = "us-east-1"
    account_id: str = "000000000000"
    account_concurrency: int = limits.ACCOUNT_CONCURRENCY_DEFAULT
    unreserved_min: int = limits.UNRESERVED_MIN_DEFAULT
    idle_timeout_s: float = 300.0       # AWS keeps idle environments for minutes, not seconds
    environment_max_age_s: float = 6 * 3600.0   # environments and templates retire by this age (their role's
                                                # credentials, valid >= 11 h when given, never expire in them)
    init_timeout_s: float = 10.0        # an on-demand environment's Init phase, at most (AWS: 10 s)
    shutdown_grace_s: float = 2.0
    sandbox: str = "auto"               # auto | namespace | process
    memory_limit: str = "auto"          # auto | cgroup | rlimit: how a function's memory size is enforced
    no_network: bool = False            # environments without network (namespace level only)
    sync_payload_max: int = limits.SYNC_PAYLOAD_MAX
    async_payload_max: int = limits.ASYNC_PAYLOAD_MAX
    async_workers: int = 16             # asynchronous events run at once (by this process)
    async_retry_delay_s: float = 60.0   # before a failed event's 2nd attempt; twice that before the 3rd
    async_throttle_backoff_s: float = 1.0   # first delay after a throttle, doubling up to 5 minutes
    events_retry_base_s: float = 1.0    # first delay before retrying a failed event-bus delivery (doubling, up to 60 s)
    snapstart: bool = True              # fork templates (SnapStart) where configurations and the sandbox allow
    template_budget_mb: float = 1024.0  # total PSS of templates; least recently used ones retire above it
    burst_wait: bool = True             # no idle environment: wait up to one cold start's time for a release first
    max_starting: int = -1              # cold starts begun at once (the pool's start gate); -1: twice the CPUs; 0: no gate
    cpu_split: bool = False             # `cumulo up`: its threads on one CPU, environments on the others
    spin_us: int = 500                  # a lone invocation's caller and environment poll this long before sleeping (0: never)
    store: str = ""                     # "": SQLite files under home; postgresql://…: a database shared by nodes
    durability: str = "normal"          # normal: survives kill -9 of the server; full: also power loss (fsync)
    log_retention_days: int = 30        # log groups nobody configured (a function's): events older go; 0 keeps them
    master_key_file: str = ""          # the store's master key (docs/secrets.md); "": <home>/master.key
    metrics: bool = True                # record Lambda's and the services' metrics (docs/metrics.md)
    metrics_interval_s: float = 60.0    # flush recorded metrics to the store and evaluate alarms this often
    otlp_endpoint: str = ""             # an OpenTelemetry collector's OTLP/HTTP URL: traces are exported there
    iam: str = "enforce"                # role sessions' requests: enforce | audit (allow, log denials) | off
    # `cumulo up`'s HTTP ports (control plane and gateway, each): what one client may hold (edge/server.py)
    http_max_connections: int = 0       # more are answered 503 and closed; 0: 1,024 or 1/4 of the fd limit
    http_header_timeout_s: float = 20.0     # a request's head must arrive whole within this (408)
    http_body_timeout_s: float = 20.0       # each such window must bring http_body_min_rate bytes/s of body (408)
    http_body_min_rate: int = 4096
    http_max_buffered_mb: int = 256     # bodies still arriving, all connections of a port (503 over it)
    # WebSocket APIs' connections on the gateway (API Gateway's limits: docs/gateway.md)
    websocket_idle_timeout_s: float = 600.0     # closed (1001) after this long without a frame from the client
    websocket_max_duration_s: float = 7200.0    # ... and this long after it opened

    def __post_init__(self) -> None:
        # The one place a relative home is resolved: environments change into their code
        # folder, and a relative path resolved again there names another store.
        object.__setattr__(self, "home", Path(self.home).expanduser().absolute())

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then ``CUMULO_<FIELD>`` variables, then explicit overrides."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"CUMULO_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def db_path(self) -> Path:
        return self.home / "cumulo.db"

    @property
    def messages_path(self) -> Path:
        return self.home / "queues.db"

    @property
    def code_dir(self) -> Path:
        return self.home / "code"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"


def _parse(kind: object, raw: str) -> object:
    kind = str(kind)
    if "bool" in kind:
        return raw.lower() in ("1", "true", "yes", "on")
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    return raw
