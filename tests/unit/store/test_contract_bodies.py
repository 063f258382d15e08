"""Objects' bodies (``ports.ObjectBodies``) and metric data (``ports.MetricData``) on both
backends: files of the home and ``metrics.db`` on SQLite, rows of the database every node reads on
PostgreSQL (``store/postgres/bodies.py``, ``metrics.py``). The same behaviour either way: what is
written reads back byte for byte, whole or from any offset; a join copies exact spans; a reader
keeps the bytes it opened while the body is deleted; metric rows add up, whichever node merged them.

On PostgreSQL a body is stored in chunks; the tests shrink the chunk to a few bytes so that every
body crosses chunk boundaries without megabytes of data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.objects.files import BodyFiles
from cumulo.store.ports import MetricData, MetricPoint, ObjectBodies
from cumulo.store.sqlite_messages.metrics import SQLiteMetricData


def _sqlite(folder: Path, request: pytest.FixtureRequest) -> tuple[ObjectBodies, Callable[[], MetricData], Any]:
    return (BodyFiles(folder / "objects"), lambda: SQLiteMetricData(folder / "metrics.db"), None)


def _postgres(folder: Path, request: pytest.FixtureRequest) -> tuple[ObjectBodies, Callable[[], MetricData], Any]:
    from cumulo.store.postgres import PostgresMessageStore

    store = PostgresMessageStore(request.getfixturevalue("postgres").fresh_database(), recheck_s=120.0)
    return store.bodies, lambda: store.metric_data, store


@pytest.fixture(params=["sqlite", "postgresql"])
def parts(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ObjectBodies, Callable[[], MetricData]]]:
    monkeypatch.setattr("cumulo.store.postgres.bodies.CHUNK", 7)
    bodies, metric_data, store = (_sqlite if request.param == "sqlite" else _postgres)(tmp_path, request)
    yield bodies, metric_data
    if store is not None:
        store.close()


def _read(bodies: ObjectBodies, name: str, start: int = 0, length: int = -1) -> bytes:
    with bodies.open(name) as f:
        f.seek(start)
        return f.read(length)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.binary(max_size=40), min_size=1, max_size=3),
       cuts=st.lists(st.tuples(st.integers(0, 45), st.integers(0, 45)), min_size=3, max_size=3))
def test_bodies_read_back_whole_from_any_offset_and_join_exact_spans(
        parts: tuple[ObjectBodies, Callable[[], MetricData]], data: list[bytes], cuts: list[tuple[int, int]]) -> None:
    bodies, _ = parts
    names = []
    for blob in data:
        name, md5 = bodies.write(blob)
        assert md5 == hashlib.md5(blob).digest()
        assert _read(bodies, name) == blob
        names.append(name)
    for (start, length), blob, name in zip(cuts, data, names):
        assert _read(bodies, name, start, length) == blob[start:start + length]
    joined, size = bodies.join(names)
    assert (size, _read(bodies, joined)) == (sum(map(len, data)), b"".join(data))
    spans = [(min(s, len(b)), min(n, len(b) - min(s, len(b)))) for (s, n), b in zip(cuts, data)]
    joined, size = bodies.join(names, spans)
    want = b"".join(b[s:s + n] for (s, n), b in zip(spans, data))
    assert (size, _read(bodies, joined)) == (len(want), want)
    bodies.delete(*names, joined)
    for name in names:
        with pytest.raises(FileNotFoundError):
            bodies.open(name)


def test_a_reader_keeps_the_bytes_it_opened_when_the_body_is_deleted(
        parts: tuple[ObjectBodies, Callable[[], MetricData]]) -> None:
    bodies, _ = parts
    blob = bytes(range(100))
    name, _ = bodies.write(blob)
    with bodies.open(name) as f:
        head = f.read(10)
        bodies.delete(name)             # an object replaced or deleted while a GET reads it
        assert head + f.read() == blob
    with pytest.raises(FileNotFoundError):
        bodies.open(name)


def test_sweep_keeps_what_rows_name(parts: tuple[ObjectBodies, Callable[[], MetricData]]) -> None:
    bodies, _ = parts
    kept, _ = bodies.write(b"named")
    bodies.sweep({kept})
    assert _read(bodies, kept) == b"named"


def _point(ts: int, value: float, unit: str = "Count") -> MetricPoint:
    return MetricPoint("Shop", "Orders", '[["Store","1"]]', ts, 1.0, value, value, value, {3: 1.0}, unit)


def test_metric_rows_add_up_whichever_node_merged_them(parts: tuple[ObjectBodies, Callable[[], MetricData]]) -> None:
    _, opened = parts
    node_a, node_b = opened(), opened()     # two handles on one store: on PostgreSQL, what two nodes share
    node_a.merge([_point(120, 2.0), _point(125, 5.0)], (1, 60))
    node_b.merge([_point(130, 1.0, "None")], (1, 60))
    (minute,) = node_b.read("Shop", "Orders", '[["Store","1"]]', 60, 0, 3600)
    assert (minute.ts, minute.count, minute.sum, minute.min, minute.max, minute.hist, minute.unit) == \
        (120, 3.0, 8.0, 1.0, 5.0, {3: 3.0}, "Count")
    assert [p.ts for p in node_a.read("Shop", "Orders", '[["Store","1"]]', 1, 0, 3600)] == [120, 125, 130]
    assert node_a.catalog("Shop", None, 0) == [("Shop", "Orders", '[["Store","1"]]', 130)]
    assert node_a.catalog("Other", None, 0) == [] and node_a.catalog(None, "Orders", 131) == []
    assert node_b.prune(1, 126) == 2
    assert [p.ts for p in node_a.read("Shop", "Orders", '[["Store","1"]]', 1, 0, 3600)] == [130]


_METRICS = ["Invocations", "Errors", "Duration"]
_DIMS = ['[["FunctionName","a"]]', '[["FunctionName","b"]]', '[["FunctionName","c\'; --"]]', "[]"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_METRICS), st.sampled_from(_DIMS), st.integers(0, 7_200),
                          st.floats(0, 1e6)), max_size=40),
       st.lists(st.sampled_from(_METRICS), unique=True), st.lists(st.sampled_from(_DIMS + ["[]x"]), unique=True),
       st.sampled_from([60, 300]), st.integers(0, 3_600), st.integers(0, 7_200))
def test_read_many_is_every_pairs_read_in_one_query(parts: tuple[ObjectBodies, Callable[[], MetricData]],
                                                    points: list[tuple[str, str, int, float]], metrics: list[str],
                                                    dims: list[str], period: int, start: int, end: int) -> None:
    _, opened = parts
    data = opened()
    data.prune(60, 10 ** 9), data.prune(300, 10 ** 9)            # a clean slate for each example
    data.merge([MetricPoint("AWS/Lambda", m, d, ts, 1.0, v, v, v, {1: 1.0}, "Count") for m, d, ts, v in points]
               + [MetricPoint("Other", m, d, ts, 1.0, v, v, v, {}, "Count") for m, d, ts, v in points[:3]],
               (60, 300))
    expected = [p for m in sorted(metrics) for d in sorted(dims)
                for p in data.read("AWS/Lambda", m, d, period, start, end)]
    got = data.read_many("AWS/Lambda", metrics, dims, period, start, end)
    assert got == expected


def test_read_many_refuses_more_series_than_its_bound(parts: tuple[ObjectBodies, Callable[[], MetricData]]) -> None:
    from cumulo.store.sqlite_messages.metrics import MAX_READ_MANY
    _, opened = parts
    with pytest.raises(ValueError):
        opened().read_many("AWS/Lambda", ["Invocations", "Errors"], [str(i) for i in range(MAX_READ_MANY)], 60, 0, 60)


def test_trace_segments_put_on_one_node_are_read_on_another(tmp_path: Path, request: pytest.FixtureRequest,
                                                          backend_name: str) -> None:
    from cumulo.store.ports import TraceSegments
    from cumulo.store.sqlite_messages.traces import SQLiteTraceSegments

    store: Any = None
    if backend_name == "sqlite":
        node_a: TraceSegments = SQLiteTraceSegments(tmp_path / "traces.db")
        node_b: TraceSegments = SQLiteTraceSegments(tmp_path / "traces.db")
    else:
        from cumulo.store.postgres import PostgresMessageStore

        store = PostgresMessageStore(request.getfixturevalue("postgres").fresh_database(), recheck_s=120.0)
        node_a = node_b = store.trace_data
    try:
        node_a.put([("1-a", "s1", 10.0, 12.0, '{"id": "s1"}'), ("1-b", "s3", 20.0, 21.0, '{"id": "s3"}')])
        node_b.put([("1-a", "s2", 9.0, 15.0, '{"id": "s2"}'), ("1-a", "s1", 10.0, 12.0, '{"id": "s1", "v": 2}')])
        assert node_b.traces(0, 100, "", 10) == [("1-a", 9.0, 15.0), ("1-b", 20.0, 21.0)]
        assert node_a.traces(0, 100, "1-a", 10) == [("1-b", 20.0, 21.0)]
        assert node_a.segments(["1-a", "none"]) == {"1-a": ['{"id": "s1", "v": 2}', '{"id": "s2"}']}
        assert node_b.prune(16.0) == 1
        assert node_a.traces(0, 100, "", 10) == [("1-b", 20.0, 21.0)] and node_a.segments(["1-a"]) == {}
    finally:
        if store is not None:
            store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
