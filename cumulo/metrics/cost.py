"""What invocations would cost on AWS Lambda, on demand: requests plus GB-seconds (docs/metrics.md).

Prices are AWS's published on-demand prices for the first tier (the first 6 billion GB-seconds a
month on x86, 7.5 billion on Arm), without the free tier, as listed on the AWS Lambda pricing page
(read 2026-12-07; unchanged since tiered pricing began in 2022). A region not in the table is priced
as us-east-1, and ``estimate`` says so. Durations are summed as measured: AWS rounds each
invocation up to the millisecond, so the estimate is low by at most 1 ms per invocation.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRICES", "PRICES_DATE", "Price", "Estimate", "estimate"]

PRICES_DATE = "2026-12-07"


@dataclass(frozen=True)
class Price:
    per_request: float            # USD
    per_gb_second_x86: float
    per_gb_second_arm: float


_US = Price(0.20 / 1_000_000, 0.0000166667, 0.0000133334)
PRICES: dict[str, Price] = {
    "us-east-1": _US, "us-east-2": _US, "us-west-2": _US, "eu-west-1": _US, "eu-central-1": _US,
    "ap-northeast-1": _US, "ap-southeast-2": _US,
}


@dataclass(frozen=True)
class Estimate:
    requests: float
    gb_seconds: float
    usd: float
    priced_as: str                # the region whose prices were used


def estimate(region: str, requests: float, duration_ms: float, memory_mb: int, architecture: str) -> Estimate:
    """``requests`` invocations taking ``duration_ms`` in all, of a function of ``memory_mb`` on
    ``architecture`` (x86_64 | arm64)."""
    priced_as = region if region in PRICES else "us-east-1"
    price = PRICES[priced_as]
    gb_seconds = memory_mb / 1024 * duration_ms / 1000
    per_gbs = price.per_gb_second_arm if architecture == "arm64" else price.per_gb_second_x86
    return Estimate(requests, gb_seconds, requests * price.per_request + gb_seconds * per_gbs, priced_as)
