"""API keys and usage plans: who may call a route that requires a key, how fast, how often.

The model is API Gateway's (REST APIs'; HTTP APIs on AWS have none, Cumulo
offers it on both): an ``ApiKey`` has a secret value; a ``UsagePlan`` names
the API stages it covers, a throttle (rate and burst, per key) and a quota
(requests per DAY, WEEK or MONTH, per key), and the keys subscribed to it.

A request to a route with ``apiKeyRequired`` must carry an enabled key's value
in ``x-api-key``, and the key must be in a plan covering the API's stage, else
403 ``Forbidden``; over the plan's throttle it gets 429 ``Too Many Requests``,
over its quota 429 ``Limit Exceeded``. Usage is counted per key and UTC day
(weeks start on Monday, as ISO weeks do). ``UsageMeter`` keeps the counters in
memory for the gateway's event loop and writes them to the store every second
and on close, so a crash forgets at most one second of usage.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from cumulo.errors import ResourceNotFoundException
from cumulo.gateway.model import BadRequestException, ConflictException, HttpApi, NotFoundException, Throttle
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.store.base import Store

__all__ = ["ApiKey", "Quota", "UsagePlan", "UsageMeter", "UsagePlanService", "period_days"]

API_KEY = "apikey"
USAGE_PLAN = "usageplan"
_PERIODS = ("DAY", "WEEK", "MONTH")
_ALPHABET = string.ascii_letters + string.digits


def _id(n: int = 10) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _stamp(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    value: str
    enabled: bool = True
    description: str = ""
    created: str = ""

    def __post_init__(self) -> None:
        if not 20 <= len(self.value) <= 128 or not self.value.isascii() or not self.value.isprintable():
            raise BadRequestException("API Key value should be at least 20 characters (printable ASCII, at most 128)")
        if not 1 <= len(self.name) <= 1024:
            raise BadRequestException("API Key name must be 1-1024 characters")


@dataclass(frozen=True)
class Quota:
    limit: int
    period: str = "DAY"
    offset: int = 0

    def __post_init__(self) -> None:
        if self.period not in _PERIODS:
            raise BadRequestException(f"Quota period must be one of {', '.join(_PERIODS)}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise BadRequestException("Quota limit must be an integer >= 0")
        if self.offset != 0:
            raise BadRequestException("Quota offset is not supported; periods start at 00:00 UTC (weeks on Monday)")


@dataclass(frozen=True)
class UsagePlan:
    plan_id: str
    name: str
    api_stages: tuple[tuple[str, str], ...] = ()     # (api id, stage name)
    throttle: Throttle | None = None
    quota: Quota | None = None
    key_ids: tuple[str, ...] = ()
    description: str = ""

    def covers(self, api_id: str, stage: str) -> bool:
        return (api_id, stage) in self.api_stages

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "UsagePlan":
        return cls(d["plan_id"], d["name"], tuple(tuple(s) for s in d["api_stages"]),  # type: ignore[misc]
                   Throttle(**d["throttle"]) if d.get("throttle") else None,
                   Quota(**d["quota"]) if d.get("quota") else None, tuple(d["key_ids"]), d.get("description", ""))


def period_days(period: str, day: date) -> tuple[date, date]:
    """First and last day of the quota period holding ``day``."""
    if period == "DAY":
        return day, day
    if period == "WEEK":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


class UsageMeter:
    """Per-key request counters of usage plans, counted in memory, written behind."""

    def __init__(self, store: Store, today: Callable[[], date] = lambda: datetime.now(timezone.utc).date(),
                 flush_every_s: float = 1.0) -> None:
        self._store = store
        self._today = today
        self._period_used: dict[tuple[str, str, str], int] = {}     # (plan, key, period start) -> used
        self._pending: dict[tuple[str, str, str], int] = {}         # (plan, key, day) -> not yet written
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._every = flush_every_s

    def consume(self, plan: UsagePlan, key_id: str) -> bool:
        """Count one request, unless the plan's quota for this period is used up (False)."""
        day = self._today()
        if plan.quota is not None:
            first, last = period_days(plan.quota.period, day)
            slot = (plan.plan_id, key_id, first.isoformat())
            with self._lock:
                used = self._period_used.get(slot)
            if used is None:
                used = self._load(plan.plan_id, key_id, first, last)
            if used >= plan.quota.limit:
                return False
            with self._lock:
                self._period_used[slot] = used + 1
        with self._lock:
            pending = (plan.plan_id, key_id, day.isoformat())
            self._pending[pending] = self._pending.get(pending, 0) + 1
        self._start()
        return True

    def _load(self, plan_id: str, key_id: str, first: date, last: date) -> int:
        stored = sum(used for _, _, used in self._store.get_usage(plan_id, first.isoformat(), last.isoformat(), key_id))
        with self._lock:
            pending = sum(n for (p, k, d), n in self._pending.items()
                          if p == plan_id and k == key_id and first.isoformat() <= d <= last.isoformat())
        return stored + pending

    def flush(self) -> None:
        with self._lock:
            rows, self._pending = self._pending, {}
        if rows:
            self._store.add_usage((p, k, d, n) for (p, k, d), n in rows.items())

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cumulo-usage", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()


