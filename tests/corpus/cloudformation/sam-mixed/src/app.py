import json


def books(event, context):
    book = (event.get("pathParameters") or {}).get("id", "all")
    return {"statusCode": 200, "body": json.dumps({"book": book, "resource": event.get("resource")})}


def audit(event, context):
    return {"audited": event.get("what", "nothing")}
