"""Amazon CloudWatch on the control plane's endpoint: metrics (``metrics/service.py``) and alarms
(``metrics/alarms.py``), in both protocols botocore's model offers — awsJson1_0 with
``x-amzn-query-mode`` (what boto3 sends today) and Smithy RPC v2 CBOR (``api/rpcv2.py``, its
model's first choice). Timestamps arrive as epoch seconds and leave as numbers (JSON) or CBOR's
tag 1; errors carry the query protocol's codes (``x-amzn-query-error``)."""

from __future__ import annotations

from typing import Any

from cumulo.api import awsjson, rpcv2
from cumulo.api.awsjson import Service
from cumulo.api.cbor import Timestamp
from cumulo.api.http import Request

__all__ = ["SERVICE"]


def _stamp(doc: Any, keys: frozenset[str]) -> Any:
    """``doc`` with the members named ``keys`` (epoch seconds) as CBOR timestamps; lists of them too."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            if v is None:
                continue
            if k in keys and isinstance(v, (int, float)):
                out[k] = Timestamp(float(v))
            elif k in keys and isinstance(v, list):
                out[k] = [Timestamp(float(x)) for x in v]
            else:
                out[k] = _stamp(v, keys)
        return out
    if isinstance(doc, list):
        return [_stamp(v, keys) for v in doc]
    return doc


_TIMES = frozenset({"Timestamp", "Timestamps", "StateUpdatedTimestamp", "AlarmConfigurationUpdatedTimestamp",
                    "StateTransitionedTimestamp"})


def put_metric_data(c: Any, r: Request, d: dict[str, Any]) -> None:
    c.metrics.put_metric_data(d.get("Namespace"), d.get("MetricData"))


def get_metric_statistics(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.metrics.get_metric_statistics(d)


def get_metric_data(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.metrics.get_metric_data(d)


def list_metrics(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.metrics.list_metrics(d)


def put_metric_alarm(c: Any, r: Request, d: dict[str, Any]) -> None:
    c.alarms.put_metric_alarm(d)


def put_composite_alarm(c: Any, r: Request, d: dict[str, Any]) -> None:
    c.alarms.put_composite_alarm(d)


def describe_alarms(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.alarms.describe_alarms(d)


def describe_alarm_history(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.alarms.describe_alarm_history(d)


def set_alarm_state(c: Any, r: Request, d: dict[str, Any]) -> None:
    c.alarms.set_alarm_state(d)


def delete_alarms(c: Any, r: Request, d: dict[str, Any]) -> None:
    c.alarms.delete_alarms(d)


SERVICE = Service(
    prefix="GraniteServiceVersion20100801",
    namespace="com.amazonaws.cloudwatch",
    content_type="application/x-amz-json-1.0",
    query_compatible=True,
    model="cloudwatch",
    operations={
        "PutMetricData": put_metric_data,
        "GetMetricStatistics": get_metric_statistics,
        "GetMetricData": get_metric_data,
        "ListMetrics": list_metrics,
        "PutMetricAlarm": put_metric_alarm,
        "PutCompositeAlarm": put_composite_alarm,
        "DescribeAlarms": describe_alarms,
        "DescribeAlarmHistory": describe_alarm_history,
        "SetAlarmState": set_alarm_state,
        "DeleteAlarms": delete_alarms,
    },
)
rpcv2.register(SERVICE, lambda doc: _stamp(doc, _TIMES))
awsjson.register(SERVICE)
