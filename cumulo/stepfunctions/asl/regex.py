"""Regular expressions of definitions (JSONata's ``/…/``, a JSONPath filter's ``=~``), bounded in time.

Python's ``re`` backtracks, and a match running in C cannot be interrupted: ``/\\d+x/`` takes a
minute on a string of 100,000 digits, ``/(a+)+$/`` years on 40 characters. So each pattern gets a
cost model when it is compiled (at definition time) and each use checks the string it is given:

- a quantifier whose maximum is above 16 (``*``, ``+``, ``{1,100}``) multiplies the work by the
  string's length ``n``, one with a small maximum by that maximum;
- a quantifier over something that itself contains a quantifier (``(a+)+``) or an alternation whose
  branches can start with the same character (``(a|ab)*``; ``(cat|dog)+`` is fine), or a
  backreference, can take time exponential in ``n``;
- an unanchored search tries every start position (another factor ``n``).

A use whose estimated steps pass ``REGEX_BUDGET`` (at most about half a second of matching on this
machine) is refused before ``re`` runs, with a message naming the length: ``/\\d+x/`` matches
strings up to ~3,000 characters, a pattern with two unbounded quantifiers ~200, ``(a+)+`` ~12;
literal patterns and anchored single quantifiers (``/^\\d+$/``) any length. A substitution also
counts what its replacements produce (``$0`` a thousand times over a long match): at most
``MAX_OUTPUT`` characters. The estimate is
an upper bound (``re`` is often much faster), never a lower one, so a refused use could have
worked and an accepted one cannot hang the engine.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

try:                                   # Python 3.11+
    from re import _constants as _c    # type: ignore[attr-defined]
    from re import _parser as _p       # type: ignore[attr-defined]
except ImportError:                    # pragma: no cover - older interpreters
    import sre_constants as _c         # type: ignore[no-redef]
    import sre_parse as _p             # type: ignore[no-redef]

__all__ = ["REGEX_BUDGET", "BoundedPattern", "RegexTooCostly", "compile_bounded"]

REGEX_BUDGET = 10 ** 7                 # estimated backtracking steps one use may take
MAX_OUTPUT = 4 * 1024 * 1024           # characters the replacements of one sub() may produce
_GROUP_STEP = 8.0                      # a repeated group costs re several steps per repetition
_SMALL_REPEAT = 16                     # a quantifier up to this maximum counts as a constant factor


class RegexTooCostly(ValueError):
    """A use of a pattern on a string long enough that matching could run for too long."""


@dataclass(frozen=True)
class _Cost:
    degree: int = 0                    # work ~ constant * n ** degree for one start position
    constant: float = 1.0
    exponential: bool = False


def _combine(a: _Cost, b: _Cost) -> _Cost:
    return _Cost(a.degree + b.degree, min(a.constant * b.constant, 1e300), a.exponential or b.exponential)


_ANY = None                            # a first-character set we cannot bound


def _first(items: Any) -> set[int] | None:
    """The characters a subpattern's match can start with (``_ANY`` when unknown or possibly empty)."""
    for op, av in items:
        if op is _c.AT:
            continue
        if op is _c.LITERAL:
            return {av}
        if op is _c.IN:
            chars: set[int] = set()
            for kind, value in av:
                if kind is _c.LITERAL:
                    chars.add(value)
                elif kind is _c.RANGE and value[1] - value[0] < 512:
                    chars.update(range(value[0], value[1] + 1))
                else:
                    return _ANY
            return chars
        if op is _c.SUBPATTERN:
            return _first(av[3])
        if op is _c.BRANCH:
            union: set[int] = set()
            for branch in av[1]:
                found = _first(branch)
                if found is _ANY:
                    return _ANY
                union |= found
            return union
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] > 0:
            return _first(av[2])
        return _ANY
    return _ANY


def _overlapping(branches: Any) -> bool:
    seen: set[int] = set()
    for branch in branches:
        first = _first(branch)
        if first is _ANY or seen & first:
            return True
        seen |= first
    return False


def _complex(items: Any) -> bool:
    """Whether a subpattern repeated could match one string in many ways: it holds a quantifier
    (above one) or an alternation whose branches may start alike."""
    for op, av in items:
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[1] > 1:
            return True
        if op is _c.BRANCH and (_overlapping(av[1]) or any(_complex(branch) for branch in av[1])):
            return True
        if op is _c.SUBPATTERN and _complex(av[3]):
            return True
        if op in (_c.ASSERT, _c.ASSERT_NOT) and _complex(av[1]):
            return True
        if op is getattr(_c, "ATOMIC_GROUP", None) and _complex(av):
            return True
    return False


def _cost(items: Any) -> _Cost:
    total = _Cost()
    for op, av in items:
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            low, high, body = av
            inner = _cost(body)
            if high > 1 and op is not getattr(_c, "POSSESSIVE_REPEAT", None) and _complex(body):
                inner = _Cost(inner.degree, inner.constant, True)
            factor = _Cost(1, 1.0) if high > _SMALL_REPEAT else _Cost(0, float(high + 1))
            if any(item[0] is _c.SUBPATTERN for item in body):
                factor = _Cost(factor.degree, factor.constant * _GROUP_STEP)
            total = _combine(total, _combine(factor, inner))
        elif op is _c.SUBPATTERN:
            total = _combine(total, _cost(av[3]))
        elif op is _c.BRANCH:
            branches = [_cost(branch) for branch in av[1]]
            worst = max(branches, key=lambda c: (c.exponential, c.degree, c.constant))
            total = _combine(total, _Cost(worst.degree, worst.constant * len(branches), worst.exponential))
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            total = _combine(total, _cost(av[1]))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            total = _combine(total, _cost(av))
        elif op in (_c.GROUPREF, _c.GROUPREF_EXISTS):
            total = _Cost(total.degree, total.constant, True)
        elif op is getattr(_c, "GROUPREF_IGNORE", None) or op is getattr(_c, "GROUPREF_LOC_IGNORE", None) \
                or op is getattr(_c, "GROUPREF_UNI_IGNORE", None):
            total = _Cost(total.degree, total.constant, True)
    return total


