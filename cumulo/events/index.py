"""Many rules, one event: which rules match, without testing rules about other events.

An event bus holds up to hundreds of rules (AWS's default quota is 300 a bus, raisable) and
most of them name the events they want by exact values: ``source``, ``detail-type``, a
``detail`` field. ``RuleIndex`` files each alternative (``$or`` branch) of each rule under one
*anchor*, a field every matching event must satisfy:

* an exact-values field (``"source": ["app.orders"]``) is filed under each value, looked up
  with each leaf the event has at that path. Of several such fields the one whose values
  have the fewest rules filed under them so far wins — so fifty rules on ``aws.ec2`` spread
  out over their ``detail-type``s instead of piling up under one source — then ``source``,
  then ``detail-type``, then the field with the fewest values;
* failing that, a plain-prefix field (``"source": [{"prefix": "aws."}]``) is filed under each
  prefix, looked up with the event's leaves cut to each filed prefix length;
* failing that, a numeric field (``"amount": [{"numeric": [">", 1000]}]``) is filed under the
  lower end of each range (or, for ``<``/``<=`` alone, the upper end), kept sorted, and
  looked up by bisection with each number the event has there;
* an alternative with neither (only anything-but, numeric, exists …) is tested for every event
  that has a leaf at one path the alternative needs (any field without ``{"exists": false}``),
  and for every event if it needs none.

Candidates are then tested in full, so the index decides only *which* alternatives to test,
never the answer: ``match`` returns exactly the rules whose ``Pattern.matches`` is true
(a property test holds it to that). Adding a rule id again replaces its pattern (PutRule).
Not thread-safe: the bus serialises changes, or builds a new index and swaps it in.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

from cumulo.events._operators import numeric_value, value_key
from cumulo.events.pattern import (
    Branch,
    FieldTest,
    FlatEvent,
    Pattern,
    branch_matches,
    flatten,
)

__all__ = ["RuleIndex"]

_PREFERRED = ("source", "detail-type")

Entry = tuple[str, int]  # (rule id, branch number)


class _Bounds:
    """Entries sorted by one end of their range: ``below(x)`` are those whose end is <= x."""

    __slots__ = ("entries", "keys")

    def __init__(self) -> None:
        self.keys: list[float] = []
        self.entries: list[Entry] = []

    def add(self, key: float, entry: Entry) -> None:
        at = bisect_right(self.keys, key)
        self.keys.insert(at, key)
        self.entries.insert(at, entry)

    def discard(self, key: float, entry: Entry) -> None:
        at = bisect_left(self.keys, key)
        while at < len(self.keys) and self.keys[at] == key:
            if self.entries[at] == entry:
                del self.keys[at], self.entries[at]
                return
            at += 1

    def below(self, x: float) -> list[Entry]:
        return self.entries[:bisect_right(self.keys, x)]


class RuleIndex:
    def __init__(self) -> None:
        self._rules: dict[str, Pattern] = {}
        self._exact: dict[str, dict[Hashable, set[Entry]]] = defaultdict(lambda: defaultdict(set))
        self._prefix: dict[str, dict[str, set[Entry]]] = defaultdict(lambda: defaultdict(set))
        self._prefix_lengths: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._lows: dict[str, _Bounds] = defaultdict(_Bounds)  # by the lower end of a range
        self._highs: dict[str, _Bounds] = defaultdict(_Bounds)  # by minus the upper end: no lower end
        self._scan: dict[str | None, set[Entry]] = defaultdict(set)  # by a path the event must have
        self._filed: dict[str, list[tuple[str, str, Hashable, Entry]]] = {}

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def get(self, rule_id: str) -> Pattern | None:
        return self._rules.get(rule_id)

    def add(self, rule_id: str, pattern: Pattern) -> None:
        if rule_id in self._rules:
            self.remove(rule_id)
        self._rules[rule_id] = pattern
        filed: list[tuple[str, str, Hashable, Entry]] = []
        for number, branch in enumerate(pattern.branches):
            entry = (rule_id, number)
            anchor = self._anchor(branch)
            if anchor is None:
                needed = next((f.path for f in branch if not f.absent_ok), None)
                self._scan[needed].add(entry)
                filed.append(("scan", needed or "", needed, entry))
            elif anchor.exact_only:
                for key in anchor.exact:
                    self._exact[anchor.path][key].add(entry)
                    filed.append(("exact", anchor.path, key, entry))
            elif anchor.prefix_only:
                for prefix in anchor.prefixes:
                    self._prefix[anchor.path][prefix].add(entry)
                    self._prefix_lengths[anchor.path][len(prefix)] += 1
                    filed.append(("prefix", anchor.path, prefix, entry))
            else:
                for low, high in set(anchor.ranges):
                    if low > -math.inf:
                        self._lows[anchor.path].add(low, entry)
                        filed.append(("low", anchor.path, low, entry))
                    else:
                        self._highs[anchor.path].add(-high, entry)
                        filed.append(("high", anchor.path, -high, entry))
        self._filed[rule_id] = filed

    def _anchor(self, branch: Branch) -> FieldTest | None:
        exact = [f for f in branch if f.exact_only]
        if exact:
            return min(exact, key=lambda f: (self._load(f), _rank(f.path), len(f.exact)))
        prefixed = [f for f in branch if f.prefix_only]
        if prefixed:
            return min(prefixed, key=lambda f: (_rank(f.path), -min(map(len, f.prefixes))))
        return next((f for f in branch if f.numeric_only), None)

    def _load(self, field: FieldTest) -> int:
        table = self._exact.get(field.path)
        return 0 if table is None else sum(len(table.get(key, ())) for key in field.exact)

    def remove(self, rule_id: str) -> None:
        """Forget a rule; unknown ids are ignored (DeleteRule of a deleted rule)."""
        if self._rules.pop(rule_id, None) is None:
            return
        for kind, path, key, entry in self._filed.pop(rule_id):
            if kind == "scan":
                needed = key if isinstance(key, str) else None
                self._scan[needed].discard(entry)
                if not self._scan[needed]:
                    del self._scan[needed]
            elif kind == "exact":
                _discard(self._exact, path, key, entry)
            elif kind in ("low", "high"):
                assert isinstance(key, (int, float))
                tables = self._lows if kind == "low" else self._highs
                tables[path].discard(key, entry)
                if not tables[path].keys:
                    del tables[path]
            else:
                assert isinstance(key, str)
                _discard(self._prefix, path, key, entry)
                lengths = self._prefix_lengths[path]
                lengths[len(key)] -= 1
                if not lengths[len(key)]:
                    del lengths[len(key)]
                if not lengths:
                    del self._prefix_lengths[path]

    def match(self, event: Mapping[str, Any]) -> set[str]:
        """The ids of the rules whose patterns match ``event``."""
        return self.match_flat(flatten(event))

    def match_flat(self, flat: FlatEvent) -> set[str]:
        values = flat.values
        candidates: set[Entry] = set()
        for needed, entries in self._scan.items():
            if needed is None or needed in values:
                candidates |= entries
        for path, table in self._exact.items():
            leaves = values.get(path)
            if leaves:
                for leaf in leaves:
                    hits = table.get(leaf if type(leaf) is str else value_key(leaf))
                    if hits:
                        candidates |= hits
        for path, lengths in self._prefix_lengths.items():
            leaves = values.get(path)
            if leaves:
                prefixes = self._prefix[path]
                for leaf in leaves:
                    if type(leaf) is str:
                        for length in lengths:
                            if length <= len(leaf):
                                hits = prefixes.get(leaf[:length])
                                if hits:
                                    candidates |= hits
        for tables, sign in ((self._lows, 1), (self._highs, -1)):
            for path, bounds in tables.items():
                leaves = values.get(path)
                if leaves:
                    for leaf in leaves:
                        x = numeric_value(leaf)
                        if x is not None:
                            candidates.update(bounds.below(sign * x))
        matched: set[str] = set()
        rules = self._rules
        for rule_id, number in candidates:
            if rule_id not in matched and branch_matches(rules[rule_id].branches[number], flat):
                matched.add(rule_id)
        return matched




def _rank(path: str) -> int:
    return _PREFERRED.index(path) if path in _PREFERRED else len(_PREFERRED)


def _discard(tables: dict[str, Any], path: str, key: Hashable, entry: Entry) -> None:
    table = tables[path]
    entries = table[key]
    entries.discard(entry)
    if not entries:
        del table[key]
    if not table:
        del tables[path]
