"""The CloudWatch Logs JSON protocol (``Logs_20140328.<Operation>``, JSON 1.1) for boto3's ``logs``
and the AWS CLI's ``aws logs`` (``tail`` polls FilterLogEvents). The service is ``cumulo.logs``."""

from __future__ import annotations

from typing import Any

from cumulo.api.awsjson import Service, page, register
from cumulo.api.http import Request
from cumulo.logs.service import invalid_parameter

__all__ = ["SERVICE"]


def _group(c: Any, d: dict[str, Any]) -> str:
    return str(c.log_groups.group_name(d.get("logGroupName"), d.get("logGroupIdentifier")))


def create_log_group(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.create_group(c.log_groups.group_name(d.get("logGroupName")), d.get("tags"))


def delete_log_group(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.delete_group(c.log_groups.group_name(d.get("logGroupName")))


def describe_log_groups(c: Any, r: Request, d: dict[str, Any]) -> Any:
    groups = c.log_groups.describe_groups(d.get("logGroupNamePrefix"), d.get("logGroupNamePattern"))
    wanted = d.get("logGroupIdentifiers")
    if wanted:
        names = {c.log_groups.group_name(identifier=i) for i in wanted}
        groups = [g for g in groups if g["logGroupName"] in names]
    return page(groups, "logGroups", d, "nextToken", "limit", 50, 50, invalid_parameter)


def create_log_stream(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.create_stream(_group(c, d), d.get("logStreamName"))


def delete_log_stream(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.delete_stream(_group(c, d), d.get("logStreamName"))


def describe_log_streams(c: Any, r: Request, d: dict[str, Any]) -> Any:
    streams = c.log_groups.describe_streams(_group(c, d), d.get("logStreamNamePrefix"), d.get("orderBy"),
                                            bool(d.get("descending")))
    return page(streams, "logStreams", d, "nextToken", "limit", 50, 50, invalid_parameter)


def put_log_events(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.log_groups.put_events(_group(c, d), d.get("logStreamName"), d.get("logEvents"))


def get_log_events(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.log_groups.get_events(_group(c, d), d.get("logStreamName"), d.get("startTime"), d.get("endTime"),
                                   d.get("nextToken"), d.get("limit"), d.get("startFromHead"))


def filter_log_events(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.log_groups.filter_events(_group(c, d), d.get("filterPattern"), d.get("logStreamNames"),
                                      d.get("logStreamNamePrefix"), d.get("startTime"), d.get("endTime"),
                                      d.get("nextToken"), d.get("limit"))


def test_metric_filter(c: Any, r: Request, d: dict[str, Any]) -> Any:
    """The pattern against sample messages: which match (a way to try a pattern without events)."""
    pattern = c.log_groups.pattern(d.get("filterPattern"))
    messages = d.get("logEventMessages") or []
    return {"matches": [{"eventNumber": i + 1, "eventMessage": m, "extractedValues": {}}
                        for i, m in enumerate(messages) if isinstance(m, str) and pattern.match(m)]}


def put_retention_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.put_retention(_group(c, d), d.get("retentionInDays"))


def delete_retention_policy(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.delete_retention(_group(c, d))


def tag_resource(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.tag(c.log_groups.group_of_arn(d.get("resourceArn")), d.get("tags") or {})


def untag_resource(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.untag(c.log_groups.group_of_arn(d.get("resourceArn")), d.get("tagKeys") or [])


def list_tags_for_resource(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"tags": c.log_groups.tags(c.log_groups.group_of_arn(d.get("resourceArn")))}


def tag_log_group(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.tag(_group(c, d), d.get("tags") or {})


def untag_log_group(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.log_groups.untag(_group(c, d), d.get("tags") or [])


def list_tags_log_group(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"tags": c.log_groups.tags(_group(c, d))}


def start_query(c: Any, r: Request, d: dict[str, Any]) -> Any:
    names = []
    if d.get("logGroupName") is not None:
        names.append(c.log_groups.group_name(d.get("logGroupName")))
    names += [c.log_groups.group_name(n) for n in d.get("logGroupNames") or []]
    names += [c.log_groups.group_name(identifier=i) for i in d.get("logGroupIdentifiers") or []]
    return {"queryId": c.log_groups.start_query(names, d.get("startTime"), d.get("endTime"), d.get("queryString"),
                                                d.get("limit"))}


def get_query_results(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.log_groups.query_results(d.get("queryId"))


def stop_query(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"success": c.log_groups.stop_query(d.get("queryId"))}


def describe_queries(c: Any, r: Request, d: dict[str, Any]) -> Any:
    group = c.log_groups.group_name(d.get("logGroupName")) if d.get("logGroupName") is not None else None
    found = c.log_groups.describe_queries(group, d.get("status"))
    return page(found, "queries", d, "nextToken", "maxResults", 1000, 1000, invalid_parameter)


SERVICE = Service("Logs_20140328", "com.amazonaws.logs", "application/x-amz-json-1.1", {
    "CreateLogGroup": create_log_group, "DeleteLogGroup": delete_log_group, "DescribeLogGroups": describe_log_groups,
    "CreateLogStream": create_log_stream, "DeleteLogStream": delete_log_stream,
    "DescribeLogStreams": describe_log_streams, "PutLogEvents": put_log_events, "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events, "TestMetricFilter": test_metric_filter,
    "PutRetentionPolicy": put_retention_policy, "DeleteRetentionPolicy": delete_retention_policy,
    "TagResource": tag_resource, "UntagResource": untag_resource, "ListTagsForResource": list_tags_for_resource,
    "TagLogGroup": tag_log_group, "UntagLogGroup": untag_log_group, "ListTagsLogGroup": list_tags_log_group,
    "StartQuery": start_query, "GetQueryResults": get_query_results, "StopQuery": stop_query,
    "DescribeQueries": describe_queries,
}, model="logs")
register(SERVICE)
