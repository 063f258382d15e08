import json

from labels import label     # from the layer


def handler(event, context):
    for record in event.get("Records", []):
        print(label("queued " + record["body"]))
    if "detail-type" in event:
        print(label(f"bus {event['detail-type']} {json.dumps(event['detail'])}"))
    if "order" in event:
        return {"order": event["order"], "total": sum(event.get("items", [])), "by": label("worker")}
    return {"ok": True}
