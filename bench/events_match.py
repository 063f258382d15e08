"""Event-pattern matching benchmark: ``RuleIndex`` vs testing every rule, at 1, 100 and 5,000 rules.

    python bench/events_match.py [--events N] [--rounds R] [--seed S]

Rules have the shape of real buses: most name their own ``source`` (one per service) and a
``detail-type``, many add ``detail`` conditions — exact values, numeric ranges, anything-but,
prefix, equals-ignore-case, ``$or``; some share a popular AWS source and differ by
``detail-type``; a few have no exact field at all (a source prefix, or a numeric range and
anything-but).
Events are EventBridge envelopes with a small ``detail``: most come from a source some rule
names (and often match it), the rest from sources no rule knows.

Both sides flatten each event once (``flatten``), so the baseline is the best a loop over all
rules can do: ``Pattern.matches_flat`` for every rule. Each round runs the same events through
the index and through the loop, alternating, and checks they agree; the table shows the
median round as events/s, the ratio index/loop, and the cost of the index at each size
relative to one rule (target: 5,000 rules cost under 5x what one rule costs per event).
Not a test: nothing here asserts beyond the two sides agreeing; targets are read by people.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo.events.index import RuleIndex  # noqa: E402
from cumulo.events.pattern import Pattern, compile_pattern, flatten  # noqa: E402

SIZES = (1, 100, 5_000)
AWS_SOURCES = ("aws.ec2", "aws.s3", "aws.autoscaling", "aws.health")
STATES = ("pending", "running", "stopped", "terminated", "failed")
DETAIL_TYPES = ("Order Placed", "Order Shipped", "Payment Failed", "User Signed Up", "Invoice Paid")


def rule(i: int, rnd: random.Random) -> dict[str, Any]:
    """The i-th rule of a bus; ``i % 20`` picks its shape."""
    source, detail_type = f"com.example.service{i}", rnd.choice(DETAIL_TYPES)
    shape = i % 20
    base: dict[str, Any] = {"source": [source], "detail-type": [detail_type]}
    if shape < 6:
        return {**base, "detail": {"status": rnd.sample(STATES, 2)}}
    if shape < 9:
        return {**base, "detail": {"amount": [{"numeric": [">=", rnd.randint(0, 50), "<", rnd.randint(60, 500)]}]}}
    if shape < 12:
        return {**base, "detail": {"status": [{"anything-but": ["failed", "pending"]}]}}
    if shape == 12:
        return {**base, "detail": {"region": [{"prefix": "eu-"}], "tier": ["gold", "silver"]}}
    if shape == 13:
        return {"source": [source], "detail-type": [{"equals-ignore-case": detail_type.upper()}]}
    if shape == 14:
        return {**base, "detail": {"$or": [{"status": ["failed"]}, {"amount": [{"numeric": [">", 400]}]}]}}
    if shape in (15, 16):  # a popular AWS source, told apart by detail-type
        return {"source": [AWS_SOURCES[i % len(AWS_SOURCES)]], "detail-type": [f"AWS Notification {i}"],
                "detail": {"state": [{"anything-but": "pending"}]}}
    if shape == 17:
        return base
    if i % 100 == 18:  # one in a hundred: no exact field at all
        return {"source": [{"prefix": f"partner.{i}."}], "detail": {"status": [{"exists": True}]}}
    if i % 100 == 38:
        return {"detail": {"amount": [{"numeric": [">", 499]}], "status": [{"anything-but": list(STATES[:4])}]}}
    return {**base, "detail": {"status": ["running"], "amount": [{"numeric": ["<", 100]}]}}


def event(n: int, rules: int, rnd: random.Random) -> dict[str, Any]:
    i = rnd.randrange(rules)
    roll = rnd.random()
    if roll < 0.6:
        source, detail_type = f"com.example.service{i}", rnd.choice(DETAIL_TYPES)
    elif roll < 0.75:
        source, detail_type = AWS_SOURCES[i % len(AWS_SOURCES)], f"AWS Notification {i}"
    elif roll < 0.8:
        source, detail_type = f"partner.{i}.app", "Partner Event"
    else:
        source, detail_type = f"com.unknown.app{rnd.randrange(10**6)}", rnd.choice(DETAIL_TYPES)
    return {
        "version": "0", "id": f"{n:08x}-0000-4000-8000-000000000000", "detail-type": detail_type,
        "source": source, "account": "123456789012", "time": "2024-05-06T07:08:09Z", "region": "eu-west-1",
        "resources": [f"arn:aws:ec2:eu-west-1:123456789012:instance/i-{n:017x}"],
        "detail": {"status": rnd.choice(STATES), "amount": rnd.randint(0, 600), "region": rnd.choice(["eu-west-1", "us-east-1"]),
                   "tier": rnd.choice(["gold", "silver", "bronze"]), "state": rnd.choice(STATES),
                   "order": {"id": f"o-{n}", "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}},
    }


def timed_round(fn: Callable[[dict[str, Any]], set[str]], events: list[dict[str, Any]]) -> tuple[float, list[set[str]]]:
    t = time.perf_counter_ns()
    answers = [fn(e) for e in events]
    return (time.perf_counter_ns() - t) / 1e9, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    all_rules = [compile_pattern(rule(i, rnd)) for i in range(max(SIZES))]
    events = [event(n, max(SIZES), rnd) for n in range(args.events)]

    floor: list[float] = []
    for _ in range(args.rounds):
        t = time.perf_counter_ns()
        for e in events:
            flatten(e)
        floor.append((time.perf_counter_ns() - t) / 1e9)

    rows = []
    for size in SIZES:
        patterns: list[tuple[str, Pattern]] = [(f"r{i}", p) for i, p in enumerate(all_rules[:size])]
        index = RuleIndex()
        for rule_id, pattern in patterns:
            index.add(rule_id, pattern)

        def with_index(e: dict[str, Any], index: RuleIndex = index) -> set[str]:
            return index.match(e)

        def with_loop(e: dict[str, Any], patterns: list[tuple[str, Pattern]] = patterns) -> set[str]:
            flat = flatten(e)
            return {rule_id for rule_id, p in patterns if p.matches_flat(flat)}

        index_s, loop_s = [], []
        matched = 0
        for _ in range(args.rounds):
            seconds, by_index = timed_round(with_index, events)
            index_s.append(seconds)
            seconds, by_loop = timed_round(with_loop, events)
            loop_s.append(seconds)
            assert by_index == by_loop, "the index and the loop disagree"
            matched = sum(len(m) for m in by_index)
        rows.append((size, statistics.median(index_s), statistics.median(loop_s), matched))
        print(f"  {size:>5} rules measured ({matched / len(events):.2f} matches per event)", file=sys.stderr, flush=True)

    n = len(events)
    one_rule = rows[0][1]
    print(f"python {sys.version.split()[0]}, {n} events x {args.rounds} rounds, medians; "
          f"flatten alone: {n / statistics.median(floor):,.0f} events/s\n")
    print("| rules | index events/s | loop events/s | index vs loop | index µs/event | index cost vs 1 rule |")
    print("|------:|---------------:|--------------:|--------------:|---------------:|---------------------:|")
    for size, index_t, loop_t, _ in rows:
        print(f"| {size:,} | {n / index_t:,.0f} | {n / loop_t:,.0f} | {loop_t / index_t:,.1f}x faster "
              f"| {index_t / n * 1e6:.1f} | {index_t / one_rule:.2f}x |")
    ratio = rows[-1][1] / one_rule
    print(f"\n5,000 rules cost {ratio:.2f}x what 1 rule costs per event with the index "
          f"(target < 5x: {'met' if ratio < 5 else 'missed'}).")


if __name__ == "__main__":
    main()
