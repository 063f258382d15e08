"""API keys, usage plans and their quotas, on a real SQLite store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cumulo.gateway.model import BadRequestException, ConflictException, NotFoundException, Throttle
from cumulo.gateway.service import ApiService
from cumulo.gateway.usage import ApiKey, Quota, UsageMeter, UsagePlanService, period_days
from cumulo.model.function import Arns
from cumulo.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "db.sqlite", Arns("us-east-1", "000000000000"))


@pytest.fixture
def plans(store: SQLiteStore) -> UsagePlanService:
    ApiService(store).create_api("shop", stages=["prod"], api_id="api1")
    return UsagePlanService(store)


def test_quota_periods() -> None:
    wednesday = date(2026, 12, 2)
    assert period_days("DAY", wednesday) == (wednesday, wednesday)
    assert period_days("WEEK", wednesday) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period_days("MONTH", wednesday) == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_days("MONTH", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))


def test_keys_have_values_of_20_characters_or_more_and_unique(plans: UsagePlanService) -> None:
    key = plans.create_key("ada")
    assert len(key.value) == 40 and plans.get_key(key.key_id) == key
    with pytest.raises(BadRequestException):
        plans.create_key("short", value="too-short")
    with pytest.raises(ConflictException):
        plans.create_key("again", value=key.value)
    plans.delete_key(key.key_id)
    with pytest.raises(NotFoundException):
        plans.get_key(key.key_id)


def test_plans_cover_existing_stages_only(plans: UsagePlanService) -> None:
    with pytest.raises(NotFoundException):
        plans.create_plan("p", [("api1", "nope")])
    with pytest.raises(NotFoundException):
        plans.create_plan("p", [("missing", "prod")])
    plan = plans.create_plan("p", [("api1", "prod")], Throttle(5, 10), Quota(100, "WEEK"))
    assert plans.get_plan(plan.plan_id) == plan and plan.covers("api1", "prod")
    with pytest.raises(BadRequestException):
        Quota(10, "YEAR")


def test_subscribing_a_key_twice_is_a_conflict_and_deleting_a_key_unsubscribes_it(plans: UsagePlanService) -> None:
    plan = plans.create_plan("p", [("api1", "prod")])
    key = plans.create_key("k")
    plans.add_plan_key(plan.plan_id, key.key_id)
    with pytest.raises(ConflictException):
        plans.add_plan_key(plan.plan_id, key.key_id)
    plans.delete_key(key.key_id)
    assert plans.get_plan(plan.plan_id).key_ids == ()


def test_the_meter_enforces_the_quota_and_survives_a_restart(store: SQLiteStore, plans: UsagePlanService) -> None:
    today = date(2026, 12, 2)
    plan = plans.create_plan("p", [("api1", "prod")], quota=Quota(3, "MONTH"))
    meter = UsageMeter(store, today=lambda: today)
    assert [meter.consume(plan, "key1") for _ in range(4)] == [True, True, True, False]
    assert meter.consume(plan, "key2")                       # quotas are per key
    meter.close()
    again = UsageMeter(store, today=lambda: date(2026, 12, 20))
    assert not again.consume(plan, "key1"), "the month's usage was written and read back"
    next_month = UsageMeter(store, today=lambda: date(2027, 1, 1))
    assert next_month.consume(plan, "key1")
    assert plans.usage(plan.plan_id, date(2026, 12, 1), date(2026, 12, 3), "key1") == {
        "key1": [[0, 3], [3, 0], [0, 0]]}


def test_usage_ranges_are_bounded(plans: UsagePlanService) -> None:
    plan = plans.create_plan("p", [("api1", "prod")])
    with pytest.raises(BadRequestException):
        plans.usage(plan.plan_id, date(2026, 1, 2), date(2026, 1, 1))


def test_api_key_names_and_values_are_checked() -> None:
    with pytest.raises(BadRequestException):
        ApiKey("id", "", "x" * 30)
    with pytest.raises(BadRequestException):
        ApiKey("id", "n", "\n" * 30)
