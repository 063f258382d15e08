"""CloudWatch's operations as IAM sees them (Service Authorization Reference, "Amazon CloudWatch").

Metric operations have no resource type (``*``); alarm operations act on the alarm's ARN
(``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``), DescribeAlarms and
DescribeAlarmHistory on ``*``.
"""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS"]


def on_alarms(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        names = call.doc.get("AlarmNames")
        if not isinstance(names, list):
            names = [call.doc.get("AlarmName")]
        found = tuple(Check(action, scope.arn("cloudwatch", f"alarm:{text(n)}")) for n in names if text(n))
        return found or (Check(action, "*"),)
    return mapper


OPERATIONS: dict[str, Mapper] = {
    "PutMetricData": anywhere("cloudwatch:PutMetricData"),
    "GetMetricData": anywhere("cloudwatch:GetMetricData"),
    "GetMetricStatistics": anywhere("cloudwatch:GetMetricStatistics"),
    "ListMetrics": anywhere("cloudwatch:ListMetrics"),
    "PutMetricAlarm": on_alarms("cloudwatch:PutMetricAlarm"),
    "PutCompositeAlarm": on_alarms("cloudwatch:PutCompositeAlarm"),
    "DescribeAlarms": anywhere("cloudwatch:DescribeAlarms"),
    "DescribeAlarmHistory": anywhere("cloudwatch:DescribeAlarmHistory"),
    "SetAlarmState": on_alarms("cloudwatch:SetAlarmState"),
    "DeleteAlarms": on_alarms("cloudwatch:DeleteAlarms"),
}

register("cloudwatch", OPERATIONS)
