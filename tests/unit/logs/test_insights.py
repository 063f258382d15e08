"""Logs Insights queries: what each command does over events (JSON messages' fields, Lambda's REPORT
fields, parse with a glob or named groups, stats by bin()), and that any text compiles or is refused
with QueryError (AWS's MalformedQueryException), never failing while it runs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.logs.insights import QueryError, compile_query

T0 = 1_700_000_100_000          # 2023-11-14 22:15:00 UTC


def events() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(10):
        out.append({"@timestamp": T0 + i * 60_000, "@logStream": "s", "@log": "g", "@message": json.dumps(
            {"level": "ERROR" if i % 3 == 0 else "INFO", "latency": i * 10, "user": {"id": i % 2}})})
    out.append({"@timestamp": T0, "@logStream": "s", "@log": "g", "@message":
                "REPORT RequestId: r-1\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
                "Max Memory Used: 40 MB\tInit Duration: 100.25 ms\t"})
    out.append({"@timestamp": T0 + 500, "@logStream": "s", "@log": "g", "@message": "10.0.0.1 GET /items 500 33"})
    return out


def run(text: str) -> list[dict[str, str]]:
    rows, _ = compile_query(text).run(events())
    return [{f["field"]: f["value"] for f in row} for row in rows]


def test_fields_filter_sort_limit() -> None:
    assert run('fields @timestamp, latency | filter level = "ERROR" | sort latency desc | limit 2') == [
        {"@timestamp": "2023-11-14 22:24:00.000", "latency": "90"}, {"@timestamp": "2023-11-14 22:21:00.000", "latency": "60"}]


def test_without_fields_the_newest_timestamps_and_messages_come_first() -> None:
    rows = run("filter @message like /GET/")
    assert rows == [{"@timestamp": "2023-11-14 22:15:00.500", "@message": "10.0.0.1 GET /items 500 33"}]


def test_stats_count_by_a_field_and_by_bin() -> None:
    assert run('filter ispresent(level) | stats count(*) as n by level') == [
        {"level": "ERROR", "n": "4"}, {"level": "INFO", "n": "6"}]
    assert run("filter ispresent(latency) | stats count(*), avg(latency) as avg by bin(5m)") == [
        {"bin(5m)": "2023-11-14 22:15:00.000", "count(*)": "5", "avg": "20"},
        {"bin(5m)": "2023-11-14 22:20:00.000", "count(*)": "5", "avg": "70"}]


def test_lambda_report_fields() -> None:
    assert run('filter @type = "REPORT" | stats avg(@duration), max(@maxMemoryUsed) as mem, sum(@initDuration) as init') \
        == [{"avg(@duration)": "12.5", "mem": "40000000", "init": "100.25"}]


def test_parse_with_a_glob_and_with_named_groups() -> None:
    assert run('parse @message "* GET * * *" as ip, path, status, ms | filter status = 500 | fields ip, path, ms') == [
        {"ip": "10.0.0.1", "path": "/items", "ms": "33"}]
    assert run(r"parse @message /(?<ip>\d+\.\d+\.\d+\.\d+) GET/ | filter ispresent(ip) | fields ip") == [{"ip": "10.0.0.1"}]


def test_boolean_operators_in_and_nested_fields() -> None:
    assert run('filter level in ["ERROR", "WARN"] and not user.id = 1 | fields latency | sort latency asc') == [
        {"latency": "0"}, {"latency": "60"}]
    assert run("filter (latency < 20 or latency > 80) and level != 'ERROR' | fields latency | sort latency") == [
        {"latency": "10"}]


@pytest.mark.parametrize("text", ["", "   ", "bogus x", "filter (a = 1", "limit 0", "limit x", "stats",
                                  "stats median(x)", 'parse @message "* *" as a', "filter a like /(/",
                                  "fields a b", "sort", 'filter "unterminated', "stats count(*) by bin(5parsecs)"])
def test_bad_queries_are_refused(text: str) -> None:
    with pytest.raises(QueryError):
        compile_query(text)


_PIECES = st.sampled_from(["fields", "filter", "stats", "sort", "limit", "parse", "|", "@message", "level", "=",
                           "!=", "<", "like", "/E/", '"x"', "'y'", "5", "and", "or", "not", "(", ")", ",", "as", "by",
                           "bin(5m)", "count(*)", "avg(latency)", "desc", "in", "[", "]", "*", "ispresent(level)"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=14).map(" ".join) | st.text(max_size=40))
def test_any_text_compiles_or_is_refused_and_runs(text: str) -> None:
    try:
        query = compile_query(text)
    except QueryError as exc:
        assert exc.message
        return
    rows, matched = query.run(events())
    assert all(isinstance(f["value"], str) for row in rows for f in row)
    assert 0 <= matched <= len(events())
