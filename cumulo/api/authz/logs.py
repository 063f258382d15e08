"""CloudWatch Logs' operations as IAM sees them (Service Authorization Reference, "Amazon CloudWatch
Logs"): each operation is the action of its own name, on the log group's ARN
(``arn:aws:logs:<region>:<account>:log-group:<name>``; ``logGroupIdentifier`` may be that ARN) or,
for the operations on one stream (CreateLogStream, DeleteLogStream, PutLogEvents, GetLogEvents), the
stream's (``...:log-group:<name>:log-stream:<stream>``). DescribeLogGroups and TestMetricFilter act
on ``*``; TagResource, UntagResource and ListTagsForResource on the ``resourceArn`` they are given;
StartQuery on every group it reads, GetQueryResults, StopQuery and DescribeQueries on ``*``.
"""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["OPERATIONS", "group_arn"]


def group_arn(call: Call, scope: Scope) -> str:
    """The log group's ARN, from ``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN)."""
    value = text(call.doc.get("logGroupName")) or text(call.doc.get("logGroupIdentifier"))
    if not value:
        return "*"
    if value.startswith("arn:"):
        return value.removesuffix(":*")
    return scope.arn("logs", f"log-group:{value}")


def on_group(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, group_arn(call, scope)),)
    return mapper


def on_stream(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        group = group_arn(call, scope)
        stream = text(call.doc.get("logStreamName"))
        return (Check(action, f"{group}:log-stream:{stream}" if group != "*" and stream else group),)
    return mapper


def on_resource(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, text(call.doc.get("resourceArn")).removesuffix(":*") or "*"),)
    return mapper


def start_query(call: Call, scope: Scope) -> tuple[Check, ...]:
    """logs:StartQuery on each group the query reads."""
    names = [text(call.doc.get("logGroupName"))] + [text(n) for n in call.doc.get("logGroupNames") or []
                                                    if isinstance(call.doc.get("logGroupNames"), list)]
    names += [text(n) for n in call.doc.get("logGroupIdentifiers") or [] if isinstance(call.doc.get("logGroupIdentifiers"), list)]
    arns = [n.removesuffix(":*") if n.startswith("arn:") else scope.arn("logs", f"log-group:{n}") for n in names if n]
    return tuple(Check("logs:StartQuery", arn) for arn in arns) or (Check("logs:StartQuery", "*"),)


OPERATIONS: dict[str, Mapper] = {
    "CreateLogGroup": on_group("logs:CreateLogGroup"),
    "DeleteLogGroup": on_group("logs:DeleteLogGroup"),
    "DescribeLogGroups": anywhere("logs:DescribeLogGroups"),
    "CreateLogStream": on_stream("logs:CreateLogStream"),
    "DeleteLogStream": on_stream("logs:DeleteLogStream"),
    "DescribeLogStreams": on_group("logs:DescribeLogStreams"),
    "PutLogEvents": on_stream("logs:PutLogEvents"),
    "GetLogEvents": on_stream("logs:GetLogEvents"),
    "FilterLogEvents": on_group("logs:FilterLogEvents"),
    "TestMetricFilter": anywhere("logs:TestMetricFilter"),
    "PutRetentionPolicy": on_group("logs:PutRetentionPolicy"),
    "DeleteRetentionPolicy": on_group("logs:DeleteRetentionPolicy"),
    "TagResource": on_resource("logs:TagResource"),
    "UntagResource": on_resource("logs:UntagResource"),
    "ListTagsForResource": on_resource("logs:ListTagsForResource"),
    "TagLogGroup": on_group("logs:TagLogGroup"),
    "UntagLogGroup": on_group("logs:UntagLogGroup"),
    "ListTagsLogGroup": on_group("logs:ListTagsLogGroup"),
    "StartQuery": start_query,
    "GetQueryResults": anywhere("logs:GetQueryResults"),
    "StopQuery": anywhere("logs:StopQuery"),
    "DescribeQueries": anywhere("logs:DescribeQueries"),
}

register("logs", OPERATIONS)
