"""``ObjectIndex``'s contract, for every backend (``conftest.BACKENDS``): buckets, conditional
writes, notifications committed with the write or not at all, multipart uploads, listing order."""

from __future__ import annotations

from cumulo.store.ports import MessageStore, NewMessage, ObjectRow, PartRow

T = 1_700_000_000_000


def row(key: str, blob: str = "b", etag: str = '"e"') -> ObjectRow:
    return ObjectRow(key, blob, 1, etag, T, {"ContentType": "text/plain"})


def outbox(n: int = 1) -> list[tuple[str, NewMessage]]:
    return [("~outbox", NewMessage(f"m{i}", b"event")) for i in range(n)]


def test_buckets_exist_once_and_go_only_when_empty(messages: MessageStore) -> None:
    index = messages.objects
    assert index.create_bucket("b1", {"Name": "b1"}) is None
    assert index.create_bucket("b1", {"Name": "other"}) == {"Name": "b1"}
    assert index.put_object("b1", row("k"), T)[0] == "ok"
    assert index.delete_bucket("b1") == "not-empty"
    index.delete_object("b1", "k", T)
    assert index.create_upload("u1", "b1", "k", {}, T)
    assert index.delete_bucket("b1") == "not-empty"
    assert index.abort_upload("u1") == []
    assert index.delete_bucket("b1") == "ok"
    assert index.delete_bucket("b1") == "gone"
    assert index.put_object("b1", row("k"), T) == ("no-bucket", None)


def test_a_write_commits_its_notifications_and_a_refused_one_none(messages: MessageStore) -> None:
    index, queues = messages.objects, messages.queues
    index.create_bucket("b", {"Name": "b"})
    assert index.put_object("b", row("k", "blob1", '"1"'), T, outbox(2)) == ("ok", None)
    assert queues.counts("~outbox", T) == (2, 0, 0)
    status, old = index.put_object("b", row("k", "blob2"), T, outbox(), if_none_match=True)
    assert (status, old and old.blob) == ("exists", "blob1")
    assert index.put_object("b", row("k"), T, outbox(), if_match='"2"')[0] == "mismatch"
    assert index.put_object("b", row("nope"), T, outbox(), if_match='"2"') == ("missing", None)
    assert queues.counts("~outbox", T) == (2, 0, 0)
    status, old = index.put_object("b", row("k", "blob3"), T, outbox(), if_match='"1"')
    assert (status, old and old.blob) == ("ok", "blob1")
    assert index.delete_object("b", "absent", T, outbox()) is None
    assert index.delete_object("b", "k", T, outbox(), if_blob="blob1") is None    # replaced since: kept
    assert index.get_object("b", "k") is not None
    gone = index.delete_object("b", "k", T, outbox(), if_blob="blob3")
    assert gone is not None and gone.blob == "blob3"
    assert queues.counts("~outbox", T) == (4, 0, 0)


def test_listing_is_in_utf8_byte_order_within_the_prefix(messages: MessageStore) -> None:
    index = messages.objects
    index.create_bucket("b", {"Name": "b"})
    keys = ["a", "a/", "a/b", "a/\U0001F600", "a/\uffff", "ab", "b"]
    for key in keys:
        index.put_object("b", row(key), T)
    assert [r.key for r in index.list_objects("b", "", "", 100)] == sorted(keys, key=lambda k: k.encode())
    assert [r.key for r in index.list_objects("b", "a/", "", 100)] == ["a/", "a/b", "a/\uffff", "a/\U0001F600"]
    assert [r.key for r in index.list_objects("b", "a/", "a/b", 1)] == ["a/\uffff"]
    assert [r.key for r in index.list_objects("b", "a", "a/\U0001F600", 100)] == ["ab"]


def test_an_upload_becomes_its_object_at_once(messages: MessageStore) -> None:
    index = messages.objects
    index.create_bucket("b", {"Name": "b"})
    assert index.create_upload("u", "b", "k", {"ContentType": "x"}, T)
    assert index.get_upload("u") == ("b", "k", {"ContentType": "x"}, T)
    assert index.put_part("u", PartRow(1, "p1", 5, '"a"', T)) == (True, None)
    ok, old = index.put_part("u", PartRow(1, "p1b", 5, '"b"', T))
    assert ok and old is not None and old.blob == "p1"
    index.put_part("u", PartRow(2, "p2", 5, '"c"', T))
    assert [p.blob for p in index.list_parts("u")] == ["p1b", "p2"]
    assert index.blobs() >= {"p1b", "p2"}
    ok, replaced, parts = index.complete_upload("u", "b", row("k", "joined"), T, outbox())
    assert ok and replaced is None and sorted(p.blob for p in parts) == ["p1b", "p2"]
    assert index.get_upload("u") is None and index.put_part("u", PartRow(3, "p3", 1, '"d"', T)) == (False, None)
    assert index.complete_upload("u", "b", row("k"), T)[0] is False
    assert index.blobs() == {"joined"}
    assert messages.queues.counts("~outbox", T) == (1, 0, 0)


def test_versions_keep_their_order_markers_and_the_null_version(messages: MessageStore) -> None:
    index, queues = messages.objects, messages.queues
    index.create_bucket("b", {"Name": "b"})
    index.put_object("b", row("k", "old"), T)                                  # written unversioned: "null"
    v1 = ObjectRow("k", "v1", 1, '"1"', T, {}, "v1")
    assert index.put_object("b", v1, T, versioning="Enabled") == ("ok", None)    # "null" kept as noncurrent
    marker = ObjectRow("k", "", 0, "", T, {}, "m1", marker=True)
    assert index.put_object("b", marker, T, outbox(), versioning="Enabled") == ("ok", None)
    assert index.get_object("b", "k") is None
    assert index.get_version("b", "k", None) == ObjectRow("k", "", 0, "", T, {}, "m1", True, True)
    assert [(r.version_id, r.marker, r.latest) for r in index.list_versions("b", "", "", 10)] == \
        [("m1", True, True), ("v1", False, False), ("null", False, False)]
    assert index.delete_bucket("b") == "not-empty"
    # suspended: a write replaces the "null" version, wherever it is
    s = ObjectRow("k", "s", 1, '"s"', T, {}, "null")
    status, freed = index.put_object("b", s, T, versioning="Suspended")
    assert (status, freed and freed.blob) == ("ok", "old")
    assert index.noncurrent_since("b", "k", "m1") == T
    # removing the latest version makes the newest remaining object current again, never a marker
    removed = index.delete_version("b", "k", "null", T, outbox())
    assert removed is not None and removed.blob == "s"
    assert index.get_object("b", "k") is None and index.get_version("b", "k", None).marker    # type: ignore[union-attr]
    assert index.delete_version("b", "k", "m1", T, outbox()) is not None
    current = index.get_object("b", "k")
    assert current is not None and (current.version_id, current.blob) == ("v1", "v1")
    assert index.delete_version("b", "k", "nope", T, outbox()) is None
    assert queues.counts("~outbox", T) == (3, 0, 0)
    assert index.update_meta("b", "k", "v1", {"Tags": {"a": "1"}})
    assert index.get_version("b", "k", "v1").meta == {"Tags": {"a": "1"}}     # type: ignore[union-attr]
    assert index.blobs() >= {"v1"}
    assert index.delete_version("b", "k", "v1", T) is not None
    assert index.list_versions("b", "", "", 10) == [] and index.delete_bucket("b") == "ok"
