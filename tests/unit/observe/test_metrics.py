"""The recorder of platform metrics: histogram percentiles, the dimension sets AWS publishes, and
Embedded Metric Format lines (observe/metrics.py)."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings, strategies as st

from cumulo.observe.metrics import LAMBDA, Aggregate, MetricRecorder, emf_points, percentile


@given(st.lists(st.floats(min_value=1e-3, max_value=1e7), min_size=1, max_size=300),
       st.sampled_from([50.0, 90.0, 99.0, 99.9, 100.0]))
def test_a_percentile_read_from_the_histogram_is_within_2_2_percent_of_the_true_one(values: list[float],
                                                                                       p: float) -> None:
    agg = Aggregate()
    for v in values:
        agg.add(v)
    ordered = sorted(values)
    true = ordered[max(math.ceil(len(ordered) * p / 100) - 1, 0)]     # nearest rank
    got = percentile(agg, p)
    assert got is not None and abs(got - true) <= true * (2 ** (1 / 32) - 1) + 1e-9
    assert (agg.count, agg.min, agg.max) == (len(values), min(values), max(values))


def test_invocations_are_published_per_account_function_and_resource() -> None:
    r = MetricRecorder(now=lambda: 600.0)
    r.invocation("f", "f:live", 10.0, error=False, concurrent=2, total=3)
    r.invocation("f", None, 30.0, error=True)
    r.invocation("g", None, 5.0, error=False)
    r.add(LAMBDA, "Throttles", (("FunctionName", "g"),), 1.0, "Count")
    got = {(name, dims): agg for (ns, name, dims, ts), agg in r.drain()}
    fn, res = (("FunctionName", "f"),), (("FunctionName", "f"), ("Resource", "f:live"))
    assert got["Invocations", ()].sum == 3 and got["Invocations", fn].sum == 2 and got["Invocations", res].sum == 1
    assert got["Errors", fn].sum == 1 and got["Errors", res].sum == 0 and got["Errors", ()].sum == 1
    assert (got["Duration", fn].count, got["Duration", fn].max, got["Duration", res].max) == (2, 30.0, 10.0)
    assert got["Throttles", (("FunctionName", "g"),)].sum == 1 and got["Throttles", ()].sum == 1
    assert got["ConcurrentExecutions", fn].max == 2 and got["ConcurrentExecutions", ()].max == 3
    assert ("UnreservedConcurrentExecutions", ()) not in got         # nobody said
    assert r.drain() == []                      # drained
    r.invocation("f", None, 1.0, False, unreserved=0)
    r.invocation("g", None, 1.0, False, unreserved=4)
    r.invocation("g", None, 1.0, False, unreserved=2)
    (unreserved,) = [agg for (ns, name, dims, ts), agg in r.drain() if name == "UnreservedConcurrentExecutions"]
    assert (unreserved.max, unreserved.min) == (4, 4)               # the minute's peak, account-wide
    off = MetricRecorder(enabled=False)
    off.invocation("f", None, 1.0, False)
    assert off.drain() == []


POWERTOOLS_LINE = json.dumps({
    "_aws": {"Timestamp": 1_700_000_123_000, "CloudWatchMetrics": [{
        "Namespace": "Shop", "Dimensions": [["service"]],
        "Metrics": [{"Name": "Orders", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]}]},
    "service": "orders", "Orders": [1.0, 2.0], "Latency": 12.0, "extra": "x"})


def test_an_emf_document_declares_its_metrics_with_their_dimensions() -> None:
    got = {(k[0], k[1], k[2], k[3]): a for k, a in emf_points(POWERTOOLS_LINE)}
    orders = got["Shop", "Orders", (("service", "orders"),), 1_700_000_100 - 1_700_000_100 % 60 + 0]
    assert (orders.count, orders.sum, orders.unit) == (2, 3.0, "Count")
    assert got["Shop", "Latency", (("service", "orders"),), 1_700_000_100 - 1_700_000_100 % 60].sum == 12.0
    r = MetricRecorder()
    r.emf("fn", [(0, "START RequestId: x"), (0, POWERTOOLS_LINE)])
    assert {k[1] for k, _ in r.drain()} == {"Orders", "Latency"}


@settings(max_examples=300)
@given(st.one_of(st.text(), st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5),
                                         lambda c: st.lists(c, max_size=3) | st.dictionaries(
                                             st.sampled_from(["_aws", "CloudWatchMetrics", "Namespace", "Metrics",
                                                              "Dimensions", "Name", "Timestamp", "a"]), c,
                                             max_size=4), max_leaves=20).map(json.dumps)))
def test_any_log_line_gives_metrics_or_nothing_never_an_error(line: str) -> None:
    for (ns, name, dims, ts), agg in emf_points(line):
        assert isinstance(ns, str) and ns and isinstance(name, str) and agg.count > 0


def test_provisioned_concurrency_is_published_per_resource_function_and_account() -> None:
    from cumulo.observe.metrics import MetricRecorder

    recorder = MetricRecorder(lambda: 125.0)
    recorder.provisioned("f", "f:live", 2, 4, used=True)
    recorder.provisioned("f", "f:live", 4, 4, used=False)
    got = {(k[1], k[2]): agg for k, agg in recorder.drain()}
    live = (("FunctionName", "f"), ("Resource", "f:live"))
    for dims in (live, (("FunctionName", "f"),), ()):
        assert got[("ProvisionedConcurrencyInvocations", dims)].sum == 1
        assert got[("ProvisionedConcurrencySpilloverInvocations", dims)].sum == 1
        assert got[("ProvisionedConcurrentExecutions", dims)].max == 4
    assert (got[("ProvisionedConcurrencyUtilization", live)].min, got[("ProvisionedConcurrencyUtilization", live)].max) \
        == (0.5, 1.0)
    disabled = MetricRecorder(lambda: 125.0, enabled=False)
    disabled.provisioned("f", "f:live", 1, 1, used=True)
    assert disabled.drain() == []


def test_invocations_noted_from_many_threads_are_all_counted_folded_or_not() -> None:
    import threading

    from cumulo.observe.metrics import FOLD_AT, MetricRecorder

    recorder = MetricRecorder(lambda: 125.0)
    per_thread = FOLD_AT // 2 + 7

    def note() -> None:
        for _ in range(per_thread):
            recorder.invocation("f", None, 2.0, False, 1, 1, 1)

    threads = [threading.Thread(target=note) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(recorder._noted) <= FOLD_AT + 6          # the callers folded what was past the bound
    got = {(k[1], k[2]): agg for k, agg in recorder.drain()}
    assert got[("Invocations", (("FunctionName", "f"),))].sum == 6 * per_thread
    assert got[("Duration", ())].count == 6 * per_thread
