"""Test events offered on a function's page: the shapes common sources send (AWS's documented
event formats), trimmed to what handlers usually read."""

from __future__ import annotations

import json

__all__ = ["SAMPLES"]

_T = "2026-01-01T00:00:00Z"

SAMPLES: dict[str, str] = {name: json.dumps(doc, indent=2) for name, doc in {
    "Hello world": {"key1": "value1", "key2": "value2", "key3": "value3"},
    "API Gateway HTTP API (v2)": {
        "version": "2.0", "routeKey": "GET /hello", "rawPath": "/hello", "rawQueryString": "name=Ada",
        "headers": {"accept": "application/json", "host": "abc123.execute-api.localhost"},
        "queryStringParameters": {"name": "Ada"},
        "requestContext": {"http": {"method": "GET", "path": "/hello", "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "curl/8"},
                           "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "routeKey": "GET /hello",
                           "stage": "$default", "timeEpoch": 1767225600000},
        "isBase64Encoded": False},
    "SQS message": {"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": "Hello from SQS!", "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1767225600000",
                                                  "SenderId": "000000000000", "ApproximateFirstReceiveTimestamp":
                                                  "1767225600001"},
        "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:my-queue", "awsRegion": "us-east-1"}]},
    "S3 object created": {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": _T,
        "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "bucket": {
            "name": "my-bucket", "arn": "arn:aws:s3:::my-bucket"}, "object": {"key": "photos/cat.jpg", "size": 1024,
                                                                               "eTag": "d41d8cd98f00b204e9800998ecf8427e"}}}]},
    "EventBridge scheduled event": {
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "000000000000", "time": _T, "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/my-schedule"], "detail": {}},
    "SNS notification": {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:000000000000:my-topic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:000000000000:my-topic", "Subject": "Hello",
                "Message": "Hello from SNS!", "Timestamp": _T, "MessageAttributes": {}}}]},
    "DynamoDB stream record": {"Records": [{
        "eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1", "dynamodb": {"Keys": {"Id": {"N": "101"}}, "NewImage": {
            "Message": {"S": "New item!"}, "Id": {"N": "101"}}, "SequenceNumber": "111", "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/my-table/stream/2026-01-01T00:00:00.000"}]},
}.items()}