class UsagePlanService:
    """API keys and usage plans in the store (the control side; the gateway reads them)."""

    def __init__(self, store: Store, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._clock = clock     # createdDate

    # -- API keys ---------------------------------------------------------------
    def create_key(self, name: str, value: str | None = None, enabled: bool = True, description: str = "",
                   key_id: str | None = None) -> ApiKey:
        """``key_id``: the id a template's key is given (the same on each deploy of the stack); else a new one."""
        value = value or "".join(secrets.choice(_ALPHABET) for _ in range(40))
        if any(k.value == value for k in self.list_keys()):
            raise ConflictException("API Key value already exists")
        key = ApiKey(key_id or _id(), name, value, enabled, description, _stamp(self._clock.now()))
        self._store.put_document(API_KEY, key.key_id, dataclasses.asdict(key))
        return key

    def get_key(self, key_id: str) -> ApiKey:
        doc = self._store.get_document(API_KEY, key_id)
        if doc is None:
            raise NotFoundException("Invalid API Key identifier specified")
        return ApiKey(**doc)

    def list_keys(self) -> list[ApiKey]:
        return [ApiKey(**d) for d in self._store.list_documents(API_KEY)]

    def update_key(self, key_id: str, **changes: Any) -> ApiKey:
        key = dataclasses.replace(self.get_key(key_id), **changes)
        self._store.put_document(API_KEY, key_id, dataclasses.asdict(key))
        return key

    def delete_key(self, key_id: str) -> None:
        self.get_key(key_id)
        for plan in self.list_plans():
            if key_id in plan.key_ids:
                self._save(dataclasses.replace(plan, key_ids=tuple(k for k in plan.key_ids if k != key_id)))
        self._store.delete_document(API_KEY, key_id)

    # -- usage plans -------------------------------------------------------------
    def create_plan(self, name: str, api_stages: list[tuple[str, str]] | None = None, throttle: Throttle | None = None,
                    quota: Quota | None = None, description: str = "", plan_id: str | None = None) -> UsagePlan:
        """``plan_id``: the id a template's plan is given (the same on each deploy of the stack); else a new one."""
        if not name:
            raise BadRequestException("Usage plan name is required")
        for api_id, stage in api_stages or []:
            self._check_stage(api_id, stage)
        plan = UsagePlan(plan_id or _id(6), name, tuple(api_stages or ()), throttle, quota, (), description)
        self._save(plan)
        return plan

    def _check_stage(self, api_id: str, stage: str) -> None:
        try:
            api = HttpApi.from_dict(self._store.get_api(api_id))
        except ResourceNotFoundException:
            raise NotFoundException(f"Invalid API identifier specified {api_id}") from None
        if api.stage(stage) is None:
            raise NotFoundException(f"Invalid stage identifier specified: {api_id}/{stage}")

    def get_plan(self, plan_id: str) -> UsagePlan:
        doc = self._store.get_document(USAGE_PLAN, plan_id)
        if doc is None:
            raise NotFoundException(f"Invalid Usage Plan ID specified: {plan_id}")
        return UsagePlan.from_dict(doc)

    def list_plans(self) -> list[UsagePlan]:
        return [UsagePlan.from_dict(d) for d in self._store.list_documents(USAGE_PLAN)]

    def update_plan(self, plan_id: str, **changes: Any) -> UsagePlan:
        plan = self.get_plan(plan_id)
        for api_id, stage in set(changes.get("api_stages", ())) - set(plan.api_stages):
            self._check_stage(api_id, stage)
        updated = dataclasses.replace(plan, **changes)
        self._save(updated)
        return updated

    def delete_plan(self, plan_id: str) -> None:
        self.get_plan(plan_id)
        self._store.delete_document(USAGE_PLAN, plan_id)

    def add_plan_key(self, plan_id: str, key_id: str) -> ApiKey:
        plan, key = self.get_plan(plan_id), self.get_key(key_id)
        if key_id in plan.key_ids:
            raise ConflictException(f"Usage Plan {plan_id} already has API Key {key_id}")
        self._save(dataclasses.replace(plan, key_ids=(*plan.key_ids, key_id)))
        return key

    def remove_plan_key(self, plan_id: str, key_id: str) -> None:
        plan = self.get_plan(plan_id)
        if key_id not in plan.key_ids:
            raise NotFoundException(f"Invalid API Key identifier specified: {key_id}")
        self._save(dataclasses.replace(plan, key_ids=tuple(k for k in plan.key_ids if k != key_id)))

    def usage(self, plan_id: str, first_day: date, last_day: date, key_id: str | None = None) -> dict[str, list[list[int]]]:
        """Per key, ``[used, remaining]`` for each day of the range (GetUsage's ``items``)."""
        plan = self.get_plan(plan_id)
        if last_day < first_day or (last_day - first_day).days > 90:
            raise BadRequestException("The usage data range must be 1-90 days, with startDate before endDate")
        rows = self._store.get_usage(plan_id, first_day.isoformat(), last_day.isoformat(), key_id)
        used = {(k, d): n for k, d, n in rows}
        keys = [key_id] if key_id else list(plan.key_ids)
        items = {}
        for key in keys:
            series = []
            day = first_day
            while day <= last_day:
                n = used.get((key, day.isoformat()), 0)
                remaining = -1
                if plan.quota is not None:
                    first, last = period_days(plan.quota.period, day)
                    so_far = sum(v for (k, d), v in used.items() if k == key and first.isoformat() <= d <= day.isoformat())
                    remaining = max(0, plan.quota.limit - so_far)
                series.append([n, remaining])
                day += timedelta(days=1)
            items[key] = series
        return items

    def _save(self, plan: UsagePlan) -> None:
        self._store.put_document(USAGE_PLAN, plan.plan_id, plan.to_dict())
