"""S3 versioning against a model of S3's documented rules, on both store backends' SQL (SQLite
here; the contract tests run PostgreSQL): any sequence of puts, deletes, deletes of one version,
enabling and suspending leaves the versions ListObjectVersions answers — their order, ids, delete
markers, ``IsLatest``, the ``null`` version — and what GetObject reads, exactly as the model says;
every page split of the listing (markers, prefixes, delimiters) adds up to the whole. Also:
lifecycle's noncurrent-version expiration on a fake clock, object tags' limits, and a store of the
schema before versioning upgrading in place."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cumulo.api import s3 as wire
from cumulo.model.objects import S3Error
from cumulo.objects.files import BodyFiles
from cumulo.objects.service import Content, ObjectService
from cumulo.outbox import OUTBOX_QUEUE
from cumulo.store.schema import MESSAGES_VERSION
from cumulo.store.sqlite_messages import SQLiteMessageStore
from tests.unit.fakes import FakeClock

KEYS = ["a", "a/b", "a/c/d", "b", "c/"]


@dataclass
class V:
    vid: str
    marker: bool
    body: bytes = b""


class Versioning(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp())
        self.store = SQLiteMessageStore(self.home / "queues.db")
        self.files = BodyFiles(self.home / "objects")
        self.service = ObjectService(self.store.objects, self.files, "us-east-1", "123456789012")
        self.service.create_bucket("bkt")
        self.mode = ""
        self.model: dict[str, list[V]] = {}         # oldest first
        self.n = 0

    def teardown(self) -> None:
        self.store.close()

    def _drop_null(self, key: str) -> None:
        self.model[key] = [v for v in self.model.get(key, []) if v.vid != "null"]

    @rule(key=st.sampled_from(KEYS))
    def put(self, key: str) -> None:
        self.n += 1
        body = f"body {self.n}".encode()
        row = self.service.put_object("bkt", key, body, Content())
        if self.mode == "":
            assert row.version_id == "null"
            self.model[key] = [V("null", False, body)]
        elif self.mode == "Enabled":
            assert row.version_id != "null" and row.version_id not in {v.vid for v in self.model.get(key, [])}
            self.model.setdefault(key, []).append(V(row.version_id, False, body))
        else:
            assert row.version_id == "null"
            self._drop_null(key)
            self.model[key].append(V("null", False, body))

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key: str) -> None:
        done = self.service.delete_object("bkt", key)
        if self.mode == "":
            assert done.version_id is None and not done.marker
            self.model.pop(key, None)
            return
        assert done.marker
        if self.mode == "Suspended":
            assert done.version_id == "null"
            self._drop_null(key)
        self.model.setdefault(key, []).append(V(str(done.version_id), True))

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data())
    def delete_version(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(k for k, vs in self.model.items() if vs)))
        version = data.draw(st.sampled_from(self.model[key]))
        done = self.service.delete_object("bkt", key, version_id=version.vid)
        assert (done.version_id, done.marker) == (version.vid, version.marker)
        self.model[key].remove(version)

    @rule(status=st.sampled_from(["Enabled", "Suspended"]))
    def set_versioning(self, status: str) -> None:
        self.service.put_versioning("bkt", status)
        self.mode = status

    def expected(self) -> list[tuple[str, str, bool, bool]]:
        return [(key, v.vid, v.marker, i == 0) for key in sorted(self.model, key=lambda k: k.encode())
                for i, v in enumerate(reversed(self.model[key]))]

    @invariant()
    def listing_and_reads_agree_with_the_model(self) -> None:
        listing = self.service.list_versions("bkt")
        assert not listing.truncated
        got = [(r.key, r.version_id, r.marker, r.latest) for r in listing.entries if not isinstance(r, str)]
        assert got == self.expected()
        for key in KEYS:
            versions = self.model.get(key, [])
            if versions and not versions[-1].marker:
                row, f = self.service.open("bkt", key)
                with f:
                    assert (row.version_id, f.read()) == (versions[-1].vid, versions[-1].body)
            else:
                with pytest.raises(S3Error) as caught:
                    self.service.head("bkt", key)
                assert caught.value.code == "NoSuchKey"
                assert dict(caught.value.headers).get("x-amz-delete-marker") == ("true" if versions else None)
            for v in versions:
                if v.marker:
                    with pytest.raises(S3Error) as caught:
                        self.service.head("bkt", key, v.vid)
                    assert (caught.value.code, caught.value.status) == ("MethodNotAllowed", 405)
                else:
                    row, f = self.service.open("bkt", key, v.vid)
                    with f:
                        assert f.read() == v.body
        # the current objects are the latest versions that are not delete markers
        assert [o.key for o in self.service.list_objects("bkt").contents] == \
            sorted((k for k, vs in self.model.items() if vs and not vs[-1].marker), key=lambda k: k.encode())

    @invariant()
    def every_page_split_adds_up_to_the_whole(self) -> None:
        for delimiter, prefix in (("", ""), ("/", ""), ("/", "a/")):
            whole = self.service.list_versions("bkt", prefix, delimiter).entries
            for size in (1, 2, 3):
                pages: list[Any] = []
                key_marker, version_marker = "", ""
                for _ in range(100):
                    page = self.service.list_versions("bkt", prefix, delimiter, size, key_marker, version_marker)
                    assert len(page.entries) <= size
                    pages += page.entries
                    if not page.truncated:
                        break
                    key_marker, next_version = page.next_markers()
                    version_marker = next_version or ""
                assert pages == whole

    @invariant()
    def no_file_is_kept_that_no_version_names(self) -> None:
        named = {r.blob for r in self.service.list_versions("bkt").entries if not isinstance(r, str) and not r.marker}
        on_disk = {p.name for p in self.files.root.glob("??/*")}
        assert on_disk == named
        assert self.service.sweep() == 0        # a restart's sweep keeps every version's file


TestVersioning = Versioning.TestCase
TestVersioning.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


@pytest.fixture
def world() -> Iterator[tuple[ObjectService, FakeClock, SQLiteMessageStore]]:
    home = Path(tempfile.mkdtemp())
    store = SQLiteMessageStore(home / "queues.db")
    clock = FakeClock(datetime(2026, 3, 1, 15, 30, tzinfo=timezone.utc).timestamp())
    yield ObjectService(store.objects, BodyFiles(home / "objects"), "us-east-1", "123456789012", clock), clock, store
    store.close()


def test_noncurrent_versions_expire_days_after_they_stopped_being_current(
        world: tuple[ObjectService, FakeClock, SQLiteMessageStore]) -> None:
    service, clock, store = world
    service.create_bucket("bkt")
    service.put_versioning("bkt", "Enabled")
    service.put_notification("bkt", {"QueueConfigurations": [{
        "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q", "Events": ["s3:LifecycleExpiration:*"]}]})
    store.queues.purge(OUTBOX_QUEUE)
    first = service.put_object("bkt", "doc", b"1", Content())
    clock.wall = datetime(2026, 3, 2, 10, tzinfo=timezone.utc).timestamp()
    second = service.put_object("bkt", "doc", b"2", Content())          # first: noncurrent from 2 March 10:00
    clock.wall = datetime(2026, 3, 3, 10, tzinfo=timezone.utc).timestamp()
    third = service.put_object("bkt", "doc", b"3", Content())           # second: noncurrent from 3 March
    service.delete_object("bkt", "gone")                                 # a delete marker alone
    service.put_lifecycle("bkt", [{"ID": "old", "Status": "Enabled", "Filter": {},
                                   "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
                                  {"ID": "markers", "Status": "Enabled", "Filter": {},
                                   "Expiration": {"ExpiredObjectDeleteMarker": True}}])
    store.queues.purge(OUTBOX_QUEUE)
    clock.wall = datetime(2026, 3, 3, 23, 59, tzinfo=timezone.utc).timestamp()
    assert service.expire() == 1                                          # the lone marker only
    # 2 March 10:00 + 1 day, rounded up to midnight: 4 March 00:00
    clock.wall = datetime(2026, 3, 4, tzinfo=timezone.utc).timestamp()
    assert service.expire() == 1
    assert [r.version_id for r in service.list_versions("bkt").entries if not isinstance(r, str)] == \
        [third.version_id, second.version_id]
    clock.wall = datetime(2026, 3, 5, tzinfo=timezone.utc).timestamp()
    assert service.expire() == 1
    assert [r.version_id for r in service.list_versions("bkt").entries if not isinstance(r, str)] == \
        [third.version_id]
    events = [json.loads(b)["Records"][0] for b in store.queues.scan(OUTBOX_QUEUE)]
    assert [(e["eventName"], e["s3"]["object"].get("versionId")) for e in events if e["s3"]["object"]["key"] == "doc"] \
        == [("LifecycleExpiration:Delete", first.version_id), ("LifecycleExpiration:Delete", second.version_id)]


def test_expiration_in_a_versioned_bucket_puts_a_delete_marker_on_top(
        world: tuple[ObjectService, FakeClock, SQLiteMessageStore]) -> None:
    service, clock, _ = world
    service.create_bucket("bkt")
    service.put_versioning("bkt", "Enabled")
    kept = service.put_object("bkt", "log", b"x", Content())
    service.put_lifecycle("bkt", [{"ID": "e", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}])
    clock.wall = datetime(2026, 3, 3, tzinfo=timezone.utc).timestamp()
    assert service.expire() == 1
    [marker, version] = service.list_versions("bkt").entries
    assert not isinstance(marker, str) and not isinstance(version, str)
    assert (marker.marker, marker.latest, version.version_id, version.latest) == (True, True, kept.version_id, False)
    assert service.expire() == 0                                          # nothing current left to expire


_TEXT = st.characters(blacklist_categories=("Cs", "Cc"))     # what XML can carry


@given(st.dictionaries(st.text(_TEXT, min_size=1, max_size=130), st.text(_TEXT, max_size=260), max_size=12))
def test_object_tags_are_held_to_s3s_limits(tags: dict[str, str]) -> None:
    valid = len(tags) <= 10 and all(0 < len(k) <= 128 and not k.startswith("aws:") and len(v) <= 256
                                    for k, v in tags.items())
    body = ("<Tagging><TagSet>" + "".join(
        f"<Tag><Key>{wire._xml_text(k)}</Key><Value>{wire._xml_text(v)}</Value></Tag>" for k, v in tags.items())
        + "</TagSet></Tagging>").encode()
    header = "&".join(f"{wire.quote(k, safe='')}={wire.quote(v, safe='')}" for k, v in tags.items())
    for parse in (lambda: wire.parse_tagging(body, object_tags=True), lambda: wire.parse_tag_header(header)):
        try:
            parsed = parse()
        except S3Error as err:
            assert not valid and err.status == 400 and err.code in ("InvalidTag", "BadRequest", "MalformedXML")
        else:
            assert valid and parsed == tags


@given(st.text(max_size=80))
def test_any_tag_header_parses_or_is_refused_with_s3s_errors(header: str) -> None:
    try:
        tags = wire.parse_tag_header(header)
    except S3Error as err:
        assert err.status == 400 and err.code in ("InvalidTag", "BadRequest", "InvalidArgument")
    else:
        assert len(tags) <= 10


@given(st.binary(max_size=120) | st.builds(
    lambda status, extra: f"<VersioningConfiguration><Status>{status}</Status>{extra}</VersioningConfiguration>"
    .encode(), st.text(max_size=12), st.sampled_from(["", "<MfaDelete>Disabled</MfaDelete>", "<Other/>"])))
def test_versioning_documents_parse_or_are_refused_with_s3s_errors(body: bytes) -> None:
    try:
        root = wire.parse_xml(body)
    except S3Error as err:
        assert err.code == "MalformedXML"
        return
    assert root is not None


def test_a_store_of_the_schema_before_versioning_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "queues.db"
    with sqlite3.connect(path) as db:      # what a store written before versioning holds
        db.executescript("""
            CREATE TABLE buckets (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
            CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL,
                size INTEGER NOT NULL, etag TEXT NOT NULL, modified_ms INTEGER NOT NULL, meta TEXT NOT NULL,
                PRIMARY KEY (bucket, key)) WITHOUT ROWID;
            PRAGMA user_version = 1;""")
        db.execute("INSERT INTO buckets VALUES ('old', ?)", (json.dumps({"Name": "old", "Created": 0}),))
    files = BodyFiles(tmp_path / "objects")
    name, _ = files.write(b"written by the old schema")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO objects VALUES ('old', 'k', ?, 25, '\"e\"', 0, '{}')", (name,))
    store = SQLiteMessageStore(path)
    try:
        service = ObjectService(store.objects, files, "us-east-1", "123456789012")
        row, f = service.open("old", "k")
        with f:
            assert (row.version_id, f.read()) == ("null", b"written by the old schema")
        service.put_versioning("old", "Enabled")
        new = service.put_object("old", "k", b"new", Content())
        assert [(r.version_id, r.latest) for r in service.list_versions("old").entries if not isinstance(r, str)] == \
            [(new.version_id, True), ("null", False)]
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == MESSAGES_VERSION >= 2   # versions came with 2
