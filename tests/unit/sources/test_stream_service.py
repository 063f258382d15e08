"""The stream service's timing on a fake clock: iterators last five minutes, records last the
stream's retention, MillisBehindLatest and the creation time are the clock's. The records are kept
in a real message store (SQLite, in a temporary folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from cumulo.sources.housekeeping import Housekeeper
from cumulo.sources.streams import ExpiredIteratorException, StreamService
from cumulo.store.sqlite_messages import SQLiteMessageStore

from ..fakes import FakeClock

SHARD = "shardId-000000000000"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMessageStore]:
    s = SQLiteMessageStore(tmp_path / "queues.db")
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def streams(store: SQLiteMessageStore, clock: FakeClock) -> StreamService:
    return StreamService(store.streams, "us-east-1", "000000000000", clock)


def data(streams: StreamService, iterator: str) -> list[bytes]:
    return [r["Data"] for r in streams.get_records(iterator)["Records"]]


def test_an_iterator_lasts_five_minutes(streams: StreamService, clock: FakeClock) -> None:
    streams.create_stream("s")
    streams.put_record("s", b"a", "k")
    iterator = streams.get_shard_iterator(SHARD, "TRIM_HORIZON", "s")
    clock.advance(299.999)
    assert data(streams, iterator) == [b"a"]
    clock.advance(0.002)
    with pytest.raises(ExpiredIteratorException):
        streams.get_records(iterator)


def test_the_next_iterator_is_new_when_it_is_given(streams: StreamService, clock: FakeClock) -> None:
    streams.create_stream("s")
    iterator = streams.get_shard_iterator(SHARD, "LATEST", "s")
    clock.advance(200)
    following = streams.get_records(iterator)["NextShardIterator"]
    streams.put_record("s", b"b", "k")
    clock.advance(200)                                   # 400 s after the first, 200 s after this one
    assert data(streams, following) == [b"b"]


def test_millis_behind_latest_is_the_age_of_the_last_record_read(streams: StreamService, clock: FakeClock) -> None:
    streams.create_stream("s")
    streams.put_record("s", b"a", "k")
    clock.advance(2)
    streams.put_record("s", b"b", "k")
    clock.advance(7.5)
    answer = streams.get_records(streams.get_shard_iterator(SHARD, "TRIM_HORIZON", "s"), 1)
    assert answer["MillisBehindLatest"] == 9_500
    assert streams.get_records(answer["NextShardIterator"])["MillisBehindLatest"] == 0     # caught up


def test_records_past_the_stream_s_retention_are_not_read_and_are_swept(
        store: SQLiteMessageStore, streams: StreamService, clock: FakeClock) -> None:
    streams.create_stream("s", retention_hours=24)
    streams.put_record("s", b"old", "k")
    clock.advance(3_600)
    streams.put_record("s", b"new", "k")
    clock.advance(23 * 3_600)                                       # "old" is 24 hours old
    assert data(streams, streams.get_shard_iterator(SHARD, "TRIM_HORIZON", "s")) == [b"old", b"new"]
    clock.advance(0.001)
    assert data(streams, streams.get_shard_iterator(SHARD, "TRIM_HORIZON", "s")) == [b"new"]
    assert Housekeeper([streams.sweep]).sweep() == 1
    assert streams.put_record("s", b"newer", "k")["SequenceNumber"].endswith("3")   # numbering goes on


def test_the_creation_time_is_the_clock_s(streams: StreamService, clock: FakeClock) -> None:
    streams.create_stream("s")
    assert streams.describe_stream_summary("s")["StreamCreationTimestamp"] == clock.now()