def _anchored(items: Any, multiline: bool) -> bool:
    if not items or items[0][0] is not _c.AT:
        return False
    return items[0][1] is _c.AT_BEGINNING_STRING or (items[0][1] is _c.AT_BEGINNING and not multiline)


class BoundedPattern:
    """A compiled pattern whose every use first checks the string's length against its cost.

    It has the methods JSONata calls on a regex (``search``, ``match``, ``finditer``, ``sub``,
    ``split``) and ``longest``, the longest string a use accepts."""

    def __init__(self, compiled: re.Pattern[str], cost: _Cost, anchored: bool) -> None:
        self.compiled = compiled
        self.pattern = compiled.pattern
        self.flags = compiled.flags
        self.groups = compiled.groups
        self.groupindex = compiled.groupindex
        self.longest = _longest(cost, anchored)

    def _check(self, string: Any) -> None:
        if isinstance(string, str) and len(string) > self.longest:
            raise RegexTooCostly(f"the regular expression /{self.pattern}/ may backtrack for too long on a string "
                                 f"of {len(string)} characters (at most {self.longest} for this pattern)")

    def search(self, string: str, *args: Any) -> Any:
        self._check(string)
        return self.compiled.search(string, *args)

    def match(self, string: str, *args: Any) -> Any:
        self._check(string)
        return self.compiled.match(string, *args)

    def fullmatch(self, string: str, *args: Any) -> Any:
        self._check(string)
        return self.compiled.fullmatch(string, *args)

    def finditer(self, string: str, *args: Any) -> Iterator[Any]:
        self._check(string)
        return self.compiled.finditer(string, *args)

    def findall(self, string: str, *args: Any) -> list[Any]:
        self._check(string)
        return self.compiled.findall(string, *args)

    def sub(self, repl: str | Callable[[Any], str], string: str, count: int = 0) -> str:
        return self.subn(repl, string, count)[0]

    def subn(self, repl: str | Callable[[Any], str], string: str, count: int = 0) -> tuple[str, int]:
        self._check(string)
        return self.compiled.subn(self._counted(repl), string, count)

    def _counted(self, repl: str | Callable[[Any], str]) -> Callable[[Any], str]:
        """``repl`` as a function that counts what it produces (a template is checked first, as
        ``re`` does even when nothing matches)."""
        if isinstance(repl, str):
            produce: Callable[[Any], str] = _expander(self.compiled, repl)
        else:
            produce = repl
        produced = 0

        def counted(match: Any) -> str:
            nonlocal produced
            text = produce(match)
            produced += len(text) if isinstance(text, str) else 0
            if produced > MAX_OUTPUT:
                raise RegexTooCostly(f"the replacements of /{self.pattern}/ would produce more than {MAX_OUTPUT} "
                                     "characters")
            return text
        return counted

    def split(self, string: str, maxsplit: int = 0) -> list[Any]:
        self._check(string)
        return self.compiled.split(string, maxsplit)

    def __repr__(self) -> str:
        return f"BoundedPattern({self.pattern!r})"


def _expander(compiled: re.Pattern[str], template: str) -> Callable[[Any], str]:
    """``match.expand(template)`` with the template parsed once (checked now, as ``re`` does even
    when nothing matches): Python 3.11 parses it again at every match, and a long template
    (JSONata's $replace with a 5,000-character replacement, say) made that the whole cost."""
    compiled.sub(template, "")
    if "\\" not in template:
        return lambda match: template
    try:
        import sre_parse   # 3.11 (deprecated alias of re._parser, which 3.12 caches itself)

        parsed = sre_parse.parse_template(template, compiled)   # type: ignore[attr-defined]
        return lambda match: sre_parse.expand_template(parsed, match)   # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        return lambda match: match.expand(template)


def _longest(cost: _Cost, anchored: bool) -> int:
    """The largest n whose estimated steps stay within REGEX_BUDGET."""
    starts = 0 if anchored else 1
    if cost.exponential:
        # n starts × 2**n paths: 2**n * n**(degree + starts) <= budget
        n = 1
        while n < 64 and (2 ** (n + 1)) * (n + 1) ** (cost.degree + starts) * cost.constant <= REGEX_BUDGET:
            n += 1
        return n
    degree = cost.degree + starts
    if degree == 0:
        return 1 << 62
    return max(1, int((REGEX_BUDGET / max(cost.constant, 1.0)) ** (1.0 / degree)))


def compile_bounded(pattern: str, *, ignore_case: bool = False, multiline: bool = False) -> BoundedPattern:
    """Compile ``pattern`` (``re`` syntax) with its cost; raises ``ValueError`` if it does not compile."""
    flags = (re.IGNORECASE if ignore_case else 0) | (re.MULTILINE if multiline else 0)
    try:
        compiled = re.compile(pattern, flags)
        parsed = _p.parse(pattern.lower() if ignore_case else pattern, flags)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ValueError(f"invalid regular expression /{pattern}/: {exc}") from None
    items = list(parsed)
    cost = _cost(items)
    if math.isinf(cost.constant):
        cost = _Cost(cost.degree, 1e300, cost.exponential)
    return BoundedPattern(compiled, cost, _anchored(items, multiline))
