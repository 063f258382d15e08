"""RuleIndex: the same answers as testing every rule, without testing rules about other events."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.events.index import RuleIndex
from cumulo.events.pattern import FlatEvent, Pattern, compile_pattern, flatten


def index_of(**patterns: dict[str, Any]) -> RuleIndex:
    index = RuleIndex()
    for rule_id, pattern in patterns.items():
        index.add(rule_id, compile_pattern(pattern))
    return index


class Counting:
    """Counts how many alternatives the index tests for one event."""

    def __init__(self, monkeypatch: Any) -> None:
        import cumulo.events.index as module

        self.calls = 0
        real = module.branch_matches

        def counted(branch: Any, flat: FlatEvent) -> bool:
            self.calls += 1
            return real(branch, flat)

        monkeypatch.setattr(module, "branch_matches", counted)


def test_exact_sources_and_detail_types() -> None:
    index = index_of(
        orders={"source": ["app.orders"]},
        ec2={"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
        any_ec2={"source": ["aws.ec2", "aws.autoscaling"]},
        typed={"detail-type": ["Scheduled Event"]},
    )
    assert index.match({"source": "app.orders", "detail-type": "x"}) == {"orders"}
    assert index.match({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}) == {"ec2", "any_ec2"}
    assert index.match({"source": "aws.autoscaling", "detail-type": "Scheduled Event"}) == {"any_ec2", "typed"}
    assert index.match({"source": "nobody"}) == set()


def test_unrelated_rules_are_not_tested(monkeypatch: Any) -> None:
    index = RuleIndex()
    for i in range(1000):
        index.add(f"r{i}", compile_pattern({"source": [f"app.{i}"], "detail": {"n": [{"numeric": [">", 5]}]}}))
    index.add("prefixed", compile_pattern({"source": [{"prefix": "aws."}]}))
    counting = Counting(monkeypatch)
    assert index.match({"source": "app.7", "detail": {"n": 6}}) == {"r7"}
    assert counting.calls == 1
    assert index.match({"source": "aws.ec2"}) == {"prefixed"}
    assert counting.calls == 2


def test_prefix_anchors() -> None:
    index = index_of(
        aws={"source": [{"prefix": "aws."}]},
        ec2={"source": [{"prefix": "aws.ec2"}]},
        empty={"source": [{"prefix": ""}]},
        region={"region": [{"prefix": "eu-"}], "detail": {"x": [{"anything-but": 1}]}},
    )
    assert index.match({"source": "aws.ec2"}) == {"aws", "ec2", "empty"}
    assert index.match({"source": "aws.s3"}) == {"aws", "empty"}
    assert index.match({"source": "aw"}) == {"empty"}
    assert index.match({"source": 5}) == set()  # prefixes match strings only
    assert index.match({"region": "eu-west-1", "detail": {"x": 2}}) == {"region"}
    assert index.match({"region": "eu-west-1", "detail": {"x": 1}}) == set()


def test_rules_without_an_anchor_are_tested_for_every_event() -> None:
    index = index_of(
        numeric={"detail": {"n": [{"numeric": [">", 0]}, {"exists": False}]}},
        absent={"detail": {"x": [{"exists": False}]}},
        but={"source": [{"anything-but": "aws.ec2"}]},
        mixed={"source": ["a", {"prefix": "b"}]},  # exact and prefix together: no single kind to file under
    )
    assert index.match({"source": "aws.ec2", "detail": {"n": 1}}) == {"numeric", "absent"}
    assert index.match({"source": "b2", "detail": {"x": 1}}) == {"but", "mixed", "numeric"}


def test_typed_values_in_the_index() -> None:
    index = index_of(int={"n": [300]}, true={"n": [True]}, null={"n": [None]}, text={"n": ["300"]})
    assert index.match({"n": 300.0}) == {"int"}
    assert index.match({"n": 1}) == set()
    assert index.match({"n": True}) == {"true"}
    assert index.match({"n": None}) == {"null"}
    assert index.match({"n": "300"}) == {"text"}
    assert index.match({"n": [300, "300", None]}) == {"int", "text", "null"}


def test_or_alternatives_are_filed_separately() -> None:
    index = index_of(either={"$or": [{"source": ["a"]}, {"detail-type": ["t"]}, {"detail": {"n": [{"numeric": ["<", 0]}]}}]})
    assert index.match({"source": "a"}) == {"either"}
    assert index.match({"detail-type": "t"}) == {"either"}
    assert index.match({"detail": {"n": -1}}) == {"either"}
    assert index.match({"source": "b", "detail-type": "u"}) == set()


def test_the_anchor_prefers_source_then_detail_type_then_the_most_selective(monkeypatch: Any) -> None:
    index = RuleIndex()
    index.add("r", compile_pattern({"account": ["1", "2"], "detail-type": ["t"], "source": ["s"], "zone": ["z"]}))
    counting = Counting(monkeypatch)
    assert index.match({"source": "other", "detail-type": "t", "account": "1", "zone": "z"}) == set()
    assert counting.calls == 0  # filed under source, so not even a candidate
    index = RuleIndex()
    index.add("r", compile_pattern({"account": ["1", "2"], "zone": ["z"]}))
    assert index.match({"account": "1", "zone": "other"}) == set()
    assert counting.calls == 0  # filed under zone (one value) rather than account (two)


def test_add_replaces_and_remove_forgets() -> None:
    index = index_of(r1={"source": ["a"]}, r2={"source": [{"prefix": "a"}]}, r3={"detail": {"n": [{"exists": True}]}})
    assert len(index) == 3 and "r1" in index and set(index) == {"r1", "r2", "r3"}
    index.add("r1", compile_pattern({"source": ["b"]}))
    assert index.match({"source": "a"}) == {"r2"}
    assert index.match({"source": "b"}) == {"r1"}
    for rule_id in ("r1", "r2", "r3", "r3", "never-added"):
        index.remove(rule_id)
    assert len(index) == 0
    assert index.match({"source": "a", "detail": {"n": 1}}) == set()
    assert not index._exact and not index._prefix and not index._prefix_lengths and not index._scan


def test_get_and_match_flat() -> None:
    pattern = compile_pattern({"source": ["a"]})
    index = RuleIndex()
    index.add("r", pattern)
    assert index.get("r") is pattern and index.get("x") is None
    assert index.match_flat(flatten({"source": "a"})) == {"r"}


def test_array_consistency_holds_through_the_index() -> None:
    index = index_of(r={"source": ["s"], "items": {"name": ["a"], "qty": [1]}})
    assert index.match({"source": "s", "items": [{"name": "a", "qty": 1}]}) == {"r"}
    assert index.match({"source": "s", "items": [{"name": "a", "qty": 2}, {"name": "b", "qty": 1}]}) == set()


# --- the index answers as the naive loop does --------------------------------------------------

SOURCES = st.sampled_from(["aws.ec2", "aws.s3", "app.orders", "app.billing", "x"])
TYPES = st.sampled_from(["Created", "Deleted", "created", "Scheduled Event"])
NUMBERS = st.integers(-3, 3)


def _leaf(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.one_of(
        values,
        values.map(lambda v: {"anything-but": v}),
        st.sampled_from(["aws.", "app.", "", "Cr"]).map(lambda p: {"prefix": p}),
        st.sampled_from(["ed", ".s3"]).map(lambda s: {"suffix": s}),
        values.filter(lambda v: isinstance(v, str)).map(lambda v: {"equals-ignore-case": v}),
        NUMBERS.map(lambda n: {"numeric": [">", n]}),
        NUMBERS.map(lambda n: {"numeric": ["<=", n]}),
        NUMBERS.map(lambda n: {"numeric": ["=", n]}),
        NUMBERS.map(lambda n: {"numeric": [">=", n, "<", n + 2]}),
        st.booleans().map(lambda b: {"exists": b}),
        st.sampled_from(["aws.*", "*ed", "*"]).map(lambda w: {"wildcard": w}),
    ), min_size=1, max_size=3)


FIELDS = {
    "source": _leaf(SOURCES),
    "detail-type": _leaf(TYPES),
    "account": _leaf(st.sampled_from(["1", "2"])),
}
DETAIL = st.fixed_dictionaries({}, optional={"n": _leaf(NUMBERS), "state": _leaf(TYPES)})
PATTERN_BODY = st.fixed_dictionaries({}, optional={**FIELDS, "detail": DETAIL}).filter(
    lambda p: bool(p) and p.get("detail") != {})
PATTERNS = st.one_of(
    PATTERN_BODY,
    st.builds(lambda a, b, rest: {**rest, "$or": [a, b]}, PATTERN_BODY, PATTERN_BODY,
              st.fixed_dictionaries({}, optional={"region": _leaf(st.sampled_from(["eu", "us"]))})),
)
EVENTS = st.fixed_dictionaries({
    "source": st.one_of(SOURCES, st.lists(SOURCES, max_size=2)),
    "detail-type": TYPES,
}, optional={
    "account": st.sampled_from(["1", "2", 1]),
    "region": st.sampled_from(["eu", "us"]),
    "detail": st.fixed_dictionaries({}, optional={"n": st.one_of(NUMBERS, st.lists(NUMBERS, max_size=2)),
                                                  "state": TYPES}),
})


def naive(rules: dict[str, Pattern], event: dict[str, Any]) -> set[str]:
    return {rule_id for rule_id, pattern in rules.items() if pattern.matches(event)}


@settings(max_examples=300, deadline=None)
@given(st.lists(PATTERNS, min_size=1, max_size=25), st.lists(EVENTS, min_size=1, max_size=10),
       st.sets(st.integers(0, 24), max_size=8))
def test_the_index_returns_exactly_the_rules_the_naive_loop_does(patterns: list[dict[str, Any]],
                                                                events: list[dict[str, Any]],
                                                                removed: set[int]) -> None:
    rules = {f"r{i}": compile_pattern(p) for i, p in enumerate(patterns)}
    index = RuleIndex()
    for rule_id, pattern in rules.items():
        index.add(rule_id, pattern)
    for event in events:
        assert index.match(event) == naive(rules, event)
    for i in removed:
        index.remove(f"r{i}")
        rules.pop(f"r{i}", None)
    for event in events:
        assert index.match(event) == naive(rules, event)


def test_rules_on_one_popular_source_spread_out_over_their_detail_types(monkeypatch: Any) -> None:
    index = RuleIndex()
    for i in range(50):
        index.add(f"r{i}", compile_pattern({"source": ["aws.ec2"], "detail-type": [f"Type {i}"]}))
    counting = Counting(monkeypatch)
    assert index.match({"source": "aws.ec2", "detail-type": "Type 7"}) == {"r7"}
    assert counting.calls <= 2  # the first rule went under the source, the others under their types


def test_rules_without_an_anchor_wait_for_a_path_they_need(monkeypatch: Any) -> None:
    index = index_of(
        numeric={"detail": {"n": [{"anything-but": 0}]}},
        absent_only={"detail": {"x": [{"exists": False}]}},
    )
    counting = Counting(monkeypatch)
    assert index.match({"source": "s"}) == {"absent_only"}
    assert counting.calls == 1  # the numeric rule needs detail.n: not tested
    assert index.match({"detail": {"n": 1}}) == {"numeric", "absent_only"}
    assert counting.calls == 3


def test_numeric_anchors(monkeypatch: Any) -> None:
    index = index_of(
        big={"detail": {"amount": [{"numeric": [">", 1000]}]}},
        small={"detail": {"amount": [{"numeric": ["<", 10]}]}},
        band={"detail": {"amount": [{"numeric": [">=", 100, "<=", 200]}, {"numeric": ["=", 500]}]}},
        rounded={"detail": {"amount": [{"numeric": [">=", 5]}]}, "kind": ["r"]},
    )
    counting = Counting(monkeypatch)
    assert index.match({"detail": {"amount": 50}}) == set()
    assert counting.calls == 0  # 50 is above every lower end but 1000's, below every upper end but 10's
    assert index.match({"detail": {"amount": 1001}}) == {"big"}
    assert index.match({"detail": {"amount": 5}}) == {"small"}
    assert index.match({"detail": {"amount": [150, 2000]}}) == {"band", "big"}
    assert index.match({"detail": {"amount": 500.0}}) == {"band"}
    assert index.match({"detail": {"amount": "5000"}}) == set()  # not a number
    assert index.match({"detail": {"amount": True}}) == set()  # nor is true
    assert index.match({"detail": {"amount": 4.9999999}, "kind": "r"}) == {"small", "rounded"}  # six decimals
    for rule_id in ("big", "small", "band", "rounded"):
        index.remove(rule_id)
    assert not index._lows and not index._highs


def test_numeric_ranges_sharing_an_end_are_removed_one_by_one() -> None:
    index = index_of(a={"n": [{"numeric": [">", 1]}]}, b={"n": [{"numeric": [">", 1]}]}, c={"n": [{"numeric": [">", 1]}]})
    index.remove("b")
    assert index.match({"n": 2}) == {"a", "c"}
    index.remove("a")
    assert index.match({"n": 2}) == {"c"}
