"""A composite alarm's rule (PutCompositeAlarm's ``AlarmRule``): parsed once, evaluated on states.

The language, as CloudWatch documents it: ``ALARM(name)``, ``OK(name)``, ``INSUFFICIENT_DATA(name)``
(true when the named alarm, by name or ARN, quoted with ``"`` or not, is in that state), ``TRUE``,
``FALSE``, ``NOT``, ``AND``, ``OR`` and parentheses; ``NOT`` binds tightest, then ``AND``, then
``OR``. At most 10,240 characters and 100 alarms. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

__all__ = ["Rule", "RuleError", "parse", "alarms_of", "evaluate", "MAX_LENGTH", "MAX_ALARMS"]

MAX_LENGTH = 10_240
MAX_ALARMS = 100
FUNCTIONS = ("ALARM", "OK", "INSUFFICIENT_DATA")


class RuleError(ValueError):
    """What is wrong with a rule, said to the caller as a ValidationError."""


@dataclass(frozen=True)
class State:
    state: str        # ALARM | OK | INSUFFICIENT_DATA
    alarm: str        # a name or an ARN, as written


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: "Rule"


@dataclass(frozen=True)
class Both:
    operands: tuple["Rule", ...]      # a chain of ANDs, flat: a long rule is not a deep one


@dataclass(frozen=True)
class Either:
    operands: tuple["Rule", ...]


Rule = Union[State, Const, Not, Both, Either]

_TOKEN = re.compile(r"""\s*(?:
    (?P<open>\()|(?P<close>\))|
    (?P<call>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^()"\s][^()"]*?))\s*\)|
    (?P<word>TRUE|FALSE|NOT|AND|OR)(?![A-Za-z0-9_])
)""", re.X)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        m = _TOKEN.match(text, at)
        if m is None:
            raise RuleError(f"The alarm rule is not valid at character {at + 1}: {text[at:at + 30].strip()!r}.")
        if m.group("open"):
            out.append(("(", "("))
        elif m.group("close"):
            out.append((")", ")"))
        elif m.group("call"):
            name = m.group("quoted") if m.group("quoted") is not None else m.group("bare")
            if not name or not name.strip():
                raise RuleError(f"The alarm rule names no alarm in {m.group('call')}().")
            out.append(("call", m.group("call") + "\0" + name.strip()))
        else:
            out.append(("word", m.group("word")))
        at = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise RuleError("The alarm rule ends too early.")
        self.at += 1
        return token

    def either(self, depth: int) -> Rule:
        operands = [self.both(depth)]
        while self.peek() == ("word", "OR"):
            self.take()
            operands.append(self.both(depth))
        return operands[0] if len(operands) == 1 else Either(tuple(operands))

    def both(self, depth: int) -> Rule:
        operands = [self.unary(depth)]
        while self.peek() == ("word", "AND"):
            self.take()
            operands.append(self.unary(depth))
        return operands[0] if len(operands) == 1 else Both(tuple(operands))

    def unary(self, depth: int) -> Rule:
        if depth > 100:
            raise RuleError("The alarm rule is nested too deeply.")
        kind, value = self.take()
        if (kind, value) == ("word", "NOT"):
            return Not(self.unary(depth + 1))
        if kind == "word" and value in ("TRUE", "FALSE"):
            return Const(value == "TRUE")
        if kind == "call":
            state, _, name = value.partition("\0")
            return State(state, name)
        if kind == "(":
            inner = self.either(depth + 1)
            if self.take() != (")", ")"):
                raise RuleError("The alarm rule has a parenthesis that is not closed.")
            return inner
        raise RuleError(f"The alarm rule has {value!r} where an alarm state, TRUE, FALSE, NOT or '(' belongs.")


def parse(text: str) -> Rule:
    if not isinstance(text, str) or not text.strip():
        raise RuleError("The alarm rule is empty.")
    if len(text) > MAX_LENGTH:
        raise RuleError(f"The alarm rule is longer than {MAX_LENGTH} characters.")
    parser = _Parser(_tokens(text))
    rule = parser.either(0)
    if parser.peek() is not None:
        raise RuleError(f"The alarm rule has {parser.peek()[1]!r} after a complete expression.")  # type: ignore[index]
    if len(alarms_of(rule)) > MAX_ALARMS:
        raise RuleError(f"The alarm rule names more than {MAX_ALARMS} alarms.")
    return rule


def alarms_of(rule: Rule) -> set[str]:
    """Every alarm the rule names (names or ARNs, as written)."""
    stack, found = [rule], set()
    while stack:
        r = stack.pop()
        if isinstance(r, State):
            found.add(r.alarm)
        elif isinstance(r, Not):
            stack.append(r.operand)
        elif isinstance(r, (Both, Either)):
            stack.extend(r.operands)
    return found


def evaluate(rule: Rule, state_of: Callable[[str], str]) -> bool:
    """The rule's value, each named alarm's state read by ``state_of``."""
    if isinstance(rule, Const):
        return rule.value
    if isinstance(rule, State):
        return state_of(rule.alarm) == rule.state
    if isinstance(rule, Not):
        return not evaluate(rule.operand, state_of)
    if isinstance(rule, Both):
        return all(evaluate(r, state_of) for r in rule.operands)
    return any(evaluate(r, state_of) for r in rule.operands)
