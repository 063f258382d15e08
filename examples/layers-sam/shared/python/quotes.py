"""Shared code, published as a layer: functions import it as if it were installed."""

QUOTES = ["Simple is better than complex.", "Readability counts."]


def pick(n: int) -> str:
    return QUOTES[n % len(QUOTES)]
