"""X-Ray's operations as IAM sees them (Service Authorization Reference, "AWS X-Ray"): each is the
action of its own name; PutTraceSegments, GetTraceSummaries, BatchGetTraces and GetServiceGraph
have no resource type (``*``)."""

from __future__ import annotations

from cumulo.api.authz.base import Mapper, anywhere, register

__all__ = ["OPERATIONS"]

OPERATIONS: dict[str, Mapper] = {
    "PutTraceSegments": anywhere("xray:PutTraceSegments"),
    "GetTraceSummaries": anywhere("xray:GetTraceSummaries"),
    "BatchGetTraces": anywhere("xray:BatchGetTraces"),
    "GetServiceGraph": anywhere("xray:GetServiceGraph"),
}

register("xray", OPERATIONS)
