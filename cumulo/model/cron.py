"""AWS schedule expressions, pure: ``rate(...)``, six-field ``cron(...)`` and ``at(...)``.

``parse(expression)`` validates and returns a ``Schedule`` whose ``next_after(t, tz)``
is the first fire strictly after ``t`` (aware datetimes; evaluated in ``tz``).

AWS's cron: ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``; one of
the two day fields must be ``?``; ``L`` (last day of the month, or with a weekday
``5L`` the last Thursday), ``W`` (nearest weekday: ``15W``, ``LW``), ``#`` (``6#3``:
the third Friday); day-of-week 1–7 is SUN–SAT; names JAN–DEC and SUN–SAT; years
1970–2199. A local time that does not exist (a DST gap) is skipped; an ambiguous
one fires once, at its first occurrence.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cumulo.errors import ValidationException

__all__ = ["Schedule", "Rate", "Cron", "At", "parse", "zone"]

_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                       "DEC"], 1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_RATE_RE = re.compile(r"^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)$")
MAX_RATE_S = 100 * 365 * 86_400     # ours: a period a datetime can still be moved by (AWS states no bound)
_AT_RE = re.compile(r"^at\(([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\)$")
_CRON_RE = re.compile(r"^cron\((.*)\)$")
MAX_YEAR = 2199
_NUMBER = re.compile(r"[0-9]{1,9}")     # str.isdigit() also takes '²', which int() refuses


def _bad(expression: str, why: str) -> ValidationException:
    return ValidationException(f"Invalid Schedule Expression {expression}: {why}")


def zone(name: str | None) -> ZoneInfo | timezone:
    if not name or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationException(f"Invalid ScheduleExpressionTimezone: {name}") from None


class Schedule:
    expression: str

    def next_after(self, t: datetime, tz: ZoneInfo | timezone = timezone.utc) -> datetime | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Rate(Schedule):
    expression: str
    seconds: int

    def next_after(self, t: datetime, tz: ZoneInfo | timezone = timezone.utc) -> datetime | None:
        return t + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class At(Schedule):
    expression: str
    local: datetime            # naive, in the schedule's time zone

    def next_after(self, t: datetime, tz: ZoneInfo | timezone = timezone.utc) -> datetime | None:
        when = self.local.replace(tzinfo=tz)
        return when if when > t else None


@dataclass(frozen=True)
class _DayRule:
    kind: str                  # "any", "set", "last", "last-offset", "weekday-near", "last-weekday"
    values: frozenset[int] = frozenset()
    n: int = 0


@dataclass(frozen=True)
class Cron(Schedule):
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    dom: _DayRule | None        # None when '?'
    dow: _DayRule | None
    dow_nth: tuple[int, int] | None = None     # (weekday 1-7, n) for '#'
    dow_last: int | None = None                # weekday for '5L'

    def _day_matches(self, d: date) -> bool:
        if self.dom is not None:
            return _dom_matches(self.dom, d)
        weekday = (d.isoweekday() % 7) + 1        # SUN=1 … SAT=7
        if self.dow_nth is not None:
            day, n = self.dow_nth
            return weekday == day and (d.day - 1) // 7 + 1 == n
        if self.dow_last is not None:
            return weekday == self.dow_last and d.day + 7 > calendar.monthrange(d.year, d.month)[1]
        assert self.dow is not None
        return self.dow.kind == "any" or weekday in self.dow.values

    def next_after(self, t: datetime, tz: ZoneInfo | timezone = timezone.utc) -> datetime | None:
        local = t.astimezone(tz)
        start = local.replace(second=0, microsecond=0, tzinfo=None)
        for d in self._days(start.date()):
            for h in sorted(self.hours):
                for m in sorted(self.minutes):
                    naive = datetime(d.year, d.month, d.day, h, m)
                    if naive < start:
                        continue
                    when = _localize(naive, tz)
                    if when is not None and when > t:
                        return when
        return None

    def _days(self, first: date) -> Iterator[date]:
        d = first
        while d.year <= MAX_YEAR:
            if d.year not in self.years:
                d = date(d.year + 1, 1, 1)
                continue
            if d.month not in self.months:
                d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
                continue
            if self._day_matches(d):
                yield d
            d += timedelta(days=1)


def _localize(naive: datetime, tz: ZoneInfo | timezone) -> datetime | None:
    """``naive`` in ``tz``; None if that wall time does not exist there (a DST gap)."""
    aware = naive.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
    return aware if back == naive else None


def _dom_matches(rule: _DayRule, d: date) -> bool:
    last = calendar.monthrange(d.year, d.month)[1]
    if rule.kind == "any":
        return True
    if rule.kind == "set":
        return d.day in rule.values
    if rule.kind == "last":
        return d.day == last - rule.n
    if rule.kind in ("weekday-near", "last-weekday"):
        target = last if rule.kind == "last-weekday" else min(rule.n, last)
        wd = date(d.year, d.month, target).weekday()      # Monday 0 … Sunday 6
        if wd == 5:
            target = target - 1 if target > 1 else target + 2
        elif wd == 6:
            target = target + 1 if target < last else target - 2
        return d.day == target
    return False


def parse(expression: str) -> Schedule:
    if not isinstance(expression, str) or not expression:
        raise ValidationException("ScheduleExpression is required.")
    expression = expression.strip()
    m = _RATE_RE.match(expression)
    if m:
        if len(m.group(1)) > 12:
            raise _bad(expression, "the rate must be at most 100 years (36500 days)")
        value, unit = int(m.group(1)), m.group(2)
        if value < 1:
            raise _bad(expression, "the rate must be a positive number")
        if (value == 1) != (not unit.endswith("s")):
            raise _bad(expression, "use a singular unit for a value of 1 and a plural unit otherwise")
        seconds = value * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
        if seconds > MAX_RATE_S:
            raise _bad(expression, "the rate must be at most 100 years (36500 days)")
        return Rate(expression, seconds)
    m = _AT_RE.match(expression)
    if m:
        try:
            return At(expression, datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            raise _bad(expression, "not a valid date and time") from None
    m = _CRON_RE.match(expression)
    if m:
        return _cron(expression, m.group(1).split())
    raise _bad(expression, "expected rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)")


def _cron(expression: str, fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise _bad(expression, f"a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), "
                               f"not {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise _bad(expression, "exactly one of day-of-month and day-of-week must be '?'")
    cron = dict(
        minutes=_values(expression, minutes, 0, 59, {}), hours=_values(expression, hours, 0, 23, {}),
        months=_values(expression, month, 1, 12, _MONTHS), years=_values(expression, year, 1970, MAX_YEAR, {}),
    )
    dom_rule = None if dom == "?" else _dom(expression, dom)
    dow_rule, nth, last = None, None, None
    if dow != "?":
        if "#" in dow:
            day, _, n = dow.partition("#")
            weekday = _one(expression, day, 1, 7, _DAYS)
            if not _NUMBER.fullmatch(n) or not 1 <= int(n) <= 5:
                raise _bad(expression, f"'{dow}': the n in day#n is 1 to 5")
            nth = (weekday, int(n))
        elif dow.endswith("L") and dow != "L":
            last = _one(expression, dow[:-1], 1, 7, _DAYS)
        elif dow == "L":
            dow_rule = _DayRule("set", frozenset({7}))
        else:
            dow_rule = _DayRule("any") if dow == "*" else _DayRule("set", _values(expression, dow, 1, 7, _DAYS))
    return Cron(expression, dom=dom_rule, dow=dow_rule, dow_nth=nth, dow_last=last, **cron)  # type: ignore[arg-type]


def _dom(expression: str, text: str) -> _DayRule:
    if text == "*":
        return _DayRule("any")
    if text == "L":
        return _DayRule("last")
    if text == "LW":
        return _DayRule("last-weekday")
    if re.fullmatch(r"L-[0-9]{1,9}", text):
        n = int(text[2:])
        if not 0 <= n <= 30:
            raise _bad(expression, f"'{text}': the offset from the last day is 0 to 30")
        return _DayRule("last", n=n)
    if text.endswith("W"):
        return _DayRule("weekday-near", n=_one(expression, text[:-1], 1, 31, {}))
    return _DayRule("set", _values(expression, text, 1, 31, {}))


def _one(expression: str, text: str, lo: int, hi: int, names: dict[str, int]) -> int:
    value = names.get(text.upper()) if text.upper() in names else (int(text) if _NUMBER.fullmatch(text) else None)
    if value is None or not lo <= value <= hi:
        raise _bad(expression, f"'{text}' is not a value from {lo} to {hi}")
    return value


def _values(expression: str, text: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise _bad(expression, f"empty list item in '{text}'")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not _NUMBER.fullmatch(step_text) or int(step_text) < 1:
                raise _bad(expression, f"'{part}': the increment must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _one(expression, a, lo, hi, names), _one(expression, b, lo, hi, names)
            if first > last:
                # AWS allows wrapping ranges such as FRI-MON and NOV-FEB
                out.update(range(first, hi + 1, step))
                out.update(range(lo, last + 1, step))
                continue
        else:
            first = _one(expression, base, lo, hi, names)
            last = hi if step_text else first
        out.update(range(first, last + 1, step))
    return frozenset(out)
