"""S3 lifecycle rules: the XML parser (garbage answers only S3's errors; a configuration renders
and parses back), S3's timing (Days from creation rounded up to midnight UTC; a Date), and the
housekeeper's sweep on a fake clock: what expires goes, with its notification, and nothing else."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.api import s3 as wire
from cumulo.model import s3lifecycle
from cumulo.model.objects import S3Error
from cumulo.objects.files import BodyFiles
from cumulo.objects.service import Content, ObjectService
from cumulo.outbox import OUTBOX_QUEUE
from cumulo.store.sqlite_messages import SQLiteMessageStore
from tests.unit.fakes import FakeClock

DAY = 86_400

filters = st.one_of(
    st.fixed_dictionaries({"Prefix": st.text("abc/", max_size=6)}),
    st.fixed_dictionaries({"And": st.fixed_dictionaries({"Prefix": st.text("abc/", max_size=6)}, optional={
        "ObjectSizeGreaterThan": st.integers(0, 100), "ObjectSizeLessThan": st.integers(101, 10**6)})}),
    st.fixed_dictionaries({"ObjectSizeGreaterThan": st.integers(0, 10**6)}))
actions = st.fixed_dictionaries({}, optional={
    "Expiration": st.one_of(st.fixed_dictionaries({"Days": st.integers(1, 3650)}),
                            st.fixed_dictionaries({"Date": st.just("2027-01-01T00:00:00Z")})),
    "AbortIncompleteMultipartUpload": st.fixed_dictionaries({"DaysAfterInitiation": st.integers(1, 30)}),
    "Transitions": st.just([{"Days": 30, "StorageClass": "GLACIER"}])}).filter(bool)
rules = st.lists(st.builds(lambda i, status, f, a: {"ID": f"r{i}", "Status": status, "Filter": f, **a},
                           st.integers(), st.sampled_from(["Enabled", "Disabled"]), filters, actions),
                 min_size=1, max_size=4, unique_by=lambda r: r["ID"])


@given(rules)
def test_a_configuration_renders_and_parses_back_to_itself(config: list[dict[str, Any]]) -> None:
    checked = s3lifecycle.check_rules(config)
    assert wire.parse_lifecycle(wire.render_lifecycle(checked)) == checked


@given(st.binary(max_size=200) | st.builds(
    lambda inner: f"<LifecycleConfiguration><Rule>{inner}</Rule></LifecycleConfiguration>".encode(),
    st.text(max_size=120)) | st.builds(
    lambda days, status: (f"<LifecycleConfiguration><Rule><Status>{status}</Status><Filter/><Expiration><Days>{days}"
                          "</Days></Expiration></Rule></LifecycleConfiguration>").encode(),
    st.text("0123456789-x", max_size=5), st.sampled_from(["Enabled", "Disabled", "On"])))
def test_garbage_is_refused_with_s3_errors(body: bytes) -> None:
    try:
        s3lifecycle.check_rules(wire.parse_lifecycle(body))
    except S3Error as err:
        assert err.status in (400, 501) and err.code in ("MalformedXML", "InvalidArgument", "NotImplemented")


def test_s3s_timing() -> None:
    created = int(datetime(2026, 3, 1, 15, 30, tzinfo=timezone.utc).timestamp() * 1000)
    rule = {"Status": "Enabled", "Expiration": {"Days": 1}}
    assert s3lifecycle.expires_at(rule, created) == int(datetime(2026, 3, 3, tzinfo=timezone.utc).timestamp() * 1000)
    with pytest.raises(S3Error, match="midnight GMT"):
        s3lifecycle.check_rules([{"Status": "Enabled", "Expiration": {"Date": "2027-01-01T10:00:00Z"}}])
    tagged = s3lifecycle.check_rules([{"Status": "Enabled", "Filter": {"And": {"Prefix": "a", "Tags": [
        {"Key": "k", "Value": "v"}, {"Key": "x", "Value": ""}]}}, "Expiration": {"Days": 1}}])[0]
    assert s3lifecycle.selects(tagged, "ab", 1, {"k": "v", "x": "", "other": "1"})
    assert not s3lifecycle.selects(tagged, "ab", 1, {"k": "v"}) and not s3lifecycle.selects(tagged, "ab", 1)
    assert s3lifecycle.selects({"Status": "Enabled", "Filter": {"And": {"Prefix": "logs/", "ObjectSizeLessThan": 10}}},
                               "logs/a", 9)
    assert not s3lifecycle.selects({"Status": "Enabled", "Filter": {"Prefix": "logs/"}}, "img/a", 9)
    assert not s3lifecycle.selects({"Status": "Disabled", "Filter": {}}, "a", 1)


@pytest.fixture
def world() -> Iterator[tuple[ObjectService, FakeClock, SQLiteMessageStore]]:
    home = Path(tempfile.mkdtemp())
    store = SQLiteMessageStore(home / "queues.db")
    clock = FakeClock(datetime(2026, 3, 1, 15, 30, tzinfo=timezone.utc).timestamp())
    yield ObjectService(store.objects, BodyFiles(home / "objects"), "us-east-1", "123456789012", clock), clock, store
    store.close()


def test_the_sweep_expires_what_its_rules_select_when_due(
        world: tuple[ObjectService, FakeClock, SQLiteMessageStore]) -> None:
    service, clock, store = world
    service.create_bucket("bkt")
    service.put_notification("bkt", {"QueueConfigurations": [{
        "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q", "Events": ["s3:LifecycleExpiration:*"]}]})
    store.queues.purge(OUTBOX_QUEUE)                                     # the test event
    for key in ("logs/old", "logs/big", "keep/old"):
        service.put_object("bkt", key, b"x" * (50 if key == "logs/big" else 5), Content())
    upload = service.create_upload("bkt", "logs/upload", Content())
    service.put_lifecycle("bkt", [
        {"ID": "logs", "Status": "Enabled", "Filter": {"And": {"Prefix": "logs/", "ObjectSizeLessThan": 20}},
         "Expiration": {"Days": 1}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}}])
    # created 1 March 15:30: a day later, rounded up to midnight UTC, is 3 March 00:00
    clock.wall = datetime(2026, 3, 2, 23, 59, 59, tzinfo=timezone.utc).timestamp()
    assert service.expire() == 0
    clock.wall = datetime(2026, 3, 3, tzinfo=timezone.utc).timestamp()
    assert service.expire() == 1                 # logs/old only: logs/big is too big, keep/ is disabled
    assert [o.key for o in service.list_objects("bkt").contents] == ["keep/old", "logs/big"]
    [event] = [json.loads(b) for b in store.queues.scan(OUTBOX_QUEUE)]
    record = event["Records"][0]
    assert (record["eventName"], record["s3"]["object"]["key"]) == ("LifecycleExpiration:Delete", "logs/old")
    assert service.list_uploads("bkt") != []    # initiated with the objects: due 4 March 00:00
    clock.wall = datetime(2026, 3, 4, tzinfo=timezone.utc).timestamp()
    assert service.expire() == 1 and service.list_uploads("bkt") == []
    assert upload
