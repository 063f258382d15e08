"""``StreamRecords``' contract, for every backend (``conftest.BACKENDS``): streams' documents,
records numbered per shard, reads, trims that never restart a shard's numbering, checkpoints."""

from __future__ import annotations

from cumulo.store.ports import MessageStore

T = 1_700_000_000_000


def test_a_stream_is_created_once_and_its_document_read_listed_and_deleted(messages: MessageStore) -> None:
    s = messages.streams
    assert s.get_stream("b") is None and s.list_streams() == []
    assert s.create_stream("b", {"name": "b", "shards": 2})
    assert not s.create_stream("b", {"name": "b", "shards": 9})
    s.create_stream("a", {"name": "a"})
    assert s.get_stream("b") == {"name": "b", "shards": 2}
    assert [d["name"] for d in s.list_streams()] == ["a", "b"]
    s.put_records("b", [(0, "k", b"r")], T)
    assert s.delete_stream("b") and not s.delete_stream("b")
    assert s.get_stream("b") is None and s.read_records("b", 0, 0, 10) == []


def test_records_count_up_per_shard_and_read_in_order_after_a_seq(messages: MessageStore) -> None:
    s = messages.streams
    assert s.put_records("s", [(0, "a", b"1"), (1, "b", b"2"), (0, "c", b"3")], T) == [1, 1, 2]
    assert s.put_records("s", [(0, "d", b"4")], T + 5) == [3]
    assert s.put_records("other", [(0, "e", b"5")], T) == [1]
    assert s.read_records("s", 0, 0, 10) == [(1, "a", b"1", T), (2, "c", b"3", T), (3, "d", b"4", T + 5)]
    assert s.read_records("s", 0, 1, 1) == [(2, "c", b"3", T)]
    assert s.read_records("s", 0, 3, 10) == [] and s.read_records("s", 1, 0, 10) == [(1, "b", b"2", T)]
    assert s.shard_bounds("s", 0) == (1, 3) and s.shard_bounds("s", 7) == (0, 0)


def test_seq_at_a_time_is_the_one_before_the_first_record_that_arrived_then(messages: MessageStore) -> None:
    s = messages.streams
    s.put_records("s", [(0, "k", b"1")], T)
    s.put_records("s", [(0, "k", b"2")], T + 10)
    s.put_records("s", [(0, "k", b"3")], T + 20)
    assert [s.seq_at("s", 0, t) for t in (T - 1, T, T + 5, T + 10, T + 20, T + 21)] == [0, 0, 1, 1, 2, 3]
    assert s.seq_at("s", 1, T) == 0


def test_a_trim_keeps_each_shards_newest_record_so_its_numbering_never_restarts(messages: MessageStore) -> None:
    s = messages.streams
    s.put_records("s", [(0, "k", b"1"), (0, "k", b"2"), (1, "k", b"3")], T)
    s.put_records("s", [(0, "k", b"4")], T + 100)
    s.put_records("other", [(0, "k", b"5")], T)
    assert s.trim_records("s", T + 100) == 2                       # shard 0's first two; shard 1's only one stays
    assert s.shard_bounds("s", 0) == (3, 3) and s.shard_bounds("s", 1) == (1, 1)
    assert s.trim_records("s", T + 1_000) == 0
    assert s.put_records("s", [(0, "k", b"6")], T + 2_000) == [4]
    assert s.shard_bounds("other", 0) == (1, 1)


def test_checkpoints_are_kept_per_consumer_and_shard(messages: MessageStore) -> None:
    s = messages.streams
    assert s.get_checkpoint("m1", "0:0") is None
    s.set_checkpoint("m1", "0:0", 5)
    s.set_checkpoint("m1", "0:0", 7)
    s.set_checkpoint("m1", "1:0", 2)
    s.set_checkpoint("m2", "0:0", 9)
    assert (s.get_checkpoint("m1", "0:0"), s.get_checkpoint("m1", "1:0"), s.get_checkpoint("m2", "0:0")) == (7, 2, 9)
    s.delete_checkpoints("m1")
    assert (s.get_checkpoint("m1", "0:0"), s.get_checkpoint("m1", "1:0"),
            s.get_checkpoint("m2", "0:0")) == (None, None, 9)
