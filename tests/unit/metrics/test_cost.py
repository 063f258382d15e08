"""What invocations would cost on AWS Lambda (metrics/cost.py), by AWS's published arithmetic."""

from __future__ import annotations

import pytest

from cumulo.metrics.cost import estimate


def test_a_million_100_ms_invocations_of_128_mb() -> None:
    e = estimate("us-east-1", 1_000_000, 1_000_000 * 100.0, 128, "x86_64")
    assert e.gb_seconds == pytest.approx(12_500)
    assert e.usd == pytest.approx(0.20 + 12_500 * 0.0000166667)
    arm = estimate("us-east-1", 1_000_000, 1_000_000 * 100.0, 128, "arm64")
    assert arm.usd == pytest.approx(0.20 + 12_500 * 0.0000133334) and arm.usd < e.usd


def test_a_region_without_prices_is_priced_as_us_east_1_and_says_so() -> None:
    assert estimate("xx-nowhere-1", 1, 1.0, 128, "x86_64").priced_as == "us-east-1"
    assert estimate("eu-west-1", 1, 1.0, 128, "x86_64").priced_as == "eu-west-1"
